//! Checks both codecs apply to envelope fields and op arguments that the core types do
//! not carry themselves, with the one message each, so JSON and Protobuf refuse the same
//! input in the same words.

use super::MAX_ID_BYTES;
use crate::core::clock::is_rfc3339;
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::model::{RuntimeKind, UnknownRuntime};
use crate::core::names::printable;
use crate::core::validate::FieldError;

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

/// The request id is at most [`MAX_ID_BYTES`] long.
pub(super) fn check_id(id: &str) -> Result<(), FieldError> {
    if id.len() > MAX_ID_BYTES {
        return Err(FieldError::new(
            "id",
            format!("longer than {MAX_ID_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Parses the envelope's `runtime`.
pub(super) fn parse_runtime(runtime: &str) -> Result<RuntimeKind, FieldError> {
    runtime
        .parse()
        .map_err(|e: UnknownRuntime| FieldError::new("runtime", e.to_string()))
}

/// Checks a POSIX message queue name: `/` then 1-254 characters, no further `/`.
pub(super) fn check_queue_name(q: &str) -> Result<(), FieldError> {
    let ok = q.len() >= 2
        && q.len() <= 255
        && q.starts_with('/')
        && q[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            "reply_to",
            format!("'{}' is not a queue name such as /app.reply", printable(q)),
        ))
    }
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

/// Checks `args.since` of logs.
pub(super) fn check_since(since: Option<&str>) -> Result<(), FieldError> {
    match since {
        Some(s) if !is_rfc3339(s) => Err(FieldError::new(
            "args.since",
            format!(
                "'{}' is not an RFC 3339 time such as 2026-11-29T10:00:00Z",
                printable(s)
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_names_its_field() {
        assert_eq!(check_id(&"a".repeat(129)).unwrap_err().field, "id");
        assert!(check_id(&"a".repeat(128)).is_ok());
        assert_eq!(parse_runtime("lxc").unwrap_err().field, "runtime");
        assert_eq!(parse_runtime("podman").unwrap(), RuntimeKind::PodmanCli);
        assert_eq!(check_queue_name("x").unwrap_err().field, "reply_to");
        assert!(check_queue_name("/app.reply").is_ok());
        assert!(check_queue_name("/a/b").is_err());
        assert_eq!(
            check_timeout(Some(3601)).unwrap_err().field,
            "args.timeout_s"
        );
        assert!(check_timeout(Some(3600)).is_ok());
        assert_eq!(check_since(Some("--x")).unwrap_err().field, "args.since");
        assert!(check_since(Some("2026-11-29T10:00:00Z")).is_ok());
    }
}
