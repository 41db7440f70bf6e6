//! The agent's configuration: one TOML file, every key defaulted, unknown keys refused.
//! One module per section, each validating itself; typed values (runtime, log level,
//! ulimits, listen address, queue name) are parsed once while the file is read, so the
//! rest of the agent never re-checks them.

pub mod agent;
mod check;
pub mod dbus;
mod error;
pub mod grpc;
pub mod images;
pub mod log;
pub mod mqtt;
pub mod mqueue;
pub mod policy;
#[cfg(any(
    feature = "docker-cli",
    feature = "docker-api",
    feature = "podman-cli",
    feature = "podman-api"
))]
pub mod registry_auth_file;
pub mod rest;
pub mod runtime;
pub mod store;

pub use agent::AgentConfig;
pub use error::ConfigError;
pub use log::{LogConfig, LogLevel};
pub use rest::RestConfig;
pub use runtime::RuntimeConfig;
pub use store::{StoreBackend, StoreConfig};

use crate::core::policy::Policy;
use serde::Deserialize;
use std::path::Path;

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
    /// `[policy]`, validated into the core's policy.
    #[serde(deserialize_with = "policy::validated")]
    pub policy: Policy,
    /// `[mqtt]`
    pub mqtt: mqtt::MqttConfig,
    /// `[images]`
    pub images: images::ImagesConfig,
    /// `[dbus]`
    pub dbus: dbus::DbusConfig,
    /// `[mqueue]`
    pub mqueue: mqueue::MqueueConfig,
    /// `[grpc]`
    pub grpc: grpc::GrpcConfig,
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

    /// Checks every section (each checks its own ranges and cross-key rules; `[policy]`
    /// and the typed values were checked while the file was read).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.agent.validate()?;
        self.store.validate()?;
        self.runtime.validate()?;
        self.rest.validate()?;
        self.mqtt.validate()?;
        self.dbus.validate()?;
        self.mqueue.validate()?;
        self.images.validate()?;
        self.grpc.validate()
    }

    /// The Redis key prefix, with `{device_id}` replaced by `{<device id>}`.
    pub fn redis_prefix(&self) -> String {
        self.store
            .redis_prefix
            .replace("{device_id}", &format!("{{{}}}", self.device_id()))
    }

    /// The device id: configured, else the hostname, else `ctrmgr`.
    pub fn device_id(&self) -> String {
        self.agent.device_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::RuntimeKind;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.store.backend, StoreBackend::Lmdb);
        assert_eq!(c.rest.listen, None);
        assert_eq!(
            c.rest.unix_socket.as_deref(),
            Some(Path::new("/run/ctrmgr/api.sock"))
        );
        assert_eq!(c.runtime.default, RuntimeKind::DockerApi);
        assert_eq!(c.log.level, LogLevel::Info);
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
            (
                "[store]\nredis_cluster_nodes = [\"127.0.0.1:7001\"]\n",
                "store.redis_cluster_nodes",
            ),
            (
                "[store]\nredis_wait_replicas = 99\n",
                "store.redis_wait_replicas",
            ),
            (
                "[store]\nreply_cache_max_mb = 0\n",
                "store.reply_cache_max_mb",
            ),
            (
                "[policy]\nallowed_images = [\"busybox\"]\n",
                "policy.allowed_images",
            ),
            (
                "[policy]\nallowed_images = [\"ctrmgr-test/\"]\n",
                "policy.allowed_images",
            ),
            ("[store]\nredis_prefix = \"a b:\"\n", "store.redis_prefix"),
            ("[rest]\nlisten = \"0.0.0.0:7470\"\n", "rest.listen"),
            ("[rest]\nlisten = \"127.0.0.1:7470\"\n", "rest.token_file"),
            ("[rest]\nallowed_hosts = [\"a b\"]\n", "rest.allowed_hosts"),
            ("[rest]\ntoken = \"short\"\n", "rest.token"),
            ("[rest]\nmax_connections = 0\n", "rest.max_connections"),
            ("[rest]\nidle_timeout_s = 61\n", "rest.idle_timeout_s"),
            ("[rest]\nrequest_timeout_s = 0\n", "rest.request_timeout_s"),
            ("[rest]\nmax_event_streams = 0\n", "rest.max_event_streams"),
            ("[policy]\nmax_log_bytes = 1000\n", "policy.max_log_bytes"),
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
    fn typed_values_say_what_is_wrong() {
        for (text, said) in [
            (
                "[runtime]\ndefault = \"lxc\"\n",
                "runtime.default: 'lxc' is not a runtime",
            ),
            (
                "[log]\nlevel = \"loud\"\n",
                "log.level: 'loud' is not a level",
            ),
            (
                "[rest]\nlisten = \"nowhere\"\n",
                "rest.listen: 'nowhere' is not an address",
            ),
            (
                "[runtime]\ndefault_ulimits = [\"files=1\"]\n",
                "runtime.default_ulimits: 'files' is not a ulimit name",
            ),
            (
                "[mqueue]\nrequest_queue = \"/a/b\"\n",
                "mqueue.request_queue: '/a/b' is not a queue name",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(said) && e.contains("line"), "{text}: {e}");
        }
        let c = parse(
            "[runtime]\ndefault = \"podman\"\ndefault_ulimits = [\"nofile=1024:20000\"]\n\
             [log]\nlevel = \"debug\"\n[rest]\nlisten = \"127.0.0.1:9000\"\n\
             token = \"0123456789abcdef\"\n",
        )
        .unwrap();
        assert_eq!(c.runtime.default, RuntimeKind::PodmanCli);
        assert_eq!(c.runtime.default_ulimits[0].hard, 20_000);
        assert_eq!(c.log.level.filter(), ::log::LevelFilter::Debug);
        assert_eq!(c.rest.listen.map(|a| a.port()), Some(9000));
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
