//! `[log]`: how much the agent logs.

use super::check::parsed;
use serde::{Deserialize, Deserializer};

/// The levels the agent offers (`log`'s `trace` and `off` are not among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default: start-up, reconcile summaries, transports coming and going.
    Info,
    /// Every request and engine event.
    Debug,
}

/// A level name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{}' is not a level (use error, warn, info or debug)", crate::core::names::printable(.0))]
pub struct UnknownLevel(pub String);

impl std::str::FromStr for LogLevel {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, UnknownLevel> {
        match s {
            "error" => Ok(LogLevel::Error),
            "warn" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            other => Err(UnknownLevel(other.to_owned())),
        }
    }
}

impl LogLevel {
    /// The `log` crate's filter for this level.
    pub fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `error`, `warn`, `info` or `debug`.
    #[serde(deserialize_with = "level")]
    pub level: LogLevel,
}

fn level<'de, D: Deserializer<'de>>(d: D) -> Result<LogLevel, D::Error> {
    parsed(d, "log.level", str::parse::<LogLevel>)
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
        }
    }
}
