//! How records are made true to what an engine really runs (when is decided by
//! [`super::reconciler_task`]), one container at a time (under its name lock,
//! re-inspected) or a whole engine at once: vanished containers become `missing`,
//! labelled containers without a record (and of this device or of none) are adopted,
//! state and exit code follow the engine, and a container a client stopped is stopped
//! again when the engine brings it back by itself.

use super::clock;
use super::error::{CoreError, RuntimeError};
use super::event_told::Told;
use super::events::EventAction;
use super::locks::KeyGuard;
use super::model::{Container, ContainerSpec, ContainerState, Engine, Intent};
use super::names::{ContainerName, ImageRef, InvalidValue};
use super::runtime::{EngineContainer, Runtime, DEVICE_LABEL, MANAGED_LABEL};
use super::service::ContainerService;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The event action of a record that changed from `before` to `after` in the engine.
fn engine_action(before: ContainerState, after: ContainerState) -> EventAction {
    match after {
        ContainerState::Missing => EventAction::EngineDestroy,
        ContainerState::Running if before != ContainerState::Running => EventAction::EngineStart,
        ContainerState::Exited | ContainerState::Dead => EventAction::EngineDie,
        ContainerState::Paused => EventAction::EnginePause,
        ContainerState::Restarting => EventAction::EngineRestarting,
        ContainerState::Running | ContainerState::Created => EventAction::EngineUpdate,
    }
}

/// Whether the engine's container carries the managed label.
fn is_managed(live: &EngineContainer) -> bool {
    live.labels.get(MANAGED_LABEL).map(String::as_str) == Some("true")
}

/// Whether a managed container without a record may be adopted by this device: only if
/// its device label is this device's. The bare managed label proves nothing: anyone can
/// bake it into an image or set it with another tool.
/// A deployment's parked container (the old one kept while its replacement is verified)
/// belongs to the deployment's journal, never adopted as a container of its own.
fn is_adoptable(live: &EngineContainer, device_id: &str) -> bool {
    live.labels
        .get(DEVICE_LABEL)
        .is_some_and(|d| d == device_id)
        && !super::deployment::is_parked(&live.name)
}

/// The record of a labelled container found without one. Its spec is partial: only
/// what the engine reports (name, image, labels without the managed label).
fn adopted(
    rt: &Arc<dyn Runtime>,
    name: &ContainerName,
    live: EngineContainer,
) -> Result<Container, InvalidValue> {
    let image = ImageRef::parse(&live.image)?;
    let mut labels = live.labels;
    labels.remove(MANAGED_LABEL);
    labels.remove(DEVICE_LABEL);
    let spec = ContainerSpec {
        name: name.clone(),
        image: image.clone(),
        cmd: Vec::new(),
        entrypoint: Vec::new(),
        env: Default::default(),
        ports: Vec::new(),
        mounts: Vec::new(),
        restart: None,
        resources: None,
        labels,
        network: None,
        user: None,
        workdir: None,
        privileged: false,
        devices: Vec::new(),
        health: None,
    };
    let now = clock::now_rfc3339();
    Ok(Container {
        name: name.clone(),
        runtime: rt.kind(),
        id: live.id,
        image,
        state: live.state,
        exit_code: live.exit_code,
        created_at: now.clone(),
        updated_at: now,
        spec,
        health: Default::default(),
        restart_count: 0,
        last_exit_code: None,
        started_at: None,
        intent: Intent::default(),
        supervision: Default::default(),
    })
}

impl ContainerService {
    /// The access paths of `engine` this agent has, the API path first.
    pub(crate) fn access_paths(&self, engine: Engine) -> Vec<Arc<dyn Runtime>> {
        let mut paths: Vec<Arc<dyn Runtime>> = self
            .runtimes
            .values()
            .filter(|rt| rt.kind().engine() == engine)
            .cloned()
            .collect();
        paths.sort_by_key(|rt| !rt.kind().as_str().ends_with("-api"));
        paths
    }

    /// Makes the record of `name` true to the engine behind `rt`, under the name's lock:
    /// re-inspects, then marks it missing, adopts it, updates state, exit code and id,
    /// or stops it again when a client had stopped it. Returns the saved record when
    /// something changed. Records of another engine are left alone.
    pub(crate) async fn reconcile_name(
        &self,
        rt: &Arc<dyn Runtime>,
        name: &ContainerName,
    ) -> Result<Option<Container>, CoreError> {
        let lock = self.lock_name(name).await;
        self.reconcile_locked(rt, name, &lock).await
    }

    /// [`Self::reconcile_name`] for a caller that holds the name's lock already.
    pub(crate) async fn reconcile_locked(
        &self,
        rt: &Arc<dyn Runtime>,
        name: &ContainerName,
        lock: &KeyGuard<'_>,
    ) -> Result<Option<Container>, CoreError> {
        self.reconcile_told(rt, name, lock, Told::Unknown).await
    }

    /// [`Self::reconcile_locked`] after events that `told` what they say of the state:
    /// nothing is read from the engine when the record already says it.
    pub(crate) async fn reconcile_told(
        &self,
        rt: &Arc<dyn Runtime>,
        name: &ContainerName,
        _lock: &KeyGuard<'_>,
        told: Told,
    ) -> Result<Option<Container>, CoreError> {
        let record = self.store.get_container(name).await?;
        if record
            .as_ref()
            .is_some_and(|r| r.runtime.engine() != rt.kind().engine())
            || told.covered_by(record.as_ref())
        {
            return Ok(None);
        }
        // An engine resolves a name it does not know as an id prefix: only a container
        // that really has this name is this name's (see core/address.rs).
        let live = match rt.inspect(name).await {
            Ok(live) if is_managed(&live) && live.name == name.as_str() => Some(live),
            Ok(_) | Err(RuntimeError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        match (record, live) {
            (None, None) => Ok(None),
            (None, Some(live)) if !is_adoptable(&live, &self.device_id) => Ok(None),
            (None, Some(live)) => match adopted(rt, name, live) {
                Ok(record) => {
                    log::info!(
                        "adopted container '{name}' found in {} with the managed label \
                         but no record",
                        rt.kind()
                    );
                    self.save(record, EventAction::EngineAdopt).await.map(Some)
                }
                Err(why) => {
                    log::warn!("container '{name}' in {} not adopted: {why}", rt.kind());
                    Ok(None)
                }
            },
            (Some(record), None) if record.state == ContainerState::Missing => Ok(None),
            (Some(mut record), None) => {
                record.state = ContainerState::Missing;
                log::info!("container '{name}' vanished from {}: missing", rt.kind());
                self.save(record, EventAction::EngineDestroy)
                    .await
                    .map(Some)
            }
            (Some(record), Some(live)) => self.follow_live(rt, record, live).await,
        }
    }

    /// Applies the engine's view to a record, enforcing a client's stop.
    async fn follow_live(
        &self,
        rt: &Arc<dyn Runtime>,
        mut record: Container,
        live: EngineContainer,
    ) -> Result<Option<Container>, CoreError> {
        let before = (record.state, record.exit_code, record.id.clone());
        record.state = live.state;
        record.exit_code = live.exit_code;
        record.id = live.id;
        let mut action = engine_action(before.0, record.state);
        if record.intent == Intent::Stopped && record.state.is_active() {
            log::warn!(
                "container '{}' was started by {} although a client stopped it: \
                 stopping it again",
                record.name,
                rt.kind()
            );
            let target =
                ContainerName::engine_id(&record.id).unwrap_or_else(|| record.name.clone());
            if let Err(e) = rt.stop(&target, None).await {
                log::warn!("stopping '{}' again failed: {e}", record.name);
            }
            record = self.read_live(rt, record).await?;
            action = EventAction::IntentStop;
        }
        // A container stopped again passed through `running`: that is news too.
        if action != EventAction::IntentStop
            && (record.state, record.exit_code, record.id.clone()) == before
        {
            return Ok(None);
        }
        self.save(record, action).await.map(Some)
    }

    /// Reconciles every container of the engine behind `rt`: those it lists with the
    /// managed label and the records of that engine not already `missing`. Returns how
    /// many records changed. Stops at the first error that means the engine or the
    /// store is unreachable; other per-container errors are logged.
    pub(crate) async fn reconcile_engine(&self, rt: &Arc<dyn Runtime>) -> Result<usize, CoreError> {
        let mut changed = 0;
        for name in &self.engine_names(rt).await? {
            match self.reconcile_name(rt, name).await {
                Ok(Some(_)) => changed += 1,
                Ok(None) => {}
                Err(
                    e
                    @ (CoreError::Runtime(RuntimeError::Unavailable { .. }) | CoreError::Store(_)),
                ) => return Err(e),
                Err(e) => log::warn!("container '{name}' not reconciled: {e}"),
            }
        }
        Ok(changed)
    }

    /// The names a full reconcile of the engine behind `rt` covers: the containers it
    /// lists with the managed label and the records of that engine not already
    /// `missing`.
    pub(crate) async fn engine_names(
        &self,
        rt: &Arc<dyn Runtime>,
    ) -> Result<BTreeSet<ContainerName>, CoreError> {
        let engine = rt.kind().engine();
        let mut names = BTreeSet::new();
        for live in rt.list_managed().await? {
            match ContainerName::parse(&live.name) {
                Ok(name) => {
                    names.insert(name);
                }
                Err(e) => log::warn!("managed container in {} not reconciled: {e}", rt.kind()),
            }
        }
        for record in self.store.list_containers().await? {
            if record.runtime.engine() == engine && record.state != ContainerState::Missing {
                names.insert(record.name);
            }
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_the_state_change() {
        use ContainerState::*;
        assert_eq!(engine_action(Running, Exited), EventAction::EngineDie);
        assert_eq!(engine_action(Exited, Exited), EventAction::EngineDie);
        assert_eq!(engine_action(Exited, Running), EventAction::EngineStart);
        assert_eq!(engine_action(Running, Missing), EventAction::EngineDestroy);
        assert_eq!(engine_action(Running, Paused), EventAction::EnginePause);
        assert_eq!(
            engine_action(Running, Restarting),
            EventAction::EngineRestarting
        );
        assert_eq!(engine_action(Running, Running), EventAction::EngineUpdate);
    }
}
