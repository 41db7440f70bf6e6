//! The REST transport: a tide app served on our smol executor by our own accept loop
//! (tide's `listen` would spawn onto async-std's pool). tide stays inside this folder so
//! it can be swapped.

pub mod auth;
mod connections;
mod events;
mod execute;
mod head;
mod listen;
mod resources;
mod serve_conn;
mod status;

use super::metrics::Metrics;
use super::pipeline::Pipeline;
use super::shutdown::Shutdown;
use crate::codec::{json, Format};
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::reply::Reply;
use futures_lite::{AsyncRead, AsyncWrite};
use std::sync::Arc;
use tide::{Response, StatusCode};

pub use listen::start;

/// What every handler can reach.
#[derive(Clone)]
pub struct RestState {
    /// The way into the core; counts every reply it makes.
    pub pipeline: Pipeline,
    /// The counters and gauges `/metrics` renders.
    pub metrics: Arc<Metrics>,
    /// Shutdown and in-flight tracking.
    pub shutdown: Shutdown,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Requests handled at once; further ones wait (back-pressure, bounded memory).
    pub permits: Arc<smol::lock::Semaphore>,
    /// Event streams open at once (`rest.max_event_streams`).
    pub event_streams: Arc<smol::lock::Semaphore>,
    /// `rest.max_event_streams`, for the refusal's message.
    pub max_event_streams: usize,
    /// The open connections of every listener (`rest.max_connections` in all).
    pub connections: Arc<connections::Registry>,
}

/// The OpenAPI document of this REST interface.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Who may call a TCP listener: its `Host` names and bearer token.
#[derive(Debug, Clone)]
pub struct TcpAccess {
    /// Checks the `Host` header.
    pub hosts: auth::HostCheck,
    /// Checks the bearer token (every route but `/healthz`).
    pub token: auth::BearerAuth,
}

/// Builds the tide app with every route of the contract; for a TCP listener, `tcp`
/// checks the `Host` header and the bearer token first.
pub fn app(state: RestState, tcp: Option<TcpAccess>) -> tide::Server<RestState> {
    let mut app = tide::with_state(state);
    app.with(tide::utils::After(envelope_for_bare_errors));
    if let Some(tcp) = tcp {
        app.with(tcp.hosts);
        app.with(tcp.token);
    }
    app.at("/v1/execute").post(execute::execute);
    resources::routes(&mut app);
    app.at("/v1/events").get(events::stream);
    app.at("/healthz").get(|_| async {
        Ok(json_response(
            StatusCode::Ok,
            br#"{"status":"ok"}"#.to_vec(),
        ))
    });
    app.at("/metrics").get(metrics);
    app.at("/openapi.json").get(|_| async {
        Ok(json_response(
            StatusCode::Ok,
            OPENAPI_JSON.as_bytes().to_vec(),
        ))
    });
    app
}

/// Serves `app` on every connection `accept` yields until shutdown; each connection
/// runs as a task on `executor`. `gate` may refuse a connection before any byte is read
/// (the unix socket's peer check); the caller then gets a 403 envelope.
pub async fn serve<S, F, Fut, G>(
    app: tide::Server<RestState>,
    executor: Arc<smol::Executor<'static>>,
    shutdown: Shutdown,
    mut accept: F,
    gate: G,
) where
    S: AsyncRead + AsyncWrite + Clone + Send + Sync + Unpin + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<S>>,
    G: Fn(&S) -> Result<(), String>,
{
    loop {
        let next = async { Some(accept().await) };
        let stopped = async {
            shutdown.wait().await;
            None
        };
        let stream = match smol::future::or(stopped, next).await {
            None => break,
            Some(Ok(stream)) => stream,
            Some(Err(e)) => {
                log::warn!("REST accept failed: {e}");
                smol::Timer::after(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        if let Err(why) = gate(&stream) {
            log::warn!("REST connection refused: {why}");
            let mut stream = stream;
            executor
                .spawn(async move {
                    use futures_lite::{AsyncReadExt, AsyncWriteExt};
                    // The caller may already be gone; nothing more to do then.
                    let _ = stream.write_all(&auth::refusal(&why)).await;
                    let _ = stream.close().await;
                    // Read what the caller sent until it hangs up (bounded in time):
                    // dropping a socket with unread bytes resets the connection, and the
                    // reset can destroy the refusal before the caller has read it.
                    let drain = async {
                        let mut buf = [0u8; 4096];
                        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                    };
                    let limit = smol::Timer::after(std::time::Duration::from_secs(2));
                    smol::future::or(drain, async {
                        limit.await;
                    })
                    .await;
                })
                .detach();
            continue;
        }
        let registry = app.state().connections.clone();
        let (id, conn) = match registry.admit() {
            Ok(admitted) => admitted,
            Err(full) => {
                log::warn!("REST connection refused: {} open, all busy", full.0);
                executor.spawn(refuse_quickly(stream, full)).detach();
                continue;
            }
        };
        let app = app.clone();
        executor
            .spawn(async move {
                serve_conn::run(app, connections::Guarded::new(stream, conn.clone()), conn).await;
                registry.remove(id);
            })
            .detach();
    }
    // Idle keep-alive connections close now; busy ones after their reply.
    app.state().connections.close_idle();
}

/// Writes the 503 of a full agent (for at most a second) and closes the connection.
async fn refuse_quickly<S: AsyncWrite + Unpin>(mut stream: S, full: connections::Full) {
    use futures_lite::AsyncWriteExt;
    let write = async {
        // The caller may already be gone; nothing more to do then.
        let _ = stream.write_all(&connections::refusal(&full)).await;
        let _ = stream.close().await;
    };
    smol::future::or(write, async {
        smol::Timer::after(std::time::Duration::from_secs(1)).await;
    })
    .await;
}

async fn metrics(req: tide::Request<RestState>) -> tide::Result {
    let mut res = Response::new(StatusCode::Ok);
    res.set_body(req.state().metrics.render());
    res.set_content_type("text/plain; version=0.0.4");
    Ok(res)
}

/// A JSON response.
fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut res = Response::new(status);
    res.set_body(body);
    res.set_content_type(tide::http::mime::JSON);
    res
}

/// Answers with a (counted) reply envelope in JSON, its HTTP status from its error code.
fn reply_response(reply: &Reply, ok_status: StatusCode) -> Response {
    reply_response_in(reply, ok_status, Format::Json)
}

/// [`reply_response`] in `format` (JSON when the Protobuf codec is not built in).
fn reply_response_in(reply: &Reply, ok_status: StatusCode, format: Format) -> Response {
    let error = reply.error().map(|e| e.code);
    let status = error.map_or(ok_status, status::for_code);
    let mut res = Response::new(status);
    res.set_body(crate::codec::encode_reply(format, reply));
    match format.of_reply() {
        Format::Json => res.set_content_type(tide::http::mime::JSON),
        Format::Protobuf => res.set_content_type("application/x-protobuf"),
    }
    if error == Some(ErrorCode::TooLarge) {
        // The rest of the oversized body was not read: the connection cannot be reused.
        res.insert_header("Connection", "close");
    }
    res
}

/// Turns tide's bare 404/405 (unknown route, wrong method) into a reply envelope.
async fn envelope_for_bare_errors(mut res: Response) -> tide::Result {
    let status = res.status();
    if res.is_empty() != Some(false)
        && (status == StatusCode::NotFound || status == StatusCode::MethodNotAllowed)
    {
        let message = if status == StatusCode::NotFound {
            "no such route (see GET /openapi.json)"
        } else {
            "method not allowed on this route (see GET /openapi.json)"
        };
        let code = if status == StatusCode::NotFound {
            ErrorCode::NotFound
        } else {
            ErrorCode::InvalidRequest
        };
        let reply = Reply::err(None, ErrorBody::new(code, message));
        res.set_body(json::encode_reply(&reply));
        res.set_content_type(tide::http::mime::JSON);
    }
    Ok(res)
}
