//! The one request pipeline of every transport: the size limit, the format's codec, the
//! core, the request counters and the reply's encoding. A transport keeps only its
//! framing (how bytes arrive and leave) and its addressing (who gets the reply); it
//! calls [`Pipeline::handle`] with the request's bytes, or, when it must look between
//! the steps (POSIX MQ refuses some decoded requests, REST sets the HTTP status),
//! [`Pipeline::decode`], [`Pipeline::run`] and [`Pipeline::refuse`].

use super::metrics::{Metrics, Transport};
use super::ApiContext;
use crate::codec::{self, Format};
use crate::core::command::Request;
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::reply::Reply;
use crate::core::service::ContainerService;
use std::sync::Arc;

/// The largest request a transport takes, and the config key that sets it (named in the
/// `too_large` message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Most bytes accepted.
    pub max_bytes: usize,
    /// The config key, e.g. `mqtt.max_payload_bytes`.
    pub key: &'static str,
}

impl Limit {
    /// No limit beyond what the transport's framing enforces (POSIX MQ: the kernel's
    /// message size).
    pub const FRAMING: Limit = Limit {
        max_bytes: usize::MAX,
        key: "",
    };

    /// `too_large` for a request of `len` bytes over the limit.
    fn check(&self, len: usize) -> Result<(), ErrorBody> {
        if len <= self.max_bytes {
            return Ok(());
        }
        Err(ErrorBody::new(
            ErrorCode::TooLarge,
            format!(
                "request of {len} bytes is over the limit of {} bytes ({})",
                self.max_bytes, self.key
            ),
        ))
    }
}

/// One transport's way into the core; cheap to clone.
#[derive(Debug, Clone)]
pub struct Pipeline {
    service: Arc<ContainerService>,
    metrics: Arc<Metrics>,
    transport: Transport,
    limit: Limit,
}

impl Pipeline {
    /// The pipeline of `transport`, refusing requests over `limit`.
    pub fn new(ctx: &ApiContext, transport: Transport, limit: Limit) -> Self {
        Self {
            service: ctx.service.clone(),
            metrics: ctx.metrics.clone(),
            transport,
            limit,
        }
    }

    /// One request from bytes to bytes: limit, decode, run, count, encode. The reply is
    /// in `format` (JSON when the Protobuf codec is not built in: [`Format::of_reply`]).
    pub async fn handle(&self, format: Format, bytes: &[u8]) -> Vec<u8> {
        codec::encode_reply(format, &self.respond(format, bytes).await)
    }

    /// [`handle`](Self::handle) without the encoding: the counted reply.
    pub async fn respond(&self, format: Format, bytes: &[u8]) -> Reply {
        match self.decode(format, bytes) {
            Ok(request) => self.run(request).await,
            Err(refused) => self.count(refused),
        }
    }

    /// The limit and the codec: the request, or the error reply (not counted yet: pass
    /// it to [`count`](Self::count) once it is answered).
    pub fn decode(&self, format: Format, bytes: &[u8]) -> Result<Request, Reply> {
        self.limit
            .check(bytes.len())
            .map_err(|error| Reply::err(None, error))?;
        codec::decode_request(format, bytes).map_err(|e| Reply::err(e.id, e.error))
    }

    /// Runs a request in the core and counts its reply.
    pub async fn run(&self, request: Request) -> Reply {
        let reply = self.service.execute(request).await;
        self.count(reply)
    }

    /// The counted error reply to a request the transport refused before the core.
    pub fn refuse(&self, id: Option<String>, error: ErrorBody) -> Reply {
        self.count(Reply::err(id, error))
    }

    /// Counts a reply by its outcome, and hands it back.
    pub fn count(&self, reply: Reply) -> Reply {
        self.metrics
            .count(self.transport, reply.error().map(|e| e.code));
        reply
    }

    /// The core (for what is no request: events, the device id).
    pub fn service(&self) -> &Arc<ContainerService> {
        &self.service
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_names_its_key() {
        let limit = Limit {
            max_bytes: 4,
            key: "mqtt.max_payload_bytes",
        };
        assert!(limit.check(4).is_ok());
        let e = limit.check(5).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
        assert_eq!(
            e.message,
            "request of 5 bytes is over the limit of 4 bytes (mqtt.max_payload_bytes)"
        );
        assert!(Limit::FRAMING.check(usize::MAX).is_ok());
    }
}
