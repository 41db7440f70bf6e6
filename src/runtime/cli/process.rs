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
    /// Most bytes of stdout and stderr together kept; past it the child is killed and
    /// the run is [`ProcessError::OutputTooLarge`]. `None`: the output is small by
    /// nature (ids, JSON of one object) and read whole.
    pub max_output: Option<u64>,
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
    /// It wrote more than the invocation's `max_output` and was killed.
    #[error("more than {0} bytes of output (the process was killed)")]
    OutputTooLarge(u64),
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
        let finished = async { Some(output(cmd, inv.max_output).await) };
        let timer = async {
            smol::Timer::after(inv.timeout).await;
            None
        };
        // When the timer wins, the `output` future is dropped, which kills the child.
        match smol::future::or(finished, timer).await {
            None => Err(ProcessError::TimedOut(inv.timeout)),
            Some(result) => result,
        }
    }
}

/// Runs `cmd` to its end and collects its output, at most `max` bytes of it in all (the
/// child is killed past that, when the future returns or is dropped).
async fn output(mut cmd: Command, max: Option<u64>) -> Result<ProcessOutput, ProcessError> {
    let spawn_error = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ProcessError::NotFound
        } else {
            ProcessError::Spawn(e.to_string())
        }
    };
    let mut child = cmd.spawn().map_err(spawn_error)?;
    let budget = std::sync::atomic::AtomicU64::new(max.unwrap_or(u64::MAX));
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (stdout, stderr) = futures_lite::future::try_zip(
        read_capped(stdout, &budget, max),
        read_capped(stderr, &budget, max),
    )
    .await?;
    let status = child.status().await.map_err(spawn_error)?;
    Ok(ProcessOutput {
        code: status.code(),
        stdout,
        stderr,
    })
}

/// Reads one pipe to its end, taking each chunk from the shared `budget`.
async fn read_capped(
    pipe: Option<impl futures_lite::AsyncRead + Unpin>,
    budget: &std::sync::atomic::AtomicU64,
    max: Option<u64>,
) -> Result<Vec<u8>, ProcessError> {
    use futures_lite::AsyncReadExt;
    use std::sync::atomic::Ordering;
    let mut out = Vec::new();
    let Some(mut pipe) = pipe else {
        return Ok(out);
    };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = pipe
            .read(&mut chunk)
            .await
            .map_err(|e| ProcessError::Spawn(format!("reading its output: {e}")))?;
        if n == 0 {
            return Ok(out);
        }
        let taken = budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(n as u64)
        });
        if taken.is_err() {
            return Err(ProcessError::OutputTooLarge(max.unwrap_or(u64::MAX)));
        }
        out.extend_from_slice(&chunk[..n]);
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
            max_output: None,
        }
    }

    #[test]
    fn output_over_the_cap_kills_the_child() {
        let mut capped = inv(
            "sh",
            &["-c", "head -c 3000000 /dev/zero; sleep 30"],
            Duration::from_secs(20),
        );
        capped.max_output = Some(1_000_000);
        let start = std::time::Instant::now();
        let r = smol::block_on(SmolProcessRunner.run(&capped));
        assert_eq!(r, Err(ProcessError::OutputTooLarge(1_000_000)));
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "killed, not waited for"
        );
        capped.args = vec!["-c".into(), "head -c 1000 /dev/zero; echo e >&2".into()];
        let out = smol::block_on(SmolProcessRunner.run(&capped)).unwrap();
        assert_eq!(
            (out.stdout.len(), out.stderr_text().as_str()),
            (1000, "e\n")
        );
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
