//! `[runtime]`: the engines' binaries and sockets, the default access path, call
//! timeouts and the ulimits every container gets.

use super::check::{invalid, parsed, parsed_list};
use super::ConfigError;
use crate::core::model::{RuntimeKind, Ulimit};
use crate::core::registry_credentials::RegistryCredentials;
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;

/// `[runtime]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Access path used when a request names none (`docker`, `docker-api`, `podman`,
    /// `podman-api`).
    #[serde(deserialize_with = "default_kind")]
    pub default: RuntimeKind,
    /// docker CLI binary.
    pub docker_bin: PathBuf,
    /// Docker Engine API socket.
    pub docker_socket: PathBuf,
    /// podman CLI binary.
    pub podman_bin: PathBuf,
    /// libpod API socket.
    pub podman_socket: PathBuf,
    /// Seconds an engine call may take (pulls get ten times this).
    pub call_timeout_s: u64,
    /// Seconds between full reconciles of an engine while its event stream is open
    /// (events the engine never sent are caught within this interval).
    pub resync_interval_s: u64,
    /// Resource limits applied to every container on every access path, written
    /// `["nofile=1024:20000", "nproc=1024:1024"]` (like dockerd's `--default-ulimit`).
    #[serde(deserialize_with = "default_ulimits")]
    pub default_ulimits: Vec<Ulimit>,
    /// Registry credentials in Docker's `config.json` format, used for pulls whose
    /// request carries no `auth`.
    pub registry_auth_file: Option<PathBuf>,
}

fn default_kind<'de, D: Deserializer<'de>>(d: D) -> Result<RuntimeKind, D::Error> {
    parsed(d, "runtime.default", str::parse::<RuntimeKind>)
}

fn default_ulimits<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Ulimit>, D::Error> {
    parsed_list(d, "runtime.default_ulimits", Ulimit::parse)
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            default: RuntimeKind::DockerApi,
            docker_bin: PathBuf::from("docker"),
            docker_socket: PathBuf::from("/var/run/docker.sock"),
            podman_bin: PathBuf::from("podman"),
            podman_socket: PathBuf::from("/run/podman/podman.sock"),
            call_timeout_s: 120,
            resync_interval_s: 300,
            default_ulimits: Vec::new(),
            registry_auth_file: None,
        }
    }
}

impl RuntimeConfig {
    /// Checks the keys the types do not: `call_timeout_s`, `resync_interval_s`, and that
    /// `registry_auth_file` can be read (see [`Self::registry_credentials`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.call_timeout_s == 0 {
            return Err(invalid("runtime.call_timeout_s", "must be at least 1"));
        }
        if self.resync_interval_s == 0 {
            return Err(invalid("runtime.resync_interval_s", "must be at least 1"));
        }
        self.registry_credentials().map(drop)
    }

    /// The credentials of `registry_auth_file`; none without the key.
    pub fn registry_credentials(&self) -> Result<RegistryCredentials, ConfigError> {
        match &self.registry_auth_file {
            None => Ok(RegistryCredentials::default()),
            #[cfg(any(
                feature = "docker-cli",
                feature = "docker-api",
                feature = "podman-cli",
                feature = "podman-api"
            ))]
            Some(path) => super::registry_auth_file::read(path),
            #[cfg(not(any(
                feature = "docker-cli",
                feature = "docker-api",
                feature = "podman-cli",
                feature = "podman-api"
            )))]
            Some(_) => Err(invalid(
                "runtime.registry_auth_file",
                "this agent is built without any runtime to pull with",
            )),
        }
    }
}
