//! MQTT round trips: one request at a time to `<prefix>/<device>/req` with an MQTT 5
//! Response Topic, timed until the reply arrives there (rumqttc on a one-thread tokio
//! runtime, as in the agent).

use crate::load::Summary;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use std::time::{Duration, Instant};

/// Sends `count` copies of `payload` to the device's request topic one after another
/// (after `warmup` untimed ones) and times each reply.
pub fn round_trips(
    broker: (&str, u16),
    request_topic: &str,
    payload: &str,
    count: usize,
) -> Result<Summary, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let id = format!("ctrmgr-bench-{}", std::process::id());
        let reply_topic = format!("bench/{id}/reply");
        let mut options = MqttOptions::new(id, broker.0, broker.1);
        options.set_keep_alive(Duration::from_secs(30));
        let mut network = options.network_options();
        network.set_tcp_nodelay(true);
        options.set_network_options(network);
        let (client, mut events) = AsyncClient::new(options, 16);
        client
            .subscribe(reply_topic.clone(), QoS::AtLeastOnce)
            .await
            .map_err(|e| format!("subscribe: {e}"))?;
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = poll(&mut events).await? {
                break;
            }
        }
        let warmup = 10;
        let start = Instant::now();
        let mut micros = Vec::with_capacity(count);
        for i in 0..warmup + count {
            let properties = PublishProperties {
                response_topic: Some(reply_topic.clone()),
                ..PublishProperties::default()
            };
            let t0 = Instant::now();
            client
                .publish_with_properties(
                    request_topic,
                    QoS::AtLeastOnce,
                    false,
                    payload.as_bytes().to_vec(),
                    properties,
                )
                .await
                .map_err(|e| format!("publish: {e}"))?;
            loop {
                if let Event::Incoming(Packet::Publish(p)) = poll(&mut events).await? {
                    if p.topic == reply_topic.as_bytes() {
                        break;
                    }
                }
            }
            if i >= warmup {
                micros.push(t0.elapsed().as_micros() as u64);
            }
        }
        let elapsed = start.elapsed();
        micros.sort_unstable();
        Ok(Summary {
            ok: micros.len(),
            errors: 0,
            elapsed,
            micros,
            body_bytes: 0,
        })
    })
}

/// The next event, with a bound so a silent agent fails the run instead of hanging it.
async fn poll(events: &mut EventLoop) -> Result<Event, String> {
    tokio::time::timeout(Duration::from_secs(10), events.poll())
        .await
        .map_err(|_| "no MQTT traffic for 10 s (is the agent subscribed?)".to_owned())?
        .map_err(|e| format!("MQTT connection: {e}"))
}
