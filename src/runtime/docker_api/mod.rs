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
use crate::core::model::{ContainerSpec, ImageInfo, RegistryAuth, RuntimeKind, Stats};
use crate::core::names::{ContainerName, ImageRef, SignalName};
use crate::core::runtime::{EngineContainer, LogOptions, PulledImage, Runtime, MANAGED_LABEL};
use crate::runtime::unix_socket::unix_socket_agent;
use async_trait::async_trait;
use encode::{path_and_query, percent_encode};
use parse::{ApiVersion, EngineVersion};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

const RUNTIME: &str = "docker-api";
/// The oldest API version accepted (Docker 20.10).
const MIN_API: ApiVersion = (1, 41);
/// The newest API version this adapter is written against.
const MAX_API: ApiVersion = (1, 41);
/// The largest reply body read into memory (logs without `tail` are the big ones).
const BODY_LIMIT: u64 = 32 * 1024 * 1024;

/// Docker's stop timeout when none is given.
const DEFAULT_STOP_S: u64 = 10;

/// The Docker Engine API reached over a unix socket (default `/var/run/docker.sock`).
#[derive(Debug)]
pub struct DockerApi {
    socket: PathBuf,
    agent: ureq::Agent,
    /// How long one call may take (stop and restart add their grace period).
    call_timeout: Duration,
    /// The API version negotiated with the engine, once it answered.
    api: Mutex<Option<ApiVersion>>,
}

/// How to read a reply body.
#[derive(Debug, Clone, Copy)]
enum Read {
    /// All of it, up to [`BODY_LIMIT`].
    Full,
    /// A pull's JSON progress stream, line by line, keeping only the first error.
    PullProgress,
}

/// One request, the path without the version prefix.
#[derive(Debug)]
struct Request {
    method: &'static str,
    path: String,
    body: Option<serde_json::Value>,
    registry_auth: Option<String>,
    read: Read,
    /// Limit on the whole call, or for a pull (which may run long) on each read.
    timeout: Duration,
}

impl Request {
    fn new(method: &'static str, path: String, timeout: Duration) -> Self {
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
struct Reply {
    status: u16,
    body: Vec<u8>,
    stream_error: Option<String>,
}

impl Reply {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn message(&self) -> String {
        parse::error_message(self.status, &self.body)
    }

    /// Ok for 2xx; otherwise NotFound (naming `what`), Conflict or Engine.
    fn check(self, what: impl FnOnce() -> String) -> Result<Reply, RuntimeError> {
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

fn engine(message: String) -> RuntimeError {
    RuntimeError::Engine {
        runtime: RUNTIME,
        message,
    }
}

fn container(name: &ContainerName) -> impl FnOnce() -> String + '_ {
    move || format!("container '{name}'")
}

fn image(image: &ImageRef) -> impl FnOnce() -> String + '_ {
    move || format!("image '{image}'")
}

/// `/containers/NAME` plus `rest`.
fn container_path(name: &ContainerName, rest: &str) -> String {
    format!("/containers/{}{rest}", percent_encode(name.as_str()))
}

impl DockerApi {
    /// An adapter for the engine listening on the unix socket at `socket`; one call may
    /// take `call_timeout` (stop and restart add their grace period, a pull may take
    /// longer as long as the engine keeps reporting progress). Nothing is contacted until
    /// the first call.
    pub fn new(socket: impl AsRef<Path>, call_timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build();
        Self {
            socket: socket.as_ref().to_owned(),
            agent: unix_socket_agent(socket.as_ref(), config),
            call_timeout,
            api: Mutex::new(None),
        }
    }

    /// A request limited by the call timeout.
    fn request(&self, method: &'static str, path: String) -> Request {
        Request::new(method, path, self.call_timeout)
    }

    /// Sends `req` to `path` exactly as given (no version prefix).
    async fn send_raw(&self, req: Request) -> Result<Reply, RuntimeError> {
        let agent = self.agent.clone();
        let socket = self.socket.clone();
        smol::unblock(move || exchange(&agent, &req).map_err(|e| transport_error(&socket, e))).await
    }

    /// Sends `req` under the negotiated `/vX.Y` prefix.
    async fn send(&self, mut req: Request) -> Result<Reply, RuntimeError> {
        let cached = *self.api.lock().unwrap_or_else(|e| e.into_inner());
        let (major, minor) = match cached {
            Some(v) => v,
            None => self.negotiate().await?.0,
        };
        req.path = format!("/v{major}.{minor}{}", req.path);
        self.send_raw(req).await
    }

    /// Asks the engine for its version and caches the API version to use.
    async fn negotiate(&self) -> Result<(ApiVersion, EngineVersion), RuntimeError> {
        let reply = self
            .send_raw(self.request("GET", "/version".into()))
            .await?
            .check(|| "the /version endpoint".into())?;
        let version = parse::parse_version(&reply.body).map_err(engine)?;
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
        let api = version.api.min(MAX_API);
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
            .check(container(name))?;
        parse::parse_inspect(&reply.body).map_err(engine)
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
fn transport_error(socket: &Path, e: ureq::Error) -> RuntimeError {
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

/// How long a stop may wait for the container before the engine kills it.
fn grace_s(timeout_s: Option<u32>) -> u64 {
    timeout_s.map_or(DEFAULT_STOP_S, u64::from)
}

fn bool_str(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
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
        req.body = Some(spec::create_body(spec));
        let reply = self.send(req).await?.check(|| {
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
            reply.check(container(name))?;
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
            reply.check(container(name))?;
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
            .check(container(name))
            .map(drop)
    }

    async fn kill(&self, name: &ContainerName, signal: SignalName) -> Result<(), RuntimeError> {
        self.post_container(name, "/kill", &[("signal", signal.to_string())], 0)
            .await?
            .check(container(name))
            .map(drop)
    }

    async fn remove(&self, name: &ContainerName, force: bool) -> Result<(), RuntimeError> {
        let path = path_and_query(
            &container_path(name, ""),
            &[("force", bool_str(force)), ("v", bool_str(false))],
        );
        self.send(self.request("DELETE", path))
            .await?
            .check(container(name))
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
            .check(|| "the container list".into())?;
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
            let unix = encode::rfc3339_to_unix(since).ok_or_else(|| {
                engine(format!(
                    "since '{}' is not an RFC 3339 time after 1970 (e.g. 2026-11-29T10:00:00Z)",
                    crate::core::names::printable(since)
                ))
            })?;
            query.push(("since", unix));
        }
        let path = path_and_query(&container_path(name, "/logs"), &query);
        let reply = self
            .send(self.request("GET", path))
            .await?
            .check(container(name))?;
        parse::log_lines(&reply.body, tty).map_err(engine)
    }

    async fn stats(&self, name: &ContainerName) -> Result<Stats, RuntimeError> {
        let path = path_and_query(
            &container_path(name, "/stats"),
            &[("stream", bool_str(false))],
        );
        let reply = self
            .send(self.request("GET", path))
            .await?
            .check(container(name))?;
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
        req.registry_auth = auth.map(|a| encode::registry_auth_header(image_ref, a));
        req.read = Read::PullProgress;
        let reply = self.send(req).await?;
        let failure = match (&reply.stream_error, reply.is_success()) {
            (Some(message), _) => Some(message.clone()),
            (None, false) => Some(reply.message()),
            (None, true) => None,
        };
        if let Some(message) = failure {
            return Err(
                if reply.status == 404 || parse::is_missing_image(&message) {
                    RuntimeError::NotFound {
                        runtime: RUNTIME,
                        what: format!("image '{image_ref}' ({message})"),
                    }
                } else {
                    engine(format!("pulling '{image_ref}': {message}"))
                },
            );
        }
        let path = format!("/images/{}/json", percent_encode(image_ref.as_str()));
        let reply = self
            .send(self.request("GET", path))
            .await?
            .check(image(image_ref))?;
        let id = parse::parse_image_id(&reply.body).map_err(engine)?;
        Ok(PulledImage { id })
    }

    async fn images(&self) -> Result<Vec<ImageInfo>, RuntimeError> {
        let reply = self
            .send(self.request("GET", "/images/json".into()))
            .await?
            .check(|| "the image list".into())?;
        parse::parse_images(&reply.body).map_err(engine)
    }

    async fn remove_image(&self, image_ref: &ImageRef, force: bool) -> Result<(), RuntimeError> {
        let path = path_and_query(
            &format!("/images/{}", percent_encode(image_ref.as_str())),
            &[("force", bool_str(force))],
        );
        self.send(self.request("DELETE", path))
            .await?
            .check(image(image_ref))
            .map(drop)
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
        let web = ContainerName::parse("web").unwrap();
        assert!(reply(204, "").check(container(&web)).is_ok());
        assert_eq!(
            reply(404, r#"{"message":"No such container: web"}"#)
                .check(container(&web))
                .unwrap_err()
                .to_string(),
            "container 'web' not found in docker-api"
        );
        assert_eq!(
            reply(409, r#"{"message":"name in use"}"#).check(container(&web)),
            Err(RuntimeError::Conflict {
                runtime: RUNTIME,
                message: "name in use".into()
            })
        );
        assert_eq!(
            reply(500, r#"{"message":"boom"}"#).check(container(&web)),
            Err(engine("boom".into()))
        );
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
