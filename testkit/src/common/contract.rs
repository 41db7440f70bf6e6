//! The wire contract written once for every transport: [`ContractClient`] is one
//! transport's way to send a request's bytes and get the reply's bytes (REST here; MQTT,
//! D-Bus, POSIX MQ and gRPC in their support modules), and [`every_op`] runs
//! every op of the contract through any of them. `tests/bad_input_all_transports.rs`
//! sends its hostile matrix through the same clients.

use super::protobuf_envelope::to_protobuf;
use super::{docker, docker_has, docker_rm, unique, Agent, IMAGE, REGISTRY_IMAGE};
use ctrmgr::codec::protobuf::decode_reply;
use ctrmgr::codec::Format;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One transport, as a client of the contract sees it.
pub trait ContractClient {
    /// The transport's name in assertion messages.
    fn transport(&self) -> &'static str;

    /// The encodings the transport takes (gRPC's Execute: Protobuf only).
    fn formats(&self) -> &'static [Format] {
        &[Format::Json, Format::Protobuf]
    }

    /// The reply queue a request must name to be answered (POSIX MQ), if any.
    fn reply_to(&self) -> Option<&str> {
        None
    }

    /// Sends one request's bytes in `format` and returns the reply's bytes. `answerable`
    /// says whether the bytes name a way back (a POSIX MQ request whose `reply_to` cannot
    /// be read is answered to nobody): then `None`, once the transport has shown it
    /// dropped the request.
    fn exchange(&self, format: Format, bytes: &[u8], answerable: bool) -> Option<Vec<u8>>;

    /// Sends `envelope` in `format` (naming [`reply_to`](Self::reply_to)) and returns the
    /// reply as JSON, whatever its encoding.
    fn call(&self, format: Format, envelope: &Value) -> Value {
        let mut envelope = envelope.clone();
        if let Some(queue) = self.reply_to() {
            envelope["reply_to"] = json!(queue);
        }
        let bytes = match format {
            Format::Json => envelope.to_string().into_bytes(),
            Format::Protobuf => {
                to_protobuf(&envelope).unwrap_or_else(|| panic!("{envelope} has no Protobuf form"))
            }
        };
        let reply = self
            .exchange(format, &bytes, true)
            .unwrap_or_else(|| panic!("{}: no reply to {envelope}", self.transport()));
        reply_json(&reply, &format!("{}: {envelope}", self.transport()))
    }
}

/// A reply in either encoding as JSON (a JSON reply starts with `{`, a Protobuf one
/// never does).
pub fn reply_json(bytes: &[u8], label: &str) -> Value {
    match Format::sniff(bytes) {
        Format::Json => serde_json::from_slice(bytes).unwrap_or_else(|e| {
            panic!(
                "{label}: reply is not a JSON envelope ({e}): {}",
                String::from_utf8_lossy(bytes)
            )
        }),
        Format::Protobuf => {
            let reply = decode_reply(bytes).unwrap_or_else(|e| {
                panic!("{label}: reply is not ctrmgr.v1.Reply: {}", e.error.message)
            });
            serde_json::to_value(&reply).unwrap()
        }
    }
}

/// REST's `POST /v1/execute`, with the format's Content-Type.
pub struct RestClient<'a>(pub &'a Agent);

impl ContractClient for RestClient<'_> {
    fn transport(&self) -> &'static str {
        "REST"
    }

    fn exchange(&self, format: Format, bytes: &[u8], _answerable: bool) -> Option<Vec<u8>> {
        let (_, _, reply) = self.0.request_bytes(bytes, Some(content_type(format)));
        Some(reply)
    }
}

/// The content type of a format.
pub fn content_type(format: Format) -> &'static str {
    match format {
        Format::Json => "application/json",
        Format::Protobuf => "application/x-protobuf",
    }
}

/// Removes a test container when dropped, also when an assertion failed.
struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        docker_rm(&self.0);
    }
}

/// Every op of the contract through `client` in `format`, against docker, on the agent
/// of device `device`: each op succeeds with its result, and the engine agrees.
pub fn every_op(client: &dyn ContractClient, format: Format, device: &str) {
    let transport = client.transport();
    let name = unique("ops");
    let _cleanup = Removed(name.clone());
    let id = |op: &str| format!("{name}-{op}");
    let op =
        |op: &str, args: Value| client.call(format, &json!({"id": id(op), "op": op, "args": args}));
    let ok = |reply: Value| {
        assert_eq!(reply["ok"], true, "{transport} {format:?}: {reply}");
        reply["result"].clone()
    };

    let pulled = ok(op("pull", json!({"image": REGISTRY_IMAGE})));
    assert_eq!(pulled["image"], REGISTRY_IMAGE);
    let images = ok(op("images", json!({})));
    assert!(
        images["images"].as_array().is_some_and(|a| !a.is_empty()),
        "{images}"
    );
    assert!(images["images"].to_string().contains(IMAGE), "{images}");

    let create = op(
        "create",
        json!({"name": name, "image": IMAGE, "cmd": ["sh", "-c", "echo hello-ops; sleep 300"],
        "network": "none", "labels": {"ops-test": name}, "start": true}),
    );
    assert_eq!(create["id"], id("create"));
    let created = ok(create);
    assert_eq!(created["name"], name.as_str());
    assert_eq!(created["state"], "running");
    assert!(docker_has(&name));

    assert_eq!(ok(op("inspect", json!({"name": name})))["state"], "running");
    // Filtered by label: the agent may also list other tests' managed containers.
    let list = ok(op(
        "list",
        json!({"all": true, "label": format!("ops-test={name}")}),
    ));
    assert!(
        list["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == name.as_str()),
        "{list}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = ok(op("logs", json!({"name": name, "tail": 10})));
        if logs["lines"].to_string().contains("hello-ops") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "logs never showed the container's output: {logs}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let stats = ok(op("stats", json!({"name": name})));
    assert!(stats["memory_bytes"].is_u64(), "{stats}");

    let stop = op("stop", json!({"name": name, "timeout_s": 1}));
    assert_eq!(ok(stop)["state"], "exited");
    assert_eq!(ok(op("start", json!({"name": name})))["state"], "running");
    let restart = op("restart", json!({"name": name, "timeout_s": 1}));
    assert_eq!(ok(restart)["state"], "running");
    let kill = op("kill", json!({"name": name, "signal": "SIGKILL"}));
    assert_eq!(ok(kill)["state"], "exited");
    let remove = op("remove", json!({"name": name, "force": true}));
    assert_eq!(ok(remove)["name"], name.as_str());
    assert!(!docker_has(&name));

    let tag = format!("ctrmgr-test/{name}:latest");
    docker(&["tag", IMAGE, &tag]);
    let removed = op("remove_image", json!({"image": tag}));
    assert_eq!(ok(removed)["image"], tag.as_str());

    let info = ok(op("info", json!({})));
    assert_eq!(info["device_id"], device);
}
