//! The reconciler task, which decides *when* records are reconciled (how is
//! [`super::reconcile_records`]): for each engine, one access path (the API path when the
//! agent has it and the engine answers there, else the CLI path) is watched. When its event
//! stream opens, every container of the engine is queued for a reconcile (events may have
//! been missed), then each event queues its container, and every `resync` interval the
//! whole engine is queued again (an event the engine never sent is not missed forever).
//! The queue ([`super::reconcile_queue`]) works per name, coalesced, so a long op under
//! one name's lock stalls only that name. A stream that ends or does not open within
//! its deadline ([`OPEN_DEADLINE`]) is retried with a capped back-off (1 s doubling to 60 s); an access
//! path without an event stream is reconciled every 30 s instead. Nothing wakes up more
//! often than that when idle.

use super::error::RuntimeError;
use super::event_told::Told;
use super::model::Engine;
use super::names::ContainerName;
use super::reconcile_queue::{NameQueue, QueueState};
use super::runtime::{EngineEvent, EngineEvents, Runtime};
use super::service::ContainerService;
use futures_lite::{FutureExt, StreamExt};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often an access path without an event stream is reconciled.
pub const POLL_INTERVAL: Duration = Duration::from_secs(30);
/// First wait before retrying an engine.
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Longest wait before retrying an engine.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Longest wait for an engine to answer the request that opens its event stream (or
/// its version, on a path without one); then it counts as unavailable and is retried.
pub const OPEN_DEADLINE: Duration = Duration::from_secs(15);

/// When the reconciler does what it does besides following events.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// How often the whole engine is reconciled while its event stream is open
    /// (`runtime.resync_interval_s`).
    pub resync: Duration,
    /// Longest wait for an engine to open its event stream ([`OPEN_DEADLINE`]).
    pub open_deadline: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            resync: Duration::from_secs(300),
            open_deadline: OPEN_DEADLINE,
        }
    }
}

/// Keeps the records of every engine true to it until the future is dropped (the agent
/// cancels the task at shutdown).
pub async fn run(service: Arc<ContainerService>, schedule: Schedule) {
    futures_lite::future::zip(
        watch_engine(&service, Engine::Docker, schedule),
        watch_engine(&service, Engine::Podman, schedule),
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

/// `call`, or [`RuntimeError::Unavailable`] when it has not answered within
/// `deadline` (dropping it closes its connection).
async fn within_deadline<T>(
    rt: &Arc<dyn Runtime>,
    what: &str,
    deadline: Duration,
    call: impl Future<Output = Result<T, RuntimeError>>,
) -> Result<T, RuntimeError> {
    call.or(async {
        smol::Timer::after(deadline).await;
        Err(RuntimeError::Unavailable {
            runtime: rt.kind(),
            reason: format!("{what} did not answer within {deadline:?}"),
        })
    })
    .await
}

/// Opens the first access path that answers, in preference order.
async fn open(paths: &[Arc<dyn Runtime>], deadline: Duration) -> Access {
    let mut last = None;
    for rt in paths {
        match within_deadline(rt, "the event stream", deadline, rt.watch()).await {
            Ok(events) => return Access::Stream(rt.clone(), events),
            Err(RuntimeError::Unsupported { .. }) => {
                match within_deadline(rt, "the version call", deadline, rt.version()).await {
                    Ok(_) => return Access::Poll(rt.clone()),
                    Err(e) => last = Some(e),
                }
            }
            Err(e) => last = Some(e),
        }
    }
    last.map_or(Access::NoPath, Access::Unavailable)
}

/// Follows one engine forever; returns at once when the agent has no path to it.
async fn watch_engine(service: &ContainerService, engine: Engine, schedule: Schedule) {
    let paths = service.access_paths(engine);
    if paths.is_empty() {
        return;
    }
    let mut backoff = Backoff(BACKOFF_MIN);
    loop {
        match open(&paths, schedule.open_deadline).await {
            Access::Stream(rt, events) => {
                let opened = Instant::now();
                log::info!("following {} events", rt.kind());
                follow(service, &rt, events, schedule).await;
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

/// Queues every container of the engine behind `rt`, logged; then the engine's records
/// are caught up (each is live once its reconcile is done).
async fn resync(service: &ContainerService, rt: &Arc<dyn Runtime>, queue: &NameQueue<'_, '_>) {
    match service.engine_names(rt).await {
        Ok(names) => {
            log::info!("reconciling {}: {} containers", rt.kind(), names.len());
            names
                .into_iter()
                .for_each(|name| queue.push(name, Told::Unknown));
            service.live.of(rt.kind().engine()).set_caught_up(true);
        }
        Err(e) => log::warn!("reconciling {} failed: {e}", rt.kind()),
    }
}

/// What woke the follower up.
enum Wake {
    /// The stream's next event, `None` when it ended.
    Event(Option<EngineEvent>),
    /// Time for a full resync.
    Resync,
}

/// Queues the whole engine, then the container of each event and the whole engine
/// again every `schedule.resync`, until the stream ends; work still in flight then is
/// dropped (the reconnect queues everything again) and the engine's records are no
/// longer live.
async fn follow(
    service: &ContainerService,
    rt: &Arc<dyn Runtime>,
    events: EngineEvents,
    schedule: Schedule,
) {
    queue_events(service, rt, events, schedule).await;
    service.live.of(rt.kind().engine()).set_caught_up(false);
}

/// [`follow`] while the stream lasts.
async fn queue_events(
    service: &ContainerService,
    rt: &Arc<dyn Runtime>,
    mut events: EngineEvents,
    schedule: Schedule,
) {
    let state = QueueState::new();
    let executor = smol::Executor::new();
    let queue = NameQueue::new(service, rt, &executor, &state);
    let main = async {
        resync(service, rt, &queue).await;
        let mut next_resync = Instant::now() + schedule.resync;
        loop {
            let wake = async { Wake::Event(events.next().await) }
                .or(async {
                    smol::Timer::at(next_resync).await;
                    Wake::Resync
                })
                .await;
            let event = match wake {
                Wake::Event(Some(event)) => event,
                Wake::Event(None) => return,
                Wake::Resync => {
                    resync(service, rt, &queue).await;
                    next_resync = Instant::now() + schedule.resync;
                    continue;
                }
            };
            let Ok(name) = ContainerName::parse(&event.name) else {
                log::debug!("{} event for an unnamed container ignored", rt.kind());
                continue;
            };
            log::debug!("{} event '{}' for '{name}'", rt.kind(), event.action);
            queue.push(name, Told::of_action(&event.action));
        }
    };
    executor.run(main).await;
}

#[cfg(test)]
#[path = "reconciler_task_tests.rs"]
mod tests;
