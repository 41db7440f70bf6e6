//! Fuzz target: any bytes into the JSON request decoder; errors must be contract errors
//! whose reply encodes, and decoded requests must re-encode (a create to itself).
#![no_main]

use ctrmgr::codec::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ctrmgr_fuzz::check_decoded(Format::Json, ctrmgr::codec::json::decode_request(data));
});
