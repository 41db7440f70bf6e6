//! Runtime adapters: one per engine and access path, all implementing
//! [`crate::core::runtime::Runtime`].
//!
//! - [`cli`]: the `docker` and `podman` command-line clients (one adapter, two flavors).
//! - [`engine_api`]: one client of the engines' REST APIs, spoken in a small dialect per
//!   engine: [`docker_api`] (Docker Engine API) and [`podman_api`] (libpod). Its HTTP
//!   over the unix socket is `engine_http`.
//! - Shared by every path: `inspect` (the Docker-shaped inspect model), `engine_words`
//!   (state words and error phrases), `event_lines` (event streams), `registry_auth`
//!   (registries of references); by the REST paths:
//!   `log_frames` (multiplexed logs). Every adapter creates containers
//!   with the engine's restart policy `no`: the agent supervises restarts itself.

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
#[cfg(any(
    feature = "docker-cli",
    feature = "podman-cli",
    feature = "docker-api",
    feature = "podman-api"
))]
pub(crate) mod registry_auth;
// Also the transport of the ctrmgrctl client (feature `ctl`) to the agent's REST socket.
#[cfg(any(feature = "docker-api", feature = "podman-api", feature = "ctl"))]
pub mod unix_socket;
