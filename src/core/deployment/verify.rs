//! Verification of a new generation: each container it started must stay running, as the
//! same engine container, not restarted by the supervisor, for `healthy_window_s`; one
//! with a `health` check must also be `healthy` by the end of the window (while it is
//! still `starting`, the watch goes on for as long as the check itself may take to
//! decide: its start period plus `retries + 1` intervals and a timeout). The check of
//! one container at one instant is [`check_container_health`].

use crate::core::model::{Container, ContainerState, Health};
use crate::core::names::ContainerName;
use crate::core::runtime::Runtime;
use crate::core::store::Store;
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

/// What one look at a container found, when it did not fail it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Running, and healthy or without a check.
    Healthy,
    /// Running, its health check has not decided yet (`starting`); the longest the
    /// check may take to decide, from the container's start.
    Starting(Duration),
}

/// Whether one container is healthy now: running, still the container the apply made
/// (an engine that replaced it under another id fails it), restarted no more often than
/// `restarts` (the count when the watch began), and not `unhealthy` by its check.
pub async fn check_container_health(
    rt: &dyn Runtime,
    store: &dyn Store,
    w: &Watched,
    restarts: u32,
) -> Result<Verdict, String> {
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
        ContainerState::Running => {}
        ContainerState::Exited => {
            return Err(format!(
                "it exited (exit code {})",
                live.exit_code
                    .map_or_else(|| "unknown".to_owned(), |c| c.to_string())
            ))
        }
        other => return Err(format!("it is {other:?}, not running").to_lowercase()),
    }
    let Some(record) = record(store, &w.name).await? else {
        return Ok(Verdict::Healthy);
    };
    if record.restart_count > restarts {
        return Err(format!(
            "it was restarted ({} restarts, exit code {})",
            record.restart_count - restarts,
            record
                .last_exit_code
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string())
        ));
    }
    let Some(check) = &record.spec.health else {
        return Ok(Verdict::Healthy);
    };
    match record.health {
        Health::Unhealthy => Err("its health check fails".into()),
        Health::Healthy => Ok(Verdict::Healthy),
        Health::Starting | Health::None => {
            let interval = u64::from(check.interval_s);
            let decides = u64::from(check.start_period_s)
                + interval * (u64::from(check.retries) + 1)
                + u64::from(check.timeout_s);
            Ok(Verdict::Starting(Duration::from_secs(decides)))
        }
    }
}

async fn record(store: &dyn Store, name: &ContainerName) -> Result<Option<Container>, String> {
    store
        .get_container(name)
        .await
        .map_err(|e| format!("cannot read its record: {e}"))
}

/// Watches every container for `window` (longer while a health check is still
/// `starting`); the first failure ends the watch.
pub async fn verify(
    rt: &dyn Runtime,
    store: &dyn Store,
    watched: &[Watched],
    window: Duration,
) -> Result<(), Unhealthy> {
    let began = Instant::now();
    let deadline = began + window;
    let mut restarts = Vec::with_capacity(watched.len());
    for w in watched {
        let count = record(store, &w.name)
            .await
            .ok()
            .flatten()
            .map_or(0, |r| r.restart_count);
        restarts.push(count);
    }
    loop {
        let mut undecided = None;
        for (w, &count) in watched.iter().zip(&restarts) {
            let fail = |reason| Unhealthy {
                name: w.name.clone(),
                reason,
            };
            if let Verdict::Starting(decides) = check_container_health(rt, store, w, count)
                .await
                .map_err(fail)?
            {
                undecided = Some((w, decides));
            }
        }
        let now = Instant::now();
        match undecided {
            None if now >= deadline => return Ok(()),
            Some((w, decides)) if now >= deadline.max(began + decides) => {
                return Err(Unhealthy {
                    name: w.name.clone(),
                    reason: format!(
                        "its health check did not pass within {} s",
                        (now - began).as_secs()
                    ),
                })
            }
            _ => {}
        }
        let wait = if now < deadline { deadline - now } else { POLL };
        smol::Timer::after(POLL.min(wait)).await;
    }
}
