//! The `docker-api` runtime: the Docker Engine REST API over its unix socket.
//!
//! Requests go through a blocking ureq agent (connected by
//! [`crate::runtime::unix_socket`]) on `smol`'s blocking pool, so the executor never waits
//! on the socket. The API version is negotiated from `GET /version` on first success and
//! cached; a failure is never cached, so an engine that comes up later is used as soon as
//! it answers.

mod encode;
mod parse;
mod spec;

use crate::core::error::RuntimeError;
use crate::core::model::{ContainerSpec, ImageInfo, RegistryAuth, RuntimeKind, Stats, Ulimit};
use crate::core::names::{ContainerName, ImageRef, SignalName};
use crate::core::runtime::{
    EngineContainer, EngineEvents, LogOptions, PulledImage, Runtime, MANAGED_LABEL,
};
use crate::runtime::encoding::{self, path_and_query, percent_encode};
use crate::runtime::event_lines;
use crate::runtime::http_api::{self, bool_str, container_path, Read, Reply, Request, SocketApi};
use crate::runtime::log_frames::log_lines;
use async_trait::async_trait;
use parse::{ApiVersion, EngineVersion};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

const RUNTIME: &str = "docker-api";
/// The oldest API version accepted (Docker 20.10).
const MIN_API: ApiVersion = (1, 41);
/// The newest API version this adapter is written against.
const MAX_API: ApiVersion = (1, 41);

/// Docker's stop timeout when none is given.
const DEFAULT_STOP_S: u64 = 10;

/// The Docker Engine API reached over a unix socket (default `/var/run/docker.sock`).
#[derive(Debug)]
pub struct DockerApi {
    /// The socket client; its call timeout is how long one call may take (stop and
    /// restart add their grace period).
    api_client: SocketApi,
    /// The API version negotiated with the engine, once it answered.
    api: Mutex<Option<ApiVersion>>,
    /// Resource limits every created container gets.
    default_ulimits: Vec<Ulimit>,
}

fn container(name: &ContainerName) -> impl FnOnce() -> String + '_ {
    move || format!("container '{name}'")
}

fn image(image: &ImageRef) -> impl FnOnce() -> String + '_ {
    move || format!("image '{image}'")
}

impl DockerApi {
    /// An adapter for the engine listening on the unix socket at `socket`; one call may
    /// take `call_timeout` (stop and restart add their grace period, a pull may take
    /// longer as long as the engine keeps reporting progress). Nothing is contacted until
    /// the first call.
    pub fn new(socket: impl AsRef<Path>, call_timeout: Duration) -> Self {
        Self {
            api_client: SocketApi::new(
                RUNTIME,
                "is dockerd running?",
                socket.as_ref(),
                call_timeout,
            ),
            api: Mutex::new(None),
            default_ulimits: Vec::new(),
        }
    }

    /// Gives every container created through this adapter these resource limits
    /// (`HostConfig.Ulimits`, the agent's `[runtime] default_ulimits`).
    #[must_use]
    pub fn with_default_ulimits(mut self, ulimits: Vec<Ulimit>) -> Self {
        self.default_ulimits = ulimits;
        self
    }

    /// A request limited by the call timeout.
    fn request(&self, method: &'static str, path: String) -> Request {
        self.api_client.request(method, path)
    }

    /// Sends `req` to `path` exactly as given (no version prefix).
    async fn send_raw(&self, req: Request) -> Result<Reply, RuntimeError> {
        self.api_client.send(req).await
    }

    /// The negotiated API version, negotiating it first if the engine never answered.
    async fn api_version(&self) -> Result<ApiVersion, RuntimeError> {
        let cached = *self.api.lock().unwrap_or_else(|e| e.into_inner());
        match cached {
            Some(v) => Ok(v),
            None => Ok(self.negotiate().await?.0),
        }
    }

    /// Sends `req` under the negotiated `/vX.Y` prefix.
    async fn send(&self, mut req: Request) -> Result<Reply, RuntimeError> {
        let (major, minor) = self.api_version().await?;
        req.path = format!("/v{major}.{minor}{}", req.path);
        self.send_raw(req).await
    }

    /// Asks the engine for its version and caches the API version to use.
    async fn negotiate(&self) -> Result<(ApiVersion, EngineVersion), RuntimeError> {
        let reply = self
            .send_raw(self.request("GET", "/version".into()))
            .await?
            .check(RUNTIME, || "the /version endpoint".into())?;
        let version = parse::parse_version(&reply.body).map_err(engine)?;
        let api = usable_api(&version)?;
        *self.api.lock().unwrap_or_else(|e| e.into_inner()) = Some(api);
        Ok((api, version))
    }

    /// `POST /containers/NAME/ACTION`; `grace_s` is added to the call timeout for actions
    /// that wait for the container to stop.
    async fn post_container(
        &self,
        name: &ContainerName,
        action: &str,
        query: &[(&str, String)],
        grace_s: u64,
    ) -> Result<Reply, RuntimeError> {
        let path = path_and_query(&container_path(name, action), query);
        let mut req = self.request("POST", path);
        req.timeout += Duration::from_secs(grace_s);
        self.send(req).await
    }

    async fn inspect_with_tty(
        &self,
        name: &ContainerName,
    ) -> Result<(EngineContainer, bool), RuntimeError> {
        let reply = self
            .send(self.request("GET", container_path(name, "/json")))
            .await?
            .check(RUNTIME, container(name))?;
        parse::parse_inspect(&reply.body).map_err(engine)
    }
}

/// The API version to speak with an engine: its own, capped at [`MAX_API`]; an engine
/// older than [`MIN_API`] is refused.
fn usable_api(version: &EngineVersion) -> Result<ApiVersion, RuntimeError> {
    if version.api < MIN_API {
        return Err(RuntimeError::Unsupported {
            runtime: RUNTIME,
            what: format!(
                "Docker Engine API {}.{} (Docker {}); ctrmgr needs API {}.{} or newer \
                 (Docker 20.10+): upgrade the engine or use the docker CLI runtime",
                version.api.0, version.api.1, version.version, MIN_API.0, MIN_API.1
            ),
        });
    }
    Ok(version.api.min(MAX_API))
}

/// An `Engine` error with the engine's message.
fn engine(message: String) -> RuntimeError {
    RuntimeError::Engine {
        runtime: RUNTIME,
        message,
    }
}

/// How long a stop may wait for the container before the engine kills it.
fn grace_s(timeout_s: Option<u32>) -> u64 {
    timeout_s.map_or(DEFAULT_STOP_S, u64::from)
}

#[async_trait]
impl Runtime for DockerApi {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::DockerApi
    }

    async fn version(&self) -> Result<String, RuntimeError> {
        Ok(self.negotiate().await?.1.version)
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let path = path_and_query("/containers/create", &[("name", spec.name.to_string())]);
        let mut req = self.request("POST", path);
        req.body = Some(spec::create_body(spec, &self.default_ulimits));
        let reply = self.send(req).await?.check(RUNTIME, || {
            format!(
                "image '{}' (create does not pull: pull it first)",
                spec.image
            )
        })?;
        #[derive(serde::Deserialize)]
        struct Created {
            #[serde(rename = "Id")]
            id: String,
        }
        serde_json::from_slice::<Created>(&reply.body)
            .map(|c| c.id)
            .map_err(|e| engine(format!("unexpected reply to POST /containers/create: {e}")))
    }

    async fn start(&self, name: &ContainerName) -> Result<(), RuntimeError> {
        let reply = self.post_container(name, "/start", &[], 0).await?;
        if reply.status != 304 {
            reply.check(RUNTIME, container(name))?;
        }
        Ok(())
    }

    async fn stop(&self, name: &ContainerName, timeout_s: Option<u32>) -> Result<(), RuntimeError> {
        let query: Vec<_> = timeout_s
            .map(|t| ("t", t.to_string()))
            .into_iter()
            .collect();
        let reply = self
            .post_container(name, "/stop", &query, grace_s(timeout_s))
            .await?;
        if reply.status != 304 {
            reply.check(RUNTIME, container(name))?;
        }
        Ok(())
    }

    async fn restart(
        &self,
        name: &ContainerName,
        timeout_s: Option<u32>,
    ) -> Result<(), RuntimeError> {
        let query: Vec<_> = timeout_s
            .map(|t| ("t", t.to_string()))
            .into_iter()
            .collect();
        self.post_container(name, "/restart", &query, grace_s(timeout_s))
            .await?
            .check(RUNTIME, container(name))
            .map(drop)
    }

    async fn kill(&self, name: &ContainerName, signal: SignalName) -> Result<(), RuntimeError> {
        self.post_container(name, "/kill", &[("signal", signal.to_string())], 0)
            .await?
            .check(RUNTIME, container(name))
            .map(drop)
    }

    async fn remove(&self, name: &ContainerName, force: bool) -> Result<(), RuntimeError> {
        let path = path_and_query(
            &container_path(name, ""),
            &[("force", bool_str(force)), ("v", bool_str(false))],
        );
        self.send(self.request("DELETE", path))
            .await?
            .check(RUNTIME, container(name))
            .map(drop)
    }

    async fn inspect(&self, name: &ContainerName) -> Result<EngineContainer, RuntimeError> {
        Ok(self.inspect_with_tty(name).await?.0)
    }

    async fn list_managed(&self) -> Result<Vec<EngineContainer>, RuntimeError> {
        let filters = serde_json::json!({ "label": [format!("{MANAGED_LABEL}=true")] });
        let path = path_and_query(
            "/containers/json",
            &[("all", bool_str(true)), ("filters", filters.to_string())],
        );
        let reply = self
            .send(self.request("GET", path))
            .await?
            .check(RUNTIME, || "the container list".into())?;
        parse::parse_list(&reply.body).map_err(engine)
    }

    async fn logs(
        &self,
        name: &ContainerName,
        opts: &LogOptions,
    ) -> Result<Vec<String>, RuntimeError> {
        let (_, tty) = self.inspect_with_tty(name).await?;
        let mut query = vec![
            ("stdout", "1".to_owned()),
            ("stderr", "1".to_owned()),
            ("tail", opts.tail.map_or("all".into(), |n| n.to_string())),
        ];
        if let Some(since) = &opts.since {
            query.push(("since", since.unix_query()));
        }
        let path = path_and_query(&container_path(name, "/logs"), &query);
        let reply = self
            .send(self.request("GET", path))
            .await?
            .check(RUNTIME, container(name))?;
        log_lines(&reply.body, tty).map_err(engine)
    }

    async fn stats(&self, name: &ContainerName) -> Result<Stats, RuntimeError> {
        let path = path_and_query(
            &container_path(name, "/stats"),
            &[("stream", bool_str(false))],
        );
        let reply = self
            .send(self.request("GET", path))
            .await?
            .check(RUNTIME, container(name))?;
        parse::parse_stats(&reply.body).map_err(engine)
    }

    async fn pull(
        &self,
        image_ref: &ImageRef,
        auth: Option<&RegistryAuth>,
    ) -> Result<PulledImage, RuntimeError> {
        let (from_image, tag) = encode::pull_params(image_ref);
        let path = path_and_query("/images/create", &[("fromImage", from_image), ("tag", tag)]);
        let mut req = self.request("POST", path);
        req.registry_auth = auth.map(|a| encoding::registry_auth_header(image_ref, a));
        req.read = Read::PullProgress;
        let reply = self.send(req).await?;
        http_api::pull_outcome(RUNTIME, image_ref, &reply)?;
        let path = format!("/images/{}/json", percent_encode(image_ref.as_str()));
        let reply = self
            .send(self.request("GET", path))
            .await?
            .check(RUNTIME, image(image_ref))?;
        let id = parse::parse_image_id(&reply.body).map_err(engine)?;
        Ok(PulledImage { id })
    }

    async fn images(&self) -> Result<Vec<ImageInfo>, RuntimeError> {
        let reply = self
            .send(self.request("GET", "/images/json".into()))
            .await?
            .check(RUNTIME, || "the image list".into())?;
        parse::parse_images(&reply.body).map_err(engine)
    }

    async fn remove_image(&self, image_ref: &ImageRef, force: bool) -> Result<(), RuntimeError> {
        let path = path_and_query(
            &format!("/images/{}", percent_encode(image_ref.as_str())),
            &[("force", bool_str(force))],
        );
        self.send(self.request("DELETE", path))
            .await?
            .check(RUNTIME, image(image_ref))
            .map(drop)
    }

    async fn watch(&self) -> Result<EngineEvents, RuntimeError> {
        let (major, minor) = self.api_version().await?;
        let filters = serde_json::json!({
            "type": ["container"],
            "label": [event_lines::managed_label_filter()],
        });
        let path = path_and_query(
            &format!("/v{major}.{minor}/events"),
            &[("filters", filters.to_string())],
        );
        self.api_client.watch(path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(api.api.lock().unwrap().is_none());
    }
}
