//! Who may call REST: a bearer token on TCP listeners (compared in constant time, read
//! from the raw `Authorization` header, never through http-types' typed header:
//! RUSTSEC-2026-0174) with a checked `Host` (no DNS rebinding), and the caller's uid and
//! groups (SO_PEERCRED) on the unix socket.

use super::{reply_response, RestState};
pub use crate::api::access::{constant_time_eq, PeerRules};
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::names::printable;
use crate::core::reply::Reply;
use tide::{Next, Request, StatusCode};

/// Requires `Authorization: Bearer <token>` on every route but `/healthz`.
#[derive(Debug, Clone)]
pub struct BearerAuth {
    expected: Vec<u8>,
}

impl BearerAuth {
    /// A middleware expecting `token`.
    pub fn new(token: &str) -> Self {
        Self {
            expected: format!("Bearer {token}").into_bytes(),
        }
    }
}

#[tide::utils::async_trait]
impl tide::Middleware<RestState> for BearerAuth {
    async fn handle(&self, req: Request<RestState>, next: Next<'_, RestState>) -> tide::Result {
        if req.url().path() == "/healthz" {
            return Ok(next.run(req).await);
        }
        let presented = req
            .header("Authorization")
            .map(|v| v.last().as_str().as_bytes().to_vec());
        let ok = presented.is_some_and(|p| constant_time_eq(&p, &self.expected));
        if ok {
            return Ok(next.run(req).await);
        }
        let reply = req.state().pipeline.refuse(
            None,
            ErrorBody::new(
                ErrorCode::Forbidden,
                "missing or wrong bearer token (send 'Authorization: Bearer <rest.token>')",
            ),
        );
        let mut res = reply_response(&reply, StatusCode::Ok);
        res.insert_header("WWW-Authenticate", "Bearer");
        Ok(res)
    }
}

/// Accepts a TCP request only when its `Host` names this listener: the listen address,
/// `localhost`, or a `rest.allowed_hosts` name, each with or without the port. A web page
/// whose name was re-pointed at the device (DNS rebinding) sends its own name and is
/// refused.
#[derive(Debug, Clone)]
pub struct HostCheck {
    accepted: Vec<String>,
}

impl HostCheck {
    /// The names accepted for a listener bound at `addr`.
    pub fn new(addr: std::net::SocketAddr, allowed_hosts: &[String]) -> Self {
        let ip = match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let port = addr.port();
        let accepted = std::iter::once(ip)
            .chain(std::iter::once("localhost".to_owned()))
            .chain(allowed_hosts.iter().map(|h| h.to_ascii_lowercase()))
            .flat_map(|h| [format!("{h}:{port}"), h])
            .collect();
        Self { accepted }
    }
}

#[tide::utils::async_trait]
impl tide::Middleware<RestState> for HostCheck {
    async fn handle(&self, req: Request<RestState>, next: Next<'_, RestState>) -> tide::Result {
        let host = req
            .header("Host")
            .map(|v| v.last().as_str().to_ascii_lowercase());
        if host.as_ref().is_some_and(|h| self.accepted.contains(h)) {
            return Ok(next.run(req).await);
        }
        let shown = host.map_or_else(|| "none".to_owned(), |h| printable(&h));
        let reply = req.state().pipeline.refuse(
            None,
            ErrorBody::new(
                ErrorCode::Forbidden,
                format!(
                    "Host '{shown}' does not name this listener (use its address or \
                     localhost, or add the name to rest.allowed_hosts)"
                ),
            ),
        );
        Ok(reply_response(&reply, StatusCode::Ok))
    }
}

/// The raw HTTP answer for a refused unix-socket caller (written before any parsing).
pub fn refusal(message: &str) -> Vec<u8> {
    let reply = Reply::err(None, ErrorBody::new(ErrorCode::Forbidden, message));
    let body = crate::codec::json::encode_reply(&reply);
    let mut out = format!(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend(body);
    out
}
