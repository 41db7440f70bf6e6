//! The engines' own words, shared by the CLI adapters and both REST adapters: container
//! state words (Docker's and Podman's) and the phrases of their error messages that
//! decide between NotFound, Conflict, Unavailable and Engine. The CLIs run with
//! `LC_ALL=C`, so the English phrases are the ones matched.

use crate::core::model::ContainerState;

/// Maps an engine's state word onto the contract's states: Docker's words, and Podman's
/// own (`configured`, `initialized`, `up`, `stopped`...).
pub(crate) fn container_state(word: &str) -> ContainerState {
    match word.to_ascii_lowercase().as_str() {
        "created" | "configured" | "initialized" => ContainerState::Created,
        "running" | "up" => ContainerState::Running,
        "paused" => ContainerState::Paused,
        "restarting" => ContainerState::Restarting,
        "dead" | "removing" => ContainerState::Dead,
        _ => ContainerState::Exited,
    }
}

/// Whether the engine's exit code is kept for a container in `state`: it is only
/// meaningful once the container stopped, which a dead container did too.
pub(crate) fn keeps_exit_code(state: ContainerState) -> bool {
    matches!(state, ContainerState::Exited | ContainerState::Dead)
}

/// CLI messages that mean the engine's daemon or service does not answer.
#[cfg(any(feature = "docker-cli", feature = "podman-cli"))]
pub(crate) const DAEMON_DOWN: &[&str] = &[
    "Cannot connect to the Docker daemon",
    "Is the docker daemon running",
    "unable to connect to Podman",
];

/// CLI messages that mean the named container does not exist.
#[cfg(any(feature = "docker-cli", feature = "podman-cli"))]
pub(crate) const NO_CONTAINER: &[&str] = &["no such container", "no such object"];

/// CLI messages that mean a conflict. "is not running": kill or pause of a stopped
/// container (the engine API's 409). Podman: "container state improper" (kill of a
/// stopped or rm of a running container), "image is in use" and "please force removal"
/// (rmi of an image in use or by an id with several tags).
#[cfg(any(feature = "docker-cli", feature = "podman-cli"))]
pub(crate) const CONFLICT: &[&str] = &[
    "is already in use",
    "conflict",
    "is not running",
    "cannot remove a running container",
    "container state improper",
    "image is in use",
    "please force removal",
];

/// CLI messages that mean the named image does not exist.
#[cfg(any(feature = "docker-cli", feature = "podman-cli"))]
pub(crate) const NO_IMAGE: &[&str] = &[
    "no such image",
    "unable to find image",
    "manifest unknown",
    "pull access denied",
    "not found",
    "image not known",
];

/// A pull error that means the image or tag does not exist (both REST APIs).
#[cfg(any(feature = "docker-api", feature = "podman-api"))]
pub(crate) const PULL_MISSING: &[&str] = &["not found", "manifest unknown", "does not exist"];

/// libpod error `cause`s that mean the named container or image does not exist.
#[cfg(feature = "podman-api")]
pub(crate) const LIBPOD_MISSING: &[&str] =
    &["no such container", "no such image", "image not known"];

/// libpod error `cause`s that mean a conflict: a name in use, a container in the wrong
/// state, an image in use.
#[cfg(feature = "podman-api")]
pub(crate) const LIBPOD_CONFLICT: &[&str] = &[
    "that name is already in use",
    "container state improper",
    "image is being used",
    "image is in use by a container",
];

/// Whether `message` contains one of `phrases`, ignoring ASCII case.
pub(crate) fn mentions(message: &str, phrases: &[&str]) -> bool {
    let lower = message.to_ascii_lowercase();
    phrases
        .iter()
        .any(|p| lower.contains(&p.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_words_of_both_engines() {
        for (word, state) in [
            ("created", ContainerState::Created),
            ("configured", ContainerState::Created),
            ("Initialized", ContainerState::Created),
            ("running", ContainerState::Running),
            ("up", ContainerState::Running),
            ("paused", ContainerState::Paused),
            ("restarting", ContainerState::Restarting),
            ("dead", ContainerState::Dead),
            ("removing", ContainerState::Dead),
            ("exited", ContainerState::Exited),
            ("stopped", ContainerState::Exited),
        ] {
            assert_eq!(container_state(word), state, "{word}");
        }
        assert!(keeps_exit_code(ContainerState::Dead));
        assert!(!keeps_exit_code(ContainerState::Running));
    }

    #[test]
    fn phrases_match_ignoring_case() {
        let missing = &["no such container", "manifest unknown"];
        assert!(mentions("Error: No such container: web", missing));
        assert!(mentions("Manifest Unknown: manifest unknown", missing));
        assert!(!mentions("disk full", missing));
    }
}
