//! The agent's events as JSON for the transports that push them (MQTT's events topic,
//! D-Bus's `ContainerEvent` signal): one loop, one encoding, one way of logging a loss.

use crate::core::events::Event;
use std::future::Future;

/// Sends every event from `events` as JSON with `send` until the channel closes. An
/// event that cannot be encoded or sent is logged (prefixed with `transport`) and
/// skipped: the next one may go.
pub(crate) async fn forward_json<F, Fut>(
    events: smol::channel::Receiver<Event>,
    transport: &str,
    mut send: F,
) where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    while let Ok(event) = events.recv().await {
        let json = match serde_json::to_string(&event) {
            Ok(json) => json,
            Err(e) => {
                log::warn!(
                    "{transport}: {} event not encoded: {e}",
                    event.kind().as_str()
                );
                continue;
            }
        };
        if let Err(e) = send(json).await {
            log::warn!("{transport}: {} event not sent: {e}", event.kind().as_str());
        }
    }
}
