//! The `podman-api` runtime: Podman's libpod REST API (v4 or later) over its unix socket.
//!
//! Requests go through the shared blocking client ([`crate::runtime::http_api`]) on
//! `smol`'s blocking pool. The libpod API version is checked from `GET /libpod/version`
//! at first use and cached only after success, so an engine that comes up later is used
//! as soon as it answers. Every create carries the agent's default ulimits as `r_limits`:
//! the libpod API does not apply `containers.conf`'s `default_ulimits`, and Podman's own
//! defaults can exceed a host's hard limits.

mod parse;
mod reply;
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
use reply::check;
use spec::HostSupport;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

const RUNTIME: &str = "podman-api";
/// The path prefix of every libpod call (Podman 4 serves any version it speaks here).
const API_PREFIX: &str = "/v4.0.0/libpod";
/// The oldest libpod API major version accepted.
const MIN_MAJOR: u32 = 4;
/// Podman's stop timeout when none is given.
const DEFAULT_STOP_S: u64 = 10;

/// Podman's libpod API reached over a unix socket (default `/run/podman/podman.sock`;
/// rootless: `$XDG_RUNTIME_DIR/podman/podman.sock`).
#[derive(Debug)]
pub struct PodmanApi {
    /// The socket client; its call timeout is how long one call may take (stop and
    /// restart add their grace period).
    api_client: SocketApi,
    /// Limits every created container gets as `r_limits`.
    ulimits: Vec<Ulimit>,
    /// What the host offers restart policies.
    host: HostSupport,
    /// Podman's version, once the engine answered with a libpod API it speaks.
    checked: Mutex<Option<String>>,
}

fn container(name: &ContainerName) -> impl FnOnce() -> String + '_ {
    move || format!("container '{name}'")
}

fn image(image: &ImageRef) -> impl FnOnce() -> String + '_ {
    move || format!("image '{image}'")
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

/// Whether a pull may skip TLS verification: only for a registry on the loopback
/// interface (a local mirror or test registry, plain HTTP like Docker allows there);
/// every other registry is verified.
fn is_loopback_registry(image: &ImageRef) -> bool {
    let host = encoding::registry_of(image.as_str());
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "localhost" | "[::1]")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl PodmanApi {
    /// An adapter for the libpod API listening on the unix socket at `socket`; one call
    /// may take `call_timeout` (stop and restart add their grace period, a pull may take
    /// longer as long as the engine keeps reporting progress). Nothing is contacted until
    /// the first call.
    pub fn new(socket: impl AsRef<Path>, call_timeout: Duration) -> Self {
        Self {
            api_client: SocketApi::new(
                RUNTIME,
                "is `podman system service` running?",
                socket.as_ref(),
                call_timeout,
            ),
            ulimits: Vec::new(),
            host: HostSupport {
                systemd: crate::runtime::podman_restart::host_runs_systemd(),
            },
            checked: Mutex::new(None),
        }
    }

    /// Gives every container created from now on these limits (`[runtime]
    /// default_ulimits`), as dockerd's `--default-ulimit` does.
    pub fn with_default_ulimits(mut self, ulimits: Vec<Ulimit>) -> Self {
        self.ulimits = ulimits;
        self
    }

    /// A request limited by the call timeout, to a path under the libpod prefix.
    fn request(&self, method: &'static str, path: String) -> Request {
        self.api_client
            .request(method, format!("{API_PREFIX}{path}"))
    }

    /// Sends `req`, checking the engine's version first if it never answered.
    async fn send(&self, req: Request) -> Result<Reply, RuntimeError> {
        let checked = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !checked {
            self.check_version().await?;
        }
        self.api_client.send(req).await
    }

    /// Asks the engine for its version; caches it when the libpod API is new enough.
    async fn check_version(&self) -> Result<String, RuntimeError> {
        let reply = self
            .api_client
            .send(self.request("GET", "/version".into()))
            .await?;
        let reply = check(reply, || "the /libpod/version endpoint".into())?;
        let version = parse::parse_version(&reply.body).map_err(engine)?;
        match version.api_major() {
            Some(major) if major >= MIN_MAJOR => {}
            _ => {
                return Err(RuntimeError::Unsupported {
                    runtime: RUNTIME,
                    what: format!(
                        "libpod API {} (Podman {}); ctrmgr needs libpod API {MIN_MAJOR} or \
                         newer (Podman 4+): upgrade Podman or use the podman CLI runtime",
                        version.api, version.version
                    ),
                })
            }
        }
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = Some(version.version.clone());
        Ok(version.version)
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
            .await?;
        let reply = check(reply, container(name))?;
        parse::parse_inspect(&reply.body).map_err(engine)
    }
}

#[async_trait]
impl Runtime for PodmanApi {
    fn kind(&self) -> RuntimeKind {
        RuntimeKind::PodmanApi
    }

    async fn version(&self) -> Result<String, RuntimeError> {
        self.check_version().await
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let body = spec::create_body(spec, &self.ulimits, self.host).map_err(|what| {
            RuntimeError::Unsupported {
                runtime: RUNTIME,
                what,
            }
        })?;
        let mut req = self.request("POST", "/containers/create".into());
        req.body = Some(body);
        let reply = check(self.send(req).await?, || {
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
            .map_err(|e| {
                engine(format!(
                    "unexpected reply to POST /libpod/containers/create: {e}"
                ))
            })
    }

    async fn start(&self, name: &ContainerName) -> Result<(), RuntimeError> {
        let reply = self.post_container(name, "/start", &[], 0).await?;
        if reply.status != 304 {
            check(reply, container(name))?;
        }
        Ok(())
    }

    async fn stop(&self, name: &ContainerName, timeout_s: Option<u32>) -> Result<(), RuntimeError> {
        let query: Vec<_> = timeout_s
            .map(|t| ("timeout", t.to_string()))
            .into_iter()
            .collect();
        let reply = self
            .post_container(name, "/stop", &query, grace_s(timeout_s))
            .await?;
        if reply.status != 304 {
            check(reply, container(name))?;
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
        let reply = self
            .post_container(name, "/restart", &query, grace_s(timeout_s))
            .await?;
        check(reply, container(name)).map(drop)
    }

    async fn kill(&self, name: &ContainerName, signal: SignalName) -> Result<(), RuntimeError> {
        let reply = self
            .post_container(name, "/kill", &[("signal", signal.to_string())], 0)
            .await?;
        check(reply, container(name)).map(drop)
    }

    async fn remove(&self, name: &ContainerName, force: bool) -> Result<(), RuntimeError> {
        let path = path_and_query(
            &container_path(name, ""),
            &[("force", bool_str(force)), ("v", bool_str(false))],
        );
        let reply = check(
            self.send(self.request("DELETE", path)).await?,
            container(name),
        )?;
        match parse::removal_error(&reply.body) {
            Some(message) => Err(engine(message)),
            None => Ok(()),
        }
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
        let reply = check(self.send(self.request("GET", path)).await?, || {
            "the container list".into()
        })?;
        parse::parse_list(&reply.body).map_err(engine)
    }

    async fn logs(
        &self,
        name: &ContainerName,
        opts: &LogOptions,
    ) -> Result<Vec<String>, RuntimeError> {
        let (_, tty) = self.inspect_with_tty(name).await?;
        let mut query = vec![
            ("stdout", bool_str(true)),
            ("stderr", bool_str(true)),
            ("tail", opts.tail.map_or("all".into(), |n| n.to_string())),
        ];
        if let Some(since) = &opts.since {
            query.push(("since", since.unix_query()));
        }
        let path = path_and_query(&container_path(name, "/logs"), &query);
        let reply = check(self.send(self.request("GET", path)).await?, container(name))?;
        log_lines(&reply.body, tty).map_err(engine)
    }

    async fn stats(&self, name: &ContainerName) -> Result<Stats, RuntimeError> {
        let path = path_and_query(
            "/containers/stats",
            &[
                ("containers", name.to_string()),
                ("stream", bool_str(false)),
            ],
        );
        let reply = check(self.send(self.request("GET", path)).await?, container(name))?;
        parse::parse_stats(&reply.body)
            .map_err(engine)?
            .ok_or_else(|| RuntimeError::NotFound {
                runtime: RUNTIME,
                what: container(name)(),
            })
    }

    async fn pull(
        &self,
        image_ref: &ImageRef,
        auth: Option<&RegistryAuth>,
    ) -> Result<PulledImage, RuntimeError> {
        let mut query = vec![("reference", image_ref.to_string())];
        if is_loopback_registry(image_ref) {
            query.push(("tlsVerify", bool_str(false)));
        }
        let mut req = self.request("POST", path_and_query("/images/pull", &query));
        req.registry_auth = auth.map(|a| encoding::registry_auth_header(image_ref, a));
        req.read = Read::PullProgress;
        let reply = self.send(req).await?;
        http_api::pull_outcome(RUNTIME, image_ref, &reply)?;
        let path = format!("/images/{}/json", percent_encode(image_ref.as_str()));
        let reply = check(
            self.send(self.request("GET", path)).await?,
            image(image_ref),
        )?;
        let id = parse::parse_image_id(&reply.body).map_err(engine)?;
        Ok(PulledImage { id })
    }

    async fn images(&self) -> Result<Vec<ImageInfo>, RuntimeError> {
        let reply = check(
            self.send(self.request("GET", "/images/json".into()))
                .await?,
            || "the image list".into(),
        )?;
        parse::parse_images(&reply.body).map_err(engine)
    }

    async fn remove_image(&self, image_ref: &ImageRef, force: bool) -> Result<(), RuntimeError> {
        let path = path_and_query(
            &format!("/images/{}", percent_encode(image_ref.as_str())),
            &[("force", bool_str(force))],
        );
        let reply = self.send(self.request("DELETE", path)).await?;
        check(reply, image(image_ref)).map(drop)
    }

    async fn watch(&self) -> Result<EngineEvents, RuntimeError> {
        let checked = self
            .checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !checked {
            self.check_version().await?;
        }
        let filters = serde_json::json!({
            "type": ["container"],
            "label": [event_lines::managed_label_filter()],
        });
        let path = path_and_query(
            &format!("{API_PREFIX}/events"),
            &[("stream", bool_str(true)), ("filters", filters.to_string())],
        );
        self.api_client.watch(path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_skipped_only_for_loopback_registries() {
        let loopback = |s: &str| is_loopback_registry(&ImageRef::parse(s).unwrap());
        assert!(loopback("127.0.0.1:5000/ctrmgr-test/busybox:latest"));
        assert!(loopback("localhost:5000/a"));
        assert!(loopback("localhost/a:1"));
        assert!(!loopback("registry.example.com/a:1"));
        assert!(!loopback("registry.example.com:5000/a:1"));
        assert!(!loopback("busybox"));
        assert!(!loopback("127.example.com/a"));
    }

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
        assert!(api.checked.lock().unwrap().is_none());
    }
}
