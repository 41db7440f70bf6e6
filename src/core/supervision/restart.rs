//! The supervisor's side of the core service: when a container that exited is due for a
//! restart, and the restart itself, under the container's name lock so that records,
//! client ops and events stay consistent. A client's `stop`/`kill` (intent `stopped`)
//! is never undone: it is re-checked under the lock just before each restart.

use super::policy;
use crate::core::clock;
use crate::core::error::CoreError;
use crate::core::events::{ContainerEvent, EventAction};
use crate::core::model::{Container, ContainerState, Health, Intent};
use crate::core::names::ContainerName;
use crate::core::service::ContainerService;
use std::time::Duration;

/// Milliseconds since the Unix epoch.
pub(super) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Container {
    /// Notes a start by a client (create with start, start, restart): the supervisor's
    /// count and back-off begin again, as Docker resets its restart count on a start.
    pub(crate) fn started_by_client(&mut self) {
        self.restart_count = 0;
        self.supervision.step = 0;
        self.supervision.next_restart_ms = None;
        self.supervision.recent_restarts_ms.clear();
        self.mark_started();
    }

    /// Stamps `started_at` and sets the health to `starting` when there is a check.
    fn mark_started(&mut self) {
        let now = unix_ms();
        self.started_at = Some(clock::rfc3339(now / 1000));
        self.supervision.last_start_ms = Some(now);
        self.health = if self.spec.health.is_some() {
            Health::Starting
        } else {
            Health::None
        };
    }

    /// Whether the supervisor should bring it back: a client wants it running, it is
    /// not running, and its policy restarts this exit.
    /// A container the agent stopped because it was unhealthy comes back whatever its
    /// restart policy says (`on_unhealthy = "restart"`).
    pub(super) fn needs_restart(&self) -> bool {
        self.intent == Intent::Running
            && matches!(self.state, ContainerState::Exited | ContainerState::Dead)
            && (self.supervision.health_restart
                || policy::wants_restart(
                    self.spec.restart.as_ref(),
                    self.exit_code,
                    self.restart_count,
                ))
    }
}

/// What the supervisor should do about a container now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// Nothing: its policy does not restart it, or a client stopped it.
    Never,
    /// Restart it after this long.
    After(Duration),
}

impl ContainerService {
    /// When the container `name` is due for a restart. The first time it is asked after
    /// an exit, the back-off step is chosen and the due time written into the record
    /// (without an event), so an agent killed meanwhile waits the same delay.
    pub(super) async fn plan_restart(&self, name: &ContainerName) -> Result<Due, CoreError> {
        let _lock = self.lock_name(name).await;
        let Some(mut record) = self.store.get_container(name).await? else {
            return Ok(Due::Never);
        };
        if !record.needs_restart() {
            return Ok(Due::Never);
        }
        let now = unix_ms();
        let due_ms = match record.supervision.next_restart_ms {
            Some(due) => due,
            None => {
                let s = &mut record.supervision;
                s.step = policy::step_after_run(s.step, s.last_start_ms, now);
                let delay = policy::jittered_delay(s.step, policy::random_unit());
                let due = now + delay.as_millis() as u64;
                s.next_restart_ms = Some(due);
                self.store.put_container(&record).await?;
                log::info!(
                    "container '{name}' exited ({}): restarting in {:.1} s",
                    record
                        .exit_code
                        .map_or_else(|| "no exit code".to_owned(), |c| format!("code {c}")),
                    delay.as_secs_f64()
                );
                due
            }
        };
        Ok(Due::After(Duration::from_millis(
            due_ms.saturating_sub(now),
        )))
    }

    /// Restarts `name` if it still needs it (a client may have stopped or started it
    /// meanwhile); publishes `restarting`, and `crash_loop` at 5 restarts in 600 s.
    pub(super) async fn supervised_restart(&self, name: &ContainerName) -> Result<(), CoreError> {
        let _lock = self.lock_name(name).await;
        let Some(mut record) = self.store.get_container(name).await? else {
            return Ok(());
        };
        if !record.needs_restart() {
            if record.supervision.next_restart_ms.take().is_some() {
                self.store.put_container(&record).await?;
            }
            return Ok(());
        }
        let rt = self
            .runtimes
            .get(&record.runtime)
            .ok_or(CoreError::RuntimeNotEnabled(record.runtime.as_str()))?;
        if let Err(e) = rt.start(name).await {
            // Tried and failed: the back-off goes on (the planner picks the next step).
            record.supervision.next_restart_ms = None;
            record.supervision.step = record.supervision.step.saturating_add(1);
            self.store.put_container(&record).await?;
            return Err(self.fail_missing(record, e).await);
        }
        let now = unix_ms();
        let crash_loop = policy::record_restart(&mut record.supervision.recent_restarts_ms, now);
        record.restart_count = record.restart_count.saturating_add(1);
        record.supervision.step = record.supervision.step.saturating_add(1);
        record.supervision.next_restart_ms = None;
        record.supervision.health_restart = false;
        record.mark_started();
        self.supervision_counters().restarted(name.as_str());
        let record = self.refresh(rt, record, EventAction::Restarting).await?;
        log::info!(
            "container '{name}' restarted by its policy (restart {})",
            record.restart_count
        );
        if crash_loop {
            log::warn!(
                "container '{name}' is crash-looping ({} restarts within {} s); still retrying",
                policy::CRASH_LOOP_RESTARTS,
                policy::CRASH_LOOP_WINDOW.as_secs()
            );
            self.events()
                .publish(ContainerEvent::of(EventAction::CrashLoop, &record));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command::{Command, Request};
    use crate::core::fake_engine::FakeEngine;
    use crate::core::model::RuntimeKind;
    use crate::core::runtime::Runtime;
    use crate::core::store::{ReplyCacheLimits, Store};
    use crate::store::memory::MemoryStore;
    use std::sync::Arc;

    fn request(command: Command) -> Request {
        Request {
            id: None,
            runtime: None,
            command,
        }
    }

    /// The container `web` exits with 3 in the engine and the record follows.
    async fn exits(service: &ContainerService, engine: &Arc<FakeEngine>, name: &ContainerName) {
        engine.put(name.as_str(), ContainerState::Exited, Some(3));
        let rt: Arc<dyn Runtime> = engine.clone();
        service.reconcile_name(&rt, name).await.unwrap();
    }

    fn delay(due: Due) -> Duration {
        match due {
            Due::After(d) => d,
            Due::Never => panic!("no restart planned"),
        }
    }

    #[test]
    fn exits_are_restarted_after_a_persisted_growing_back_off_until_a_client_stops() {
        smol::block_on(async {
            let engine = FakeEngine::new(RuntimeKind::PodmanCli);
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new(ReplyCacheLimits::default()));
            let runtimes: Vec<Arc<dyn Runtime>> = vec![engine.clone()];
            let service =
                ContainerService::new(store, runtimes, RuntimeKind::PodmanCli, "dev1".into());
            let events = service.events().subscribe();
            let spec = serde_json::from_value(serde_json::json!({
                "name": "web", "image": "busybox", "restart": {"policy": "always"}
            }))
            .unwrap();
            let reply = service
                .execute(request(Command::Create { spec, start: true }))
                .await;
            assert!(reply.error().is_none(), "{reply:?}");
            let name = ContainerName::parse("web").unwrap();

            exits(&service, &engine, &name).await;
            let first = delay(service.plan_restart(&name).await.unwrap());
            assert!(first <= Duration::from_secs(1), "{first:?}");
            assert!(first >= Duration::from_millis(750), "{first:?}");
            // The due time is stored: asking again (a restarted agent) does not draw anew.
            let again = delay(service.plan_restart(&name).await.unwrap());
            assert!(again <= first);
            let stored = service.store.get_container(&name).await.unwrap().unwrap();
            assert!(stored.supervision.next_restart_ms.is_some());

            service.supervised_restart(&name).await.unwrap();
            let r = service.store.get_container(&name).await.unwrap().unwrap();
            assert_eq!(
                (r.state, r.restart_count, r.last_exit_code),
                (ContainerState::Running, 1, Some(3))
            );
            assert_eq!(r.supervision.next_restart_ms, None);
            let mut actions = Vec::new();
            while let Ok(e) = events.try_recv() {
                actions.extend(e.into_container().map(|e| e.action));
            }
            assert!(actions.contains(&EventAction::Restarting), "{actions:?}");

            exits(&service, &engine, &name).await;
            let second = delay(service.plan_restart(&name).await.unwrap());
            assert!(second >= Duration::from_millis(1500), "{second:?}");

            let stop = Command::Stop {
                name: name.clone(),
                timeout_s: None,
            };
            assert!(service.execute(request(stop)).await.error().is_none());
            assert_eq!(service.plan_restart(&name).await.unwrap(), Due::Never);
            // A restart already due finds the client's stop and does nothing.
            service.supervised_restart(&name).await.unwrap();
            let r = service.store.get_container(&name).await.unwrap().unwrap();
            assert_eq!((r.state, r.restart_count), (ContainerState::Exited, 1));
        });
    }
}
