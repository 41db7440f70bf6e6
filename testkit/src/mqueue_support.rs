//! POSIX MQ test clients: a reply queue made with nix's mq API (unlinked when dropped),
//! sending to the agent's request queue, a minimal Protobuf wire writer/reader for
//! `ctrmgr.v1` requests and replies, and the agent's `/metrics` counters.

use crate::common::Agent;
use ctrmgr::codec::Format;
use nix::errno::Errno;
use nix::mqueue::{
    mq_attr_member_t, mq_close, mq_getattr, mq_open, mq_receive, mq_send, mq_unlink, MQ_OFlag,
    MqAttr, MqdT,
};
use nix::sys::stat::Mode;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Longest wait for a reply (a `pull` or a `create` may take a while on a busy host).
pub const REPLY_WAIT: Duration = Duration::from_secs(120);

/// A queue name unique to this test process and call, e.g. `/ctrmgr-test-42-3.reply`.
pub fn queue_name(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "/ctrmgr-test-{}-{}.{what}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Starts an agent with POSIX MQ on a unique request queue of 2 messages, and waits
/// until the queue exists. `extra` is TOML that follows the `[mqueue]` keys: more of
/// them (not `max_messages`), then any tables. Returns the agent and the queue's name.
///
/// Queues are kept small: every queue of the user counts against RLIMIT_MSGQUEUE
/// (800 KiB by default, ~80 KiB for a 10 x 8192 queue) and tests run in parallel.
pub fn start_agent(extra: &str) -> (Agent, String) {
    start_agent_on(queue_name("req"), extra)
}

/// [`start_agent`] on a given request queue name.
pub fn start_agent_on(queue: String, extra: &str) -> (Agent, String) {
    let agent = Agent::start(&format!(
        "[mqueue]\nenabled = true\nrequest_queue = \"{queue}\"\nmax_messages = 2\n{extra}"
    ));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match mq_open(queue.as_str(), MQ_OFlag::O_WRONLY, Mode::empty(), None) {
            Ok(mqd) => {
                mq_close(mqd).unwrap();
                return (agent, queue);
            }
            Err(e) => assert!(
                Instant::now() < deadline,
                "request queue {queue} never appeared ({e}):\n{}",
                agent.log()
            ),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one message to a queue (blocking, as an ordinary client does).
pub fn send(queue: &str, bytes: &[u8]) {
    let mqd = mq_open(queue, MQ_OFlag::O_WRONLY, Mode::empty(), None)
        .unwrap_or_else(|e| panic!("open {queue} to send: {e}"));
    mq_send(&mqd, bytes, 0).unwrap_or_else(|e| panic!("send to {queue}: {e}"));
    mq_close(mqd).unwrap();
}

/// A client's reply queue, read-only and non-blocking; closed and unlinked on drop.
pub struct ReplyQueue {
    /// Its name, for `reply_to`.
    pub name: String,
    mqd: Option<MqdT>,
}

impl ReplyQueue {
    /// Creates a reply queue holding `max_messages` of `message_size` bytes.
    pub fn create(max_messages: mq_attr_member_t, message_size: mq_attr_member_t) -> Self {
        let name = queue_name("reply");
        let flags =
            MQ_OFlag::O_RDONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_NONBLOCK;
        let attr = MqAttr::new(0, max_messages, message_size, 0);
        let mqd = mq_open(
            name.as_str(),
            flags,
            Mode::from_bits_truncate(0o600),
            Some(&attr),
        )
        .unwrap_or_else(|e| panic!("create {name}: {e}"));
        Self {
            name,
            mqd: Some(mqd),
        }
    }

    /// A queue for one reply at a time: 2 messages of 8192 bytes.
    pub fn standard() -> Self {
        Self::create(2, 8192)
    }

    fn mqd(&self) -> &MqdT {
        self.mqd.as_ref().unwrap()
    }

    /// Messages waiting.
    pub fn pending(&self) -> mq_attr_member_t {
        mq_getattr(self.mqd()).unwrap().curmsgs()
    }

    /// The next message, if one is waiting.
    pub fn try_receive(&self) -> Option<Vec<u8>> {
        let size = usize::try_from(mq_getattr(self.mqd()).unwrap().msgsize()).unwrap();
        let mut buf = vec![0; size];
        match mq_receive(self.mqd(), &mut buf, &mut 0) {
            Ok(n) => {
                buf.truncate(n);
                Some(buf)
            }
            Err(Errno::EAGAIN) => None,
            Err(e) => panic!("receive from {}: {e}", self.name),
        }
    }

    /// The next message; fails the test after [`REPLY_WAIT`].
    pub fn receive(&self, agent: &Agent) -> Vec<u8> {
        let deadline = Instant::now() + REPLY_WAIT;
        loop {
            if let Some(m) = self.try_receive() {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no reply on {} within {REPLY_WAIT:?}:\n{}",
                self.name,
                agent.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The next message as JSON.
    pub fn receive_json(&self, agent: &Agent) -> Value {
        let bytes = self.receive(agent);
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "reply is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    }

    /// Sends `envelope` with `reply_to` set to this queue and returns the reply.
    pub fn call(&self, agent: &Agent, request_queue: &str, mut envelope: Value) -> Value {
        envelope["reply_to"] = Value::from(self.name.clone());
        send(request_queue, envelope.to_string().as_bytes());
        self.receive_json(agent)
    }
}

impl Drop for ReplyQueue {
    fn drop(&mut self) {
        if let Some(mqd) = self.mqd.take() {
            let _ = mq_close(mqd);
        }
        let _ = mq_unlink(self.name.as_str());
    }
}

/// The value of a metric line `name value` on the agent's `/metrics` (0 when absent).
pub fn metric(agent: &Agent, name: &str) -> u64 {
    let mut res = ureq::get(format!("{}/metrics", agent.url))
        .header("Authorization", agent.bearer())
        .call()
        .unwrap();
    let text = res.body_mut().read_to_string().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

/// The POSIX MQ transport as a [`ContractClient`]: requests on the agent's request
/// queue, replies on the client's own queue.
pub struct MqueueClient<'a> {
    /// The agent (its `/metrics` shows an unanswerable request was dropped).
    pub agent: &'a Agent,
    /// The agent's request queue.
    pub queue: String,
    /// The client's reply queue, named as `reply_to`.
    pub replies: ReplyQueue,
}

impl crate::common::contract::ContractClient for MqueueClient<'_> {
    fn transport(&self) -> &'static str {
        "POSIX MQ"
    }

    fn reply_to(&self) -> Option<&str> {
        Some(&self.replies.name)
    }

    fn exchange(&self, _format: Format, bytes: &[u8], answerable: bool) -> Option<Vec<u8>> {
        let unanswered = metric(self.agent, UNANSWERABLE);
        send(&self.queue, bytes);
        if answerable {
            return Some(self.replies.receive(self.agent));
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while metric(self.agent, UNANSWERABLE) <= unanswered {
            assert!(
                Instant::now() < deadline,
                "the MQ transport never counted a request as unanswerable:\n{}",
                self.agent.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// POSIX MQ requests that named no usable reply queue: counted, never answered.
pub const UNANSWERABLE: &str = "ctrmgr_mqueue_unanswerable_total";
