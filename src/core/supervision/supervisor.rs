//! The supervisor task: follows the core's event bus (the reconciler publishes
//! `engine:die` when a container exits) and, every [`SWEEP_INTERVAL`], the whole store,
//! so that a lost event costs at most that long. For each container it keeps at most one
//! restart task (waits out the persisted back-off, then restarts through the service)
//! and at most one health loop (probes every `interval_s`, at most
//! [`PROBE_CONCURRENCY`] probes at a time across containers). Every task runs on the
//! agent's one executor.
//!
//! At start it migrates records made when the engine kept the restart policy: Docker's
//! is set to `no` (`docker update --restart=no`); Podman 4 cannot change it after
//! create, so such a Podman container keeps its engine-side `on-failure` policy (logged)
//! until it is created again.

use super::health::Tracker;
use super::probe::Prober;
use super::restart::{unix_ms, Due};
use crate::core::deployment::plan::owner_generation;
use crate::core::error::{CoreError, RuntimeError};
use crate::core::events::Event;
use crate::core::model::{ContainerState, Health, Intent, RestartKind};
use crate::core::names::ContainerName;
use crate::core::service::ContainerService;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often every record is looked at even without events.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// Most health probes running at once.
pub const PROBE_CONCURRENCY: usize = 8;
/// Wait before trying again after the store or the engine failed the supervisor.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Supervises every managed container until the future is dropped.
pub async fn run(service: Arc<ContainerService>, executor: Arc<smol::Executor<'static>>) {
    let events = service.events().subscribe();
    let supervisor = Arc::new(Supervisor {
        service,
        executor,
        restarting: Mutex::default(),
        probing: Mutex::default(),
        probe_slots: Arc::new(smol::lock::Semaphore::new(PROBE_CONCURRENCY)),
    });
    // The agent cancels this future at shutdown, before it closes the store: the tasks
    // it started end with it, so no record is written after that.
    let _tasks = CancelOnDrop(supervisor.clone());
    supervisor.migrate().await;
    loop {
        supervisor.sweep().await;
        let deadline = smol::Timer::after(SWEEP_INTERVAL);
        let mut deadline = std::pin::pin!(deadline);
        loop {
            let next = futures_lite::future::or(async { events.recv().await.ok() }, async {
                (&mut deadline).await;
                None
            });
            match next.await {
                Some(Event::Container(event)) => match ContainerName::parse(&event.name) {
                    Ok(name) => supervisor.consider(name).await,
                    Err(e) => log::debug!("event of an unnamed container ignored: {e}"),
                },
                Some(_) => {}
                None => break,
            }
        }
    }
}

/// The supervisor's shared state.
struct Supervisor {
    service: Arc<ContainerService>,
    executor: Arc<smol::Executor<'static>>,
    /// The restart task of each container that has one.
    restarting: Tasks,
    /// The health loop of each container that has one.
    probing: Tasks,
    probe_slots: Arc<smol::lock::Semaphore>,
}

/// At most one task of a kind per container, by name; dropping a handle cancels it.
type Tasks = Mutex<HashMap<ContainerName, smol::Task<()>>>;

fn lock(tasks: &Tasks) -> std::sync::MutexGuard<'_, HashMap<ContainerName, smol::Task<()>>> {
    tasks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts `task` for `name` unless one runs already.
fn start_once(tasks: &Tasks, name: &ContainerName, task: impl FnOnce() -> smol::Task<()>) {
    let mut tasks = lock(tasks);
    if !tasks.contains_key(name) {
        tasks.insert(name.clone(), task());
    }
}

/// Called by a task as it ends: forgets its handle without cancelling it.
fn release(tasks: &Tasks, name: &ContainerName) {
    if let Some(task) = lock(tasks).remove(name) {
        task.detach();
    }
}

/// Cancels every task of the supervisor when dropped.
struct CancelOnDrop(Arc<Supervisor>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        for tasks in [&self.0.restarting, &self.0.probing] {
            let cancelled: Vec<_> = lock(tasks).drain().collect();
            drop(cancelled);
        }
    }
}

impl Supervisor {
    /// Sets the engine's policy to `no` on records made before the agent supervised.
    async fn migrate(&self) {
        let records = match self.service.store.list_containers().await {
            Ok(records) => records,
            Err(e) => {
                log::warn!("supervision: records not migrated: {e}");
                return;
            }
        };
        for record in records {
            let engine_side = record
                .spec
                .restart
                .is_some_and(|r| r.policy != RestartKind::No);
            if !engine_side || record.supervision.engine_policy_no {
                continue;
            }
            let Some(rt) = self.service.runtimes.get(&record.runtime) else {
                continue;
            };
            match rt.clear_restart_policy(&record.name).await {
                Ok(()) => {
                    let _lock = self.service.lock_name(&record.name).await;
                    if let Ok(Some(mut fresh)) =
                        self.service.store.get_container(&record.name).await
                    {
                        fresh.supervision.engine_policy_no = true;
                        if let Err(e) = self.service.store.put_container(&fresh).await {
                            log::warn!("supervision: '{}' not migrated: {e}", record.name);
                        }
                    }
                    log::info!(
                        "container '{}': the engine's restart policy is now 'no'; the agent \
                         supervises it",
                        record.name
                    );
                }
                Err(RuntimeError::Unsupported { .. }) => log::warn!(
                    "container '{}' was created with {}'s own restart policy, which {} cannot \
                     change: the engine and the agent may both restart it; create it again \
                     to leave restarts to the agent",
                    record.name,
                    record.runtime,
                    record.runtime
                ),
                Err(e) => log::warn!("container '{}' not migrated: {e}", record.name),
            }
        }
    }

    /// Considers every record.
    async fn sweep(self: &Arc<Self>) {
        match self.service.store.list_containers().await {
            Ok(records) => {
                for record in records {
                    self.consider(record.name).await;
                }
            }
            Err(e) => log::warn!("supervision: records not read: {e}"),
        }
    }

    /// Starts what `name` needs and does not have yet: a restart task, a health loop.
    /// (Boxed: the tasks it starts consider their container again when they end.)
    fn consider(
        self: &Arc<Self>,
        name: ContainerName,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.consider_now(name))
    }

    async fn consider_now(self: &Arc<Self>, name: ContainerName) {
        let record = match self.service.store.get_container(&name).await {
            Ok(Some(record)) => record,
            Ok(None) => return,
            Err(e) => {
                log::warn!("supervision: record of '{name}' not read: {e}");
                return;
            }
        };
        if record.state == ContainerState::Missing && owner_generation(&record).is_some() {
            self.recreate_lost(name.clone());
            return;
        }
        if record.needs_restart() {
            start_once(&self.restarting, &name, || {
                let (me, name) = (self.clone(), name.clone());
                self.executor
                    .spawn(async move { me.restart_task(name).await })
            });
        }
        let probed = record.spec.health.is_some()
            && record.state == ContainerState::Running
            && record.intent == Intent::Running;
        if probed {
            start_once(&self.probing, &name, || {
                let (me, name) = (self.clone(), name.clone());
                self.executor
                    .spawn(async move { me.health_loop(name).await })
            });
        }
    }

    /// Has the deployer create a lost deployment-owned container again, on its own task
    /// (it may pull and wait for the engine).
    fn recreate_lost(self: &Arc<Self>, name: ContainerName) {
        let Some(deployer) = self.service.deployer.clone() else {
            return;
        };
        self.executor
            .spawn(async move {
                if let Err(e) = deployer.recreate_lost(&name).await {
                    log::warn!("deployment: lost container '{name}' not created again: {e}");
                }
            })
            .detach();
    }

    /// Waits out the back-off and restarts, as long as the container needs it.
    async fn restart_task(self: Arc<Self>, name: ContainerName) {
        loop {
            let due = match self.service.plan_restart(&name).await {
                Ok(due) => due,
                Err(e) => {
                    log::warn!("supervision: restart of '{name}' not planned: {e}");
                    smol::Timer::after(RETRY_AFTER).await;
                    continue;
                }
            };
            let Due::After(wait) = due else { break };
            smol::Timer::after(wait).await;
            if let Err(e) = self.service.supervised_restart(&name).await {
                log::warn!("supervision: restart of '{name}' failed: {e}");
                if matches!(e, CoreError::Store(_)) {
                    smol::Timer::after(RETRY_AFTER).await;
                }
            }
        }
        release(&self.restarting, &name);
        // An exit recorded between the last plan and the release had no task to see it.
        self.consider(name).await;
    }

    /// Probes `name` every `interval_s` while it runs as a client wants it.
    async fn health_loop(self: Arc<Self>, name: ContainerName) {
        let mut tracker = Tracker::default();
        let mut prober = Prober::default();
        loop {
            let Some(interval) = self.probe_interval(&name).await else {
                break;
            };
            smol::Timer::after(interval).await;
            let record = match self.service.store.get_container(&name).await {
                Ok(Some(r)) if r.state == ContainerState::Running => r,
                Ok(_) => break,
                Err(e) => {
                    log::warn!("supervision: record of '{name}' not read: {e}");
                    continue;
                }
            };
            let (Some(spec), Some(rt)) = (
                record.spec.health.clone(),
                self.service.runtimes.get(&record.runtime).cloned(),
            ) else {
                break;
            };
            let result = {
                let _slot = self.probe_slots.acquire_arc().await;
                prober.run(&rt, &record, &spec).await
            };
            if let Err(why) = &result {
                log::debug!("health probe of '{name}' failed: {why}");
                self.service
                    .supervision_counters()
                    .probe_failed(name.as_str());
            }
            let Some(verdict) = tracker.observe(&record, result.is_ok(), unix_ms()) else {
                continue;
            };
            match self.service.apply_health(&name, verdict).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => log::warn!("supervision: health of '{name}' not applied: {e}"),
            }
            if verdict == Health::Unhealthy {
                if let Err(why) = result {
                    log::warn!("container '{name}' unhealthy: {why}");
                }
            }
        }
        release(&self.probing, &name);
        self.consider(name).await;
    }

    /// The interval of `name`'s check while it runs as a client wants it.
    async fn probe_interval(&self, name: &ContainerName) -> Option<Duration> {
        let record = self.service.store.get_container(name).await.ok()??;
        let spec = record.spec.health.as_ref()?;
        let runs = record.state == ContainerState::Running && record.intent == Intent::Running;
        runs.then(|| Duration::from_secs(spec.interval_s.into()))
    }
}
