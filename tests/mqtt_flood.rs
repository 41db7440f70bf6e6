//! A QoS 0 flood against the agent's MQTT transport (issue 14, item 13), on a real
//! Mosquitto with the real `mosquitto_pub`: the event loop never waits for the agent, so
//! keep-alives go on (one connection, the retained status stays `online`), QoS 0 requests
//! over the queue are dropped and counted in `/metrics`, and a QoS 1 request sent after
//! the burst is still answered.

use ctrmgr_testkit::{common, mqtt_support};

use common::Agent;
use mqtt_support::{agent_mqtt_config, Broker, TestClient};
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// QoS 0 requests in the burst (each `mosquitto_pub -l` line is one message).
const BURST: usize = 20_000;

/// The agent's device id (the harness names it after its REST port).
fn device_of(agent: &Agent) -> String {
    format!("test-{}", agent.url.rsplit(':').next().unwrap())
}

/// Publishes `lines` as QoS 0 messages on `topic`, as fast as mosquitto_pub goes.
fn flood(port: u16, topic: &str, lines: &str) {
    let mut child = Command::new("mosquitto_pub")
        .args(["-V", "5", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-q", "0", "-t", topic, "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub is installed (package mosquitto-clients)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "mosquitto_pub failed");
}

#[test]
fn a_qos0_flood_neither_stops_keep_alives_nor_later_qos1_requests() {
    let broker = Broker::start();
    // A short keep-alive: a wedged event loop misses its PINGREQ within 5 s and the
    // broker drops it after 7.5 s, publishing the `offline` will.
    let agent = Agent::start(&agent_mqtt_config(&broker, "keep_alive_s = 5"));
    let device = device_of(&agent);
    let client = TestClient::connect(&broker);
    client.wait_status(&device, "online");
    let status_topic = format!("ctrmgr/{device}/status");
    let line = json!({"op": "inspect", "args": {"name": "flood-nobody"}}).to_string();
    let lines = format!("{line}\n").repeat(BURST);
    flood(broker.port, &format!("ctrmgr/{device}/req"), &lines);
    // Two keep-alive periods: time enough for a wedged loop to lose its connection.
    let offline = client.next_on(&status_topic, Duration::from_secs(12), |m| {
        m.payload == b"offline"
    });
    let log = agent.log();
    assert!(offline.is_none(), "the agent went offline:\n{log}");
    assert_eq!(
        log.matches("MQTT connected to").count(),
        1,
        "the agent reconnected:\n{log}"
    );
    // A fresh subscriber sees the retained status: still online.
    let watcher = TestClient::connect(&broker);
    watcher.subscribe(&status_topic);
    let retained = watcher
        .next_on(&status_topic, Duration::from_secs(10), |m| m.retain)
        .expect("a retained status");
    assert_eq!(retained.payload, b"online");
    // A QoS 1 request after the burst is answered.
    let reply = client.call(&device, &json!({"id": "after-flood", "op": "list"}));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["id"], "after-flood");
    let text = agent.metrics();
    let dropped = gauge(&text, "ctrmgr_mqtt_qos0_dropped");
    let answered = text
        .lines()
        .find(|l| l.starts_with(r#"ctrmgr_requests_total{transport="mqtt",outcome="not_found"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap_or(0);
    eprintln!("QoS 0 burst of {BURST}: {answered} answered, {dropped} dropped");
    assert!(
        answered + dropped <= BURST as u64 && answered > 0,
        "{answered} answered, {dropped} dropped"
    );
}

/// A gauge's value in the Prometheus text; panics when it is missing.
fn gauge(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} "))?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
}
