//! What the device says about itself: subscriptions and the retained `online` status on
//! every connect, `offline` at shutdown (and as the last will), and every container
//! event as JSON on the events topic.

use super::options::{OFFLINE, ONLINE};
use super::topics::Topics;
use crate::api::event_feed::forward_json;
use crate::core::events::Event;
use rumqttc::v5::mqttbytes::v5::{Filter, RetainForwardRule};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::AsyncClient;

/// After each connect: subscribe to the request topics (again: a resumed session keeps
/// them, but the configured groups may have changed) and announce `online`.
pub(super) async fn on_connect(client: &AsyncClient, topics: &Topics) {
    let filters: Vec<Filter> = topics
        .request_topics()
        .map(|topic| Filter {
            // A retained request must not run again on every (re)subscribe.
            retain_forward_rule: RetainForwardRule::Never,
            ..Filter::new(topic, QoS::AtLeastOnce)
        })
        .collect();
    if let Err(e) = client.subscribe_many(filters).await {
        log::warn!("MQTT subscribe to the request topics not sent: {e}");
    }
    // Desired state is retained on purpose: the broker sends it on every subscribe.
    let desired: Vec<Filter> = topics
        .desired_topics()
        .map(|topic| Filter::new(topic, QoS::AtLeastOnce))
        .collect();
    if let Err(e) = client.subscribe_many(desired).await {
        log::warn!("MQTT subscribe to the desired-state topics not sent: {e}");
    }
    if let Err(e) = client
        .publish(&topics.status, QoS::AtLeastOnce, true, ONLINE)
        .await
    {
        log::warn!("MQTT '{ONLINE}' status not sent: {e}");
    }
}

/// At shutdown: the retained `offline` status, then DISCONNECT. Never waits: when the
/// broker is away the messages cannot go anyway (the last will says `offline` then).
pub(super) fn go_offline(client: &AsyncClient, topics: &Topics) {
    if let Err(e) = client.try_publish(&topics.status, QoS::AtLeastOnce, true, OFFLINE) {
        log::warn!("MQTT '{OFFLINE}' status not queued: {e}");
    }
    if let Err(e) = client.try_disconnect() {
        log::warn!("MQTT DISCONNECT not queued: {e}");
    }
}

/// Publishes every container event as JSON on the events topic (QoS 1, not retained)
/// until the event bus goes away. While the broker is unreachable this waits, and the
/// bus drops (and counts) what does not fit its queue.
pub(super) async fn publish_events(
    client: AsyncClient,
    topic: String,
    events: smol::channel::Receiver<Event>,
) {
    forward_json(events, "MQTT", |json| {
        let (client, topic) = (&client, &topic);
        async move {
            client
                .publish(topic, QoS::AtLeastOnce, false, json)
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await;
}
