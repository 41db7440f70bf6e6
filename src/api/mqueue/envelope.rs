//! The `reply_to` of a request: the POSIX MQ transport's addressing field, read by the
//! transport itself from the request's bytes as far as they allow (the codec checks the
//! field but does not carry it), so that even the `invalid_request` reply to a request
//! the codec refused reaches its sender: the JSON envelope's `reply_to` string, or the
//! Protobuf `Request`'s `reply_to` field read from the wire format.

use crate::codec::wire_walk::{self, Value};
use crate::codec::Format;
use crate::core::queue_name::QueueName;

/// Field number of `reply_to` in `ctrmgr.v1.Request` (proto/ctrmgr.proto).
const PROTOBUF_REPLY_TO_FIELD: u64 = 4;

/// The `reply_to` a request names, if it can be read (the last one, as in Protobuf
/// parsing); not checked to be a queue name.
pub(super) fn reply_to(format: Format, bytes: &[u8]) -> Option<String> {
    match format {
        Format::Json => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()?
            .get("reply_to")?
            .as_str()
            .map(str::to_owned),
        Format::Protobuf => protobuf_string_field(bytes, PROTOBUF_REPLY_TO_FIELD),
    }
}

/// The usable reply queue named by a request the codec refused, if any.
pub(super) fn reply_to_of_undecodable(format: Format, bytes: &[u8]) -> Option<String> {
    reply_to(format, bytes).filter(|q| QueueName::parse(q).is_ok())
}

/// The last top-level occurrence of string field `field` in a Protobuf message, walking
/// the wire format as far as it is well formed.
fn protobuf_string_field(bytes: &[u8], field: u64) -> Option<String> {
    let mut found = None;
    for read in wire_walk::fields(bytes) {
        let Ok(read) = read else { break };
        match read.value {
            Ok(Value::Bytes(value)) if read.number == field => {
                found = std::str::from_utf8(value).ok().map(str::to_owned);
            }
            Ok(Value::Varint(_) | Value::Fixed(_) | Value::Bytes(_)) => {}
            Ok(Value::Group) | Err(_) => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reply_to_is_read_from_a_refused_envelope() {
        let bytes = br#"{"op":"explode","reply_to":"/app.reply"}"#;
        assert_eq!(
            reply_to_of_undecodable(Format::Json, bytes).as_deref(),
            Some("/app.reply")
        );
        assert_eq!(reply_to_of_undecodable(Format::Json, b"{nope"), None);
        let bad_name = br#"{"op":"info","reply_to":"/../etc"}"#;
        assert_eq!(reply_to_of_undecodable(Format::Json, bad_name), None);
    }

    #[test]
    fn protobuf_reply_to_is_read_from_the_wire_format() {
        // id = "a1" (2), a varint field 9 = 150, reply_to = "/q.r" (4), a fixed32 (5).
        let mut bytes = vec![0x12, 2, b'a', b'1', 0x48, 0x96, 0x01, 0x22, 4];
        bytes.extend_from_slice(b"/q.r");
        bytes.extend_from_slice(&[0x2d, 1, 2, 3, 4]);
        assert_eq!(
            reply_to_of_undecodable(Format::Protobuf, &bytes).as_deref(),
            Some("/q.r")
        );
        // Garbage, truncation and a length past the end yield nothing, without panics.
        for garbage in [
            &[0xff, 0xfe, 0x00, 0x7b][..],
            &[0x22, 40, b'/'],
            &[0x80; 12],
            &[],
        ] {
            assert_eq!(reply_to_of_undecodable(Format::Protobuf, garbage), None);
        }
    }
}
