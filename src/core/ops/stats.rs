//! `stats`: one resource usage sample of a managed container.

use crate::core::error::CoreError;
use crate::core::model::RuntimeKind;
use crate::core::names::ContainerName;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn stats(
        &self,
        requested: Option<RuntimeKind>,
        name: &ContainerName,
    ) -> Result<OpResult, CoreError> {
        let (record, rt) = self.managed(requested, name).await?;
        let (target, _) = self.address(rt, &record).await?;
        Ok(OpResult::Stats(rt.stats(&target).await?))
    }
}
