//! Sending one reply to a client's reply queue without ever blocking: the queue is
//! opened write-only and non-blocking for this one reply (and closed after it), so a
//! full queue is `EAGAIN`, a vanished client is `ENOENT`; both are logged and counted.
//! The opened queue's owner must be someone who may send requests (see
//! [`ReplyOwners`]): the agent never writes, with its own authority, into another
//! user's queue.

use super::counters::{Counters, Undelivered};
use super::framing::{frame_reply, Framed};
use super::queue::MessageQueue;
use crate::codec::Format;
use crate::core::reply::Reply;
use nix::errno::Errno;
use nix::mqueue::mq_send;
use nix::sys::stat::fstat;
use nix::unistd::{getgrouplist, Gid, Uid, User};
use std::ffi::CString;
use std::os::fd::AsFd;

/// Who may own a reply queue. The kernel does not say who sent a POSIX MQ message, so
/// the owner is checked against who could have: root, the agent's own user, and members
/// of the request queue's group (`mqueue.group`, else the agent's group), the only
/// users its mode 0660 admits.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReplyOwners {
    /// The request queue's group.
    pub group: Gid,
}

impl ReplyOwners {
    /// Whether `uid` may own a reply queue.
    fn admit(&self, uid: u32) -> bool {
        if uid == 0 || uid == nix::unistd::geteuid().as_raw() {
            return true;
        }
        let Ok(Some(user)) = User::from_uid(Uid::from_raw(uid)) else {
            return false;
        };
        let Ok(name) = CString::new(user.name) else {
            return false;
        };
        user.gid == self.group
            || getgrouplist(&name, user.gid).is_ok_and(|groups| groups.contains(&self.group))
    }
}

/// Priority of every reply (the lowest; clients read replies in order).
const REPLY_PRIORITY: u32 = 0;

/// What became of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delivery {
    /// The reply went whole.
    Sent,
    /// A `too_large` error reply went instead.
    SentTooLarge,
    /// Not sent: the reason was logged and counted.
    Dropped(Undelivered),
}

/// Sends `reply` in `format` to the queue `queue_name`.
///
/// Opening the queue per reply (rather than caching descriptors) costs two system calls
/// and keeps no descriptor of a client that is gone or has re-created its queue.
pub(super) fn send_reply(
    queue_name: &str,
    format: Format,
    reply: &Reply,
    counters: &Counters,
    owners: ReplyOwners,
) -> Delivery {
    let id = reply.id.as_deref().unwrap_or("<none>");
    let queue = match MessageQueue::open_reply(queue_name) {
        Ok(q) => q,
        Err(e) => return dropped(counters, queue_name, id, "cannot be opened", e),
    };
    // Checked on the opened descriptor: a queue swapped after the open is not the one
    // written to.
    let owner = match fstat(queue.as_fd()) {
        Ok(stat) => stat.st_uid,
        Err(e) => return dropped(counters, queue_name, id, "has an unreadable owner", e),
    };
    if !owners.admit(owner) {
        log::warn!(
            "POSIX MQ: reply queue {queue_name} (id {id}) belongs to uid {owner}, who may not \
             send requests (not root, the agent or in gid {}); reply not sent",
            owners.group
        );
        counters.count(Undelivered::ForeignQueue);
        return Delivery::Dropped(Undelivered::ForeignQueue);
    }
    let message_size = match queue.message_size() {
        Ok(size) => size,
        Err(e) => return dropped(counters, queue_name, id, "has unreadable attributes", e),
    };
    let (bytes, delivery) = match frame_reply(format, reply, message_size) {
        Ok(Framed::Whole(bytes)) => (bytes, Delivery::Sent),
        Ok(Framed::TooLarge { bytes, reply_len }) => {
            log::warn!(
                "POSIX MQ: reply (id {id}) of {reply_len} bytes is over the message size of \
                 {queue_name} ({message_size} bytes); sending a too_large reply instead"
            );
            counters.count(Undelivered::TooLarge);
            (bytes, Delivery::SentTooLarge)
        }
        Err(e) => {
            log::warn!(
                "POSIX MQ: reply (id {id}) of {} bytes not sent: {queue_name} takes messages \
                 of {message_size} bytes, too small even for a too_large reply",
                e.reply_len
            );
            counters.count(Undelivered::TooLarge);
            return Delivery::Dropped(Undelivered::TooLarge);
        }
    };
    match mq_send(queue.mqd(), &bytes, REPLY_PRIORITY) {
        Ok(()) => delivery,
        Err(e) => dropped(counters, queue_name, id, "refused the reply", e),
    }
}

/// Logs and counts a reply that could not be sent.
fn dropped(counters: &Counters, queue_name: &str, id: &str, what: &str, e: Errno) -> Delivery {
    let why = match e {
        Errno::EAGAIN => Undelivered::QueueFull,
        Errno::ENOENT => Undelivered::QueueMissing,
        _ => Undelivered::SendFailed,
    };
    let hint = match why {
        Undelivered::QueueFull => "the queue is full (the client reads too slowly); reply dropped",
        Undelivered::QueueMissing => "the queue does not exist (the client is gone); reply dropped",
        _ => "reply dropped",
    };
    log::warn!("POSIX MQ: reply queue {queue_name} {what} (id {id}): {e}; {hint}");
    counters.count(why);
    Delivery::Dropped(why)
}

#[cfg(test)]
mod tests {
    use super::super::queue::tests::unique_name;
    use super::*;
    use crate::core::reply::OpResult;
    use nix::mqueue::{
        mq_attr_member_t, mq_close, mq_getattr, mq_open, mq_receive, mq_unlink, MQ_OFlag, MqAttr,
        MqdT,
    };
    use nix::sys::stat::Mode;

    /// Reply queues of the test's own user are admitted (it runs the "agent").
    const OWNERS: ReplyOwners = ReplyOwners {
        group: Gid::from_raw(0),
    };

    /// A client's reply queue; closed and unlinked when dropped.
    struct ClientQueue {
        name: String,
        mqd: Option<MqdT>,
    }

    impl ClientQueue {
        fn new(max_messages: mq_attr_member_t, message_size: mq_attr_member_t) -> Self {
            let name = unique_name("reply");
            let attr = MqAttr::new(0, max_messages, message_size, 0);
            let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_NONBLOCK;
            let mqd = mq_open(
                name.as_str(),
                flags,
                Mode::from_bits_truncate(0o600),
                Some(&attr),
            )
            .unwrap();
            Self {
                name,
                mqd: Some(mqd),
            }
        }

        fn receive(&self) -> serde_json::Value {
            let mqd = self.mqd.as_ref().unwrap();
            let size = usize::try_from(mq_getattr(mqd).unwrap().msgsize()).unwrap();
            let mut buf = vec![0; size];
            let n = mq_receive(mqd, &mut buf, &mut 0).unwrap();
            serde_json::from_slice(&buf[..n]).unwrap()
        }
    }

    impl Drop for ClientQueue {
        fn drop(&mut self) {
            if let Some(mqd) = self.mqd.take() {
                let _ = mq_close(mqd);
            }
            let _ = mq_unlink(self.name.as_str());
        }
    }

    fn logs_reply(id: &str, lines: usize) -> Reply {
        let lines = (0..lines).map(|i| format!("line {i}")).collect();
        Reply::ok(Some(id.into()), OpResult::Logs { lines })
    }

    /// Sends `reply` to `client`'s queue in JSON with fresh counters.
    fn send(queue: &str, reply: &Reply) -> Delivery {
        send_reply(queue, Format::Json, reply, &Counters::default(), OWNERS)
    }

    #[test]
    fn a_reply_arrives_whole() {
        let client = ClientQueue::new(2, 1024);
        assert_eq!(send(&client.name, &logs_reply("r1", 3)), Delivery::Sent);
        let got = client.receive();
        assert_eq!(got["id"], "r1");
        assert_eq!(got["result"]["lines"][2], "line 2");
    }

    #[test]
    fn a_full_queue_drops_the_reply_without_waiting() {
        let client = ClientQueue::new(1, 1024);
        let reply = logs_reply("r2", 1);
        assert_eq!(send(&client.name, &reply), Delivery::Sent);
        assert_eq!(
            send(&client.name, &reply),
            Delivery::Dropped(Undelivered::QueueFull)
        );
    }

    #[test]
    fn a_missing_queue_drops_the_reply() {
        let name = unique_name("gone");
        assert_eq!(
            send(&name, &logs_reply("r3", 1)),
            Delivery::Dropped(Undelivered::QueueMissing)
        );
    }

    #[test]
    fn an_oversized_reply_becomes_too_large() {
        let client = ClientQueue::new(2, 128);
        let counters = Counters::default();
        let reply = logs_reply("r4", 50);
        assert_eq!(
            send_reply(&client.name, Format::Json, &reply, &counters, OWNERS),
            Delivery::SentTooLarge
        );
        let got = client.receive();
        assert_eq!(
            (&got["id"], &got["error"]["code"]),
            (&"r4".into(), &"too_large".into())
        );
        assert_eq!(counters.gauges()[3].2, 1, "counted as too large");
    }
}
