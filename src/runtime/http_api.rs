//! One HTTP exchange with an engine's REST API over its unix socket, shared by the
//! Docker Engine API and libpod adapters: the request and reply types, the blocking ureq
//! call (on `smol`'s blocking pool) with its timeout, the engines' JSON error bodies and
//! pull progress streams, event streams, and transport failures as messages a person can
//! act on.

use crate::core::error::RuntimeError;
use crate::core::names::{ContainerName, ImageRef};
use crate::core::runtime::EngineEvents;
use crate::runtime::encoding;
use crate::runtime::event_lines::parse_event_line;
use crate::runtime::unix_socket::unix_socket_agent;
use serde::Deserialize;
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest reply body read into memory (logs without `tail` are the big ones).
const BODY_LIMIT: u64 = 32 * 1024 * 1024;

/// How to read a reply body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Read {
    /// All of it, up to [`BODY_LIMIT`].
    Full,
    /// A pull's JSON progress stream, line by line, keeping only the first error.
    PullProgress,
}

/// One request: method, path (with its query), optional JSON body.
#[derive(Debug)]
pub(crate) struct Request {
    /// HTTP method.
    pub(crate) method: &'static str,
    /// Path and query, e.g. `/v1.41/containers/web/json`.
    pub(crate) path: String,
    /// JSON body, sent with `Content-Type: application/json`.
    pub(crate) body: Option<Value>,
    /// `X-Registry-Auth` header value.
    pub(crate) registry_auth: Option<String>,
    /// How to read the reply.
    pub(crate) read: Read,
    /// Limit on the whole call, or for a pull (which may run long) on each read.
    pub(crate) timeout: Duration,
}

/// A reply: status, body, and for a pull the error its stream reported.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// Body (empty for a pull's stream).
    pub(crate) body: Vec<u8>,
    /// The first error a pull's progress stream reported.
    pub(crate) stream_error: Option<String>,
}

impl Reply {
    /// Whether the status is 2xx.
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The engine's error text for this reply.
    pub(crate) fn message(&self) -> String {
        error_message(self.status, &self.body)
    }

    /// Ok for 2xx; otherwise NotFound (naming `what`) for 404, Conflict for 409, else
    /// Engine with the engine's message.
    pub(crate) fn check(
        self,
        runtime: &'static str,
        what: impl FnOnce() -> String,
    ) -> Result<Reply, RuntimeError> {
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

/// A blocking ureq agent bound to one engine socket, called from async code.
#[derive(Debug)]
pub(crate) struct SocketApi {
    /// The access path's name, e.g. `docker-api`.
    runtime: &'static str,
    /// What to check when the socket does not answer, e.g. `is dockerd running?`.
    start_hint: &'static str,
    socket: PathBuf,
    agent: ureq::Agent,
    /// How long one call may take.
    pub(crate) call_timeout: Duration,
}

impl SocketApi {
    /// A client of the socket at `socket` for the access path `runtime`; `start_hint`
    /// ends the message when the socket is missing or refuses.
    pub(crate) fn new(
        runtime: &'static str,
        start_hint: &'static str,
        socket: &Path,
        call_timeout: Duration,
    ) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build();
        Self {
            runtime,
            start_hint,
            socket: socket.to_owned(),
            agent: unix_socket_agent(socket, config),
            call_timeout,
        }
    }

    /// A request limited by the call timeout.
    pub(crate) fn request(&self, method: &'static str, path: String) -> Request {
        Request {
            method,
            path,
            body: None,
            registry_auth: None,
            read: Read::Full,
            timeout: self.call_timeout,
        }
    }

    /// Sends `req` exactly as given on the blocking pool.
    pub(crate) async fn send(&self, req: Request) -> Result<Reply, RuntimeError> {
        let agent = self.agent.clone();
        let socket = self.socket.clone();
        let (runtime, hint) = (self.runtime, self.start_hint);
        smol::unblock(move || {
            exchange(&agent, &req).map_err(|e| transport_error(runtime, hint, &socket, e))
        })
        .await
    }
}

/// Events an engine's stream may have queued before its reader waits for the core.
const EVENT_QUEUE: usize = 64;

/// The largest error body read when an event stream is refused.
const STREAM_ERROR_LIMIT: u64 = 64 * 1024;

/// Shuts its agent down when dropped, which interrupts a reader blocked on the socket.
struct ShutdownOnDrop(Option<ureq::Agent>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        if let Some(agent) = self.0.take() {
            agent.shutdown();
        }
    }
}

impl SocketApi {
    /// Opens the engine's event stream at `path` (a `GET` whose body is one JSON event
    /// per line, never ending). One task of the blocking pool reads it line by line into
    /// a bounded channel; the stream ends when the connection drops, and dropping it
    /// closes the connection (its own agent is shut down), which ends the reader.
    pub(crate) async fn watch(&self, path: String) -> Result<EngineEvents, RuntimeError> {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build();
        let agent = unix_socket_agent(&self.socket, config);
        let reader_agent = agent.clone();
        let (opened_tx, opened_rx) = smol::channel::bounded(1);
        let (tx, rx) = smol::channel::bounded(EVENT_QUEUE);
        let socket = self.socket.clone();
        let (runtime, hint) = (self.runtime, self.start_hint);
        smol::unblock(move || {
            let uri = format!("http://localhost{path}");
            let mut response = match reader_agent.get(uri.as_str()).call() {
                Ok(r) => r,
                Err(e) => {
                    let _ =
                        opened_tx.send_blocking(Err(transport_error(runtime, hint, &socket, e)));
                    return;
                }
            };
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(STREAM_ERROR_LIMIT)
                    .read_to_vec()
                    .unwrap_or_default();
                let message = format!("event stream refused: {}", error_message(status, &body));
                let _ = opened_tx.send_blocking(Err(RuntimeError::Engine { runtime, message }));
                return;
            }
            if opened_tx.send_blocking(Ok(())).is_err() {
                return;
            }
            let reader = std::io::BufReader::new(response.body_mut().as_reader());
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if let Some(event) = parse_event_line(&line) {
                    if tx.send_blocking(event).is_err() {
                        break;
                    }
                }
            }
        })
        .detach();
        let opened = opened_rx
            .recv()
            .await
            .map_err(|_| RuntimeError::Unavailable {
                runtime,
                reason: "the event stream's reader ended before the engine answered".into(),
            })?;
        opened?;
        let guard = ShutdownOnDrop(Some(agent));
        Ok(Box::pin(futures_lite::stream::unfold(
            (rx, guard),
            |(rx, guard)| async move {
                let event = rx.recv().await.ok()?;
                Some((event, (rx, guard)))
            },
        )))
    }
}

/// Runs one request on the blocking agent and reads its reply.
fn exchange(agent: &ureq::Agent, req: &Request) -> Result<Reply, ureq::Error> {
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
                stream_error = pull_line_error(&line);
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
fn transport_error(
    runtime: &'static str,
    start_hint: &str,
    socket: &Path,
    e: ureq::Error,
) -> RuntimeError {
    let reason = match e {
        ureq::Error::Io(io) => {
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
            if text.starts_with("cannot connect") {
                format!("{text}{hint}")
            } else {
                format!("talking to {}: {text}{hint}", socket.display())
            }
        }
        ureq::Error::BodyExceedsLimit(limit) => {
            return RuntimeError::Engine {
                runtime,
                message: format!(
                    "the engine's reply is larger than {limit} bytes (for logs, pass tail)"
                ),
            }
        }
        other => format!("request to {} failed: {other}", socket.display()),
    };
    RuntimeError::Unavailable { runtime, reason }
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

/// The error of one line of a pull's progress stream, if it reports one (Docker's
/// `errorDetail.message`, or `error` as both engines write it).
fn pull_line_error(line: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    v.pointer("/errorDetail/message")
        .or_else(|| v.get("error"))
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
}

/// What a pull's reply means: Ok when the image arrived, NotFound when the registry has
/// no such image or tag, else Engine with the engine's message.
pub(crate) fn pull_outcome(
    runtime: &'static str,
    image: &ImageRef,
    reply: &Reply,
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

/// `true` or `false`, as query values.
pub(crate) fn bool_str(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
}

/// `/containers/NAME` plus `rest`, the name percent-encoded.
pub(crate) fn container_path(name: &ContainerName, rest: &str) -> String {
    format!(
        "/containers/{}{rest}",
        encoding::percent_encode(name.as_str())
    )
}

/// Whether a pull error means the image or tag does not exist.
fn is_missing_image(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("not found") || m.contains("manifest unknown") || m.contains("does not exist")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNTIME: &str = "docker-api";

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
