//! An engine's event stream on the agent's one executor: a `GET` over an async unix
//! socket (`async_io::Async<UnixStream>`) whose body is one JSON event per line, never
//! ending, read as the core asks for events, so no thread is parked on it.

use super::errors::{error_message, io_error};
use super::stream_body::{read_head, BodyLines};
use super::SocketClient;
use crate::core::error::RuntimeError;
use crate::core::runtime::EngineEvents;
use crate::runtime::event_lines::parse_event_line;
use async_io::Async;
use futures_lite::io::{AsyncWriteExt, BufReader};
use std::os::unix::net::UnixStream;

/// The largest error body read when an event stream is refused.
const STREAM_ERROR_LIMIT: usize = 64 * 1024;

/// The reader of an open stream's lines.
type Lines = BodyLines<BufReader<Async<UnixStream>>>;

impl SocketClient {
    /// Opens the engine's event stream at `path`. The stream ends when the connection
    /// drops or the engine sends something that is not HTTP; dropping it closes the
    /// connection. Opening has no deadline of its own: the caller bounds it (dropping
    /// the future closes the socket).
    pub(crate) async fn watch(&self, path: String) -> Result<EngineEvents, RuntimeError> {
        let fail = |e: std::io::Error| io_error(self.runtime, self.start_hint, &self.socket, e);
        let mut stream = Async::<UnixStream>::connect(&self.socket)
            .await
            .map_err(|e| {
                let text = e.to_string();
                let text = text.split(" (os error").next().unwrap_or_default();
                fail(std::io::Error::new(
                    e.kind(),
                    format!("cannot connect to {}: {text}", self.socket.display()),
                ))
            })?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ctrmgr\r\n\
             Accept: application/json\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(fail)?;
        let mut reply = read_head(BufReader::new(stream)).await.map_err(fail)?;
        if !(200..300).contains(&reply.status) {
            let body = reply
                .read_to_limit(STREAM_ERROR_LIMIT)
                .await
                .unwrap_or_default();
            return Err(RuntimeError::Engine {
                runtime: self.runtime,
                message: format!(
                    "event stream refused: {}",
                    error_message(reply.status, &body)
                ),
            });
        }
        let runtime = self.runtime;
        Ok(Box::pin(futures_lite::stream::unfold(
            reply.lines(),
            move |mut lines: Lines| async move {
                loop {
                    match lines.next_line().await {
                        Ok(Some(line)) => {
                            if let Some(event) = parse_event_line(&line) {
                                return Some((event, lines));
                            }
                        }
                        Ok(None) => return None,
                        Err(e) => {
                            log::warn!("{runtime} event stream unreadable: {e}");
                            return None;
                        }
                    }
                }
            },
        )))
    }
}
