//! The POSIX MQ transport's pure functions, compiled in from their source files (they
//! are private to the transport): recovering the `reply_to` of an undecodable message
//! and framing a reply to the reply queue's message size.

#[path = "../../src/api/mqueue/envelope.rs"]
mod envelope;
#[path = "../../src/api/mqueue/framing.rs"]
mod framing;

use crate::check_decoded;
use ctrmgr::codec::{decode_request, protobuf, Format};
use ctrmgr::core::queue_name::QueueName;
use ctrmgr::core::error::ErrorCode;
use ctrmgr::core::reply::Reply;
use framing::{frame_reply, DoesNotFit, Framed};

/// Handles `message` as the MQ request loop does, for a reply queue whose messages hold
/// `message_size` bytes: a recovered `reply_to` is a queue name, and the framed reply
/// fits the queue, is the whole reply when that fits, and is otherwise a `too_large`
/// error with the request's id.
pub fn check_message(message_size: usize, message: &[u8]) {
    let format = Format::sniff(message);
    let decoded = decode_request(format, message);
    let refused = decoded.is_err();
    let reply = check_decoded(format, decoded);
    if refused {
        if let Some(queue) = envelope::reply_to_of_undecodable(format, message) {
            assert!(
                QueueName::parse(&queue).is_ok(),
                "recovered reply_to {queue:?}"
            );
        }
    }
    let whole = ctrmgr::codec::encode_reply(format.of_reply(), &reply);
    match frame_reply(format, &reply, message_size) {
        Ok(Framed::Whole(bytes)) => {
            assert!(bytes.len() <= message_size);
            assert_eq!(bytes, whole);
        }
        Ok(Framed::TooLarge { bytes, reply_len }) => {
            assert!(bytes.len() <= message_size && reply_len > message_size);
            assert_eq!(reply_len, whole.len());
            let framed = decode_framed(format.of_reply(), &bytes);
            assert_eq!(framed.id, reply.id, "the too_large reply keeps the id");
            assert_eq!(framed.error().map(|e| e.code), Some(ErrorCode::TooLarge));
        }
        Err(DoesNotFit { reply_len }) => {
            assert!(reply_len > message_size);
            assert_eq!(reply_len, whole.len());
        }
    }
}

fn decode_framed(format: Format, bytes: &[u8]) -> Reply {
    match format {
        Format::Json => serde_json::from_slice(bytes).expect("a framed JSON reply reads back"),
        Format::Protobuf => protobuf::decode_reply(bytes)
            .unwrap_or_else(|e| panic!("a framed Protobuf reply: {}", e.error.message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_a_refused_json_request_to_its_reply_queue() {
        let message = br#"{"id":"m1","op":"explode","reply_to":"/app.reply"}"#;
        check_message(8192, message);
        check_message(64, message);
        check_message(0, message);
        assert_eq!(
            envelope::reply_to_of_undecodable(Format::Json, message).as_deref(),
            Some("/app.reply")
        );
    }
}
