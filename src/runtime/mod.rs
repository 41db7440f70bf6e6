//! Runtime adapters: one per engine and access path, all implementing
//! [`crate::core::runtime::Runtime`].

#[cfg(any(feature = "docker-cli", feature = "podman-cli"))]
pub mod cli;
#[cfg(feature = "docker-api")]
pub mod docker_api;
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) mod encoding;
#[cfg(any(
    feature = "docker-cli",
    feature = "podman-cli",
    feature = "docker-api",
    feature = "podman-api"
))]
pub(crate) mod event_lines;
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) mod http_api;
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) mod log_frames;
#[cfg(feature = "podman-api")]
pub mod podman_api;
#[cfg(any(feature = "docker-cli", feature = "podman-cli", feature = "podman-api"))]
pub mod podman_restart;
// Also the transport of the ctrmgrctl client (feature `ctl`) to the agent's REST socket.
#[cfg(any(feature = "docker-api", feature = "podman-api", feature = "ctl"))]
pub mod unix_socket;
