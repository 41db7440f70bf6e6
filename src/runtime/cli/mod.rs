//! `CliRuntime`: the [`Runtime`] adapter that drives the `docker` (and, through
//! [`CliFlavor::Podman`], the docker-compatible `podman`) command-line client.
//!
//! Each op is one or two runs of the binary with an argv built in `argv` (never a
//! shell, `LC_ALL=C` for stable messages, killed at a timeout or when the op's future is
//! dropped); outputs are parsed in `parse` and failures classified in `classify`.

mod argv;
mod auth;
mod classify;
mod events;
mod flavor;
mod inventory;
mod parse;
mod podman_logs;
pub mod process;

use crate::core::error::{Cause, RuntimeError};
use crate::core::image_gc::ImageInventory;
use crate::core::model::{ContainerSpec, ImageInfo, RegistryAuth, RuntimeKind, Stats, Ulimit};
use crate::core::names::{ContainerName, ImageRef, SignalName};
use crate::core::runtime::{EngineContainer, EngineEvents, LogOptions, PulledImage, Runtime};
use async_trait::async_trait;
use classify::Subject;
pub use flavor::CliFlavor;
use process::{Invocation, ProcessOutput, ProcessRunner, SmolProcessRunner};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The CLI runtime adapter.
#[derive(Debug, Clone)]
pub struct CliRuntime {
    flavor: CliFlavor,
    binary: PathBuf,
    timeout: Duration,
    pull_timeout: Duration,
    default_ulimits: Vec<Ulimit>,
    /// Environment every call gets besides `LC_ALL=C` (e.g. `DOCKER_HOST`).
    base_env: Vec<(String, String)>,
    runner: Arc<dyn ProcessRunner>,
}

/// Reads of the image inventory before a change that keeps happening is an error.
const INVENTORY_ATTEMPTS: u32 = 3;

impl CliRuntime {
    /// Time allowed for one CLI call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
    /// Time allowed for a pull.
    pub const DEFAULT_PULL_TIMEOUT: Duration = Duration::from_secs(600);

    /// An adapter running `binary` (a name looked up on `PATH`, or a path) as `flavor`,
    /// allowing `call_timeout` for each call and the longer of it and
    /// [`Self::DEFAULT_PULL_TIMEOUT`] for a pull.
    pub fn new(flavor: CliFlavor, binary: impl Into<PathBuf>, call_timeout: Duration) -> Self {
        Self {
            flavor,
            binary: binary.into(),
            timeout: call_timeout,
            pull_timeout: call_timeout.max(Self::DEFAULT_PULL_TIMEOUT),
            default_ulimits: Vec::new(),
            base_env: Vec::new(),
            runner: Arc::new(SmolProcessRunner),
        }
    }

    /// The docker flavor running `docker` from `PATH` with the default timeouts.
    pub fn docker() -> Self {
        Self::new(
            CliFlavor::Docker,
            CliFlavor::Docker.default_binary(),
            Self::DEFAULT_TIMEOUT,
        )
    }

    /// Sets the time allowed for a pull.
    #[must_use]
    pub fn with_pull_timeout(mut self, pull: Duration) -> Self {
        self.pull_timeout = pull;
        self
    }

    /// Gives every container created through this adapter these resource limits
    /// (`--ulimit`, the agent's `[runtime] default_ulimits`).
    #[must_use]
    pub fn with_default_ulimits(mut self, ulimits: Vec<Ulimit>) -> Self {
        self.default_ulimits = ulimits;
        self
    }

    /// Points the docker CLI at the daemon on `socket` (`DOCKER_HOST`), so the `docker`
    /// and `docker-api` access paths reach the same engine. The podman CLI works on the
    /// local storage the libpod API serves, so it needs no socket and ignores this.
    #[must_use]
    pub fn with_engine_socket(mut self, socket: &std::path::Path) -> Self {
        if self.flavor == CliFlavor::Docker {
            self.base_env.push((
                "DOCKER_HOST".to_owned(),
                format!("unix://{}", socket.display()),
            ));
        }
        self
    }

    /// The environment of every call.
    fn call_env(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.base_env
            .iter()
            .cloned()
            .chain([("LC_ALL".to_owned(), "C".to_owned())])
    }

    /// Runs the binary through `runner` instead of real child processes.
    #[must_use]
    pub fn with_runner(mut self, runner: Arc<dyn ProcessRunner>) -> Self {
        self.runner = runner;
        self
    }

    fn binary_name(&self) -> String {
        self.binary.display().to_string()
    }

    /// Runs one call and returns its output when it exited with 0.
    async fn call(
        &self,
        args: Vec<String>,
        subject: Subject<'_>,
    ) -> Result<ProcessOutput, RuntimeError> {
        self.call_with(args, Vec::new(), self.timeout, subject)
            .await
    }

    async fn call_with(
        &self,
        args: Vec<String>,
        env: Vec<(String, String)>,
        timeout: Duration,
        subject: Subject<'_>,
    ) -> Result<ProcessOutput, RuntimeError> {
        self.call_capped(args, env, timeout, None, subject).await
    }

    /// [`call_with`](Self::call_with), keeping at most `max_output` bytes of output.
    async fn call_capped(
        &self,
        args: Vec<String>,
        mut env: Vec<(String, String)>,
        timeout: Duration,
        max_output: Option<u64>,
        subject: Subject<'_>,
    ) -> Result<ProcessOutput, RuntimeError> {
        env.extend(self.call_env());
        let sub = args.first().cloned().unwrap_or_default();
        let inv = Invocation {
            program: self.binary.clone(),
            args,
            env,
            timeout,
            max_output,
        };
        let out = self
            .runner
            .run(&inv)
            .await
            .map_err(|e| classify::process_error(self.flavor, &self.binary_name(), &sub, &e))?;
        if out.success() {
            Ok(out)
        } else {
            Err(classify::failure(self.flavor, subject, &out.stderr_text()))
        }
    }

    /// A `BadReply` error for output of `sub` this adapter cannot read.
    /// One read of the images and of the images containers use (see `image_inventory`).
    async fn inventory_once(&self) -> Result<ImageInventory, RuntimeError> {
        let out = self
            .call(inventory::image_ids(), Subject::default())
            .await?;
        let ids = inventory::lines(&out.stdout_text());
        let images = if ids.is_empty() {
            Vec::new()
        } else {
            let args = inventory::image_details(self.flavor, &ids);
            let out = self.call(args, Subject::default()).await?;
            inventory::parse_details(&out.stdout_text())
                .map_err(|p| self.unreadable("image inspect", p))?
        };
        let out = self
            .call(inventory::container_ids(), Subject::default())
            .await?;
        let containers = inventory::lines(&out.stdout_text());
        let used_ids = if containers.is_empty() {
            Default::default()
        } else {
            let out = self
                .call(inventory::container_images(&containers), Subject::default())
                .await?;
            inventory::lines(&out.stdout_text())
                .iter()
                .map(|id| crate::runtime::inspect::image_id(id))
                .collect()
        };
        Ok(ImageInventory { images, used_ids })
    }

    fn unreadable(&self, sub: &str, problem: parse::OutputError) -> RuntimeError {
        RuntimeError::BadReply {
            runtime: self.flavor.kind(),
            source: Cause::new(Unreadable {
                command: format!("{} {sub}", self.binary_name()),
                problem,
            }),
        }
    }

    async fn stop_or_restart(
        &self,
        sub: &str,
        name: &ContainerName,
        timeout_s: Option<u32>,
    ) -> Result<(), RuntimeError> {
        // The engine may wait the whole grace period before it kills: allow for it.
        let timeout = self.timeout + Duration::from_secs(timeout_s.unwrap_or(10).into());
        let args = argv::stop_or_restart(sub, self.flavor, name, timeout_s);
        self.call_with(args, Vec::new(), timeout, Subject::container(name))
            .await?;
        Ok(())
    }

    /// Ids of the managed containers, then one inspect of them all.
    async fn list_once(&self) -> Result<Vec<EngineContainer>, RuntimeError> {
        let ids_out = self
            .call(argv::list_managed_ids(), Subject::default())
            .await?;
        let text = ids_out.stdout_text();
        let ids: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.call(argv::inspect(ids), Subject::default()).await?;
        parse::inspect(&out.stdout_text()).map_err(|p| self.unreadable("container inspect", p))
    }
}

/// Output of one CLI command this adapter cannot read.
#[derive(Debug, thiserror::Error)]
#[error("unexpected output from '{command}': {problem}")]
struct Unreadable {
    /// The binary and subcommand, e.g. `docker stats`.
    command: String,
    /// What was wrong with it.
    #[source]
    problem: parse::OutputError,
}

#[async_trait]
impl Runtime for CliRuntime {
    fn kind(&self) -> RuntimeKind {
        self.flavor.kind()
    }

    async fn version(&self) -> Result<String, RuntimeError> {
        let out = self
            .call(argv::version(self.flavor), Subject::default())
            .await?;
        let text = out.stdout_text();
        parse::last_line(&text)
            .map(str::to_owned)
            .ok_or_else(|| self.unreadable("version", parse::OutputError::Nothing("version")))
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let subject = Subject {
            container: None,
            image: Some(&spec.image),
        };
        let args = argv::create(spec, self.flavor, &self.default_ulimits);
        let out = self.call(args, subject).await?;
        let text = out.stdout_text();
        parse::last_line(&text)
            .map(str::to_owned)
            .ok_or_else(|| self.unreadable("create", parse::OutputError::Nothing("container id")))
    }

    async fn start(&self, name: &ContainerName) -> Result<(), RuntimeError> {
        self.call(argv::start(name), Subject::container(name))
            .await?;
        Ok(())
    }

    async fn stop(&self, name: &ContainerName, timeout_s: Option<u32>) -> Result<(), RuntimeError> {
        self.stop_or_restart("stop", name, timeout_s).await
    }

    async fn restart(
        &self,
        name: &ContainerName,
        timeout_s: Option<u32>,
    ) -> Result<(), RuntimeError> {
        self.stop_or_restart("restart", name, timeout_s).await
    }

    async fn kill(&self, name: &ContainerName, signal: SignalName) -> Result<(), RuntimeError> {
        self.call(argv::kill(name, signal), Subject::container(name))
            .await?;
        Ok(())
    }

    async fn remove(&self, name: &ContainerName, force: bool) -> Result<(), RuntimeError> {
        if !force {
            self.call(
                argv::remove_container(name.as_str(), false),
                Subject::container(name),
            )
            .await?;
            return Ok(());
        }
        // `rm --force` succeeds silently on a missing container: look it up first, and
        // remove it by id so that it is the container just looked up.
        let id = self.inspect(name).await?.id;
        self.call(argv::remove_container(&id, true), Subject::container(name))
            .await?;
        Ok(())
    }

    async fn rename(&self, from: &ContainerName, to: &ContainerName) -> Result<(), RuntimeError> {
        self.call(argv::rename(from, to), Subject::container(from))
            .await?;
        Ok(())
    }

    async fn inspect(&self, name: &ContainerName) -> Result<EngineContainer, RuntimeError> {
        let out = self
            .call(argv::inspect([name.as_str()]), Subject::container(name))
            .await?;
        let found = parse::inspect(&out.stdout_text())
            .map_err(|p| self.unreadable("container inspect", p))?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| RuntimeError::NotFound {
                runtime: self.flavor.kind(),
                what: format!("container '{name}'"),
            })
    }

    async fn exec(
        &self,
        name: &ContainerName,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<i64, RuntimeError> {
        let inv = Invocation {
            program: self.binary.clone(),
            args: argv::exec(name, cmd),
            env: self.call_env().collect(),
            timeout,
            // Only the exit code matters; a check that talks more than this is cut off.
            max_output: Some(1 << 20),
        };
        let out =
            self.runner.run(&inv).await.map_err(|e| {
                classify::process_error(self.flavor, &self.binary_name(), "exec", &e)
            })?;
        // The CLI's own failures (no such container, not running) are told apart from
        // the command's exit code by the CLI's error line on stderr.
        let stderr = out.stderr_text();
        if stderr.starts_with("Error") {
            return Err(classify::failure(
                self.flavor,
                Subject::container(name),
                &stderr,
            ));
        }
        out.code.map(i64::from).ok_or_else(|| RuntimeError::Engine {
            runtime: self.flavor.kind(),
            message: format!("exec in container '{name}' was ended by a signal"),
        })
    }

    async fn clear_restart_policy(&self, name: &ContainerName) -> Result<(), RuntimeError> {
        match self.flavor {
            CliFlavor::Docker => {
                self.call(argv::clear_restart_policy(name), Subject::container(name))
                    .await?;
                Ok(())
            }
            CliFlavor::Podman => Err(RuntimeError::Unsupported {
                runtime: self.flavor.kind(),
                what: "changing the restart policy of an existing container".into(),
            }),
        }
    }

    async fn list_managed(&self) -> Result<Vec<EngineContainer>, RuntimeError> {
        // A container removed between `ps` and `inspect` fails the inspect: list again.
        match self.list_once().await {
            Err(RuntimeError::Engine { .. } | RuntimeError::BadReply { .. }) => {
                self.list_once().await
            }
            listed => listed,
        }
    }

    async fn logs(
        &self,
        name: &ContainerName,
        opts: &LogOptions,
    ) -> Result<Vec<String>, RuntimeError> {
        // Streamed with a cap: a large log never sits whole in the agent's memory.
        let out = self
            .call_capped(
                argv::logs(name, opts),
                Vec::new(),
                self.timeout,
                Some(opts.max_bytes),
                Subject::container(name),
            )
            .await?;
        let (stdout, stderr) = match self.flavor {
            CliFlavor::Docker => (out.stdout_text(), out.stderr_text()),
            CliFlavor::Podman => (
                podman_logs::join_fragments(&out.stdout_text()),
                podman_logs::join_fragments(&out.stderr_text()),
            ),
        };
        Ok(parse::merge_logs(&stdout, &stderr))
    }

    async fn stats(&self, name: &ContainerName) -> Result<Stats, RuntimeError> {
        let out = self
            .call(argv::stats(name, self.flavor), Subject::container(name))
            .await?;
        parse::stats(&out.stdout_text()).map_err(|p| self.unreadable("stats", p))
    }

    async fn pull(
        &self,
        image: &ImageRef,
        auth: Option<&RegistryAuth>,
    ) -> Result<PulledImage, RuntimeError> {
        let creds = match auth {
            None => None,
            Some(a) => {
                let (flavor, image, a) = (self.flavor, image.clone(), a.clone());
                let dir = crate::offload::run(move || auth::AuthDir::create(flavor, &image, &a))
                    .await
                    .map_err(|e| RuntimeError::Engine {
                        runtime: self.flavor.kind(),
                        message: format!(
                            "cannot write temporary registry credentials under {}: {e}",
                            std::env::temp_dir().display()
                        ),
                    })?;
                Some(dir)
            }
        };
        let (args, env) = match (&creds, self.flavor) {
            (None, flavor) => (argv::pull(image, None, flavor), Vec::new()),
            (Some(d), CliFlavor::Docker) => (
                argv::pull(image, None, CliFlavor::Docker),
                vec![("DOCKER_CONFIG".to_owned(), d.dir().display().to_string())],
            ),
            (Some(d), CliFlavor::Podman) => (
                argv::pull(
                    image,
                    Some(&d.file().display().to_string()),
                    CliFlavor::Podman,
                ),
                Vec::new(),
            ),
        };
        self.call_with(args, env, self.pull_timeout, Subject::image(image))
            .await?;
        drop(creds);
        let out = self
            .call(argv::image_id(image), Subject::image(image))
            .await?;
        let text = out.stdout_text();
        let id = parse::last_line(&text).ok_or_else(|| {
            self.unreadable("image inspect", parse::OutputError::Nothing("image id"))
        })?;
        Ok(PulledImage {
            id: parse::image_id(id),
        })
    }

    async fn image_inventory(&self) -> Result<ImageInventory, RuntimeError> {
        // The CLI lists ids, then inspects them in one call: an image or container that
        // another client removes in between fails that inspect as a whole. List again
        // (a few times) rather than fail the run.
        let mut attempt = 1;
        loop {
            match self.inventory_once().await {
                Err(e)
                    if attempt < INVENTORY_ATTEMPTS
                        && !matches!(e, RuntimeError::Unavailable { .. }) =>
                {
                    log::debug!(
                        "{}: image inventory changed while read ({e}); reading again",
                        self.flavor.kind()
                    );
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn data_root(&self) -> Result<PathBuf, RuntimeError> {
        let out = self
            .call(argv::data_root(self.flavor), Subject::default())
            .await?;
        let text = out.stdout_text();
        parse::last_line(&text)
            .filter(|root| root.starts_with('/'))
            .map(PathBuf::from)
            .ok_or_else(|| self.unreadable("info", parse::OutputError::Nothing("data root")))
    }

    async fn images(&self) -> Result<Vec<ImageInfo>, RuntimeError> {
        let out = self.call(argv::images(), Subject::default()).await?;
        parse::images(&out.stdout_text()).map_err(|p| self.unreadable("images", p))
    }

    async fn remove_image(&self, image: &ImageRef, force: bool) -> Result<(), RuntimeError> {
        self.call(argv::remove_image(image, force), Subject::image(image))
            .await?;
        Ok(())
    }

    async fn watch(&self) -> Result<EngineEvents, RuntimeError> {
        events::watch(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::process::scripted::ScriptedRunner;
    use super::process::ProcessError;
    use super::*;
    use crate::core::model::ContainerState;
    use std::sync::Mutex;

    fn ok(stdout: &str) -> Result<ProcessOutput, ProcessError> {
        Ok(ProcessOutput {
            code: Some(0),
            stdout: stdout.into(),
            stderr: Vec::new(),
        })
    }

    fn failed(stderr: &str) -> Result<ProcessOutput, ProcessError> {
        Ok(ProcessOutput {
            code: Some(1),
            stdout: Vec::new(),
            stderr: stderr.into(),
        })
    }

    fn scripted(
        answers: Vec<Result<ProcessOutput, ProcessError>>,
    ) -> (CliRuntime, Arc<ScriptedRunner>) {
        let runner = Arc::new(ScriptedRunner {
            answers: Mutex::new(answers.into()),
            ..Default::default()
        });
        (CliRuntime::docker().with_runner(runner.clone()), runner)
    }

    fn name(s: &str) -> ContainerName {
        ContainerName::parse(s).unwrap()
    }

    #[test]
    fn every_call_is_argv_with_lc_all_and_a_timeout() {
        let (rt, runner) = scripted(vec![ok("")]);
        smol::block_on(rt.start(&name("web"))).unwrap();
        let (inv, _) = &runner.seen.lock().unwrap()[0];
        assert_eq!(inv.program, PathBuf::from("docker"));
        assert_eq!(inv.args, ["start", "--", "web"]);
        assert_eq!(inv.env, [("LC_ALL".to_owned(), "C".to_owned())]);
        assert_eq!(inv.timeout, CliRuntime::DEFAULT_TIMEOUT);
        assert_eq!(rt.kind(), RuntimeKind::DockerCli);
    }

    #[test]
    fn stop_allows_for_the_grace_period() {
        let (rt, runner) = scripted(vec![ok("web\n")]);
        smol::block_on(rt.stop(&name("web"), Some(30))).unwrap();
        let (inv, _) = &runner.seen.lock().unwrap()[0];
        assert_eq!(inv.args, ["stop", "--timeout=30", "--", "web"]);
        assert_eq!(
            inv.timeout,
            CliRuntime::DEFAULT_TIMEOUT + Duration::from_secs(30)
        );
    }

    #[test]
    fn missing_binary_and_failures_are_classified() {
        let (rt, _) = scripted(vec![
            Err(ProcessError::NotFound),
            failed("Error response from daemon: No such container: nope\n"),
            ok("[]\n"),
        ]);
        let nope = name("nope");
        assert_eq!(
            smol::block_on(rt.start(&nope)),
            Err(RuntimeError::Unavailable {
                runtime: RuntimeKind::DockerCli,
                reason: "cannot run 'docker': not found on PATH".into()
            })
        );
        let not_found = RuntimeError::NotFound {
            runtime: RuntimeKind::DockerCli,
            what: "container 'nope'".into(),
        };
        assert_eq!(
            smol::block_on(rt.kill(&nope, SignalName::KILL)),
            Err(not_found.clone())
        );
        // An empty inspect array that still exits 0 is a missing container too.
        assert_eq!(smol::block_on(rt.inspect(&nope)), Err(not_found));
    }

    #[test]
    fn force_remove_looks_the_container_up_first() {
        let one = r#"[{"Id":"61f05bab","Name":"/web","State":{"Status":"running"},"Config":{}}]"#;
        let (rt, runner) = scripted(vec![ok(one), ok("61f05bab\n"), ok("[]\n")]);
        smol::block_on(rt.remove(&name("web"), true)).unwrap();
        let missing = smol::block_on(rt.remove(&name("nope"), true)).unwrap_err();
        assert_eq!(missing.code(), crate::core::error::ErrorCode::NotFound);
        let seen = runner.seen.lock().unwrap();
        assert_eq!(seen[1].0.args, ["rm", "--force", "--", "61f05bab"]);
        assert_eq!(seen.len(), 3, "no rm for a missing container");
    }

    #[test]
    fn create_returns_the_last_line() {
        let (rt, _) = scripted(vec![ok("WARNING: x\n61f05bab93cb\n"), ok("")]);
        let spec: ContainerSpec =
            serde_json::from_str(r#"{"name":"web","image":"busybox"}"#).unwrap();
        assert_eq!(smol::block_on(rt.create(&spec)).unwrap(), "61f05bab93cb");
        assert!(matches!(
            smol::block_on(rt.create(&spec)),
            Err(RuntimeError::BadReply { .. })
        ));
    }

    #[test]
    fn list_managed_inspects_the_listed_ids_and_retries_a_race() {
        let one = r#"[{"Id":"aaa","Name":"/web","State":{"Status":"running","ExitCode":0},"Config":{"Image":"busybox","Labels":{"io.ctrmgr.managed":"true"}}}]"#;
        let (rt, runner) = scripted(vec![
            ok("aaa\nbbb\n"),
            failed("Error: No such object: bbb\n"),
            ok("aaa\n"),
            ok(one),
        ]);
        let listed = smol::block_on(rt.list_managed()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].name.as_str(), listed[0].state),
            ("web", ContainerState::Running)
        );
        let seen = runner.seen.lock().unwrap();
        assert_eq!(seen[1].0.args, ["container", "inspect", "--", "aaa", "bbb"]);

        let (rt, runner) = scripted(vec![ok("\n")]);
        assert!(smol::block_on(rt.list_managed()).unwrap().is_empty());
        assert_eq!(runner.seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn logs_merge_both_streams() {
        let (rt, _) = scripted(vec![Ok(ProcessOutput {
            code: Some(0),
            stdout: b"2026-11-29T03:27:49.1Z one\n2026-11-29T03:27:49.3Z three".to_vec(),
            stderr: b"2026-11-29T03:27:49.2Z two\n".to_vec(),
        })]);
        let lines = smol::block_on(rt.logs(&name("web"), &LogOptions::default())).unwrap();
        assert_eq!(lines, ["one", "two", "three"]);
    }

    #[test]
    fn pull_with_auth_uses_a_private_config_dir() {
        let (rt, runner) = scripted(vec![
            ok("127.0.0.1:5000/a:1\n"),
            ok("sha256:366e544091c7\n"),
        ]);
        let image = ImageRef::parse("127.0.0.1:5000/a:1").unwrap();
        let auth = RegistryAuth {
            username: "u".into(),
            password: "p".into(),
        };
        let pulled = smol::block_on(rt.pull(&image, Some(&auth))).unwrap();
        assert_eq!(pulled.id, "sha256:366e544091c7");
        let seen = runner.seen.lock().unwrap();
        let (pull, creds) = &seen[0];
        assert_eq!(pull.args, ["pull", "--quiet", "--", "127.0.0.1:5000/a:1"]);
        assert_eq!(pull.timeout, CliRuntime::DEFAULT_PULL_TIMEOUT);
        assert_eq!(
            creds.as_deref(),
            Some(r#"{"auths":{"127.0.0.1:5000":{"auth":"dTpw"}}}"#)
        );
        let dir = &pull
            .env
            .iter()
            .find(|(k, _)| k == "DOCKER_CONFIG")
            .unwrap()
            .1;
        assert!(
            !std::path::Path::new(dir).exists(),
            "credentials removed after the pull"
        );
        assert_eq!(
            seen[1].0.args,
            [
                "image",
                "inspect",
                "--format={{.Id}}",
                "--",
                "127.0.0.1:5000/a:1"
            ]
        );
    }

    #[test]
    fn stats_and_images_are_parsed() {
        let (rt, _) = scripted(vec![
            ok("0.00%|1.035MiB / 64MiB|1\n"),
            ok("sha256:aaa|busybox|latest|1.98MB\n"),
            ok("garbage\n"),
        ]);
        let s = smol::block_on(rt.stats(&name("web"))).unwrap();
        assert_eq!((s.memory_limit_bytes, s.pids), (64 * 1024 * 1024, 1));
        let i = smol::block_on(rt.images()).unwrap();
        assert_eq!(i[0].tags, ["busybox:latest"]);
        let err = smol::block_on(rt.images()).unwrap_err();
        assert_eq!(err.code(), crate::core::error::ErrorCode::RuntimeError);
        let RuntimeError::BadReply { source, .. } = err else {
            panic!("expected a bad reply");
        };
        let message = source.to_string();
        assert!(
            message.starts_with("unexpected output from 'docker images'"),
            "{message}"
        );
    }

    #[test]
    fn podman_flavor_ulimits_restart_policies_and_image_ids() {
        let runner = Arc::new(ScriptedRunner {
            answers: Mutex::new(
                vec![
                    ok("6f8f3f99ec65\n"),
                    ok("7a9a4a00fd76\n"),
                    ok("q\n"),
                    ok("366e544091c7\n"),
                ]
                .into(),
            ),
            ..Default::default()
        });
        let limits = vec![Ulimit::parse("nofile=1024:20000").unwrap()];
        let rt = CliRuntime::new(CliFlavor::Podman, "podman", CliRuntime::DEFAULT_TIMEOUT)
            .with_default_ulimits(limits)
            .with_runner(runner.clone());
        let mut spec: ContainerSpec =
            serde_json::from_str(r#"{"name":"web","image":"busybox"}"#).unwrap();
        assert_eq!(smol::block_on(rt.create(&spec)).unwrap(), "6f8f3f99ec65");
        spec.restart = Some(crate::core::model::RestartPolicy {
            policy: crate::core::model::RestartKind::UnlessStopped,
            max_retries: None,
        });
        // Every policy is the agent's to keep: podman gets `no` (no systemd needed).
        assert_eq!(smol::block_on(rt.create(&spec)).unwrap(), "7a9a4a00fd76");
        let image = ImageRef::parse("busybox").unwrap();
        let pulled = smol::block_on(rt.pull(&image, None)).unwrap();
        assert_eq!(pulled.id, "sha256:366e544091c7");
        let seen = runner.seen.lock().unwrap();
        assert!(seen[0]
            .0
            .args
            .contains(&"--ulimit=nofile=1024:20000".to_owned()));
        assert!(seen[1].0.args.contains(&"--restart=no".to_owned()));
        assert_eq!(seen.len(), 4);
        assert_eq!(rt.kind(), RuntimeKind::PodmanCli);
    }
}
