//! `[dbus]`: which bus the D-Bus transport joins, who may call it (on top of the bus
//! policy), its request size limit and its reconnect back-off. Compiled with or without
//! the `dbus` feature, so a config file is valid on every build.

use super::check::{in_range, invalid, is_name};
use super::ConfigError;
use serde::Deserialize;

/// `[dbus]` as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbusConfig {
    /// Serve D-Bus at all.
    pub enabled: bool,
    /// `system` (default; honours `DBUS_SYSTEM_BUS_ADDRESS`), `session` (honours
    /// `DBUS_SESSION_BUS_ADDRESS`) or a D-Bus address such as `unix:path=/run/x/bus`.
    pub bus: String,
    /// Largest request accepted by `Execute` (bytes of the string) and `ExecuteProto`;
    /// bigger ones get a `too_large` reply.
    pub max_message_bytes: usize,
    /// Longest wait between attempts to reach the bus (the wait doubles from 5 s up to
    /// this).
    pub reconnect_max_backoff_s: u64,
    /// Uids admitted besides root (the agent checks the caller after the bus policy).
    pub allowed_uids: Vec<u32>,
    /// Gids admitted: a caller any of whose groups (primary or supplementary) is listed.
    pub allowed_gids: Vec<u32>,
    /// A group (by name) whose members are admitted; empty for none. Resolved at start;
    /// a group that does not exist admits nobody.
    pub allowed_group: String,
}

impl Default for DbusConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bus: "system".into(),
            max_message_bytes: 1024 * 1024,
            reconnect_max_backoff_s: 60,
            allowed_uids: Vec::new(),
            allowed_gids: Vec::new(),
            allowed_group: "ctrmgr".into(),
        }
    }
}

/// The bus a [`DbusConfig`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusChoice<'a> {
    /// The system bus.
    System,
    /// The user's session bus.
    Session,
    /// An explicit D-Bus address.
    Address(&'a str),
}

/// Most entries in `dbus.allowed_uids` or `dbus.allowed_gids`.
const MAX_ALLOWED_IDS: usize = 256;

/// First wait before another attempt to reach the bus, in seconds.
pub const RECONNECT_MIN_BACKOFF_S: u64 = 5;

impl DbusConfig {
    /// The bus to join.
    pub fn bus_choice(&self) -> BusChoice<'_> {
        match self.bus.as_str() {
            "system" => BusChoice::System,
            "session" => BusChoice::Session,
            address => BusChoice::Address(address),
        }
    }

    /// Checks every key; the error names the key and the problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let BusChoice::Address(address) = self.bus_choice() {
            // Transport name, a colon, then key=value pairs: the D-Bus address grammar.
            let transport_ok = address.split_once(':').is_some_and(|(t, _)| {
                !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            });
            if !transport_ok || address.chars().any(char::is_whitespace) {
                return Err(invalid(
                    "dbus.bus",
                    format!(
                        "'{address}' is not \"system\", \"session\" or a D-Bus address such as \
                         unix:path=/run/dbus/system_bus_socket"
                    ),
                ));
            }
        }
        in_range(
            "dbus.max_message_bytes",
            self.max_message_bytes,
            256..=64 * 1024 * 1024,
        )?;
        in_range(
            "dbus.reconnect_max_backoff_s",
            self.reconnect_max_backoff_s,
            RECONNECT_MIN_BACKOFF_S..=3600,
        )?;
        for (key, ids) in [
            ("dbus.allowed_uids", &self.allowed_uids),
            ("dbus.allowed_gids", &self.allowed_gids),
        ] {
            if ids.len() > MAX_ALLOWED_IDS {
                return Err(invalid(
                    key,
                    format!("{} ids is more than {MAX_ALLOWED_IDS}", ids.len()),
                ));
            }
        }
        let group = &self.allowed_group;
        if !is_name(group, 64, "._-$") {
            return Err(invalid(
                "dbus.allowed_group",
                format!(
                    "'{group}' is not a group name (up to 64 of A-Z a-z 0-9 . _ - $; empty for \
                     none)"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> DbusConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_to_the_system_bus() {
        let c = parsed("");
        assert!(c.enabled);
        assert_eq!(c.bus_choice(), BusChoice::System);
        assert_eq!(c.max_message_bytes, 1024 * 1024);
        assert!(c.allowed_uids.is_empty() && c.allowed_gids.is_empty());
        assert_eq!(c.allowed_group, "ctrmgr");
        c.validate().unwrap();
        let c = parsed("allowed_uids = [1000]\nallowed_gids = [27, 44]\nallowed_group = \"\"\n");
        assert_eq!(
            (c.allowed_uids.as_slice(), c.allowed_gids.as_slice()),
            (&[1000][..], &[27, 44][..])
        );
        c.validate().unwrap();
        assert_eq!(
            parsed("bus = \"session\"\n").bus_choice(),
            BusChoice::Session
        );
        let c = parsed("bus = \"unix:path=/tmp/x/bus\"\n");
        assert_eq!(c.bus_choice(), BusChoice::Address("unix:path=/tmp/x/bus"));
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("bus = \"sytem\"\n", "dbus.bus"),
            ("bus = \"unix:path=/a b\"\n", "dbus.bus"),
            ("bus = \":path=/x\"\n", "dbus.bus"),
            ("max_message_bytes = 10\n", "dbus.max_message_bytes"),
            (
                "reconnect_max_backoff_s = 1\n",
                "dbus.reconnect_max_backoff_s",
            ),
            ("allowed_group = \"a b\"\n", "dbus.allowed_group"),
            ("allowed_group = \"x:y\"\n", "dbus.allowed_group"),
            (
                format!("allowed_uids = [{}1]\n", "1, ".repeat(300)).as_str(),
                "dbus.allowed_uids",
            ),
        ] {
            let e = parsed(text).validate().unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = toml::from_str::<DbusConfig>("buss = \"system\"\n").unwrap_err();
        assert!(e.to_string().contains("buss"), "{e}");
    }
}
