//! Who may call REST: a bearer token on TCP listeners (compared in constant time, read
//! from the raw `Authorization` header, never through http-types' typed header:
//! RUSTSEC-2026-0174), and the caller's uid/gid (SO_PEERCRED) on the unix socket.

use super::{reply_response, RestState};
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::reply::Reply;
use std::os::fd::AsFd;
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

/// Compares without an early exit, so the time taken does not tell how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in b.iter().enumerate() {
        diff |= x ^ a.get(i).copied().unwrap_or(!x);
    }
    diff == 0
}

/// Who may connect to the unix socket: root, and the listed uids and gids.
#[derive(Debug, Clone, Default)]
pub struct PeerRules {
    /// Allowed user ids (root is always allowed).
    pub uids: Vec<u32>,
    /// Allowed (primary) group ids of the caller.
    pub gids: Vec<u32>,
}

impl PeerRules {
    /// Checks the peer of a connected unix socket; `Err` says who was refused.
    pub fn check(&self, stream: &impl AsFd) -> Result<(), String> {
        let cred = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
            .map_err(|e| format!("cannot read the caller's credentials: {e}"))?;
        let (uid, gid) = (cred.uid(), cred.gid());
        if uid == 0 || self.uids.contains(&uid) || self.gids.contains(&gid) {
            Ok(())
        } else {
            Err(format!("uid {uid} gid {gid} is not allowed on this socket (rest.unix_socket_uids / unix_socket_gids)"))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens() {
        assert!(constant_time_eq(b"Bearer abc", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer abd", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer ab", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer abcd", b"Bearer abc"));
        assert!(!constant_time_eq(b"", b"Bearer abc"));
    }

    #[test]
    fn root_peer_is_allowed() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rules = PeerRules::default();
        if nix::unistd::geteuid().is_root() {
            assert!(rules.check(&a).is_ok());
        } else {
            let me = nix::unistd::geteuid().as_raw();
            assert!(rules.check(&a).is_err());
            assert!(PeerRules {
                uids: vec![me],
                gids: vec![]
            }
            .check(&a)
            .is_ok());
        }
    }
}
