//! The agent's configuration: one TOML file, every key defaulted, unknown keys refused.

pub mod dbus;
pub mod grpc;
pub mod mqtt;
pub mod mqueue;
pub mod policy;

use crate::core::model::{RuntimeKind, Ulimit};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why the configuration could not be used; the message names the key and the problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key and line).
        message: String,
    },
    /// A key has a value outside its range.
    #[error("config key {key}: {problem}")]
    Invalid {
        /// e.g. `store.map_size_mb`.
        key: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[agent]`
    pub agent: AgentConfig,
    /// `[store]`
    pub store: StoreConfig,
    /// `[runtime]`
    pub runtime: RuntimeConfig,
    /// `[rest]`
    pub rest: RestConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[policy]`
    pub policy: policy::PolicyConfig,
    /// `[mqtt]`
    pub mqtt: mqtt::MqttConfig,
    /// `[dbus]`
    pub dbus: dbus::DbusConfig,
    /// `[mqueue]`
    pub mqueue: mqueue::MqueueConfig,
    /// `[grpc]`
    pub grpc: grpc::GrpcConfig,
}

/// `[agent]`: identity of this device.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Device id (MQTT topics, Redis prefix); default the hostname.
    pub device_id: Option<String>,
}

/// Store backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded LMDB (default).
    Lmdb,
    /// Redis.
    Redis,
}

/// `[store]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Which backend.
    pub backend: StoreBackend,
    /// LMDB directory.
    pub path: PathBuf,
    /// LMDB map size in MiB (the most the database can hold). Keep to tens of MiB on
    /// 32-bit armv7, whose address space is small.
    pub map_size_mb: u64,
    /// Most replies kept for idempotency.
    pub reply_cache_max_entries: usize,
    /// Seconds a reply is kept for idempotency.
    pub reply_cache_ttl_s: u64,
    /// Redis URL (`redis://[:password@]host[:port][/db]` or `redis+unix:///path`).
    pub redis_url: String,
    /// Prefix of every Redis key; `{device_id}` becomes `{<device id>}`, a Redis Cluster
    /// hash tag that keeps all keys of a device in one slot.
    pub redis_prefix: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Lmdb,
            path: PathBuf::from("/var/lib/ctrmgr"),
            map_size_mb: 64,
            reply_cache_max_entries: 10_000,
            reply_cache_ttl_s: 86_400,
            redis_url: "redis://127.0.0.1:6379/0".into(),
            redis_prefix: "ctrmgr:{device_id}:".into(),
        }
    }
}

impl StoreConfig {
    /// `redis_url` and `redis_prefix`, checked (whatever the backend, so a typo is found
    /// before the day the backend is switched).
    fn validate_redis(&self) -> Result<(), ConfigError> {
        let schemes = ["redis://", "redis+unix://", "unix://"];
        let after_scheme = schemes
            .iter()
            .find_map(|s| self.redis_url.strip_prefix(s))
            .ok_or_else(|| ConfigError::Invalid {
                key: "store.redis_url",
                // The value is not echoed: it may hold a password.
                problem: "must start with redis://, redis+unix:// or unix:// \
                          (e.g. redis://127.0.0.1:6379/0)"
                    .into(),
            })?;
        if after_scheme.is_empty() || self.redis_url.chars().any(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                key: "store.redis_url",
                problem: "names no host or socket, or holds a space".into(),
            });
        }
        let prefix = &self.redis_prefix;
        let printable = prefix.chars().all(|c| c.is_ascii_graphic());
        if prefix.is_empty() || prefix.len() > 128 || !printable {
            return Err(ConfigError::Invalid {
                key: "store.redis_prefix",
                problem: format!(
                    "'{prefix}' must be 1-128 printable ASCII characters without spaces \
                     (default ctrmgr:{{device_id}}:)"
                ),
            });
        }
        Ok(())
    }
}

/// `[runtime]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Access path used when a request names none (`docker`, `docker-api`, `podman`,
    /// `podman-api`).
    pub default: String,
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
    /// Resource limits applied to every container on every access path, e.g.
    /// `["nofile=1024:20000", "nproc=1024:1024"]` (like dockerd's `--default-ulimit`).
    pub default_ulimits: Vec<String>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            default: "docker-api".into(),
            docker_bin: PathBuf::from("docker"),
            docker_socket: PathBuf::from("/var/run/docker.sock"),
            podman_bin: PathBuf::from("podman"),
            podman_socket: PathBuf::from("/run/podman/podman.sock"),
            call_timeout_s: 120,
            default_ulimits: Vec::new(),
        }
    }
}

impl RuntimeConfig {
    /// `default_ulimits`, parsed.
    pub fn ulimits(&self) -> Result<Vec<Ulimit>, ConfigError> {
        self.default_ulimits
            .iter()
            .map(|u| {
                Ulimit::parse(u).map_err(|problem| ConfigError::Invalid {
                    key: "runtime.default_ulimits",
                    problem,
                })
            })
            .collect()
    }

    /// The default access path, validated.
    pub fn default_kind(&self) -> Result<RuntimeKind, ConfigError> {
        RuntimeKind::parse(&self.default).ok_or_else(|| ConfigError::Invalid {
            key: "runtime.default",
            problem: format!(
                "'{}' is not a runtime (use docker, docker-api, podman or podman-api)",
                self.default
            ),
        })
    }
}

/// `[rest]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Serve REST at all.
    pub enabled: bool,
    /// TCP address.
    pub listen: String,
    /// An extra unix-socket listener.
    pub unix_socket: Option<PathBuf>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Requests handled at once; more wait their turn.
    pub max_in_flight: usize,
    /// Bearer token required on TCP listeners (every route but `/healthz`).
    pub token: Option<String>,
    /// A file holding the token (first line), instead of `token`.
    pub token_file: Option<PathBuf>,
    /// Allow listening beyond loopback without a token (not recommended).
    pub allow_remote_without_token: bool,
    /// Users allowed on the unix socket besides root.
    pub unix_socket_uids: Vec<u32>,
    /// Groups allowed on the unix socket (the caller's primary gid).
    pub unix_socket_gids: Vec<u32>,
    /// Mode of the unix socket file.
    pub unix_socket_mode: u32,
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: "127.0.0.1:7470".into(),
            unix_socket: None,
            max_body_bytes: 1024 * 1024,
            max_in_flight: 64,
            token: None,
            token_file: None,
            allow_remote_without_token: false,
            unix_socket_uids: Vec::new(),
            unix_socket_gids: Vec::new(),
            unix_socket_mode: 0o660,
        }
    }
}

impl RestConfig {
    /// The bearer token from `token` or `token_file`.
    pub fn bearer_token(&self) -> Result<Option<String>, ConfigError> {
        let invalid = |key, problem| ConfigError::Invalid { key, problem };
        let token = match (&self.token, &self.token_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "rest.token_file",
                    "set rest.token or rest.token_file, not both".into(),
                ))
            }
            (Some(t), None) => Some(t.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    invalid(
                        "rest.token_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Some(text.lines().next().unwrap_or_default().trim().to_owned())
            }
            (None, None) => None,
        };
        if let Some(t) = &token {
            if t.len() < 16 || !t.chars().all(|c| c.is_ascii_graphic()) {
                return Err(invalid(
                    "rest.token",
                    "must be at least 16 printable characters without spaces".into(),
                ));
            }
        }
        Ok(token)
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info` or `debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

impl LogConfig {
    /// The level, validated.
    pub fn level_filter(&self) -> Result<log::LevelFilter, ConfigError> {
        match self.level.as_str() {
            "error" => Ok(log::LevelFilter::Error),
            "warn" => Ok(log::LevelFilter::Warn),
            "info" => Ok(log::LevelFilter::Info),
            "debug" => Ok(log::LevelFilter::Debug),
            other => Err(ConfigError::Invalid {
                key: "log.level",
                problem: format!("'{other}' is not a level (use error, warn, info or debug)"),
            }),
        }
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and cross-key rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.runtime.default_kind()?;
        self.runtime.ulimits()?;
        self.policy.policy()?;
        self.mqtt.validate()?;
        self.dbus.validate()?;
        self.mqueue.validate()?;
        self.grpc.validate()?;
        self.log.level_filter()?;
        if let Some(id) = &self.agent.device_id {
            let ok = !id.is_empty()
                && id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                return Err(ConfigError::Invalid {
                    key: "agent.device_id",
                    problem: format!(
                        "'{id}' must be 1-64 letters, digits, '-', '_' or '.' \
                         (it becomes part of MQTT topics and store keys)"
                    ),
                });
            }
        }
        if !(1..=4096).contains(&self.store.map_size_mb) {
            return Err(ConfigError::Invalid {
                key: "store.map_size_mb",
                problem: format!("{} is out of range 1..=4096", self.store.map_size_mb),
            });
        }
        if self.store.map_size_mb > 1024 && cfg!(target_pointer_width = "32") {
            return Err(ConfigError::Invalid {
                key: "store.map_size_mb",
                problem: "more than 1024 MiB cannot be mapped on a 32-bit device".into(),
            });
        }
        if self.store.reply_cache_max_entries == 0 {
            return Err(ConfigError::Invalid {
                key: "store.reply_cache_max_entries",
                problem: "must be at least 1".into(),
            });
        }
        self.store.validate_redis()?;
        if self.runtime.call_timeout_s == 0 {
            return Err(ConfigError::Invalid {
                key: "runtime.call_timeout_s",
                problem: "must be at least 1".into(),
            });
        }
        if self.rest.enabled && self.rest.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid {
                key: "rest.listen",
                problem: format!(
                    "'{}' is not an address such as 127.0.0.1:7470",
                    self.rest.listen
                ),
            });
        }
        if self.rest.enabled {
            let token = self.rest.bearer_token()?;
            let loopback = self
                .rest
                .listen
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_loopback());
            if !loopback && token.is_none() && !self.rest.allow_remote_without_token {
                return Err(ConfigError::Invalid {
                    key: "rest.listen",
                    problem: format!(
                        "{} is reachable beyond this device: set rest.token (or rest.token_file), \
                         or rest.allow_remote_without_token = true to accept that risk",
                        self.rest.listen
                    ),
                });
            }
        }
        if !(1..=4096).contains(&self.rest.max_in_flight) {
            return Err(ConfigError::Invalid {
                key: "rest.max_in_flight",
                problem: format!("{} is out of range 1..=4096", self.rest.max_in_flight),
            });
        }
        if !(256..=64 * 1024 * 1024).contains(&self.rest.max_body_bytes) {
            return Err(ConfigError::Invalid {
                key: "rest.max_body_bytes",
                problem: format!(
                    "{} is out of range 256..=67108864",
                    self.rest.max_body_bytes
                ),
            });
        }
        Ok(())
    }

    /// The Redis key prefix, with `{device_id}` replaced by `{<device id>}`.
    pub fn redis_prefix(&self) -> String {
        self.store
            .redis_prefix
            .replace("{device_id}", &format!("{{{}}}", self.device_id()))
    }

    /// The device id: configured, else the hostname, else `ctrmgr`.
    pub fn device_id(&self) -> String {
        if let Some(id) = &self.agent.device_id {
            return id.clone();
        }
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "ctrmgr".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.store.backend, StoreBackend::Lmdb);
        assert_eq!(c.rest.listen, "127.0.0.1:7470");
        assert_eq!(c.runtime.default_kind().unwrap(), RuntimeKind::DockerApi);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("[store]\nmap_sise_mb = 3\n").unwrap_err().to_string();
        assert!(e.contains("map_sise_mb"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = parse("[store]\nmap_size_mb = \"big\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("map_size_mb"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        for (text, key) in [
            ("[runtime]\ndefault = \"lxc\"\n", "runtime.default"),
            ("[store]\nmap_size_mb = 0\n", "store.map_size_mb"),
            ("[rest]\nlisten = \"nowhere\"\n", "rest.listen"),
            ("[log]\nlevel = \"loud\"\n", "log.level"),
            ("[agent]\ndevice_id = \"a/b\"\n", "agent.device_id"),
            ("[store]\nredis_url = \"http://x\"\n", "store.redis_url"),
            ("[store]\nredis_url = \"redis://\"\n", "store.redis_url"),
            ("[store]\nredis_prefix = \"\"\n", "store.redis_prefix"),
            ("[store]\nredis_prefix = \"a b:\"\n", "store.redis_prefix"),
            ("[rest]\nlisten = \"0.0.0.0:7470\"\n", "rest.listen"),
            ("[rest]\ntoken = \"short\"\n", "rest.token"),
            (
                "[[policy.mount_roots]]\npath = \"data\"\n",
                "policy.mount_roots.path",
            ),
            (
                "[runtime]\ndefault_ulimits = [\"nofile=9:1\"]\n",
                "runtime.default_ulimits",
            ),
            (
                "[runtime]\ndefault_ulimits = [\"files=1\"]\n",
                "runtime.default_ulimits",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn redis_prefix_carries_the_device_id_as_a_hash_tag() {
        let c = parse("[agent]\ndevice_id = \"gw-01\"\n").unwrap();
        assert_eq!(c.store.redis_url, "redis://127.0.0.1:6379/0");
        assert_eq!(c.redis_prefix(), "ctrmgr:{gw-01}:");
        let c = parse(
            "[agent]\ndevice_id = \"gw-01\"\n[store]\nredis_prefix = \"fleet-a:{device_id}:\"\n",
        )
        .unwrap();
        assert_eq!(c.redis_prefix(), "fleet-a:{gw-01}:");
    }

    #[test]
    fn redis_url_password_is_not_echoed() {
        let e = parse("[store]\nredis_url = \"http://:hunter2@h/0\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("store.redis_url") && !e.contains("hunter2"),
            "{e}"
        );
    }

    #[test]
    fn board_configs_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("board-configs");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
        assert!(n >= 5, "expected at least 5 board configs, found {n}");
    }
}
