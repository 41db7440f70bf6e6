//! Records that tell the truth, against the real engines: containers removed, killed or
//! created behind the agent's back (Docker and Podman) show up in the store and on the
//! `/v1/events` stream without any request changing them; a `kill -9` in the middle of a
//! burst of creates loses and duplicates nothing; a container a client stopped stays
//! stopped when a private dockerd's `always` policy brings it back; a `stop` that holds
//! one name's lock for an hour does not stall the records of the other names.

use ctrmgr_testkit::common;

use common::private_dockerd::PrivateDockerd;
use common::sse::SseEvents;
use common::{docker, require_docker, unique, Agent, IMAGE};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long the agent may take to notice what an engine did.
const DEADLINE: Duration = Duration::from_secs(90);

/// One engine, reached by its CLI in the test and by its API in the agent.
#[derive(Clone, Copy)]
struct Engine {
    cli: &'static str,
    runtime: &'static str,
}

const DOCKER: Engine = Engine {
    cli: "docker",
    runtime: "docker-api",
};
const PODMAN: Engine = Engine {
    cli: "podman",
    runtime: "podman-api",
};

impl Engine {
    /// Runs the engine's CLI; panics with its stderr on failure.
    fn run(self, args: &[&str]) -> String {
        let out = Command::new(self.cli)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{} CLI: {e}", self.cli));
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            self.cli,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn require(self) {
        if self.cli == "docker" {
            require_docker();
        } else {
            let out = Command::new("curl")
                .args([
                    "-sf",
                    "--unix-socket",
                    "/run/podman/podman.sock",
                    "http://localhost/_ping",
                ])
                .output()
                .expect("curl");
            assert!(
                out.status.success(),
                "podman's API does not answer on /run/podman/podman.sock: start the services \
                 with `scripts/services.sh up`"
            );
        }
    }
}

/// Removes the named containers from an engine when dropped, also when a test fails.
struct Cleanup(Engine, Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.1 {
            let _ = Command::new(self.0.cli)
                .args(["rm", "-f", "--", name])
                .output();
        }
    }
}

/// A client of `GET /v1/events` reading in a thread; keeps every event it received.
struct EventClient {
    events: SseEvents,
}

impl EventClient {
    fn connect(agent: &Agent) -> EventClient {
        EventClient {
            events: SseEvents::connect(agent),
        }
    }

    /// Waits for an event about `name` with `action`.
    fn expect(&self, agent: &Agent, name: &str, action: &str) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let found = self
                .events
                .all()
                .into_iter()
                .find(|e| e["name"] == name && e["action"] == action);
            if let Some(e) = found {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no '{action}' event for '{name}'; received: {:?}\n{}",
                self.events.all(),
                agent.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The records of `GET /v1/containers?all=true` (read from the store), by name.
fn records(agent: &Agent) -> Vec<Value> {
    let (status, body) = agent.get("/v1/containers?all=true");
    assert_eq!(status, 200, "{body}");
    body["result"]["containers"].as_array().unwrap().clone()
}

/// Polls the store until the record of `name` satisfies `ok`; returns it.
fn wait_record(agent: &Agent, name: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let record = records(agent).into_iter().find(|c| c["name"] == name);
        if let Some(r) = record.as_ref().filter(|r| ok(r)) {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "record of '{name}' never became as expected: {record:?}\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn create_running(agent: &Agent, engine: Engine, name: &str) {
    let (status, body) = agent.execute(&json!({
        "op": "create", "runtime": engine.runtime,
        "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "3600"],
                 "network": "none", "start": true}
    }));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["state"], "running", "{body}");
}

fn behind_the_back(engine: Engine) {
    engine.require();
    // Podman's own default rlimits can exceed the host's hard limits.
    let agent = Agent::start(&format!(
        "[runtime]\ndefault = \"{}\"\ndefault_ulimits = [\"nofile=1024:20000\", \"nproc=1024:1024\"]\n",
        engine.runtime
    ));
    let events = EventClient::connect(&agent);
    let (removed, killed, stray, foreign) = (
        unique(&format!("{}-rm", engine.cli)),
        unique(&format!("{}-kill", engine.cli)),
        unique(&format!("{}-stray", engine.cli)),
        unique(&format!("{}-foreign", engine.cli)),
    );
    let _cleanup = Cleanup(
        engine,
        vec![
            removed.clone(),
            killed.clone(),
            stray.clone(),
            foreign.clone(),
        ],
    );
    create_running(&agent, engine, &removed);
    create_running(&agent, engine, &killed);
    events.expect(&agent, &removed, "start");

    engine.run(&["rm", "-f", "--", &removed]);
    wait_record(&agent, &removed, |r| r["state"] == "missing");
    events.expect(&agent, &removed, "engine:destroy");

    engine.run(&["kill", "--", &killed]);
    let r = wait_record(&agent, &killed, |r| r["state"] == "exited");
    assert_eq!(r["exit_code"], 137, "{r}");
    let e = events.expect(&agent, &killed, "engine:die");
    assert_eq!(e["exit_code"], 137, "{e}");

    // The managed label alone, as an image could bake it in or another tool set it:
    // never adopted. Started first, so the adoption below proves it was seen.
    let run_labelled = |name: &str, labels: &[String]| {
        let mut args: Vec<&str> = vec!["run", "-d", "--ulimit", "nofile=1024:20000"];
        args.extend(["--ulimit", "nproc=1024:1024", "--name", name]);
        for label in labels {
            args.extend(["--label", label]);
        }
        args.extend(["--network", "none", IMAGE, "sleep", "3600"]);
        engine.run(&args);
    };
    let managed = "io.ctrmgr.managed=true".to_owned();
    run_labelled(&foreign, std::slice::from_ref(&managed));
    let device = format!("io.ctrmgr.device={}", agent.device_id());
    run_labelled(&stray, &[managed, device, "app=stray".to_owned()]);
    let r = wait_record(&agent, &stray, |r| r["state"] == "running");
    assert_eq!(r["runtime"], engine.runtime, "{r}");
    assert_eq!(r["spec"]["labels"], json!({"app": "stray"}), "{r}");
    assert!(r["id"].as_str().is_some_and(|id| !id.is_empty()), "{r}");
    events.expect(&agent, &stray, "engine:adopt");
    assert!(
        records(&agent)
            .iter()
            .all(|c| c["name"] != foreign.as_str()),
        "a container with only the managed label was adopted"
    );
    // The adopted container is managed like any other.
    let (status, body) = agent.post(
        &format!("/v1/containers/{stray}/stop"),
        &json!({"timeout_s": 1}),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn docker_changes_behind_the_agents_back_are_recorded() {
    behind_the_back(DOCKER);
}

#[test]
fn podman_changes_behind_the_agents_back_are_recorded() {
    behind_the_back(PODMAN);
}

/// The engine's state word in the contract's spelling.
fn docker_state(name: &str) -> String {
    docker(&[
        "container",
        "inspect",
        "--format",
        "{{.State.Status}}",
        "--",
        name,
    ])
    .trim()
    .to_owned()
}

#[test]
fn kill9_during_a_burst_of_creates_loses_and_duplicates_nothing() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let prefix = unique("burst");
    let names: Vec<String> = (0..18).map(|i| format!("{prefix}-{i}")).collect();
    let _cleanup = Cleanup(DOCKER, names.clone());
    let envelope = |name: &str| {
        json!({"id": format!("id-{name}"), "op": "create", "runtime": "docker-api",
               "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "3600"],
                        "network": "none", "start": true}})
    };
    let mut agent = Agent::start_in(dir.path(), "");
    let (url, auth) = (agent.url.clone(), agent.bearer());
    let workers: Vec<_> = names
        .chunks(6)
        .map(|chunk| {
            let (chunk, url, auth) = (chunk.to_vec(), url.clone(), auth.clone());
            let envelopes: Vec<Value> = chunk.iter().map(|n| envelope(n)).collect();
            std::thread::spawn(move || {
                let http: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                for env in envelopes {
                    // The agent dies under some of these: a failed call just stops the burst.
                    if http
                        .post(format!("{url}/v1/execute"))
                        .header("Authorization", &auth)
                        .send_json(&env)
                        .is_err()
                    {
                        break;
                    }
                }
            })
        })
        .collect();
    let in_docker = || {
        docker(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("name={prefix}-"),
        ])
        .lines()
        .count()
    };
    let deadline = Instant::now() + DEADLINE;
    while in_docker() < 4 {
        assert!(Instant::now() < deadline, "the burst created nothing");
        std::thread::sleep(Duration::from_millis(20));
    }
    agent.kill9();
    for w in workers {
        w.join().unwrap();
    }
    drop(agent);

    let agent = Agent::start_in(dir.path(), "");
    // Every container docker has is in the store (adopted if its record was lost)...
    let docker_names: Vec<String> = names
        .iter()
        .filter(|n| common::docker_has(n))
        .cloned()
        .collect();
    for name in &docker_names {
        wait_record(&agent, name, |_| true);
    }
    // ...and the clients retry their creates with the same ids: nothing is duplicated.
    for name in &names {
        let (status, body) = agent.execute(&envelope(name));
        assert!(
            status == 200 || common::code(&body) == "conflict",
            "{name}: {status} {body}"
        );
    }
    for name in &names {
        let listed = docker(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("name=^{name}$"),
        ]);
        assert_eq!(listed.lines().count(), 1, "{name} in docker: {listed}");
        let engine_state = docker_state(name);
        let r = wait_record(&agent, name, |r| r["state"] == engine_state.as_str());
        assert_eq!(r["runtime"], "docker-api", "{r}");
    }
    let stored = records(&agent)
        .into_iter()
        .filter(|c| {
            c["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{prefix}-"))
        })
        .count();
    assert_eq!(stored, names.len());
}

#[test]
fn a_container_a_client_stopped_stays_stopped_when_the_engine_restarts() {
    let mut dockerd = PrivateDockerd::start();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[runtime]\ndefault = \"docker-api\"\ndocker_socket = \"{}\"\n",
        dockerd.socket().display()
    );
    let host = dockerd.host();
    let private = |args: &[&str]| {
        let mut all = vec!["--host", host.as_str()];
        all.extend_from_slice(args);
        docker(&all)
    };
    let name = unique("intent");
    let mut agent = Agent::start_in(dir.path(), &config);
    let (status, body) = agent.execute(&json!({
        "op": "create",
        "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "3600"], "network": "none",
                 "restart": {"policy": "always"}, "start": true}
    }));
    assert_eq!(status, 200, "{body}");
    // The agent gives the engine the policy `no` (it supervises restarts itself); an
    // engine-side `always`, as another tool could set, is what brings containers back.
    private(&["update", "--restart=always", "--", &name]);
    let (status, body) = agent.post(
        &format!("/v1/containers/{name}/stop"),
        &json!({"timeout_s": 1}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["state"], "exited", "{body}");
    assert_eq!(agent.stop().code(), Some(0));

    // The device reboots: the engine's `always` policy brings the container back.
    dockerd.stop(false);
    dockerd.restart();
    let running = || {
        private(&[
            "container",
            "inspect",
            "--format",
            "{{.State.Running}}",
            "--",
            &name,
        ])
        .trim()
        .to_owned()
    };
    let deadline = Instant::now() + DEADLINE;
    while running() != "true" {
        assert!(
            Instant::now() < deadline,
            "dockerd did not restart '{name}'"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The agent starts again and stops it, as the client asked.
    let agent = Agent::start_in(dir.path(), &config);
    let deadline = Instant::now() + DEADLINE;
    while !agent.log().contains("stopping it again") || running() != "false" {
        assert!(
            Instant::now() < deadline,
            "'{name}' was left running:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_record(&agent, &name, |r| r["state"] == "exited");

    // The engine restarts under the running agent: the stream reconnects, and the
    // reconcile after it stops the container again.
    let events = EventClient::connect(&agent);
    dockerd.stop(false);
    dockerd.restart();
    events.expect(&agent, &name, "intent:stop");
    wait_record(&agent, &name, |r| r["state"] == "exited");
    let deadline = Instant::now() + DEADLINE;
    while running() != "false" {
        assert!(Instant::now() < deadline, "'{name}' was left running");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How long a record may lag behind an out-of-band change while another name is busy:
/// event latency plus one inspect, with room for a loaded machine.
const BUSY_NEIGHBOUR_DEADLINE: Duration = Duration::from_secs(15);

#[test]
fn a_long_stop_of_one_container_does_not_stall_the_records_of_others() {
    require_docker();
    let agent = Agent::start("");
    let (slow, other) = (unique("stall-slow"), unique("stall-other"));
    let _cleanup = Cleanup(DOCKER, vec![slow.clone(), other.clone()]);
    // `sleep` is PID 1: SIGTERM does nothing, so the stop below waits its whole timeout.
    create_running(&agent, DOCKER, &slow);
    create_running(&agent, DOCKER, &other);
    std::thread::scope(|scope| {
        let stopping = scope.spawn(|| {
            agent.post(
                &format!("/v1/containers/{slow}/stop"),
                &json!({"timeout_s": 3600}),
            )
        });
        // The agent has sent the stop (dockerd reports the SIGTERM as a `kill` event)
        // and holds the name lock of `slow` for up to an hour.
        let deadline = Instant::now() + DEADLINE;
        while !docker(&[
            "events",
            "--since",
            "5m",
            "--until",
            "0s",
            "--filter",
            &format!("container={slow}"),
            "--filter",
            "event=kill",
            "--format",
            "{{.Action}}",
        ])
        .contains("kill")
        {
            assert!(Instant::now() < deadline, "the agent never sent the stop");
            std::thread::sleep(Duration::from_millis(100));
        }
        docker(&["stop", "-t", "0", "--", &other]);
        let stopped_at = Instant::now();
        let deadline = stopped_at + BUSY_NEIGHBOUR_DEADLINE;
        loop {
            let record = records(&agent)
                .into_iter()
                .find(|c| c["name"] == other.as_str());
            if record.as_ref().is_some_and(|r| r["state"] == "exited") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the record of '{other}' did not follow `docker stop` within {} s while a \
                 stop of '{slow}' was under way: {record:?}\n{}",
                BUSY_NEIGHBOUR_DEADLINE.as_secs(),
                agent.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Ends the long stop; its reply and the record of `slow` are right.
        docker(&["kill", "--", &slow]);
        let (status, body) = stopping.join().unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["state"], "exited", "{body}");
    });
}

/// `GET /v1/containers/NAME`: the state and exit code the agent reports.
fn inspect_state(agent: &Agent, name: &str) -> (String, Value) {
    let (status, body) = agent.get(&format!("/v1/containers/{name}"));
    assert_eq!(status, 200, "{body}");
    let c = &body["result"];
    (
        c["state"].as_str().unwrap().to_owned(),
        c["exit_code"].clone(),
    )
}

/// Polls `inspect` until it reports `state`, for up to the event latency (a few seconds).
fn inspect_until(agent: &Agent, name: &str, state: &str) -> Value {
    let deadline = Instant::now() + BUSY_NEIGHBOUR_DEADLINE;
    loop {
        let (now, exit_code) = inspect_state(agent, name);
        if now == state {
            return exit_code;
        }
        assert!(
            Instant::now() < deadline,
            "inspect of '{name}' still says '{now}', not '{state}', {} s after the change\n{}",
            BUSY_NEIGHBOUR_DEADLINE.as_secs(),
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn inspect_is_fresh_after_every_op_and_after_changes_behind_the_agents_back() {
    require_docker();
    let agent = Agent::start("");
    let name = unique("fresh");
    let _cleanup = Cleanup(DOCKER, vec![name.clone()]);
    create_running(&agent, DOCKER, &name);
    // Right after each op, with no wait: the op refreshed the record before replying.
    for (op, body, state) in [
        ("stop", json!({"timeout_s": 0}), "exited"),
        ("start", json!({}), "running"),
        ("restart", json!({"timeout_s": 0}), "running"),
    ] {
        let (status, reply) = agent.post(&format!("/v1/containers/{name}/{op}"), &body);
        assert_eq!(status, 200, "{op}: {reply}");
        assert_eq!(
            inspect_state(&agent, &name).0,
            state,
            "inspect right after {op}"
        );
        assert_eq!(docker_state(&name), state, "dockerd after {op}");
    }
    // Behind the agent's back: within the event latency.
    docker(&["stop", "-t", "0", "--", &name]);
    assert_eq!(inspect_until(&agent, &name, "exited"), 137);
    docker(&["start", "--", &name]);
    inspect_until(&agent, &name, "running");
    docker(&["pause", "--", &name]);
    inspect_until(&agent, &name, "paused");
    docker(&["unpause", "--", &name]);
    inspect_until(&agent, &name, "running");
    docker(&["kill", "--", &name]);
    assert_eq!(inspect_until(&agent, &name, "exited"), 137);
    docker(&["rm", "-f", "--", &name]);
    inspect_until(&agent, &name, "missing");
    // And an op right after the out-of-band changes sees them too.
    let (status, reply) = agent.post(&format!("/v1/containers/{name}/start"), &json!({}));
    assert_eq!(status, 404, "start of a removed container: {reply}");
}
