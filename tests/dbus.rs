//! The D-Bus transport against a private system-like dbus-daemon that loads the real
//! policy file: every method from a zbus client, `dbus-send` and `busctl`, the
//! `ContainerEvent` signal, the `Version` property, the policy refusing outsiders and
//! admitting group `ctrmgr` (the agent's own caller check on top of it is in
//! `dbus_caller_check.rs`), every bad input, every op against dockerd, and a bus that
//! comes up after the agent or restarts under it.

use ctrmgr_testkit::{common, dbus_support};

use common::*;
use dbus_support::*;
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn every_op_over_execute_and_the_typed_methods() {
    require_docker();
    let bus = PrivateBus::start();
    let _agent = agent_on(&bus, "");
    let conn = client(&bus);
    wait_for_agent(&conn, Duration::from_secs(30));
    let name = unique("dbus-ops");
    let _cleanup = RemovedAtEnd(name.clone());

    let r = execute(
        &conn,
        &json!({"id": "c1", "op": "create", "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "300"]}}),
    );
    assert_eq!(
        (&r["id"], &r["ok"], &r["result"]["state"]),
        (&json!("c1"), &json!(true), &json!("created")),
        "{r}"
    );
    let started = typed(&conn, "Start", &(name.as_str(),)).unwrap();
    assert_eq!(started["state"], "running", "{started}");
    assert!(docker_inspect(&name)["State"]["Running"].as_bool().unwrap());
    let inspected = typed(&conn, "Inspect", &(name.as_str(),)).unwrap();
    assert_eq!(
        (&inspected["name"], &inspected["state"]),
        (&json!(name), &json!("running"))
    );
    assert!(names(&typed(&conn, "List", &()).unwrap()).contains(&name));
    let r = execute(&conn, &json!({"op": "stats", "args": {"name": name}}));
    assert!(r["result"]["memory_bytes"].is_u64(), "{r}");
    let r = execute(
        &conn,
        &json!({"op": "logs", "args": {"name": name, "tail": 5}}),
    );
    assert!(r["result"]["lines"].is_array(), "{r}");
    let stopped = typed(&conn, "Stop", &(name.as_str(), 1u32)).unwrap();
    assert_eq!(stopped["state"], "exited", "{stopped}");
    let restarted = typed(&conn, "Restart", &(name.as_str(),)).unwrap();
    assert_eq!(restarted["state"], "running", "{restarted}");
    let r = execute(
        &conn,
        &json!({"op": "kill", "args": {"name": name, "signal": "SIGKILL"}}),
    );
    assert_eq!(r["result"]["state"], "exited", "{r}");
    for (op, args) in [
        ("start", json!({"name": name})),
        ("restart", json!({"name": name, "timeout_s": 1})),
        ("stop", json!({"name": name, "timeout_s": 1})),
        ("inspect", json!({"name": name})),
        ("list", json!({"all": true})),
    ] {
        let r = execute(&conn, &json!({"op": op, "args": args}));
        assert_eq!(r["ok"], true, "{op}: {r}");
    }
    let r = execute(
        &conn,
        &json!({"op": "pull", "args": {"image": REGISTRY_IMAGE}}),
    );
    assert_eq!(r["result"]["image"], REGISTRY_IMAGE, "{r}");
    let r = execute(&conn, &json!({"op": "images"}));
    let tags = r["result"]["images"].to_string();
    assert!(tags.contains(REGISTRY_IMAGE) && tags.contains(IMAGE), "{r}");
    let r = execute(
        &conn,
        &json!({"op": "remove_image", "args": {"image": REGISTRY_IMAGE}}),
    );
    assert_eq!(r["result"]["image"], REGISTRY_IMAGE, "{r}");
    let r = execute(&conn, &json!({"op": "info"}));
    assert_eq!(r["result"]["version"], env!("CARGO_PKG_VERSION"), "{r}");
    let removed = typed(&conn, "Remove", &(name.as_str(), true)).unwrap();
    assert_eq!(removed, json!({"name": name}));
    assert!(!docker_has(&name), "removed from the engine");
    let gone = typed(&conn, "Inspect", &(name.as_str(),)).unwrap_err();
    assert_eq!(gone.0, "io.ctrmgr.Agent1.Error.NotFound", "{gone:?}");
    assert!(
        gone.1.contains(&name),
        "the message names the container: {gone:?}"
    );
}

#[test]
fn every_op_over_execute_proto() {
    require_docker();
    let bus = PrivateBus::start();
    let agent = agent_on(&bus, "");
    let conn = client(&bus);
    wait_for_agent(&conn, Duration::from_secs(30));
    let device = format!("test-{}", agent.url.rsplit(':').next().unwrap());
    let format = ctrmgr::codec::Format::Protobuf;
    contract::every_op(&DbusClient(&conn), format, &device);
}

#[test]
fn container_event_signal_and_version_property() {
    require_docker();
    let bus = PrivateBus::start();
    let _agent = agent_on(&bus, "");
    let conn = client(&bus);
    wait_for_agent(&conn, Duration::from_secs(30));

    let version = conn
        .call_method(
            Some(NAME),
            PATH,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(IFACE, "Version"),
        )
        .unwrap();
    let value: zbus::zvariant::OwnedValue = version.body().deserialize().unwrap();
    assert_eq!(String::try_from(value).unwrap(), env!("CARGO_PKG_VERSION"));

    let listener = client(&bus);
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(IFACE)
        .unwrap()
        .member("ContainerEvent")
        .unwrap()
        .path(PATH)
        .unwrap()
        .build();
    let signals = zbus::blocking::MessageIterator::for_match_rule(rule, &listener, None).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for msg in signals {
            let Ok(msg) = msg else { return };
            let json: String = msg.body().deserialize().unwrap();
            if tx.send(json).is_err() {
                return;
            }
        }
    });
    let name = unique("dbus-event");
    let _cleanup = RemovedAtEnd(name.clone());
    let r = execute(
        &conn,
        &json!({"op": "create", "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "300"]}}),
    );
    assert_eq!(r["ok"], true, "{r}");
    let event: Value = loop {
        let json = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("no ContainerEvent signal after a create");
        let event: Value = serde_json::from_str(&json).unwrap();
        if event["name"] == json!(name) {
            break event;
        }
    };
    assert_eq!(
        (&event["action"], &event["state"]),
        (&json!("create"), &json!("created")),
        "{event}"
    );
    typed(&conn, "Remove", &(name.as_str(), true)).unwrap();
    let event: Value = loop {
        let json = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("no signal after remove");
        let event: Value = serde_json::from_str(&json).unwrap();
        if event["name"] == json!(name) {
            break event;
        }
    };
    assert_eq!(event["action"], "remove", "{event}");
}

#[test]
fn dbus_send_and_busctl_drive_the_agent() {
    let bus = PrivateBus::start();
    let _agent = agent_on(&bus, "");
    wait_for_agent(&client(&bus), Duration::from_secs(30));
    let bus_arg = format!("--bus={}", bus.address);
    let dest = format!("--dest={NAME}");

    let (ok, out, err) = run_as(
        None,
        "dbus-send",
        &[
            &bus_arg,
            "--print-reply",
            &dest,
            PATH,
            "io.ctrmgr.Agent1.Execute",
            r#"string:{"id":"ds1","op":"info"}"#,
        ],
    );
    assert!(ok, "dbus-send Execute: {err}");
    assert!(
        out.contains(r#"\"id\":\"ds1\""#) || out.contains(r#""id":"ds1""#),
        "{out}"
    );
    assert!(out.contains(r#""ok":true"#), "{out}");
    let (ok, _, err) = run_as(
        None,
        "dbus-send",
        &[
            &bus_arg,
            "--print-reply",
            &dest,
            PATH,
            "io.ctrmgr.Agent1.Inspect",
            "string:no-such-container-here",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("io.ctrmgr.Agent1.Error.NotFound") && err.contains("no-such-container-here"),
        "{err}"
    );
    let (ok, _, err) = run_as(
        None,
        "dbus-send",
        &[
            &bus_arg,
            "--print-reply",
            &dest,
            PATH,
            "io.ctrmgr.Agent1.Stop",
            "string:--privileged",
            "uint32:1",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("io.ctrmgr.Agent1.Error.InvalidRequest"),
        "{err}"
    );

    let addr = format!("--address={}", bus.address);
    let (ok, out, err) = run_as(
        None,
        "busctl",
        &[
            &addr,
            "--json=short",
            "call",
            NAME,
            PATH,
            IFACE,
            "Execute",
            "s",
            r#"{"op":"info"}"#,
        ],
    );
    assert!(ok, "busctl Execute: {err}");
    let reply: Value = serde_json::from_str(&out).unwrap();
    let envelope: Value = serde_json::from_str(reply["data"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        envelope["result"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{out}"
    );
    let (ok, out, err) = run_as(
        None,
        "busctl",
        &[&addr, "--json=short", "call", NAME, PATH, IFACE, "List"],
    );
    assert!(ok, "busctl List: {err}");
    let reply: Value = serde_json::from_str(&out).unwrap();
    let list: Value = serde_json::from_str(reply["data"][0].as_str().unwrap()).unwrap();
    assert!(list["containers"].is_array(), "{out}");
    let (ok, out, err) = run_as(
        None,
        "busctl",
        &[&addr, "get-property", NAME, PATH, IFACE, "Version"],
    );
    assert!(ok, "busctl get-property: {err}");
    assert_eq!(out.trim(), format!("s \"{}\"", env!("CARGO_PKG_VERSION")));
    let (ok, out, err) = run_as(None, "busctl", &[&addr, "introspect", NAME, PATH, IFACE]);
    assert!(ok, "busctl introspect: {err}");
    for member in [
        "Execute",
        "ExecuteProto",
        "List",
        "Inspect",
        "Start",
        "Stop",
        "Restart",
        "Remove",
        "ContainerEvent",
        "Version",
    ] {
        assert!(
            out.contains(&format!(".{member} ")),
            "{member} missing:\n{out}"
        );
    }
}

#[test]
fn policy_refuses_outsiders_and_admits_group_ctrmgr() {
    let gid = ctrmgr_gid();
    let bus = PrivateBus::start();
    let _agent = agent_on(&bus, "");
    wait_for_agent(&client(&bus), Duration::from_secs(30));
    let bus_arg = format!("--bus={}", bus.address);
    let dest = format!("--dest={NAME}");
    let info = [
        "--print-reply",
        &dest,
        PATH,
        "io.ctrmgr.Agent1.Execute",
        r#"string:{"op":"info"}"#,
    ];
    let args: Vec<&str> = std::iter::once(bus_arg.as_str()).chain(info).collect();

    let (ok, out, err) = run_as(Some((65534, 65534)), "dbus-send", &args);
    assert!(!ok, "nobody must be refused: {out}");
    assert!(
        err.contains("org.freedesktop.DBus.Error.AccessDenied"),
        "{err}"
    );
    let (ok, out, err) = run_as(Some((65534, gid)), "dbus-send", &args);
    assert!(ok, "a member of group ctrmgr is admitted: {err}");
    assert!(out.contains(r#""ok":true"#), "{out}");
    // Nobody but root may own the name.
    let own = [
        "--print-reply",
        "--dest=org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.RequestName",
        "string:io.ctrmgr.Agent1",
        "uint32:4",
    ];
    let args: Vec<&str> = std::iter::once(bus_arg.as_str()).chain(own).collect();
    let (ok, _, err) = run_as(Some((65534, gid)), "dbus-send", &args);
    assert!(!ok && err.contains("AccessDenied"), "{err}");
}

#[test]
fn bad_input_over_execute_typed_methods_and_execute_proto() {
    require_docker();
    let bus = PrivateBus::start();
    let agent = agent_on(&bus, "max_message_bytes = 4096\n");
    let conn = client(&bus);
    wait_for_agent(&conn, Duration::from_secs(30));
    let existing = unique("dbus-bad");
    let _cleanup = RemovedAtEnd(existing.clone());
    let r = execute(
        &conn,
        &json!({"op": "create", "args": {"name": existing, "image": IMAGE, "cmd": ["sleep", "30"]}}),
    );
    assert_eq!(r["ok"], true, "{r}");
    let before = typed(&conn, "List", &()).unwrap();

    for (label, bytes, want) in hostile::malformed_json() {
        // D-Bus strings are UTF-8 without NUL (the bus drops a client that sends
        // otherwise): send what a client could.
        let text = String::from_utf8_lossy(&bytes).replace('\0', "");
        let r = execute_raw(&conn, &text);
        assert_eq!((code(&r), &r["ok"]), (want, &json!(false)), "{label}: {r}");
        assert_serving(&conn);
    }
    let oversized = format!(r#"{{"op":"info","pad":"{}"}}"#, "a".repeat(8192));
    assert_eq!(code(&execute_raw(&conn, &oversized)), "too_large");
    for (label, envelope, want) in hostile::envelopes(&existing) {
        let r = execute(&conn, &envelope);
        assert_eq!(code(&r), want, "{label}: {r}");
        assert!(
            !r["error"]["message"].as_str().unwrap().is_empty(),
            "{label}"
        );
        assert_serving(&conn);
    }
    let r = execute(
        &conn,
        &json!({"id": "keep-me", "op": "start", "args": {"name": "-x"}}),
    );
    assert_eq!(r["id"], "keep-me", "the id is echoed on errors");

    let invalid = "io.ctrmgr.Agent1.Error.InvalidRequest";
    for n in hostile::HOSTILE_NAMES {
        for (method, result) in [
            ("Inspect", typed(&conn, "Inspect", &(n,))),
            ("Start", typed(&conn, "Start", &(n,))),
            ("Stop", typed(&conn, "Stop", &(n, 1u32))),
            ("Restart", typed(&conn, "Restart", &(n,))),
            ("Remove", typed(&conn, "Remove", &(n, true))),
        ] {
            let (name, message) = result.unwrap_err();
            assert_eq!(name, invalid, "{method}({n:?}): {message}");
        }
    }
    let missing = "no-such-container-here";
    for result in [
        typed(&conn, "Start", &(missing,)),
        typed(&conn, "Remove", &(missing, false)),
    ] {
        assert_eq!(result.unwrap_err().0, "io.ctrmgr.Agent1.Error.NotFound");
    }
    let (name, message) = typed(&conn, "Stop", &(existing.as_str(), 4000u32)).unwrap_err();
    assert_eq!(name, invalid, "{message}");
    // A call with the wrong signature is refused by zbus itself, before the agent.
    let wrong = call(&conn, "Stop", &(existing.as_str(),)).unwrap_err();
    assert_eq!(wrong.0, "org.freedesktop.zbus.Error", "{wrong:?}");
    assert!(wrong.1.contains("Signature mismatch"), "{wrong:?}");
    assert_serving(&conn);

    for (label, bytes) in [
        ("garbage", vec![0xff, 0xfe, 0x00, 0x7b]),
        ("truncated", vec![0x12, 0x40, b'a']),
        ("empty", Vec::new()),
        ("json in proto", br#"{"op":"info"}"#.to_vec()),
    ] {
        let reply = execute_proto(&conn, &bytes);
        assert_eq!(
            proto::error_code(&reply).as_deref(),
            Some("invalid_request"),
            "{label}"
        );
        assert_serving(&conn);
    }
    let reply = execute_proto(&conn, &proto::start_request("--privileged"));
    assert_eq!(
        proto::error_code(&reply).as_deref(),
        Some("invalid_request")
    );
    let reply = execute_proto(&conn, &proto::start_request(missing));
    assert_eq!(proto::error_code(&reply).as_deref(), Some("not_found"));
    let reply = execute_proto(&conn, &vec![0x0a; 8192]);
    assert_eq!(proto::error_code(&reply).as_deref(), Some("too_large"));
    let reply = execute_proto(&conn, &proto::info_request("p1"));
    assert_eq!(proto::error_code(&reply), None, "info in Protobuf succeeds");
    let reply = proto::reply(&reply);
    assert_eq!(reply.id.as_deref(), Some("p1"), "id echoed: {reply:?}");
    assert!(
        matches!(
            reply.result,
            Some(ctrmgr::codec::protobuf::wire::ctrmgr_v1::reply::Result::Info(_))
        ),
        "an info result: {reply:?}"
    );

    // Other tests' containers may be adopted meanwhile (the agent follows the engine's
    // events), so check the records these requests could have touched.
    let after = typed(&conn, "List", &()).unwrap();
    let records = |list: &Value| -> Vec<(String, Value)> {
        list["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_owned(), c["spec"].clone()))
            .collect()
    };
    let (before, after) = (records(&before), records(&after));
    for record in &before {
        assert!(after.contains(record), "record changed or lost: {record:?}");
    }
    let noimg = format!("t-noimg-{}-", std::process::id());
    for (name, _) in after.iter().filter(|r| !before.contains(r)) {
        let named_by_a_case = ["ok-name", "x", missing].contains(&name.as_str())
            || hostile::HOSTILE_NAMES.contains(&name.as_str())
            || name.starts_with(&noimg);
        assert!(!named_by_a_case, "a refused request made a record: {name}");
    }
    assert!(!docker_has("ok-name"), "nothing reached the engine");
    assert!(agent.log().contains("D-Bus: serving io.ctrmgr.Agent1"));
    typed(&conn, "Remove", &(existing.as_str(), true)).unwrap();
}

#[test]
fn agent_serves_without_the_bus_and_joins_when_it_comes_up_or_restarts() {
    let mut bus = PrivateBus::new();
    // The bus is not there yet: the agent starts (REST answers) and warns.
    let agent = agent_on(&bus, "reconnect_max_backoff_s = 5\n");
    assert_eq!(agent.get("/healthz").0, 200);
    bus.run();
    let conn = client(&bus);
    wait_for_agent(&conn, Duration::from_secs(60));
    assert_serving(&conn);
    assert!(
        agent.log().contains("cannot connect to the"),
        "{}",
        agent.log()
    );
    // The bus dies and comes back: the agent joins again.
    bus.kill();
    bus.run();
    let conn = client(&bus);
    wait_for_agent(&conn, Duration::from_secs(60));
    assert_serving(&conn);
    assert_eq!(agent.get("/healthz").0, 200);
}

/// The typed desired-state methods: `Apply(s)` applies a deployment and answers its
/// DeploymentStatus, `Deployment()` the current one; a bad deployment is
/// `Error.InvalidRequest`.
#[test]
fn typed_apply_and_deployment() {
    require_docker();
    let bus = PrivateBus::start();
    let _agent = agent_on(&bus, "");
    let conn = client(&bus);
    wait_for_agent(&conn, Duration::from_secs(30));
    let empty = json!({"generation": 1, "containers": []}).to_string();
    let status = typed(&conn, "Apply", &(empty.as_str(),)).unwrap();
    assert_eq!(
        (&status["generation"], &status["phase"]),
        (&json!(1), &json!("done"))
    );
    let current = typed(&conn, "Deployment", &()).unwrap();
    assert_eq!(current["generation"], 1, "{current}");
    let bad = typed(&conn, "Apply", &("{\"generation\": 2, \"bogus\": 1}",)).unwrap_err();
    assert_eq!(bad.0, "io.ctrmgr.Agent1.Error.InvalidRequest", "{bad:?}");
}
