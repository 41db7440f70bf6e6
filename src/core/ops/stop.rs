//! `stop`: stops a managed container (SIGTERM, SIGKILL after the timeout), then reads its
//! exit code (neither the stop call nor the record tells it).

use crate::core::error::CoreError;
use crate::core::events::EventAction;
use crate::core::model::{Intent, RuntimeKind};
use crate::core::names::ContainerName;
use crate::core::reply::OpResult;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn stop(
        &self,
        requested: Option<RuntimeKind>,
        name: &ContainerName,
        timeout_s: Option<u32>,
    ) -> Result<OpResult, CoreError> {
        let _lock = self.lock_name(name).await;
        let (mut record, rt) = self.managed(requested, name).await?;
        let target = match self.op_target(rt, &record).await {
            Ok(target) => target,
            Err(e) => return Err(self.fail_missing(record, e).await),
        };
        if let Err(e) = rt.stop(&target, timeout_s).await {
            return Err(self.fail_missing(record, e).await);
        }
        record.intent = Intent::Stopped;
        let record = self.refresh_cheaply(rt, record, EventAction::Stop).await?;
        Ok(OpResult::Container(Box::new(record)))
    }
}
