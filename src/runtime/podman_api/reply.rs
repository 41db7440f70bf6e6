//! libpod replies onto `RuntimeError`: libpod answers many refusals with HTTP 500 and a
//! `cause` (`container state improper`, `image not known`...), so the cause decides
//! between NotFound, Conflict and Engine where the status does not.

use super::{Dialect, Podman};
use crate::core::error::RuntimeError;
use crate::core::model::RuntimeKind;
use crate::runtime::engine_http::EngineReply;
use crate::runtime::engine_words::{LIBPOD_CONFLICT, LIBPOD_MISSING};
use serde::Deserialize;

/// The access path named in every error.
const RUNTIME: RuntimeKind = Podman::KIND;

/// What start/restart failures with this text need from the person running the agent.
const RLIMIT_HINT: &str = " (the container asked for rlimits above the host's hard limits: \
     set [runtime] default_ulimits in the agent's config, e.g. nofile=1024:20000 and \
     nproc=1024:1024, within what the host allows)";

/// The `cause` of a libpod error body.
fn cause(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorDto {
        cause: String,
    }
    serde_json::from_slice::<ErrorDto>(body)
        .ok()
        .map(|d| d.cause)
}

/// Ok for 2xx; otherwise NotFound (naming `what`), Conflict or Engine with libpod's
/// message: by `cause` first, then by status as for Docker.
pub(super) fn classify(
    reply: EngineReply,
    what: impl FnOnce() -> String,
) -> Result<EngineReply, RuntimeError> {
    if reply.is_success() {
        return Ok(reply);
    }
    let cause = cause(&reply.body).unwrap_or_default();
    if LIBPOD_MISSING.contains(&cause.as_str()) {
        return Err(RuntimeError::NotFound {
            runtime: RUNTIME,
            what: what(),
        });
    }
    if LIBPOD_CONFLICT.contains(&cause.as_str()) {
        return Err(RuntimeError::Conflict {
            runtime: RUNTIME,
            message: reply.message(),
        });
    }
    reply.check(RUNTIME, what).map_err(|e| match e {
        RuntimeError::Engine { runtime, message } if message.contains("error setting rlimit") => {
            RuntimeError::Engine {
                runtime,
                message: format!("{message}{RLIMIT_HINT}"),
            }
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;

    fn reply(status: u16, body: &str) -> EngineReply {
        EngineReply {
            status,
            body: body.as_bytes().to_vec(),
            stream_error: None,
        }
    }

    fn code(status: u16, body: &str) -> ErrorCode {
        classify(reply(status, body), || "container 'web'".into())
            .unwrap_err()
            .code()
    }

    /// Bodies captured from podman 4.3.1.
    #[test]
    fn libpod_causes() {
        assert!(classify(reply(204, ""), String::new).is_ok());
        let missing = r#"{"cause":"no such container","message":"no container with name or ID \"web\" found: no such container","response":404}"#;
        let err = classify(reply(404, missing), || "container 'web'".into()).unwrap_err();
        assert_eq!(err.to_string(), "container 'web' not found in podman-api");
        let no_image = r#"{"cause":"image not known","message":"127.0.0.1:5000/x:1: image not known","response":500}"#;
        assert_eq!(code(500, no_image), ErrorCode::NotFound);
        let in_use = r#"{"cause":"that name is already in use","message":"creating container storage: the container name \"web\" is already in use by 8ebb. You have to remove that container to be able to reuse that name: that name is already in use","response":500}"#;
        assert_eq!(code(500, in_use), ErrorCode::Conflict);
        let improper = r#"{"cause":"container state improper","message":"can only kill running containers. 6333 is in state created: container state improper","response":500}"#;
        let err = classify(reply(500, improper), String::new).unwrap_err();
        assert_eq!(
            err,
            RuntimeError::Conflict {
                runtime: RUNTIME,
                message: "can only kill running containers. 6333 is in state created: \
                          container state improper"
                    .into()
            }
        );
    }

    #[test]
    fn engine_errors_keep_the_message_and_explain_rlimits() {
        let rlimit = r#"{"cause":"OCI permission denied","message":"runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 6: operation not permitted: OCI permission denied","response":500}"#;
        let err = classify(reply(500, rlimit), String::new).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RuntimeError);
        let text = err.to_string();
        assert!(
            text.starts_with("podman-api: runc: runc create failed"),
            "{text}"
        );
        assert!(text.contains("default_ulimits"), "{text}");
        assert_eq!(
            classify(
                reply(500, r#"{"cause":"boom","message":"boom"}"#),
                String::new
            ),
            Err(RuntimeError::Engine {
                runtime: RUNTIME,
                message: "boom".into()
            })
        );
    }
}
