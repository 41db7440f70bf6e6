//! `inspect`: the record when the reconciler keeps it live (see
//! `core::reconcile_live`), else the live state from the engine, saved when it changed.

use crate::core::error::CoreError;
use crate::core::events::EventAction;
use crate::core::model::RuntimeKind;
use crate::core::names::ContainerName;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn inspect(
        &self,
        requested: Option<RuntimeKind>,
        name: &ContainerName,
    ) -> Result<OpResult, CoreError> {
        let _lock = self.lock_name(name).await;
        let (record, rt) = self.managed(requested, name).await?;
        if self.live.is_live(record.runtime.engine(), name) {
            return Ok(OpResult::Container(Box::new(record)));
        }
        let before = (record.state, record.exit_code);
        let mut record = self.read_live(rt, record).await?;
        if (record.state, record.exit_code) != before {
            record = self.save(record, EventAction::Inspect).await?;
        }
        Ok(OpResult::Container(Box::new(record)))
    }
}
