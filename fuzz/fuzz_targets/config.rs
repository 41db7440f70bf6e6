//! Fuzz target: any text into the config parser and validator; it must answer with a
//! config or an error message naming the problem, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = ctrmgr::config::Config::parse(text, Path::new("fuzz.toml")) {
        assert!(!e.to_string().is_empty(), "a config error has a message");
    }
});
