//! Fuzz target: any bytes into the Protobuf request decoder; errors must be contract
//! errors, replies must read back in both encodings, and a decoded create must give the
//! same request through JSON (both codecs yield the same command).
#![no_main]

use ctrmgr::codec::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ctrmgr_fuzz::check_decoded(
        Format::Protobuf,
        ctrmgr::codec::protobuf::decode_request(data),
    );
});
