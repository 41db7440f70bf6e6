//! The MQTT transport (MQTT 5, on rumqttc): requests on the device and group topics,
//! replies to the MQTT 5 Response Topic, presence and container events.
//!
//! - Topics (see [`topics`](self)): `<prefix>/<device>/req`, `<prefix>/group/<group>/req`,
//!   replies on the Response Topic with its Correlation Data, else `<prefix>/<device>/res`;
//!   `<prefix>/<device>/status` (retained `online`, `offline` as last will and at
//!   shutdown); `<prefix>/<device>/events` (JSON).
//! - Desired state (see [`desired`](self)): retained `apply` envelopes on
//!   `<prefix>/<device>/desired` and `<prefix>/group/<group>/desired`, applied on
//!   arrival and so on every connect (the device's own beats its groups'); the
//!   DeploymentStatus retained on `<prefix>/<device>/deployment` after every phase change.
//! - QoS 1 everywhere. A redelivered request with the same `id` is answered from the
//!   core's idempotency cache and not run again; a request without an `id` cannot be
//!   recognised when redelivered, so fleet clients must send ids.
//! - Back-pressure: a request is acknowledged when it is admitted to run (at most
//!   [`MAX_IN_FLIGHT`] at once), and the broker sends at most that many unacknowledged
//!   requests (MQTT 5 Receive Maximum). QoS 0 requests escape that bound: at most
//!   `mqtt.max_queued_qos0` wait, more are dropped and counted, and their replies never
//!   wait for room in the client's queue (see `bridge`).
//!
//! # Implementation
//!
//! rumqttc's `EventLoop` needs tokio: one task polls it on the agent's tokio thread,
//! `ctrmgr-tokio` (shared with gRPC, [`crate::api::tokio_thread`]), and forwards incoming
//! messages over a channel (see `bridge`). Everything else (decoding, the core,
//! publishing through the `AsyncClient`) runs on the agent's smol executor. Resolving a
//! broker host name uses tokio's blocking pool: one short-lived thread, `ctrmgr-dns`,
//! per connect attempt by name (none for an IP address).

mod bridge;
mod desired;
mod options;
mod presence;
mod requests;
mod tls;
mod topics;

pub use crate::config::mqtt::MqttConfig;

use super::metrics::Transport;
use super::pipeline::Limit;
use super::ApiContext;
use bridge::{Bridge, BridgeEvent};
use desired::DesiredHandler;
use requests::RequestHandler;
use rumqttc::v5::AsyncClient;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use topics::Topics;

/// MQTT requests handled at once; the broker holds back further ones.
pub const MAX_IN_FLIGHT: u16 = 32;

/// Publishes and acknowledgements the client may queue for the event loop.
const CLIENT_QUEUE: usize = 64;

/// How long shutdown waits for running MQTT requests, so their replies still go out.
const DRAIN_LIMIT: Duration = Duration::from_secs(25);

/// Why the MQTT transport could not start or stop cleanly. Broker trouble is not an
/// error: the transport logs it and keeps reconnecting.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// `mqtt.password_file` could not be read.
    #[error("mqtt.password_file: cannot read {path}: {source}")]
    PasswordFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A TLS file is missing or unusable.
    #[error("mqtt.tls.{key}: {path}: {problem}")]
    TlsFile {
        /// `ca_file`, `cert_file` or `key_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The TLS settings do not make a usable configuration.
    #[error("mqtt.tls: {0}")]
    Tls(String),
    /// The tokio thread (`ctrmgr-tokio`) or its runtime could not be created.
    #[error("cannot start the tokio thread ctrmgr-tokio for MQTT: {0}")]
    Thread(std::io::Error),
    /// The event-loop task panicked.
    #[error("the MQTT event loop ended with a panic (see the log above)")]
    ThreadPanicked,
}

/// Serves MQTT until `ctx.shutdown` fires, then finishes running requests, publishes
/// `offline`, disconnects and waits for its event-loop task. Starts even when the broker is down,
/// and connects when it comes up.
pub async fn serve(ctx: ApiContext, config: MqttConfig) -> Result<(), MqttError> {
    let device = ctx.service.device_id().to_owned();
    let topics = Arc::new(
        Topics::new(&config.prefix, &device, &config.groups)
            .with_response_prefixes(&config.allowed_response_prefixes),
    );
    let options = options::build(&config, &device, &topics)?;
    let (host, port) = options.broker_address();
    let (client, eventloop) = AsyncClient::new(options, CLIENT_QUEUE);
    let bridge = Bridge::start(
        eventloop,
        format!("{host}:{port}"),
        Duration::from_secs(config.reconnect_max_backoff_s),
        config.max_queued_qos0,
    )?;
    log::info!(
        "MQTT: device '{device}' answers on {} to {host}:{port}",
        topics.request_topics().collect::<Vec<_>>().join(", ")
    );
    let events = ctx.executor.spawn(presence::publish_events(
        client.clone(),
        topics.events.clone(),
        ctx.service.events().subscribe(),
    ));
    let limit = Limit {
        max_bytes: config.max_payload_bytes,
        key: "mqtt.max_payload_bytes",
    };
    let status = ctx.executor.spawn(desired::publish_status(
        client.clone(),
        topics.deployment.clone(),
        ctx.service.clone(),
        ctx.service.events().subscribe(),
    ));
    let handler = Arc::new(RequestHandler {
        pipeline: ctx.pipeline(Transport::Mqtt, limit),
        client: client.clone(),
        topics: topics.clone(),
        replies_dropped: std::sync::atomic::AtomicU64::new(0),
    });
    register_gauges(&ctx, &bridge, &handler);
    let desired = Arc::new(DesiredHandler::new(ctx.pipeline(Transport::Mqtt, limit)));
    dispatch(&ctx, &handler, &desired, &bridge.events).await;
    drop((events, status));
    presence::go_offline(&client, &topics);
    bridge.stop().await?;
    log::info!("MQTT stopped");
    Ok(())
}

/// Runs each request as its own task (at most [`MAX_IN_FLIGHT`]) until shutdown, then
/// waits for the running ones.
async fn dispatch(
    ctx: &ApiContext,
    handler: &Arc<RequestHandler>,
    desired: &Arc<DesiredHandler>,
    events: &smol::channel::Receiver<BridgeEvent>,
) {
    let permits = Arc::new(smol::lock::Semaphore::new(usize::from(MAX_IN_FLIGHT)));
    let mut running: Vec<smol::Task<()>> = Vec::new();
    loop {
        let next = async { events.recv().await.ok() };
        let stopped = async {
            ctx.shutdown.wait().await;
            None
        };
        let (publish, qos0_slot) = match smol::future::or(stopped, next).await {
            None => break,
            Some(BridgeEvent::Connected) => {
                desired.on_connect();
                presence::on_connect(&handler.client, &handler.topics).await;
                continue;
            }
            Some(BridgeEvent::Publish(publish, slot)) => (*publish, slot),
        };
        if let Some(from_device) = desired::desired_topic(&handler.topics, &publish.topic) {
            acknowledge(&handler.client, &publish).await;
            if desired.admit(&publish, from_device) {
                // Applied on its own task: an apply waits for its verification window.
                let desired = desired.clone();
                running.retain(|task| !task.is_finished());
                running.push(ctx.executor.spawn(async move {
                    desired.apply(publish).await;
                }));
            }
            continue;
        }
        if !handler.topics.is_request(&publish.topic) {
            log::debug!(
                "MQTT message on {} ignored: not a request topic of this device",
                String::from_utf8_lossy(&publish.topic)
            );
            acknowledge(&handler.client, &publish).await;
            continue;
        }
        let admitted = async { Some(permits.acquire_arc().await) };
        let stopped = async {
            ctx.shutdown.wait().await;
            None
        };
        // Unacknowledged, a request not admitted before shutdown is redelivered to the
        // next session.
        let Some(permit) = smol::future::or(stopped, admitted).await else {
            break;
        };
        drop(qos0_slot);
        acknowledge(&handler.client, &publish).await;
        let in_flight = ctx.shutdown.track();
        let handler = handler.clone();
        running.retain(|task| !task.is_finished());
        running.push(ctx.executor.spawn(async move {
            handler.answer(publish).await;
            drop((permit, in_flight));
        }));
    }
    let deadline = std::time::Instant::now() + DRAIN_LIMIT;
    while running.iter().any(|t| !t.is_finished()) && std::time::Instant::now() < deadline {
        smol::Timer::after(Duration::from_millis(20)).await;
    }
    let left = running.iter().filter(|t| !t.is_finished()).count();
    if left > 0 {
        log::warn!(
            "MQTT: {left} requests still running after {DRAIN_LIMIT:?}; their replies may be lost"
        );
    }
    running.into_iter().for_each(smol::Task::detach);
}

/// The QoS 0 drop counts of `/metrics`.
fn register_gauges(ctx: &ApiContext, bridge: &Bridge, handler: &Arc<RequestHandler>) {
    use std::sync::atomic::Ordering;
    let qos0 = Arc::downgrade(&bridge.qos0);
    let handler = Arc::downgrade(handler);
    ctx.metrics.register_gauges(move || {
        let mut gauges = Vec::new();
        if let Some(q) = qos0.upgrade() {
            gauges.push((
                "ctrmgr_mqtt_qos0_dropped",
                "QoS 0 MQTT requests dropped unanswered: mqtt.max_queued_qos0 were waiting (since start).",
                q.dropped.load(Ordering::Relaxed),
            ));
        }
        if let Some(h) = handler.upgrade() {
            gauges.push((
                "ctrmgr_mqtt_qos0_replies_dropped",
                "Replies to QoS 0 MQTT requests dropped: the client queue was full (since start).",
                h.replies_dropped.load(Ordering::Relaxed),
            ));
        }
        gauges
    });
}

/// Acknowledges a QoS 1 request (manual acknowledgements are on).
async fn acknowledge(client: &AsyncClient, publish: &rumqttc::v5::mqttbytes::v5::Publish) {
    if let Err(e) = client.ack(publish).await {
        log::warn!("MQTT acknowledgement not queued: {e}");
    }
}
