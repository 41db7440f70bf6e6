//! Health verdicts: [`Tracker`] turns probe results into transitions (`healthy` on a
//! pass, `unhealthy` after `retries` failures in a row, failures during the start
//! period not counted), and the service applies one to the record under the name lock:
//! the record's `health` changes and `healthy`/`unhealthy` is published. With
//! `on_unhealthy = "restart"` the container is stopped and marked for a restart within
//! the usual back-off, whatever its restart policy.

use crate::core::error::CoreError;
use crate::core::events::EventAction;
use crate::core::model::{Container, ContainerState, Health, Intent, OnUnhealthy};
use crate::core::names::ContainerName;
use crate::core::service::ContainerService;

/// Seconds a container stopped for failing its health check may take to stop.
const UNHEALTHY_STOP_TIMEOUT_S: u32 = 10;

/// Failures in a row of one run of a container.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    failures: u32,
    /// The run the failures belong to (its `started_at`).
    run: Option<String>,
}

impl Tracker {
    /// The new health after a probe of `record` (`ok` or not), when it changes.
    pub(super) fn observe(&mut self, record: &Container, ok: bool, now_ms: u64) -> Option<Health> {
        let spec = record.spec.health.as_ref()?;
        if self.run != record.started_at {
            self.run = record.started_at.clone();
            self.failures = 0;
        }
        if ok {
            self.failures = 0;
            return (record.health != Health::Healthy).then_some(Health::Healthy);
        }
        let start_period_ms = u64::from(spec.start_period_s) * 1000;
        let starting = record
            .supervision
            .last_start_ms
            .is_some_and(|start| now_ms < start + start_period_ms);
        if starting {
            return None;
        }
        self.failures = self.failures.saturating_add(1);
        (self.failures >= spec.retries && record.health != Health::Unhealthy)
            .then_some(Health::Unhealthy)
    }
}

impl ContainerService {
    /// Applies a health verdict to `name` if it still runs as a client wants it; returns
    /// whether the agent stopped it for a restart.
    pub(super) async fn apply_health(
        &self,
        name: &ContainerName,
        verdict: Health,
    ) -> Result<bool, CoreError> {
        let _lock = self.lock_name(name).await;
        let Some(mut record) = self.store.get_container(name).await? else {
            return Ok(false);
        };
        if record.state != ContainerState::Running || record.intent != Intent::Running {
            return Ok(false);
        }
        let restart = verdict == Health::Unhealthy
            && record
                .spec
                .health
                .as_ref()
                .is_some_and(|h| h.on_unhealthy == OnUnhealthy::Restart);
        record.health = verdict;
        let action = match verdict {
            Health::Healthy => EventAction::Healthy,
            _ => EventAction::Unhealthy,
        };
        if restart {
            let rt = self
                .runtimes
                .get(&record.runtime)
                .ok_or(CoreError::RuntimeNotEnabled(record.runtime.as_str()))?
                .clone();
            log::warn!("container '{name}' is unhealthy: stopping it for a restart");
            record.supervision.health_restart = true;
            if let Err(e) = rt.stop(name, Some(UNHEALTHY_STOP_TIMEOUT_S)).await {
                return Err(self.fail_missing(record, e).await);
            }
            record = self.read_live(&rt, record).await?;
        } else if verdict == Health::Unhealthy {
            log::warn!("container '{name}' is unhealthy");
        }
        self.save(record, action).await?;
        Ok(restart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::sample_container;

    fn record(retries: u32, start_period_s: u32) -> Container {
        let mut c = sample_container("web");
        let h = c.spec.health.as_mut().unwrap();
        h.retries = retries;
        h.start_period_s = start_period_s;
        c.health = Health::Starting;
        c.supervision.last_start_ms = Some(1_000_000);
        c
    }

    #[test]
    fn unhealthy_after_retries_failures_in_a_row() {
        let mut c = record(3, 0);
        let mut t = Tracker::default();
        let now = 2_000_000;
        assert_eq!(t.observe(&c, false, now), None);
        assert_eq!(t.observe(&c, false, now), None);
        assert_eq!(t.observe(&c, true, now), Some(Health::Healthy));
        c.health = Health::Healthy;
        assert_eq!(t.observe(&c, false, now), None);
        assert_eq!(t.observe(&c, false, now), None);
        assert_eq!(t.observe(&c, false, now), Some(Health::Unhealthy));
        c.health = Health::Unhealthy;
        assert_eq!(t.observe(&c, false, now), None);
        assert_eq!(t.observe(&c, true, now), Some(Health::Healthy));
    }

    #[test]
    fn start_period_failures_do_not_count_and_a_new_run_starts_afresh() {
        let mut c = record(1, 30);
        let mut t = Tracker::default();
        assert_eq!(t.observe(&c, false, 1_000_000 + 29_000), None);
        assert_eq!(
            t.observe(&c, false, 1_000_000 + 30_000),
            Some(Health::Unhealthy)
        );
        c.spec.health.as_mut().unwrap().retries = 2;
        c.started_at = Some("2026-12-07T12:00:00Z".into());
        c.supervision.last_start_ms = Some(0);
        assert_eq!(t.observe(&c, false, 10_000_000), None);
        assert_eq!(t.observe(&c, false, 10_000_000), Some(Health::Unhealthy));
    }
}
