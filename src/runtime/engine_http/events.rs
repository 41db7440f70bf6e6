//! An engine's event stream: a `GET` whose body is one JSON event per line, never
//! ending, read by one task of the blocking pool into a bounded channel.

use super::client::{agent, SocketClient};
use super::errors::{error_message, transport_error};
use crate::core::error::RuntimeError;
use crate::core::runtime::EngineEvents;
use crate::runtime::event_lines::parse_event_line;
use std::io::BufRead;

/// Events an engine's stream may have queued before its reader waits for the core.
const EVENT_QUEUE: usize = 64;

/// The largest error body read when an event stream is refused.
const STREAM_ERROR_LIMIT: u64 = 64 * 1024;

/// Shuts its agent down when dropped, which interrupts a reader blocked on the socket.
struct ShutdownOnDrop(Option<ureq::Agent>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        if let Some(agent) = self.0.take() {
            agent.shutdown();
        }
    }
}

impl SocketClient {
    /// Opens the engine's event stream at `path`. The stream ends when the connection
    /// drops, and dropping it closes the connection (its own agent is shut down), which
    /// ends the reader.
    pub(crate) async fn watch(&self, path: String) -> Result<EngineEvents, RuntimeError> {
        let agent = agent(&self.socket);
        let reader_agent = agent.clone();
        let (opened_tx, opened_rx) = smol::channel::bounded(1);
        let (tx, rx) = smol::channel::bounded(EVENT_QUEUE);
        let socket = self.socket.clone();
        let (runtime, hint) = (self.runtime, self.start_hint);
        smol::unblock(move || {
            let uri = format!("http://localhost{path}");
            let mut response = match reader_agent.get(uri.as_str()).call() {
                Ok(r) => r,
                Err(e) => {
                    let _ =
                        opened_tx.send_blocking(Err(transport_error(runtime, hint, &socket, e)));
                    return;
                }
            };
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(STREAM_ERROR_LIMIT)
                    .read_to_vec()
                    .unwrap_or_default();
                let message = format!("event stream refused: {}", error_message(status, &body));
                let _ = opened_tx.send_blocking(Err(RuntimeError::Engine { runtime, message }));
                return;
            }
            if opened_tx.send_blocking(Ok(())).is_err() {
                return;
            }
            let reader = std::io::BufReader::new(response.body_mut().as_reader());
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if let Some(event) = parse_event_line(&line) {
                    if tx.send_blocking(event).is_err() {
                        break;
                    }
                }
            }
        })
        .detach();
        let opened = opened_rx
            .recv()
            .await
            .map_err(|_| RuntimeError::Unavailable {
                runtime,
                reason: "the event stream's reader ended before the engine answered".into(),
            })?;
        opened?;
        let guard = ShutdownOnDrop(Some(agent));
        Ok(Box::pin(futures_lite::stream::unfold(
            (rx, guard),
            |(rx, guard)| async move {
                let event = rx.recv().await.ok()?;
                Some((event, (rx, guard)))
            },
        )))
    }
}
