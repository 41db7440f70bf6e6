//! On start, the committed generation boots: every container it declares `running`
//! that the engine has but does not run (a power cycle stops containers whose restart
//! policy is `no`, the engine starts none of them since the agent supervises restarts)
//! is started again from its local image, with no pull, so a device without network
//! runs its stored generation. A client's `stop` is respected (its record's intent is
//! `stopped`); a container the engine lost is left to the supervisor, which creates it
//! again from the committed generation (see `repair`).

use super::deployer::Inner;
use super::journal::Journal;
use super::plan::owner_generation;
use super::types::Desired;
use crate::core::error::{CoreError, RuntimeError};
use crate::core::events::EventAction;
use crate::core::model::{ContainerState, Intent};
use crate::core::names::ContainerName;

impl Inner {
    /// Starts the committed generation's stopped `running` containers; returns the
    /// names started. A container that cannot be started is logged and the others are
    /// started all the same.
    pub(super) async fn boot(&self, journal: &Journal) -> Vec<ContainerName> {
        let Some(committed) = journal.committed.as_ref() else {
            return Vec::new();
        };
        let mut ordered: Vec<_> = committed
            .containers
            .iter()
            .filter(|c| c.desired == Desired::Running)
            .collect();
        ordered.sort_by_key(|c| c.order);
        let mut started = Vec::new();
        for item in ordered {
            let name = &item.spec.name;
            match self.boot_one(name).await {
                Ok(true) => started.push(name.clone()),
                Ok(false) => {}
                Err(e) => log::warn!(
                    "deployment: container '{name}' of generation {} not started on boot: {e}",
                    committed.generation
                ),
            }
        }
        started
    }

    /// Starts `name` when its record wants it running and the engine has it stopped.
    async fn boot_one(&self, name: &ContainerName) -> Result<bool, CoreError> {
        let _lock = self.names.lock(name.as_str()).await;
        let Some(mut record) = self.store.get_container(name).await? else {
            return Ok(false);
        };
        if record.intent != Intent::Running || owner_generation(&record).is_none() {
            return Ok(false);
        }
        let live = match self.rt.inspect(name).await {
            Ok(live) => live,
            Err(RuntimeError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        if !matches!(
            live.state,
            ContainerState::Created | ContainerState::Exited | ContainerState::Dead
        ) {
            return Ok(false);
        }
        self.rt.start(name).await?;
        record.id = live.id;
        record.state = ContainerState::Running;
        record.exit_code = None;
        record.started_by_client();
        // The supervisor learns of the run here (its restarts and health checks).
        self.save(record, EventAction::Start).await?;
        Ok(true)
    }
}
