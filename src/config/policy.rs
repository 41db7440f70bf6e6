//! `[policy]`: what requests may ask of the engines (see `crate::core::policy`), read as
//! written and validated into the core's `Policy` while the file is read.

use super::check::invalid;
use super::ConfigError;
use crate::core::image_pattern::ImagePattern;
use crate::core::names::AbsPath;
use crate::core::policy::{MountRoot, Policy};
use serde::{Deserialize, Deserializer};

/// `[policy]` as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Image reference prefixes allowed; empty allows any image.
    pub allowed_images: Vec<String>,
    /// Host directories containers may mount.
    pub mount_roots: Vec<MountRootConfig>,
    /// Allow `privileged: true`.
    pub allow_privileged: bool,
    /// Host devices that may be passed through.
    pub allowed_devices: Vec<String>,
    /// Allow `network: host`.
    pub allow_host_network: bool,
    /// Most managed containers.
    pub max_containers: usize,
    /// Largest memory limit (0 = no maximum; when set, every container must set one).
    pub max_memory_bytes: u64,
    /// Largest CPU limit in thousandths of a CPU (0 = no maximum).
    pub max_cpu_millis: u64,
    /// Largest process limit (0 = no maximum).
    pub max_pids: u64,
    /// Most bytes of engine output one `logs` request reads (64 KiB to 64 MiB).
    pub max_log_bytes: u64,
    /// Free bytes the engine's data root must have before a pull (0 = no check).
    pub min_free_bytes: u64,
}

/// One `[[policy.mount_roots]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountRootConfig {
    /// Absolute host directory.
    pub path: String,
    /// Whether mounts below it may be writable (default read-only).
    #[serde(default)]
    pub read_write: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        let d = Policy::default();
        Self {
            allowed_images: Vec::new(),
            mount_roots: Vec::new(),
            allow_privileged: d.allow_privileged,
            allowed_devices: d.allowed_devices,
            allow_host_network: d.allow_host_network,
            max_containers: d.max_containers,
            max_memory_bytes: 0,
            max_cpu_millis: 0,
            max_pids: 0,
            max_log_bytes: d.max_log_bytes,
            min_free_bytes: d.min_free_bytes,
        }
    }
}

/// Reads `[policy]` and validates it into the core's [`Policy`] (the error names the key).
pub(super) fn validated<'de, D: Deserializer<'de>>(d: D) -> Result<Policy, D::Error> {
    PolicyConfig::deserialize(d)?
        .policy()
        .map_err(serde::de::Error::custom)
}

impl PolicyConfig {
    /// The validated policy.
    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let mut mount_roots = Vec::new();
        for root in &self.mount_roots {
            AbsPath::parse(&root.path).map_err(|e| invalid("policy.mount_roots.path", e.0))?;
            mount_roots.push(MountRoot {
                path: root.path.clone(),
                read_write: root.read_write,
            });
        }
        for d in &self.allowed_devices {
            AbsPath::parse(d).map_err(|e| invalid("policy.allowed_devices", e.0))?;
        }
        let allowed_images = self
            .allowed_images
            .iter()
            .map(|entry| {
                ImagePattern::parse(entry).map_err(|e| invalid("policy.allowed_images", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        super::check::in_range(
            "policy.max_log_bytes",
            self.max_log_bytes,
            64 << 10..=64 << 20,
        )?;
        let nonzero = |v: u64| (v > 0).then_some(v);
        Ok(Policy {
            allowed_images,
            mount_roots,
            allow_privileged: self.allow_privileged,
            allowed_devices: self.allowed_devices.clone(),
            allow_host_network: self.allow_host_network,
            max_containers: self.max_containers,
            max_memory_bytes: nonzero(self.max_memory_bytes),
            max_cpu_millis: nonzero(self.max_cpu_millis),
            max_pids: nonzero(self.max_pids),
            max_log_bytes: self.max_log_bytes,
            min_free_bytes: self.min_free_bytes,
        })
    }
}
