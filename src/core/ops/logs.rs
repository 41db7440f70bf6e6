//! `logs`: log lines of a managed container.

use crate::core::error::CoreError;
use crate::core::model::RuntimeKind;
use crate::core::names::ContainerName;
use crate::core::reply::OpResult;
use crate::core::runtime::LogOptions;
use crate::core::service::ContainerService;
use crate::core::since::Since;

impl ContainerService {
    pub(in crate::core) async fn logs(
        &self,
        requested: Option<RuntimeKind>,
        name: &ContainerName,
        tail: Option<u32>,
        since: Option<Since>,
    ) -> Result<OpResult, CoreError> {
        let (record, rt) = self.managed(requested, name).await?;
        let (target, _) = self.address(rt, &record).await?;
        let lines = rt.logs(&target, &LogOptions { tail, since }).await?;
        Ok(OpResult::Logs { lines })
    }
}
