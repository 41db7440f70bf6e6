//! Checks shared by the fuzz targets: what must hold for any input once a request decoder
//! has answered, whatever the codec or transport.

pub mod mqueue;

// The `crate::` paths that the transport code compiled in by `mqueue` imports.
mod codec {
    pub use ctrmgr::codec::*;
}
mod core {
    pub use ctrmgr::core::*;
}

use ctrmgr::codec::{json, protobuf, DecodeError, Format, MAX_ID_BYTES};
use ctrmgr::core::command::{Command, Request};
use ctrmgr::core::error::ErrorCode;
use ctrmgr::core::reply::{OpResult, Reply};
use serde_json::{json, Value};

/// Checks the outcome of decoding one request in `format`: an error is `invalid_request`
/// or `too_large` with a message; a request keeps its id bound and a create re-encodes
/// through JSON to the same request. Either way the reply it leads to must read back the
/// same from both encodings. Returns that reply.
pub fn check_decoded(format: Format, decoded: Result<Request, DecodeError>) -> Reply {
    let reply = match decoded {
        Ok(request) => reply_to_request(&request),
        Err(e) => reply_to_error(e),
    };
    round_trip_reply(&reply);
    if format == Format::Protobuf {
        round_trip_protobuf_reply(&reply);
    }
    reply
}

fn reply_to_error(e: DecodeError) -> Reply {
    assert!(
        matches!(
            e.error.code,
            ErrorCode::InvalidRequest | ErrorCode::TooLarge
        ),
        "a decode error must be invalid_request or too_large, got {:?}",
        e.error.code
    );
    assert!(!e.error.message.is_empty(), "a decode error has a message");
    assert!(e.id.as_ref().is_none_or(|id| id.len() <= MAX_ID_BYTES));
    Reply::err(e.id, e.error)
}

/// A reply of the shape the request's op answers with (a container's name stands for
/// the container: building a whole record is the core's business).
fn reply_to_request(request: &Request) -> Reply {
    assert!(request
        .id
        .as_ref()
        .is_none_or(|id| id.len() <= MAX_ID_BYTES));
    let result = match &request.command {
        Command::Create { spec, .. } => {
            round_trip_create(request);
            OpResult::Removed {
                name: spec.name.clone(),
            }
        }
        Command::Remove { name, .. } => OpResult::Removed { name: name.clone() },
        Command::RemoveImage { image, .. } => OpResult::ImageRemoved {
            image: image.clone(),
        },
        Command::Pull { image, .. } => OpResult::Pulled {
            image: image.clone(),
            id: String::new(),
        },
        _ => OpResult::Logs { lines: Vec::new() },
    };
    Reply::ok(request.id.clone().map(String::from), result)
}

/// Encodes `reply` as JSON and reads it back: it must be the same reply.
fn round_trip_reply(reply: &Reply) {
    let bytes = json::encode_reply(reply);
    let back: Reply = match serde_json::from_slice(&bytes) {
        Ok(back) => back,
        Err(e) => panic!("an encoded reply does not read back ({e}): {bytes:?}"),
    };
    assert_eq!(&back, reply, "a reply changed through JSON");
}

/// Encodes `reply` as Protobuf and decodes it back: it must be the same reply.
fn round_trip_protobuf_reply(reply: &Reply) {
    let bytes = protobuf::encode_reply(reply);
    match protobuf::decode_reply(&bytes) {
        Ok(back) => assert_eq!(&back, reply, "a reply changed through Protobuf"),
        Err(e) => panic!(
            "an encoded Protobuf reply does not decode: {}: {bytes:?}",
            e.error.message
        ),
    }
}

/// Writes a decoded create back as a JSON envelope and decodes it again: the same
/// request must come out (the spec's serde form is the contract's JSON).
fn round_trip_create(request: &Request) {
    let Command::Create { spec, start } = &request.command else {
        return;
    };
    let mut args = serde_json::to_value(spec).expect("a spec serializes");
    if let Value::Object(map) = &mut args {
        map.insert("start".into(), Value::Bool(*start));
    }
    let envelope = json!({
        "id": request.id,
        "op": "create",
        "runtime": request.runtime,
        "args": args,
    });
    match json::decode_request(envelope.to_string().as_bytes()) {
        Ok(again) => assert_eq!(&again, request, "a create changed through JSON"),
        Err(e) => panic!(
            "a decoded create does not decode again: {}: {envelope}",
            e.error.message
        ),
    }
}
