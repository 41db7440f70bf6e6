//! The `ctrmgr.v1.Agent` service as hyper sees it, written by hand as tonic-build would
//! generate it (no codegen step): who may call (bearer token on TCP, SO_PEERCRED result
//! on the unix socket), the `grpc.max_in_flight` bound, and routing to Execute and Watch.

use super::codec::RawCodec;
use super::execute::Execute;
use super::watch::Watch;
use crate::api::access::constant_time_eq;
use crate::api::pipeline::Pipeline;
use crate::api::ApiContext;
use hyper::body::{Body as _, Incoming};
use smol::lock::Semaphore;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tonic::body::Body;
use tonic::server::Grpc;
use tonic::Status;

/// What every call of the transport shares.
pub(super) struct Shared {
    /// The core, the shutdown signal, the smol executor.
    pub ctx: ApiContext,
    /// `grpc.max_message_bytes`.
    pub max_message_bytes: usize,
    /// The shared request pipeline, counted as transport `grpc`.
    pub pipeline: Pipeline,
    /// `Bearer <token>` as TCP callers must send it.
    pub expected_authorization: Option<Vec<u8>>,
    /// `grpc.max_in_flight` slots.
    pub permits: Arc<Semaphore>,
    /// `grpc.max_in_flight` (the semaphore does not tell it).
    pub max_in_flight: usize,
}

/// How a connection's caller was let in.
#[derive(Debug, Clone)]
pub(super) enum Access {
    /// Unix-socket peer allowed by SO_PEERCRED.
    Peer,
    /// TCP: every call must carry the bearer token.
    Token,
    /// Unix-socket peer refused: every call is UNAUTHENTICATED with this reason.
    Refused(Arc<str>),
}

/// One connection's service.
#[derive(Clone)]
pub(super) struct Agent {
    /// The transport's state.
    pub shared: Arc<Shared>,
    /// The connection's caller.
    pub access: Access,
}

/// Longest a refused call's request is read before the refusal is sent.
const DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Method paths.
const EXECUTE: &str = "/ctrmgr.v1.Agent/Execute";
const WATCH: &str = "/ctrmgr.v1.Agent/Watch";

impl hyper::service::Service<http::Request<Incoming>> for Agent {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let agent = self.clone();
        Box::pin(async move { Ok(agent.route(req).await) })
    }
}

impl Agent {
    async fn route(self, req: http::Request<Incoming>) -> http::Response<Body> {
        if let Err(status) = self.authenticate(&req) {
            return self.refuse(req, status).await;
        }
        let Some(permit) = self.shared.permits.try_acquire_arc() else {
            let status = Status::resource_exhausted(format!(
                "more calls at once than grpc.max_in_flight ({}); retry later",
                self.shared.max_in_flight
            ));
            return self.refuse(req, status).await;
        };
        let mut grpc = Grpc::new(RawCodec).max_decoding_message_size(self.shared.max_message_bytes);
        match req.uri().path() {
            EXECUTE => {
                let response = grpc
                    .client_streaming(Execute(self.shared.clone()), req)
                    .await;
                drop(permit);
                response
            }
            WATCH => {
                let watch = Watch {
                    shared: self.shared.clone(),
                    permit: Some(permit),
                };
                grpc.streaming(watch, req).await
            }
            other => {
                let status = Status::unimplemented(format!(
                    "no method {other}: ctrmgr.v1.Agent has Execute and Watch"
                ));
                self.refuse(req, status).await
            }
        }
    }

    /// Answers `status` after reading what the caller sent (at most
    /// `grpc.max_message_bytes` and [`DRAIN_LIMIT`]): a status sent while the request
    /// is still arriving resets the stream, and some clients (curl) then report an
    /// HTTP/2 framing error instead of the status.
    async fn refuse(&self, req: http::Request<Incoming>, status: Status) -> http::Response<Body> {
        let mut body = req.into_body();
        let limit = self.shared.max_message_bytes.saturating_add(5);
        let drain = async {
            let mut read = 0usize;
            while read <= limit {
                let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
                match frame {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
                    _ => break,
                }
            }
        };
        // A caller that never ends its request costs at most the drain limit.
        let _ = tokio::time::timeout(DRAIN_LIMIT, drain).await;
        status.into_http()
    }

    /// UNAUTHENTICATED for a refused peer, or a TCP call without the right token.
    fn authenticate(&self, req: &http::Request<Incoming>) -> Result<(), Status> {
        match &self.access {
            Access::Peer => Ok(()),
            Access::Refused(reason) => Err(Status::unauthenticated(reason.to_string())),
            Access::Token => {
                let presented = req
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .map(|v| v.as_bytes());
                let ok = match (presented, &self.shared.expected_authorization) {
                    (Some(p), Some(expected)) => constant_time_eq(p, expected),
                    _ => false,
                };
                if ok {
                    Ok(())
                } else {
                    Err(Status::unauthenticated(
                        "missing or wrong bearer token (send metadata 'authorization: Bearer <token>' with the token of grpc.token_file)",
                    ))
                }
            }
        }
    }
}
