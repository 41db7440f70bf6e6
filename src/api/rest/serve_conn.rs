//! One REST connection's request loop: HTTP/1.1 keep-alive with `async_h1`'s parser and
//! encoder (without its header timer: [`serve_one`]), each request body read (bounded
//! by `rest.max_body_bytes` and `rest.request_timeout_s`) before it takes one of the
//! `rest.max_in_flight` permits, event streams in their own pool
//! (`rest.max_event_streams`), and at shutdown the reply in flight finished and marked
//! `Connection: close`.

use super::connections::{Conn, Guarded};
use super::head::{HeadReader, CONTINUE};
use super::RestState;
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::reply::Reply;
use async_h1::server::{decode, Encoder};
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::lock::SemaphoreGuardArc;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tide::http::{Request, Response, StatusCode};

/// The route of the event streams.
const EVENTS_ROUTE: &str = "/v1/events";

/// Serves the requests of one admitted connection until it closes, times out, is
/// evicted while idle, or the agent shuts down (after the reply in flight).
pub(super) async fn run<S>(app: tide::Server<RestState>, stream: Guarded<S>, conn: Arc<Conn>)
where
    S: AsyncRead + AsyncWrite + Clone + Send + Sync + Unpin + 'static,
{
    // The connection's event-stream slot, held until it closes once it streamed events.
    let stream_slot: Arc<Mutex<Option<SemaphoreGuardArc>>> = Arc::default();
    let endpoint = |req: Request| respond(app.clone(), stream_slot.clone(), req);
    let mut stream = HeadReader::new(stream);
    loop {
        let one = async { Some(serve_one(&mut stream, &endpoint).await) };
        let closed = async {
            conn.closed().await;
            None
        };
        match smol::future::or(closed, one).await {
            Some(Ok(true)) if conn.set_idle() => {}
            None | Some(Ok(_)) => break,
            Some(Err(e)) => {
                log::debug!("REST connection ended: {e}");
                break;
            }
        }
    }
    conn.set_idle();
}

/// Reads one request, answers it and drops what the handler left of its body; `true`
/// when the connection stays open for the next one (neither side said
/// `Connection: close`).
///
/// This is `async_h1::server::Server::accept_one` without its header timeout, which is
/// an async-io 1 `Timer` that `ServerOptions` cannot turn off: its first use would start
/// async-io 1's reactor thread (a second `async-io` thread, for good). The [`Guarded`]
/// stream already bounds both waits that timer covered: for a request to begin
/// (`rest.idle_timeout_s`) and for all of it to arrive (`rest.request_timeout_s`). No
/// protocol upgrade is answered (the API has none), so none is handled. `Expect:
/// 100-continue` is answered here too (see [`super::head`]).
async fn serve_one<S, F, Fut>(
    io: &mut HeadReader<Guarded<S>>,
    endpoint: &F,
) -> tide::http::Result<bool>
where
    S: AsyncRead + AsyncWrite + Clone + Send + Sync + Unpin + 'static,
    F: Fn(Request) -> Fut,
    Fut: Future<Output = tide::http::Result<Response>>,
{
    if io.read_head().await? {
        io.write_all(CONTINUE).await?;
    }
    let Some((req, mut body)) = decode(io.clone()).await? else {
        return Ok(false);
    };
    let says_close = |value: Option<&tide::http::headers::HeaderValues>| {
        value.is_some_and(|v| v.as_str().eq_ignore_ascii_case("close"))
    };
    let client_closes = says_close(req.header("Connection"));
    let method = req.method();
    let res = endpoint(req).await?;
    let we_close = says_close(res.header("Connection"));
    futures_lite::io::copy(&mut Encoder::new(res, method), &mut io.clone()).await?;
    futures_lite::io::copy(&mut body, &mut futures_lite::io::sink()).await?;
    Ok(!(client_closes || we_close))
}

/// Reads the body, waits for a permit (or takes an event-stream slot) and runs the app.
async fn respond(
    app: tide::Server<RestState>,
    stream_slot: Arc<Mutex<Option<SemaphoreGuardArc>>>,
    mut req: Request,
) -> tide::http::Result<Response> {
    let state = app.state().clone();
    let _permit = if req.url().path() == EVENTS_ROUTE {
        let Some(slot) = state.event_streams.try_acquire_arc() else {
            return Ok(busy(format!(
                "{} event streams are open already (rest.max_event_streams); retry later",
                state.max_event_streams
            )));
        };
        *stream_slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(slot);
        None
    } else {
        read_body(&mut req, state.max_body_bytes).await?;
        Some(state.permits.acquire_arc().await)
    };
    let mut res: Response = app.respond(req).await?;
    if state.shutdown.is_triggered() {
        res.insert_header("Connection", "close");
    }
    Ok(res)
}

/// Reads the whole body into memory, at most `limit + 1` bytes (the handler answers
/// `too_large` past `limit`; a declared length over it is not read at all).
async fn read_body(req: &mut Request, limit: usize) -> std::io::Result<()> {
    match req.len() {
        Some(0) => return Ok(()),
        Some(len) if len > limit => return Ok(()),
        _ => {}
    }
    let mut body = Vec::new();
    req.take_body()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .await?;
    req.set_body(body);
    Ok(())
}

/// A 503 envelope asking the caller to come back.
fn busy(message: String) -> Response {
    let reply = Reply::err(None, ErrorBody::new(ErrorCode::Internal, message));
    let mut res = Response::new(StatusCode::ServiceUnavailable);
    res.set_body(crate::codec::json::encode_reply(&reply));
    res.set_content_type(tide::http::mime::JSON);
    res.insert_header("Retry-After", "1");
    res
}
