//! One HTTP exchange with the engine: the request and reply types, the blocking ureq
//! call with its timeout, status mapping onto `RuntimeError`, and transport failures as
//! messages a person can act on.

use super::{parse, RUNTIME};
use crate::core::error::RuntimeError;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

/// The largest reply body read into memory (logs without `tail` are the big ones).
const BODY_LIMIT: u64 = 32 * 1024 * 1024;

/// How to read a reply body.
#[derive(Debug, Clone, Copy)]
pub(super) enum Read {
    /// All of it, up to [`BODY_LIMIT`].
    Full,
    /// A pull's JSON progress stream, line by line, keeping only the first error.
    PullProgress,
}

/// One request, the path without the version prefix.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) body: Option<serde_json::Value>,
    pub(super) registry_auth: Option<String>,
    pub(super) read: Read,
    /// Limit on the whole call, or for a pull (which may run long) on each read.
    pub(super) timeout: Duration,
}

impl Request {
    pub(super) fn new(method: &'static str, path: String, timeout: Duration) -> Self {
        Self {
            method,
            path,
            body: None,
            registry_auth: None,
            read: Read::Full,
            timeout,
        }
    }
}

/// A reply: status, body, and for a pull the error its stream reported.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
    pub(super) stream_error: Option<String>,
}

impl Reply {
    pub(super) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(super) fn message(&self) -> String {
        parse::error_message(self.status, &self.body)
    }

    /// Ok for 2xx; otherwise NotFound (naming `what`), Conflict or Engine.
    pub(super) fn check(self, what: impl FnOnce() -> String) -> Result<Reply, RuntimeError> {
        match self.status {
            200..=299 => Ok(self),
            404 => Err(RuntimeError::NotFound {
                runtime: RUNTIME,
                what: what(),
            }),
            409 => Err(RuntimeError::Conflict {
                runtime: RUNTIME,
                message: self.message(),
            }),
            _ => Err(engine(self.message())),
        }
    }
}

/// An `Engine` error with the engine's message.
pub(super) fn engine(message: String) -> RuntimeError {
    RuntimeError::Engine {
        runtime: RUNTIME,
        message,
    }
}

/// Runs one request on the blocking agent and reads its reply.
pub(super) fn exchange(agent: &ureq::Agent, req: &Request) -> Result<Reply, ureq::Error> {
    let uri = format!("http://localhost{}", req.path);
    let mut builder = ureq::http::Request::builder()
        .method(req.method)
        .uri(uri.as_str());
    if let Some(auth) = &req.registry_auth {
        builder = builder.header("X-Registry-Auth", auth.as_str());
    }
    if req.body.is_some() {
        builder = builder.header("Content-Type", "application/json");
    }
    let body = req
        .body
        .as_ref()
        .map_or_else(Vec::new, |json| json.to_string().into_bytes());
    let configured = agent.configure_request(builder.body(body)?);
    let configured = match req.read {
        Read::Full => configured.timeout_global(Some(req.timeout)),
        Read::PullProgress => configured.timeout_per_read(Some(req.timeout)),
    };
    let mut response = agent.run(configured.build())?;
    let status = response.status().as_u16();
    let body = response.body_mut();
    if matches!(req.read, Read::PullProgress) && (200..300).contains(&status) {
        let mut stream_error = None;
        let reader = std::io::BufReader::new(body.as_reader());
        for line in reader.lines() {
            let line = line?;
            if stream_error.is_none() {
                stream_error = parse::pull_line_error(&line);
            }
        }
        return Ok(Reply {
            status,
            body: Vec::new(),
            stream_error,
        });
    }
    let body = body.with_config().limit(BODY_LIMIT).read_to_vec()?;
    Ok(Reply {
        status,
        body,
        stream_error: None,
    })
}

/// A failure to talk to the engine at all, as a message a person can act on.
pub(super) fn transport_error(socket: &Path, e: ureq::Error) -> RuntimeError {
    let reason = match e {
        ureq::Error::Io(io) => {
            let hint = match io.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    " (is dockerd running?)"
                }
                std::io::ErrorKind::PermissionDenied => {
                    " (run the agent as root or in the group that owns the socket)"
                }
                _ => "",
            };
            let text = io.to_string();
            if text.starts_with("cannot connect") {
                format!("{text}{hint}")
            } else {
                format!("talking to {}: {text}{hint}", socket.display())
            }
        }
        ureq::Error::BodyExceedsLimit(limit) => {
            return engine(format!(
                "the engine's reply is larger than {limit} bytes (for logs, pass tail)"
            ))
        }
        other => format!("request to {} failed: {other}", socket.display()),
    };
    RuntimeError::Unavailable {
        runtime: RUNTIME,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            stream_error: None,
        }
    }

    #[test]
    fn status_mapping() {
        let web = || "container 'web'".to_owned();
        assert!(reply(204, "").check(web).is_ok());
        assert_eq!(
            reply(404, r#"{"message":"No such container: web"}"#)
                .check(web)
                .unwrap_err()
                .to_string(),
            "container 'web' not found in docker-api"
        );
        assert_eq!(
            reply(409, r#"{"message":"name in use"}"#).check(web),
            Err(RuntimeError::Conflict {
                runtime: RUNTIME,
                message: "name in use".into()
            })
        );
        assert_eq!(
            reply(500, r#"{"message":"boom"}"#).check(web),
            Err(engine("boom".into()))
        );
    }
}
