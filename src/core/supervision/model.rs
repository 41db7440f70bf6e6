//! The supervision parts of the domain model (re-exported by [`crate::core::model`]):
//! a spec's health check, a container's health, and the supervisor's persisted state.

use serde::{Deserialize, Serialize};

/// A health check: exactly one of `cmd`, `http` or `tcp`, with its timing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// Command run in the container through the engine's exec (no shell); healthy when
    /// it exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// HTTP GET from the agent to the container's address; healthy on a 2xx or 3xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// TCP connect from the agent to the container's address; healthy when it connects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    /// Seconds between probes (at least 1).
    #[serde(default = "default_interval_s")]
    pub interval_s: u32,
    /// Seconds one probe may take (at least 1).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u32,
    /// Failed probes in a row that make the container unhealthy (at least 1).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Seconds after a start during which failures do not count.
    #[serde(default)]
    pub start_period_s: u32,
    /// What to do when it becomes unhealthy.
    #[serde(default)]
    pub on_unhealthy: OnUnhealthy,
}

impl HealthSpec {
    /// `interval_s` when absent.
    pub const DEFAULT_INTERVAL_S: u32 = 10;
    /// `timeout_s` when absent.
    pub const DEFAULT_TIMEOUT_S: u32 = 5;
    /// `retries` when absent.
    pub const DEFAULT_RETRIES: u32 = 3;
}

fn default_interval_s() -> u32 {
    HealthSpec::DEFAULT_INTERVAL_S
}

fn default_timeout_s() -> u32 {
    HealthSpec::DEFAULT_TIMEOUT_S
}

fn default_retries() -> u32 {
    HealthSpec::DEFAULT_RETRIES
}

/// An HTTP health probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    /// Port in the container.
    pub port: u16,
    /// Path of the GET (default `/`).
    #[serde(default = "default_http_path")]
    pub path: String,
}

fn default_http_path() -> String {
    "/".to_owned()
}

/// A TCP health probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    /// Port in the container.
    pub port: u16,
}

/// What the agent does with an unhealthy container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnhealthy {
    /// Restart it, within the restart back-off.
    #[default]
    Restart,
    /// Only report it (`unhealthy` event and state).
    None,
}

/// A container's health as the agent's probes found it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No health check, or it is not running.
    #[default]
    None,
    /// Running, no verdict yet.
    Starting,
    /// The last probe passed.
    Healthy,
    /// `retries` probes in a row failed.
    Unhealthy,
}

impl Health {
    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::None => "none",
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// The supervisor's state of one container (its restart back-off), persisted with its
/// record so that an agent restarted by `kill -9` continues it instead of restarting at
/// full speed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Supervision {
    /// Restarts scheduled since the last reset (the delay doubles with each).
    #[serde(default)]
    pub step: u32,
    /// When the next restart is due (Unix milliseconds), while one is scheduled.
    #[serde(default)]
    pub next_restart_ms: Option<u64>,
    /// When the agent or a client last started it (Unix milliseconds).
    #[serde(default)]
    pub last_start_ms: Option<u64>,
    /// When the agent's restarts of the last 600 s were made (Unix milliseconds).
    #[serde(default)]
    pub recent_restarts_ms: Vec<u64>,
    /// The engine's own restart policy is known to be `no` (set at create since the agent
    /// supervises; a record without it is migrated when the agent starts).
    #[serde(default)]
    pub engine_policy_no: bool,
    /// The agent stopped it because its health check failed: it is restarted (within
    /// the back-off) whatever its restart policy says.
    #[serde(default)]
    pub health_restart: bool,
}
