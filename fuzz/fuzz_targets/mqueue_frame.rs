//! Fuzz target: one POSIX MQ message as the transport handles it. The first two bytes
//! pick the reply queue's message size, the rest is the message: sniffed, decoded, its
//! `reply_to` recovered when undecodable, and the reply framed to fit the queue.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((size, message)) = data.split_first_chunk::<2>() else {
        return;
    };
    ctrmgr_fuzz::mqueue::check_message(usize::from(u16::from_le_bytes(*size)), message);
});
