//! Desired state against the real engines (DESIGN.md "Desired state"): apply, unchanged
//! re-apply (no engine call: same ids), a change recreates only that container, a pull
//! failure and a container that exits at once both leave the previous generation
//! running with the same ids, `rollback`, `remove` of an owned container is `conflict`
//! and a client's `stop` of one is respected,
//! a `kill -9` of the agent mid-apply is undone on restart, and a retained MQTT desired
//! message is applied by an agent that starts afterwards.

use ctrmgr_testkit::{common, deployment_support, mqtt_support};

use common::engine::{Engine, DOCKER_API, DOCKER_CLI, PODMAN_API};
use common::stalling_registry::StallingRegistry;
use common::{code, require_docker, unique, Agent, REGISTRY_IMAGE};
use deployment_support::{action, apply, deployment, phase, retain, sleeper};
use mqtt_support::{agent_mqtt_config, Broker, TestClient};
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

fn lifecycle(engine: Engine) {
    require_docker();
    let agent = Agent::start(&engine.agent_config());
    let (a, b) = (unique("dep-a"), unique("dep-b"));
    engine.clean(&[&a, &b]);

    // 1: two containers, in two order groups.
    let gen1 = deployment(1, vec![sleeper(&a, 0, "1"), sleeper(&b, 1, "1")]);
    let r = apply(&agent, &gen1);
    assert_eq!(phase(&r), "done", "{r}");
    assert_eq!(action(&r, &a), "create");
    let (id_a, running_a) = engine.state(&a).expect("a exists");
    let (id_b, running_b) = engine.state(&b).expect("b exists");
    assert!(running_a && running_b);

    // The same generation again: its status, nothing touched.
    let r = apply(&agent, &gen1);
    assert_eq!(phase(&r), "done", "{r}");
    // A higher generation with the same content: every action none, same ids (no
    // engine call; scripts/bench_deploy.py measures how long it takes).
    let started = Instant::now();
    let r = apply(
        &agent,
        &deployment(2, vec![sleeper(&a, 0, "1"), sleeper(&b, 1, "1")]),
    );
    let took = started.elapsed();
    assert_eq!(phase(&r), "done", "{r}");
    assert_eq!((action(&r, &a), action(&r, &b)), ("none", "none"), "{r}");
    eprintln!(
        "{}: unchanged re-apply of 2 containers (one HTTP round trip) took {took:?}",
        engine.runtime
    );
    assert_eq!(engine.state(&a).unwrap().0, id_a);
    assert_eq!(engine.state(&b).unwrap().0, id_b);

    // Same generation, other content; lower generation: conflict.
    let r = apply(&agent, &deployment(2, vec![sleeper(&a, 0, "9")]));
    assert_eq!(code(&r), "conflict", "{r}");
    let r = apply(&agent, &deployment(1, vec![sleeper(&a, 0, "1")]));
    assert_eq!(code(&r), "conflict", "{r}");

    // 3: only b changes: only b is recreated; no parked copy is left.
    let r = apply(
        &agent,
        &deployment(3, vec![sleeper(&a, 0, "1"), sleeper(&b, 1, "2")]),
    );
    assert_eq!(phase(&r), "done", "{r}");
    assert_eq!(
        (action(&r, &a), action(&r, &b)),
        ("none", "recreate"),
        "{r}"
    );
    assert_eq!(engine.state(&a).unwrap().0, id_a);
    let (id_b3, running) = engine.state(&b).unwrap();
    assert!(running);
    assert_ne!(id_b3, id_b);
    assert!(engine.state(&format!("{b}.ctrmgr-old")).is_none());

    // remove of an owned container: conflict naming the generation.
    let (_, r) = agent.execute(&json!({"op": "remove", "args": {"name": a, "force": true}}));
    assert_eq!(code(&r), "conflict", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("generation 1"),
        "{r}"
    );

    // 4: an image that cannot be pulled: failed, nothing touched.
    let bad = json!({"name": b, "image": "127.0.0.1:5000/ctrmgr-test/no-such-image:1",
                     "cmd": ["sleep", "3600"], "order": 1});
    let r = apply(&agent, &deployment(4, vec![sleeper(&a, 0, "1"), bad]));
    assert_eq!(phase(&r), "failed", "{r}");
    assert_eq!(engine.state(&a).unwrap(), (id_a.clone(), true));
    assert_eq!(engine.state(&b).unwrap(), (id_b3.clone(), true));
    // A failed generation is never retried by itself: the same again is its status.
    let r2 = apply(&agent, &deployment(4, vec![sleeper(&a, 0, "1"), r_bad(&b)]));
    assert_eq!(phase(&r2), "failed", "{r2}");

    // 5: b exits at once: rolled back, the old b runs again with the same id.
    let exits = json!({"name": b, "image": REGISTRY_IMAGE, "cmd": ["sh", "-c", "exit 3"],
                       "order": 1});
    let r = apply(&agent, &deployment(5, vec![sleeper(&a, 0, "1"), exits]));
    assert_eq!(phase(&r), "rolled_back", "{r}");
    assert!(r["result"]["message"].as_str().unwrap().contains(&b), "{r}");
    assert_eq!(engine.state(&a).unwrap(), (id_a.clone(), true));
    assert_eq!(engine.state(&b).unwrap(), (id_b3.clone(), true));
    assert!(engine.state(&format!("{b}.ctrmgr-old")).is_none());

    // deployment: the last apply's status; rollback: generation 2's containers as 6.
    let (_, r) = agent.get("/v1/deployment");
    assert_eq!(r["result"]["generation"], 5, "{r}");
    let (_, r) = agent.post("/v1/deployment/rollback", &json!({}));
    assert_eq!(phase(&r), "done", "{r}");
    assert_eq!(r["result"]["generation"], 6, "{r}");
    assert_eq!(action(&r, &b), "recreate", "{r}");
    assert_eq!(engine.state(&a).unwrap().0, id_a);

    // 7: a stopped by a client stays stopped; a generation without b removes it.
    let (_, r) = agent.execute(&json!({"op": "stop", "args": {"name": a, "timeout_s": 1}}));
    assert_eq!(r["ok"], true, "{r}");
    let r = apply(&agent, &deployment(7, vec![sleeper(&a, 0, "1")]));
    assert_eq!(phase(&r), "done", "{r}");
    assert_eq!((action(&r, &a), action(&r, &b)), ("none", "remove"), "{r}");
    assert!(engine.state(&b).is_none());
    assert_eq!(
        engine.state(&a).unwrap(),
        (id_a, false),
        "the stop is respected"
    );
    // The agent first: it would create its deployment's containers again.
    drop(agent);
    engine.clean(&[&a, &b]);
}

/// The bad-image container of generation 4, as sent the first time.
fn r_bad(b: &str) -> Value {
    json!({"name": b, "image": "127.0.0.1:5000/ctrmgr-test/no-such-image:1",
           "cmd": ["sleep", "3600"], "order": 1})
}

#[test]
fn lifecycle_docker_api() {
    lifecycle(DOCKER_API);
}

#[test]
fn lifecycle_docker_cli() {
    lifecycle(DOCKER_CLI);
}

#[test]
fn lifecycle_podman_api() {
    lifecycle(PODMAN_API);
}

/// Bad input changes nothing: a name that is an imperative container is `conflict`,
/// duplicate names and unknown fields are `invalid_request`.
#[test]
fn bad_deployments_change_nothing() {
    require_docker();
    let engine = DOCKER_API;
    let agent = Agent::start(&engine.agent_config());
    let own = unique("imp");
    let (_, r) = agent.execute(&json!({"op": "create", "args": {"name": own,
        "image": REGISTRY_IMAGE, "cmd": ["sleep", "3600"]}}));
    assert_eq!(r["ok"], true, "{r}");
    let r = apply(&agent, &deployment(1, vec![sleeper(&own, 0, "1")]));
    assert_eq!(code(&r), "conflict", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("imperative"),
        "{r}"
    );
    let d = unique("dup");
    let r = apply(
        &agent,
        &deployment(1, vec![sleeper(&d, 0, "1"), sleeper(&d, 0, "2")]),
    );
    assert_eq!(code(&r), "invalid_request", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("containers[1].name"),
        "{r}"
    );
    let mut odd = sleeper(&d, 0, "1");
    odd["colour"] = json!("red");
    let r = apply(&agent, &deployment(1, vec![odd]));
    assert_eq!(code(&r), "invalid_request", "{r}");
    assert!(engine.state(&d).is_none());
    let (_, r) = agent.get("/v1/deployment");
    assert_eq!(r["result"]["generation"], 0, "{r}");
    engine.clean(&[&own]);
}

/// `kill -9` of the agent once an apply of a changed container reaches `at` (pulling:
/// its new image hangs in a stalling registry; switching: while the old container is
/// being stopped; verifying: the new one runs, the old one
/// is parked): on restart the previous generation runs again (same id), one container
/// per name, and the status says so.
fn kill9_at(at: &str) {
    let registry = StallingRegistry::start();
    require_docker();
    let engine = DOCKER_API;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start_in(dir.path(), &engine.agent_config());
    let a = unique("dep-k");
    engine.clean(&[&a]);
    let r = apply(&agent, &deployment(1, vec![sleeper(&a, 0, "1")]));
    assert_eq!(phase(&r), "done", "{r}");
    let (id_a, _) = engine.state(&a).unwrap();

    let mut gen2 = deployment(2, vec![sleeper(&a, 0, "2")]);
    gen2["policy"]["healthy_window_s"] = json!(60);
    if at == "pulling" {
        // An image whose pull hangs, so the kill lands while it runs.
        gen2["containers"][0]["image"] = json!(registry.image());
    }
    let (_, r) =
        agent.execute(&json!({"op": "apply", "args": {"deployment": gen2, "wait": false}}));
    assert_eq!(phase(&r), "pending", "{r}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = agent.get("/v1/deployment");
        if r["result"]["in_progress"]["phase"] == at {
            break;
        }
        assert!(Instant::now() < deadline, "never reached {at}: {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
    if at == "verifying" {
        assert!(
            engine.state(&format!("{a}.ctrmgr-old")).is_some(),
            "old one parked"
        );
    }
    agent.kill9();

    let agent = Agent::start_in(dir.path(), &engine.agent_config());
    let (_, r) = agent.get("/v1/deployment");
    assert_eq!(r["result"]["generation"], 2, "{r}");
    assert_eq!(r["result"]["phase"], "rolled_back", "{r}");
    assert_eq!(engine.state(&a).unwrap(), (id_a, true));
    assert!(engine.state(&format!("{a}.ctrmgr-old")).is_none());
    let (_, r) = agent.get(&format!("/v1/containers/{a}"));
    assert_eq!(r["result"]["state"], "running", "{r}");
    // The agent first: it would create its deployment's containers again.
    drop(agent);
    engine.clean(&[&a]);
}

#[test]
fn kill9_while_pulling_converges_on_restart() {
    kill9_at("pulling");
}

#[test]
fn kill9_while_switching_converges_on_restart() {
    kill9_at("switching");
}

#[test]
fn kill9_while_verifying_converges_on_restart() {
    kill9_at("verifying");
}

/// A retained desired message published before the agent starts is applied when it
/// connects; the status is retained on the deployment topic; a group's desired message
/// is ignored by a device that has its own and applied by one that has not.
#[test]
fn retained_desired_is_applied_by_an_agent_that_starts_later() {
    require_docker();
    let engine = DOCKER_API;
    let broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let device = unique("dev");
    std::fs::write(dir.path().join("device-id"), &device).unwrap();
    let group = unique("grp");
    let (a, g) = (unique("mq-a"), unique("mq-g"));
    let own = json!({"id": "d-1", "op": "apply", "args": {"deployment":
        deployment(1, vec![sleeper(&a, 0, "1")])}});
    let of_group = json!({"id": "g-1", "op": "apply", "args": {"deployment":
        deployment(1, vec![sleeper(&g, 0, "1")])}});
    retain(
        &broker,
        &format!("ctrmgr/{device}/desired"),
        &own.to_string(),
    );
    retain(
        &broker,
        &format!("ctrmgr/group/{group}/desired"),
        &of_group.to_string(),
    );

    let config = format!(
        "{}{}",
        engine.agent_config(),
        agent_mqtt_config(&broker, &format!("groups = [\"{group}\"]"))
    );
    let agent = Agent::start_in(dir.path(), &config);
    let client = TestClient::connect(&broker);
    let topic = format!("ctrmgr/{device}/deployment");
    client.subscribe(&topic);
    let done = client.next_on(&topic, Duration::from_secs(60), |m| {
        m.json()["phase"] == "done" && m.json()["generation"] == 1
    });
    assert!(done.is_some(), "no retained done status:\n{}", agent.log());
    assert!(engine.state(&a).is_some_and(|(_, running)| running));
    assert!(engine.state(&g).is_none(), "the group's message must lose");
    // Another member of the group without a message of its own applies the group's.
    let other = tempfile::tempdir().unwrap();
    let other_device = unique("dev");
    std::fs::write(other.path().join("device-id"), &other_device).unwrap();
    let _member = Agent::start_in(other.path(), &config);
    let other_topic = format!("ctrmgr/{other_device}/deployment");
    client.subscribe(&other_topic);
    let done = client.next_on(&other_topic, Duration::from_secs(60), |m| {
        m.json()["phase"] == "done" && m.json()["generation"] == 1
    });
    let done = done.expect("the group member did not apply the group's generation");
    assert!(
        engine.state(&g).is_some_and(|(_, running)| running),
        "{}",
        done.json()
    );
    retain(&broker, &other_topic, "");
    retain(&broker, &format!("ctrmgr/{device}/desired"), "");
    retain(&broker, &format!("ctrmgr/group/{group}/desired"), "");
    retain(&broker, &topic, "");
    // The agents first: they would create their deployment's containers again.
    drop((agent, _member));
    engine.clean(&[&a, &g]);
}

/// Only missing images are pulled: a deployment whose image exists only locally, under
/// a registry that does not answer, applies without the network.
#[test]
fn local_images_apply_without_the_registry() {
    require_docker();
    let engine = DOCKER_API;
    let offline = format!("127.0.0.1:5999/ctrmgr-test/busybox:{}", unique("offline"));
    let tagged = Command::new("docker")
        .args(["tag", REGISTRY_IMAGE, &offline])
        .status()
        .unwrap();
    assert!(tagged.success());
    let agent = Agent::start(&engine.agent_config());
    let a = unique("dep-off");
    let c = json!({"name": a, "image": offline, "cmd": ["sleep", "3600"]});
    let r = apply(&agent, &deployment(1, vec![c]));
    assert_eq!(phase(&r), "done", "{r}");
    assert!(engine.state(&a).is_some_and(|(_, running)| running));
    // The agent first: it would create its deployment's containers again.
    drop(agent);
    engine.clean(&[&a]);
    let _ = Command::new("docker").args(["rmi", &offline]).output();
}

/// Verification follows supervision's health state: a generation whose check passes is
/// `done` with the container `healthy` in its status; one whose check fails is
/// `rolled_back` (the previous container running again, same id), before its window is
/// over.
#[test]
fn verification_waits_for_the_health_check_and_rolls_back_an_unhealthy_generation() {
    require_docker();
    let engine = DOCKER_API;
    let agent = Agent::start(&engine.agent_config());
    let name = unique("dep-health");
    let checked = |generation: u64, check: &str| {
        let mut c = sleeper(&name, 0, &generation.to_string());
        c["health"] = json!({"cmd": ["sh", "-c", check], "interval_s": 1, "retries": 1});
        deployment(generation, vec![c])
    };
    let r = apply(&agent, &checked(1, "true"));
    assert_eq!(phase(&r), "done", "{r}");
    let line = &r["result"]["containers"][0];
    assert_eq!(line["health"], "healthy", "{r}");
    assert_eq!(line["restart_count"], 0, "{r}");
    let (first, running) = engine.state(&name).unwrap();
    assert!(running);

    let mut failing = checked(2, "exit 1");
    failing["policy"]["healthy_window_s"] = json!(30);
    let began = Instant::now();
    let r = apply(&agent, &failing);
    assert_eq!(phase(&r), "rolled_back", "{r}");
    assert!(
        r["result"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("health")),
        "{r}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "an unhealthy container fails the generation before its window ends"
    );
    assert_eq!(engine.state(&name), Some((first, true)));
    // The agent first: it would create its deployment's containers again.
    drop(agent);
    engine.clean(&[&name]);
}

/// A deployment-owned container removed behind the agent's back is created again from
/// the committed generation (declared means it runs); the generation stays the same and
/// a next generation with the same content touches nothing.
#[test]
fn a_container_removed_behind_the_agents_back_is_created_again() {
    require_docker();
    let engine = DOCKER_API;
    let agent = Agent::start(&engine.agent_config());
    let (a, b) = (unique("dep-lost"), unique("dep-kept"));
    let dep = deployment(1, vec![sleeper(&a, 0, "1"), sleeper(&b, 0, "1")]);
    let r = apply(&agent, &dep);
    assert_eq!(phase(&r), "done", "{r}");
    let (first, _) = engine.state(&a).unwrap();
    let (kept, _) = engine.state(&b).unwrap();
    engine.clean(&[&a]);

    let deadline = Instant::now() + Duration::from_secs(30);
    let again = loop {
        if let Some((id, true)) = engine.state(&a) {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "'{a}' was not created again:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_ne!(again, first);
    assert_eq!(
        engine.state(&b),
        Some((kept, true)),
        "the other one is untouched"
    );
    let (_, r) = agent.get("/v1/deployment");
    assert_eq!(r["result"]["generation"], 1, "{r}");
    let unchanged = deployment(2, vec![sleeper(&a, 0, "1"), sleeper(&b, 0, "1")]);
    let r = apply(&agent, &unchanged);
    assert_eq!(phase(&r), "done", "{r}");
    assert_eq!(action(&r, &a), "none", "{r}");
    assert_eq!(engine.state(&a), Some((again, true)));
    // The agent first: it would create its deployment's containers again.
    drop(agent);
    engine.clean(&[&a, &b]);
}

/// Groups run in `order`, lower first, whatever order the deployment lists them in: each
/// container of a later group is created after every container of an earlier one has
/// started (the engine's own timestamps).
#[test]
fn order_groups_start_lower_first() {
    require_docker();
    let engine = DOCKER_API;
    let agent = Agent::start(&engine.agent_config());
    let names = [
        unique("ord-late"),
        unique("ord-first"),
        unique("ord-middle"),
    ];
    let orders = [2, 0, 1];
    let containers = names
        .iter()
        .zip(orders)
        .map(|(n, o)| sleeper(n, o, "1"))
        .collect();
    let r = apply(&agent, &deployment(1, containers));
    assert_eq!(phase(&r), "done", "{r}");
    let times = |name: &str| {
        let out = Command::new("docker")
            .args([
                "container",
                "inspect",
                "--format",
                "{{.Created}} {{.State.StartedAt}}",
                "--",
                name,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let (created, started) = text.split_once(' ').unwrap();
        (fixed_width(created), fixed_width(started))
    };
    let (first, middle, late) = (times(&names[1]), times(&names[2]), times(&names[0]));
    assert!(
        first.1 < middle.0,
        "order 0 started before order 1 was created"
    );
    assert!(
        middle.1 < late.0,
        "order 1 started before order 2 was created"
    );
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // The agent first: it would create its deployment's containers again.
    drop(agent);
    engine.clean(&refs);
}

/// An engine timestamp (`2026-12-07T10:00:01.5Z`, Go trims trailing zeros) with its
/// fraction padded to 9 digits, so that text order is time order.
fn fixed_width(time: &str) -> String {
    let time = time.trim_end_matches('Z');
    let (whole, fraction) = time.split_once('.').unwrap_or((time, ""));
    format!("{whole}.{fraction:0<9}Z")
}

/// A group is replaced several containers at a time: when one of them cannot start, the
/// others (created beside it, finished or not) are removed and the whole previous
/// generation runs again with the same ids, nothing parked left behind.
fn a_failed_start_rolls_back_the_whole_group(engine: Engine) {
    require_docker();
    let agent = Agent::start(&engine.agent_config());
    let names: Vec<String> = (0..3).map(|i| unique(&format!("dep-g{i}"))).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    engine.clean(&refs);
    let gen1 = deployment(1, names.iter().map(|n| sleeper(n, 0, "1")).collect());
    let r = apply(&agent, &gen1);
    assert_eq!(phase(&r), "done", "{r}");
    let before: Vec<String> = names.iter().map(|n| engine.state(n).unwrap().0).collect();

    let mut containers: Vec<Value> = names.iter().map(|n| sleeper(n, 0, "2")).collect();
    containers[1]["cmd"] = json!(["/no/such/binary"]);
    let r = apply(&agent, &deployment(2, containers));
    assert_eq!(phase(&r), "rolled_back", "{r}");
    assert!(
        r["result"]["message"]
            .as_str()
            .unwrap_or("")
            .contains(&names[1]),
        "the message names the container that failed: {r}"
    );
    for (name, id) in names.iter().zip(&before) {
        let (now, running) = engine.state(name).expect("the old container is back");
        assert_eq!(
            &now, id,
            "{name}: the previous generation's container, same id"
        );
        assert!(running, "{name} runs again");
        assert!(
            engine.state(&format!("{name}.ctrmgr-old")).is_none(),
            "{name}: nothing parked left"
        );
    }
    let (_, r) = agent.get("/v1/deployment");
    assert_eq!(r["result"]["phase"], "rolled_back", "{r}");
    assert!(r["result"]["in_progress"].is_null(), "{r}");
    // The agent first: it would create its deployment's containers again.
    drop(agent);
    engine.clean(&refs);
}

#[test]
fn a_failed_start_rolls_back_the_whole_group_docker_api() {
    a_failed_start_rolls_back_the_whole_group(DOCKER_API);
}

#[test]
fn a_failed_start_rolls_back_the_whole_group_podman_api() {
    a_failed_start_rolls_back_the_whole_group(PODMAN_API);
}
