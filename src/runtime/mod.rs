//! Runtime adapters: one per engine and access path, all implementing
//! [`crate::core::runtime::Runtime`].

#[cfg(any(feature = "docker-cli", feature = "podman-cli"))]
pub mod cli;
#[cfg(feature = "docker-api")]
pub mod docker_api;
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub mod engine_api;
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) mod engine_http;
#[cfg(any(
    feature = "docker-cli",
    feature = "podman-cli",
    feature = "docker-api",
    feature = "podman-api"
))]
pub(crate) mod engine_words;
#[cfg(any(
    feature = "docker-cli",
    feature = "podman-cli",
    feature = "docker-api",
    feature = "podman-api"
))]
pub(crate) mod event_lines;
#[cfg(any(
    feature = "docker-cli",
    feature = "podman-cli",
    feature = "docker-api",
    feature = "podman-api"
))]
pub(crate) mod inspect;
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) mod log_frames;
#[cfg(feature = "podman-api")]
pub mod podman_api;
#[cfg(any(feature = "docker-cli", feature = "podman-cli", feature = "podman-api"))]
pub mod podman_restart;
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) mod registry_auth;
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) mod unix_time;
