//! Checks both codecs apply to envelope fields and op arguments that the core types do
//! not carry themselves, with the one message each, so JSON and Protobuf refuse the same
//! input in the same words. (JSON reads the id, `reply_to` and `since` through the core
//! types' serde; Protobuf's strings go through the `parse_*` here, with the same words.)

use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::model::{RuntimeKind, UnknownRuntime};
use crate::core::request_id::RequestId;
use crate::core::validate::FieldError;
#[cfg(feature = "protobuf")]
use crate::core::{queue_name::QueueName, since::Since};

/// Longest stop/restart grace period accepted, in seconds.
pub const MAX_TIMEOUT_S: u32 = 3600;

/// An `invalid_request` error body.
pub(super) fn invalid(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorCode::InvalidRequest, message)
}

/// An `invalid_request` error body naming the field.
pub(super) fn field_error(e: FieldError) -> ErrorBody {
    invalid(e.to_string())
}

/// Parses the envelope's `id` (at most [`RequestId::MAX_BYTES`] long).
pub(super) fn parse_id(id: &str) -> Result<RequestId, FieldError> {
    RequestId::parse(id).map_err(|e| FieldError::new("id", e.0))
}

/// Parses the envelope's `runtime`.
pub(super) fn parse_runtime(runtime: &str) -> Result<RuntimeKind, FieldError> {
    runtime
        .parse()
        .map_err(|e: UnknownRuntime| FieldError::new("runtime", e.to_string()))
}

/// Parses the envelope's `reply_to`, a POSIX message queue name.
#[cfg(feature = "protobuf")]
pub(super) fn parse_reply_to(q: &str) -> Result<QueueName, FieldError> {
    QueueName::parse(q).map_err(|e| FieldError::new("reply_to", e.0))
}

/// Checks `args.timeout_s` of stop and restart.
pub(super) fn check_timeout(timeout_s: Option<u32>) -> Result<(), FieldError> {
    if timeout_s.is_some_and(|t| t > MAX_TIMEOUT_S) {
        return Err(FieldError::new(
            "args.timeout_s",
            format!("at most {MAX_TIMEOUT_S} seconds"),
        ));
    }
    Ok(())
}

/// Parses `args.since` of logs.
#[cfg(feature = "protobuf")]
pub(super) fn parse_since(since: Option<&str>) -> Result<Option<Since>, FieldError> {
    since
        .map(|s| Since::parse(s).map_err(|e| FieldError::new("args.since", e.0)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_names_its_field() {
        assert_eq!(parse_runtime("lxc").unwrap_err().field, "runtime");
        assert_eq!(parse_runtime("podman").unwrap(), RuntimeKind::PodmanCli);
        assert_eq!(
            check_timeout(Some(3601)).unwrap_err().field,
            "args.timeout_s"
        );
        assert!(check_timeout(Some(3600)).is_ok());
    }

    #[cfg(feature = "protobuf")]
    #[test]
    fn each_parser_names_its_field() {
        assert_eq!(parse_id(&"a".repeat(129)).unwrap_err().field, "id");
        assert!(parse_id(&"a".repeat(128)).is_ok());
        assert_eq!(parse_reply_to("x").unwrap_err().field, "reply_to");
        assert!(parse_reply_to("/app.reply").is_ok());
        assert!(parse_reply_to("/a/b").is_err());
        assert_eq!(parse_since(Some("--x")).unwrap_err().field, "args.since");
        assert!(parse_since(Some("2026-11-29T10:00:00Z")).is_ok());
        assert_eq!(parse_since(None).unwrap(), None);
    }
}
