//! One MQTT request, start to end: the format (MQTT 5 content type, else sniffed), the
//! payload limit, decoding, the core, and the reply to the Response Topic (with the
//! Correlation Data) or the device's `res` topic, in the request's format, QoS 1.

use super::topics::{is_publishable, Topics};
use crate::api::pipeline::Pipeline;
use crate::codec::{encode_reply, Format};
use crate::core::error::{ErrorBody, ErrorCode};
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::AsyncClient;
use std::sync::Arc;

/// Content type of JSON requests and replies.
const JSON: &str = "application/json";
/// Content type of Protobuf requests and replies.
const PROTOBUF: &str = "application/x-protobuf";

/// What answering a request needs; shared by the request tasks.
#[derive(Debug)]
pub(super) struct RequestHandler {
    /// The way into the core (with `mqtt.max_payload_bytes`).
    pub pipeline: Pipeline,
    /// Publishes replies.
    pub client: AsyncClient,
    /// This device's topics.
    pub topics: Arc<Topics>,
    /// Replies to QoS 0 requests dropped because the client's queue was full.
    pub replies_dropped: std::sync::atomic::AtomicU64,
}

impl RequestHandler {
    /// Decodes and runs one request and publishes its reply. Never fails: every problem
    /// becomes an error reply or, when even that cannot be sent, a log line.
    pub async fn answer(&self, publish: Publish) {
        let qos0 = publish.qos == QoS::AtMostOnce;
        let properties = publish.properties.unwrap_or_default();
        let default = || self.topics.default_replies.clone();
        let (topic, refusal) = match properties.response_topic {
            Some(t) if !is_publishable(&t) => {
                log::warn!(
                    "MQTT request names Response Topic '{t}', which cannot be published to; \
                     replying on {}",
                    self.topics.default_replies
                );
                (default(), None)
            }
            Some(t) if !self.topics.may_reply_to(&t) => {
                log::warn!(
                    "MQTT request names Response Topic '{t}', outside the topic prefix and \
                     mqtt.allowed_response_prefixes: refused, not run; replying on {}",
                    self.topics.default_replies
                );
                let error = ErrorBody::new(
                    ErrorCode::Forbidden,
                    format!(
                        "Response Topic '{t}' is outside the agent's topic prefix and \
                         mqtt.allowed_response_prefixes; the request was not run"
                    ),
                );
                (default(), Some(error))
            }
            Some(t) => (t, None),
            None => (default(), None),
        };
        let (format, bytes) = match (
            refusal,
            request_format(properties.content_type.as_deref(), &publish.payload),
        ) {
            (Some(error), _) | (None, Err(error)) => (
                Format::Json,
                encode_reply(Format::Json, &self.pipeline.refuse(None, error)),
            ),
            (None, Ok(format)) => (format, self.pipeline.handle(format, &publish.payload).await),
        };
        let reply_properties = PublishProperties {
            content_type: Some(content_type(format.of_reply()).to_owned()),
            correlation_data: properties.correlation_data,
            // Tells apart the answers to a group request.
            user_properties: vec![(
                "device".to_owned(),
                self.pipeline.service().device_id().to_owned(),
            )],
            ..PublishProperties::default()
        };
        // A QoS 0 request's reply never waits for room in the client's queue: under a
        // flood it is dropped (counted), as the request itself could have been. A QoS 1
        // reply waits its turn (at most Receive Maximum of them).
        let sent = if qos0 {
            self.client.try_publish_with_properties(
                &topic,
                QoS::AtLeastOnce,
                false,
                bytes,
                reply_properties,
            )
        } else {
            self.client
                .publish_with_properties(&topic, QoS::AtLeastOnce, false, bytes, reply_properties)
                .await
        };
        if let Err(e) = sent {
            if qos0 {
                self.replies_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            log::warn!("MQTT reply to {topic} not sent: {e}");
        }
    }
}

/// The request's format: its MQTT 5 content type when given, else sniffed from the bytes.
fn request_format(content_type: Option<&str>, payload: &[u8]) -> Result<Format, ErrorBody> {
    let Some(content_type) = content_type else {
        return Ok(Format::sniff(payload));
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "text/json" => Ok(Format::Json),
        "application/x-protobuf" | "application/protobuf" | "application/vnd.google.protobuf" => {
            Ok(Format::Protobuf)
        }
        _ => Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!(
                "content type '{content_type}' is not supported (use {JSON} or {PROTOBUF}, or \
                 none to have the format sniffed)"
            ),
        )),
    }
}

/// The MQTT 5 content type of a format.
fn content_type(format: Format) -> &'static str {
    match format {
        Format::Json => JSON,
        Format::Protobuf => PROTOBUF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_decides_else_sniffing() {
        assert_eq!(request_format(None, b" {\"op\":1}"), Ok(Format::Json));
        assert_eq!(request_format(None, b"\x0a\x01a"), Ok(Format::Protobuf));
        assert_eq!(
            request_format(Some("application/json; charset=utf-8"), b"\x0a"),
            Ok(Format::Json)
        );
        assert_eq!(
            request_format(Some("Application/X-Protobuf"), b"{"),
            Ok(Format::Protobuf)
        );
        let e = request_format(Some("text/plain"), b"{}").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.contains("text/plain"), "{}", e.message);
    }

    #[test]
    fn replies_name_their_encoding() {
        assert_eq!(content_type(Format::Json.of_reply()), JSON);
        let protobuf_reply = content_type(Format::Protobuf.of_reply());
        if cfg!(feature = "protobuf") {
            assert_eq!(protobuf_reply, PROTOBUF);
        } else {
            assert_eq!(protobuf_reply, JSON);
        }
    }
}
