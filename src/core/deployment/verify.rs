//! Verification of a new generation: each container it started must stay running, as the
//! same engine container, for `healthy_window_s`. The check of one container at one
//! instant is [`check_container_health`], the single place where supervision's health
//! state (a container with a `health` check must be `healthy`) plugs in.

use crate::core::model::ContainerState;
use crate::core::names::ContainerName;
use crate::core::runtime::Runtime;
use std::time::{Duration, Instant};

/// How often the containers are looked at during the window.
const POLL: Duration = Duration::from_millis(250);

/// A container to watch: its name and the engine id it was created with.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The name.
    pub name: ContainerName,
    /// The engine id the apply created (or started).
    pub id: String,
}

/// A container that failed verification, and why.
#[derive(Debug, Clone)]
pub struct Unhealthy {
    /// The name.
    pub name: ContainerName,
    /// Why, for a person.
    pub reason: String,
}

/// Whether one container is healthy now: running, still the container the apply made
/// (an engine that replaced or restarted it under another id fails it). Supervision's
/// health state is to be consulted here once containers carry it.
pub async fn check_container_health(rt: &dyn Runtime, w: &Watched) -> Result<(), String> {
    let live = rt
        .inspect(&w.name)
        .await
        .map_err(|e| format!("cannot inspect it: {e}"))?;
    if live.id != w.id {
        return Err(format!(
            "it was replaced (engine id {} instead of {})",
            live.id, w.id
        ));
    }
    match live.state {
        ContainerState::Running => Ok(()),
        ContainerState::Exited => Err(format!(
            "it exited (exit code {})",
            live.exit_code
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string())
        )),
        other => Err(format!("it is {other:?}, not running").to_lowercase()),
    }
}

/// Watches every container for `window`; the first failure ends the watch.
pub async fn verify(
    rt: &dyn Runtime,
    watched: &[Watched],
    window: Duration,
) -> Result<(), Unhealthy> {
    let deadline = Instant::now() + window;
    loop {
        for w in watched {
            check_container_health(rt, w)
                .await
                .map_err(|reason| Unhealthy {
                    name: w.name.clone(),
                    reason,
                })?;
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        smol::Timer::after(POLL.min(deadline - now)).await;
    }
}
