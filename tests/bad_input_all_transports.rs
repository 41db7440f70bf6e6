//! One agent with all five transports (REST, MQTT on a private Mosquitto, D-Bus on a
//! private dbus-daemon, POSIX MQ on its own request queue, gRPC on its unix socket) gets
//! the same hostile set in JSON and in Protobuf (gRPC's Execute: Protobuf only): malformed, truncated, oversized, wrong types, unknown fields,
//! option-injection and shell names, path traversal in mounts and every policy refusal.
//! Each answers its error code on every transport, the agent keeps serving, and no
//! record changes.

use ctrmgr_testkit::grpc_support::GrpcClient;
use ctrmgr_testkit::{common, dbus_support, mqtt_support, mqueue_support};

use common::contract::{reply_json, ContractClient, RestClient};
use common::protobuf_envelope::request as protobuf_request;
use common::{docker_has, hostile, require_docker, unique, Agent, IMAGE};
use ctrmgr::codec::protobuf::wire::Message as _;
use ctrmgr::codec::Format;
use dbus_support::{wait_for_agent, DbusClient, PrivateBus, RemovedAtEnd};
use mqtt_support::{agent_mqtt_config, Broker, MqttClient, MqttRoute, TestClient};
use mqueue_support::{MqueueClient, ReplyQueue};
use nix::errno::Errno;
use nix::mqueue::{mq_close, mq_open, mq_send, MQ_OFlag};
use nix::sys::stat::Mode;
use serde_json::{json, Value};
use std::time::Duration;

/// Every transport's request size limit in this test.
const LIMIT: usize = 64 * 1024;
/// Read-only mount root of the test's policy.
const RO_ROOT: &str = "/tmp/ctrmgr-hostile-ro-root";

/// Builds a request's bytes, given the reply queue to name (POSIX MQ) or `None`.
type RequestBytes = Box<dyn Fn(Option<&str>) -> Vec<u8>>;

/// One hostile request in one encoding.
struct Case {
    label: String,
    format: Format,
    bytes: RequestBytes,
    /// Whether the bytes can name a reply queue (else the MQ agent can answer nobody).
    names_reply_queue: bool,
    /// Expected error code, as on the wire.
    want: &'static str,
}

/// The agent and what its transports need on the test's side.
struct Transports {
    agent: Agent,
    broker: Broker,
    mqtt: TestClient,
    device: String,
    bus: PrivateBus,
    dbus: zbus::blocking::Connection,
    queue: String,
}

impl Transports {
    fn start() -> Transports {
        let broker = Broker::start();
        let bus = PrivateBus::start();
        std::fs::create_dir_all(RO_ROOT).unwrap();
        let extra = format!(
            "[dbus]\nbus = \"{bus}\"\nmax_message_bytes = {LIMIT}\n\
             [rest]\nmax_body_bytes = {LIMIT}\n[grpc]\nmax_message_bytes = {LIMIT}\n{mqtt}\
             [policy]\nallowed_images = [\"docker.io/ctrmgr-test/\", \"127.0.0.1:5000/\"]\n\
             [[policy.mount_roots]]\npath = \"{RO_ROOT}\"\nread_write = false\n",
            bus = bus.address,
            mqtt = agent_mqtt_config(&broker, &format!("max_payload_bytes = {LIMIT}")),
        );
        let (agent, queue) = mqueue_support::start_agent(&extra);
        let device = format!("test-{}", agent.url.rsplit(':').next().unwrap());
        let mqtt = TestClient::connect(&broker);
        mqtt.wait_status(&device, "online");
        let dbus = dbus_support::client(&bus);
        wait_for_agent(&dbus, Duration::from_secs(30));
        Transports {
            agent,
            broker,
            mqtt,
            device,
            bus,
            dbus,
            queue,
        }
    }

    /// A contract client on each transport.
    fn clients(&self) -> Vec<Box<dyn ContractClient + '_>> {
        vec![
            Box::new(RestClient(&self.agent)),
            Box::new(MqttClient {
                client: &self.mqtt,
                device: self.device.clone(),
                route: MqttRoute::Declared,
            }),
            Box::new(DbusClient(&self.dbus)),
            Box::new(MqueueClient {
                agent: &self.agent,
                queue: self.queue.clone(),
                replies: ReplyQueue::standard(),
            }),
            Box::new(GrpcClient::connect(&self.agent)),
        ]
    }
}

/// Sends `case` through `client`; the reply as JSON, or `None` when the transport has
/// nobody to answer (POSIX MQ bytes naming no reply queue).
fn send(client: &dyn ContractClient, case: &Case) -> Option<Value> {
    let bytes = (case.bytes)(client.reply_to());
    let reply = client.exchange(case.format, &bytes, case.names_reply_queue)?;
    Some(reply_json(&reply, &case.label))
}

/// `info` succeeds through `client` in `format`.
fn assert_serving(client: &dyn ContractClient, format: Format) {
    let reply = client.call(format, &json!({"id": "still-there", "op": "info"}));
    assert_eq!(
        (&reply["id"], &reply["ok"]),
        (&json!("still-there"), &json!(true)),
        "{} {format:?} stopped serving: {reply}",
        client.transport()
    );
}

/// `envelope` in `format`, or `None` when it has no Protobuf form.
fn envelope_case(label: &str, envelope: Value, format: Format, want: &'static str) -> Option<Case> {
    let bytes: RequestBytes = match format {
        Format::Json => Box::new(move |reply_to| {
            let mut e = envelope.clone();
            if let Some(q) = reply_to {
                e["reply_to"] = json!(q);
            }
            e.to_string().into_bytes()
        }),
        Format::Protobuf => {
            let request = protobuf_request(&envelope)?;
            Box::new(move |reply_to| {
                let mut r = request.clone();
                r.reply_to = reply_to.map(str::to_owned).or(r.reply_to);
                r.encode_to_vec()
            })
        }
    };
    Some(Case {
        label: format!("{label} ({format:?})"),
        format,
        bytes,
        names_reply_queue: true,
        want,
    })
}

/// Bytes that are no request, sent as they are.
fn raw_case(label: &str, bytes: Vec<u8>, format: Format, names_reply_queue: bool) -> Case {
    Case {
        label: format!("{label} ({format:?})"),
        format,
        bytes: Box::new(move |_| bytes.clone()),
        names_reply_queue,
        want: "invalid_request",
    }
}

/// Create, pull and apply requests that pass the codec but break one rule of the test's
/// policy.
fn forbidden(name: &str) -> Vec<(String, Value, &'static str)> {
    let create = |extra: Value| {
        let mut args = json!({"name": name, "image": IMAGE, "cmd": ["sleep", "30"]});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        json!({"op": "create", "args": args})
    };
    [
        ("privileged", create(json!({"privileged": true}))),
        ("host network", create(json!({"network": "host"}))),
        ("device", create(json!({"devices": ["/dev/mem"]}))),
        (
            "mount outside the roots",
            create(json!({"mounts": [{"source": "/etc", "target": "/x", "read_only": true}]})),
        ),
        (
            "read-write mount of a read-only root",
            create(json!({"mounts": [{"source": format!("{RO_ROOT}/a"), "target": "/x"}]})),
        ),
        (
            "image from elsewhere",
            create(json!({"image": "docker.io/library/alpine:3"})),
        ),
        (
            "pull from elsewhere",
            json!({"op": "pull", "args": {"image": "docker.io/library/alpine:3"}}),
        ),
        (
            "privileged container in a deployment",
            json!({"op": "apply", "args": {"deployment": {"generation": 1, "containers": [
                {"name": name, "image": IMAGE, "privileged": true}]}}}),
        ),
    ]
    .into_iter()
    .map(|(label, envelope)| (format!("forbidden: {label}"), envelope, "forbidden"))
    .collect()
}

/// Every case in both encodings (those with a Protobuf form), plus Protobuf-only bytes.
fn all_cases(existing: &str, refused_name: &str) -> Vec<Case> {
    let mut envelopes = hostile::envelopes(existing);
    envelopes.extend(forbidden(refused_name));
    envelopes.push((
        "traversal mount target".into(),
        json!({"op": "create", "args": {"name": "x", "image": IMAGE, "mounts": [{"source": RO_ROOT, "target": "/a/../../etc", "read_only": true}]}}),
        "invalid_request",
    ));
    // Health checks the core refuses (an unknown field has no Protobuf form: JSON only).
    for (label, health, network) in [
        (
            "zero interval",
            json!({"cmd": ["true"], "interval_s": 0}),
            "bridge",
        ),
        (
            "two probe kinds",
            json!({"cmd": ["true"], "tcp": {"port": 80}}),
            "bridge",
        ),
        ("no probe kind", json!({"retries": 2}), "bridge"),
        (
            "tcp without a network",
            json!({"tcp": {"port": 80}}),
            "none",
        ),
        (
            "unknown health field",
            json!({"cmd": ["true"], "every_s": 1}),
            "bridge",
        ),
    ] {
        envelopes.push((
            format!("health: {label}"),
            json!({"op": "create", "args": {"name": refused_name, "image": IMAGE,
                   "network": network, "health": health}}),
            "invalid_request",
        ));
    }
    envelopes.push((
        "oversized".into(),
        json!({"id": "big", "op": "info", "runtime": "x".repeat(LIMIT)}),
        "too_large",
    ));
    let mut cases = Vec::new();
    for (label, envelope, want) in envelopes {
        for format in [Format::Json, Format::Protobuf] {
            cases.extend(envelope_case(&label, envelope.clone(), format, want));
        }
    }
    for (label, bytes, _) in hostile::malformed_json() {
        cases.push(raw_case(label, bytes, Format::Json, false));
    }
    let info = protobuf_request(&json!({"id": "p1", "op": "info"})).unwrap();
    let with_queue = move |reply_to: Option<&str>| {
        let mut r = info.clone();
        r.reply_to = reply_to.map(str::to_owned);
        r.encode_to_vec()
    };
    let create =
        protobuf_request(&json!({"op": "create", "args": {"name": "x", "image": IMAGE}})).unwrap();
    let bytes_cases: [(&str, RequestBytes); 3] = [
        (
            "unknown field number 99",
            Box::new(move |q| [with_queue(q), vec![0x98, 0x06, 0x01]].concat()),
        ),
        (
            "id as a varint",
            Box::new(|q| {
                let mut r = protobuf_request(&json!({"op": "info"})).unwrap();
                r.reply_to = q.map(str::to_owned);
                [r.encode_to_vec(), vec![0x10, 0x01]].concat()
            }),
        ),
        (
            "truncated create",
            Box::new(move |q| {
                let mut r = create.clone();
                r.reply_to = q.map(str::to_owned);
                let bytes = r.encode_to_vec();
                bytes[..bytes.len() - 3].to_vec()
            }),
        ),
    ];
    for (label, bytes) in bytes_cases {
        cases.push(Case {
            label: format!("{label} (Protobuf)"),
            format: Format::Protobuf,
            bytes,
            names_reply_queue: true,
            want: "invalid_request",
        });
    }
    cases.push(raw_case(
        "garbage",
        vec![0xff, 0xfe, 0x00, 0x7b],
        Format::Protobuf,
        false,
    ));
    cases
}

/// The `existing` container's record and every record among `never`, over REST.
fn records(agent: &Agent, existing: &str, never: &[&str]) -> (Value, Vec<String>) {
    let (_, list) = agent.get("/v1/containers?all=true");
    let containers = list["result"]["containers"].as_array().unwrap().clone();
    let record = containers
        .iter()
        .find(|c| c["name"] == existing)
        .cloned()
        .unwrap_or(Value::Null);
    let found = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .filter(|n| never.contains(n))
        .map(str::to_owned)
        .collect();
    (record, found)
}

#[test]
fn every_hostile_input_on_every_transport_in_both_encodings() {
    require_docker();
    let t = Transports::start();
    let existing = unique("hostile");
    let refused_name = unique("hostile-refused");
    let _cleanup = (
        RemovedAtEnd(existing.clone()),
        RemovedAtEnd(refused_name.clone()),
    );
    let (status, r) = t
        .agent
        .execute(&json!({"op": "create", "args": {"name": existing,
        "image": IMAGE, "cmd": ["sleep", "600"], "network": "none"}}));
    assert_eq!(status, 200, "{r}");
    let never = ["ok-name", "x", refused_name.as_str()];
    let before = records(&t.agent, &existing, &never);
    assert!(before.0.is_object() && before.1.is_empty(), "{before:?}");

    let cases = all_cases(&existing, &refused_name);
    let in_protobuf = cases
        .iter()
        .filter(|c| c.format == Format::Protobuf)
        .count();
    assert!(
        in_protobuf * 10 >= cases.len() * 4,
        "most cases have a Protobuf form: {in_protobuf} of {}",
        cases.len()
    );
    let mut sent = 0;
    let mut mq_pending = None;
    for client in t.clients() {
        let transport = client.transport();
        for case in cases
            .iter()
            .filter(|c| client.formats().contains(&c.format))
        {
            if client.reply_to().is_some() && case.want == "too_large" {
                continue; // the kernel refuses it at the sender: checked below
            }
            let label = format!("{transport}: {}", case.label);
            if let Some(reply) = send(client.as_ref(), case) {
                assert_eq!(reply["error"]["code"], case.want, "{label}: {reply}");
                assert!(
                    reply["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty()),
                    "{label}: an error says why"
                );
            }
            sent += 1;
        }
        for &format in client.formats() {
            assert_serving(client.as_ref(), format);
        }
        if let Some(queue) = client.reply_to() {
            mq_pending = Some(pending(queue));
        }
    }
    assert!(sent > 5 * 80, "{sent} requests sent");

    // POSIX MQ: a message over the request queue's message size never reaches the agent.
    let mqd = mq_open(t.queue.as_str(), MQ_OFlag::O_WRONLY, Mode::empty(), None).unwrap();
    let oversized = mq_send(&mqd, &vec![b'{'; 8193], 0);
    mq_close(mqd).unwrap();
    assert_eq!(oversized, Err(Errno::EMSGSIZE));

    assert_eq!(
        records(&t.agent, &existing, &never),
        before,
        "no record changed"
    );
    for name in never {
        assert!(!docker_has(name), "{name} reached the engine");
    }
    assert_eq!(mq_pending, Some(0), "exactly one reply per MQ request");
    drop((t.broker, t.bus));
}

/// Messages waiting in the reply queue `name`.
fn pending(name: &str) -> i64 {
    let mqd = mq_open(
        name,
        MQ_OFlag::O_RDONLY | MQ_OFlag::O_NONBLOCK,
        Mode::empty(),
        None,
    )
    .unwrap();
    let waiting = nix::mqueue::mq_getattr(&mqd).unwrap().curmsgs();
    mq_close(mqd).unwrap();
    waiting as i64
}
