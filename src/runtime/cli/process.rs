//! Running the CLI binary: a small `ProcessRunner` trait, so argv building and output
//! parsing can be tested on captured output, and its real implementation on `smol::process`.

use async_trait::async_trait;
use smol::process::{Command, Stdio};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One run of the CLI binary: argv only, never a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The binary (a name looked up on `PATH`, or a path).
    pub program: PathBuf,
    /// Arguments after the program name, each one argv element.
    pub args: Vec<String>,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
    /// The child is killed when it runs longer than this.
    pub timeout: Duration,
}

/// What a finished child left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessOutput {
    /// Exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

impl ProcessOutput {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a child could not be run to its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    /// The binary does not exist.
    #[error("not found on PATH")]
    NotFound,
    /// Spawning or waiting failed for another reason (permissions, resources).
    #[error("{0}")]
    Spawn(String),
    /// It ran longer than the invocation's timeout and was killed.
    #[error("no answer within {} s (the process was killed)", .0.as_secs())]
    TimedOut(Duration),
}

/// Runs an [`Invocation`] and collects its output.
#[async_trait]
pub trait ProcessRunner: Send + Sync + std::fmt::Debug {
    /// Runs it to the end, or kills it at the timeout or when the future is dropped.
    async fn run(&self, inv: &Invocation) -> Result<ProcessOutput, ProcessError>;
}

/// The real runner: `smol::process` children with piped output and no stdin.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolProcessRunner;

/// Whether `path` is a file someone may execute.
fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The file `program` names: a path with a `/` as it is, a bare name looked up on
/// `path_var` (the `PATH` value) as `execvp` does. Looking it up before spawning makes a
/// missing binary `NotFound` everywhere, also under qemu-user, whose emulated
/// `posix_spawn` cannot report the child's exec error to the parent.
fn resolve(program: &Path, path_var: Option<&std::ffi::OsStr>) -> Result<PathBuf, ProcessError> {
    if program.as_os_str().is_empty() {
        return Err(ProcessError::NotFound);
    }
    if program.components().count() > 1 || program.is_absolute() {
        // A path is spawned as given; only a missing one is reported here.
        return if program.exists() {
            Ok(program.to_owned())
        } else {
            Err(ProcessError::NotFound)
        };
    }
    path_var
        .map(std::env::split_paths)
        .into_iter()
        .flatten()
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
        .ok_or(ProcessError::NotFound)
}

#[async_trait]
impl ProcessRunner for SmolProcessRunner {
    async fn run(&self, inv: &Invocation) -> Result<ProcessOutput, ProcessError> {
        let program = resolve(&inv.program, std::env::var_os("PATH").as_deref())?;
        let mut cmd = Command::new(program);
        cmd.args(&inv.args)
            .envs(inv.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let finished = async { Some(cmd.output().await) };
        let timer = async {
            smol::Timer::after(inv.timeout).await;
            None
        };
        // When the timer wins, the `output` future is dropped, which kills the child.
        match smol::future::or(finished, timer).await {
            None => Err(ProcessError::TimedOut(inv.timeout)),
            Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Err(ProcessError::NotFound),
            Some(Err(e)) => Err(ProcessError::Spawn(e.to_string())),
            Some(Ok(out)) => Ok(ProcessOutput {
                code: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
            }),
        }
    }
}

/// A test double that answers each run with the next scripted result.
#[cfg(test)]
pub(crate) mod scripted {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Answers each run with the next scripted result and records what it was asked,
    /// plus the credentials file content when `DOCKER_CONFIG` is set.
    #[derive(Debug, Default)]
    pub(crate) struct ScriptedRunner {
        pub(crate) answers: Mutex<VecDeque<Result<ProcessOutput, ProcessError>>>,
        pub(crate) seen: Mutex<Vec<(Invocation, Option<String>)>>,
    }

    #[async_trait]
    impl ProcessRunner for ScriptedRunner {
        async fn run(&self, inv: &Invocation) -> Result<ProcessOutput, ProcessError> {
            let creds = inv
                .env
                .iter()
                .find(|(k, _)| k == "DOCKER_CONFIG")
                .and_then(|(_, d)| {
                    std::fs::read_to_string(PathBuf::from(d).join("config.json")).ok()
                });
            self.seen.lock().unwrap().push((inv.clone(), creds));
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .expect("an answer for every run")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(program: &str, args: &[&str], timeout: Duration) -> Invocation {
        Invocation {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec![("CTRMGR_PROBE".into(), "x y".into())],
            timeout,
        }
    }

    #[test]
    fn collects_output_and_exit_code() {
        let out = smol::block_on(SmolProcessRunner.run(&inv(
            "sh",
            &["-c", "echo \"$CTRMGR_PROBE\"; echo err >&2; exit 3"],
            Duration::from_secs(10),
        )))
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout_text(), "x y\n");
        assert_eq!(out.stderr_text(), "err\n");
        assert!(!out.success());
    }

    #[test]
    fn missing_binary_is_not_found() {
        let r = smol::block_on(SmolProcessRunner.run(&inv(
            "/nonexistent/ctrmgr-no-such-binary",
            &[],
            Duration::from_secs(10),
        )));
        assert_eq!(r, Err(ProcessError::NotFound));
    }

    #[test]
    fn binaries_are_looked_up_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        let plain = dir.path().join("plain");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::write(&plain, "").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths(["/nonexistent/bin".as_ref(), dir.path()]).unwrap();
        let path = Some(path.as_os_str());
        assert_eq!(resolve(Path::new("tool"), path), Ok(exe.clone()));
        // A file without an execute bit is skipped, as execvp skips it.
        assert_eq!(
            resolve(Path::new("plain"), path),
            Err(ProcessError::NotFound)
        );
        assert_eq!(
            resolve(Path::new("tool"), None),
            Err(ProcessError::NotFound)
        );
        assert_eq!(resolve(Path::new(""), path), Err(ProcessError::NotFound));
        assert_eq!(resolve(&exe, None), Ok(exe.clone()));
        assert_eq!(
            resolve(Path::new("/nonexistent/tool"), path),
            Err(ProcessError::NotFound)
        );
        assert_eq!(
            resolve(Path::new("sub/tool"), path),
            Err(ProcessError::NotFound),
            "a relative path is not looked up on PATH"
        );
    }

    #[test]
    fn timeout_kills_the_child() {
        let start = std::time::Instant::now();
        let r = smol::block_on(SmolProcessRunner.run(&inv(
            "sleep",
            &["30"],
            Duration::from_millis(200),
        )));
        assert_eq!(r, Err(ProcessError::TimedOut(Duration::from_millis(200))));
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
