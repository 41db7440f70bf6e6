//! Whether the records of an engine are live (issue 19): while the reconciler follows an
//! engine's event stream, has queued everything the stream's opening may have missed,
//! and has no reconcile queued or running for a name, that name's record is what the
//! engine last said, so `inspect` serves it without asking the engine (within the
//! engine's event latency; every op leaves its own record true before it replies).

use super::event_told::Told;
use super::model::Engine;
use super::names::ContainerName;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// Names with reconcile work for one engine.
pub(crate) type Pending = Mutex<HashMap<ContainerName, Work>>;

/// The reconcile work of one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Work {
    /// Another pass was asked for after the running one began.
    pub(crate) again: bool,
    /// What the events since the last read of the engine say.
    pub(crate) told: Told,
}

/// What the reconciler knows of one engine's records.
#[derive(Debug, Default)]
pub(crate) struct EngineLive {
    /// The event stream is open and the reconcile of its opening is queued.
    caught_up: AtomicBool,
    /// The names queued or under reconcile.
    pub(crate) pending: Pending,
}

impl EngineLive {
    /// Marks the engine followed and caught up (`true`) or not followed (`false`);
    /// either way the work of an earlier stream is forgotten when it goes.
    pub(crate) fn set_caught_up(&self, caught_up: bool) {
        self.caught_up.store(caught_up, Ordering::Release);
        if !caught_up {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
    }
}

/// The live state of both engines' records.
#[derive(Debug, Default)]
pub(crate) struct LiveRecords {
    docker: EngineLive,
    podman: EngineLive,
}

impl LiveRecords {
    /// The state of `engine`'s records.
    pub(crate) fn of(&self, engine: Engine) -> &EngineLive {
        match engine {
            Engine::Docker => &self.docker,
            Engine::Podman => &self.podman,
        }
    }

    /// Whether `engine`'s event stream is followed and caught up: every change of its
    /// containers from now on reaches the reconciler.
    pub(crate) fn is_followed(&self, engine: Engine) -> bool {
        self.of(engine).caught_up.load(Ordering::Acquire)
    }

    /// Whether the record of `name` in `engine` is live: the engine is followed and
    /// caught up, and no reconcile of `name` is queued or running.
    pub(crate) fn is_live(&self, engine: Engine, name: &ContainerName) -> bool {
        self.is_followed(engine)
            && !self
                .of(engine)
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(name)
    }
}
