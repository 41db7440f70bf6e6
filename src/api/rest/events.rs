//! `GET /v1/events`: the core's events (every kind) as server-sent events
//! (`text/event-stream`): one `data: <json>` per event, a comment heartbeat after 30 s
//! without one so proxies keep the connection open, and the end of the stream when the
//! agent shuts down. The body is our own async reader (tide's `sse` module would spawn
//! onto async-std).

use super::RestState;
use crate::api::shutdown::Shutdown;
use crate::core::events::Event;
use futures_lite::io::{AsyncBufRead, AsyncRead};
use futures_lite::{ready, Stream};
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;
use tide::{Request, Response, StatusCode};

/// Longest silence on the stream before a heartbeat comment.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// What the stream sends first, so a client knows it is subscribed.
const OPENING: &[u8] = b": ctrmgr events\n\n";

/// Answers with the event stream of this connection's own subscription.
pub(super) async fn stream(req: Request<RestState>) -> tide::Result {
    let state = req.state();
    let events = state.pipeline.service().events().subscribe();
    let body = SseBody::new(Box::pin(chunks(events, state.shutdown.clone())));
    let mut res = Response::new(StatusCode::Ok);
    res.set_body(tide::Body::from_reader(body, None));
    res.set_content_type("text/event-stream");
    res.insert_header("Cache-Control", "no-cache");
    Ok(res)
}

/// One event as an SSE message.
fn message(event: &Event) -> Vec<u8> {
    let json = serde_json::to_string(event)
        .unwrap_or_else(|e| format!(r#"{{"error":"event not serializable: {e}"}}"#));
    format!("data: {json}\n\n").into_bytes()
}

/// The stream's chunks: the opening comment, then each event or a heartbeat, until the
/// subscription closes or the agent shuts down.
fn chunks(
    events: smol::channel::Receiver<Event>,
    shutdown: Shutdown,
) -> impl Stream<Item = Vec<u8>> + Send {
    let opening = futures_lite::stream::once(OPENING.to_vec());
    let rest = futures_lite::stream::unfold((events, shutdown), |(events, shutdown)| async move {
        let next = async { events.recv().await.ok().map(|e| message(&e)) };
        let beat = async {
            smol::Timer::after(HEARTBEAT).await;
            Some(b": keep-alive\n\n".to_vec())
        };
        let stopped = async {
            shutdown.wait().await;
            None
        };
        let chunk = smol::future::or(stopped, smol::future::or(next, beat)).await?;
        Some((chunk, (events, shutdown)))
    });
    futures_lite::StreamExt::chain(opening, rest)
}

/// The response body: reads the chunks of a stream as bytes. The `Mutex` makes it
/// `Sync` as tide asks; it is only ever reached through `&mut`, never locked.
struct SseBody {
    stream: Mutex<Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl SseBody {
    fn new(stream: Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>) -> Self {
        Self {
            stream: Mutex::new(stream),
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl AsyncBufRead for SseBody {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.pos >= this.chunk.len() {
            let stream = this
                .stream
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match ready!(stream.as_mut().poll_next(cx)) {
                Some(chunk) => {
                    this.chunk = chunk;
                    this.pos = 0;
                }
                None => return Poll::Ready(Ok(&[])),
            }
        }
        Poll::Ready(Ok(&this.chunk[this.pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.chunk.len());
    }
}

impl AsyncRead for SseBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{ContainerState, RuntimeKind};
    use futures_lite::AsyncReadExt;

    #[test]
    fn events_then_end_at_shutdown() {
        smol::block_on(async {
            let (tx, rx) = smol::channel::bounded(4);
            let (trigger, shutdown) = Shutdown::new();
            let mut body = SseBody::new(Box::pin(chunks(rx, shutdown)));
            let event = crate::core::events::ContainerEvent {
                action: crate::core::events::EventAction::EngineDie,
                name: "web".into(),
                runtime: RuntimeKind::DockerApi,
                state: ContainerState::Exited,
                exit_code: Some(137),
                time: "2026-11-29T10:00:00Z".into(),
            };
            tx.send(event.into()).await.unwrap();
            let mut buf = vec![0u8; 512];
            let mut text = String::new();
            while !text.ends_with("}\n\n") {
                let n = body.read(&mut buf).await.unwrap();
                text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
            }
            assert_eq!(
                text,
                ": ctrmgr events\n\ndata: {\"kind\":\"container\",\"action\":\"engine:die\",\"name\":\"web\",\
                 \"runtime\":\"docker-api\",\"state\":\"exited\",\"exit_code\":137,\
                 \"time\":\"2026-11-29T10:00:00Z\"}\n\n"
            );
            trigger.trigger();
            let mut rest = Vec::new();
            body.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty());
        });
    }
}
