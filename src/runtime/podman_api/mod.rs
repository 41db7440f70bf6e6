//! The `podman-api` runtime: Podman's libpod REST API (v4 or later) over its unix
//! socket, the shared [`EngineApi`] client in the libpod [`Dialect`]. The libpod API
//! version is checked from `GET /libpod/version`; every call goes under `/v4.0.0/libpod`
//! (Podman 4 serves any version it speaks there). Every create carries the agent's
//! default ulimits as `r_limits`: the libpod API does not apply `containers.conf`'s
//! `default_ulimits`, and Podman's own defaults can exceed a host's hard limits. libpod
//! answers many refusals with HTTP 500 and a `cause`, which [`reply`] classifies.

mod parse;
mod reply;
mod spec;

use crate::core::error::RuntimeError;
use crate::core::model::{ContainerSpec, RuntimeKind, Stats, Ulimit};
use crate::core::names::{ContainerName, ImageRef};
use crate::runtime::engine_api::{
    bad_reply, with_dialect, CreateCall, Dialect, EngineApi, Negotiated, ReplyError,
};
use crate::runtime::engine_http::{bool_str, path_and_query, EngineReply};
use crate::runtime::registry_auth::is_loopback_registry;
use std::path::Path;
use std::time::Duration;

/// The path prefix of every libpod call.
const API_PREFIX: &str = "/v4.0.0/libpod";
/// The oldest libpod API major version accepted.
const MIN_MAJOR: u32 = 4;

/// The libpod API's dialect.
#[derive(Debug, Clone, Copy)]
pub struct Podman;

/// Podman's libpod API reached over a unix socket (default `/run/podman/podman.sock`;
/// rootless: `$XDG_RUNTIME_DIR/podman/podman.sock`).
pub type PodmanApi = EngineApi<Podman>;

impl EngineApi<Podman> {
    /// An adapter for the libpod API listening on the unix socket at `socket`; one call
    /// may take `call_timeout` (stop and restart add their grace period, a pull may take
    /// longer as long as the engine keeps reporting progress). Nothing is contacted until
    /// the first call.
    pub fn new(socket: impl AsRef<Path>, call_timeout: Duration) -> Self {
        with_dialect(Podman, socket.as_ref(), call_timeout)
    }
}

impl Dialect for Podman {
    const KIND: RuntimeKind = RuntimeKind::PodmanApi;
    const START_HINT: &'static str = "is `podman system service` running?";
    const VERSION_PATH: &'static str = "/v4.0.0/libpod/version";
    const API_NAME: &'static str = "/libpod";
    const STOP_TIMEOUT_KEY: &'static str = "timeout";
    const UPDATES_RESTART_POLICY: bool = false;
    const DATA_ROOT_POINTER: &'static str = "/store/graphRoot";

    fn negotiate(&self, body: &[u8]) -> Result<Negotiated, RuntimeError> {
        let version = parse::parse_version(body).map_err(|e| bad_reply(Self::KIND, e))?;
        match version.api_major() {
            Some(major) if major >= MIN_MAJOR => Ok(Negotiated {
                prefix: API_PREFIX.to_owned(),
                version: version.version,
            }),
            _ => Err(RuntimeError::Unsupported {
                runtime: Self::KIND,
                what: format!(
                    "libpod API {} (Podman {}); ctrmgr needs libpod API {MIN_MAJOR} or \
                     newer (Podman 4+): upgrade Podman or use the podman CLI runtime",
                    version.api, version.version
                ),
            }),
        }
    }

    fn create(&self, spec: &ContainerSpec, ulimits: &[Ulimit]) -> Result<CreateCall, RuntimeError> {
        Ok(CreateCall {
            path: "/containers/create".into(),
            body: spec::create_body(spec, ulimits),
        })
    }

    fn classify(
        &self,
        reply: EngineReply,
        what: impl FnOnce() -> String,
    ) -> Result<EngineReply, RuntimeError> {
        reply::classify(reply, what)
    }

    fn removal_error(&self, body: &[u8]) -> Option<String> {
        parse::removal_error(body)
    }

    fn stats_path(&self, name: &ContainerName) -> String {
        path_and_query(
            "/containers/stats",
            &[
                ("containers", name.to_string()),
                ("stream", bool_str(false)),
            ],
        )
    }

    fn stats(&self, body: &[u8]) -> Result<Option<Stats>, ReplyError> {
        parse::parse_stats(body)
    }

    fn pull_path(&self, image: &ImageRef) -> String {
        let mut query = vec![("reference", image.to_string())];
        if is_loopback_registry(image) {
            query.push(("tlsVerify", bool_str(false)));
        }
        path_and_query("/images/pull", &query)
    }

    fn events_query(&self, filters: String) -> Vec<(&'static str, String)> {
        vec![("stream", bool_str(true)), ("filters", filters)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::runtime::Runtime;
    use crate::runtime::engine_api::is_negotiated;

    #[test]
    fn unreachable_socket_is_unavailable_with_a_hint() {
        let api = PodmanApi::new("/nonexistent/podman.sock", Duration::from_secs(5));
        let err = smol::block_on(api.version()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "podman-api is unavailable: cannot connect to /nonexistent/podman.sock: \
             No such file or directory (is `podman system service` running?)"
        );
        // A failure is not cached: the next call tries again.
        assert!(!is_negotiated(&api));
    }
}
