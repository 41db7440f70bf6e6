//! `ConfigError`: why a configuration file cannot be used, naming the key and the problem.

use std::path::PathBuf;

/// Why the configuration could not be used; the message names the key and the problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has unknown keys or wrong types, or a typed value
    /// (runtime, level, ulimit, address, queue name) does not parse.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key and line).
        message: String,
    },
    /// A key has a value outside its range.
    #[error("config key {key}: {problem}")]
    Invalid {
        /// e.g. `store.map_size_mb`.
        key: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
}
