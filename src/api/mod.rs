//! Transports: they move bytes, know the format, and hand a decoded request to the core.

#[cfg(any(feature = "rest", feature = "grpc"))]
pub mod access;
#[cfg(feature = "dbus")]
pub mod dbus;
#[cfg(any(feature = "mqtt", feature = "dbus"))]
mod event_feed;
#[cfg(feature = "grpc")]
pub mod grpc;
pub mod metrics;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "mqueue")]
pub mod mqueue;
pub mod pipeline;
#[cfg(feature = "rest")]
pub mod rest;
pub mod shutdown;
#[cfg(any(feature = "mqtt", feature = "grpc"))]
pub mod tokio_thread;
pub mod transports;

use crate::core::service::ContainerService;
use crate::core::supervision::ContainerCounts;
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

impl ApiContext {
    /// The context of one agent, with the agent-wide gauges registered: requests in
    /// flight and events lost by slow subscribers. Transports add theirs.
    pub fn new(
        service: Arc<ContainerService>,
        shutdown: shutdown::Shutdown,
        executor: Arc<smol::Executor<'static>>,
    ) -> Self {
        let metrics = Arc::new(metrics::Metrics::default());
        let (in_flight, events) = (shutdown.clone(), service.clone());
        metrics.register_gauges(move || {
            vec![
                (
                    "ctrmgr_in_flight_requests",
                    "Requests being handled.",
                    in_flight.in_flight() as u64,
                ),
                (
                    "ctrmgr_events_dropped_total",
                    "Events lost by slow subscribers.",
                    events.events().dropped(),
                ),
            ]
        });
        let supervised = service.clone();
        metrics.register_counter_families(move || {
            let counts = supervised.supervision_counters().snapshot();
            let family = |name, help, pick: fn(&ContainerCounts) -> u64| metrics::CounterFamily {
                name,
                help,
                label: "name",
                values: counts.iter().map(|(n, c)| (n.clone(), pick(c))).collect(),
            };
            vec![
                family(
                    "ctrmgr_container_restarts_total",
                    "Restarts the agent made under a container's restart policy.",
                    |c| c.restarts,
                ),
                family(
                    "ctrmgr_health_probe_failures_total",
                    "Health probes of a container that failed.",
                    |c| c.probe_failures,
                ),
            ]
        });
        Self {
            service,
            metrics,
            shutdown,
            executor,
        }
    }

    /// The request pipeline of `transport`.
    pub fn pipeline(
        &self,
        transport: metrics::Transport,
        limit: pipeline::Limit,
    ) -> pipeline::Pipeline {
        pipeline::Pipeline::new(self, transport, limit)
    }
}

impl std::fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiContext")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}
