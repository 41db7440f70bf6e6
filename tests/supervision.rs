//! Supervision by the agent, against the real engines: a crash-looping container under
//! `always` is restarted with growing gaps on all four access paths (the engine's own
//! policy `no`), `restarting` and `crash_loop` are published; `on-failure` with
//! `max_retries` stops; a client's stop is never undone; a `kill -9` of the agent keeps
//! the count and the delay; `cmd`, `http` and `tcp` health checks lead to `unhealthy`,
//! `healthy` and restarts; a hung probe costs its timeout; `network: none` with a `tcp`
//! check is refused at create; `unless-stopped` survives an engine restart (a private
//! dockerd) while a client's stop of an `always` container is kept.

use ctrmgr_testkit::common;

use common::private_dockerd::PrivateDockerd;
use common::sse::SseEvents;
use common::{code, docker, unique, Agent, IMAGE};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long a test waits for something the agent should do.
const DEADLINE: Duration = Duration::from_secs(90);

/// The agent's config: both engines; podman's rlimits within this host's hard limits.
const CONFIG: &str = "[runtime]\ndefault_ulimits = [\"nofile=1024:20000\", \"nproc=1024:1024\"]\n";

/// The CLI of the engine behind an access path.
fn cli(runtime: &str) -> &'static str {
    if runtime.starts_with("docker") {
        "docker"
    } else {
        "podman"
    }
}

/// Removes the named containers when dropped, also when a test fails.
struct Cleanup(&'static str, Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.1 {
            let _ = Command::new(self.0).args(["rm", "-f", "--", name]).output();
        }
    }
}

/// A client of `GET /v1/events` reading in a thread; keeps every event with the instant
/// it arrived.
struct Events(SseEvents);

impl Events {
    fn connect(agent: &Agent) -> Events {
        Events(SseEvents::connect(agent))
    }

    /// When each `action` event of `name` arrived.
    fn times(&self, name: &str, action: &str) -> Vec<Instant> {
        self.0
            .timed()
            .into_iter()
            .filter(|(_, e)| e["name"] == name && e["action"] == action)
            .map(|(t, _)| t)
            .collect()
    }

    /// Waits until `name` had `n` events `action`.
    fn wait(&self, agent: &Agent, name: &str, action: &str, n: usize) -> Vec<Instant> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let times = self.times(name, action);
            if times.len() >= n {
                return times;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} '{action}' events for '{name}'; events: {:?}\n{}",
                times.len(),
                self.0.all(),
                agent.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `inspect` of `name` (the agent's live view).
fn inspect(agent: &Agent, name: &str) -> Value {
    let (status, body) = agent.get(&format!("/v1/containers/{name}"));
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// The stored record of `name`.
fn record(agent: &Agent, name: &str) -> Value {
    let (status, body) = agent.get("/v1/containers?all=true");
    assert_eq!(status, 200, "{body}");
    body["result"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no record of '{name}': {body}"))
}

/// Polls the record of `name` until `ok`; returns it.
fn wait_record(agent: &Agent, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let r = record(agent, name);
        if ok(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "record of '{name}' never became as expected: {r}\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Creates and starts `name` on `runtime`; `extra` adds spec fields.
fn run(agent: &Agent, runtime: &str, name: &str, cmd: &[&str], extra: Value) -> Value {
    let mut args = json!({"name": name, "image": IMAGE, "cmd": cmd, "start": true});
    for (k, v) in extra.as_object().unwrap() {
        args[k] = v.clone();
    }
    let (status, body) = agent.execute(&json!({"op": "create", "runtime": runtime, "args": args}));
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// The engine's own restart policy of `name`.
fn engine_policy(runtime: &str, name: &str) -> String {
    let out = Command::new(cli(runtime))
        .args([
            "inspect",
            "--format",
            "{{.HostConfig.RestartPolicy.Name}}",
            "--",
            name,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `always` on a container that exits with 3 about a second after each start: the agent
/// restarts it, with gaps that grow, and says so.
fn crash_loop(runtime: &'static str) {
    let agent = Agent::start(CONFIG);
    let events = Events::connect(&agent);
    let name = unique(&format!("{}-loop", runtime.replace('-', "")));
    let _cleanup = Cleanup(cli(runtime), vec![name.clone()]);
    let created = run(
        &agent,
        runtime,
        &name,
        &["sh", "-c", "sleep 1; exit 3"],
        json!({"network": "none", "restart": {"policy": "always"}}),
    );
    assert_eq!(created["restart_count"], 0, "{created}");
    assert_eq!(created["health"], "none", "{created}");
    assert!(created["started_at"].is_string(), "{created}");
    assert_eq!(engine_policy(runtime, &name), "no");

    let restarts = events.wait(&agent, &name, "restarting", 5);
    events.wait(&agent, &name, "crash_loop", 1);
    let gaps: Vec<Duration> = restarts.windows(2).map(|w| w[1] - w[0]).collect();
    // Back-off 1, 2, 4, 8, 16 s (each up to a fifth shorter) after a 1 s run.
    assert!(
        gaps[3] > gaps[0] + Duration::from_secs(4),
        "gaps between restarts do not grow: {gaps:?}"
    );
    assert!(gaps[0] >= Duration::from_millis(1500), "{gaps:?}");
    let r = record(&agent, &name);
    assert!(r["restart_count"].as_u64().unwrap() >= 5, "{r}");
    assert_eq!(r["last_exit_code"], 3, "{r}");
    assert_eq!(engine_policy(runtime, &name), "no");
    let line = format!("ctrmgr_container_restarts_total{{name=\"{name}\"}} ");
    let text = agent.metrics();
    assert!(text.contains(&line), "{text}");
}

#[test]
fn docker_cli_restarts_a_crash_loop_with_growing_gaps() {
    crash_loop("docker");
}

#[test]
fn docker_api_restarts_a_crash_loop_with_growing_gaps() {
    crash_loop("docker-api");
}

#[test]
fn podman_cli_restarts_a_crash_loop_with_growing_gaps() {
    crash_loop("podman");
}

#[test]
fn podman_api_restarts_a_crash_loop_with_growing_gaps() {
    crash_loop("podman-api");
}

/// `on-failure` with `max_retries = 2` stops after two restarts; a client's stop during
/// the back-off, and of a running `always` container, is never undone.
#[test]
fn retries_run_out_and_a_client_stop_is_kept() {
    let runtime = "podman-api";
    let agent = Agent::start(CONFIG);
    let events = Events::connect(&agent);
    let (limited, stopped, running) = (unique("limited"), unique("stopped"), unique("running"));
    let _cleanup = Cleanup(
        "podman",
        vec![limited.clone(), stopped.clone(), running.clone()],
    );
    let none = json!({"network": "none"});
    let mut spec = none.clone();
    spec["restart"] = json!({"policy": "on-failure", "max_retries": 2});
    run(&agent, runtime, &limited, &["sh", "-c", "exit 1"], spec);
    let mut spec = none.clone();
    spec["restart"] = json!({"policy": "always"});
    run(
        &agent,
        runtime,
        &stopped,
        &["sh", "-c", "exit 1"],
        spec.clone(),
    );
    run(&agent, runtime, &running, &["sleep", "3600"], spec);

    events.wait(&agent, &stopped, "restarting", 1);
    let (status, body) = agent.post(&format!("/v1/containers/{stopped}/stop"), &json!({}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = agent.post(
        &format!("/v1/containers/{running}/stop"),
        &json!({"timeout_s": 1}),
    );
    assert_eq!(status, 200, "{body}");

    events.wait(&agent, &limited, "restarting", 2);
    // The third restart would come 4 s (at least 3.2 s) after the second exit.
    std::thread::sleep(Duration::from_secs(6));
    let r = wait_record(&agent, &limited, |r| r["state"] == "exited");
    assert_eq!(r["restart_count"], 2, "{r}");
    assert_eq!(events.times(&limited, "restarting").len(), 2);
    for name in [&stopped, &running] {
        let r = inspect(&agent, name);
        assert_eq!(r["state"], "exited", "{r}");
    }
    assert_eq!(events.times(&stopped, "restarting").len(), 1);
    assert_eq!(events.times(&running, "restarting").len(), 0);
}

/// A `kill -9` of the agent in the middle of a crash loop: the new agent keeps the count
/// and waits out the persisted delay instead of restarting at once.
#[test]
fn back_off_survives_kill_9_of_the_agent() {
    let runtime = "docker-api";
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start_in(dir.path(), CONFIG);
    let events = Events::connect(&agent);
    let name = unique("kill9");
    let _cleanup = Cleanup("docker", vec![name.clone()]);
    run(
        &agent,
        runtime,
        &name,
        &["sh", "-c", "exit 3"],
        json!({"network": "none", "restart": {"policy": "always"}}),
    );
    // Restarts after about 1, 2 and 4 s: the next delay is 8 s (at least 6.4 s).
    events.wait(&agent, &name, "restarting", 3);
    std::thread::sleep(Duration::from_millis(500));
    agent.kill9();
    let killed_at = Instant::now();
    let agent = Agent::start_in(dir.path(), CONFIG);
    let events = Events::connect(&agent);
    let r = record(&agent, &name);
    let count = r["restart_count"].as_u64().unwrap();
    assert!(count >= 3, "{r}");
    let next = events.wait(&agent, &name, "restarting", 1)[0];
    // The fourth restart came no sooner than its delay allowed: no fresh fast start.
    assert!(
        next - killed_at >= Duration::from_secs(4),
        "restarted {:?} after the agent's kill -9\n{}",
        next - killed_at,
        agent.log()
    );
    let r = wait_record(&agent, &name, |r| {
        r["restart_count"].as_u64().unwrap() > count
    });
    assert_eq!(r["last_exit_code"], 3, "{r}");
}

/// `cmd` checks: one that passes (`healthy`), one that fails (`unhealthy`, then a
/// restart although the container has no restart policy), one that hangs (its timeout
/// honoured, the agent answering meanwhile).
fn cmd_checks(runtime: &'static str) {
    let agent = Agent::start(CONFIG);
    let events = Events::connect(&agent);
    let (good, bad, hung) = (unique("good"), unique("bad"), unique("hung"));
    let _cleanup = Cleanup(cli(runtime), vec![good.clone(), bad.clone(), hung.clone()]);
    let check = |cmd: Value, on_unhealthy: &str| {
        json!({"network": "none", "health": {
            "cmd": cmd, "interval_s": 1, "timeout_s": 1, "retries": 2,
            "on_unhealthy": on_unhealthy
        }})
    };
    let sleep = ["sleep", "3600"];
    let created = run(
        &agent,
        runtime,
        &good,
        &sleep,
        check(json!(["true"]), "restart"),
    );
    assert_eq!(created["health"], "starting", "{created}");
    run(
        &agent,
        runtime,
        &bad,
        &sleep,
        check(json!(["cat", "/nope"]), "restart"),
    );
    run(
        &agent,
        runtime,
        &hung,
        &sleep,
        check(json!(["sleep", "60"]), "none"),
    );

    events.wait(&agent, &good, "healthy", 1);
    assert_eq!(record(&agent, &good)["health"], "healthy");
    events.wait(&agent, &bad, "unhealthy", 1);
    events.wait(&agent, &bad, "restarting", 1);
    let r = wait_record(&agent, &bad, |r| r["restart_count"] == 1);
    assert_eq!(r["state"], "running", "{r}");
    let started = Instant::now();
    events.wait(&agent, &hung, "unhealthy", 1);
    let r = record(&agent, &hung);
    assert_eq!(
        (&r["health"], &r["state"]),
        (&json!("unhealthy"), &json!("running"))
    );
    let asked = Instant::now();
    let (status, _) = agent.get("/v1/info");
    assert_eq!(status, 200);
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the probe's timeout was not kept"
    );
}

#[test]
fn podman_api_cmd_checks() {
    cmd_checks("podman-api");
}

#[test]
fn docker_cli_cmd_checks() {
    cmd_checks("docker");
}

/// `http` and `tcp` checks from the agent to the container's bridge address: busybox
/// httpd is healthy until it is killed, then the container is restarted; a `tcp` check
/// on a closed port makes it unhealthy (`on_unhealthy = none`: it keeps running).
#[test]
fn http_and_tcp_checks_on_docker() {
    let runtime = "docker-api";
    let agent = Agent::start(CONFIG);
    let events = Events::connect(&agent);
    let (web, closed) = (unique("web"), unique("closed"));
    let _cleanup = Cleanup("docker", vec![web.clone(), closed.clone()]);
    let script = "mkdir -p /w && echo ok > /w/index.html && \
                  { httpd -f -p 8080 -h /w & echo $! > /httpd.pid; wait; sleep 3600; }";
    run(
        &agent,
        runtime,
        &web,
        &["sh", "-c", script],
        json!({"health": {"http": {"port": 8080, "path": "/index.html"},
                          "interval_s": 1, "timeout_s": 2, "retries": 2}}),
    );
    run(
        &agent,
        runtime,
        &closed,
        &["sleep", "3600"],
        json!({"health": {"tcp": {"port": 9}, "interval_s": 1, "timeout_s": 2,
                          "retries": 1, "on_unhealthy": "none"}}),
    );
    events.wait(&agent, &web, "healthy", 1);
    let out = Command::new("docker")
        .args(["exec", "--", &web, "sh", "-c", "kill $(cat /httpd.pid)"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events.wait(&agent, &web, "unhealthy", 1);
    events.wait(&agent, &web, "restarting", 1);
    // After the restart httpd serves again.
    events.wait(&agent, &web, "healthy", 2);

    events.wait(&agent, &closed, "unhealthy", 1);
    let r = record(&agent, &closed);
    assert_eq!(
        (&r["health"], &r["state"]),
        (&json!("unhealthy"), &json!("running"))
    );
    assert!(events.times(&closed, "restarting").is_empty());
    let line = format!("ctrmgr_health_probe_failures_total{{name=\"{closed}\"}} ");
    let text = agent.metrics();
    assert!(text.contains(&line), "{text}");
}

/// A `tcp` or `http` check needs an address: `network: none` is refused at create, and
/// nothing is created.
#[test]
fn network_none_with_an_address_check_is_refused() {
    let agent = Agent::start(CONFIG);
    let name = unique("nonet");
    for health in [json!({"tcp": {"port": 80}}), json!({"http": {"port": 80}})] {
        let (status, body) = agent.execute(&json!({"op": "create", "runtime": "docker-api",
            "args": {"name": name, "image": IMAGE, "network": "none", "health": health}}));
        assert_eq!(status, 400, "{body}");
        assert_eq!(code(&body), "invalid_request", "{body}");
    }
    for bad in [
        json!({"cmd": ["true"], "interval_s": 0}),
        json!({"cmd": ["true"], "tcp": {"port": 1}}),
        json!({"cmd": ["true"], "every_s": 1}),
    ] {
        let (status, body) = agent.execute(&json!({"op": "create", "runtime": "docker-api",
            "args": {"name": name, "image": IMAGE, "health": bad}}));
        assert_eq!(status, 400, "{body}");
        assert_eq!(code(&body), "invalid_request", "{body}");
    }
    let (status, body) = agent.get("/v1/containers?all=true");
    assert_eq!(status, 200);
    assert!(
        body["result"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != name.as_str()),
        "{body}"
    );
}

/// The engine restarts (a private dockerd): with the engine's policy `no` the containers
/// stay exited, and the agent brings back the `unless-stopped` one; the `always` one a
/// client stopped stays stopped.
#[test]
fn unless_stopped_survives_an_engine_restart() {
    let mut dockerd = PrivateDockerd::start();
    let config = format!(
        "[runtime]\ndefault = \"docker-api\"\ndocker_socket = \"{}\"\n",
        dockerd.socket().display()
    );
    let host = dockerd.host();
    let agent = Agent::start(&config);
    let events = Events::connect(&agent);
    let (kept, stopped) = (unique("unless"), unique("stopped"));
    for (name, policy) in [(&kept, "unless-stopped"), (&stopped, "always")] {
        let (status, body) = agent.execute(&json!({"op": "create", "args": {
            "name": name, "image": IMAGE, "cmd": ["sleep", "3600"], "network": "none",
            "restart": {"policy": policy}, "start": true}}));
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = agent.post(
        &format!("/v1/containers/{stopped}/stop"),
        &json!({"timeout_s": 1}),
    );
    assert_eq!(status, 200, "{body}");

    dockerd.stop(false);
    dockerd.restart();
    events.wait(&agent, &kept, "restarting", 1);
    let r = wait_record(&agent, &kept, |r| r["state"] == "running");
    assert_eq!(r["restart_count"], 1, "{r}");
    let state = docker(&[
        "--host",
        &host,
        "container",
        "inspect",
        "--format",
        "{{.State.Status}} {{.HostConfig.RestartPolicy.Name}}",
        "--",
        &stopped,
    ]);
    assert_eq!(state.trim(), "exited no");
    assert!(events.times(&stopped, "restarting").is_empty());
}
