//! The agent's own check of D-Bus callers, on top of the bus policy: against a private
//! system-like dbus-daemon that loads the real policy file, `dbus-send` and `busctl` run
//! as uid 65534 in group `ctrmgr` (which the bus admits) are refused by an agent that
//! allows no group, admitted by one that lists the uid, and root is always admitted.

use ctrmgr_testkit::dbus_support;

use dbus_support::*;
use serde_json::Value;
use std::time::Duration;

/// `dbus-send` (typed `List`), `dbus-send` (`Execute` info) and `busctl` (`ExecuteProto`
/// info) as `ids` (root when `None`) against `bus`.
fn three_calls(bus: &PrivateBus, ids: Option<(u32, u32)>) -> [(bool, String, String); 3] {
    let bus_arg = format!("--bus={}", bus.address);
    let addr = format!("--address={}", bus.address);
    let dest = format!("--dest={NAME}");
    let list = run_as(
        ids,
        "dbus-send",
        &[
            &bus_arg,
            "--print-reply",
            &dest,
            PATH,
            "io.ctrmgr.Agent1.List",
        ],
    );
    let execute = run_as(
        ids,
        "dbus-send",
        &[
            &bus_arg,
            "--print-reply",
            &dest,
            PATH,
            "io.ctrmgr.Agent1.Execute",
            r#"string:{"id":"who","op":"info"}"#,
        ],
    );
    let request = proto::info_request("p1");
    let bytes: Vec<String> = request.iter().map(u8::to_string).collect();
    let len = request.len().to_string();
    let mut args = vec![
        addr.as_str(),
        "--json=short",
        "call",
        NAME,
        PATH,
        IFACE,
        "ExecuteProto",
        "ay",
        &len,
    ];
    args.extend(bytes.iter().map(String::as_str));
    let proto = run_as(ids, "busctl", &args);
    [list, execute, proto]
}

/// The bytes of a `busctl --json=short` reply of signature `ay`.
fn busctl_bytes(out: &str) -> Vec<u8> {
    let reply: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    reply["data"][0]
        .as_array()
        .unwrap_or_else(|| panic!("no byte array: {out}"))
        .iter()
        .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
        .collect()
}

#[test]
fn the_agent_refuses_callers_the_bus_policy_lets_through() {
    let gid = ctrmgr_gid();
    let member = Some((65534, gid));
    // The bus policy admits group ctrmgr; this agent admits no group at all.
    let strict_bus = PrivateBus::start();
    let strict = agent_on(&strict_bus, "allowed_group = \"\"\n");
    wait_for_agent(&client(&strict_bus), Duration::from_secs(30));

    let [list, execute, proto] = three_calls(&strict_bus, member);
    let (ok, out, err) = list;
    assert!(!ok, "the agent must refuse uid 65534: {out}");
    for part in [
        "io.ctrmgr.Agent1.Error.Forbidden",
        "uid 65534",
        "dbus.allowed_uids",
        "dbus.allowed_group",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    assert!(
        !err.contains("AccessDenied"),
        "the bus let it through: {err}"
    );
    let (ok, out, err) = execute;
    assert!(ok, "Execute answers an envelope: {err}");
    assert!(
        out.contains("forbidden") && out.contains("uid 65534") && out.contains("false"),
        "{out}"
    );
    assert!(
        !out.contains("who"),
        "the refused request is not read: {out}"
    );
    let (ok, out, err) = proto;
    assert!(ok, "ExecuteProto answers an envelope: {err}");
    assert_eq!(
        proto::error_code(&busctl_bytes(&out)).as_deref(),
        Some("forbidden"),
        "{out}"
    );
    // Checked before anything else: a hostile name is refused, not validated.
    let (ok, _, err) = run_as(
        member,
        "dbus-send",
        &[
            &format!("--bus={}", strict_bus.address),
            "--print-reply",
            &format!("--dest={NAME}"),
            PATH,
            "io.ctrmgr.Agent1.Stop",
            "string:--privileged",
            "uint32:1",
        ],
    );
    assert!(
        !ok && err.contains("io.ctrmgr.Agent1.Error.Forbidden"),
        "{err}"
    );
    // The Version property stays open to whoever the bus admits.
    let (ok, out, err) = run_as(
        member,
        "busctl",
        &[
            &format!("--address={}", strict_bus.address),
            "get-property",
            NAME,
            PATH,
            IFACE,
            "Version",
        ],
    );
    assert!(ok && out.contains(env!("CARGO_PKG_VERSION")), "{out}{err}");
    // Root is always admitted, by uid (no group is allowed here).
    for (ok, out, err) in three_calls(&strict_bus, None) {
        assert!(ok, "root: {err}");
        assert!(!out.contains("forbidden"), "root: {out}");
    }
    let conn = client(&strict_bus);
    assert_serving(&conn);
    assert!(typed(&conn, "List", &()).is_ok());
    let metrics = ureq::get(format!("{}/metrics", strict.url))
        .header("Authorization", strict.bearer())
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let forbidden = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("ctrmgr_requests_total{transport=\"dbus\",outcome=\"forbidden\"} ")
        })
        .unwrap_or_else(|| panic!("no D-Bus forbidden counter:\n{metrics}"));
    assert_eq!(
        forbidden, "4",
        "List, Execute, ExecuteProto and Stop refused"
    );
    assert!(strict.log().contains("uid 65534"), "{}", strict.log());

    // The same caller admitted by uid; the missing group is only a warning.
    let open_bus = PrivateBus::start();
    let open = agent_on(
        &open_bus,
        "allowed_uids = [65534]\nallowed_group = \"no-such-group-here\"\n",
    );
    wait_for_agent(&client(&open_bus), Duration::from_secs(30));
    let [list, execute, proto] = three_calls(&open_bus, member);
    let (ok, out, err) = list;
    assert!(ok, "uid 65534 is in dbus.allowed_uids: {err}");
    assert!(out.contains("containers"), "{out}");
    let (ok, out, err) = execute;
    assert!(
        ok && out.contains("who") && !out.contains("forbidden"),
        "{out}{err}"
    );
    let (ok, out, err) = proto;
    assert!(ok, "{err}");
    assert_eq!(proto::error_code(&busctl_bytes(&out)), None, "{out}");
    assert!(
        open.log().contains("'no-such-group-here' does not exist"),
        "{}",
        open.log()
    );
}
