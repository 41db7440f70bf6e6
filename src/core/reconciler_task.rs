//! The reconciler task, which decides *when* records are reconciled (how is
//! [`super::reconcile_records`]): for each engine, one access path (the API path when the
//! agent has it and the engine answers there, else the CLI path) is watched. When its event
//! stream opens, the whole engine is reconciled (events may have been missed), then each
//! event reconciles its container. A stream that ends or cannot open is retried with a
//! capped back-off (1 s doubling to 60 s); an access path without an event stream is
//! reconciled every 30 s instead. Nothing wakes up more often than that when idle.

use super::error::RuntimeError;
use super::model::Engine;
use super::names::ContainerName;
use super::runtime::{EngineEvents, Runtime};
use super::service::ContainerService;
use futures_lite::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// How often an access path without an event stream is reconciled.
pub const POLL_INTERVAL: Duration = Duration::from_secs(30);
/// First wait before retrying an engine.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest wait before retrying an engine.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Keeps the records of every engine true to it until the future is dropped (the agent
/// cancels the task at shutdown).
pub async fn run(service: Arc<ContainerService>) {
    futures_lite::future::zip(
        watch_engine(&service, Engine::Docker),
        watch_engine(&service, Engine::Podman),
    )
    .await;
}

/// Capped doubling back-off.
#[derive(Debug)]
struct Backoff(Duration);

impl Backoff {
    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }

    /// The wait to do now; the next one is twice as long, up to [`BACKOFF_MAX`].
    fn next_wait(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        wait
    }
}

/// How an engine can be followed right now.
enum Access {
    /// An event stream through this access path.
    Stream(Arc<dyn Runtime>, EngineEvents),
    /// No event stream on this access path: poll it.
    Poll(Arc<dyn Runtime>),
    /// No access path answered; the reason of the last one.
    Unavailable(RuntimeError),
    /// The engine has no access path at all.
    NoPath,
}

/// Opens the first access path that answers, in preference order.
async fn open(paths: &[Arc<dyn Runtime>]) -> Access {
    let mut last = None;
    for rt in paths {
        match rt.watch().await {
            Ok(events) => return Access::Stream(rt.clone(), events),
            Err(RuntimeError::Unsupported { .. }) => match rt.version().await {
                Ok(_) => return Access::Poll(rt.clone()),
                Err(e) => last = Some(e),
            },
            Err(e) => last = Some(e),
        }
    }
    last.map_or(Access::NoPath, Access::Unavailable)
}

/// Follows one engine forever; returns at once when the agent has no path to it.
async fn watch_engine(service: &ContainerService, engine: Engine) {
    let paths = service.access_paths(engine);
    if paths.is_empty() {
        return;
    }
    let mut backoff = Backoff(BACKOFF_MIN);
    loop {
        match open(&paths).await {
            Access::Stream(rt, events) => {
                let opened = std::time::Instant::now();
                log::info!("following {} events", rt.kind());
                reconcile_all(service, &rt).await;
                follow(service, &rt, events).await;
                log::warn!(
                    "{} event stream ended (engine stopped or restarting?); reconnecting",
                    rt.kind()
                );
                // A stream that keeps ending at once must not be reopened every second.
                if opened.elapsed() >= BACKOFF_MAX {
                    backoff.reset();
                }
            }
            Access::Poll(rt) => {
                backoff.reset();
                if reconcile_all(service, &rt).await {
                    smol::Timer::after(POLL_INTERVAL).await;
                    continue;
                }
            }
            Access::Unavailable(e) => {
                log::warn!("{engine} not reconciled: {e}; retrying");
            }
            Access::NoPath => return,
        }
        smol::Timer::after(backoff.next_wait()).await;
    }
}

/// A full reconcile of the engine behind `rt`, logged; whether it completed.
async fn reconcile_all(service: &ContainerService, rt: &Arc<dyn Runtime>) -> bool {
    match service.reconcile_engine(rt).await {
        Ok(changed) => {
            log::info!("reconciled {}: {changed} records changed", rt.kind());
            true
        }
        Err(e) => {
            log::warn!("reconciling {} failed: {e}", rt.kind());
            false
        }
    }
}

/// Reconciles the container of each event until the stream ends.
async fn follow(service: &ContainerService, rt: &Arc<dyn Runtime>, mut events: EngineEvents) {
    while let Some(event) = events.next().await {
        let Ok(name) = ContainerName::parse(&event.name) else {
            log::debug!("{} event for an unnamed container ignored", rt.kind());
            continue;
        };
        log::debug!("{} event '{}' for '{name}'", rt.kind(), event.action);
        if let Err(e) = service.reconcile_name(rt, &name).await {
            log::warn!(
                "container '{name}' not reconciled after '{}': {e}",
                event.action
            );
        }
    }
}

#[cfg(test)]
#[path = "reconciler_task_tests.rs"]
mod tests;
