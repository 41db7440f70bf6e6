//! `CliFlavor`: which command-line client (`docker` or `podman`) the adapter drives.

use crate::core::model::RuntimeKind;

/// Which CLI the adapter drives. Podman's CLI accepts the same subcommands and flags for
/// everything used here; the differences are noted where the argv is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliFlavor {
    /// The `docker` client.
    Docker,
    /// The `podman` client.
    Podman,
}

impl CliFlavor {
    /// The runtime access path this flavor is.
    pub fn kind(self) -> RuntimeKind {
        match self {
            CliFlavor::Docker => RuntimeKind::DockerCli,
            CliFlavor::Podman => RuntimeKind::PodmanCli,
        }
    }

    /// The binary looked up on `PATH` when none is configured.
    pub fn default_binary(self) -> &'static str {
        match self {
            CliFlavor::Docker => "docker",
            CliFlavor::Podman => "podman",
        }
    }
}
