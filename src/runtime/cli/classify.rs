//! Turning a failed CLI run into a typed `RuntimeError` by reading its stderr (run with
//! `LC_ALL=C`, so the messages are the English ones matched here).

use super::process::ProcessError;
use super::CliFlavor;
use crate::core::error::RuntimeError;
use crate::core::names::{ContainerName, ImageRef};
use crate::runtime::engine_words::{mentions, CONFLICT, DAEMON_DOWN, NO_CONTAINER, NO_IMAGE};

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

/// A spawn failure or timeout (the engine could not be asked), or output over the
/// invocation's cap (`too_large`).
pub fn process_error(flavor: CliFlavor, binary: &str, sub: &str, e: &ProcessError) -> RuntimeError {
    let reason = match e {
        ProcessError::OutputTooLarge(limit) => {
            return RuntimeError::TooLarge {
                runtime: flavor.kind(),
                what: format!("the output of '{binary} {sub}'"),
                limit: *limit,
                hint: "",
            }
        }
        ProcessError::NotFound if binary.contains('/') => {
            format!("cannot run '{binary}': no such file")
        }
        ProcessError::NotFound => format!("cannot run '{binary}': not found on PATH"),
        ProcessError::Spawn(why) => format!("cannot run '{binary}': {why}"),
        ProcessError::TimedOut(_) => format!("'{binary} {sub}': {e}"),
    };
    RuntimeError::Unavailable {
        runtime: flavor.kind(),
        reason,
    }
}

/// Classifies the stderr of a run that exited with an error.
pub fn failure(flavor: CliFlavor, subject: Subject<'_>, stderr: &str) -> RuntimeError {
    let runtime = flavor.kind();
    let message = clean(stderr);
    let has = |phrases: &[&str]| mentions(&message, phrases);
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

/// Whether a line is one of podman's logrus warnings (`time="..." level=warning msg=...`),
/// such as its retries of a pull, which the final `Error:` line sums up.
fn is_log_noise(line: &str) -> bool {
    line.starts_with("time=\"")
        && ["level=warning", "level=info", "level=debug"]
            .iter()
            .any(|l| line.contains(l))
}

/// The CLI's message without podman's log warnings and without the
/// `Error response from daemon: ` / `Error: ` prefixes, lines joined with `; `, shortened
/// to [`MAX_MESSAGE`] characters.
fn clean(stderr: &str) -> String {
    let joined = stderr
        .lines()
        .filter(|l| !is_log_noise(l.trim()))
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
    use crate::core::model::RuntimeKind;

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
                runtime: RuntimeKind::DockerCli,
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
                    runtime: RuntimeKind::DockerCli,
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
                RuntimeError::NotFound { runtime: RuntimeKind::DockerCli, what: "image '127.0.0.1:5000/nonexist:1'".into() },
                "{stderr}"
            );
        }
    }

    /// Podman 4.3.1's stderr for the same failures, captured with `LC_ALL=C`.
    #[test]
    fn podman_messages() {
        let (n, i) = (name(), image());
        let podman = |subject, stderr| failure(CliFlavor::Podman, subject, stderr);
        for stderr in [
            "Error: no container with name or ID \"nope\" found: no such container\n",
            "Error: unable to get list of containers: unable to look up container nope: no container with name or ID \"nope\" found: no such container\n",
            "Error: inspecting object: no such container nope\n",
        ] {
            assert_eq!(
                podman(Subject::container(&n), stderr),
                RuntimeError::NotFound { runtime: RuntimeKind::PodmanCli, what: "container 'nope'".into() },
                "{stderr}"
            );
        }
        for stderr in [
            "Error: creating container storage: the container name \"probe2\" is already in use by 556a94e7a663. You have to remove that container to be able to reuse that name: that name is already in use\n",
            "Error: can only kill running containers. 556a94e7a663 is in state exited: container state improper\n",
            "Error: cannot remove container a652a62ba1d9 as it is running - running or paused containers cannot be removed without force: container state improper\n",
            "Error: unable to delete image \"366e544091c7\" by ID with more than one tag ([127.0.0.1:5000/ctrmgr-test/busybox:latest localhost/ctrmgr-test/busybox:latest]): please force removal\n",
            "Error: image used by 6f8f3f99ec65: image is in use by a container: consider listing external containers and force-removing image\n",
        ] {
            assert_eq!(podman(Subject::container(&n), stderr).code(), ErrorCode::Conflict, "{stderr}");
        }
        for stderr in [
            "Error: 127.0.0.1:5000/nonexist:1: image not known\n",
            "Error: initializing source docker://127.0.0.1:5000/nonexist:1: reading manifest 1 in 127.0.0.1:5000/nonexist: manifest unknown: manifest unknown\n",
        ] {
            assert_eq!(
                podman(Subject::image(&i), stderr),
                RuntimeError::NotFound { runtime: RuntimeKind::PodmanCli, what: "image '127.0.0.1:5000/nonexist:1'".into() },
                "{stderr}"
            );
        }
        let refused = "time=\"2026-11-29T04:17:19Z\" level=warning msg=\"Failed, retrying in 1s ... (1/3). Error: initializing source docker://127.0.0.1:5001/x:1: pinging container registry 127.0.0.1:5001\"\n\
                       Error: initializing source docker://127.0.0.1:5001/x:1: pinging container registry 127.0.0.1:5001: Get \"https://127.0.0.1:5001/v2/\": dial tcp 127.0.0.1:5001: connect: connection refused\n";
        assert_eq!(
            podman(Subject::image(&i), refused),
            RuntimeError::Engine {
                runtime: RuntimeKind::PodmanCli,
                message: "initializing source docker://127.0.0.1:5001/x:1: pinging container \
                          registry 127.0.0.1:5001: Get \"https://127.0.0.1:5001/v2/\": dial tcp \
                          127.0.0.1:5001: connect: connection refused"
                    .into()
            }
        );
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
                runtime: RuntimeKind::DockerCli,
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
                runtime: RuntimeKind::DockerCli,
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
                runtime: RuntimeKind::DockerCli,
                reason: "cannot run 'docker': not found on PATH".into()
            }
        );
        assert_eq!(
            process_error(
                CliFlavor::Podman,
                "/nonexistent/podman",
                "ps",
                &ProcessError::NotFound
            )
            .to_string(),
            "podman is unavailable: cannot run '/nonexistent/podman': no such file"
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
