//! The `docker-api` runtime: the Docker Engine REST API over its unix socket, the
//! shared [`EngineApi`] client in the Docker [`Dialect`]: the API version is negotiated
//! from `GET /version` (capped at the version this adapter is written against) and every
//! call goes under its `/vX.Y` prefix.

mod encode;
mod parse;
mod spec;

use crate::core::error::RuntimeError;
use crate::core::model::{ContainerSpec, RuntimeKind, Stats, Ulimit};
use crate::core::names::{ContainerName, ImageRef};
use crate::runtime::engine_api::{
    bad_reply, with_dialect, CreateCall, Dialect, EngineApi, Negotiated, ReplyError,
};
use crate::runtime::engine_http::{bool_str, container_path, path_and_query};
use parse::{ApiVersion, EngineVersion};
use std::path::Path;
use std::time::Duration;

/// The oldest API version accepted (Docker 20.10).
const MIN_API: ApiVersion = (1, 41);
/// The newest API version this adapter is written against.
const MAX_API: ApiVersion = (1, 41);

/// The Docker Engine API's dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Docker;

/// The Docker Engine API reached over a unix socket (default `/var/run/docker.sock`).
pub type DockerApi = EngineApi<Docker>;

impl EngineApi<Docker> {
    /// An adapter for the engine listening on the unix socket at `socket`; one call may
    /// take `call_timeout` (stop and restart add their grace period, a pull may take
    /// longer as long as the engine keeps reporting progress). Nothing is contacted until
    /// the first call.
    pub fn new(socket: impl AsRef<Path>, call_timeout: Duration) -> Self {
        with_dialect(Docker, socket.as_ref(), call_timeout)
    }
}

/// The API version to speak with an engine: its own, capped at [`MAX_API`]; an engine
/// older than [`MIN_API`] is refused.
fn usable_api(version: &EngineVersion) -> Result<ApiVersion, RuntimeError> {
    if version.api < MIN_API {
        return Err(RuntimeError::Unsupported {
            runtime: Docker::KIND,
            what: format!(
                "Docker Engine API {}.{} (Docker {}); ctrmgr needs API {}.{} or newer \
                 (Docker 20.10+): upgrade the engine or use the docker CLI runtime",
                version.api.0, version.api.1, version.version, MIN_API.0, MIN_API.1
            ),
        });
    }
    Ok(version.api.min(MAX_API))
}

impl Dialect for Docker {
    const KIND: RuntimeKind = RuntimeKind::DockerApi;
    const START_HINT: &'static str = "is dockerd running?";
    const VERSION_PATH: &'static str = "/version";
    const API_NAME: &'static str = "";
    const STOP_TIMEOUT_KEY: &'static str = "t";
    const UPDATES_RESTART_POLICY: bool = true;
    const DATA_ROOT_POINTER: &'static str = "/DockerRootDir";

    fn negotiate(&self, body: &[u8]) -> Result<Negotiated, RuntimeError> {
        let version = parse::parse_version(body).map_err(|e| bad_reply(Self::KIND, e))?;
        let (major, minor) = usable_api(&version)?;
        Ok(Negotiated {
            prefix: format!("/v{major}.{minor}"),
            version: version.version,
        })
    }

    fn create(&self, spec: &ContainerSpec, ulimits: &[Ulimit]) -> Result<CreateCall, RuntimeError> {
        Ok(CreateCall {
            path: path_and_query("/containers/create", &[("name", spec.name.to_string())]),
            body: spec::create_body(spec, ulimits),
        })
    }

    fn stats_path(&self, name: &ContainerName) -> String {
        path_and_query(
            &container_path(name, "/stats"),
            &[("stream", bool_str(false))],
        )
    }

    fn stats(&self, body: &[u8]) -> Result<Option<Stats>, ReplyError> {
        parse::parse_stats(body).map(Some)
    }

    fn pull_path(&self, image: &ImageRef) -> String {
        let (from_image, tag) = encode::pull_params(image);
        path_and_query("/images/create", &[("fromImage", from_image), ("tag", tag)])
    }

    fn events_query(&self, filters: String) -> Vec<(&'static str, String)> {
        vec![("filters", filters)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::runtime::Runtime;
    use crate::runtime::engine_api::is_negotiated;

    #[test]
    fn api_version_choice() {
        let v = |api| EngineVersion {
            version: "x".into(),
            api,
        };
        assert_eq!(usable_api(&v((1, 41))), Ok((1, 41)));
        assert_eq!(usable_api(&v((1, 47))), Ok(MAX_API));
        let err = usable_api(&v((1, 40))).unwrap_err();
        assert_eq!(err.code(), crate::core::error::ErrorCode::Unsupported);
        assert!(err.to_string().contains("needs API 1.41 or newer"), "{err}");
    }

    #[test]
    fn unreachable_socket_is_unavailable_with_a_hint() {
        let api = DockerApi::new("/nonexistent/docker.sock", Duration::from_secs(5));
        let err = smol::block_on(api.version()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "docker-api is unavailable: cannot connect to /nonexistent/docker.sock: \
             No such file or directory (is dockerd running?)"
        );
        // A failure is not cached: the next call tries again.
        assert!(!is_negotiated(&api));
    }
}
