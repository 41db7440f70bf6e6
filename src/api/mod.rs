//! Transports: they move bytes, know the format, and hand a decoded request to the core.

#[cfg(any(feature = "rest", feature = "grpc"))]
pub mod access;
#[cfg(feature = "dbus")]
pub mod dbus;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod metrics;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "mqueue")]
pub mod mqueue;
#[cfg(feature = "rest")]
pub mod rest;
pub mod shutdown;

use crate::core::service::ContainerService;
use std::sync::Arc;

/// What every transport needs: the core, the request counters, the shutdown signal
/// (with in-flight tracking) and the executor to spawn its tasks on.
#[derive(Clone)]
pub struct ApiContext {
    /// The core.
    pub service: Arc<ContainerService>,
    /// Request counters for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Fires when the agent stops; tracks requests in flight.
    pub shutdown: shutdown::Shutdown,
    /// The one executor (main thread) to spawn tasks on.
    pub executor: Arc<smol::Executor<'static>>,
}

impl std::fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiContext")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}
