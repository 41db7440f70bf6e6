//! `kill`: sends a signal to a managed container.

use crate::core::error::CoreError;
use crate::core::model::RuntimeKind;
use crate::core::names::{ContainerName, SignalName};
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn kill(
        &self,
        requested: Option<RuntimeKind>,
        name: &ContainerName,
        signal: SignalName,
    ) -> Result<OpResult, CoreError> {
        let _lock = self.lock_name(name).await;
        let (record, rt) = self.managed(requested, name).await?;
        if let Err(e) = rt.kill(name, signal).await {
            return Err(self.fail_missing(record, e).await);
        }
        let record = self.refresh(rt, record, "kill").await?;
        Ok(OpResult::Container(Box::new(record)))
    }
}
