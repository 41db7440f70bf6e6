//! Deployments in the tests (DESIGN.md "Desired state"): a deployment document of
//! long-running containers, `apply` through REST, reading a status's phase and actions,
//! and retained MQTT messages for the `desired`/`deployment` topics.

use crate::common::{Agent, REGISTRY_IMAGE};
use crate::mqtt_support::Broker;
use serde_json::{json, Value};
use std::process::Command;

/// A long-running container of a deployment (the shared registry's image; `env` makes
/// versions differ).
pub fn sleeper(name: &str, order: u32, env: &str) -> Value {
    json!({"name": name, "image": REGISTRY_IMAGE, "cmd": ["sleep", "3600"],
           "env": {"V": env}, "order": order})
}

/// A deployment of `containers` that rolls back on failure after a 1 s healthy window.
pub fn deployment(generation: u64, containers: Vec<Value>) -> Value {
    json!({"generation": generation, "containers": containers,
           "policy": {"on_failure": "rollback", "healthy_window_s": 1}})
}

/// Applies and returns the reply (status 200 expected for every contract reply).
pub fn apply(agent: &Agent, dep: &Value) -> Value {
    let (_, reply) = agent.execute(&json!({"op": "apply", "args": {"deployment": dep}}));
    reply
}

/// The phase of a status reply; panics when it has none.
pub fn phase(reply: &Value) -> &str {
    reply["result"]["phase"]
        .as_str()
        .unwrap_or_else(|| panic!("no phase: {reply}"))
}

/// The action the status reports for `name`.
pub fn action<'a>(reply: &'a Value, name: &str) -> &'a str {
    reply["result"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["action"].as_str())
        .unwrap_or_else(|| panic!("no line for {name}: {reply}"))
}

/// Publishes `payload` retained on `topic` (empty: clears it) with mosquitto_pub.
pub fn retain(broker: &Broker, topic: &str, payload: &str) {
    let port = broker.port.to_string();
    let mut args = vec!["-h", "127.0.0.1", "-p", &port, "-q", "1", "-r", "-t", topic];
    if payload.is_empty() {
        args.push("-n");
    } else {
        args.extend(["-m", payload]);
    }
    let out = Command::new("mosquitto_pub").args(&args).output().unwrap();
    assert!(out.status.success(), "mosquitto_pub: {out:?}");
}
