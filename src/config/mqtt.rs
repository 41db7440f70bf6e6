//! `[mqtt]`: the broker, identity, topics prefix, groups, credentials, TLS and limits of
//! the MQTT transport. Compiled with or without the `mqtt` feature, so a config file is
//! valid on every build.

use super::check::{in_range, invalid};
use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// `[mqtt]` as written in the config file.
///
/// MQTT runs when `enabled` says so; when `enabled` is not written, it runs exactly when
/// a broker `host` is configured (a fresh device has no broker to talk to).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Serve MQTT; default: whether `host` is set.
    pub enabled: Option<bool>,
    /// Broker host name or IP address.
    pub host: Option<String>,
    /// Broker port; default 8883 with `[mqtt.tls]`, else 1883.
    pub port: Option<u16>,
    /// MQTT client id; default `ctrmgr-<device id>`.
    pub client_id: Option<String>,
    /// First topic level of every topic.
    pub prefix: String,
    /// Groups whose `<prefix>/group/<group>/req` this device answers.
    pub groups: Vec<String>,
    /// Topic prefixes a request's Response Topic may lie under besides `prefix` (the
    /// agent publishes replies there with its own broker identity).
    pub allowed_response_prefixes: Vec<String>,
    /// User name sent to the broker.
    pub username: Option<String>,
    /// Password sent to the broker (prefer `password_file`).
    pub password: Option<String>,
    /// File whose first line is the password.
    pub password_file: Option<PathBuf>,
    /// TLS to the broker; plain TCP when absent.
    pub tls: Option<MqttTlsConfig>,
    /// Keep-alive interval in seconds (5..=65535).
    pub keep_alive_s: u64,
    /// Largest request payload answered; bigger ones get a `too_large` reply.
    pub max_payload_bytes: usize,
    /// Longest wait between reconnect attempts (back-off doubles from 1 s up to this).
    pub reconnect_max_backoff_s: u64,
    /// Seconds the broker keeps this device's session (subscriptions and unacknowledged
    /// requests) after a disconnect; 0 starts a fresh session on every connect.
    pub session_expiry_s: u32,
    /// QoS 0 requests that may wait for a free slot (Receive Maximum does not bound
    /// them); more are dropped unanswered and counted in `/metrics`.
    pub max_queued_qos0: usize,
}

/// `[mqtt.tls]`: server verification by a CA file, optionally a client certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTlsConfig {
    /// PEM file of the CA certificates that may sign the broker's certificate.
    pub ca_file: PathBuf,
    /// PEM client certificate chain (with `key_file`).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate (with `cert_file`).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Name the broker's certificate must carry; default `host`.
    #[serde(default)]
    pub server_name: Option<String>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            host: None,
            port: None,
            client_id: None,
            prefix: "ctrmgr".into(),
            groups: Vec::new(),
            allowed_response_prefixes: Vec::new(),
            username: None,
            password: None,
            password_file: None,
            tls: None,
            keep_alive_s: 30,
            max_payload_bytes: 256 * 1024,
            reconnect_max_backoff_s: 60,
            session_expiry_s: 600,
            max_queued_qos0: 64,
        }
    }
}

/// Most bytes a request payload limit may be set to.
const MAX_PAYLOAD_LIMIT: usize = 16 * 1024 * 1024;

impl MqttConfig {
    /// Whether the MQTT transport should run.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(self.host.is_some())
    }

    /// The broker port, defaulted by whether TLS is on.
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.tls.is_some() { 8883 } else { 1883 })
    }

    /// The MQTT client id for a device.
    pub fn client_id(&self, device_id: &str) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("ctrmgr-{device_id}"))
    }

    /// Checks every key; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled == Some(true) && self.host.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(
                "mqtt.host",
                "must name the broker when mqtt.enabled = true",
            ));
        }
        if let Some(host) = &self.host {
            if host.is_empty() || host.contains(['/', ' ', ':']) {
                return Err(invalid(
                    "mqtt.host",
                    format!(
                        "'{host}' is not a host name or IPv4 address (write the port in \
                         mqtt.port; for IPv6 use a host name)"
                    ),
                ));
            }
        }
        if self.port == Some(0) {
            return Err(invalid("mqtt.port", "0 is not a port"));
        }
        if let Some(id) = &self.client_id {
            if id.is_empty() || id.len() > 128 {
                return Err(invalid("mqtt.client_id", "must be 1-128 bytes long"));
            }
        }
        check_topic_level("mqtt.prefix", &self.prefix, true)?;
        for group in &self.groups {
            check_topic_level("mqtt.groups", group, false)?;
        }
        for prefix in &self.allowed_response_prefixes {
            check_topic_level("mqtt.allowed_response_prefixes", prefix, true)?;
        }
        if self.password.is_some() && self.password_file.is_some() {
            return Err(invalid(
                "mqtt.password_file",
                "set either mqtt.password or mqtt.password_file, not both",
            ));
        }
        if (self.password.is_some() || self.password_file.is_some()) && self.username.is_none() {
            return Err(invalid(
                "mqtt.username",
                "a password is configured, so a username is needed too",
            ));
        }
        if let Some(tls) = &self.tls {
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return Err(invalid(
                    "mqtt.tls.key_file",
                    "mqtt.tls.cert_file and mqtt.tls.key_file go together: set both or neither",
                ));
            }
            if tls.server_name.as_deref() == Some("") {
                return Err(invalid(
                    "mqtt.tls.server_name",
                    "must not be empty (leave it out to use mqtt.host)",
                ));
            }
        }
        in_range("mqtt.keep_alive_s", self.keep_alive_s, 5..=65_535)?;
        in_range("mqtt.max_queued_qos0", self.max_queued_qos0, 1..=65_536)?;
        in_range(
            "mqtt.max_payload_bytes",
            self.max_payload_bytes,
            256..=MAX_PAYLOAD_LIMIT,
        )?;
        in_range(
            "mqtt.reconnect_max_backoff_s",
            self.reconnect_max_backoff_s,
            1..=3600,
        )
    }
}

/// One topic level (or, for the prefix, several): no MQTT wildcards, no empty levels.
fn check_topic_level(key: &'static str, value: &str, may_nest: bool) -> Result<(), ConfigError> {
    let bad_char = |c: char| c == '+' || c == '#' || c == '\0' || (!may_nest && c == '/');
    let empty_level = value.split('/').any(str::is_empty);
    if value.is_empty() || value.len() > 128 || value.contains(bad_char) || empty_level {
        let levels = if may_nest { "levels" } else { "a single level" };
        return Err(invalid(
            key,
            format!(
                "'{value}' must be 1-128 bytes of non-empty MQTT topic {levels} without '+', '#' \
                 or NUL"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> MqttConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_are_off_until_a_host_is_set() {
        let c = MqttConfig::default();
        assert!(!c.is_enabled());
        assert_eq!(c.port(), 1883);
        assert_eq!(c.client_id("gw1"), "ctrmgr-gw1");
        c.validate().unwrap();
        let c = parsed("host = \"broker.local\"\n[tls]\nca_file = \"/ca.pem\"\n");
        assert!(c.is_enabled());
        assert_eq!(c.port(), 8883);
        let c = parsed("host = \"broker.local\"\nenabled = false\n");
        assert!(!c.is_enabled());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("enabled = true\n", "mqtt.host"),
            ("host = \"a:1883\"\n", "mqtt.host"),
            ("port = 0\n", "mqtt.port"),
            ("prefix = \"a/+/b\"\n", "mqtt.prefix"),
            ("prefix = \"a//b\"\n", "mqtt.prefix"),
            ("groups = [\"north/east\"]\n", "mqtt.groups"),
            ("groups = [\"\"]\n", "mqtt.groups"),
            ("password = \"x\"\n", "mqtt.username"),
            (
                "username = \"u\"\npassword = \"x\"\npassword_file = \"/p\"\n",
                "mqtt.password_file",
            ),
            (
                "[tls]\nca_file = \"/ca\"\ncert_file = \"/c\"\n",
                "mqtt.tls.key_file",
            ),
            ("keep_alive_s = 1\n", "mqtt.keep_alive_s"),
            ("max_queued_qos0 = 0\n", "mqtt.max_queued_qos0"),
            ("max_payload_bytes = 10\n", "mqtt.max_payload_bytes"),
            (
                "reconnect_max_backoff_s = 0\n",
                "mqtt.reconnect_max_backoff_s",
            ),
        ] {
            let e = parsed(text).validate().unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn nested_prefix_is_fine() {
        parsed("host = \"broker.example\"\nprefix = \"fleet/eu\"\n")
            .validate()
            .unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<MqttConfig>("hostname = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hostname"), "{e}");
    }
}
