//! The Protobuf codec: `ctrmgr.v1.Request` bytes (proto/ctrmgr.proto, compiled by
//! build.rs with protox and prost) to the same validated
//! [`Request`](crate::core::command::Request) the JSON codec yields, and a
//! [`Reply`](crate::core::reply::Reply) to `ctrmgr.v1.Reply` bytes.
//!
//! JSON refuses unknown fields, and so does this codec: prost skips them silently, so
//! [`unknown_fields`] walks the bytes against the schema and refuses a field number the
//! schema does not have, naming it.

mod deployment;
mod health;
mod reply;
mod request;
mod spec;
mod unknown_fields;
pub mod wire;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use reply::decode_reply;

use super::checks::invalid;
use super::DecodeError;
use crate::core::command::Request;
use crate::core::reply::Reply;
use prost::Message;

/// Decodes a `ctrmgr.v1.Request`. Garbage, truncated or wrong-typed bytes, unknown field
/// numbers and invalid arguments are all `invalid_request`, with the id when readable.
pub fn decode_request(bytes: &[u8]) -> Result<Request, DecodeError> {
    let message = wire::ctrmgr_v1::Request::decode(bytes).map_err(|e| DecodeError {
        id: None,
        error: invalid(not_protobuf("request", &e)),
    })?;
    request::from_wire(message, bytes)
}

/// Encodes a reply as `ctrmgr.v1.Reply`.
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    reply::to_wire(reply).encode_to_vec()
}

/// "request is not valid Protobuf: ..." without prost's own prefix.
fn not_protobuf(what: &str, e: &prost::DecodeError) -> String {
    let text = e.to_string();
    let cause = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    format!("{what} is not valid Protobuf: {cause}")
}
