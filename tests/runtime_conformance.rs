//! Runtime conformance suite: every case drives the `Runtime` trait directly against a
//! real engine, and checks what the engine really did through that engine's own CLI
//! (`docker inspect`, ...). One `conformance_suite!` line instantiates every case for one
//! runtime; a missing engine fails the cases, it never skips them.
//!
//! Images: `ctrmgr-test/busybox:latest` must exist locally, and the same image must be
//! served by a registry at `127.0.0.1:5000` (see `scripts/services.sh`).

#![cfg(any(
    feature = "docker-api",
    feature = "docker-cli",
    feature = "podman-api",
    feature = "podman-cli"
))]

#[path = "runtime_conformance/paths.rs"]
mod paths;

use ctrmgr::core::error::{ErrorCode, RuntimeError};
use ctrmgr::core::model::{ContainerSpec, ContainerState, Engine, RegistryAuth};
use ctrmgr::core::names::{ContainerName, ImageRef, SignalName};
use ctrmgr::core::runtime::{LogOptions, Runtime, MANAGED_LABEL};
use ctrmgr::core::since::Since;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// The image every case runs.
const IMAGE: &str = "ctrmgr-test/busybox:latest";
/// The local registry serving the same image.
const REGISTRY_REPO: &str = "127.0.0.1:5000/ctrmgr-test/busybox";

/// Instantiates every case for one runtime:
/// `conformance_suite!(name, cli: "docker", make: || ..., unreachable: || ...)`, where
/// `cli` is the engine's CLI used to check results, `make` builds the runtime under test
/// and `unreachable` builds one pointed at an engine that does not exist.
macro_rules! conformance_suite {
    ($runtime:ident, cli: $cli:expr, make: $make:expr, unreachable: $unreachable:expr) => {
        mod $runtime {
            use super::*;

            fn ctx() -> Ctx {
                let make: fn() -> Arc<dyn Runtime> = $make;
                Ctx {
                    label: stringify!($runtime),
                    cli: $cli,
                    rt: make(),
                }
            }

            #[test]
            fn runtime_unavailable() {
                let unreachable: fn() -> Arc<dyn Runtime> = $unreachable;
                smol::block_on(cases::runtime_unavailable(ctx(), unreachable()));
            }

            conformance_suite!(@cases
                version_answers,
                data_root_is_the_engines,
                create_start_inspect,
                logs_show_output,
                stop_reports_exit_code,
                restart_runs_again,
                kill_with_signal,
                remove_container,
                list_managed_has_labels,
                spec_process,
                spec_ports,
                spec_mounts,
                spec_resources,
                spec_restart_policy,
                exec_exit_codes,
                spec_network,
                spec_privileged_devices,
                not_found_errors,
                duplicate_name_conflict,
                create_missing_image,
                pull_images_remove,
                pull_missing_image,
                stats_running,
                across_access_paths,
                engine_error_carries_message,
            );
        }
    };
    (@cases $($case:ident,)*) => {
        $(
            #[test]
            fn $case() {
                smol::block_on(cases::$case(ctx()));
            }
        )*
    };
}

#[cfg(feature = "docker-api")]
conformance_suite!(
    docker_api,
    cli: "docker",
    make: || Arc::new(ctrmgr::runtime::docker_api::DockerApi::new(
        "/var/run/docker.sock",
        Duration::from_secs(60),
    )),
    unreachable: || Arc::new(ctrmgr::runtime::docker_api::DockerApi::new(
        "/nonexistent/docker.sock",
        Duration::from_secs(60),
    ))
);

#[cfg(feature = "podman-api")]
conformance_suite!(
    podman_api,
    cli: "podman",
    make: || Arc::new(
        ctrmgr::runtime::podman_api::PodmanApi::new("/run/podman/podman.sock", Duration::from_secs(60))
            .with_default_ulimits(podman_ulimits())
    ),
    unreachable: || Arc::new(ctrmgr::runtime::podman_api::PodmanApi::new(
        "/nonexistent/podman.sock",
        Duration::from_secs(60),
    ))
);

/// The ulimits the podman runtimes give containers: the hard RLIMIT_NOFILE of the test
/// machines is 20000 and cannot be raised (see ENVIRONMENT.md), and Podman's own
/// defaults exceed it.
#[cfg(any(feature = "podman-api", feature = "podman-cli"))]
fn podman_ulimits() -> Vec<ctrmgr::core::model::Ulimit> {
    ["nofile=1024:20000", "nproc=1024:1024"]
        .iter()
        .map(|u| ctrmgr::core::model::Ulimit::parse(u).expect("test ulimits are valid"))
        .collect()
}

#[cfg(feature = "docker-cli")]
conformance_suite!(docker_cli, cli: "docker", make: || Arc::new(ctrmgr::runtime::cli::CliRuntime::docker()), unreachable: || Arc::new(ctrmgr::runtime::cli::CliRuntime::new(ctrmgr::runtime::cli::CliFlavor::Docker, "/nonexistent/docker", Duration::from_secs(60))));

#[cfg(feature = "podman-cli")]
conformance_suite!(
    podman_cli,
    cli: "podman",
    make: || paths::make(ctrmgr::core::model::RuntimeKind::PodmanCli),
    unreachable: || Arc::new(ctrmgr::runtime::cli::CliRuntime::new(
        ctrmgr::runtime::cli::CliFlavor::Podman,
        "/nonexistent/podman",
        Duration::from_secs(60),
    ))
);

/// One case's view: the runtime under test and the CLI of its engine.
struct Ctx {
    label: &'static str,
    cli: &'static str,
    rt: Arc<dyn Runtime>,
}

/// Removes a container with the engine's CLI when dropped, even when a case panics.
struct Cleanup {
    cli: &'static str,
    name: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new(self.cli)
            .args(["rm", "-f", &self.name])
            .output();
    }
}

impl Ctx {
    /// A name unique to this case, runtime and test process, and its cleanup guard.
    fn name(&self, case: &str) -> (ContainerName, Cleanup) {
        let text = format!("conf-{case}-{}-{}", self.label, std::process::id());
        let name = ContainerName::parse(&text).expect("test names are valid");
        let guard = Cleanup {
            cli: self.cli,
            name: text,
        };
        (name, guard)
    }

    /// A spec for `name` from the contract's JSON fields.
    fn spec(&self, name: &ContainerName, fields: Value) -> ContainerSpec {
        // The test image has no default command.
        let mut v = json!({"name": name.as_str(), "image": IMAGE, "cmd": ["true"]});
        if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), fields) {
            obj.extend(extra);
        }
        serde_json::from_value(v).expect("test specs are valid")
    }

    /// Creates (and optionally starts) a container from `fields`.
    async fn run(&self, case: &str, fields: Value, start: bool) -> (ContainerName, Cleanup) {
        let (name, guard) = self.name(case);
        self.rt
            .create(&self.spec(&name, fields))
            .await
            .expect("create");
        if start {
            self.rt.start(&name).await.expect("start");
        }
        (name, guard)
    }

    /// The engine CLI's output, failing the case when the CLI fails.
    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(self.cli)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} {args:?}: {e}", self.cli));
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}",
            self.cli,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the engine itself says about a container (`<cli> inspect`).
    fn engine_inspect(&self, name: &ContainerName) -> Value {
        let out = self.cli(&["inspect", name.as_str()]);
        let list: Value = serde_json::from_str(&out).expect("inspect prints JSON");
        list[0].clone()
    }

    /// Whether the engine under test is Podman (whose `inspect` differs in places).
    fn is_podman(&self) -> bool {
        self.rt.kind().engine() == Engine::Podman
    }

    /// [`IMAGE`] as the engine names it: Podman qualifies local images `localhost/`.
    fn local_image(&self) -> String {
        if self.is_podman() {
            format!("localhost/{IMAGE}")
        } else {
            IMAGE.to_owned()
        }
    }

    /// Pushes to the loopback registry, which speaks plain HTTP: Docker allows that on
    /// loopback by itself, Podman must be told.
    fn push(&self, reference: &str) {
        if self.is_podman() {
            self.cli(&["push", "--tls-verify=false", reference]);
        } else {
            self.cli(&["push", reference]);
        }
    }

    /// The entrypoint in `<cli> inspect`'s Config: Podman 4 prints it as one string.
    fn engine_entrypoint(&self, config: &Value) -> Value {
        match &config["Entrypoint"] {
            Value::String(s) if self.is_podman() => json!(s.split(' ').collect::<Vec<_>>()),
            other => other.clone(),
        }
    }

    /// Whether `<cli> inspect` shows `port` (e.g. `80/tcp`) exposed: Podman 4 lists it
    /// under NetworkSettings.Ports only.
    fn engine_exposes(&self, engine: &Value, port: &str) -> bool {
        if self.is_podman() {
            engine["NetworkSettings"]["Ports"][port].is_array()
        } else {
            engine["Config"]["ExposedPorts"][port].is_object()
        }
    }

    /// Waits until the container has exited and returns its exit code.
    async fn wait_exited(&self, name: &ContainerName) -> i64 {
        for _ in 0..300 {
            let c = self.rt.inspect(name).await.expect("inspect");
            if c.state == ContainerState::Exited {
                return c.exit_code.expect("an exited container has an exit code");
            }
            smol::Timer::after(Duration::from_millis(100)).await;
        }
        panic!("container '{name}' never exited");
    }

    /// Runs a container to completion: its exit code and log lines.
    async fn run_to_end(&self, case: &str, fields: Value) -> Finished {
        let (name, guard) = self.run(case, fields, true).await;
        let code = self.wait_exited(&name).await;
        let lines = self
            .rt
            .logs(&name, &LogOptions::default())
            .await
            .expect("logs");
        Finished {
            name,
            code,
            lines,
            _guard: guard,
        }
    }
}

/// A container that ran to completion (removed when dropped).
struct Finished {
    name: ContainerName,
    code: i64,
    lines: Vec<String>,
    _guard: Cleanup,
}

fn code_of<T: std::fmt::Debug>(r: Result<T, RuntimeError>) -> ErrorCode {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            assert!(!e.to_string().contains("{ "), "debug dump in message: {e}");
            e.code()
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn image(s: &str) -> ImageRef {
    ImageRef::parse(s).expect("test image refs are valid")
}

mod cases {
    use super::*;

    pub async fn version_answers(ctx: Ctx) {
        let version = ctx.rt.version().await.expect("version");
        assert!(!version.is_empty());
    }

    /// The data root the free-space check measures is the one the engine's CLI reports.
    pub async fn data_root_is_the_engines(ctx: Ctx) {
        let root = ctx.rt.data_root().await.expect("data_root");
        let format = if ctx.cli == "docker" {
            "{{.DockerRootDir}}"
        } else {
            "{{.Store.GraphRoot}}"
        };
        let out = Command::new(ctx.cli)
            .args(["info", "--format", format])
            .output()
            .expect("engine CLI");
        let want = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(root, std::path::PathBuf::from(want), "{}", ctx.label);
    }

    pub use super::paths::{across_access_paths, engine_error_carries_message};

    /// The engine "stopped" is an access path pointed at a socket or binary that does not
    /// exist, never the shared daemons stopped: the other runtimes' suites (and other
    /// test binaries) run against those same daemons at the same time.
    pub async fn runtime_unavailable(ctx: Ctx, unreachable: Arc<dyn Runtime>) {
        assert_eq!(unreachable.kind(), ctx.rt.kind());
        let err = unreachable.version().await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::RuntimeUnavailable, "{err}");
        let name = ContainerName::parse("conf-unreachable").unwrap();
        assert_eq!(
            code_of(unreachable.inspect(&name).await),
            ErrorCode::RuntimeUnavailable
        );
        assert_eq!(
            code_of(unreachable.create(&ctx.spec(&name, json!({}))).await),
            ErrorCode::RuntimeUnavailable
        );
    }

    pub async fn create_start_inspect(ctx: Ctx) {
        let (name, _guard) = ctx.name("lifecycle");
        let spec = ctx.spec(&name, json!({"cmd": ["sleep", "300"]}));
        let id = ctx.rt.create(&spec).await.expect("create");
        assert!(!id.is_empty());
        let created = ctx.rt.inspect(&name).await.expect("inspect");
        assert_eq!(created.state, ContainerState::Created);
        assert_eq!(created.exit_code, None);
        ctx.rt.start(&name).await.expect("start");
        ctx.rt
            .start(&name)
            .await
            .expect("start when already running");
        let running = ctx.rt.inspect(&name).await.expect("inspect");
        assert_eq!(running.state, ContainerState::Running);
        assert_eq!(running.id, id);
        assert_eq!(running.name, name.as_str());
        assert_eq!(running.image, ctx.local_image());
        assert_eq!(running.exit_code, None);
        assert_eq!(running.labels[MANAGED_LABEL], "true");
        assert_eq!(ctx.engine_inspect(&name)["State"]["Running"], true);
    }

    pub async fn logs_show_output(ctx: Ctx) {
        // stdout and stderr are copied separately: a pause keeps their order certain.
        let script = "echo oops >&2; sleep 1; echo hello; echo; echo bye";
        let done = ctx
            .run_to_end("logs", json!({"cmd": ["sh", "-c", script]}))
            .await;
        let (name, lines) = (&done.name, &done.lines);
        assert_eq!(done.code, 0);
        assert_eq!(lines, &["oops", "hello", "", "bye"]);
        let tail = LogOptions {
            tail: Some(1),
            ..LogOptions::default()
        };
        assert_eq!(ctx.rt.logs(name, &tail).await.expect("logs"), vec!["bye"]);
        let future = LogOptions {
            tail: None,
            since: Some(Since::parse("2999-01-01T00:00:00Z").expect("valid")),
            ..LogOptions::default()
        };
        assert!(ctx.rt.logs(name, &future).await.expect("logs").is_empty());
        let past = LogOptions {
            tail: None,
            since: Some(Since::parse("2000-01-01T00:00:00+02:00").expect("valid")),
            ..LogOptions::default()
        };
        assert_eq!(ctx.rt.logs(name, &past).await.expect("logs").len(), 4);
    }

    pub async fn stop_reports_exit_code(ctx: Ctx) {
        let script = "trap 'exit 3' TERM; while true; do sleep 1; done";
        let (name, _guard) = ctx
            .run("stop", json!({"cmd": ["sh", "-c", script]}), true)
            .await;
        ctx.rt.stop(&name, Some(30)).await.expect("stop");
        let c = ctx.rt.inspect(&name).await.expect("inspect");
        assert_eq!((c.state, c.exit_code), (ContainerState::Exited, Some(3)));
        ctx.rt
            .stop(&name, Some(1))
            .await
            .expect("stop when already stopped");
        assert_eq!(ctx.engine_inspect(&name)["State"]["ExitCode"], 3);
    }

    pub async fn restart_runs_again(ctx: Ctx) {
        let (name, _guard) = ctx
            .run("restart", json!({"cmd": ["sleep", "300"]}), true)
            .await;
        let started = ctx.engine_inspect(&name)["State"]["StartedAt"].clone();
        ctx.rt.restart(&name, Some(1)).await.expect("restart");
        let after = ctx.engine_inspect(&name);
        assert_eq!(after["State"]["Running"], true);
        assert_ne!(after["State"]["StartedAt"], started);
        ctx.rt.stop(&name, Some(1)).await.expect("stop");
        ctx.rt
            .restart(&name, None)
            .await
            .expect("restart a stopped one");
        let c = ctx.rt.inspect(&name).await.expect("inspect");
        assert_eq!(c.state, ContainerState::Running);
    }

    pub async fn kill_with_signal(ctx: Ctx) {
        let script = "trap 'exit 7' TERM; while true; do sleep 1; done";
        let (name, _guard) = ctx
            .run("kill", json!({"cmd": ["sh", "-c", script]}), true)
            .await;
        let term = SignalName::parse("SIGTERM").unwrap();
        ctx.rt.kill(&name, term).await.expect("kill TERM");
        assert_eq!(ctx.wait_exited(&name).await, 7);
        assert_eq!(
            code_of(ctx.rt.kill(&name, term).await),
            ErrorCode::Conflict,
            "killing a stopped container is a state conflict"
        );
        ctx.rt.start(&name).await.expect("start again");
        ctx.rt.kill(&name, SignalName::KILL).await.expect("kill");
        assert_eq!(ctx.wait_exited(&name).await, 137);
    }

    pub async fn remove_container(ctx: Ctx) {
        let (name, _guard) = ctx
            .run("remove", json!({"cmd": ["sleep", "300"]}), true)
            .await;
        assert_eq!(
            code_of(ctx.rt.remove(&name, false).await),
            ErrorCode::Conflict,
            "removing a running container without force"
        );
        ctx.rt.remove(&name, true).await.expect("remove --force");
        assert_eq!(code_of(ctx.rt.inspect(&name).await), ErrorCode::NotFound);
        let (stopped, _guard2) = ctx.run("remove2", json!({}), false).await;
        ctx.rt.remove(&stopped, false).await.expect("remove");
        assert_eq!(code_of(ctx.rt.inspect(&stopped).await), ErrorCode::NotFound);
    }

    pub async fn list_managed_has_labels(ctx: Ctx) {
        let (name, _guard) = ctx
            .run(
                "list",
                json!({"labels": {"app": "conf"}, "cmd": ["true"]}),
                false,
            )
            .await;
        let (unmanaged, _guard2) = ctx.name("list-unmanaged");
        ctx.cli(&["create", "--name", unmanaged.as_str(), IMAGE, "true"]);
        let list = ctx.rt.list_managed().await.expect("list");
        let mine = list
            .iter()
            .find(|c| c.name == name.as_str())
            .expect("the managed container is listed");
        assert_eq!(mine.state, ContainerState::Created);
        assert_eq!(mine.labels["app"], "conf");
        assert_eq!(mine.labels[MANAGED_LABEL], "true");
        assert!(list.iter().all(|c| c.name != unmanaged.as_str()));
        let labels = &ctx.engine_inspect(&name)["Config"]["Labels"];
        assert_eq!(labels["app"], "conf");
        assert_eq!(labels[MANAGED_LABEL], "true");
    }

    pub async fn spec_process(ctx: Ctx) {
        let fields = json!({
            "entrypoint": ["sh", "-c"],
            "cmd": ["echo \"$GREETING\"; id -u; id -g; pwd"],
            "env": {"GREETING": "hi there", "EMPTY": ""},
            "user": "1000:1001",
            "workdir": "/tmp"
        });
        let done = ctx.run_to_end("process", fields).await;
        assert_eq!(done.code, 0, "{:?}", done.lines);
        assert_eq!(done.lines, vec!["hi there", "1000", "1001", "/tmp"]);
        let config = &ctx.engine_inspect(&done.name)["Config"];
        let env: Vec<&str> = config["Env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            env.contains(&"GREETING=hi there") && env.contains(&"EMPTY="),
            "{env:?}"
        );
        let script = "echo \"$GREETING\"; id -u; id -g; pwd";
        let mut argv = ctx
            .engine_entrypoint(config)
            .as_array()
            .cloned()
            .unwrap_or_default();
        argv.extend(config["Cmd"].as_array().cloned().unwrap_or_default());
        assert_eq!(json!(argv), json!(["sh", "-c", script]), "{config}");
        // The docker CLI's --entrypoint takes one string: it records Entrypoint ["sh"]
        // and Cmd ["-c", script], the same process argv. Other paths keep the split.
        if ctx.rt.kind() != ctrmgr::core::model::RuntimeKind::DockerCli {
            assert_eq!(ctx.engine_entrypoint(config), json!(["sh", "-c"]));
            assert_eq!(config["Cmd"], json!([script]));
        }
        assert_eq!(config["User"], "1000:1001");
        assert_eq!(config["WorkingDir"], "/tmp");
    }

    pub async fn spec_ports(ctx: Ctx) {
        let port = free_port();
        let udp_port = free_port();
        let script =
            "mkdir -p /www && echo hi-from-httpd > /www/index.html && httpd -f -p 80 -h /www";
        let (name, _guard) = ctx
            .run(
                "ports",
                json!({
                    "cmd": ["sh", "-c", script],
                    "ports": [
                        {"host": port, "container": 80},
                        {"host": udp_port, "container": 53, "protocol": "udp"}
                    ]
                }),
                true,
            )
            .await;
        let mut answer = String::new();
        for _ in 0..100 {
            if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) {
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = conn.write_all(b"GET /index.html HTTP/1.0\r\n\r\n");
                answer.clear();
                let _ = conn.read_to_string(&mut answer);
                if answer.contains("hi-from-httpd") {
                    break;
                }
            }
            smol::Timer::after(Duration::from_millis(100)).await;
        }
        assert!(
            answer.contains("hi-from-httpd"),
            "port {port} answered {answer:?}"
        );
        let engine = ctx.engine_inspect(&name);
        let bindings = &engine["HostConfig"]["PortBindings"];
        assert_eq!(bindings["80/tcp"][0]["HostPort"], port.to_string());
        assert_eq!(bindings["53/udp"][0]["HostPort"], udp_port.to_string());
        assert!(ctx.engine_exposes(&engine, "80/tcp"));
    }

    pub async fn spec_mounts(ctx: Ctx) {
        let rw = tempfile::tempdir().expect("tempdir");
        let ro = tempfile::tempdir().expect("tempdir");
        std::fs::write(ro.path().join("in.txt"), "from-host").unwrap();
        let fields = json!({
            "cmd": ["sh", "-c", "cat /ro/in.txt; echo; touch /rw/ok && touch /ro/x"],
            "mounts": [
                {"source": rw.path().to_str().unwrap(), "target": "/rw"},
                {"source": ro.path().to_str().unwrap(), "target": "/ro", "read_only": true}
            ]
        });
        let done = ctx.run_to_end("mounts", fields).await;
        assert_ne!(
            done.code, 0,
            "writing to the read-only mount must fail: {:?}",
            done.lines
        );
        // stdout and stderr interleave freely: look for the lines, not their order.
        assert!(
            done.lines.iter().any(|l| l == "from-host"),
            "{:?}",
            done.lines
        );
        assert!(
            done.lines
                .iter()
                .any(|l| l.contains("Read-only file system")),
            "{:?}",
            done.lines
        );
        assert!(
            rw.path().join("ok").exists(),
            "the read-write mount is writable"
        );
        assert!(!ro.path().join("x").exists());
        let mounts = ctx.engine_inspect(&done.name)["Mounts"].clone();
        let rw_of = |target: &str| {
            mounts
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["Destination"] == target)
                .map(|m| m["RW"].clone())
        };
        assert_eq!(rw_of("/ro"), Some(json!(false)));
        assert_eq!(rw_of("/rw"), Some(json!(true)));
    }

    pub async fn spec_resources(ctx: Ctx) {
        let fields = json!({
            "cmd": ["sleep", "300"],
            "resources": {"memory_bytes": 64 * 1024 * 1024, "cpu_millis": 500, "pids_limit": 32}
        });
        let (name, _guard) = ctx.run("resources", fields, true).await;
        let hc = ctx.engine_inspect(&name)["HostConfig"].clone();
        assert_eq!(hc["Memory"], 64 * 1024 * 1024);
        assert_eq!(hc["NanoCpus"], 500_000_000);
        assert_eq!(hc["PidsLimit"], 32);
        let stats = ctx.rt.stats(&name).await.expect("stats");
        assert_eq!(stats.memory_limit_bytes, 64 * 1024 * 1024);
    }

    /// The agent supervises restarts (`src/core/supervision`): every adapter gives the
    /// engine the policy `no` whatever the spec asks for (also `always` and
    /// `unless-stopped` on Podman without systemd), so the engine never restarts.
    pub async fn spec_restart_policy(ctx: Ctx) {
        let fields = json!({
            "cmd": ["false"],
            "restart": {"policy": "on-failure", "max_retries": 2}
        });
        let (name, _guard) = ctx.run("restart-policy", fields, true).await;
        let mut engine = Value::Null;
        for _ in 0..300 {
            engine = ctx.engine_inspect(&name);
            if engine["State"]["Status"] == "exited" {
                break;
            }
            smol::Timer::after(Duration::from_millis(100)).await;
        }
        assert_eq!(engine["State"]["Status"], "exited", "{engine}");
        // Long enough for an engine-side on-failure restart to have happened.
        smol::Timer::after(Duration::from_secs(2)).await;
        let engine = ctx.engine_inspect(&name);
        assert_eq!(engine["RestartCount"], 0, "the engine did not restart it");
        assert_eq!(engine["HostConfig"]["RestartPolicy"]["Name"], "no");
        for policy in ["always", "unless-stopped"] {
            let fields = json!({"restart": {"policy": policy}});
            let (name, _guard2) = ctx.run(&format!("restart-{policy}"), fields, false).await;
            let engine = ctx.engine_inspect(&name);
            assert_eq!(
                engine["HostConfig"]["RestartPolicy"]["Name"], "no",
                "{policy}"
            );
        }
    }

    /// `exec` runs an argv (no shell) in a running container and returns its exit code;
    /// a container that is not running is an error, not an exit code.
    pub async fn exec_exit_codes(ctx: Ctx) {
        let (name, _guard) = ctx
            .run("exec", json!({"cmd": ["sleep", "300"]}), true)
            .await;
        let run = |cmd: &[&str]| {
            let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
            let (rt, name) = (ctx.rt.clone(), name.clone());
            async move { rt.exec(&name, &cmd, Duration::from_secs(10)).await }
        };
        assert_eq!(run(&["true"]).await.unwrap(), 0);
        assert_eq!(run(&["sh", "-c", "exit 3"]).await.unwrap(), 3);
        // No shell: `;` is an argument of echo.
        assert_eq!(run(&["echo", "a;", "exit", "4"]).await.unwrap(), 0);
        ctx.rt.stop(&name, Some(1)).await.unwrap();
        assert!(run(&["true"]).await.is_err());
    }

    pub async fn spec_network(ctx: Ctx) {
        let fields = json!({"cmd": ["ls", "/sys/class/net"], "network": "none"});
        let done = ctx.run_to_end("net-none", fields).await;
        assert_eq!((done.code, &done.lines[..]), (0, &["lo".to_owned()][..]));
        assert_eq!(
            ctx.engine_inspect(&done.name)["HostConfig"]["NetworkMode"],
            "none"
        );

        let fields = json!({"cmd": ["ls", "/sys/class/net"], "network": "host"});
        let done = ctx.run_to_end("net-host", fields).await;
        // Other containers' veth pairs come and go while this runs: compare the rest.
        let stable = |names: Vec<String>| {
            let mut names: Vec<String> = names
                .into_iter()
                .filter(|n| !n.starts_with("veth"))
                .collect();
            names.sort();
            names
        };
        let host: Vec<String> = std::fs::read_dir("/sys/class/net")
            .expect("host interfaces")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert_eq!(done.code, 0);
        assert_eq!(stable(done.lines.clone()), stable(host));
        assert_eq!(
            ctx.engine_inspect(&done.name)["HostConfig"]["NetworkMode"],
            "host"
        );
    }

    pub async fn spec_privileged_devices(ctx: Ctx) {
        let fields = json!({
            "cmd": ["sh", "-c", "head -c 4 /dev/zero | wc -c"],
            "devices": ["/dev/zero"],
            "privileged": false
        });
        let done = ctx.run_to_end("devices", fields).await;
        assert_eq!((done.code, &done.lines[..]), (0, &["4".to_owned()][..]));
        let hc = ctx.engine_inspect(&done.name)["HostConfig"].clone();
        assert_eq!(hc["Devices"][0]["PathOnHost"], "/dev/zero");
        assert_eq!(hc["Devices"][0]["PathInContainer"], "/dev/zero");
        assert_eq!(hc["Privileged"], false);

        let (privileged, _guard2) = ctx
            .run("privileged", json!({"privileged": true}), false)
            .await;
        assert_eq!(
            ctx.engine_inspect(&privileged)["HostConfig"]["Privileged"],
            true
        );
    }

    pub async fn not_found_errors(ctx: Ctx) {
        let (name, _guard) = ctx.name("missing");
        let rt = &ctx.rt;
        assert_eq!(code_of(rt.start(&name).await), ErrorCode::NotFound);
        assert_eq!(code_of(rt.stop(&name, Some(1)).await), ErrorCode::NotFound);
        assert_eq!(
            code_of(rt.restart(&name, Some(1)).await),
            ErrorCode::NotFound
        );
        assert_eq!(
            code_of(rt.kill(&name, SignalName::KILL).await),
            ErrorCode::NotFound
        );
        assert_eq!(code_of(rt.remove(&name, true).await), ErrorCode::NotFound);
        assert_eq!(
            code_of(rt.logs(&name, &LogOptions::default()).await),
            ErrorCode::NotFound
        );
        assert_eq!(code_of(rt.stats(&name).await), ErrorCode::NotFound);
        let err = rt.inspect(&name).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound);
        assert!(err.to_string().contains(name.as_str()), "{err}");
    }

    pub async fn duplicate_name_conflict(ctx: Ctx) {
        let (name, _guard) = ctx.run("duplicate", json!({}), false).await;
        let err = ctx
            .rt
            .create(&ctx.spec(&name, json!({})))
            .await
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
    }

    pub async fn create_missing_image(ctx: Ctx) {
        let (name, _guard) = ctx.name("no-image");
        let spec = ctx.spec(
            &name,
            json!({"image": "127.0.0.1:5000/ctrmgr-test/does-not-exist:1"}),
        );
        let err = ctx.rt.create(&spec).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
        assert!(err.to_string().contains("does-not-exist"), "{err}");
    }

    pub async fn pull_images_remove(ctx: Ctx) {
        // A tag of this runtime's own, so suites of other runtimes running at the same
        // time never remove what this one just pulled.
        let reference = format!("{REGISTRY_REPO}:conf-{}", ctx.label.replace('_', "-"));
        ctx.cli(&["tag", IMAGE, &reference]);
        ctx.push(&reference);
        ctx.cli(&["rmi", &reference]);
        let pulled_ref = image(&reference);
        let pulled = ctx.rt.pull(&pulled_ref, None).await.expect("pull");
        assert!(pulled.id.starts_with("sha256:"), "{}", pulled.id);
        let auth = RegistryAuth {
            username: "conf".into(),
            password: "secret".into(),
        };
        let again = ctx
            .rt
            .pull(&pulled_ref, Some(&auth))
            .await
            .expect("pull with auth");
        assert_eq!(again.id, pulled.id);
        let images = ctx.rt.images().await.expect("images");
        let listed = images
            .iter()
            .find(|i| i.tags.contains(&reference))
            .expect("the pulled image is listed");
        assert_eq!(listed.id, pulled.id);
        assert!(listed.size_bytes > 0);
        assert!(images
            .iter()
            .all(|i| !i.tags.iter().any(|t| t == "<none>:<none>")));
        ctx.rt
            .remove_image(&pulled_ref, false)
            .await
            .expect("remove_image");
        let images = ctx.rt.images().await.expect("images");
        assert!(images.iter().all(|i| !i.tags.contains(&reference)));
        assert!(
            images
                .iter()
                .any(|i| i.tags.iter().any(|t| *t == ctx.local_image())),
            "the shared test image stays"
        );
        assert_eq!(
            code_of(ctx.rt.remove_image(&pulled_ref, false).await),
            ErrorCode::NotFound
        );
    }

    pub async fn pull_missing_image(ctx: Ctx) {
        let missing = image(&format!("{REGISTRY_REPO}:no-such-tag"));
        let err = ctx.rt.pull(&missing, None).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
        let missing_repo = image("127.0.0.1:5000/ctrmgr-test/no-such-repo:latest");
        let err = ctx.rt.pull(&missing_repo, None).await.unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
    }

    pub async fn stats_running(ctx: Ctx) {
        let (name, _guard) = ctx
            .run("stats", json!({"cmd": ["sleep", "300"]}), true)
            .await;
        let stats = ctx.rt.stats(&name).await.expect("stats");
        assert!(stats.memory_bytes > 0, "{stats:?}");
        assert!(stats.memory_limit_bytes >= stats.memory_bytes, "{stats:?}");
        assert!(stats.pids >= 1, "{stats:?}");
        assert!(stats.cpu_percent >= 0.0, "{stats:?}");
    }
}
