//! A pull's outcome: the engines report a failed pull in the progress stream of a 200
//! reply (Docker's `errorDetail.message`, or `error` as both engines write it) or in an
//! error reply; a missing image or tag is NotFound.

use super::wire::EngineReply;
use crate::core::error::RuntimeError;
use crate::core::model::RuntimeKind;
use crate::core::names::ImageRef;
use crate::runtime::engine_words::{mentions, PULL_MISSING};
use serde_json::Value;

/// The error of one line of a pull's progress stream, if it reports one.
pub(super) fn pull_line_error(line: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    v.pointer("/errorDetail/message")
        .or_else(|| v.get("error"))
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
}

/// What a pull's reply means: Ok when the image arrived, NotFound when the registry has
/// no such image or tag, else Engine with the engine's message.
pub(crate) fn pull_outcome(
    runtime: RuntimeKind,
    image: &ImageRef,
    reply: &EngineReply,
) -> Result<(), RuntimeError> {
    let message = match (&reply.stream_error, reply.is_success()) {
        (Some(message), _) => message.clone(),
        (None, false) => reply.message(),
        (None, true) => return Ok(()),
    };
    Err(if reply.status == 404 || is_missing_image(&message) {
        RuntimeError::NotFound {
            runtime,
            what: format!("image '{image}' ({message})"),
        }
    } else {
        RuntimeError::Engine {
            runtime,
            message: format!("pulling '{image}': {message}"),
        }
    })
}

/// Whether a pull error means the image or tag does not exist.
fn is_missing_image(message: &str) -> bool {
    mentions(message, PULL_MISSING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_stream_errors() {
        assert_eq!(
            pull_line_error(r#"{"status":"Pulling fs layer","id":"1"}"#),
            None
        );
        assert_eq!(pull_line_error("garbage"), None);
        let line = r#"{"errorDetail":{"message":"manifest unknown: manifest unknown"},"error":"manifest unknown"}"#;
        let message = pull_line_error(line).unwrap();
        assert_eq!(message, "manifest unknown: manifest unknown");
        assert!(is_missing_image(&message));
        assert_eq!(
            pull_line_error(r#"{"error":"disk full"}"#).as_deref(),
            Some("disk full")
        );
        assert!(!is_missing_image("disk full"));
    }

    #[test]
    fn libpod_pull_stream_error() {
        let line = r#"{"error":"initializing source docker://127.0.0.1:5000/a:x: reading manifest x in 127.0.0.1:5000/a: manifest unknown: manifest unknown"}"#;
        let message = pull_line_error(line).unwrap();
        assert!(message.starts_with("initializing source"), "{message}");
        assert!(is_missing_image(&message));
        assert_eq!(
            pull_line_error(r#"{"stream":"Trying to pull x...\n"}"#),
            None
        );
    }
}
