//! Who may call a local socket transport (REST, gRPC): the caller's uid/gid by
//! SO_PEERCRED on unix sockets, and a constant-time bearer-token compare for TCP.

use std::os::fd::AsFd;

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
    /// The config section whose keys list them (`rest`, `grpc`), named in refusals.
    pub section: &'static str,
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
            Err(format!(
                "uid {uid} gid {gid} is not allowed on this socket ({0}.unix_socket_uids / {0}.unix_socket_gids)",
                self.section
            ))
        }
    }
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
                ..PeerRules::default()
            }
            .check(&a)
            .is_ok());
        }
    }
}
