//! `[grpc]`: the gRPC transport's listeners (a unix socket by default, TCP only with a
//! bearer token), its access rules and limits. Compiled with or without the `grpc`
//! feature, so a config file is valid on every build.

use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// `[grpc]` as written in the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcConfig {
    /// Serve gRPC at all (on by default, on the unix socket only, like REST's).
    pub enabled: bool,
    /// The unix-socket listener; `None` serves TCP only.
    pub unix_socket: Option<PathBuf>,
    /// Mode of the unix socket file.
    pub unix_socket_mode: u32,
    /// Users allowed on the unix socket besides root (checked by SO_PEERCRED).
    pub unix_socket_uids: Vec<u32>,
    /// Groups allowed on the unix socket (any of the caller's groups).
    pub unix_socket_gids: Vec<u32>,
    /// A TCP listener (`host:port`); needs `token_file`.
    pub listen: Option<String>,
    /// The bearer token for TCP callers (first line of the file).
    pub token_file: Option<PathBuf>,
    /// Largest request message; bigger ones are answered `too_large`.
    pub max_message_bytes: usize,
    /// Calls (Execute and open Watch streams) served at once; more get RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            unix_socket: Some(PathBuf::from("/run/ctrmgr/grpc.sock")),
            unix_socket_mode: 0o660,
            unix_socket_uids: Vec::new(),
            unix_socket_gids: Vec::new(),
            listen: None,
            token_file: None,
            max_message_bytes: 1024 * 1024,
            max_in_flight: 64,
        }
    }
}

impl GrpcConfig {
    /// Checks every key; the error names the key. Reads the token file, so a TCP
    /// listener without a usable token fails at start.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: String| Err(ConfigError::Invalid { key, problem });
        if !self.enabled {
            return Ok(());
        }
        if self.unix_socket.is_none() && self.listen.is_none() {
            return invalid(
                "grpc.unix_socket",
                "set grpc.unix_socket or grpc.listen (or grpc.enabled = false)".into(),
            );
        }
        if let Some(listen) = &self.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                return invalid(
                    "grpc.listen",
                    format!("'{listen}' is not an address like 127.0.0.1:7471"),
                );
            }
            if self.token_file.is_none() {
                return invalid(
                    "grpc.listen",
                    "a TCP listener needs grpc.token_file (callers send 'authorization: Bearer <token>')".into(),
                );
            }
            self.bearer_token()?;
        }
        if !(1..=4096).contains(&self.max_in_flight) {
            return invalid(
                "grpc.max_in_flight",
                format!("{} is out of range 1..=4096", self.max_in_flight),
            );
        }
        if !(256..=64 * 1024 * 1024).contains(&self.max_message_bytes) {
            return invalid(
                "grpc.max_message_bytes",
                format!("{} is out of range 256..=67108864", self.max_message_bytes),
            );
        }
        if self.unix_socket_mode > 0o777 {
            return invalid(
                "grpc.unix_socket_mode",
                format!(
                    "{:o} is not a permission mode (0..=0o777)",
                    self.unix_socket_mode
                ),
            );
        }
        Ok(())
    }

    /// The token from `token_file` (its first line, trimmed), `None` without a file.
    pub fn bearer_token(&self) -> Result<Option<String>, ConfigError> {
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        let invalid = |problem| ConfigError::Invalid {
            key: "grpc.token_file",
            problem,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        let token = text.lines().next().unwrap_or_default().trim().to_owned();
        if token.len() < 16 || !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(invalid(format!(
                "the token in {} must be at least 16 printable characters without spaces",
                path.display()
            )));
        }
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_unix_socket_only() {
        let c = GrpcConfig::default();
        assert!(c.enabled && c.listen.is_none());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn tcp_needs_a_readable_token() {
        let tcp = GrpcConfig {
            listen: Some("127.0.0.1:7471".into()),
            ..GrpcConfig::default()
        };
        let err = tcp.validate().unwrap_err().to_string();
        assert!(
            err.contains("grpc.listen") && err.contains("token_file"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "abc\n").unwrap();
        let with_short = GrpcConfig {
            token_file: Some(short),
            ..tcp.clone()
        };
        let err = with_short.validate().unwrap_err().to_string();
        assert!(err.contains("grpc.token_file"), "{err}");
        let good = dir.path().join("good");
        std::fs::write(&good, "0123456789abcdef0123\n").unwrap();
        let with_good = GrpcConfig {
            token_file: Some(good),
            ..tcp
        };
        assert!(with_good.validate().is_ok());
        assert_eq!(
            with_good.bearer_token().unwrap().as_deref(),
            Some("0123456789abcdef0123")
        );
    }

    #[test]
    fn refuses_bad_ranges() {
        for (c, key) in [
            (
                GrpcConfig {
                    max_in_flight: 0,
                    ..GrpcConfig::default()
                },
                "grpc.max_in_flight",
            ),
            (
                GrpcConfig {
                    max_message_bytes: 10,
                    ..GrpcConfig::default()
                },
                "grpc.max_message_bytes",
            ),
            (
                GrpcConfig {
                    unix_socket: None,
                    ..GrpcConfig::default()
                },
                "grpc.unix_socket",
            ),
            (
                GrpcConfig {
                    listen: Some("nowhere".into()),
                    ..GrpcConfig::default()
                },
                "grpc.listen",
            ),
        ] {
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
