//! The MQTT fleet side of desired state (DESIGN.md "Desired state", MQTT): a retained
//! `apply` envelope on `<prefix>/<device>/desired` or `<prefix>/group/<group>/desired`
//! is applied when it arrives, and so on every (re)connect, where the broker sends the
//! retained message again (an unchanged generation is answered with its status, no
//! engine call). The device's own message beats its groups': once one arrived in this
//! session, group messages are ignored. The DeploymentStatus is published retained on
//! `<prefix>/<device>/deployment` after every phase change.

use super::topics::Topics;
use crate::api::pipeline::Pipeline;
use crate::codec::json;
use crate::core::command::{Command, Request};
use crate::core::events::Event;
use crate::core::op::Op;
use crate::core::reply::Outcome;
use crate::core::service::ContainerService;
use rumqttc::v5::mqttbytes::v5::Publish;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::AsyncClient;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Applies desired-state messages; shared by the tasks that run them.
#[derive(Debug)]
pub(super) struct DesiredHandler {
    /// The way into the core.
    pub pipeline: Pipeline,
    /// Whether the device's own desired message arrived since the last connect.
    device_seen: AtomicBool,
}

impl DesiredHandler {
    /// A handler running applies through `pipeline`.
    pub fn new(pipeline: Pipeline) -> Self {
        Self {
            pipeline,
            device_seen: AtomicBool::new(false),
        }
    }

    /// A new session: group messages count again until the device's own arrives.
    pub fn on_connect(&self) {
        self.device_seen.store(false, Ordering::SeqCst);
    }

    /// Whether a desired message (`from_device`: on the device's own topic) is to be
    /// applied. Called in arrival order, before the apply's own task starts. An empty
    /// payload (a cleared retained message) is nothing to do.
    pub fn admit(&self, publish: &Publish, from_device: bool) -> bool {
        if publish.payload.is_empty() {
            return false;
        }
        if from_device {
            self.device_seen.store(true, Ordering::SeqCst);
            return true;
        }
        let wins = self.device_seen.load(Ordering::SeqCst);
        if wins {
            log::info!(
                "MQTT: {} ignored: the device's own desired message wins",
                String::from_utf8_lossy(&publish.topic)
            );
        }
        !wins
    }

    /// Applies one admitted desired message. A message that is not an `apply`
    /// envelope, or that the core refuses, is logged.
    pub async fn apply(&self, publish: Publish) {
        let topic = String::from_utf8_lossy(&publish.topic).into_owned();
        let request = match json::decode_request(&publish.payload) {
            Ok(r) if r.command.op() == Op::Apply => r,
            Ok(r) => {
                log::warn!(
                    "MQTT: {topic} holds a '{}' request; only 'apply' belongs there",
                    r.command.op()
                );
                return;
            }
            Err(e) => {
                log::warn!(
                    "MQTT: {topic} is not a valid apply envelope: {}",
                    e.error.message
                );
                return;
            }
        };
        let generation = match &request.command {
            Command::Apply { deployment, .. } => deployment.generation,
            _ => 0,
        };
        let reply = self.pipeline.run(request).await;
        if let Outcome::Err { error, .. } = reply.outcome {
            log::warn!(
                "MQTT: generation {generation} from {topic} refused: {} ({})",
                error.message,
                error.code.as_str()
            );
        }
    }
}

/// Publishes the DeploymentStatus retained on the deployment topic after every phase
/// change (a `deployment` event without a container), until the event bus goes away.
pub(super) async fn publish_status(
    client: AsyncClient,
    topic: String,
    service: Arc<ContainerService>,
    events: smol::channel::Receiver<Event>,
) {
    while let Ok(event) = events.recv().await {
        let Event::Deployment(e) = event else {
            continue;
        };
        if e.name.is_some() {
            continue;
        }
        // Straight to the core: the agent's own read is no request to count.
        let reply = service
            .execute(Request {
                id: None,
                runtime: None,
                command: Command::Deployment,
            })
            .await;
        let Outcome::Ok { result, .. } = reply.outcome else {
            continue;
        };
        let Ok(payload) = serde_json::to_vec(&result) else {
            continue;
        };
        if let Err(e) = client
            .publish(topic.as_str(), QoS::AtLeastOnce, true, payload)
            .await
        {
            log::warn!("MQTT: deployment status not sent: {e}");
        }
    }
}

/// Whether `topic` is one of this device's desired topics, and whether its own.
pub(super) fn desired_topic(topics: &Topics, topic: &[u8]) -> Option<bool> {
    if topics.desired.as_bytes() == topic {
        return Some(true);
    }
    topics
        .group_desired
        .iter()
        .any(|t| t.as_bytes() == topic)
        .then_some(false)
}
