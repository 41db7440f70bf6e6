//! Container events as the `ContainerEvent(s json)` signal on `/io/ctrmgr/Agent1`.

use super::interface::AgentObject;
use super::OBJECT_PATH;
use crate::api::event_feed::forward_json;
use crate::core::events::Event;
use zbus::object_server::SignalEmitter;

/// Emits every event from `events` as a signal on `conn` until the channel closes.
/// A signal that cannot be sent (the bus went away) is logged and skipped; the
/// connection's watcher notices the loss and reconnects.
pub async fn forward(conn: zbus::Connection, events: smol::channel::Receiver<Event>) {
    let emitter = match SignalEmitter::new(&conn, OBJECT_PATH) {
        Ok(e) => e,
        Err(e) => {
            log::error!(
                "D-Bus: no signal emitter for {OBJECT_PATH}: {e}; events are not signalled"
            );
            return;
        }
    };
    let emitter = &emitter;
    forward_json(events, "D-Bus", |json| async move {
        AgentObject::container_event(emitter, &json)
            .await
            .map_err(|e| e.to_string())
    })
    .await;
}
