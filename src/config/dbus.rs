//! `[dbus]`: which bus the D-Bus transport joins, its request size limit and its
//! reconnect back-off. Compiled with or without the `dbus` feature, so a config file is
//! valid on every build.

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
}

impl Default for DbusConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bus: "system".into(),
            max_message_bytes: 1024 * 1024,
            reconnect_max_backoff_s: 60,
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
        let invalid = |key: &'static str, problem: String| ConfigError::Invalid { key, problem };
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
        if !(256..=64 * 1024 * 1024).contains(&self.max_message_bytes) {
            return Err(invalid(
                "dbus.max_message_bytes",
                format!("{} is out of range 256..=67108864", self.max_message_bytes),
            ));
        }
        if !(RECONNECT_MIN_BACKOFF_S..=3600).contains(&self.reconnect_max_backoff_s) {
            return Err(invalid(
                "dbus.reconnect_max_backoff_s",
                format!(
                    "{} is out of range {RECONNECT_MIN_BACKOFF_S}..=3600",
                    self.reconnect_max_backoff_s
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
