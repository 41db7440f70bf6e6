//! `MessageQueue`: one owned POSIX message queue descriptor, closed when dropped (nix's
//! `MqdT` has no `Drop`), and the two ways the agent opens one: its request queue
//! (created with the configured attributes) and a client's reply queue (write-only,
//! non-blocking).

use super::MqueueError;
use crate::config::mqueue::MqueueConfig;
use nix::errno::Errno;
use nix::mqueue::{mq_close, mq_getattr, mq_open, mq_unlink, MQ_OFlag, MqAttr, MqdT};
use nix::sys::stat::{fchmod, fstat, Mode};
use nix::unistd::{fchown, geteuid, Gid};
use std::os::fd::{AsFd, BorrowedFd};

/// An open queue descriptor and the queue's name; `mq_close` on drop.
#[derive(Debug)]
pub(super) struct MessageQueue {
    /// Always `Some` until dropped (`mq_close` takes the descriptor by value).
    mqd: Option<MqdT>,
    name: String,
}

impl MessageQueue {
    fn new(mqd: MqdT, name: &str) -> Self {
        Self {
            mqd: Some(mqd),
            name: name.to_owned(),
        }
    }

    /// The nix descriptor, for `mq_send` / `mq_receive`.
    pub fn mqd(&self) -> &MqdT {
        // Only `drop` takes the descriptor out.
        self.mqd
            .as_ref()
            .unwrap_or_else(|| unreachable!("queue used after close"))
    }

    /// The queue's `mq_msgsize`: the largest message it takes and the smallest buffer
    /// `mq_receive` accepts.
    pub fn message_size(&self) -> Result<usize, Errno> {
        let attr = mq_getattr(self.mqd())?;
        usize::try_from(attr.msgsize()).map_err(|_| Errno::EINVAL)
    }

    /// Opens a client's reply queue to send one reply: write-only and non-blocking, so a
    /// full queue is `EAGAIN` instead of a wait. The agent never creates reply queues.
    pub fn open_reply(name: &str) -> Result<Self, Errno> {
        let flags = MQ_OFlag::O_WRONLY | MQ_OFlag::O_NONBLOCK | MQ_OFlag::O_CLOEXEC;
        mq_open(name, flags, Mode::empty(), None).map(|mqd| Self::new(mqd, name))
    }

    /// Creates the request queue, read-only and non-blocking, with exactly the
    /// configured mode (whatever the umask), group and size.
    ///
    /// An existing queue of that name (left by an agent killed with SIGKILL) is reused
    /// when its owner, mode, group and size are the configured ones, so requests sent
    /// while the agent restarted are still answered; otherwise it is unlinked and
    /// created afresh.
    pub fn create_request(config: &MqueueConfig, group: Option<Gid>) -> Result<Self, MqueueError> {
        let name = config.request_queue.as_str();
        let create_error = |source| MqueueError::Create {
            queue: name.to_owned(),
            source,
        };
        match Self::create_exclusive(config) {
            Ok(queue) => return queue.set_owner(config, group),
            Err(Errno::EEXIST) => {}
            Err(source) => return Err(create_error(source)),
        }
        match Self::open_existing(name) {
            Ok(queue) => match queue.differences(config, group) {
                Ok(differences) if differences.is_empty() => {
                    log::info!("POSIX MQ: reusing the existing request queue {name}");
                    return Ok(queue);
                }
                Ok(differences) => log::warn!(
                    "POSIX MQ: request queue {name} exists with {}; unlinking it and creating \
                     it as configured",
                    differences.join(", ")
                ),
                Err(e) => log::warn!(
                    "POSIX MQ: cannot read the attributes of the existing {name} ({e}); \
                     unlinking it and creating it as configured"
                ),
            },
            Err(e) => log::warn!(
                "POSIX MQ: cannot open the existing {name} ({e}); unlinking it and creating it \
                 as configured"
            ),
        }
        match mq_unlink(name) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(source) => {
                return Err(MqueueError::Unlink {
                    queue: name.to_owned(),
                    source,
                })
            }
        }
        Self::create_exclusive(config)
            .map_err(create_error)?
            .set_owner(config, group)
    }

    // `c_long` is `i64` here but `i32` on armv7, where the conversion can fail.
    #[allow(clippy::unnecessary_fallible_conversions)]
    fn create_exclusive(config: &MqueueConfig) -> Result<Self, Errno> {
        let flags = MQ_OFlag::O_RDONLY
            | MQ_OFlag::O_NONBLOCK
            | MQ_OFlag::O_CLOEXEC
            | MQ_OFlag::O_CREAT
            | MQ_OFlag::O_EXCL;
        let max_messages = config.max_messages.try_into().map_err(|_| Errno::EINVAL)?;
        let message_size = config.message_size.try_into().map_err(|_| Errno::EINVAL)?;
        let attr = MqAttr::new(0, max_messages, message_size, 0);
        let mode = Mode::from_bits_truncate(config.mode);
        let name = config.request_queue.as_str();
        mq_open(name, flags, mode, Some(&attr)).map(|mqd| Self::new(mqd, name))
    }

    fn open_existing(name: &str) -> Result<Self, Errno> {
        let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK | MQ_OFlag::O_CLOEXEC;
        mq_open(name, flags, Mode::empty(), None).map(|mqd| Self::new(mqd, name))
    }

    /// Gives the queue its group, then its exact mode (`mq_open` applied the umask).
    fn set_owner(self, config: &MqueueConfig, group: Option<Gid>) -> Result<Self, MqueueError> {
        let fail = |what: String, source| MqueueError::Permissions {
            queue: config.request_queue.to_string(),
            what,
            source,
        };
        if let Some(gid) = group {
            fchown(self.as_fd(), None, Some(gid))
                .map_err(|e| fail(format!("give it group id {gid}"), e))?;
        }
        fchmod(self.as_fd(), Mode::from_bits_truncate(config.mode))
            .map_err(|e| fail(format!("set its mode to {:#o}", config.mode), e))?;
        Ok(self)
    }

    /// How this queue differs from the configuration, in words; empty when it matches.
    fn differences(&self, config: &MqueueConfig, group: Option<Gid>) -> Result<Vec<String>, Errno> {
        let stat = fstat(self.as_fd())?;
        let attr = mq_getattr(self.mqd())?;
        let mut differences = Vec::new();
        if stat.st_uid != geteuid().as_raw() {
            differences.push(format!("owner uid {}", stat.st_uid));
        }
        let mode = stat.st_mode & 0o7777;
        if mode != config.mode {
            differences.push(format!("mode {mode:#o}"));
        }
        if let Some(gid) = group {
            if stat.st_gid != gid.as_raw() {
                differences.push(format!("group id {}", stat.st_gid));
            }
        }
        if u32::try_from(attr.maxmsg()) != Ok(config.max_messages) {
            differences.push(format!("{} messages", attr.maxmsg()));
        }
        if u32::try_from(attr.msgsize()) != Ok(config.message_size) {
            differences.push(format!("a message size of {} bytes", attr.msgsize()));
        }
        Ok(differences)
    }
}

impl AsFd for MessageQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.mqd().as_fd()
    }
}

impl Drop for MessageQueue {
    fn drop(&mut self) {
        if let Some(mqd) = self.mqd.take() {
            if let Err(e) = mq_close(mqd) {
                log::warn!("POSIX MQ: closing {} failed: {e}", self.name);
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A queue name unique to this test process and call.
    pub(in crate::api::mqueue) fn unique_name(what: &str) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        format!(
            "/ctrmgr-unit-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        )
    }

    fn config(name: &str) -> MqueueConfig {
        MqueueConfig {
            request_queue: crate::core::queue_name::QueueName::parse(name).unwrap(),
            max_messages: 4,
            message_size: 256,
            mode: 0o640,
            ..MqueueConfig::default()
        }
    }

    #[test]
    fn created_with_exact_mode_and_size() {
        let name = unique_name("create");
        let queue = MessageQueue::create_request(&config(&name), None).unwrap();
        assert_eq!(queue.message_size().unwrap(), 256);
        let stat = fstat(queue.as_fd()).unwrap();
        assert_eq!(stat.st_mode & 0o7777, 0o640);
        assert!(queue.differences(&config(&name), None).unwrap().is_empty());
        mq_unlink(name.as_str()).unwrap();
    }

    #[test]
    fn matching_queue_is_reused_other_recreated() {
        let name = unique_name("reuse");
        let first = MessageQueue::create_request(&config(&name), None).unwrap();
        let writer = MessageQueue::open_reply(&name).unwrap();
        nix::mqueue::mq_send(writer.mqd(), b"waiting", 0).unwrap();
        drop(first);
        let reused = MessageQueue::create_request(&config(&name), None).unwrap();
        let attr = mq_getattr(reused.mqd()).unwrap();
        assert_eq!(attr.curmsgs(), 1, "a waiting request survives a restart");
        drop(reused);
        let bigger = MqueueConfig {
            message_size: 512,
            ..config(&name)
        };
        let recreated = MessageQueue::create_request(&bigger, None).unwrap();
        let attr = mq_getattr(recreated.mqd()).unwrap();
        assert_eq!((attr.msgsize(), attr.curmsgs()), (512, 0));
        mq_unlink(name.as_str()).unwrap();
    }

    #[test]
    fn missing_reply_queue_is_enoent() {
        let e = MessageQueue::open_reply(&unique_name("absent")).unwrap_err();
        assert_eq!(e, Errno::ENOENT);
    }
}
