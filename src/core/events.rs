//! The agent's events: every container state change, deployment phase and pull progress
//! is broadcast to subscribers (transports that have an event channel: MQTT, D-Bus, REST
//! server-sent events, gRPC Watch). On the JSON transports each event is one object whose
//! `kind` says which shape follows (`container`, `health`, `deployment`, `pull_progress`).

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

    /// `health` for a supervision finding, `container` for any other change.
    pub fn kind(&self) -> EventKind {
        match self.action {
            EventAction::Restarting
            | EventAction::CrashLoop
            | EventAction::Unhealthy
            | EventAction::Healthy => EventKind::Health,
            _ => EventKind::Container,
        }
    }
}

/// A deployment's phase change, or one step of it on one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentEvent {
    /// The generation being applied.
    pub generation: u64,
    /// Its phase after the change (`pending` ... `failed`).
    pub phase: String,
    /// The container the step was about, when it was about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What was done to that container (`create`, `recreate`, ...), when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// When (RFC 3339).
    pub time: String,
}

/// How far the pull of one image layer has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullProgressEvent {
    /// The image being pulled, as the request named it.
    pub image: String,
    /// The layer (the engine's short layer id).
    pub layer: String,
    /// Bytes done.
    pub current: u64,
    /// Bytes in all, when the engine knows.
    pub total: Option<u64>,
    /// When (RFC 3339).
    pub time: String,
}

/// Which shape an [`Event`] has: its `kind` on every transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A container's state change ([`ContainerEvent`]).
    Container,
    /// A supervision finding about a container (a [`ContainerEvent`] whose action is a
    /// health or restart word).
    Health,
    /// A deployment's progress ([`DeploymentEvent`]).
    Deployment,
    /// An image pull's progress ([`PullProgressEvent`]).
    PullProgress,
}

impl EventKind {
    /// Every kind, in the contract's order.
    pub const ALL: [EventKind; 4] = [
        EventKind::Container,
        EventKind::Health,
        EventKind::Deployment,
        EventKind::PullProgress,
    ];

    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Container => "container",
            EventKind::Health => "health",
            EventKind::Deployment => "deployment",
            EventKind::PullProgress => "pull_progress",
        }
    }
}

/// One event of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A container's state change, or a supervision finding about it (see
    /// [`ContainerEvent::kind`]).
    Container(ContainerEvent),
    /// A deployment's progress.
    Deployment(DeploymentEvent),
    /// An image pull's progress.
    PullProgress(PullProgressEvent),
}

impl Event {
    /// Its kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Container(e) => e.kind(),
            Event::Deployment(_) => EventKind::Deployment,
            Event::PullProgress(_) => EventKind::PullProgress,
        }
    }

    /// The container it is about, when it is about one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Event::Container(e) => Some(&e.name),
            Event::Deployment(e) => e.name.as_deref(),
            Event::PullProgress(_) => None,
        }
    }

    /// The container event inside, when it is one (of kind `container` or `health`).
    pub fn into_container(self) -> Option<ContainerEvent> {
        match self {
            Event::Container(e) => Some(e),
            _ => None,
        }
    }

    /// When it happened (RFC 3339).
    pub fn time(&self) -> &str {
        match self {
            Event::Container(e) => &e.time,
            Event::Deployment(e) => &e.time,
            Event::PullProgress(e) => &e.time,
        }
    }
}

impl From<ContainerEvent> for Event {
    fn from(e: ContainerEvent) -> Self {
        Event::Container(e)
    }
}

impl From<DeploymentEvent> for Event {
    fn from(e: DeploymentEvent) -> Self {
        Event::Deployment(e)
    }
}

impl From<PullProgressEvent> for Event {
    fn from(e: PullProgressEvent) -> Self {
        Event::PullProgress(e)
    }
}

/// The JSON form: the event's fields after `"kind"`.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Tagged<'a> {
    Container(&'a ContainerEvent),
    Health(&'a ContainerEvent),
    Deployment(&'a DeploymentEvent),
    PullProgress(&'a PullProgressEvent),
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Event::Container(e) if e.kind() == EventKind::Health => Tagged::Health(e),
            Event::Container(e) => Tagged::Container(e),
            Event::Deployment(e) => Tagged::Deployment(e),
            Event::PullProgress(e) => Tagged::PullProgress(e),
        }
        .serialize(s)
    }
}

/// Fan-out of events to bounded subscriber channels. A slow subscriber loses events
/// (counted) rather than slowing the core or growing memory.
#[derive(Debug, Default)]
pub struct EventBus {
    subscribers: Mutex<Vec<smol::channel::Sender<Event>>>,
    dropped: std::sync::atomic::AtomicU64,
}

/// Events a subscriber may have queued before it loses new ones.
pub const SUBSCRIBER_QUEUE: usize = 256;

impl EventBus {
    /// A new receiver of every later event.
    pub fn subscribe(&self) -> smol::channel::Receiver<Event> {
        let (tx, rx) = smol::channel::bounded(SUBSCRIBER_QUEUE);
        self.lock().push(tx);
        rx
    }

    /// Sends an event to every live subscriber without waiting.
    pub fn publish(&self, event: impl Into<Event>) {
        let event = event.into();
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<smol::channel::Sender<Event>>> {
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

    #[test]
    fn every_kind_leads_its_json_with_kind() {
        let container = Event::Container(ContainerEvent {
            action: EventAction::EngineDie,
            name: "web".into(),
            runtime: RuntimeKind::DockerCli,
            state: ContainerState::Exited,
            exit_code: Some(1),
            time: "2026-12-07T10:00:00Z".into(),
        });
        assert_eq!(
            serde_json::to_string(&container).unwrap(),
            r#"{"kind":"container","action":"engine:die","name":"web","runtime":"docker","state":"exited","exit_code":1,"time":"2026-12-07T10:00:00Z"}"#
        );
        let deployment = Event::Deployment(DeploymentEvent {
            generation: 42,
            phase: "verifying".into(),
            name: None,
            action: None,
            time: "2026-12-07T10:00:01Z".into(),
        });
        assert_eq!(
            serde_json::to_string(&deployment).unwrap(),
            r#"{"kind":"deployment","generation":42,"phase":"verifying","time":"2026-12-07T10:00:01Z"}"#
        );
        let progress = Event::PullProgress(PullProgressEvent {
            image: "127.0.0.1:5000/app:1".into(),
            layer: "a1b2c3".into(),
            current: 10,
            total: Some(100),
            time: "2026-12-07T10:00:02Z".into(),
        });
        assert_eq!(
            serde_json::to_string(&progress).unwrap(),
            r#"{"kind":"pull_progress","image":"127.0.0.1:5000/app:1","layer":"a1b2c3","current":10,"total":100,"time":"2026-12-07T10:00:02Z"}"#
        );
        assert_eq!(deployment.kind().as_str(), "deployment");
        let Event::Container(mut finding) = container.clone() else {
            unreachable!()
        };
        finding.action = EventAction::CrashLoop;
        let finding = Event::Container(finding);
        assert_eq!(finding.kind(), EventKind::Health);
        assert!(serde_json::to_string(&finding)
            .unwrap()
            .starts_with(r#"{"kind":"health","action":"crash_loop","#));
        assert_eq!(container.name(), Some("web"));
        assert_eq!(progress.time(), "2026-12-07T10:00:02Z");
    }
}
