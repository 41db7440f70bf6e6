//! Which restart policies Podman can honour as Docker does, on this host: both podman
//! access paths (CLI and libpod API) refuse the others at create with this reason
//! (`unsupported`).

use crate::core::model::RestartKind;
use std::path::Path;

/// Whether systemd runs as init here (it creates `/run/systemd/system` at boot), so that
/// `podman-restart.service` can start `always` containers when the host boots.
pub fn host_runs_systemd() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// A restart policy Podman cannot keep as Docker does, with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RestartUnsupported {
    /// `always` on a host without systemd.
    #[error(
        "restart policy 'always' on this host: Podman has no daemon that restarts \
         containers at boot, only systemd's podman-restart.service, and this host does \
         not run systemd (use on-failure, or the docker runtimes)"
    )]
    AlwaysWithoutSystemd,
    /// `unless-stopped`, which Podman never restarts at boot.
    #[error(
        "restart policy 'unless-stopped': Podman 4 restarts only 'always' containers \
         at boot (podman-restart.service), so it cannot keep this policy's promise \
         (use always or on-failure)"
    )]
    UnlessStopped,
}

/// `Ok` when Podman keeps `policy`'s promise. While the host runs, conmon has Podman
/// apply every policy when a container exits; at boot nothing does unless systemd starts
/// `podman-restart.service`, and that unit (Podman 4) starts only `always` containers.
pub fn restart_supported(policy: RestartKind, systemd: bool) -> Result<(), RestartUnsupported> {
    match policy {
        RestartKind::No | RestartKind::OnFailure => Ok(()),
        RestartKind::Always if systemd => Ok(()),
        RestartKind::Always => Err(RestartUnsupported::AlwaysWithoutSystemd),
        RestartKind::UnlessStopped => Err(RestartUnsupported::UnlessStopped),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_podman_can_honour() {
        for systemd in [true, false] {
            assert_eq!(restart_supported(RestartKind::No, systemd), Ok(()));
            assert_eq!(restart_supported(RestartKind::OnFailure, systemd), Ok(()));
            let err = restart_supported(RestartKind::UnlessStopped, systemd)
                .unwrap_err()
                .to_string();
            assert!(err.contains("unless-stopped"), "{err}");
        }
        assert_eq!(restart_supported(RestartKind::Always, true), Ok(()));
        let err = restart_supported(RestartKind::Always, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not run systemd"), "{err}");
    }
}
