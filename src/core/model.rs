//! The domain types of the contract: what a client asks for (`ContainerSpec`) and what
//! the agent keeps and answers (`Container`, results). Serde gives them the contract's
//! JSON shape, which is also how the stores persist them.

use super::names::{printable, AbsPath, ContainerName, ImageRef};
pub use super::supervision::model::{
    Health, HealthSpec, HttpProbe, OnUnhealthy, Supervision, TcpProbe,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a client asks to create: every field of the contract's ContainerSpec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// Unique name on the device.
    pub name: ContainerName,
    /// Image to run.
    pub image: ImageRef,
    /// Command (arguments after the entrypoint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// Entrypoint override.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    /// Bind mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Restart policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartPolicy>,
    /// Resource limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// User labels (the agent adds `io.ctrmgr.managed=true`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Network mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkMode>,
    /// User (name or uid[:gid]) the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<AbsPath>,
    /// Privileged mode.
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// Host devices passed through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<AbsPath>,
    /// Health check the agent runs (see [`crate::core::supervision`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSpec>,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortMapping {
    /// Port on the host (1-65535).
    pub host: u16,
    /// Port in the container (1-65535).
    pub container: u16,
    /// `tcp` (default) or `udp`.
    #[serde(default)]
    pub protocol: Protocol,
}

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A bind mount of a host path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// Absolute host path.
    pub source: AbsPath,
    /// Absolute path in the container.
    pub target: AbsPath,
    /// Mounted read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// Restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    /// Which policy.
    pub policy: RestartKind,
    /// Retries for `on-failure` (0 = unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
}

/// The engines' restart policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartKind {
    /// Never restart.
    No,
    /// Always restart.
    Always,
    /// Restart when the exit code is not 0.
    OnFailure,
    /// Always, unless stopped by a person.
    UnlessStopped,
}

impl RestartKind {
    /// The engines' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartKind::No => "no",
            RestartKind::Always => "always",
            RestartKind::OnFailure => "on-failure",
            RestartKind::UnlessStopped => "unless-stopped",
        }
    }
}

/// Resource limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Memory limit in bytes (at least 6 MiB, the engines' minimum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// CPU limit in thousandths of a CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_millis: Option<u64>,
    /// Maximum number of processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<u64>,
}

/// Network mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// The engine's default bridge.
    Bridge,
    /// The host's network namespace.
    Host,
    /// No network.
    None,
}

impl NetworkMode {
    /// The engines' spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
        }
    }
}

/// Container state as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Being restarted by the engine.
    Restarting,
    /// Exited (see `exit_code`).
    Exited,
    /// Dead (failed removal, engine error).
    Dead,
    /// The record exists but the engine no longer has the container.
    Missing,
}

impl ContainerState {
    /// Whether `list` without `all` shows it.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        )
    }
}

/// A managed container: the record the store keeps and the result of most ops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// Unique name.
    pub name: ContainerName,
    /// Runtime access path recorded at create.
    pub runtime: RuntimeKind,
    /// The engine's container id.
    pub id: String,
    /// Image reference.
    pub image: ImageRef,
    /// Last known state.
    pub state: ContainerState,
    /// Exit code of the last run, if it exited.
    pub exit_code: Option<i64>,
    /// When the agent created it (RFC 3339, UTC).
    pub created_at: String,
    /// When the record last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// The spec it was created from.
    pub spec: ContainerSpec,
    /// Health as the agent's probes found it.
    #[serde(default)]
    pub health: Health,
    /// Restarts the agent made since the last client start (see
    /// [`crate::core::supervision`]).
    #[serde(default)]
    pub restart_count: u32,
    /// Exit code of the last run that ended (kept across restarts, unlike `exit_code`).
    #[serde(default)]
    pub last_exit_code: Option<i64>,
    /// When the agent or a client last started it (RFC 3339, UTC).
    #[serde(default)]
    pub started_at: Option<String>,
    /// What the last client op asked for; kept by the stores, not part of the wire shape.
    #[serde(skip)]
    pub intent: Intent,
    /// The supervisor's state; kept by the stores, not part of the wire shape.
    #[serde(skip)]
    pub supervision: Supervision,
}

/// What a client last asked a container to be: the reconciler never starts what a
/// person stopped, and stops it again when the engine brings it back by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// Created without start: the agent neither starts nor stops it.
    Created,
    /// Started (create+start, start, restart). Also what a record written before
    /// intents were kept decodes as: the agent then enforces nothing.
    #[default]
    Running,
    /// Stopped or killed by a client: it stays stopped.
    Stopped,
}

/// The four runtime access paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RuntimeKind {
    /// The docker CLI.
    #[serde(rename = "docker")]
    DockerCli,
    /// The Docker Engine API.
    #[serde(rename = "docker-api")]
    DockerApi,
    /// The podman CLI.
    #[serde(rename = "podman")]
    PodmanCli,
    /// The libpod API.
    #[serde(rename = "podman-api")]
    PodmanApi,
}

/// Container engine behind a runtime access path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Docker.
    Docker,
    /// Podman.
    Podman,
}

impl RuntimeKind {
    /// Every access path, in display order.
    pub const ALL: [RuntimeKind; 4] = [
        RuntimeKind::DockerCli,
        RuntimeKind::DockerApi,
        RuntimeKind::PodmanCli,
        RuntimeKind::PodmanApi,
    ];

    /// The contract's name (`docker`, `docker-api`, `podman`, `podman-api`).
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::DockerCli => "docker",
            RuntimeKind::DockerApi => "docker-api",
            RuntimeKind::PodmanCli => "podman",
            RuntimeKind::PodmanApi => "podman-api",
        }
    }

    /// The engine this path reaches.
    pub fn engine(self) -> Engine {
        match self {
            RuntimeKind::DockerCli | RuntimeKind::DockerApi => Engine::Docker,
            RuntimeKind::PodmanCli | RuntimeKind::PodmanApi => Engine::Podman,
        }
    }
}

impl std::fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RuntimeKind {
    type Err = UnknownRuntime;

    /// Parses a contract name.
    fn from_str(s: &str) -> Result<Self, UnknownRuntime> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownRuntime(s.to_owned()))
    }
}

/// A runtime name that is none of the four access paths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{}' is not a runtime (use docker, docker-api, podman or podman-api)", printable(.0))]
pub struct UnknownRuntime(pub String);

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Docker => "Docker",
            Engine::Podman => "Podman",
        })
    }
}

/// Resource usage of a running container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU use in percent of one CPU.
    pub cpu_percent: f64,
    /// Memory in use.
    pub memory_bytes: u64,
    /// Memory limit (the host's memory when unlimited).
    pub memory_limit_bytes: u64,
    /// Number of processes.
    pub pids: u64,
}

/// An image known to an engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// Image id.
    pub id: String,
    /// Repository tags.
    pub tags: Vec<String>,
    /// Size in bytes.
    pub size_bytes: u64,
}

/// Credentials for a registry.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuth {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A runtime's availability, as `info` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeStatus {
    /// Access path name.
    pub name: RuntimeKind,
    /// Whether the engine answered.
    pub available: bool,
    /// The engine's version, when it answered.
    pub version: Option<String>,
}

/// A resource limit applied to every container (`[runtime] default_ulimits`), like
/// dockerd's `--default-ulimit`: e.g. `nofile=1024:20000`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// Limit name as the engines spell it (`nofile`, `nproc`, `core`, ...).
    pub name: String,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// Limit names the engines accept.
pub const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// Why a `name=soft[:hard]` ulimit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UlimitError {
    /// Not `name=soft[:hard]` with numbers.
    #[error("'{}' is not a ulimit such as nofile=1024:20000", printable(.0))]
    Shape(String),
    /// The name is not one the engines know.
    #[error("'{}' is not a ulimit name (one of {})", printable(.0), ULIMIT_NAMES.join(", "))]
    UnknownName(String),
    /// The soft limit is above the hard one.
    #[error("'{}': the soft limit is above the hard limit", printable(.0))]
    SoftAboveHard(String),
}

impl Ulimit {
    /// Parses `name=soft[:hard]` (hard defaults to soft).
    pub fn parse(s: &str) -> Result<Self, UlimitError> {
        let bad = || UlimitError::Shape(s.to_owned());
        let (name, limits) = s.split_once('=').ok_or_else(bad)?;
        if !ULIMIT_NAMES.contains(&name) {
            return Err(UlimitError::UnknownName(name.to_owned()));
        }
        let (soft, hard) = match limits.split_once(':') {
            Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
            None => {
                let v = limits.parse().map_err(|_| bad())?;
                (v, v)
            }
        };
        if soft > hard {
            return Err(UlimitError::SoftAboveHard(s.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            soft,
            hard,
        })
    }
}
