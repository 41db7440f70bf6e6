//! Addressing a recorded container on its engine: by its recorded full id, never by its
//! name alone (both engines resolve a name they do not know as an id prefix, so after a
//! `docker rm` behind the agent's back `db` could reach a container whose id starts with
//! `db`), and only after the engine confirmed that this container still has the
//! recorded name and this device's labels. An op on a record the reconciler keeps live
//! (see `core::reconcile_live`) skips that look-up: the record already says what the
//! engine last said of the container (issue 19).

use super::error::RuntimeError;
use super::model::{Container, ContainerState};
use super::names::ContainerName;
use super::runtime::{EngineContainer, Runtime, DEVICE_LABEL, MANAGED_LABEL};
use super::service::ContainerService;
use std::sync::Arc;

impl ContainerService {
    /// The engine reference an op on `record`'s container uses. While the record is live
    /// (the engine's event stream is followed and caught up, no event for the name
    /// waits) and not `missing`, its recorded full id with no engine call: the engine
    /// resolves a full id to exactly that container, whose labels (this device's) cannot
    /// change, and a removal would have queued the name. Otherwise [`Self::address`]
    /// asks the engine. A rename behind the agent's back is not an event of the recorded
    /// name: until the next resync an op reaches the renamed container by its id, still
    /// this device's own container.
    pub(super) async fn op_target(
        &self,
        rt: &Arc<dyn Runtime>,
        record: &Container,
    ) -> Result<ContainerName, RuntimeError> {
        if record.state != ContainerState::Missing
            && self.live.is_live(record.runtime.engine(), &record.name)
        {
            if let Some(id) = ContainerName::engine_id(&record.id) {
                return Ok(id);
            }
        }
        Ok(self.address(rt, record).await?.0)
    }

    /// The engine reference of `record`'s container (its full id) and its live state.
    /// A container the engine does not have, or whose name or labels are not the
    /// recorded ones, is `NotFound`: nothing is done to a container that is not ours.
    pub(super) async fn address(
        &self,
        rt: &Arc<dyn Runtime>,
        record: &Container,
    ) -> Result<(ContainerName, EngineContainer), RuntimeError> {
        // A record always holds the full id the engine gave at create or adoption; the
        // name is only a fallback for a record without one, and is checked like an id.
        let by = ContainerName::engine_id(&record.id).unwrap_or_else(|| record.name.clone());
        let live = rt.inspect(&by).await?;
        let label = |key: &str| live.labels.get(key).map(String::as_str);
        let ours = live.name == record.name.as_str()
            && label(MANAGED_LABEL) == Some("true")
            && label(DEVICE_LABEL) == Some(self.device_id());
        if !ours {
            log::warn!(
                "container '{}': the engine's container {} is '{}' with labels {:?}, not the \
                 recorded one; not acting on it",
                record.name,
                live.id,
                live.name,
                live.labels
            );
            return Err(RuntimeError::NotFound {
                runtime: rt.kind(),
                what: format!(
                    "container '{}' (the recorded container is gone; the engine's container \
                     under that reference is not managed by this device)",
                    record.name
                ),
            });
        }
        let target = ContainerName::engine_id(&live.id).unwrap_or(by);
        Ok((target, live))
    }
}
