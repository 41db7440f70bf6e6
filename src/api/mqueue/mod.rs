//! The POSIX message queue transport (nix `mq_*`): requests on the agent's request
//! queue, replies to each client's own queue.
//!
//! - The agent creates the request queue (`[mqueue]`: name, default `/ctrmgr.req`; mode
//!   0660 applied exactly whatever the umask; optional group; size) and unlinks it at
//!   shutdown. A queue of that name left behind (agent killed) is reused when its owner,
//!   mode, group and size match the configuration, else unlinked and created afresh.
//! - A message is one request: the envelope in JSON or Protobuf (sniffed: first
//!   non-blank byte `{` is JSON), whose `reply_to` names a queue the client created.
//!   The reply goes there in the request's format, sent without blocking: a full queue
//!   (EAGAIN) or a missing one (ENOENT) is logged and counted, and the reply dropped.
//! - A reply larger than the reply queue's `mq_msgsize` is never truncated: a
//!   `too_large` error reply with the request's id goes instead.
//! - A request without `reply_to` runs only when it has an `id` (its reply is kept in
//!   the idempotency cache: re-send it with a `reply_to` to read it); without an id it is
//!   refused, logged and counted, since nobody could learn its outcome.
//! - Back-pressure: at most [`MAX_IN_FLIGHT`] requests run at once; meanwhile the queue
//!   is not read, so it fills and senders wait.
//!
//! # Implementation
//!
//! No thread of its own: the request queue descriptor (pollable on Linux) is registered
//! with async-io's reactor (epoll) and read on the agent's executor; replies are
//! non-blocking system calls made from the request's task.

mod counters;
mod envelope;
mod framing;
mod queue;
mod reply;
mod requests;

pub use crate::config::mqueue::MqueueConfig;

use super::metrics::Transport;
use super::pipeline::Limit;
use super::ApiContext;
use async_io::Async;
use nix::errno::Errno;
use nix::unistd::{Gid, Group};
use queue::MessageQueue;
use requests::RequestHandler;
use std::sync::Arc;

/// Requests handled at once; the request queue is not read while this many run.
pub const MAX_IN_FLIGHT: usize = 32;

/// Why the POSIX MQ transport could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum MqueueError {
    /// `mqueue.group` names no group of this system.
    #[error("mqueue.group: there is no group '{0}' on this system")]
    NoSuchGroup(String),
    /// The group database could not be read.
    #[error("mqueue.group: cannot look up group '{group}': {source}")]
    GroupLookup {
        /// The group name.
        group: String,
        /// Why.
        source: Errno,
    },
    /// The request queue could not be created.
    #[error(
        "cannot create the request queue {queue}: {source} (without CAP_SYS_RESOURCE, \
         mqueue.max_messages and mqueue.message_size must not exceed \
         /proc/sys/fs/mqueue/msg_max and msgsize_max; EMFILE means the user's queues use up \
         RLIMIT_MSGQUEUE, see ulimit -q or LimitMSGQUEUE= in the unit)"
    )]
    Create {
        /// The queue name.
        queue: String,
        /// Why.
        source: Errno,
    },
    /// A stale request queue could not be removed.
    #[error("cannot unlink the existing request queue {queue}: {source} (remove it, or set mqueue.request_queue)")]
    Unlink {
        /// The queue name.
        queue: String,
        /// Why.
        source: Errno,
    },
    /// The request queue's mode or group could not be set.
    #[error("cannot {what} on the request queue {queue}: {source} (the agent must own the queue and belong to mqueue.group, or run as root)")]
    Permissions {
        /// The queue name.
        queue: String,
        /// What was being done.
        what: String,
        /// Why.
        source: Errno,
    },
    /// The request queue's attributes could not be read.
    #[error("cannot read the attributes of the request queue {queue}: {source}")]
    Attributes {
        /// The queue name.
        queue: String,
        /// Why.
        source: Errno,
    },
    /// The request queue could not be registered with the reactor (epoll).
    #[error("cannot watch the request queue {queue} with epoll: {source}")]
    Register {
        /// The queue name.
        queue: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading the request queue failed.
    #[error("reading the request queue {queue} failed: {source}")]
    Receive {
        /// The queue name.
        queue: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Serves the request queue until `ctx.shutdown` fires, then unlinks it and closes it
/// (requests already read finish as tasks the agent drains).
pub async fn serve(ctx: ApiContext, config: MqueueConfig) -> Result<(), MqueueError> {
    let name = config.request_queue.to_string();
    let group = group_id(config.group.as_deref())?;
    let queue = MessageQueue::create_request(&config, group)?;
    let message_size = queue
        .message_size()
        .map_err(|source| MqueueError::Attributes {
            queue: name.clone(),
            source,
        })?;
    // Opened O_NONBLOCK already; `Async::new` would set it again through ioctl(FIONBIO).
    let queue = Async::new_nonblocking(queue).map_err(|source| MqueueError::Register {
        queue: name.clone(),
        source,
    })?;
    log::info!(
        "POSIX MQ: requests on {name} (mode {:#o}{}, messages up to {message_size} bytes)",
        config.mode,
        config
            .group
            .as_deref()
            .map(|g| format!(", group {g}"))
            .unwrap_or_default()
    );
    let counters = Arc::new(counters::Counters::default());
    ctx.metrics.register_gauges({
        let counters = counters.clone();
        move || counters.gauges()
    });
    let handler = Arc::new(RequestHandler {
        pipeline: ctx.pipeline(Transport::Mqueue, Limit::FRAMING),
        ctx,
        counters,
        request_queue: name.clone(),
        reply_owners: reply::ReplyOwners {
            group: group.unwrap_or_else(nix::unistd::getegid),
        },
    });
    let result = requests::receive_loop(&queue, message_size, &handler).await;
    // Unlinked first: from now on a client's mq_open fails (ENOENT) instead of queueing
    // requests nobody reads. Requests still waiting in it are discarded with it.
    match nix::mqueue::mq_unlink(name.as_str()) {
        Ok(()) => log::info!("POSIX MQ: request queue {name} removed"),
        Err(e) => log::warn!("POSIX MQ: cannot unlink the request queue {name}: {e}"),
    }
    drop(queue);
    result
}

/// The id of `mqueue.group`, if set.
fn group_id(group: Option<&str>) -> Result<Option<Gid>, MqueueError> {
    let Some(group) = group else {
        return Ok(None);
    };
    match Group::from_name(group) {
        Ok(Some(g)) => Ok(Some(g.gid)),
        Ok(None) => Err(MqueueError::NoSuchGroup(group.to_owned())),
        Err(source) => Err(MqueueError::GroupLookup {
            group: group.to_owned(),
            source,
        }),
    }
}
