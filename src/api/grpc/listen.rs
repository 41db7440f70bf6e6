//! The tokio side: accept loops for the bound listeners and one HTTP/2 connection task
//! per caller (hyper), on the `ctrmgr-tokio` thread's current-thread runtime. At
//! shutdown the loops stop accepting, each connection gets a GOAWAY and finishes its
//! calls in flight (Watch streams end by themselves), and [`serve`] returns.

use super::service::{Access, Agent, Shared};
use crate::api::access::PeerRules;
use crate::api::shutdown::Shutdown;
use futures_lite::future::or;
use hyper::rt::{Read, Write};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// A listener bound at start (so a bad address fails at start), not yet on tokio.
#[derive(Debug)]
pub(super) enum Bound {
    /// The unix socket and who may use it.
    Unix(std::os::unix::net::UnixListener, PeerRules),
    /// TCP (bearer token required).
    Tcp(std::net::TcpListener),
}

/// Serves every listener until shutdown, then waits for their connections to finish.
pub(super) async fn serve(bound: Vec<Bound>, shared: Arc<Shared>) {
    let mut loops = JoinSet::new();
    for b in bound {
        let shared = shared.clone();
        match b {
            Bound::Unix(l, rules) => match tokio::net::UnixListener::from_std(l) {
                Ok(l) => {
                    loops.spawn(unix_loop(l, rules, shared));
                }
                Err(e) => log::error!("gRPC: cannot serve the unix socket: {e}"),
            },
            Bound::Tcp(l) => match tokio::net::TcpListener::from_std(l) {
                Ok(l) => {
                    loops.spawn(tcp_loop(l, shared));
                }
                Err(e) => log::error!("gRPC: cannot serve the TCP listener: {e}"),
            },
        }
    }
    while loops.join_next().await.is_some() {}
}

/// After a failed accept (e.g. out of file descriptors), before the next one.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

async fn unix_loop(listener: tokio::net::UnixListener, rules: PeerRules, shared: Arc<Shared>) {
    let shutdown = shared.ctx.shutdown.clone();
    let mut conns = JoinSet::new();
    while let Some(accepted) = next(&shutdown, listener.accept()).await {
        match accepted {
            Ok((stream, _)) => {
                let access = match rules.check(&stream) {
                    Ok(()) => Access::Peer,
                    Err(reason) => {
                        log::warn!("gRPC: refused a unix-socket caller: {reason}");
                        Access::Refused(reason.into())
                    }
                };
                let agent = Agent {
                    shared: shared.clone(),
                    access,
                };
                conns.spawn(connection(TokioIo::new(stream), agent, shutdown.clone()));
            }
            Err(e) => pause(&e).await,
        }
        while conns.try_join_next().is_some() {}
    }
    while conns.join_next().await.is_some() {}
}

async fn tcp_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let shutdown = shared.ctx.shutdown.clone();
    let mut conns = JoinSet::new();
    while let Some(accepted) = next(&shutdown, listener.accept()).await {
        match accepted {
            Ok((stream, _)) => {
                // Small replies must not wait for the client's delayed ACK.
                let _ = stream.set_nodelay(true);
                let agent = Agent {
                    shared: shared.clone(),
                    access: Access::Token,
                };
                conns.spawn(connection(TokioIo::new(stream), agent, shutdown.clone()));
            }
            Err(e) => pause(&e).await,
        }
        while conns.try_join_next().is_some() {}
    }
    while conns.join_next().await.is_some() {}
}

/// The next accept, or `None` once shutdown starts.
async fn next<T>(shutdown: &Shutdown, accept: impl std::future::Future<Output = T>) -> Option<T> {
    or(async { Some(accept.await) }, async {
        shutdown.wait().await;
        None
    })
    .await
}

async fn pause(e: &std::io::Error) {
    log::warn!("gRPC: accept failed: {e}");
    tokio::time::sleep(ACCEPT_PAUSE).await;
}

/// Serves one connection; at shutdown, a graceful HTTP/2 close (GOAWAY, then the calls
/// in flight finish).
async fn connection<I>(io: I, agent: Agent, shutdown: Shutdown)
where
    I: Read + Write + Unpin + Send + 'static,
{
    let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(io, agent);
    let mut conn = std::pin::pin!(conn);
    let finished = or(async { Some(conn.as_mut().await) }, async {
        shutdown.wait().await;
        None
    })
    .await;
    let result = match finished {
        Some(result) => result,
        None => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        log::debug!("gRPC connection ended: {e}");
    }
}
