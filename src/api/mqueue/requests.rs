//! The request loop: reads the request queue through epoll (async-io) without blocking
//! the executor, runs each request as its own task (at most [`MAX_IN_FLIGHT`] at once),
//! and answers each to its `reply_to` queue in the request's format.

use super::counters::{Counters, Undelivered};
use super::envelope::{reply_to, reply_to_of_undecodable};
use super::queue::MessageQueue;
use super::reply::{send_reply, ReplyOwners};
use super::{MqueueError, MAX_IN_FLIGHT};
use crate::api::pipeline::Pipeline;
use crate::api::ApiContext;
use crate::codec::Format;
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::queue_name::QueueName;
use async_io::Async;
use nix::mqueue::mq_receive;
use std::sync::Arc;

/// What answering a request needs; shared by the request tasks.
#[derive(Debug)]
pub(super) struct RequestHandler {
    /// The shutdown signal and the executor.
    pub ctx: ApiContext,
    /// The way into the core.
    pub pipeline: Pipeline,
    /// Replies not delivered whole.
    pub counters: Arc<Counters>,
    /// The request queue's name (a `reply_to` naming it is refused: it would loop).
    pub request_queue: String,
    /// Who may own a reply queue.
    pub reply_owners: ReplyOwners,
}

/// Reads requests until shutdown and spawns one task per request. While
/// [`MAX_IN_FLIGHT`] requests run, the queue is not read: it fills up, and senders then
/// wait in `mq_send` (or get EAGAIN): back-pressure with bounded memory.
pub(super) async fn receive_loop(
    queue: &Async<MessageQueue>,
    message_size: usize,
    handler: &Arc<RequestHandler>,
) -> Result<(), MqueueError> {
    let ctx = &handler.ctx;
    let permits = Arc::new(smol::lock::Semaphore::new(MAX_IN_FLIGHT));
    let mut buffer = vec![0u8; message_size];
    loop {
        let admitted = async { Some(permits.acquire_arc().await) };
        let Some(permit) = smol::future::or(stopped(ctx), admitted).await else {
            return Ok(());
        };
        let received = async {
            let mut priority = 0;
            Some(
                queue
                    .read_with(|q| Ok(mq_receive(q.mqd(), &mut buffer, &mut priority)?))
                    .await,
            )
        };
        let len = match smol::future::or(stopped(ctx), received).await {
            None => return Ok(()),
            Some(Ok(len)) => len,
            Some(Err(source)) => {
                return Err(MqueueError::Receive {
                    queue: handler.request_queue.clone(),
                    source,
                })
            }
        };
        let message = buffer[..len].to_vec();
        let in_flight = ctx.shutdown.track();
        let handler = handler.clone();
        ctx.executor
            .spawn(async move {
                handler.answer(&message).await;
                drop((permit, in_flight));
            })
            .detach();
    }
}

/// `None` once shutdown starts.
async fn stopped<T>(ctx: &ApiContext) -> Option<T> {
    ctx.shutdown.wait().await;
    None
}

impl RequestHandler {
    /// Decodes and runs one request and sends its reply. Never fails: every problem
    /// becomes an error reply or, when nobody can be told, a log line and a count.
    pub async fn answer(&self, message: &[u8]) {
        let format = Format::sniff(message);
        let request = match self.pipeline.decode(format, message) {
            Ok(request) => request,
            Err(refused) => {
                let reply = self.pipeline.count(refused);
                let reply_to =
                    reply_to_of_undecodable(format, message).filter(|q| *q != self.request_queue);
                match reply_to {
                    Some(queue) => {
                        send_reply(&queue, format, &reply, &self.counters, self.reply_owners);
                    }
                    None => {
                        log::warn!(
                            "POSIX MQ: request of {} bytes refused, and it names no usable \
                             reply_to, so nobody can be told: {}",
                            message.len(),
                            reply.error().map_or("", |e| e.message.as_str())
                        );
                        self.counters.count(Undelivered::Unanswerable);
                    }
                }
                return;
            }
        };
        let reply_to = reply_to(format, message);
        if let Some(refusal) = self.refusal(reply_to.as_deref(), request.id.as_deref()) {
            log::warn!(
                "POSIX MQ: {} request refused: {refusal}",
                request.command.op()
            );
            self.pipeline.refuse(
                request.id.map(String::from),
                ErrorBody::new(ErrorCode::InvalidRequest, refusal),
            );
            self.counters.count(Undelivered::Unanswerable);
            return;
        }
        let reply = self.pipeline.run(request).await;
        match reply_to {
            Some(queue) => {
                send_reply(&queue, format, &reply, &self.counters, self.reply_owners);
            }
            None => log::info!(
                "POSIX MQ: request id {} ran without reply_to; send it again with a reply_to \
                 to get its reply",
                reply.id.as_deref().unwrap_or_default()
            ),
        }
    }

    /// Why a decoded request is not run, if it is not: it names our own queue as its
    /// reply queue, or it names none and has no id (nobody could ever learn the result).
    fn refusal(&self, reply_to: Option<&str>, id: Option<&str>) -> Option<&'static str> {
        match (reply_to, id) {
            (Some(q), _) if q == self.request_queue => {
                Some("reply_to names the request queue itself")
            }
            (Some(q), _) if QueueName::parse(q).is_err() => Some("reply_to is not a queue name"),
            (None, None) => Some(
                "it has neither reply_to nor id, so its outcome could never be learnt \
                 (send a reply_to, or an id to fetch the reply later)",
            ),
            _ => None,
        }
    }
}
