//! Starting the transports the config enables, all the same way: each one's `start`
//! prepares it (REST binds its listeners: a failure there stops the agent) and yields
//! the future that serves until shutdown and then cleans up after itself (the request
//! queue, the REST socket file, the MQTT thread); that future runs as one task, and an
//! error ending it is logged with the transport's name.

#[cfg(feature = "dbus")]
use super::dbus;
#[cfg(feature = "grpc")]
use super::grpc;
use super::metrics::Transport;
#[cfg(feature = "mqtt")]
use super::mqtt;
#[cfg(feature = "mqueue")]
use super::mqueue;
#[cfg(feature = "rest")]
use super::rest;
use super::ApiContext;
use crate::config::Config;
use std::future::Future;
use std::pin::Pin;

/// A started transport: serves until shutdown, cleans up, and says why it stopped early.
pub type Serving = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A transport being started.
type Starting = Pin<Box<dyn Future<Output = Result<Serving, String>>>>;

/// Every transport, in the order they start: gRPC binds its sockets in `start`, before
/// REST, so that once `/healthz` answers the gRPC socket exists too (a client that waits
/// for REST's health never finds the gRPC socket missing).
const ALL: [Transport; 5] = [
    Transport::Grpc,
    Transport::Rest,
    Transport::Mqtt,
    Transport::Dbus,
    Transport::Mqueue,
];

/// Starts every transport `config` enables; the tasks end once each has stopped and
/// cleaned up after shutdown. `Err` when one cannot start (REST cannot bind).
pub async fn start(ctx: &ApiContext, config: &Config) -> Result<Vec<smol::Task<()>>, String> {
    let mut tasks = Vec::new();
    for transport in ALL {
        if !enabled(transport, config) {
            continue;
        }
        let starting: Option<Starting> = match transport {
            #[cfg(feature = "rest")]
            Transport::Rest => Some(Box::pin(rest::start(ctx.clone(), config.rest.clone()))),
            #[cfg(feature = "mqtt")]
            Transport::Mqtt => Some(serving(mqtt::serve(ctx.clone(), config.mqtt.clone()))),
            #[cfg(feature = "dbus")]
            Transport::Dbus => Some(serving(dbus::serve(ctx.clone(), config.dbus.clone()))),
            #[cfg(feature = "mqueue")]
            Transport::Mqueue => Some(serving(mqueue::serve(ctx.clone(), config.mqueue.clone()))),
            #[cfg(feature = "grpc")]
            Transport::Grpc => Some(Box::pin(std::future::ready(grpc::start(ctx, &config.grpc)))),
            #[cfg(not(all(
                feature = "rest",
                feature = "mqtt",
                feature = "dbus",
                feature = "mqueue",
                feature = "grpc"
            )))]
            _ => None,
        };
        let Some(starting) = starting else {
            log::info!(
                "{} is switched on in the config but not built into this agent (cargo feature \
                 `{}`)",
                label(transport),
                transport.name()
            );
            continue;
        };
        let serving = starting.await?;
        tasks.push(ctx.executor.spawn(async move {
            if let Err(e) = serving.await {
                log::error!("{} transport stopped: {e}", label(transport));
            }
        }));
    }
    Ok(tasks)
}

/// A transport whose whole life is one `serve` future (nothing to prepare first).
#[cfg(any(feature = "mqtt", feature = "dbus", feature = "mqueue"))]
fn serving<E: std::fmt::Display>(
    serve: impl Future<Output = Result<(), E>> + Send + 'static,
) -> Starting {
    let serving: Serving = Box::pin(async move { serve.await.map_err(|e| e.to_string()) });
    Box::pin(async move { Ok(serving) })
}

/// Whether the config switches `transport` on.
fn enabled(transport: Transport, config: &Config) -> bool {
    match transport {
        Transport::Rest => config.rest.enabled,
        Transport::Mqtt => config.mqtt.is_enabled(),
        Transport::Dbus => config.dbus.enabled,
        Transport::Mqueue => config.mqueue.enabled,
        Transport::Grpc => config.grpc.enabled,
    }
}

/// The transport's name in log lines.
fn label(transport: Transport) -> &'static str {
    match transport {
        Transport::Rest => "REST",
        Transport::Mqtt => "MQTT",
        Transport::Dbus => "D-Bus",
        Transport::Mqueue => "POSIX message queue",
        Transport::Grpc => "gRPC",
    }
}
