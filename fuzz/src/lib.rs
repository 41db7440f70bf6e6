//! Checks shared by the fuzz targets: what must hold for any input once a request decoder
//! has answered, whatever the codec or transport.

use ctrmgr::codec::{json, DecodeError, MAX_ID_BYTES};
use ctrmgr::core::command::{Command, Request};
use ctrmgr::core::error::ErrorCode;
use ctrmgr::core::reply::{OpResult, Reply};
use serde_json::{json, Value};

/// Checks the outcome of decoding one request: an error is `invalid_request` or
/// `too_large` with a message and encodes as a reply that reads back; a request keeps its
/// id bound and re-encodes without panicking (a create re-encodes to the same request).
pub fn check_decoded(decoded: Result<Request, DecodeError>) {
    match decoded {
        Ok(request) => check_request(&request),
        Err(e) => check_decode_error(e),
    }
}

fn check_decode_error(e: DecodeError) {
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
    round_trip_reply(&Reply::err(e.id, e.error));
}

fn check_request(request: &Request) {
    assert!(request
        .id
        .as_ref()
        .is_none_or(|id| id.len() <= MAX_ID_BYTES));
    let result = match &request.command {
        Command::Create { .. } => {
            round_trip_create(request);
            return;
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
    round_trip_reply(&Reply::ok(request.id.clone(), result));
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
        "reply_to": request.reply_to,
        "args": args,
    });
    match json::decode_value(envelope.clone()) {
        Ok(again) => assert_eq!(&again, request, "a create changed through JSON"),
        Err(e) => panic!(
            "a decoded create does not decode again: {}: {envelope}",
            e.error.message
        ),
    }
}
