//! What tells one engine's REST API from the other: the [`Dialect`] an [`EngineApi`]
//! speaks (path prefix and version rule, stop's query key, the create body, the error
//! classifier, stats, pull and event queries).
//!
//! [`EngineApi`]: super::EngineApi

use super::replies::ReplyError;
use crate::core::error::RuntimeError;
use crate::core::model::{ContainerSpec, RuntimeKind, Stats, Ulimit};
use crate::core::names::{ContainerName, ImageRef};
use crate::core::runtime::MANAGED_LABEL;
use crate::runtime::engine_http::EngineReply;
use serde_json::{Map, Value};

/// What the version call settled, cached until the adapter is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// The prefix of every later call, e.g. `/v1.41` or `/v4.0.0/libpod`.
    pub(crate) prefix: String,
    /// The engine's release, e.g. `20.10.24`.
    pub(crate) version: String,
}

/// A create call: its path (without the prefix, with its query) and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CreateCall {
    /// e.g. `/containers/create?name=web`.
    pub(crate) path: String,
    /// The engine's create body.
    pub(crate) body: Value,
}

/// The labels of a created container: the spec's, and the managed label (which the
/// spec cannot override), as both engines' create bodies carry them.
pub(crate) fn create_labels(spec: &ContainerSpec) -> Value {
    let mut labels: Map<String, Value> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    labels.insert(MANAGED_LABEL.to_owned(), Value::from("true"));
    Value::Object(labels)
}

/// A spec with every field set, for the dialects' create body tests: two host ports on
/// one container port, a read-only and a read-write mount.
#[cfg(test)]
pub(crate) fn every_field_spec() -> ContainerSpec {
    serde_json::from_value(serde_json::json!({
        "name": "web",
        "image": "127.0.0.1:5000/nginx:1",
        "cmd": ["-g", "daemon off;"],
        "entrypoint": ["nginx"],
        "env": {"A": "1", "B": "x=y"},
        "ports": [
            {"host": 8080, "container": 80},
            {"host": 8081, "container": 80},
            {"host": 5353, "container": 53, "protocol": "udp"}
        ],
        "mounts": [
            {"source": "/srv/www", "target": "/www", "read_only": true},
            {"source": "/srv/data", "target": "/data"}
        ],
        "restart": {"policy": "on-failure", "max_retries": 3},
        "resources": {"memory_bytes": 67108864, "cpu_millis": 500, "pids_limit": 64},
        "labels": {"app": "web", "io.ctrmgr.managed": "false"},
        "network": "host",
        "user": "1000:1000",
        "workdir": "/www",
        "privileged": true,
        "devices": ["/dev/ttyUSB0"]
    }))
    .expect("a valid spec")
}

/// One engine's REST dialect. Everything else (the calls, the status mapping, start and
/// stop's 304, logs, pulls, images) is the same for both engines and lives in
/// [`super::EngineApi`].
pub(crate) trait Dialect: std::fmt::Debug + Send + Sync + 'static {
    /// The access path.
    const KIND: RuntimeKind;
    /// What to check when the socket does not answer.
    const START_HINT: &'static str;
    /// The full path of the version call, e.g. `/version`.
    const VERSION_PATH: &'static str;
    /// How messages name the API's paths: `""` (Docker) or `"/libpod"`.
    const API_NAME: &'static str;
    /// The query key of stop's timeout (`t` or `timeout`).
    const STOP_TIMEOUT_KEY: &'static str;
    /// Whether `POST /containers/{name}/update` can set the restart policy (Docker; the
    /// libpod API of Podman 4 updates resources only).
    const UPDATES_RESTART_POLICY: bool;
    /// Where the info call's reply names the data root, as a JSON pointer
    /// (`/DockerRootDir`, `/store/graphRoot`).
    const DATA_ROOT_POINTER: &'static str;

    /// Reads the version call's body: the prefix to use, or `Unsupported` for an engine
    /// too old.
    fn negotiate(&self, body: &[u8]) -> Result<Negotiated, RuntimeError>;

    /// The create call for `spec`, every container getting `ulimits`; `Unsupported`
    /// when the engine cannot honour a field.
    fn create(&self, spec: &ContainerSpec, ulimits: &[Ulimit]) -> Result<CreateCall, RuntimeError>;

    /// Ok for 2xx, else the error the reply means; `what` names the subject for a
    /// NotFound. The default maps the status alone.
    fn classify(
        &self,
        reply: EngineReply,
        what: impl FnOnce() -> String,
    ) -> Result<EngineReply, RuntimeError> {
        reply.check(Self::KIND, what)
    }

    /// The failure a 2xx reply to a container removal reports in its body, if any.
    fn removal_error(&self, _body: &[u8]) -> Option<String> {
        None
    }

    /// The path (without the prefix) of one stats sample of `name`.
    fn stats_path(&self, name: &ContainerName) -> String;

    /// One stats sample; `None` when the engine has none for the container.
    fn stats(&self, body: &[u8]) -> Result<Option<Stats>, ReplyError>;

    /// The path (without the prefix) of a pull of `image`.
    fn pull_path(&self, image: &ImageRef) -> String;

    /// The query of the event stream, given its `filters` JSON.
    fn events_query(&self, filters: String) -> Vec<(&'static str, String)>;
}
