//! One client of the engines' REST APIs over their unix sockets, for the Docker Engine
//! API and Podman's libpod API alike: [`EngineApi`] makes every call, maps every status,
//! negotiates the version, and implements the [`Runtime`] trait once; a small
//! [`Dialect`] per engine says where the two differ. Adding an endpoint or fixing a
//! status mapping is one change here.
//!
//! # Implementation
//! Requests go through a blocking ureq agent ([`crate::runtime::engine_http`]) on
//! the `ctrmgr-io` threads ([`crate::offload`]), so the executor never waits on the socket. The version call
//! is made on first use and its outcome (the path prefix) cached only after success, so
//! an engine that comes up later is used as soon as it answers.
//!
//! [`Runtime`]: crate::core::runtime::Runtime

mod dialect;
mod exec;
mod replies;
mod runtime_impl;

#[cfg(test)]
pub(crate) use dialect::every_field_spec;
pub(crate) use dialect::{create_labels, CreateCall, Dialect, Negotiated};
pub(crate) use replies::{from_json, ReplyError};

use crate::core::error::{Cause, RuntimeError};
use crate::core::model::{RuntimeKind, Ulimit};
use crate::core::names::ContainerName;
use crate::core::runtime::EngineContainer;
use crate::runtime::engine_http::{
    container_path, path_and_query, EngineReply, EngineRequest, SocketClient,
};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// An engine's stop timeout when none is given (both engines wait 10 s).
const DEFAULT_STOP_S: u64 = 10;

/// An engine's REST API reached over a unix socket, in the dialect `D`.
#[derive(Debug)]
pub struct EngineApi<D> {
    /// The socket client; its call timeout is how long one call may take (stop and
    /// restart add their grace period).
    client: SocketClient,
    /// Where this engine's API differs.
    dialect: D,
    /// What the version call settled, once the engine answered.
    negotiated: Mutex<Option<Negotiated>>,
    /// Limits every created container gets (`[runtime] default_ulimits`).
    ulimits: Vec<Ulimit>,
}

impl<D> EngineApi<D> {
    /// Gives every container created through this adapter these resource limits (the
    /// agent's `[runtime] default_ulimits`), as dockerd's `--default-ulimit` does.
    #[must_use]
    pub fn with_default_ulimits(mut self, ulimits: Vec<Ulimit>) -> Self {
        self.ulimits = ulimits;
        self
    }
}

// The calls below are free functions, not methods: an inherent `impl<D: Dialect>` would
// put the crate-private `Dialect` into the public face of `EngineApi` (rustc's
// `private_bounds`); the `Runtime` impl in `runtime_impl.rs` is the public face.

/// An adapter for the engine at `socket` speaking `dialect`; nothing is contacted
/// until the first call.
pub(crate) fn with_dialect<D: Dialect>(
    dialect: D,
    socket: &Path,
    call_timeout: Duration,
) -> EngineApi<D> {
    EngineApi {
        client: SocketClient::new(D::KIND, D::START_HINT, socket, call_timeout),
        dialect,
        negotiated: Mutex::new(None),
        ulimits: Vec::new(),
    }
}

/// Whether the version call succeeded since `api` was made.
#[cfg(test)]
pub(crate) fn is_negotiated<D>(api: &EngineApi<D>) -> bool {
    api.negotiated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

/// How messages name a call, e.g. `GET /libpod/containers/json`.
fn call_name<D: Dialect>(method: &str, path: &str) -> String {
    format!("{method} {}{path}", D::API_NAME)
}

/// Makes the version call and caches what it settled.
async fn negotiate<D: Dialect>(api: &EngineApi<D>) -> Result<Negotiated, RuntimeError> {
    let req = api.client.request("GET", D::VERSION_PATH.to_owned());
    let reply = api.client.send(req).await?;
    let reply = api
        .dialect
        .classify(reply, || format!("the {}/version endpoint", D::API_NAME))?;
    let negotiated = api.dialect.negotiate(&reply.body)?;
    *api.negotiated.lock().unwrap_or_else(|e| e.into_inner()) = Some(negotiated.clone());
    Ok(negotiated)
}

/// The path prefix of every call, negotiating it first if the engine never answered.
async fn prefix<D: Dialect>(api: &EngineApi<D>) -> Result<String, RuntimeError> {
    let cached = api
        .negotiated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|n| n.prefix.clone());
    match cached {
        Some(prefix) => Ok(prefix),
        None => Ok(negotiate(api).await?.prefix),
    }
}

/// A request to `path` under the negotiated prefix, limited by the call timeout.
async fn request<D: Dialect>(
    api: &EngineApi<D>,
    method: &'static str,
    path: &str,
) -> Result<EngineRequest, RuntimeError> {
    let prefix = prefix(api).await?;
    Ok(api.client.request(method, format!("{prefix}{path}")))
}

/// Sends a request to `path` and classifies its reply; `what` names the subject for
/// a NotFound.
async fn call<D: Dialect>(
    api: &EngineApi<D>,
    method: &'static str,
    path: &str,
    what: impl FnOnce() -> String,
) -> Result<EngineReply, RuntimeError> {
    let req = request(api, method, path).await?;
    let reply = api.client.send(req).await?;
    api.dialect.classify(reply, what)
}

/// `POST /containers/NAME/ACTION`, classified; `grace_s` is added to the call
/// timeout for actions that wait for the container to stop. With `unchanged_ok`, a
/// 304 (already started, already stopped) is success.
async fn post_container<D: Dialect>(
    api: &EngineApi<D>,
    name: &ContainerName,
    action: &str,
    query: &[(&str, String)],
    grace_s: u64,
    unchanged_ok: bool,
) -> Result<(), RuntimeError> {
    let path = path_and_query(&container_path(name, action), query);
    let mut req = request(api, "POST", &path).await?;
    req.timeout += Duration::from_secs(grace_s);
    let reply = api.client.send(req).await?;
    if unchanged_ok && reply.status == 304 {
        return Ok(());
    }
    api.dialect.classify(reply, container(name)).map(drop)
}

/// Inspects `name`: the container and whether it has a TTY.
async fn inspect_with_tty<D: Dialect>(
    api: &EngineApi<D>,
    name: &ContainerName,
) -> Result<(EngineContainer, bool), RuntimeError> {
    let reply = call(api, "GET", &container_path(name, "/json"), container(name)).await?;
    let call = call_name::<D>("GET", "/containers/{name}/json");
    replies::parse_inspect(&reply.body, &call).map_err(|e| bad_reply(D::KIND, e))
}

/// A `BadReply` error of `runtime` for a reply it cannot read.
pub(crate) fn bad_reply(runtime: RuntimeKind, e: ReplyError) -> RuntimeError {
    RuntimeError::BadReply {
        runtime,
        source: Cause::new(e),
    }
}

/// Names a container in a NotFound.
fn container(name: &ContainerName) -> impl FnOnce() -> String + '_ {
    move || format!("container '{name}'")
}

/// The optional timeout of stop or restart as a query, under `key`.
fn timeout_query(key: &'static str, timeout_s: Option<u32>) -> Vec<(&'static str, String)> {
    timeout_s
        .map(|t| (key, t.to_string()))
        .into_iter()
        .collect()
}

/// How long a stop may wait for the container before the engine kills it.
fn grace_s(timeout_s: Option<u32>) -> u64 {
    timeout_s.map_or(DEFAULT_STOP_S, u64::from)
}
