//! Faults under the agent: its engine stopped and restarted (a private dockerd, so the
//! shared one keeps serving other tests), the engine killed during an operation, and the
//! LMDB map filled. Each time: the right error, no crash, no lost or duplicated record,
//! recovery without restarting the agent.

use ctrmgr_testkit::common;

use common::private_dockerd::PrivateDockerd;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn names(agent: &Agent) -> Vec<String> {
    let (_, r) = agent.get("/v1/containers?all=true");
    r["result"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

fn create(agent: &Agent, name: &str, cmd: Value) -> (u16, Value) {
    agent.execute(&json!({"op": "create", "args": {
        "name": name, "image": IMAGE, "network": "none", "cmd": cmd, "start": true}}))
}

fn engine_stopped_and_restarted_under_the_agent(runtime: &str) {
    let mut dockerd = PrivateDockerd::start();
    let agent = Agent::start(&format!(
        "[runtime]\ndefault = \"{runtime}\"\ndocker_socket = \"{}\"\n",
        dockerd.socket().display()
    ));
    let (a, b) = (unique("fault-a"), unique("fault-b"));
    let (status, r) = create(&agent, &a, json!(["sleep", "300"]));
    assert_eq!(status, 200, "{r}");

    dockerd.stop(false);
    let (status, r) = agent.get(&format!("/v1/containers/{a}"));
    assert_eq!((status, code(&r)), (503, "runtime_unavailable"), "{r}");
    let (status, r) = create(&agent, &b, json!(["sleep", "300"]));
    assert_eq!((status, code(&r)), (503, "runtime_unavailable"), "{r}");
    assert_eq!(
        names(&agent),
        std::slice::from_ref(&a),
        "no record for the failed create, none lost"
    );

    dockerd.restart();
    let (status, r) = agent.get(&format!("/v1/containers/{a}"));
    assert_eq!(status, 200, "the agent uses the engine again: {r}");
    let (status, r) = agent.execute(&json!({"op": "start", "args": {"name": a}}));
    assert_eq!(
        (status, r["result"]["state"].as_str()),
        (200, Some("running")),
        "{r}"
    );
    let (status, r) = create(&agent, &b, json!(["sleep", "300"]));
    assert_eq!(status, 200, "{r}");
    let mut listed = names(&agent);
    listed.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(listed, want);
    for n in [&a, &b] {
        let (status, r) =
            agent.execute(&json!({"op": "remove", "args": {"name": n, "force": true}}));
        assert_eq!(status, 200, "{r}");
    }
}

#[test]
fn docker_api_engine_stopped_and_restarted() {
    engine_stopped_and_restarted_under_the_agent("docker-api");
}

#[test]
fn docker_cli_engine_stopped_and_restarted() {
    engine_stopped_and_restarted_under_the_agent("docker");
}

#[test]
fn engine_killed_during_an_operation() {
    let mut dockerd = PrivateDockerd::start();
    let agent = Agent::start(&format!(
        "[runtime]\ndefault = \"docker-api\"\ndocker_socket = \"{}\"\n",
        dockerd.socket().display()
    ));
    let name = unique("fault-stop");
    // Ignores SIGTERM, so a stop waits its whole timeout inside the engine.
    let (status, r) = create(
        &agent,
        &name,
        json!(["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]),
    );
    assert_eq!(status, 200, "{r}");
    std::thread::scope(|s| {
        let stop = s.spawn(|| {
            agent.execute(&json!({"op": "stop", "args": {"name": name, "timeout_s": 30}}))
        });
        std::thread::sleep(Duration::from_secs(1));
        dockerd.stop(true);
        let (status, r) = stop.join().unwrap();
        assert!(
            matches!(code(&r), "runtime_unavailable" | "runtime_error"),
            "{status} {r}"
        );
    });
    let (status, _) = agent.get("/healthz");
    assert_eq!(status, 200);
    dockerd.restart();
    let (status, r) =
        agent.execute(&json!({"op": "remove", "args": {"name": name, "force": true}}));
    assert_eq!(status, 200, "{r}");
    assert!(names(&agent).is_empty());
}

#[test]
fn full_lmdb_map_is_a_store_error_and_nothing_runs_without_a_record() {
    let dockerd = PrivateDockerd::start();
    let agent = Agent::start(&format!(
        "[store]\nmap_size_mb = 1\n[runtime]\ndocker_socket = \"{}\"\n",
        dockerd.socket().display()
    ));
    let big = "x".repeat(30 * 1024);
    let mut created = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let name = unique(&format!("full{i}"));
        let (status, r) = agent.execute(&json!({"op": "create", "args": {
            "name": name, "image": IMAGE, "network": "none", "cmd": ["true"],
            "env": {"A": big, "B": big}}}));
        if status == 200 {
            created.push(name);
            continue;
        }
        assert_eq!((status, code(&r)), (500, "store_error"), "{r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .contains("map_size_mb"),
            "{r}"
        );
        refused = Some(name);
        break;
    }
    let refused = refused.expect("a 1 MiB map must fill up");
    assert!(!created.is_empty());
    let inspect = std::process::Command::new("docker")
        .args(["--host", &dockerd.host(), "container", "inspect", &refused])
        .output()
        .unwrap();
    assert!(
        !inspect.status.success(),
        "the engine container of the refused create was removed"
    );
    let (status, _) = agent.get("/healthz");
    assert_eq!(status, 200);
    let mut listed = names(&agent);
    listed.sort();
    created.sort();
    assert_eq!(
        listed, created,
        "every record that was written is still there, no other"
    );
}

/// A `podman system service` of the test's own on a private socket (the same local
/// storage as the shared one), killed and restarted under the agent.
struct PrivatePodmanService {
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl PrivatePodmanService {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ctrmgr-podman-")
            .tempdir()
            .unwrap();
        let mut s = Self { dir, child: None };
        s.launch();
        s
    }

    fn socket(&self) -> std::path::PathBuf {
        self.dir.path().join("podman.sock")
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("podman.log")).unwrap();
        let child = std::process::Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", self.socket().display()))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("podman must be installed (scripts/services.sh installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !self.socket().exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "podman service did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let mut child = self.child.take().expect("podman service not running");
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = std::fs::remove_file(self.socket());
    }
}

impl Drop for PrivatePodmanService {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill();
        }
    }
}

#[test]
fn podman_service_killed_and_restarted_under_the_agent() {
    let mut podman = PrivatePodmanService::start();
    let agent = Agent::start(&format!(
        "[runtime]\ndefault = \"podman-api\"\npodman_socket = \"{}\"\n",
        podman.socket().display()
    ));
    let (a, b) = (unique("pfault-a"), unique("pfault-b"));
    let _cleanup = PodmanCleanup(vec![a.clone(), b.clone()]);
    let (status, r) = create(&agent, &a, json!(["sleep", "300"]));
    assert_eq!(status, 200, "{r}");

    podman.kill();
    let (status, r) = agent.get(&format!("/v1/containers/{a}?runtime=podman-api"));
    assert_eq!((status, code(&r)), (503, "runtime_unavailable"), "{r}");
    let (status, r) = create(&agent, &b, json!(["sleep", "300"]));
    assert_eq!((status, code(&r)), (503, "runtime_unavailable"), "{r}");
    // Podman's storage is shared with other tests: look at this test's names only.
    let mine: Vec<String> = names(&agent)
        .into_iter()
        .filter(|n| n.starts_with("t-pfault"))
        .collect();
    assert_eq!(
        mine,
        std::slice::from_ref(&a),
        "no record for the failed create"
    );

    podman.launch();
    let (status, r) = create(&agent, &b, json!(["sleep", "300"]));
    assert_eq!(status, 200, "the agent uses the service again: {r}");
    for n in [&a, &b] {
        let (status, r) =
            agent.execute(&json!({"op": "remove", "args": {"name": n, "force": true}}));
        assert_eq!(status, 200, "{r}");
    }
}

/// Removes podman containers of a test even when an assertion fails.
struct PodmanCleanup(Vec<String>);

impl Drop for PodmanCleanup {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = std::process::Command::new("podman")
                .args(["rm", "-f", "--", n])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
