//! What the engine events queued for one container name say of its state (issue 19):
//! when every event since the reconciler last read the engine says the state the record
//! already has (the client's own op wrote it: `create` then its `create` event, `stop`
//! then `kill`, `die`, `stop`), the reconcile skips its inspect. Anything else (a state
//! the record does not have, two different states, an action this table does not know,
//! a resync) is read from the engine as before.

use super::model::{Container, ContainerState};

/// What the events of a name say, folded in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Told {
    /// Nothing about the state: an exec or health probe, an attach, a signal the
    /// process may survive (a `die` follows when it does not).
    Nothing,
    /// The container is in this state now (`Missing`: removed).
    State(ContainerState),
    /// Something the record cannot be checked against: the engine is asked.
    Unknown,
}

impl Told {
    /// What one event says, by the engine's action word (Docker's and Podman's; Docker
    /// appends details after `:`, e.g. `exec_start: sh -c ...`, `health_status: healthy`).
    pub(crate) fn of_action(action: &str) -> Self {
        let word = action.split(':').next().unwrap_or_default().trim();
        match word {
            // Podman's `init` (before the `start` of a created container) leaves it
            // `initialized`, which is `created`.
            "create" | "init" => Self::State(ContainerState::Created),
            "start" => Self::State(ContainerState::Running),
            "die" | "died" | "stop" => Self::State(ContainerState::Exited),
            "destroy" | "remove" => Self::State(ContainerState::Missing),
            "kill" | "cleanup" | "attach" | "detach" | "resize" | "top" | "exec_create"
            | "exec_start" | "exec_die" | "exec" | "exec_died" | "health_status" => Self::Nothing,
            _ => Self::Unknown,
        }
    }

    /// These events followed by `later`: one state only if both say the same (or one of
    /// them says nothing), or a create followed by its start (`create` with `start`).
    pub(crate) fn then(self, later: Self) -> Self {
        use ContainerState::{Created, Running};
        match (self, later) {
            (Self::Nothing, told) | (told, Self::Nothing) => told,
            (Self::State(a), Self::State(b)) if a == b => self,
            (Self::State(Created), Self::State(Running)) => later,
            _ => Self::Unknown,
        }
    }

    /// Whether `record` (none: no record) already says what the events say.
    pub(crate) fn covered_by(self, record: Option<&Container>) -> bool {
        match (self, record) {
            (Self::Nothing, _) => true,
            (Self::State(ContainerState::Missing), None) => true,
            (Self::State(state), Some(record)) => record.state == state,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContainerState::*;

    fn fold(actions: &[&str]) -> Told {
        actions
            .iter()
            .fold(Told::Nothing, |told, a| told.then(Told::of_action(a)))
    }

    #[test]
    fn one_state_is_told_only_when_every_event_agrees() {
        assert_eq!(fold(&["kill", "die", "stop"]), Told::State(Exited));
        assert_eq!(fold(&["died", "cleanup"]), Told::State(Exited));
        assert_eq!(fold(&["exec_start: sh -c true", "exec_die"]), Told::Nothing);
        assert_eq!(fold(&["health_status: healthy"]), Told::Nothing);
        assert_eq!(fold(&["destroy"]), Told::State(Missing));
        assert_eq!(fold(&["create", "start"]), Told::State(Running));
        assert_eq!(fold(&["init", "start"]), Told::State(Running));
        // A crash right after a start, a restart, a container replaced under its name.
        assert_eq!(fold(&["start", "die"]), Told::Unknown);
        assert_eq!(
            fold(&["kill", "die", "stop", "start", "restart"]),
            Told::Unknown
        );
        assert_eq!(fold(&["destroy", "create"]), Told::Unknown);
        assert_eq!(fold(&["start", "create"]), Told::Unknown);
        assert_eq!(fold(&["stop", "start"]), Told::Unknown);
        assert_eq!(fold(&["pause"]), Told::Unknown);
        assert_eq!(fold(&["rename"]), Told::Unknown);
    }

    #[test]
    fn a_record_covers_only_the_state_it_has() {
        let spec: super::super::model::ContainerSpec =
            serde_json::from_value(serde_json::json!({"name": "web", "image": "busybox"})).unwrap();
        let record = Container {
            name: spec.name.clone(),
            runtime: super::super::model::RuntimeKind::DockerApi,
            id: String::new(),
            image: spec.image.clone(),
            state: Exited,
            exit_code: Some(143),
            created_at: String::new(),
            updated_at: String::new(),
            spec,
            health: Default::default(),
            restart_count: 0,
            last_exit_code: None,
            started_at: None,
            intent: Default::default(),
            supervision: Default::default(),
        };
        assert!(Told::State(Exited).covered_by(Some(&record)));
        assert!(Told::Nothing.covered_by(Some(&record)));
        assert!(!Told::State(Running).covered_by(Some(&record)));
        assert!(!Told::Unknown.covered_by(Some(&record)));
        assert!(Told::State(Missing).covered_by(None));
        // A container without a record is read (and maybe adopted).
        assert!(!Told::State(Created).covered_by(None));
        assert!(!Told::State(Running).covered_by(None));
    }
}
