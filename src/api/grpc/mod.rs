//! The gRPC transport (`ctrmgr.v1.Agent`: Execute and Watch). tonic's server core and
//! hyper's HTTP/2 run on the agent's one tokio thread, `ctrmgr-tokio` (shared with MQTT:
//! [`crate::api::tokio_thread`]); the core still runs on the smol executor (Execute
//! spawns the shared pipeline there and awaits it; Watch reads the core's event channel).

mod codec;
mod execute;
mod listen;
mod service;
mod watch;

use crate::api::access::PeerRules;
use crate::api::metrics::Transport;
use crate::api::pipeline::Limit;
use crate::api::tokio_thread::TokioThread;
use crate::api::transports::Serving;
use crate::api::ApiContext;
use crate::config::grpc::GrpcConfig;
use std::sync::Arc;

/// Binds the configured listeners (errors name the key) and starts serving them on the
/// `ctrmgr-tokio` thread. The returned future ends once shutdown has started and every
/// connection has finished; it then removes the socket file.
pub fn start(ctx: &ApiContext, config: &GrpcConfig) -> Result<Serving, String> {
    let token = config.bearer_token().map_err(|e| e.to_string())?;
    let mut bound = Vec::new();
    if let Some(path) = &config.unix_socket {
        let listener =
            crate::api::access::bind_unix_socket("grpc", path, config.unix_socket_mode, None)?;
        log::info!(
            "gRPC listening on unix:{} (callers checked by SO_PEERCRED)",
            path.display()
        );
        let rules = PeerRules {
            section: "grpc",
            uids: config.unix_socket_uids.clone(),
            gids: config.unix_socket_gids.clone(),
        };
        bound.push(listen::Bound::Unix(listener, rules));
    }
    if let Some(addr) = &config.listen {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| format!("grpc.listen: cannot listen on {addr}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("grpc.listen: {e}"))?;
        log::info!("gRPC listening on {addr} (bearer token required)");
        bound.push(listen::Bound::Tcp(listener));
    }
    // tonic refuses a message over the limit before the pipeline sees it (see
    // `execute`), so the pipeline's own limit never triggers.
    let limit = Limit {
        max_bytes: config.max_message_bytes,
        key: "grpc.max_message_bytes",
    };
    let shared = Arc::new(service::Shared {
        ctx: ctx.clone(),
        max_message_bytes: config.max_message_bytes,
        pipeline: ctx.pipeline(Transport::Grpc, limit),
        expected_authorization: token.map(|t| format!("Bearer {t}").into_bytes()),
        permits: Arc::new(smol::lock::Semaphore::new(config.max_in_flight)),
        max_in_flight: config.max_in_flight,
    });
    let thread = TokioThread::acquire()
        .map_err(|e| format!("gRPC: cannot start the tokio thread ctrmgr-tokio: {e}"))?;
    let served = thread.spawn(listen::serve(bound, shared));
    let socket = config.unix_socket.clone();
    Ok(Box::pin(async move {
        let served = served.await;
        // The tokio thread ends once MQTT lets go of it too.
        drop(thread);
        if let Some(path) = socket {
            let _ = std::fs::remove_file(path);
        }
        served.ok_or_else(|| "its server task panicked (see the log above)".to_owned())
    }))
}
