//! Container events as the `ContainerEvent(s json)` signal on `/io/ctrmgr/Agent1`.

use super::interface::AgentObject;
use super::OBJECT_PATH;
use crate::core::events::ContainerEvent;
use zbus::object_server::SignalEmitter;

/// Emits every event from `events` as a signal on `conn` until the channel closes.
/// A signal that cannot be sent (the bus went away) is logged and skipped; the
/// connection's watcher notices the loss and reconnects.
pub async fn forward(conn: zbus::Connection, events: smol::channel::Receiver<ContainerEvent>) {
    let emitter = match SignalEmitter::new(&conn, OBJECT_PATH) {
        Ok(e) => e,
        Err(e) => {
            log::error!(
                "D-Bus: no signal emitter for {OBJECT_PATH}: {e}; events are not signalled"
            );
            return;
        }
    };
    while let Ok(event) = events.recv().await {
        let json = match serde_json::to_string(&event) {
            Ok(json) => json,
            Err(e) => {
                log::warn!("D-Bus: event for '{}' not signalled: {e}", event.name);
                continue;
            }
        };
        if let Err(e) = AgentObject::container_event(&emitter, &json).await {
            log::warn!("D-Bus: ContainerEvent for '{}' not sent: {e}", event.name);
        }
    }
}
