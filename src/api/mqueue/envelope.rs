//! The `reply_to` of a request the codec refused, read as far as the bytes allow, so the
//! `invalid_request` reply still reaches its sender: the JSON envelope's `reply_to`
//! string, or the Protobuf `Request`'s `reply_to` field read from the wire format.

use crate::codec::Format;
use crate::core::queue_name::QueueName;

/// Field number of `reply_to` in `ctrmgr.v1.Request` (proto/ctrmgr.proto).
const PROTOBUF_REPLY_TO_FIELD: u64 = 4;

/// The usable reply queue named by an undecodable request, if any.
pub(super) fn reply_to_of_undecodable(format: Format, bytes: &[u8]) -> Option<String> {
    let reply_to = match format {
        Format::Json => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()?
            .get("reply_to")?
            .as_str()?
            .to_owned(),
        Format::Protobuf => protobuf_string_field(bytes, PROTOBUF_REPLY_TO_FIELD)?,
    };
    QueueName::parse(&reply_to).is_ok().then_some(reply_to)
}

/// The last top-level occurrence of string field `field` in a Protobuf message (the
/// last one wins, as in Protobuf parsing), walking the wire format as far as it is
/// well formed.
fn protobuf_string_field(mut bytes: &[u8], field: u64) -> Option<String> {
    let mut found = None;
    while !bytes.is_empty() {
        let Some(key) = varint(&mut bytes) else {
            break;
        };
        let skip = match key & 7 {
            0 => match varint(&mut bytes) {
                Some(_) => 0,
                None => break,
            },
            1 => 8,
            2 => match varint(&mut bytes).and_then(|n| usize::try_from(n).ok()) {
                Some(len) if len <= bytes.len() => {
                    if key >> 3 == field {
                        found = std::str::from_utf8(&bytes[..len]).ok().map(str::to_owned);
                    }
                    len
                }
                _ => break,
            },
            5 => 4,
            _ => break,
        };
        if skip > bytes.len() {
            break;
        }
        bytes = &bytes[skip..];
    }
    found
}

/// Reads one base-128 varint, advancing `bytes`.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
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
