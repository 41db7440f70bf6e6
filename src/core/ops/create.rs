//! `create`: the name must be free on the device; the engine creates, the record is
//! written, and with `start` the container is started (a failed start keeps the record).
//! A record that cannot be written undoes the create: nothing runs without a record.

use crate::core::clock;
use crate::core::error::CoreError;
use crate::core::events::EventAction;
use crate::core::model::{
    Container, ContainerSpec, ContainerState, Health, Intent, RuntimeKind, Supervision,
};
use crate::core::names::ContainerName;
use crate::core::reply::OpResult;
use crate::core::runtime::DEVICE_LABEL;
use crate::core::service::ContainerService;

impl ContainerService {
    pub(in crate::core) async fn create(
        &self,
        requested: Option<RuntimeKind>,
        spec: &ContainerSpec,
        start: bool,
    ) -> Result<OpResult, CoreError> {
        let _lock = self.lock_name(&spec.name).await;
        if let Some(existing) = self.store.get_container(&spec.name).await? {
            return Err(CoreError::NameInUse {
                name: spec.name.to_string(),
                runtime: existing.runtime.as_str(),
            });
        }
        // Held until the record is written: concurrent creates count each other.
        let (pending, _slot) = self.pending_creates.join();
        let managed = self.store.count_containers().await? + pending;
        self.policy.check_create(spec, managed)?;
        let rt = self.runtime_for_new(requested)?;
        // The engine's copy carries this device's label; the record keeps the client's spec.
        let mut engine_spec = spec.clone();
        engine_spec
            .labels
            .insert(DEVICE_LABEL.to_owned(), self.device_id.clone());
        let id = rt.create(&engine_spec).await?;
        let now = clock::now_rfc3339();
        // The new container by its full id from here on (see core/address.rs).
        let target = ContainerName::engine_id(&id).unwrap_or_else(|| spec.name.clone());
        let record = Container {
            name: spec.name.clone(),
            runtime: rt.kind(),
            id,
            image: spec.image.clone(),
            state: ContainerState::Created,
            exit_code: None,
            created_at: now.clone(),
            updated_at: now,
            spec: spec.clone(),
            health: Health::None,
            restart_count: 0,
            last_exit_code: None,
            started_at: None,
            intent: Intent::Created,
            supervision: Supervision {
                engine_policy_no: true,
                ..Default::default()
            },
        };
        let record = match self.save(record, EventAction::Create).await {
            Ok(record) => record,
            Err(e) => {
                // No record, no container: undo the create so nothing runs unmanaged.
                if let Err(undo) = rt.remove(&target, true).await {
                    log::error!(
                        "container '{}' created without a record and not removed: {undo}",
                        spec.name
                    );
                }
                return Err(e);
            }
        };
        if !start {
            return Ok(OpResult::Container(Box::new(record)));
        }
        if let Err(source) = rt.start(&target).await {
            return Err(CoreError::StartAfterCreate {
                name: spec.name.to_string(),
                source,
            });
        }
        let mut record = Container {
            intent: Intent::Running,
            ..record
        };
        record.started_by_client();
        let record = self.save_started(rt, record, EventAction::Start).await?;
        Ok(OpResult::Container(Box::new(record)))
    }
}
