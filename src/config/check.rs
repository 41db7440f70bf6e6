//! Checks every config section shares: ranges, name characters, and typed values parsed
//! once while the file is read, each error naming its key.

use super::ConfigError;
use serde::{Deserialize, Deserializer};
use std::fmt::Display;
use std::ops::RangeInclusive;

/// A `ConfigError::Invalid` for `key`.
pub(super) fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: problem.into(),
    }
}

/// `value` lies in `range`, else "`value` is out of range `lo..=hi`".
pub(super) fn in_range<T: PartialOrd + Display>(
    key: &'static str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    let (lo, hi) = range.into_inner();
    Err(invalid(key, format!("{value} is out of range {lo}..={hi}")))
}

/// Whether `value` is at most `max_len` ASCII letters, digits or characters of `extra`
/// (user, group and device names).
pub(super) fn is_name(value: &str, max_len: usize, extra: &str) -> bool {
    value.len() <= max_len
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// Reads a string and turns it into a typed value with `parse`; a failure names `key`
/// (the TOML parser adds the line).
pub(super) fn parsed<'de, D, T, E>(
    d: D,
    key: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: Display,
{
    let text = String::deserialize(d)?;
    parse(&text).map_err(|e| serde::de::Error::custom(format!("{key}: {e}")))
}

/// Like [`parsed`] for a list of strings.
pub(super) fn parsed_list<'de, D, T, E>(
    d: D,
    key: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    E: Display,
{
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|text| parse(text).map_err(|e| serde::de::Error::custom(format!("{key}: {e}"))))
        .collect()
}
