//! `kill`: sends a signal to a managed container. A signal that ends the process, or a
//! container no longer running after it, records the intent `stopped`; a signal such as
//! `SIGHUP` that the process handles leaves the intent as it was.

use crate::core::error::CoreError;
use crate::core::events::EventAction;
use crate::core::model::{Intent, RuntimeKind};
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
        let target = match self.op_target(rt, &record).await {
            Ok(target) => target,
            Err(e) => return Err(self.fail_missing(record, e).await),
        };
        if let Err(e) = rt.kill(&target, signal).await {
            return Err(self.fail_missing(record, e).await);
        }
        let mut record = self.read_live(rt, record).await?;
        if ends_the_process(signal) || !record.state.is_active() {
            record.intent = Intent::Stopped;
        }
        let record = self.save(record, EventAction::Kill).await?;
        Ok(OpResult::Container(Box::new(record)))
    }
}

/// Whether a signal ends a process that does not handle it specially.
fn ends_the_process(signal: SignalName) -> bool {
    matches!(
        signal.as_str(),
        "SIGKILL" | "SIGTERM" | "SIGINT" | "SIGQUIT"
    )
}
