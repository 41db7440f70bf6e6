//! The one way a container record is written: stamped, saved and published as a
//! container event. The ops and the reconciler write through
//! [`ContainerService::save`](super::service::ContainerService), the deployer (which
//! has no service) through these functions directly, so a deployment's create, start,
//! stop, restore and removal reach event subscribers and the supervisor like a client's.

use super::clock;
use super::error::CoreError;
use super::events::{ContainerEvent, EventAction, EventBus};
use super::model::{Container, ContainerState, Health};
use super::store::Store;

/// Saves a record (stamping `updated_at`, keeping the last exit code, and clearing
/// the health of a container that no longer runs) and publishes the change.
pub(crate) async fn save_record(
    store: &dyn Store,
    events: &EventBus,
    mut record: Container,
    action: EventAction,
) -> Result<Container, CoreError> {
    record.updated_at = clock::now_rfc3339();
    if record.exit_code.is_some() {
        record.last_exit_code = record.exit_code;
    }
    if !record.state.is_active() {
        record.health = Health::None;
    }
    store.put_container(&record).await?;
    events.publish(ContainerEvent::of(action, &record));
    Ok(record)
}

/// Deletes the record of a container the engine no longer has and publishes `remove`.
pub(crate) async fn delete_record(
    store: &dyn Store,
    events: &EventBus,
    mut record: Container,
) -> Result<(), CoreError> {
    store.delete_container(&record.name).await?;
    record.state = ContainerState::Missing;
    record.updated_at = clock::now_rfc3339();
    events.publish(ContainerEvent::of(EventAction::Remove, &record));
    Ok(())
}
