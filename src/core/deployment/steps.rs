//! The engine work of one step, forwards (create, replace, start, stop, drop), backwards
//! (undo, for a rollback or after a crash) and to the end (removing what a verified
//! generation left behind). Undo and finish tolerate steps that were journaled but not,
//! or only partly, carried out: the journal is written before the engine is touched.
//! Records are written through the core's save path (`record_save`), as the ops write
//! theirs, so each change is a container event the supervisor and subscribers see.

use super::deployer::Inner;
use super::journal::{Kept, Step};
use super::plan::Planned;
use super::spec_hash::{DEPLOYMENT_LABEL, SPEC_HASH_LABEL};
use super::types::Desired;
use super::PARKED_SUFFIX;
use crate::core::clock;
use crate::core::error::{CoreError, RuntimeError};
use crate::core::events::EventAction;
use crate::core::model::{Container, ContainerState, Health, Intent, Supervision};
use crate::core::names::ContainerName;
use crate::core::record_save::{delete_record, save_record};
use crate::core::runtime::DEVICE_LABEL;

/// Where the old container of `name` waits while its replacement is verified.
pub fn parked_name(name: &ContainerName) -> ContainerName {
    ContainerName::parse(&format!("{name}{PARKED_SUFFIX}"))
        .expect("deployment names are short enough to park (checked by validate_deployment)")
}

/// Whether an engine container name is a parked one (the reconciler leaves it alone).
pub fn is_parked(name: &str) -> bool {
    name.ends_with(PARKED_SUFFIX)
}

/// Ignores an engine's "no such container".
fn gone_ok(r: Result<(), RuntimeError>) -> Result<(), RuntimeError> {
    match r {
        Err(RuntimeError::NotFound { .. }) => Ok(()),
        other => other,
    }
}

impl Inner {
    /// Creates (and, when desired running, starts) the declared container `p` under
    /// its name, and writes its record. Returns the engine id.
    pub(super) async fn create_new(
        &self,
        p: &Planned,
        generation: u64,
    ) -> Result<String, CoreError> {
        let mut spec = p.item.spec.clone();
        spec.labels
            .insert(DEPLOYMENT_LABEL.to_owned(), generation.to_string());
        spec.labels
            .insert(SPEC_HASH_LABEL.to_owned(), p.hash.clone());
        let mut engine_spec = spec.clone();
        engine_spec
            .labels
            .insert(DEVICE_LABEL.to_owned(), self.device_id.clone());
        let id = self.rt.create(&engine_spec).await?;
        let now = clock::now_rfc3339();
        let intent = match p.item.desired {
            Desired::Running => Intent::Running,
            Desired::Stopped => Intent::Stopped,
        };
        let record = Container {
            name: spec.name.clone(),
            runtime: self.rt.kind(),
            id: id.clone(),
            image: spec.image.clone(),
            state: ContainerState::Created,
            exit_code: None,
            created_at: now.clone(),
            updated_at: now,
            spec,
            health: Health::None,
            restart_count: 0,
            last_exit_code: None,
            started_at: None,
            intent,
            supervision: Supervision {
                engine_policy_no: true,
                ..Default::default()
            },
        };
        let mut record = self.save(record, EventAction::Create).await?;
        if intent == Intent::Running {
            self.rt.start(&record.name).await?;
            record.state = ContainerState::Running;
            record.started_by_client();
            // The supervisor learns of the container here (its restarts and health
            // checks), as the transports' clients do.
            self.save(record, EventAction::Start).await?;
        }
        Ok(id)
    }

    /// Stops the old container of a `Replaced` step and parks it.
    pub(super) async fn park(&self, name: &ContainerName) -> Result<(), CoreError> {
        let parked = parked_name(name);
        // A leftover from an apply that crashed before its journal said so.
        gone_ok(self.rt.remove(&parked, true).await)?;
        gone_ok(self.rt.stop(name, None).await)?;
        self.rt.rename(name, &parked).await?;
        Ok(())
    }

    /// Starts or stops an unchanged container and records the new intent.
    pub(super) async fn set_running(&self, old: &Kept, running: bool) -> Result<String, CoreError> {
        let name = &old.record.name;
        if running {
            self.rt.start(name).await?;
        } else {
            gone_ok(self.rt.stop(name, None).await)?;
        }
        let mut record = old.restored();
        record.intent = if running {
            Intent::Running
        } else {
            Intent::Stopped
        };
        self.refresh(&mut record).await;
        let action = if running {
            EventAction::Start
        } else {
            EventAction::Stop
        };
        Ok(self.save(record, action).await?.id)
    }

    /// Reads the engine's state into a record (left as it is when the engine cannot say).
    async fn refresh(&self, record: &mut Container) {
        match self.rt.inspect(&record.name).await {
            Ok(live) => {
                record.id = live.id;
                record.state = live.state;
                record.exit_code = live.exit_code;
            }
            Err(RuntimeError::NotFound { .. }) => record.state = ContainerState::Missing,
            Err(e) => log::warn!("deployment: cannot inspect '{}': {e}", record.name),
        }
    }

    /// Saves a record and publishes `action` (the service's save path).
    pub(super) async fn save(
        &self,
        record: Container,
        action: EventAction,
    ) -> Result<Container, CoreError> {
        save_record(&*self.store, &self.events, record, action).await
    }

    /// Deletes the record of a container removed from the engine and publishes it.
    async fn delete(&self, name: &ContainerName) -> Result<(), CoreError> {
        match self.store.get_container(name).await? {
            Some(record) => delete_record(&*self.store, &self.events, record).await,
            None => Ok(()),
        }
    }

    /// Undoes one begun step; errors are returned for the status message, and the next
    /// steps are undone all the same.
    pub(super) async fn undo(&self, step: &Step) -> Result<(), CoreError> {
        match step {
            Step::Created { name } => {
                let _lock = self.names.lock(name.as_str()).await;
                gone_ok(self.rt.remove(name, true).await)?;
                self.delete(name).await?;
            }
            Step::Replaced { name, parked, old } => {
                let _lock = self.names.lock(name.as_str()).await;
                if self.rt.inspect(parked).await.is_ok() {
                    if let Ok(new) = self.rt.inspect(name).await {
                        if new.id != old.record.id {
                            gone_ok(self.rt.remove(name, true).await)?;
                        }
                    }
                    self.rt.rename(parked, name).await?;
                }
                self.restore(old).await?;
            }
            Step::Started { old } | Step::Stopped { old } | Step::Dropped { old } => {
                let _lock = self.names.lock(old.record.name.as_str()).await;
                if old.intent != Intent::Running {
                    gone_ok(self.rt.stop(&old.record.name, None).await)?;
                }
                self.restore(old).await?;
            }
        }
        Ok(())
    }

    /// Puts a kept record back and brings its container to the state it was in.
    async fn restore(&self, old: &Kept) -> Result<(), CoreError> {
        let mut record = old.restored();
        if old.intent == Intent::Running && old.record.state == ContainerState::Running {
            self.rt.start(&record.name).await?;
        }
        self.refresh(&mut record).await;
        let action = if record.state == ContainerState::Running {
            EventAction::Start
        } else {
            EventAction::Stop
        };
        self.save(record, action).await?;
        Ok(())
    }

    /// Removes what a verified generation leaves behind: parked old containers and
    /// dropped ones (engine and record).
    pub(super) async fn finish(&self, step: &Step) -> Result<(), CoreError> {
        match step {
            Step::Replaced { parked, .. } => gone_ok(self.rt.remove(parked, true).await)?,
            Step::Dropped { old } => {
                let name = &old.record.name;
                let _lock = self.names.lock(name.as_str()).await;
                gone_ok(self.rt.remove(name, true).await)?;
                self.delete(name).await?;
            }
            Step::Created { .. } | Step::Started { .. } | Step::Stopped { .. } => {}
        }
        Ok(())
    }
}
