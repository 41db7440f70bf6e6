//! `[agent]`: the identity of this device.

use super::check::{invalid, is_name};
use super::ConfigError;
use serde::Deserialize;

/// `[agent]`: identity of this device.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Device id (MQTT topics, Redis prefix); default the hostname.
    pub device_id: Option<String>,
}

impl AgentConfig {
    /// Checks `device_id`: it becomes part of MQTT topics and store keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(id) = &self.device_id {
            if id.is_empty() || !is_name(id, 64, "-_.") {
                return Err(invalid(
                    "agent.device_id",
                    format!(
                        "'{id}' must be 1-64 letters, digits, '-', '_' or '.' \
                         (it becomes part of MQTT topics and store keys)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The device id: configured, else the hostname, else `ctrmgr`.
    pub fn device_id(&self) -> String {
        if let Some(id) = &self.device_id {
            return id.clone();
        }
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "ctrmgr".into())
    }
}
