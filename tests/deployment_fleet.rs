//! Desired state beyond one agent's uptime and one device (DESIGN.md "Desired state",
//! issue 15): the committed generation boots again with its registry gone (a private
//! `docker-registry`, killed, the agent `kill -9`ed, the containers stopped and one
//! removed as a power cut and a cleaner would leave them), on Docker's and Podman's API
//! paths and the docker CLI; and one retained group `desired` message is applied by
//! three agents on three distinct engines, while a device's own message beats it on
//! that device only.

use ctrmgr_testkit::{common, deployment_support, mqtt_support};

use common::engine::{Engine, DOCKER_API, DOCKER_CLI, PODMAN_API};
use common::private_dockerd::PrivateDockerd;
use common::private_registry::PrivateRegistry;
use common::{require_docker, unique, Agent, IMAGE};
use deployment_support::{apply, deployment, phase, retain, sleeper};
use mqtt_support::{agent_mqtt_config, Broker, TestClient};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long an agent may take to converge after a start or a message.
const CONVERGE: Duration = Duration::from_secs(90);

/// Waits until `name` runs on `engine` and returns its id.
fn wait_running(engine: &Engine, agent: &Agent, name: &str) -> String {
    let deadline = Instant::now() + CONVERGE;
    loop {
        if let Some((id, true)) = engine.state(name) {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "'{name}' is not running on {}:\n{}",
            engine.runtime,
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Applies three containers whose image only a private registry holds (the engine
/// pulls it) and has a client `stop` one, kills the registry and the agent (`kill -9`),
/// stops the others and removes one (a power cycle), and starts the agent again with
/// the registry still down: the committed generation runs again from the local image
/// (the stopped one started with its engine id, the removed one created again), the
/// client's stop is still respected, one container per name, and the status is the
/// same generation, `done`.
fn offline_boot(engine: Engine) {
    require_docker();
    let mut registry = PrivateRegistry::start();
    let image = registry.image(&format!("ctrmgr-test/busybox:{}", unique("offline")));
    registry.push_from_docker(IMAGE, &image);
    engine.forget_image(&image);
    assert!(
        !engine.has_image(&image),
        "{image} must be pulled by the agent"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start_in(dir.path(), &engine.agent_config());
    let (a, b, kept) = (unique("off-a"), unique("off-b"), unique("off-stopped"));
    let with_image = |mut c: Value| {
        c["image"] = json!(image);
        c
    };
    let gen1 = deployment(
        1,
        vec![
            with_image(sleeper(&a, 0, "1")),
            with_image(sleeper(&b, 1, "1")),
            with_image(sleeper(&kept, 1, "1")),
        ],
    );
    let r = apply(&agent, &gen1);
    assert_eq!(phase(&r), "done", "{r}\n{}", agent.log());
    assert!(engine.has_image(&image), "the apply pulled {image}");
    let (id_a, _) = engine.state(&a).unwrap();
    let (_, r) = agent.execute(&json!({"op": "stop", "args": {"name": kept, "timeout_s": 1}}));
    assert_eq!(r["ok"], true, "{r}");
    let (id_kept, _) = engine.state(&kept).unwrap();

    registry.stop();
    agent.kill9();
    let stopped = engine.cli(&["stop", "--time", "1", "--", &a, &b]);
    assert!(stopped.status.success(), "stop: {stopped:?}");
    engine.clean(&[&b]);
    assert_eq!(engine.state(&a), Some((id_a.clone(), false)));

    let agent = Agent::start_in(dir.path(), &engine.agent_config());
    assert_eq!(
        wait_running(&engine, &agent, &a),
        id_a,
        "a is started again"
    );
    wait_running(&engine, &agent, &b);
    for name in [&a, &b] {
        assert_eq!(engine.count_named(name), 1, "one '{name}'");
        assert!(engine.state(&format!("{name}.ctrmgr-old")).is_none());
        let (_, r) = agent.get(&format!("/v1/containers/{name}"));
        assert_eq!(r["result"]["state"], "running", "{r}");
    }
    assert_eq!(
        engine.state(&kept),
        Some((id_kept, false)),
        "the client's stop is respected on boot"
    );
    let (_, r) = agent.get("/v1/deployment");
    assert_eq!(r["result"]["generation"], 1, "{r}");
    assert_eq!(r["result"]["phase"], "done", "{r}");
    assert!(r["result"]["in_progress"].is_null(), "{r}");
    assert!(!registry.answers(), "the registry stayed down throughout");
    // The agent first: it would create its deployment's containers again.
    drop(agent);
    engine.clean(&[&a, &b, &kept]);
    engine.forget_image(&image);
}

#[test]
fn offline_boot_docker_api() {
    offline_boot(DOCKER_API);
}

#[test]
fn offline_boot_docker_cli() {
    offline_boot(DOCKER_CLI);
}

#[test]
fn offline_boot_podman_api() {
    offline_boot(PODMAN_API);
}

/// Waits for the retained status on `ctrmgr/<device>/deployment` to reach `done` at
/// `generation`.
fn wait_done(client: &TestClient, agent: &Agent, device: &str, generation: u64) {
    let topic = format!("ctrmgr/{device}/deployment");
    let done = client.next_on(&topic, CONVERGE, |m| {
        m.json()["phase"] == "done" && m.json()["generation"] == generation
    });
    assert!(
        done.is_some(),
        "{device} never published generation {generation} done:\n{}",
        agent.log()
    );
}

/// One retained message on `ctrmgr/group/<group>/desired` reaches three agents of the
/// group, each on its own engine (the shared dockerd through its API, the shared
/// Podman service through its API, a private dockerd through the docker CLI), so the
/// same container names live on three engines: each reaches `done` (its retained
/// status and its own `deployment` op) and runs both containers. A device's own
/// `desired` message then beats the group's on that device only.
#[test]
fn a_group_desired_message_converges_three_agents_on_three_engines() {
    require_docker();
    let dockerd = PrivateDockerd::start();
    let engines = [
        DOCKER_API,
        PODMAN_API,
        Engine::private_dockerd(&dockerd, "docker"),
    ];
    let broker = Broker::start();
    let group = unique("fleet");
    let mqtt = agent_mqtt_config(&broker, &format!("groups = [\"{group}\"]"));
    let agents: Vec<Agent> = engines
        .iter()
        .map(|e| Agent::start(&format!("{}{mqtt}", e.agent_config())))
        .collect();
    let devices: Vec<String> = agents.iter().map(Agent::device_id).collect();
    let client = TestClient::connect(&broker);
    for device in &devices {
        client.wait_status(device, "online");
        client.subscribe(&format!("ctrmgr/{device}/deployment"));
    }

    // The image every engine holds locally (the private dockerd cannot reach the
    // shared registry from its own network namespace).
    let (a, b) = (unique("fleet-a"), unique("fleet-b"));
    let local = |mut c: Value| {
        c["image"] = json!(IMAGE);
        c
    };
    let of_group = json!({"id": "g-1", "op": "apply", "args": {"deployment": deployment(
        1, vec![local(sleeper(&a, 0, "1")), local(sleeper(&b, 1, "1"))])}});
    let group_topic = format!("ctrmgr/group/{group}/desired");
    retain(&broker, &group_topic, &of_group.to_string());

    let mut ids = Vec::new();
    for ((engine, agent), device) in engines.iter().zip(&agents).zip(&devices) {
        wait_done(&client, agent, device, 1);
        let (_, r) = agent.execute(&json!({"op": "deployment"}));
        assert_eq!(r["result"]["generation"], 1, "{device}: {r}");
        assert_eq!(phase(&r), "done", "{device}: {r}");
        let (id_a, running_a) = engine.state(&a).expect("a on every engine");
        let (id_b, running_b) = engine.state(&b).expect("b on every engine");
        assert!(running_a && running_b, "{}: both run", engine.runtime);
        ids.push((id_a, id_b));
    }

    // The first device's own message: generation 2 there, with a third container.
    let c = unique("fleet-c");
    let own = json!({"id": "d-2", "op": "apply", "args": {"deployment": deployment(
        2, vec![local(sleeper(&a, 0, "1")), local(sleeper(&c, 0, "1"))])}});
    let own_topic = format!("ctrmgr/{}/desired", devices[0]);
    retain(&broker, &own_topic, &own.to_string());
    wait_done(&client, &agents[0], &devices[0], 2);
    assert_eq!(engines[0].state(&a), Some((ids[0].0.clone(), true)));
    assert!(engines[0].state(&b).is_none(), "b left generation 2");
    assert!(engines[0].state(&c).is_some_and(|(_, running)| running));
    for ((engine, agent), before) in engines.iter().zip(&agents).zip(&ids).skip(1) {
        let (_, r) = agent.execute(&json!({"op": "deployment"}));
        assert_eq!(r["result"]["generation"], 1, "{}: {r}", engine.runtime);
        assert_eq!(engine.state(&a), Some((before.0.clone(), true)));
        assert_eq!(engine.state(&b), Some((before.1.clone(), true)));
        assert!(engine.state(&c).is_none(), "{}: no c", engine.runtime);
    }

    retain(&broker, &group_topic, "");
    retain(&broker, &own_topic, "");
    for device in &devices {
        retain(&broker, &format!("ctrmgr/{device}/deployment"), "");
    }
    // The agent first: it would create its deployment's containers again.
    drop(agents);
    for engine in &engines {
        engine.clean(&[&a, &b, &c]);
    }
}
