//! Who may call a local socket transport (REST, gRPC): the caller's uid/gid by
//! SO_PEERCRED on unix sockets (made here, with their mode and group), and a
//! constant-time bearer-token compare for TCP.

use nix::unistd::Gid;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Binds a unix socket for `section`: makes its directory when missing (0755: the
/// socket's own mode guards it), removes a stale socket file, sets `mode` and, when
/// given, the socket file's group. Errors name the key.
pub fn bind_unix_socket(
    section: &str,
    path: &Path,
    mode: u32,
    group: Option<u32>,
) -> Result<std::os::unix::net::UnixListener, String> {
    // Outside systemd (RuntimeDirectory=ctrmgr) nobody made /run/ctrmgr.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(|e| {
                format!(
                    "{section}.unix_socket: cannot create {}: {e}",
                    dir.display()
                )
            })?;
    }
    // A stale socket file from a previous run would make bind fail.
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(|e| {
        format!(
            "{section}.unix_socket: cannot listen on {}: {e}",
            path.display()
        )
    })?;
    if let Some(gid) = group {
        nix::unistd::chown(path, None, Some(Gid::from_raw(gid))).map_err(|e| {
            format!(
                "{section}.unix_socket_group: cannot give {} to gid {gid}: {e}",
                path.display()
            )
        })?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
        format!(
            "{section}.unix_socket_mode: cannot chmod {}: {e}",
            path.display()
        )
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("{section}.unix_socket: {e}"))?;
    Ok(listener)
}

/// The supplementary groups of process `pid` (`Groups:` in /proc/PID/status); empty when
/// it cannot be read (the caller is then judged by its primary gid alone).
fn supplementary_groups(pid: i32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| {
            g.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
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
    /// The config section whose keys list them (`rest`, `grpc`), named in refusals.
    pub section: &'static str,
    /// Allowed user ids (root is always allowed).
    pub uids: Vec<u32>,
    /// Allowed group ids (the caller's primary gid or one of its supplementary groups).
    pub gids: Vec<u32>,
}

impl PeerRules {
    /// Checks the peer of a connected unix socket; `Err` says who was refused.
    pub fn check(&self, stream: &impl AsFd) -> Result<(), String> {
        let cred = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
            .map_err(|e| format!("cannot read the caller's credentials: {e}"))?;
        let (uid, gid) = (cred.uid(), cred.gid());
        let in_group = || {
            self.gids.contains(&gid)
                || supplementary_groups(cred.pid())
                    .iter()
                    .any(|g| self.gids.contains(g))
        };
        if uid == 0 || self.uids.contains(&uid) || in_group() {
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
