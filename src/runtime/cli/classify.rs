//! Turning a failed CLI run into a typed `RuntimeError` by reading its stderr (run with
//! `LC_ALL=C`, so the messages are the English ones matched here).

use super::process::ProcessError;
use super::CliFlavor;
use crate::core::error::RuntimeError;
use crate::core::names::{ContainerName, ImageRef};

/// Longest engine message kept in an error, in characters.
const MAX_MESSAGE: usize = 500;

/// What a command was about, to name it in a `NotFound`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The container the command acts on.
    pub container: Option<&'a ContainerName>,
    /// The image the command acts on (or creates from).
    pub image: Option<&'a ImageRef>,
}

impl<'a> Subject<'a> {
    /// A command on one container.
    pub fn container(name: &'a ContainerName) -> Self {
        Self {
            container: Some(name),
            image: None,
        }
    }

    /// A command on one image.
    pub fn image(image: &'a ImageRef) -> Self {
        Self {
            container: None,
            image: Some(image),
        }
    }
}

const DAEMON_DOWN: &[&str] = &[
    "Cannot connect to the Docker daemon",
    "Is the docker daemon running",
    "unable to connect to Podman",
];

const NO_CONTAINER: &[&str] = &["no such container", "no such object"];

// "is not running": kill or pause of a stopped container (the engine API's 409).
const CONFLICT: &[&str] = &[
    "is already in use",
    "conflict",
    "is not running",
    "cannot remove a running container",
];

const NO_IMAGE: &[&str] = &[
    "no such image",
    "unable to find image",
    "manifest unknown",
    "pull access denied",
    "not found",
];

/// A spawn failure or timeout: the engine could not be asked.
pub fn process_error(flavor: CliFlavor, binary: &str, sub: &str, e: &ProcessError) -> RuntimeError {
    let reason = match e {
        ProcessError::NotFound => format!("cannot run '{binary}': not found on PATH"),
        ProcessError::Spawn(why) => format!("cannot run '{binary}': {why}"),
        ProcessError::TimedOut(_) => format!("'{binary} {sub}': {e}"),
    };
    RuntimeError::Unavailable {
        runtime: flavor.name(),
        reason,
    }
}

/// Classifies the stderr of a run that exited with an error.
pub fn failure(flavor: CliFlavor, subject: Subject<'_>, stderr: &str) -> RuntimeError {
    let runtime = flavor.name();
    let message = clean(stderr);
    let lower = message.to_ascii_lowercase();
    let has = |needles: &[&str]| {
        needles
            .iter()
            .any(|n| lower.contains(&n.to_ascii_lowercase()))
    };
    if has(DAEMON_DOWN) {
        return RuntimeError::Unavailable {
            runtime,
            reason: message,
        };
    }
    if let Some(name) = subject.container {
        if has(NO_CONTAINER) {
            return RuntimeError::NotFound {
                runtime,
                what: format!("container '{name}'"),
            };
        }
    }
    if has(CONFLICT) {
        return RuntimeError::Conflict { runtime, message };
    }
    if let Some(image) = subject.image {
        if has(NO_IMAGE) {
            return RuntimeError::NotFound {
                runtime,
                what: format!("image '{image}'"),
            };
        }
    }
    RuntimeError::Engine { runtime, message }
}

/// The CLI's message without its `Error response from daemon: ` / `Error: ` prefixes,
/// lines joined with `; `, shortened to [`MAX_MESSAGE`] characters.
fn clean(stderr: &str) -> String {
    let joined = stderr
        .lines()
        .map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("Error response from daemon:").unwrap_or(l);
            l.strip_prefix("Error:").unwrap_or(l).trim()
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if joined.is_empty() {
        return "the command failed without a message".to_owned();
    }
    let mut out: String = joined.chars().take(MAX_MESSAGE).collect();
    if joined.chars().count() > MAX_MESSAGE {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorCode;

    fn name() -> ContainerName {
        ContainerName::parse("nope").unwrap()
    }

    fn image() -> ImageRef {
        ImageRef::parse("127.0.0.1:5000/nonexist:1").unwrap()
    }

    fn code(subject: Subject<'_>, stderr: &str) -> ErrorCode {
        failure(CliFlavor::Docker, subject, stderr).code()
    }

    #[test]
    fn daemon_down_is_unavailable() {
        let e = failure(
            CliFlavor::Docker,
            Subject::default(),
            "Cannot connect to the Docker daemon at unix:///tmp/nonexist.sock. Is the docker daemon running?\n",
        );
        assert_eq!(
            e,
            RuntimeError::Unavailable {
                runtime: "docker",
                reason: "Cannot connect to the Docker daemon at unix:///tmp/nonexist.sock. \
                         Is the docker daemon running?"
                    .into()
            }
        );
        let podman = "Error: unable to connect to Podman socket: dial unix /run/podman/podman.sock";
        assert_eq!(
            failure(CliFlavor::Podman, Subject::default(), podman).code(),
            ErrorCode::RuntimeUnavailable
        );
    }

    #[test]
    fn missing_container_is_not_found() {
        let n = name();
        for stderr in [
            "Error response from daemon: No such container: nope\n",
            "Error response from daemon: Cannot kill container: nope: No such container: nope\n",
            "Error: No such object: nope\n",
            "Error: no container with name or ID \"nope\" found: no such container\n",
        ] {
            assert_eq!(
                failure(CliFlavor::Docker, Subject::container(&n), stderr),
                RuntimeError::NotFound {
                    runtime: "docker",
                    what: "container 'nope'".into()
                },
                "{stderr}"
            );
        }
    }

    #[test]
    fn conflicts() {
        let n = name();
        for stderr in [
            "Error response from daemon: Conflict. The container name \"/cli-probe2\" is already in use by container \"2dd040db\". You have to remove (or rename) that container to be able to reuse that name.\n",
            "Error response from daemon: Cannot kill container: cli-probe3: Container 35731704dad5 is not running\n",
            "Error response from daemon: You cannot remove a running container 2dd040db. Stop the container before attempting removal or force remove\n",
            "Error response from daemon: conflict: unable to delete 366e544091c7 (cannot be forced) - image is being used by running container 2dd040db\n",
        ] {
            assert_eq!(code(Subject::container(&n), stderr), ErrorCode::Conflict, "{stderr}");
        }
        let e = failure(
            CliFlavor::Docker,
            Subject::container(&n),
            "Error response from daemon: Conflict. x\n",
        );
        assert_eq!(e.to_string(), "docker: Conflict. x");
    }

    #[test]
    fn missing_image_is_not_found() {
        let i = image();
        for stderr in [
            "Error response from daemon: No such image: 127.0.0.1:5000/nonexist:1\n",
            "Error response from daemon: manifest for 127.0.0.1:5000/nonexist:1 not found: manifest unknown: manifest unknown\n",
            "Error response from daemon: pull access denied for nonexist, repository does not exist or may require 'docker login'\n",
            "Error response from daemon: no such image: nope:1: No such image: nope:1\n",
        ] {
            assert_eq!(
                failure(CliFlavor::Docker, Subject::image(&i), stderr),
                RuntimeError::NotFound { runtime: "docker", what: "image '127.0.0.1:5000/nonexist:1'".into() },
                "{stderr}"
            );
        }
    }

    #[test]
    fn other_failures_are_engine_errors() {
        let e = failure(
            CliFlavor::Docker,
            Subject::container(&name()),
            "Error response from daemon: failed to create endpoint cli-probe on network bridge: could not find bridge docker0\nError: failed to start containers: cli-probe\n",
        );
        assert_eq!(
            e,
            RuntimeError::Engine {
                runtime: "docker",
                message: "failed to create endpoint cli-probe on network bridge: could not find \
                          bridge docker0; failed to start containers: cli-probe"
                    .into()
            }
        );
        let refused = "Error response from daemon: Get \"http://127.0.0.1:5001/v2/\": dial tcp 127.0.0.1:5001: connect: connection refused\n";
        assert_eq!(
            code(Subject::image(&image()), refused),
            ErrorCode::RuntimeError
        );
        // "not found" names an image only when the command is about one.
        assert_eq!(
            code(Subject::default(), "exec: \"x\": executable file not found"),
            ErrorCode::RuntimeError
        );
        assert_eq!(
            failure(CliFlavor::Docker, Subject::default(), "  \n"),
            RuntimeError::Engine {
                runtime: "docker",
                message: "the command failed without a message".into()
            }
        );
        let long = "x".repeat(2000);
        let RuntimeError::Engine { message, .. } =
            failure(CliFlavor::Docker, Subject::default(), &long)
        else {
            panic!("expected an engine error");
        };
        assert_eq!(message.chars().count(), MAX_MESSAGE + 3);
    }

    #[test]
    fn process_errors_are_unavailable() {
        assert_eq!(
            process_error(CliFlavor::Docker, "docker", "ps", &ProcessError::NotFound),
            RuntimeError::Unavailable {
                runtime: "docker",
                reason: "cannot run 'docker': not found on PATH".into()
            }
        );
        let t = process_error(
            CliFlavor::Docker,
            "docker",
            "pull",
            &ProcessError::TimedOut(std::time::Duration::from_secs(600)),
        );
        assert_eq!(
            t.to_string(),
            "docker is unavailable: 'docker pull': no answer within 600 s (the process was killed)"
        );
    }
}
