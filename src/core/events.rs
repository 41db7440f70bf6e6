//! Container events: every state change the agent makes is broadcast to subscribers
//! (transports that have an event channel: MQTT, D-Bus, REST server-sent events).

use super::model::{Container, ContainerState, RuntimeKind};
use serde::Serialize;
use std::sync::Mutex;

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerEvent {
    /// What happened: a client's op (`create`, `start`, `stop`, `restart`, `kill`,
    /// `remove`, `inspect`, `missing`) or what the reconciler saw in the engine
    /// (`engine:start`, `engine:die`, `engine:destroy`, `engine:adopt`, `engine:pause`,
    /// `engine:restarting`, `engine:update`, and `intent:stop`; see
    /// [`crate::core::reconcile`]).
    pub action: &'static str,
    /// Container name.
    pub name: String,
    /// Access path.
    pub runtime: RuntimeKind,
    /// State after the change.
    pub state: ContainerState,
    /// Exit code, when exited.
    pub exit_code: Option<i64>,
    /// When (RFC 3339).
    pub time: String,
}

impl ContainerEvent {
    /// The event for a record after `action`.
    pub fn of(action: &'static str, c: &Container) -> Self {
        Self {
            action,
            name: c.name.to_string(),
            runtime: c.runtime,
            state: c.state,
            exit_code: c.exit_code,
            time: c.updated_at.clone(),
        }
    }
}

/// Fan-out of events to bounded subscriber channels. A slow subscriber loses events
/// (counted) rather than slowing the core or growing memory.
#[derive(Debug, Default)]
pub struct EventBus {
    subscribers: Mutex<Vec<smol::channel::Sender<ContainerEvent>>>,
    dropped: std::sync::atomic::AtomicU64,
}

/// Events a subscriber may have queued before it loses new ones.
pub const SUBSCRIBER_QUEUE: usize = 256;

impl EventBus {
    /// A new receiver of every later event.
    pub fn subscribe(&self) -> smol::channel::Receiver<ContainerEvent> {
        let (tx, rx) = smol::channel::bounded(SUBSCRIBER_QUEUE);
        self.lock().push(tx);
        rx
    }

    /// Sends an event to every live subscriber without waiting.
    pub fn publish(&self, event: ContainerEvent) {
        let mut subs = self.lock();
        subs.retain(|tx| !tx.is_closed());
        for tx in subs.iter() {
            if tx.try_send(event.clone()).is_err() {
                self.dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Events lost because a subscriber was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<smol::channel::Sender<ContainerEvent>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
