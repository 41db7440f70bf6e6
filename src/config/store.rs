//! `[store]`: which database keeps the records (LMDB or Redis) and how big it may grow.

use super::check::{in_range, invalid};
use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// Store backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded LMDB (default).
    Lmdb,
    /// Redis.
    Redis,
}

impl std::fmt::Display for StoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreBackend::Lmdb => "lmdb",
            StoreBackend::Redis => "redis",
        })
    }
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
    /// Most MiB the cached replies may take (LMDB: at most a quarter of the map).
    pub reply_cache_max_mb: u64,
    /// Redis URL (`redis://[:password@]host[:port][/db]` or `redis+unix:///path`).
    pub redis_url: String,
    /// Prefix of every Redis key; `{device_id}` becomes `{<device id>}`, a Redis Cluster
    /// hash tag that keeps all keys of a device in one slot.
    pub redis_prefix: String,
    /// Seed nodes of a Redis Cluster (`redis://host:port` each); when set, the Redis
    /// store runs in cluster mode and `redis_url` is unused.
    pub redis_cluster_nodes: Vec<String>,
    /// Replicas that must acknowledge every write (`WAIT`) before the agent answers;
    /// 0 (default): the master's answer is enough.
    pub redis_wait_replicas: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Lmdb,
            path: PathBuf::from("/var/lib/ctrmgr"),
            map_size_mb: 64,
            reply_cache_max_entries: 10_000,
            reply_cache_ttl_s: 86_400,
            reply_cache_max_mb: 16,
            redis_url: "redis://127.0.0.1:6379/0".into(),
            redis_prefix: "ctrmgr:{device_id}:".into(),
            redis_cluster_nodes: Vec::new(),
            redis_wait_replicas: 0,
        }
    }
}

impl StoreConfig {
    /// Checks every key; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("store.map_size_mb", self.map_size_mb, 1..=4096)?;
        if self.map_size_mb > 1024 && cfg!(target_pointer_width = "32") {
            return Err(invalid(
                "store.map_size_mb",
                "more than 1024 MiB cannot be mapped on a 32-bit device",
            ));
        }
        if self.reply_cache_max_entries == 0 {
            return Err(invalid(
                "store.reply_cache_max_entries",
                "must be at least 1",
            ));
        }
        in_range(
            "store.reply_cache_max_mb",
            self.reply_cache_max_mb,
            1..=4096,
        )?;
        self.validate_redis()
    }

    /// `redis_url` and `redis_prefix`, checked (whatever the backend, so a typo is found
    /// before the day the backend is switched).
    fn validate_redis(&self) -> Result<(), ConfigError> {
        let schemes = ["redis://", "redis+unix://", "unix://"];
        let after_scheme = schemes
            .iter()
            .find_map(|s| self.redis_url.strip_prefix(s))
            .ok_or_else(|| {
                invalid(
                    "store.redis_url",
                    // The value is not echoed: it may hold a password.
                    "must start with redis://, redis+unix:// or unix:// \
                     (e.g. redis://127.0.0.1:6379/0)",
                )
            })?;
        if after_scheme.is_empty() || self.redis_url.chars().any(char::is_whitespace) {
            return Err(invalid(
                "store.redis_url",
                "names no host or socket, or holds a space",
            ));
        }
        for (i, node) in self.redis_cluster_nodes.iter().enumerate() {
            let host = node.strip_prefix("redis://").unwrap_or_default();
            if host.is_empty() || node.chars().any(char::is_whitespace) {
                return Err(invalid(
                    "store.redis_cluster_nodes",
                    // The value is not echoed: it may hold a password.
                    format!(
                        "entry {i} must be redis://[:password@]host:port \
                         (e.g. redis://127.0.0.1:7001)"
                    ),
                ));
            }
        }
        in_range(
            "store.redis_wait_replicas",
            self.redis_wait_replicas,
            0..=16,
        )?;
        let prefix = &self.redis_prefix;
        let printable = prefix.chars().all(|c| c.is_ascii_graphic());
        if prefix.is_empty() || prefix.len() > 128 || !printable {
            return Err(invalid(
                "store.redis_prefix",
                format!(
                    "'{prefix}' must be 1-128 printable ASCII characters without spaces \
                     (default ctrmgr:{{device_id}}:)"
                ),
            ));
        }
        Ok(())
    }
}
