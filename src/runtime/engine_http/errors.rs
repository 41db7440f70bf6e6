//! Engine failures as `RuntimeError`s: a reply's status (404 NotFound, 409 Conflict, else
//! Engine) with the engine's JSON `message`, and transport failures as messages a person
//! can act on.

use super::wire::EngineReply;
use crate::core::error::RuntimeError;
use crate::core::model::RuntimeKind;
use serde::Deserialize;
use std::path::Path;

impl EngineReply {
    /// Ok for 2xx; otherwise NotFound (naming `what`) for 404, Conflict for 409, else
    /// Engine with the engine's message.
    pub(crate) fn check(
        self,
        runtime: RuntimeKind,
        what: impl FnOnce() -> String,
    ) -> Result<EngineReply, RuntimeError> {
        match self.status {
            200..=299 => Ok(self),
            404 => Err(RuntimeError::NotFound {
                runtime,
                what: what(),
            }),
            409 => Err(RuntimeError::Conflict {
                runtime,
                message: self.message(),
            }),
            _ => Err(RuntimeError::Engine {
                runtime,
                message: self.message(),
            }),
        }
    }
}

/// The engine's error text: the JSON body's `message`, else the body, else the status.
pub(crate) fn error_message(status: u16, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorDto {
        message: String,
    }
    if let Ok(dto) = serde_json::from_slice::<ErrorDto>(body) {
        return dto.message.trim().to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        format!("the engine answered HTTP {status} with no message")
    } else {
        text.chars().take(500).collect()
    }
}

/// A socket failure talking to the engine, as a message a person can act on (a
/// connect failure's text starts with `cannot connect`).
pub(super) fn io_error(
    runtime: RuntimeKind,
    start_hint: &str,
    socket: &Path,
    io: std::io::Error,
) -> RuntimeError {
    let hint = match io.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            format!(" ({start_hint})")
        }
        std::io::ErrorKind::PermissionDenied => {
            " (run the agent as root or in the group that owns the socket)".to_owned()
        }
        _ => String::new(),
    };
    let text = io.to_string();
    let reason = if text.starts_with("cannot connect") {
        format!("{text}{hint}")
    } else {
        format!("talking to {}: {text}{hint}", socket.display())
    };
    RuntimeError::Unavailable { runtime, reason }
}

/// A failure to talk to the engine at all, as a message a person can act on.
pub(super) fn transport_error(
    runtime: RuntimeKind,
    start_hint: &str,
    socket: &Path,
    e: ureq::Error,
) -> RuntimeError {
    let reason = match e {
        ureq::Error::Io(io) => return io_error(runtime, start_hint, socket, io),
        ureq::Error::BodyExceedsLimit(limit) => {
            return RuntimeError::TooLarge {
                runtime,
                what: "the engine's reply".to_owned(),
                limit,
                hint: "",
            }
        }
        other => format!("request to {} failed: {other}", socket.display()),
    };
    RuntimeError::Unavailable { runtime, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNTIME: RuntimeKind = RuntimeKind::DockerApi;

    fn reply(status: u16, body: &str) -> EngineReply {
        EngineReply {
            status,
            body: body.as_bytes().to_vec(),
            stream_error: None,
        }
    }

    #[test]
    fn status_mapping() {
        let web = || "container 'web'".to_owned();
        assert!(reply(204, "").check(RUNTIME, web).is_ok());
        assert_eq!(
            reply(404, r#"{"message":"No such container: web"}"#)
                .check(RUNTIME, web)
                .unwrap_err()
                .to_string(),
            "container 'web' not found in docker-api"
        );
        assert_eq!(
            reply(409, r#"{"message":"name in use"}"#).check(RUNTIME, web),
            Err(RuntimeError::Conflict {
                runtime: RUNTIME,
                message: "name in use".into()
            })
        );
        assert_eq!(
            reply(500, r#"{"message":"boom"}"#).check(RUNTIME, web),
            Err(RuntimeError::Engine {
                runtime: RUNTIME,
                message: "boom".into()
            })
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(404, br#"{"message":"No such container: web\n"}"#),
            "No such container: web"
        );
        assert_eq!(error_message(500, b"page not found\n"), "page not found");
        assert_eq!(
            error_message(502, b""),
            "the engine answered HTTP 502 with no message"
        );
    }
}
