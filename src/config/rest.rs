//! `[rest]`: the REST listeners (a unix socket by default, TCP only with a bearer token),
//! who may call them (socket uids, gids and group; the token and `Host` names on TCP) and
//! their limits.

use super::check::{in_range, invalid, parsed};
use super::ConfigError;
use crate::core::names::printable;
use serde::{Deserialize, Deserializer};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `[rest]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestConfig {
    /// Serve REST at all.
    pub enabled: bool,
    /// A TCP listener, e.g. `127.0.0.1:7470`; needs `token` or `token_file`.
    #[serde(deserialize_with = "listen")]
    pub listen: Option<SocketAddr>,
    /// The unix-socket listener (default `/run/ctrmgr/api.sock`).
    pub unix_socket: Option<PathBuf>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Requests handled at once; more wait their turn (taken once the body is read).
    pub max_in_flight: usize,
    /// Open connections at once; a new one evicts the longest-idle keep-alive
    /// connection, else it is refused with 503.
    pub max_connections: usize,
    /// Seconds a connection may wait between requests (and before its first) without
    /// sending a byte; at most 60 (the HTTP library's own header limit).
    pub idle_timeout_s: u64,
    /// Seconds a request's head and body may take to arrive, from its first byte; a
    /// slower client is disconnected.
    pub request_timeout_s: u64,
    /// `GET /v1/events` streams open at once (their own pool, apart from
    /// `max_in_flight`); one more is answered 503.
    pub max_event_streams: usize,
    /// Bearer token required on the TCP listener (every route but `/healthz`).
    pub token: Option<String>,
    /// A file holding the token (first line), instead of `token`.
    pub token_file: Option<PathBuf>,
    /// `Host` names accepted on TCP besides the listen address and `localhost`.
    pub allowed_hosts: Vec<String>,
    /// Users allowed on the unix socket besides root.
    pub unix_socket_uids: Vec<u32>,
    /// Groups allowed on the unix socket (any of the caller's groups).
    pub unix_socket_gids: Vec<u32>,
    /// The group that owns the socket file and may call, when it exists (`""`: none).
    pub unix_socket_group: String,
    /// Mode of the unix socket file.
    pub unix_socket_mode: u32,
}

fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    parsed(d, "rest.listen", |s: &str| {
        s.parse::<SocketAddr>().map(Some).map_err(|_| {
            format!(
                "'{}' is not an address such as 127.0.0.1:7470",
                printable(s)
            )
        })
    })
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: None,
            unix_socket: Some(PathBuf::from("/run/ctrmgr/api.sock")),
            max_body_bytes: 1024 * 1024,
            max_in_flight: 64,
            max_connections: 256,
            idle_timeout_s: 30,
            request_timeout_s: 30,
            max_event_streams: 16,
            token: None,
            token_file: None,
            allowed_hosts: Vec::new(),
            unix_socket_uids: Vec::new(),
            unix_socket_gids: Vec::new(),
            unix_socket_group: "ctrmgr".into(),
            unix_socket_mode: 0o660,
        }
    }
}

impl RestConfig {
    /// Checks every key; the error names the key. A TCP listener, loopback included,
    /// needs a token: every local user can reach loopback.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled {
            let token = self.bearer_token()?;
            if self.unix_socket.is_none() && self.listen.is_none() {
                return Err(invalid(
                    "rest.unix_socket",
                    "set rest.unix_socket or rest.listen (or rest.enabled = false)",
                ));
            }
            if let (Some(addr), None) = (self.listen, &token) {
                return Err(invalid(
                    "rest.listen",
                    format!(
                        "a TCP listener ({addr}) needs rest.token_file (or rest.token): every \
                         local user can reach it, loopback included; the unix socket \
                         (rest.unix_socket) needs no token"
                    ),
                ));
            }
        }
        for host in &self.allowed_hosts {
            if host.is_empty() || !host.chars().all(|c| c.is_ascii_graphic()) {
                return Err(invalid(
                    "rest.allowed_hosts",
                    format!("'{}' is not a host name", printable(host)),
                ));
            }
        }
        if self.unix_socket_mode > 0o777 {
            return Err(invalid(
                "rest.unix_socket_mode",
                format!(
                    "{:o} is not a permission mode (0..=0o777)",
                    self.unix_socket_mode
                ),
            ));
        }
        in_range("rest.max_in_flight", self.max_in_flight, 1..=4096)?;
        in_range("rest.max_connections", self.max_connections, 1..=65536)?;
        in_range("rest.idle_timeout_s", self.idle_timeout_s, 1..=60)?;
        in_range("rest.request_timeout_s", self.request_timeout_s, 1..=3600)?;
        in_range("rest.max_event_streams", self.max_event_streams, 1..=4096)?;
        in_range(
            "rest.max_body_bytes",
            self.max_body_bytes,
            256..=64 * 1024 * 1024,
        )
    }

    /// The bearer token from `token` or `token_file`.
    pub fn bearer_token(&self) -> Result<Option<String>, ConfigError> {
        let token = match (&self.token, &self.token_file) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "rest.token_file",
                    "set rest.token or rest.token_file, not both",
                ))
            }
            (Some(t), None) => Some(t.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    invalid(
                        "rest.token_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Some(text.lines().next().unwrap_or_default().trim().to_owned())
            }
            (None, None) => None,
        };
        if let Some(t) = &token {
            if t.len() < 16 || !t.chars().all(|c| c.is_ascii_graphic()) {
                return Err(invalid(
                    "rest.token",
                    "must be at least 16 printable characters without spaces",
                ));
            }
        }
        Ok(token)
    }
}
