//! Codecs: bytes to a validated [`Request`](crate::core::command::Request) and a
//! [`Reply`](crate::core::reply::Reply) back to bytes. Every codec yields the same
//! `Command` for the same request.

mod checks;
pub mod json;
#[cfg(feature = "protobuf")]
pub mod protobuf;
#[cfg(any(feature = "protobuf", feature = "mqueue"))]
pub mod wire_walk;

use crate::core::command::Request;
use crate::core::error::ErrorBody;
use crate::core::reply::Reply;

/// Wire encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON envelope.
    Json,
    /// Protobuf `ctrmgr.v1.Request` / `Reply`.
    Protobuf,
}

impl Format {
    /// Tells JSON from Protobuf: the first non-blank byte `{` is JSON, anything else is
    /// Protobuf (field number 15 is never a group, so a Protobuf message never starts
    /// with `{`, 0x7b).
    pub fn sniff(bytes: &[u8]) -> Format {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::Json,
            _ => Format::Protobuf,
        }
    }

    /// The format a reply to a request in this format is encoded in: the same, except
    /// that an agent built without the Protobuf codec answers in JSON.
    pub fn of_reply(self) -> Format {
        if cfg!(feature = "protobuf") {
            self
        } else {
            Format::Json
        }
    }
}

/// A request that could not be decoded: the error, and the request id when it could be
/// read, so that the error reply still carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The request's id, if readable.
    pub id: Option<String>,
    /// Always `invalid_request` (or `too_large`).
    pub error: ErrorBody,
}

/// Longest request id accepted.
pub const MAX_ID_BYTES: usize = crate::core::request_id::RequestId::MAX_BYTES;

/// Decodes a request in `format`.
pub fn decode_request(format: Format, bytes: &[u8]) -> Result<Request, DecodeError> {
    match format {
        Format::Json => json::decode_request(bytes),
        #[cfg(feature = "protobuf")]
        Format::Protobuf => protobuf::decode_request(bytes),
        #[cfg(not(feature = "protobuf"))]
        Format::Protobuf => Err(DecodeError {
            id: None,
            error: ErrorBody::new(
                crate::core::error::ErrorCode::Unsupported,
                "this agent was built without the Protobuf codec (feature `protobuf`); send JSON",
            ),
        }),
    }
}

/// Encodes a reply in `format` (JSON when the Protobuf codec is not built in: see
/// [`Format::of_reply`]).
pub fn encode_reply(format: Format, reply: &Reply) -> Vec<u8> {
    match format.of_reply() {
        #[cfg(feature = "protobuf")]
        Format::Protobuf => protobuf::encode_reply(reply),
        _ => json::encode_reply(reply),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats() {
        assert_eq!(Format::sniff(b"  \n{\"op\":1}"), Format::Json);
        assert_eq!(Format::sniff(b"\x0a\x02a1"), Format::Protobuf);
        assert_eq!(Format::sniff(b""), Format::Protobuf);
    }
}
