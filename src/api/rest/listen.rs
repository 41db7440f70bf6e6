//! Binding the configured REST listeners (the unix socket, and TCP with a token) and
//! spawning their accept loops on the executor; at shutdown the unix socket file goes.

use super::auth::{BearerAuth, HostCheck, PeerRules};
use super::{app, serve, RestState, TcpAccess};
use crate::api::access::bind_unix_socket;
use crate::api::metrics::Transport;
use crate::api::pipeline::Limit;
use crate::api::transports::Serving;
use crate::api::ApiContext;
use crate::config::RestConfig;
use nix::unistd::Group;
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
    if let Some(addr) = config.listen {
        // Validation made sure of it; checked again so no path serves TCP without one.
        let token = token.ok_or("rest.listen: a TCP listener needs rest.token_file")?;
        let listener = smol::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("rest.listen: cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().unwrap_or(addr);
        log::info!("REST listening on http://{bound} (bearer token required)");
        let access = TcpAccess {
            hosts: HostCheck::new(bound, &config.allowed_hosts),
            token: BearerAuth::new(&token),
        };
        tasks.push(ctx.executor.spawn(serve(
            app(state.clone(), Some(access)),
            ctx.executor.clone(),
            ctx.shutdown.clone(),
            move || {
                let l = listener.clone();
                async move {
                    let (stream, _) = l.accept().await?;
                    // A reply is written as head then body: with Nagle on, the body waits
                    // for the client's delayed ACK (40 ms per request on keep-alive
                    // connections).
                    stream.set_nodelay(true)?;
                    Ok(stream)
                }
            },
            |_| Ok(()),
        )));
    }
    if let Some(path) = &config.unix_socket {
        let group = group_id("rest.unix_socket_group", &config.unix_socket_group);
        let listener = bind_unix_socket("rest", path, config.unix_socket_mode, group)?;
        let listener = smol::net::unix::UnixListener::try_from(listener)
            .map_err(|e| format!("rest.unix_socket: {e}"))?;
        log::info!(
            "REST listening on unix:{} (callers checked by SO_PEERCRED)",
            path.display()
        );
        let rules = PeerRules {
            section: "rest",
            uids: config.unix_socket_uids.clone(),
            gids: config
                .unix_socket_gids
                .iter()
                .copied()
                .chain(group)
                .collect(),
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

/// The id of group `name`, `None` for `""` or a group that does not exist (logged: the
/// socket then admits root and the listed uids and gids only).
fn group_id(key: &str, name: &str) -> Option<u32> {
    if name.is_empty() {
        return None;
    }
    match Group::from_name(name) {
        Ok(Some(g)) => Some(g.gid.as_raw()),
        Ok(None) => {
            log::info!("{key}: group '{name}' does not exist; its members are not admitted");
            None
        }
        Err(e) => {
            log::warn!("{key}: cannot look up group '{name}' ({e}); its members are not admitted");
            None
        }
    }
}
