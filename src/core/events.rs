//! Container events: every state change the agent makes is broadcast to subscribers
//! (transports that have an event channel: MQTT, D-Bus, REST server-sent events).

use super::model::{Container, ContainerState, RuntimeKind};
use serde::{Serialize, Serializer};
use std::sync::Mutex;

/// What happened to a container: a client's op, or what the reconciler saw in the engine
/// (see [`crate::core::reconcile_records`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventAction {
    /// A client created it.
    Create,
    /// A client started it.
    Start,
    /// A client stopped it.
    Stop,
    /// A client restarted it.
    Restart,
    /// A client sent it a signal.
    Kill,
    /// A client removed it.
    Remove,
    /// A client's inspect found a change.
    Inspect,
    /// An op found that the engine no longer has it.
    Missing,
    /// The engine started (or restarted) it by itself.
    EngineStart,
    /// It exited (or died) in the engine.
    EngineDie,
    /// The engine no longer has it.
    EngineDestroy,
    /// The agent adopted it (labelled, but without a record).
    EngineAdopt,
    /// The engine paused it.
    EnginePause,
    /// The engine is restarting it.
    EngineRestarting,
    /// Any other change the engine made (a new id, back to `created`).
    EngineUpdate,
    /// The agent stopped it again because a client had stopped it.
    IntentStop,
    /// The agent restarted it under its restart policy (see `restart_count`).
    Restarting,
    /// The agent restarted it 5 times within 600 s (it keeps retrying).
    CrashLoop,
    /// Its health check failed `retries` times in a row.
    Unhealthy,
    /// Its health check passed (first time, or again after failing).
    Healthy,
}

impl EventAction {
    /// The contract's spelling: `create` ... `missing`, `engine:start` ...
    /// `engine:update`, `intent:stop`; the supervisor's `restarting`, `crash_loop`,
    /// `unhealthy`, `healthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Create => "create",
            EventAction::Start => "start",
            EventAction::Stop => "stop",
            EventAction::Restart => "restart",
            EventAction::Kill => "kill",
            EventAction::Remove => "remove",
            EventAction::Inspect => "inspect",
            EventAction::Missing => "missing",
            EventAction::EngineStart => "engine:start",
            EventAction::EngineDie => "engine:die",
            EventAction::EngineDestroy => "engine:destroy",
            EventAction::EngineAdopt => "engine:adopt",
            EventAction::EnginePause => "engine:pause",
            EventAction::EngineRestarting => "engine:restarting",
            EventAction::EngineUpdate => "engine:update",
            EventAction::IntentStop => "intent:stop",
            EventAction::Restarting => "restarting",
            EventAction::CrashLoop => "crash_loop",
            EventAction::Unhealthy => "unhealthy",
            EventAction::Healthy => "healthy",
        }
    }
}

impl std::fmt::Display for EventAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerEvent {
    /// What happened.
    pub action: EventAction,
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
    pub fn of(action: EventAction, c: &Container) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_serialize_in_the_contract_spelling() {
        for (action, text) in [
            (EventAction::Create, "\"create\""),
            (EventAction::Missing, "\"missing\""),
            (EventAction::EngineRestarting, "\"engine:restarting\""),
            (EventAction::IntentStop, "\"intent:stop\""),
            (EventAction::Restarting, "\"restarting\""),
            (EventAction::CrashLoop, "\"crash_loop\""),
            (EventAction::Unhealthy, "\"unhealthy\""),
            (EventAction::Healthy, "\"healthy\""),
        ] {
            assert_eq!(serde_json::to_string(&action).unwrap(), text);
            assert_eq!(format!("\"{action}\""), text);
        }
    }
}
