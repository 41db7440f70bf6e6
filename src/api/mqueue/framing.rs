//! How a reply goes into one message of the client's reply queue: the whole reply when
//! it fits the queue's message size, else a `too_large` error reply (with the request's
//! id) that does; a reply is never truncated or split.

use crate::codec::{encode_reply, Format};
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::reply::Reply;

/// The bytes to send for one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Framed {
    /// The reply itself.
    Whole(Vec<u8>),
    /// A `too_large` error reply standing in for a reply of `reply_len` bytes.
    TooLarge {
        /// The error reply.
        bytes: Vec<u8>,
        /// Size of the reply that did not fit.
        reply_len: usize,
    },
}

/// Not even the shortest `too_large` reply fits the queue's message size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DoesNotFit {
    /// Size of the reply that did not fit.
    pub reply_len: usize,
}

/// Encodes `reply` in `format` for a queue whose messages hold `message_size` bytes.
pub(super) fn frame_reply(
    format: Format,
    reply: &Reply,
    message_size: usize,
) -> Result<Framed, DoesNotFit> {
    let format = format.of_reply();
    let bytes = encode_reply(format, reply);
    if bytes.len() <= message_size {
        return Ok(Framed::Whole(bytes));
    }
    let reply_len = bytes.len();
    let messages = [
        format!(
            "the reply of {reply_len} bytes does not fit the reply queue's message size of \
             {message_size} bytes; create the reply queue with a larger mq_msgsize and send \
             the request again (with the same id, a request that changed something is not \
             run twice)"
        ),
        format!("reply of {reply_len} bytes exceeds mq_msgsize {message_size}"),
        format!("reply needs mq_msgsize {reply_len}"),
    ];
    messages
        .into_iter()
        .map(|message| {
            let error = ErrorBody::new(ErrorCode::TooLarge, message);
            encode_reply(format, &Reply::err(reply.id.clone(), error))
        })
        .find(|bytes| bytes.len() <= message_size)
        .map(|bytes| Framed::TooLarge { bytes, reply_len })
        .ok_or(DoesNotFit { reply_len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::reply::OpResult;
    use serde_json::Value;

    fn logs_reply(id: Option<&str>, lines: usize) -> Reply {
        let lines = (0..lines).map(|i| format!("log line {i}")).collect();
        Reply::ok(id.map(str::to_owned), OpResult::Logs { lines })
    }

    #[test]
    fn a_reply_that_fits_goes_whole() {
        let reply = logs_reply(Some("a1"), 2);
        let Ok(Framed::Whole(bytes)) = frame_reply(Format::Json, &reply, 8192) else {
            panic!("expected the whole reply");
        };
        assert_eq!(bytes, encode_reply(Format::Json, &reply));
    }

    #[test]
    fn a_reply_that_does_not_fit_becomes_too_large_with_the_id() {
        let reply = logs_reply(Some("req-42"), 100);
        for size in [128, 200, 400] {
            let Ok(Framed::TooLarge { bytes, reply_len }) = frame_reply(Format::Json, &reply, size)
            else {
                panic!("expected too_large at {size}");
            };
            assert!(bytes.len() <= size, "{size}: {}", bytes.len());
            assert_eq!(reply_len, encode_reply(Format::Json, &reply).len());
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["id"], "req-42");
            assert_eq!(v["ok"], false);
            assert_eq!(v["error"]["code"], "too_large");
            assert!(v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("mq_msgsize"));
        }
    }

    #[test]
    fn the_fullest_message_is_used_when_it_fits() {
        let reply = logs_reply(None, 100);
        let Ok(Framed::TooLarge { bytes, .. }) = frame_reply(Format::Json, &reply, 1024) else {
            panic!("expected too_large");
        };
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("send the request again"));
    }

    #[test]
    fn a_protobuf_reply_that_does_not_fit_becomes_too_large_too() {
        let reply = logs_reply(Some("pb-1"), 100);
        let Ok(Framed::TooLarge { bytes, .. }) = frame_reply(Format::Protobuf, &reply, 128) else {
            panic!("expected too_large");
        };
        assert!(bytes.len() <= 128);
        assert_eq!(Format::sniff(&bytes), Format::Protobuf.of_reply());
    }

    #[test]
    fn nothing_is_sent_when_not_even_the_error_fits() {
        let reply = logs_reply(Some(&"x".repeat(128)), 100);
        let e = frame_reply(Format::Json, &reply, 128).unwrap_err();
        assert_eq!(e.reply_len, encode_reply(Format::Json, &reply).len());
    }
}
