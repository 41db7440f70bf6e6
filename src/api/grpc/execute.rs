//! `Execute`: one Request message in, one Reply message out, through the same
//! bytes-in/bytes-out pipeline as REST's `POST /v1/execute` with Protobuf. Every problem
//! with the message (unreadable, garbage, unknown fields, over `grpc.max_message_bytes`)
//! is a `Reply.error` with gRPC status OK.

use super::service::Shared;
use crate::codec::{self, Format};
use crate::core::error::{ErrorBody, ErrorCode};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::{Code, Request, Response, Status, Streaming};

/// The call's first (only) request message, or why there is none as the error to
/// answer. tonic refuses a message over the limit from its length prefix, before
/// reading it, with OUT_OF_RANGE: that becomes `too_large`.
pub(super) async fn first_message(
    stream: &mut Streaming<Bytes>,
    limit: usize,
) -> Result<Bytes, ErrorBody> {
    match stream.message().await {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            "the call carried no request message",
        )),
        Err(status) if status.code() == Code::OutOfRange => Err(ErrorBody::new(
            ErrorCode::TooLarge,
            format!("request message is over the limit of {limit} bytes (grpc.max_message_bytes)"),
        )),
        Err(status) => Err(ErrorBody::new(
            ErrorCode::InvalidRequest,
            format!("request message could not be read: {}", status.message()),
        )),
    }
}

/// The Execute handler, in the shape tonic's `Grpc::client_streaming` takes (a unary
/// call is a client stream of one message; reading it ourselves turns a too-large
/// message into a reply instead of a status).
#[derive(Clone)]
pub(super) struct Execute(pub Arc<Shared>);

impl tower_service::Service<Request<Streaming<Bytes>>> for Execute {
    type Response = Response<Vec<u8>>;
    type Error = Status;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Status>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Streaming<Bytes>>) -> Self::Future {
        let shared = self.0.clone();
        Box::pin(async move {
            let _in_flight = shared.ctx.shutdown.track();
            let mut stream = req.into_inner();
            let reply = match first_message(&mut stream, shared.max_message_bytes).await {
                // The shared pipeline (codec, core, counters) runs on the smol executor,
                // never on this tokio thread.
                Ok(bytes) => {
                    let pipeline = shared.pipeline.clone();
                    let handled = async move { pipeline.handle(Format::Protobuf, &bytes).await };
                    shared.ctx.executor.spawn(handled).await
                }
                Err(e) => {
                    let refused = shared.pipeline.refuse(None, e);
                    codec::encode_reply(Format::Protobuf, &refused)
                }
            };
            Ok(Response::new(reply))
        })
    }
}
