//! Binding the configured REST listeners (TCP, and optionally a unix socket) and
//! spawning their accept loops on the executor; at shutdown the unix socket file goes.

use super::auth::PeerRules;
use super::{app, serve, RestState};
use crate::api::metrics::Transport;
use crate::api::pipeline::Limit;
use crate::api::transports::Serving;
use crate::api::ApiContext;
use crate::config::RestConfig;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

/// Binds every listener of `config` and spawns their accept loops. The returned future
/// ends when they end at shutdown, and then removes the unix socket file.
pub async fn start(ctx: ApiContext, config: RestConfig) -> Result<Serving, String> {
    let tasks = bind(&ctx, &config).await?;
    Ok(Box::pin(async move {
        for task in tasks {
            task.await;
        }
        if let Some(path) = &config.unix_socket {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    log::warn!("REST: cannot remove the socket {}: {e}", path.display())
                }
                _ => {}
            }
        }
        Ok(())
    }))
}

/// Binds the listeners and spawns their accept loops.
async fn bind(ctx: &ApiContext, config: &RestConfig) -> Result<Vec<smol::Task<()>>, String> {
    let token = config.bearer_token().map_err(|e| e.to_string())?;
    let limit = Limit {
        max_bytes: config.max_body_bytes,
        key: "rest.max_body_bytes",
    };
    let state = RestState {
        pipeline: ctx.pipeline(Transport::Rest, limit),
        metrics: ctx.metrics.clone(),
        shutdown: ctx.shutdown.clone(),
        max_body_bytes: config.max_body_bytes,
        permits: Arc::new(smol::lock::Semaphore::new(config.max_in_flight)),
        event_streams: Arc::new(smol::lock::Semaphore::new(config.max_event_streams)),
        max_event_streams: config.max_event_streams,
        connections: Arc::new(super::connections::Registry::new(
            super::connections::ConnectionLimits {
                max_connections: config.max_connections,
                idle_timeout: std::time::Duration::from_secs(config.idle_timeout_s),
                request_timeout: std::time::Duration::from_secs(config.request_timeout_s),
            },
            ctx.shutdown.clone(),
        )),
    };
    register_gauges(&ctx.metrics, &state.connections);
    let mut tasks = Vec::new();
    let listener = smol::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("rest.listen: cannot listen on {}: {e}", config.listen))?;
    log::info!(
        "REST listening on http://{}{}",
        config.listen,
        if token.is_some() {
            " (bearer token required)"
        } else {
            ""
        }
    );
    tasks.push(ctx.executor.spawn(serve(
        app(state.clone(), token.as_deref()),
        ctx.executor.clone(),
        ctx.shutdown.clone(),
        move || {
            let l = listener.clone();
            async move {
                let (stream, _) = l.accept().await?;
                // A reply is written as head then body: with Nagle on, the body waits for
                // the client's delayed ACK (40 ms per request on keep-alive connections).
                stream.set_nodelay(true)?;
                Ok(stream)
            }
        },
        |_| Ok(()),
    )));
    if let Some(path) = &config.unix_socket {
        // A stale socket file from a previous run would make bind fail.
        let _ = std::fs::remove_file(path);
        let listener = smol::net::unix::UnixListener::bind(path)
            .map_err(|e| format!("rest.unix_socket: cannot listen on {}: {e}", path.display()))?;
        std::fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(config.unix_socket_mode),
        )
        .map_err(|e| {
            format!(
                "rest.unix_socket_mode: cannot chmod {}: {e}",
                path.display()
            )
        })?;
        log::info!(
            "REST listening on unix:{} (callers checked by SO_PEERCRED)",
            path.display()
        );
        let rules = PeerRules {
            section: "rest",
            uids: config.unix_socket_uids.clone(),
            gids: config.unix_socket_gids.clone(),
        };
        tasks.push(ctx.executor.spawn(serve(
            app(state, None),
            ctx.executor.clone(),
            ctx.shutdown.clone(),
            move || {
                let l = listener.clone();
                async move { l.accept().await.map(|(s, _)| s) }
            },
            move |stream: &smol::net::unix::UnixStream| rules.check(stream),
        )));
    }
    Ok(tasks)
}

/// The connection gauges of `/metrics`.
fn register_gauges(
    metrics: &crate::api::metrics::Metrics,
    registry: &Arc<super::connections::Registry>,
) {
    let registry = Arc::downgrade(registry);
    metrics.register_gauges(move || {
        let Some((open, evicted, refused)) = registry.upgrade().map(|r| r.counts()) else {
            return Vec::new();
        };
        vec![
            (
                "ctrmgr_rest_connections",
                "REST connections open now (rest.max_connections).",
                open as u64,
            ),
            (
                "ctrmgr_rest_connections_evicted",
                "Idle REST connections closed to admit a new one, since start.",
                evicted,
            ),
            (
                "ctrmgr_rest_connections_refused",
                "REST connections refused with 503 (all open ones busy), since start.",
                refused,
            ),
        ]
    });
}
