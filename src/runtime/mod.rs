//! Runtime adapters: one per engine and access path, all implementing
//! [`crate::core::runtime::Runtime`].

#[cfg(feature = "docker-cli")]
pub mod cli;
#[cfg(feature = "docker-api")]
pub mod docker_api;
#[cfg(feature = "docker-api")]
pub mod unix_socket;
