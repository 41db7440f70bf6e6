//! MQTT fleet behaviour against real Mosquitto brokers: group fan-out over several agent
//! processes, a broker killed and restarted in the middle of a stream of requests,
//! presence (retained `online`, `offline` after SIGKILL and after SIGTERM), and TLS with
//! client certificates (and a wrong CA that must not connect).

use ctrmgr_testkit::{common, mqtt_support};

use common::engine::DOCKER_API;
use common::{docker_rm, unique, Agent, IMAGE};
use mqtt_support::{agent_mqtt_config, Broker, TestCerts, TestClient, REPLY_WAIT};
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn device_of(agent: &Agent) -> String {
    format!("test-{}", agent.url.rsplit(':').next().unwrap())
}

#[test]
fn a_group_request_is_answered_by_every_member() {
    common::require_docker();
    let broker = Broker::start();
    let group = unique("grp");
    let agents: Vec<Agent> = (0..3)
        .map(|_| {
            Agent::start(&agent_mqtt_config(
                &broker,
                &format!("groups = [\"{group}\"]"),
            ))
        })
        .collect();
    let client = TestClient::connect(&broker);
    let devices: BTreeSet<String> = agents.iter().map(device_of).collect();
    for device in &devices {
        client.wait_status(device, "online");
    }
    let replies = format!("ctrmgr/replies/{group}");
    client.subscribe(&replies);
    client.publish(
        &format!("ctrmgr/group/{group}/req"),
        br#"{"id":"g-1","op":"info"}"#,
        PublishProperties {
            response_topic: Some(replies.clone()),
            correlation_data: Some(b"fan-out".to_vec().into()),
            ..PublishProperties::default()
        },
    );
    let mut answered = BTreeSet::new();
    while answered.len() < devices.len() {
        let reply = client
            .next_on(&replies, REPLY_WAIT, |_| true)
            .unwrap_or_else(|| panic!("only {answered:?} of {devices:?} answered"));
        let json = reply.json();
        assert_eq!(json["id"], "g-1");
        let device = json["result"]["device_id"].as_str().unwrap().to_owned();
        assert_eq!(reply.user_property("device"), Some(device.as_str()));
        assert_eq!(
            reply.properties.correlation_data.as_deref(),
            Some(&b"fan-out"[..])
        );
        answered.insert(device);
    }
    assert_eq!(answered, devices);
}

/// Sends a create with `id` until a reply with that id arrives (the test client also
/// loses its connection while the broker is down).
fn create_until_answered(client: &TestClient, device: &str, id: &str, name: &str) -> Value {
    let replies = format!("ctrmgr/replies/{id}");
    client.subscribe(&replies);
    let request = json!({"id": id, "op": "create",
        "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "network": "none"}});
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        client.publish(
            &format!("ctrmgr/{device}/req"),
            request.to_string().as_bytes(),
            PublishProperties {
                response_topic: Some(replies.clone()),
                ..PublishProperties::default()
            },
        );
        if let Some(reply) = client.next_on(&replies, Duration::from_secs(5), |_| true) {
            return reply.json();
        }
        assert!(Instant::now() < deadline, "no reply to {id} within 120 s");
    }
}

#[test]
fn broker_restart_mid_stream_reconnects_and_runs_nothing_twice() {
    common::require_docker();
    let mut broker = Broker::start();
    let agent = Agent::start(&agent_mqtt_config(&broker, ""));
    let device = device_of(&agent);
    let client = TestClient::connect(&broker);
    client.wait_status(&device, "online");
    let names: Vec<String> = (0..6).map(|_| unique("mqtt-restart")).collect();
    for (i, name) in names.iter().enumerate() {
        let id = format!("{name}-create");
        if i == 3 {
            // Mid-stream: the request goes out and the broker dies right after.
            client.publish(
                &format!("ctrmgr/{device}/req"),
                json!({"id": id, "op": "create",
                    "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "network": "none"}})
                .to_string()
                .as_bytes(),
                PublishProperties::default(),
            );
            broker.kill();
            std::thread::sleep(Duration::from_millis(500));
            broker.restart();
        }
        let reply = create_until_answered(&client, &device, &id, name);
        assert_eq!(
            reply["ok"], true,
            "{id} ran more than once or failed: {reply}"
        );
    }
    client.wait_status(&device, "online");
    for name in &names {
        assert_eq!(
            DOCKER_API.count_named(name),
            1,
            "{name}: one container per create id"
        );
        docker_rm(name);
    }
    assert!(
        agent.log().contains("reconnecting") || agent.log().contains("next attempt"),
        "the agent logged the lost connection:\n{}",
        agent.log()
    );
}

#[test]
fn presence_is_online_then_offline_after_kill_and_after_sigterm() {
    common::require_docker();
    let broker = Broker::start();
    let client = TestClient::connect(&broker);

    let mut killed = Agent::start(&agent_mqtt_config(&broker, "keep_alive_s = 5"));
    let device = device_of(&killed);
    client.wait_status(&device, "online");
    killed.kill9();
    client.wait_status(&device, "offline");
    let status =
        mqtt_support::mosquitto_sub(broker.port, &format!("ctrmgr/{device}/status"), 1, 10);
    assert_eq!(status.trim(), "offline", "the last will is retained");

    let mut stopped = Agent::start(&agent_mqtt_config(&broker, ""));
    let device = device_of(&stopped);
    client.wait_status(&device, "online");
    let retained = TestClient::connect(&broker);
    retained.wait_status(&device, "online");
    assert!(stopped.stop().success());
    client.wait_status(&device, "offline");
    let status =
        mqtt_support::mosquitto_sub(broker.port, &format!("ctrmgr/{device}/status"), 1, 10);
    assert_eq!(
        status.trim(),
        "offline",
        "the clean shutdown status is retained"
    );
    assert!(stopped.log().contains("MQTT stopped"), "{}", stopped.log());
}

#[test]
fn tls_with_client_certificates_and_a_wrong_ca() {
    common::require_docker();
    let certs = TestCerts::generate();
    let broker = Broker::start_with(&certs.listener_options());
    let tls = |ca: &str| {
        format!(
            "[mqtt.tls]\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            certs.path(ca),
            certs.path("client.pem"),
            certs.path("client.key")
        )
    };
    let agent = Agent::start(&agent_mqtt_config(&broker, &tls("ca.pem")));
    let device = device_of(&agent);
    let client = TestClient::connect_with(&broker, Some(certs.client_config("ca.pem")));
    client.wait_status(&device, "online");
    let info = client.call(&device, &json!({"id": "tls-1", "op": "info"}));
    assert_eq!(info["ok"], true, "{info}");

    // Verified under a configured server name too.
    let named = Agent::start(&agent_mqtt_config(
        &broker,
        &format!("{}server_name = \"localhost\"\n", tls("ca.pem")),
    ));
    client.wait_status(&device_of(&named), "online");

    let mut wrong = Agent::start(&agent_mqtt_config(&broker, &tls("other-ca.pem")));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !wrong.log().contains("MQTT cannot connect") {
        assert!(
            Instant::now() < deadline,
            "no connect failure logged:\n{}",
            wrong.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = wrong.log();
    assert!(
        log.to_lowercase().contains("certificate"),
        "the log says why:\n{log}"
    );
    assert!(wrong.is_running(), "the agent stays up");
    assert_eq!(
        wrong.get("/healthz").0,
        200,
        "and serves its other transports"
    );
}
