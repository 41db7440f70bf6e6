//! Threads at idle (issue 19, README "Footprint and speed"): an agent with every default
//! transport on (REST, MQTT on a private Mosquitto, D-Bus on a private dbus-daemon, POSIX
//! MQ, gRPC on its unix socket) runs exactly the named idle set after its start-up
//! reconcile, and returns to it once a burst of ops on every transport and every runtime
//! access path (container lifecycles on docker-api, docker, podman-api and podman) is
//! over: no thread of smol's blocking pool (`blocking-N`), no second `async-io` (async-io
//! 1, which async-h1's header timer would start), no `async-global-executor-N` (where
//! async-h1 would answer `Expect: 100-continue`), one tokio thread for MQTT and gRPC.
//! Thread names come from `/proc/PID/task/*/comm`; the test asserts names, not times.
//!
//! `ctrmgr-io` (the engine-call and commit threads, `src/offload.rs`) is left out of the
//! comparison: the engines here are shared with other tests, whose containers' events
//! make the reconciler inspect them at any moment, so such a thread may be running or
//! within its idle second. That they exit when idle is unit-tested in `src/offload.rs`.

use ctrmgr_testkit::grpc_support::GrpcClient;
use ctrmgr_testkit::{common, dbus_support, mqtt_support, mqueue_support};

use common::contract::{ContractClient, RestClient};
use common::{require_docker, unique, Agent, IMAGE};
use ctrmgr::codec::Format;
use dbus_support::{wait_for_agent, DbusClient, PrivateBus};
use mqtt_support::{agent_mqtt_config, Broker, MqttClient, MqttRoute, TestClient};
use mqueue_support::{MqueueClient, ReplyQueue};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The threads of an idle agent with every default transport on: the main thread
/// running the one smol executor, async-io's reactor, and the one tokio runtime that
/// MQTT (rumqttc) and gRPC (tonic) share.
const IDLE: [&str; 3] = ["async-io", "ctrmgr", "ctrmgr-tokio"];

/// Longest wait for the idle set (tokio's host-name lookup thread, if any, exits a second
/// after its last lookup); the rest is margin for a loaded machine.
const SETTLE: Duration = Duration::from_secs(30);

/// The agent's thread names but `ctrmgr-io`'s, sorted.
fn thread_names(agent: &Agent) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", agent.pid()))
        .expect("the agent's /proc/PID/task")
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|comm| comm.trim_end().to_owned())
        .filter(|name| name != ctrmgr::offload::THREAD_NAME)
        .collect();
    names.sort();
    names
}

/// Waits until the agent runs exactly [`IDLE`]; fails with the last set seen.
fn assert_settles_to_idle(agent: &Agent, when: &str) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let names = thread_names(agent);
        if names == IDLE {
            eprintln!("{when}: {names:?}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{when}: threads {names:?}, want {IDLE:?} (README, Footprint and speed)\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `op` through `client` succeeds; its result.
fn ok(client: &dyn ContractClient, format: Format, envelope: Value) -> Value {
    let reply = client.call(format, &envelope);
    assert_eq!(
        reply["ok"],
        true,
        "{}: {envelope}: {reply}",
        client.transport()
    );
    reply["result"].clone()
}

/// create (started), inspect, list, stop, start, remove of one container on `runtime`.
fn lifecycle(client: &dyn ContractClient, format: Format, runtime: &str) {
    let name = unique("idle");
    let op = |op: &str, args: Value| json!({"op": op, "runtime": runtime, "args": args});
    let created = ok(
        client,
        format,
        op(
            "create",
            json!({"name": name, "image": IMAGE, "cmd": ["sleep", "300"],
                   "network": "none", "start": true}),
        ),
    );
    assert_eq!(created["state"], "running", "{runtime}: {created}");
    ok(client, format, op("inspect", json!({"name": name})));
    ok(client, format, op("list", json!({"all": true})));
    let stopped = ok(
        client,
        format,
        op("stop", json!({"name": name, "timeout_s": 1})),
    );
    assert_eq!(stopped["state"], "exited", "{runtime}: {stopped}");
    ok(client, format, op("start", json!({"name": name})));
    ok(
        client,
        format,
        op("remove", json!({"name": name, "force": true})),
    );
}

/// A REST request with `Expect: 100-continue` gets `100 Continue`, then its reply.
fn expect_continue(agent: &Agent) {
    let port: u16 = agent.url.rsplit(':').next().unwrap().parse().unwrap();
    let body = json!({"op": "info"}).to_string();
    let request = format!(
        "POST /v1/execute HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        agent.token,
        body.len()
    );
    let reply = common::read_tcp(port, request.as_bytes());
    assert!(
        reply.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{reply}"
    );
    assert!(reply.contains(r#""ok":true"#), "{reply}");
}

#[test]
fn every_transport_on_returns_to_the_named_idle_threads() {
    require_docker();
    let broker = Broker::start();
    let bus = PrivateBus::start();
    let extra = format!(
        "[dbus]\nbus = \"{}\"\n{}",
        bus.address,
        agent_mqtt_config(&broker, "")
    );
    let (agent, queue) = mqueue_support::start_agent(&extra);
    let device = format!("test-{}", agent.url.rsplit(':').next().unwrap());
    let mqtt = TestClient::connect(&broker);
    mqtt.wait_status(&device, "online");
    let dbus = dbus_support::client(&bus);
    wait_for_agent(&dbus, Duration::from_secs(30));
    assert_settles_to_idle(&agent, "after start-up");

    let rest = RestClient(&agent);
    expect_continue(&agent);
    for runtime in ["docker-api", "docker", "podman-api", "podman"] {
        lifecycle(&rest, Format::Json, runtime);
    }
    let grpc = GrpcClient::connect(&agent);
    let others: [&dyn ContractClient; 4] = [
        &MqttClient {
            client: &mqtt,
            device: device.clone(),
            route: MqttRoute::Declared,
        },
        &DbusClient(&dbus),
        &MqueueClient {
            agent: &agent,
            queue,
            replies: ReplyQueue::standard(),
        },
        &grpc,
    ];
    for client in others {
        lifecycle(client, Format::Protobuf, "docker-api");
        ok(client, Format::Protobuf, json!({"op": "info"}));
    }
    assert_settles_to_idle(&agent, "after ops on every transport and runtime");
}
