//! `[mqueue]`: the request queue of the POSIX message queue transport (name, mode, group,
//! size). Compiled with or without the `mqueue` feature, so a config file is valid on
//! every build.

use super::check::{in_range, invalid, is_name, parsed};
use super::ConfigError;
use crate::core::queue_name::QueueName;
use serde::{Deserialize, Deserializer};

/// `[mqueue]` as written in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqueueConfig {
    /// Serve the request queue at all.
    pub enabled: bool,
    /// Name of the request queue the agent creates, e.g. `/ctrmgr.req`.
    #[serde(deserialize_with = "request_queue")]
    pub request_queue: QueueName,
    /// Permission bits of the request queue (applied exactly, whatever the umask).
    pub mode: u32,
    /// Group the request queue is given, so its members may send requests.
    pub group: Option<String>,
    /// Messages the request queue holds (`mq_maxmsg`); senders wait or get EAGAIN
    /// beyond it. Unprivileged agents are limited by `fs.mqueue.msg_max` (10).
    pub max_messages: u32,
    /// Largest request in bytes (`mq_msgsize`); the kernel refuses bigger messages at
    /// `mq_send`. Unprivileged agents are limited by `fs.mqueue.msgsize_max` (8192).
    pub message_size: u32,
}

fn request_queue<'de, D: Deserializer<'de>>(d: D) -> Result<QueueName, D::Error> {
    parsed(d, "mqueue.request_queue", |s: &str| {
        QueueName::parse(s).map_err(|e| format!("{e}; the default is /ctrmgr.req"))
    })
}

impl Default for MqueueConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            request_queue: QueueName::parse("/ctrmgr.req")
                .expect("the default queue name is valid"),
            mode: 0o660,
            group: None,
            max_messages: 10,
            message_size: 8192,
        }
    }
}

/// Most messages a queue may hold (the kernel's `HARD_MSGMAX`).
const MAX_MESSAGES_LIMIT: u32 = 65_536;
/// Smallest request queue message size accepted: room for a small envelope.
pub const MIN_MESSAGE_SIZE: u32 = 128;
/// Largest message size (the kernel's `HARD_MSGSIZEMAX`, 16 MiB).
const MAX_MESSAGE_SIZE: u32 = 16 * 1024 * 1024;

impl MqueueConfig {
    /// Checks every key; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.mode > 0o777 {
            return Err(invalid(
                "mqueue.mode",
                format!(
                    "{:#o} has bits beyond the permission bits (at most 0o777)",
                    self.mode
                ),
            ));
        }
        if self.mode & 0o400 == 0 {
            return Err(invalid(
                "mqueue.mode",
                format!(
                    "{:#o} does not let the owner (the agent) read its own queue",
                    self.mode
                ),
            ));
        }
        if let Some(group) = &self.group {
            if group.is_empty() || !is_name(group, 32, "._-") {
                return Err(invalid(
                    "mqueue.group",
                    format!(
                        "'{}' is not a group name (1-32 letters, digits, '.', '_' or '-')",
                        group.escape_default()
                    ),
                ));
            }
        }
        in_range(
            "mqueue.max_messages",
            self.max_messages,
            1..=MAX_MESSAGES_LIMIT,
        )?;
        in_range(
            "mqueue.message_size",
            self.message_size,
            MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MqueueConfig, ConfigError> {
        let config: MqueueConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: "test.toml".into(),
            message: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = parse("").unwrap();
        assert_eq!(c.request_queue.as_str(), "/ctrmgr.req");
        assert_eq!(c.mode, 0o660);
        assert!(c.enabled && c.group.is_none());
        assert_eq!((c.max_messages, c.message_size), (10, 8192));
    }

    #[test]
    fn bad_values_are_named() {
        for (text, key) in [
            ("request_queue = \"ctrmgr.req\"", "mqueue.request_queue"),
            ("request_queue = \"/a/b\"", "mqueue.request_queue"),
            ("request_queue = \"/\"", "mqueue.request_queue"),
            ("mode = 0o1777", "mqueue.mode"),
            ("mode = 0o220", "mqueue.mode"),
            ("group = \"a b\"", "mqueue.group"),
            ("group = \"\"", "mqueue.group"),
            ("max_messages = 0", "mqueue.max_messages"),
            ("max_messages = 70000", "mqueue.max_messages"),
            ("message_size = 16", "mqueue.message_size"),
            ("message_size = 20000000", "mqueue.message_size"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        let e = parse("queue = \"/x\"").unwrap_err().to_string();
        assert!(e.contains("queue"), "{e}");
    }
}
