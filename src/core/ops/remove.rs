//! `remove`: removes the container from its engine, then its record. A container the
//! engine no longer has is not an error: the record goes either way (and a container
//! that merely answers to the recorded name or id prefix is left alone). A container
//! that a deployment owns is `conflict`: only a generation without it removes it.

use crate::core::clock;
use crate::core::deployment::plan::owner_generation;
use crate::core::error::{CoreError, RuntimeError};
use crate::core::events::{ContainerEvent, EventAction};
use crate::core::model::{ContainerState, RuntimeKind};
use crate::core::names::ContainerName;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn remove(
        &self,
        requested: Option<RuntimeKind>,
        name: &ContainerName,
        force: bool,
    ) -> Result<OpResult, CoreError> {
        let _lock = self.lock_name(name).await;
        let (mut record, rt) = self.managed(requested, name).await?;
        if let Some(generation) = owner_generation(&record) {
            return Err(CoreError::OwnedByDeployment {
                name: name.to_string(),
                generation: generation.to_owned(),
            });
        }
        let removed = match self.op_target(rt, &record).await {
            Ok(target) => rt.remove(&target, force).await,
            Err(e) => Err(e),
        };
        match removed {
            Ok(()) | Err(RuntimeError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.store.delete_container(name).await?;
        record.state = ContainerState::Missing;
        record.updated_at = clock::now_rfc3339();
        self.events()
            .publish(ContainerEvent::of(EventAction::Remove, &record));
        Ok(OpResult::Removed { name: name.clone() })
    }
}
