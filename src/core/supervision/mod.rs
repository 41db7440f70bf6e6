//! Supervision by the agent: restart policies carried out on every runtime (the engine's
//! own policy is `no`), with a persisted, jittered back-off, and health checks acted on.
//!
//! - [`model`]: the health check, health and persisted supervisor state types.
//! - [`check`]: validation of a spec's `health`.
//! - [`policy`]: the contract's arithmetic (which exits restart, back-off, crash loop).
//! - `restart`: the restart itself, through the core service (name lock, record, event).
//! - [`supervisor`]: the task that follows the event bus and schedules restarts.
//! - `health`: the probe loop of one container and its verdicts; `probe`: one probe.
//!
//! The health state other parts of the agent read (the desired-state verify window) is
//! the record's `health` field: `none`, `starting`, `healthy` or `unhealthy`.

pub mod check;
mod health;
pub mod model;
pub mod policy;
mod probe;
mod restart;
pub mod supervisor;

pub use supervisor::run;

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Per-container counters of the supervisor, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    by_name: Mutex<BTreeMap<String, ContainerCounts>>,
}

/// What the supervisor counted for one container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerCounts {
    /// Restarts the agent made.
    pub restarts: u64,
    /// Health probes that failed.
    pub probe_failures: u64,
}

impl Counters {
    /// Counts a restart of `name`.
    pub fn restarted(&self, name: &str) {
        self.lock().entry(name.to_owned()).or_default().restarts += 1;
    }

    /// Counts a failed probe of `name`.
    pub fn probe_failed(&self, name: &str) {
        self.lock()
            .entry(name.to_owned())
            .or_default()
            .probe_failures += 1;
    }

    /// Every container's counts, by name.
    pub fn snapshot(&self) -> Vec<(String, ContainerCounts)> {
        self.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ContainerCounts>> {
        self.by_name
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
