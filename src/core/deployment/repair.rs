//! A deployment-owned container removed behind the agent's back is created again from
//! the committed generation: declared means it runs (an imperative container is only
//! marked `missing`). The supervisor asks for it when it sees such a record.

use super::deployer::Deployer;
use super::journal;
use super::plan::{owner_generation, Planned};
use super::spec_hash::spec_hash;
use super::types::{Action, Phase};
use crate::core::error::CoreError;
use crate::core::model::ContainerState;
use crate::core::names::ContainerName;

impl Deployer {
    /// Creates `name` again from the committed generation when its record says the
    /// engine lost it; `true` when it did. Nothing happens while an apply is under way
    /// (the apply decides), when the committed generation does not name the container,
    /// or when its record is not `missing`. The new container keeps the generation
    /// label of the one it replaces, so a later unchanged generation leaves it alone.
    pub async fn recreate_lost(&self, name: &ContainerName) -> Result<bool, CoreError> {
        let inner = &self.inner;
        let Some(_applying) = inner.busy.try_lock_arc() else {
            return Ok(false);
        };
        let journal = journal::load(&*inner.store).await?;
        let Some(committed) = journal.committed.as_ref() else {
            return Ok(false);
        };
        let Some(item) = committed.containers.iter().find(|c| c.spec.name == *name) else {
            return Ok(false);
        };
        let _lock = inner.names.lock(name.as_str()).await;
        let Some(record) = inner.store.get_container(name).await? else {
            return Ok(false);
        };
        if record.state != ContainerState::Missing {
            return Ok(false);
        }
        let generation = owner_generation(&record)
            .and_then(|g| g.parse().ok())
            .unwrap_or(committed.generation);
        let planned = Planned {
            item: item.clone(),
            hash: spec_hash(&item.spec),
            action: Action::Create,
            existing: None,
        };
        inner.create_new(&planned, generation).await?;
        log::warn!(
            "deployment: container '{name}' of generation {} was removed outside the agent; \
             created again",
            committed.generation
        );
        inner.publish(
            committed.generation,
            Phase::Done,
            Some((name.as_str(), Action::Create.as_str())),
        );
        Ok(true)
    }
}
