//! A blocking ureq agent bound to one engine socket, called from async code: each
//! request runs on a `ctrmgr-io` thread ([`crate::offload`]), so the executor never waits
//! on the socket.

use super::errors::transport_error;
use super::progress::LayerTracker;
use super::pull::pull_line_error;
use super::wire::{EngineReply, EngineRequest, ReadMode};
use crate::core::error::RuntimeError;
use crate::core::model::RuntimeKind;
use crate::runtime::unix_socket::unix_socket_agent;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest reply body read into memory unless the request says otherwise (logs set
/// `policy.max_log_bytes`).
const BODY_LIMIT: u64 = 32 * 1024 * 1024;

/// A blocking ureq agent bound to one engine socket.
#[derive(Debug)]
pub(crate) struct SocketClient {
    /// The access path, named in every error.
    pub(super) runtime: RuntimeKind,
    /// What to check when the socket does not answer, e.g. `is dockerd running?`.
    pub(super) start_hint: &'static str,
    pub(super) socket: PathBuf,
    agent: ureq::Agent,
    /// How long one call may take.
    call_timeout: Duration,
}

/// An agent on `socket` that hands every status back instead of failing on 4xx/5xx.
fn agent(socket: &Path) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build();
    unix_socket_agent(socket, config)
}

impl SocketClient {
    /// A client of the socket at `socket` for the access path `runtime`; `start_hint`
    /// ends the message when the socket is missing or refuses.
    pub(crate) fn new(
        runtime: RuntimeKind,
        start_hint: &'static str,
        socket: &Path,
        call_timeout: Duration,
    ) -> Self {
        Self {
            runtime,
            start_hint,
            socket: socket.to_owned(),
            agent: agent(socket),
            call_timeout,
        }
    }

    /// A request limited by the call timeout.
    pub(crate) fn request(&self, method: &'static str, path: String) -> EngineRequest {
        EngineRequest {
            method,
            path,
            body: None,
            registry_auth: None,
            read: ReadMode::Full,
            progress: None,
            timeout: self.call_timeout,
            max_body: BODY_LIMIT,
        }
    }

    /// Sends `req` exactly as given, on a `ctrmgr-io` thread.
    pub(crate) async fn send(&self, req: EngineRequest) -> Result<EngineReply, RuntimeError> {
        let agent = self.agent.clone();
        let socket = self.socket.clone();
        let (runtime, hint) = (self.runtime, self.start_hint);
        crate::offload::run(move || {
            exchange(&agent, &req).map_err(|e| transport_error(runtime, hint, &socket, e))
        })
        .await
    }
}

/// Runs one request on the blocking agent and reads its reply.
fn exchange(agent: &ureq::Agent, req: &EngineRequest) -> Result<EngineReply, ureq::Error> {
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
        ReadMode::Full => configured.timeout_global(Some(req.timeout)),
        ReadMode::PullProgress => configured.timeout_per_read(Some(req.timeout)),
    };
    let mut response = agent.run(configured.build())?;
    let status = response.status().as_u16();
    let body = response.body_mut();
    if matches!(req.read, ReadMode::PullProgress) && (200..300).contains(&status) {
        let mut stream_error = None;
        let mut layers = LayerTracker::default();
        let reader = std::io::BufReader::new(body.as_reader());
        for line in reader.lines() {
            let line = line?;
            if stream_error.is_none() {
                stream_error = pull_line_error(&line);
            }
            if let Some(sink) = &req.progress {
                layers.read(&line).into_iter().for_each(|p| sink.report(p));
            }
        }
        return Ok(EngineReply {
            status,
            body: Vec::new(),
            stream_error,
        });
    }
    let body = body.with_config().limit(req.max_body).read_to_vec()?;
    Ok(EngineReply {
        status,
        body,
        stream_error: None,
    })
}
