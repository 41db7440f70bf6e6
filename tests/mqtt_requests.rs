//! MQTT request/response against a real Mosquitto and dockerd: every op in JSON with and
//! without a Response Topic and in Protobuf, the real `mosquitto_pub`/`mosquitto_sub` clients, duplicate
//! delivery of one id, malformed and oversized payloads, and events.

use ctrmgr_testkit::{common, mqtt_support};

use common::engine::DOCKER_API;
use common::{contract, docker_has, docker_rm, unique, Agent, IMAGE};
use ctrmgr::codec::Format;
use mqtt_support::{agent_mqtt_config, Broker, MqttClient, MqttRoute, TestClient, REPLY_WAIT};
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The agent's device id (the harness names it after its REST port).
fn device_of(agent: &Agent) -> String {
    format!("test-{}", agent.url.rsplit(':').next().unwrap())
}

/// A broker, an agent on it, and a connected test client that has seen `online`.
fn setup(extra_mqtt_keys: &str) -> (Broker, Agent, TestClient, String) {
    common::require_docker();
    let broker = Broker::start();
    let agent = Agent::start(&agent_mqtt_config(&broker, extra_mqtt_keys));
    let client = TestClient::connect(&broker);
    let device = device_of(&agent);
    client.wait_status(&device, "online");
    (broker, agent, client, device)
}

/// Every op of the contract over one route, in `format`.
fn every_op(client: &TestClient, device: &str, route: MqttRoute, format: Format) {
    let client = MqttClient {
        client,
        device: device.to_owned(),
        route,
    };
    contract::every_op(&client, format, device);
}

#[test]
fn every_op_in_json_with_and_without_a_response_topic() {
    let (_broker, _agent, client, device) = setup("");
    every_op(&client, &device, MqttRoute::ResponseTopic, Format::Json);
    every_op(&client, &device, MqttRoute::DefaultTopic, Format::Json);
}

#[test]
fn every_op_in_protobuf() {
    let (_broker, _agent, client, device) = setup("");
    every_op(&client, &device, MqttRoute::Declared, Format::Protobuf);
}

#[test]
fn reply_names_the_device_and_its_format() {
    let (_broker, _agent, client, device) = setup("");
    let reply = client.request_to(
        &format!("ctrmgr/{device}/req"),
        br#"{"id":"fmt-1","op":"info"}"#,
        Some("application/json"),
    );
    assert_eq!(reply.user_property("device"), Some(device.as_str()));
    assert_eq!(
        reply.properties.content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(reply.json()["id"], "fmt-1");
    assert!(!reply.retain);
}

/// Reads `mosquitto_sub -d` output until it has subscribed, then hands back the reader.
fn spawn_mosquitto_sub(
    port: u16,
    topic: &str,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    // Line-buffered: piped, mosquitto_sub would hold its debug lines back.
    let mut child = Command::new("stdbuf")
        .args([
            "-oL",
            "mosquitto_sub",
            "-V",
            "5",
            "-d",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
        ])
        .args(["-t", topic, "-C", "1", "-W", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub is installed (package mosquitto-clients)");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let subscribed = rx.iter().any(|line| line.contains("SUBACK"));
    if !subscribed {
        let _ = child.kill();
        let _ = child.wait();
        panic!("mosquitto_sub ended without subscribing");
    }
    (child, rx)
}

#[test]
fn real_mosquitto_clients_see_status_and_get_json_replies() {
    let (broker, _agent, client, device) = setup("");
    let status =
        mqtt_support::mosquitto_sub(broker.port, &format!("ctrmgr/{device}/status"), 1, 20);
    assert_eq!(status.trim(), "online");

    // mosquitto_pub without a Response Topic; mosquitto_sub reads the default reply topic.
    let (mut sub, lines) = spawn_mosquitto_sub(broker.port, &format!("ctrmgr/{device}/res"));
    let pub_status = Command::new("mosquitto_pub")
        .args([
            "-V",
            "5",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-q",
            "1",
        ])
        .args([
            "-t",
            &format!("ctrmgr/{device}/req"),
            "-m",
            r#"{"id":"cli-1","op":"info"}"#,
        ])
        .status()
        .expect("mosquitto_pub is installed");
    assert!(pub_status.success());
    let reply = loop {
        let line = lines
            .recv_timeout(REPLY_WAIT)
            .expect("mosquitto_sub prints the reply");
        if line.starts_with('{') {
            break line;
        }
    };
    let _ = sub.wait();
    let reply: Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["id"], "cli-1");
    assert_eq!(reply["result"]["device_id"], device.as_str());

    // mosquitto_pub with a Response Topic and Correlation Data.
    let replies = format!("ctrmgr/replies/{}", unique("cli"));
    client.subscribe(&replies);
    let pub_status = Command::new("mosquitto_pub")
        .args([
            "-V",
            "5",
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-q",
            "1",
        ])
        .args(["-D", "publish", "response-topic", &replies])
        .args(["-D", "publish", "correlation-data", "c-42"])
        .args([
            "-t",
            &format!("ctrmgr/{device}/req"),
            "-m",
            r#"{"id":"cli-2","op":"list"}"#,
        ])
        .status()
        .unwrap();
    assert!(pub_status.success());
    let reply = client
        .next_on(&replies, REPLY_WAIT, |_| true)
        .expect("reply on the Response Topic");
    assert_eq!(
        reply.properties.correlation_data.as_deref(),
        Some(&b"c-42"[..])
    );
    assert_eq!(reply.json()["id"], "cli-2");
    assert_eq!(reply.json()["ok"], true);
}

/// A Response Topic outside `ctrmgr/` (and `mqtt.allowed_response_prefixes`) is
/// refused: the request does not run and nothing is published there; the refusal goes to
/// the device's `res` topic with the Correlation Data.
#[test]
fn a_response_topic_outside_the_prefix_is_refused() {
    let (_broker, agent, client, device) = setup("");
    let name = unique("mqtt-elsewhere");
    let elsewhere = format!("elsewhere/{name}");
    let res = format!("ctrmgr/{device}/res");
    client.subscribe(&elsewhere);
    client.subscribe(&res);
    let create = json!({"id": format!("{name}-create"), "op": "create",
        "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "network": "none"}});
    let send = |topic: &str| {
        client.publish(
            &format!("ctrmgr/{device}/req"),
            create.to_string().as_bytes(),
            PublishProperties {
                response_topic: Some(topic.to_owned()),
                correlation_data: Some(b"c-out".to_vec().into()),
                ..PublishProperties::default()
            },
        )
    };
    send(&elsewhere);
    let refusal = client
        .next_on(&res, REPLY_WAIT, |m| {
            m.properties.correlation_data.as_deref() == Some(&b"c-out"[..])
        })
        .expect("the refusal on the device's res topic");
    assert_eq!(
        refusal.json()["error"]["code"],
        "forbidden",
        "{}",
        refusal.json()
    );
    assert!(
        refusal.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allowed_response_prefixes"),
        "{}",
        refusal.json()
    );
    // A request topic of a device is refused too, even under the prefix.
    send(&format!("ctrmgr/{device}/req"));
    let refusal = client
        .next_on(&res, REPLY_WAIT, |m| {
            m.properties.correlation_data.as_deref() == Some(&b"c-out"[..])
        })
        .expect("the second refusal");
    assert_eq!(refusal.json()["error"]["code"], "forbidden");
    assert!(
        client
            .next_on(&elsewhere, std::time::Duration::from_millis(300), |_| true)
            .is_none(),
        "a reply was published outside the prefix"
    );
    assert!(!docker_has(&name), "the refused request ran");
    drop(agent);

    let (_broker, _agent, client, device) = setup("allowed_response_prefixes = [\"elsewhere\"]\n");
    client.subscribe(&elsewhere);
    client.publish(
        &format!("ctrmgr/{device}/req"),
        br#"{"id":"allowed-1","op":"info"}"#,
        PublishProperties {
            response_topic: Some(elsewhere.clone()),
            ..PublishProperties::default()
        },
    );
    let reply = client
        .next_on(&elsewhere, REPLY_WAIT, |_| true)
        .expect("a reply under an allowed prefix");
    assert_eq!(reply.json()["ok"], true);
}

#[test]
fn duplicate_delivery_runs_once_and_replies_twice_the_same() {
    let (_broker, _agent, client, device) = setup("");
    let name = unique("mqtt-dup");
    let replies = format!("ctrmgr/replies/{name}");
    client.subscribe(&replies);
    let request = json!({"id": format!("{name}-create"), "op": "create",
        "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "network": "none"}});
    let properties = PublishProperties {
        response_topic: Some(replies.clone()),
        ..PublishProperties::default()
    };
    for _ in 0..2 {
        client.publish(
            &format!("ctrmgr/{device}/req"),
            request.to_string().as_bytes(),
            properties.clone(),
        );
    }
    let first = client
        .next_on(&replies, REPLY_WAIT, |_| true)
        .expect("first reply");
    let second = client
        .next_on(&replies, REPLY_WAIT, |_| true)
        .expect("second reply");
    assert_eq!(first.json()["ok"], true, "{}", first.json());
    assert_eq!(
        first.payload, second.payload,
        "both replies are the stored one"
    );
    assert_eq!(
        DOCKER_API.count_named(&name),
        1,
        "one container for one request id"
    );
    docker_rm(&name);
}

#[test]
fn malformed_and_oversized_payloads_get_error_replies() {
    let (_broker, mut agent, client, device) = setup("max_payload_bytes = 1024\n");
    let topic = format!("ctrmgr/{device}/req");
    let name = unique("mqtt-bad");
    let code_of = |payload: &[u8], content_type: Option<&str>| {
        let reply = client.request_to(&topic, payload, content_type);
        let json = reply.json();
        assert_eq!(json["ok"], false, "{json}");
        json
    };
    assert_eq!(
        code_of(b"{not json", None)["error"]["code"],
        "invalid_request"
    );
    assert_eq!(
        code_of(br#"{"id":"b2","op":"explode"}"#, None)["error"]["code"],
        "invalid_request"
    );
    let bad_name = json!({"id": "b3", "op": "create", "args": {"name": "--x", "image": IMAGE}});
    let reply = code_of(bad_name.to_string().as_bytes(), None);
    assert_eq!(reply["error"]["code"], "invalid_request");
    assert_eq!(reply["id"], "b3", "the id is echoed when it could be read");
    assert_eq!(
        code_of(b"{}", Some("text/plain"))["error"]["code"],
        "invalid_request"
    );
    // Not JSON, so sniffed as Protobuf: the reply comes in the request's format.
    let reply = client.request_to(&topic, b"\xff\xfe\x00garbage", None);
    let reply = ctrmgr::codec::protobuf::decode_reply(&reply.payload).expect("a Protobuf reply");
    assert_eq!(
        reply.error().map(|e| e.code),
        Some(ctrmgr::core::error::ErrorCode::InvalidRequest)
    );

    let big = json!({"id": "b6", "op": "create", "args": {"name": name, "image": IMAGE,
        "env": {"PAD": "x".repeat(2000)}}});
    let reply = code_of(big.to_string().as_bytes(), None);
    assert_eq!(reply["error"]["code"], "too_large");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("mqtt.max_payload_bytes"));

    assert!(!docker_has(&name), "nothing was executed");
    assert!(agent.is_running());
    let info = client.call(&device, &json!({"id": "b7", "op": "info"}));
    assert_eq!(info["ok"], true, "the agent still answers: {info}");
}

#[test]
fn container_events_are_published_as_json() {
    let (_broker, _agent, client, device) = setup("");
    let events = format!("ctrmgr/{device}/events");
    client.subscribe(&events);
    let name = unique("mqtt-ev");
    let created = client.call(
        &device,
        &json!({"id": format!("{name}-c"), "op": "create",
        "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "network": "none", "start": true}}),
    );
    assert_eq!(created["ok"], true, "{created}");
    let event = client
        .next_on(&events, REPLY_WAIT, |m| m.json()["name"] == name.as_str())
        .expect("an event for the new container");
    let event = event.json();
    assert_eq!(event["action"], "create");
    assert!(!event["state"].is_null(), "{event}");
    let removed = client.call(
        &device,
        &json!({"op": "remove", "args": {"name": name, "force": true}}),
    );
    assert_eq!(removed["ok"], true, "{removed}");
    let gone = client.next_on(&events, REPLY_WAIT, |m| {
        m.json()["name"] == name.as_str() && m.json()["action"] == "remove"
    });
    assert!(gone.is_some(), "a remove event");
}
