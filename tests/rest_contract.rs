//! The contract over REST: the bad-input matrix, idempotency, persistence across
//! `kill -9`, an unreachable engine, clean shutdown and the process's command line.

use ctrmgr_testkit::common;

use common::*;
use serde_json::json;
use std::process::Command;

/// The HTTP status the contract gives each error code of the bad-input cases.
fn http_status(code: &str) -> u16 {
    match code {
        "invalid_request" => 400,
        "not_found" => 404,
        "conflict" => 409,
        other => panic!("no bad-input case expects {other}"),
    }
}

fn assert_serving(agent: &Agent) {
    let (status, r) = agent.get("/healthz");
    assert_eq!((status, &r["status"]), (200, &json!("ok")));
}

#[test]
fn bad_input_matrix() {
    require_docker();
    let agent = Agent::start("");
    let existing = unique("bad");
    let (status, r) = agent.execute(&json!({"op": "create", "args": {"name": existing, "image": IMAGE, "cmd": ["sleep", "30"]}}));
    assert_eq!(status, 200, "{r}");
    // Only this test's records: agents sharing the engine may adopt other tests'
    // hand-made containers meanwhile.
    let own = |agent: &Agent| -> Vec<serde_json::Value> {
        let (_, r) = agent.get("/v1/containers?all=true");
        r["result"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["name"] == existing.as_str() || !c["name"].as_str().unwrap().starts_with("t-")
            })
            .cloned()
            .collect()
    };
    let before = own(&agent);

    let mut raw_cases: Vec<(&str, Vec<u8>, u16, &str)> = hostile::malformed_json()
        .into_iter()
        .map(|(label, body, code)| (label, body, http_status(code), code))
        .collect();
    raw_cases.push((
        "oversized body",
        {
            let mut v = br#"{"op":"info","pad":""#.to_vec();
            v.extend(std::iter::repeat_n(b'a', 2 * 1024 * 1024));
            v.extend(br#""}"#);
            v
        },
        413,
        "too_large",
    ));
    for (label, body, want_status, want_code) in raw_cases {
        let (status, r) = agent.execute_raw(&body);
        assert_eq!((status, code(&r)), (want_status, want_code), "{label}: {r}");
        assert_eq!(r["ok"], false, "{label}");
        assert!(!r["error"]["message"].as_str().unwrap().is_empty());
        assert_serving(&agent);
    }

    let cases = hostile::envelopes(&existing)
        .into_iter()
        .map(|(label, envelope, code)| (label, envelope, http_status(code), code));
    for (label, envelope, want_status, want_code) in cases {
        let (status, r) = agent.execute(&envelope);
        assert_eq!((status, code(&r)), (want_status, want_code), "{label}: {r}");
        assert_serving(&agent);
    }
    let (status, r) =
        agent.execute(&json!({"id": "keep-me", "op": "start", "args": {"name": "-x"}}));
    assert_eq!(
        (status, &r["id"]),
        (400, &json!("keep-me")),
        "the id is echoed on errors"
    );
    assert_eq!(own(&agent), before, "no record changed");
    for runtime in ["docker", "docker-api"] {
        assert!(
            !docker_has("ok-name"),
            "{runtime}: nothing reached the engine"
        );
    }
    agent.execute(&json!({"op": "remove", "args": {"name": existing, "force": true}}));
}

#[test]
fn repeated_id_runs_once_and_returns_the_same_reply() {
    require_docker();
    let agent = Agent::start("");
    let name = unique("idem");
    let envelope = json!({"id": format!("idem-{name}"), "op": "create", "runtime": "docker-api",
        "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "30"]}});
    let first = agent.execute(&envelope);
    let second = agent.execute(&envelope);
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(first, second);
    let count = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{name}$"),
        "--format",
        "{{.ID}}",
    ]);
    assert_eq!(count.lines().count(), 1, "one container");
    // Without an id the same create is a conflict: it really ran again.
    let mut no_id = envelope.clone();
    no_id.as_object_mut().unwrap().remove("id");
    assert_eq!(code(&agent.execute(&no_id).1), "conflict");
    agent.execute(&json!({"op": "remove", "args": {"name": name, "force": true}}));
}

/// An id is bound to its request (op, runtime, args): reusing it for another request is
/// `conflict` and runs nothing, on LMDB and on Redis; read-only ops are never cached.
#[test]
fn a_reused_id_is_bound_to_its_request() {
    require_docker();
    for store in [
        "",
        "[store]\nbackend = \"redis\"\nreply_cache_ttl_s = 120\n",
    ] {
        let agent = Agent::start(store);
        let (name, other) = (unique("bound"), unique("bound-other"));
        let id = format!("bound-{name}");
        let create = json!({"id": id, "op": "create", "runtime": "docker-api",
            "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "60"], "start": true}});
        let (status, r) = agent.execute(&create);
        assert_eq!(status, 200, "{store}: {r}");
        let reused = [
            json!({"id": id, "op": "remove", "args": {"name": name, "force": true}}),
            json!({"id": id, "op": "create", "runtime": "docker-api",
                "args": {"name": other, "image": IMAGE, "cmd": ["sleep", "60"]}}),
            json!({"id": id, "op": "create", "runtime": "docker",
                "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "60"], "start": true}}),
        ];
        for envelope in reused {
            let (status, r) = agent.execute(&envelope);
            assert_eq!(
                (status, code(&r)),
                (409, "conflict"),
                "{store}: {envelope}: {r}"
            );
            assert_eq!(r["id"], id.as_str(), "{r}");
            assert!(
                r["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("already used for another request"),
                "{r}"
            );
        }
        assert!(
            docker_has(&name),
            "{store}: the reused id removed the container"
        );
        assert!(
            !docker_has(&other),
            "{store}: the reused id created a container"
        );
        // The same request again still gets its reply.
        assert_eq!(agent.execute(&create).0, 200, "{store}");
        // A read-only op is never cached: the same id sees the change made in between.
        let list = json!({"id": format!("list-{name}"), "op": "list", "args": {"all": true}});
        let before = agent.execute(&list).1;
        agent.execute(&json!({"op": "stop", "args": {"name": name, "timeout_s": 0}}));
        let after = agent.execute(&list).1;
        let state = |r: &serde_json::Value| {
            r["result"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name.as_str())
                .map(|c| c["state"].clone())
        };
        assert_eq!(state(&before), Some(json!("running")), "{before}");
        assert_eq!(state(&after), Some(json!("exited")), "{after}");
        agent.execute(&json!({"op": "remove", "args": {"name": name, "force": true}}));
    }
}

#[test]
fn records_survive_kill_9() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..3).map(|i| unique(&format!("persist{i}"))).collect();
    {
        let mut agent = Agent::start_in(dir.path(), "");
        for n in &names {
            let (status, r) = agent.execute(&json!({"op": "create", "args": {"name": n, "image": IMAGE, "cmd": ["sleep", "60"], "start": true}}));
            assert_eq!(status, 200, "{r}");
        }
        let (status, _) = agent.execute(
            &json!({"id": "persist-id", "op": "stop", "args": {"name": names[0], "timeout_s": 0}}),
        );
        assert_eq!(status, 200);
        agent.kill9();
    }
    let agent = Agent::start_in(dir.path(), "");
    let (_, list) = agent.get("/v1/containers?all=true");
    let listed: Vec<&str> = list["result"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for n in &names {
        assert!(listed.contains(&n.as_str()), "{n} lost: {list}");
    }
    let (_, r) = agent.get(&format!("/v1/containers/{}", names[0]));
    assert_eq!(r["result"]["state"], "exited");
    // The idempotency cache survived too: the stop is not run again.
    let (_, r) = agent.execute(
        &json!({"id": "persist-id", "op": "stop", "args": {"name": names[0], "timeout_s": 0}}),
    );
    assert_eq!(r["id"], "persist-id");
    for n in &names {
        let (status, r) =
            agent.execute(&json!({"op": "remove", "args": {"name": n, "force": true}}));
        assert_eq!(status, 200, "{r}");
    }
}

#[test]
fn unreachable_engine_is_runtime_unavailable() {
    let agent = Agent::start(
        "[runtime]\ndocker_socket = \"/nonexistent/docker.sock\"\ndocker_bin = \"/nonexistent/docker\"\n\
         podman_socket = \"/nonexistent/podman.sock\"\npodman_bin = \"/nonexistent/podman\"\n",
    );
    for runtime in ["docker", "docker-api", "podman", "podman-api"] {
        let (status, r) = agent.execute(&json!({"op": "create", "runtime": runtime,
            "args": {"name": unique("unavail"), "image": IMAGE}}));
        assert_eq!(
            (status, code(&r)),
            (503, "runtime_unavailable"),
            "{runtime}: {r}"
        );
        let (status, r) = agent.execute(&json!({"op": "images", "runtime": runtime}));
        assert_eq!(
            (status, code(&r)),
            (503, "runtime_unavailable"),
            "{runtime}: {r}"
        );
    }
    let (status, info) = agent.get("/v1/info");
    assert_eq!(status, 200, "{info}");
    for rt in info["result"]["runtimes"].as_array().unwrap() {
        assert_eq!(rt["available"], false, "{info}");
    }
    assert_eq!(
        agent.get("/v1/containers?all=true").1["result"]["containers"],
        json!([]),
        "no record"
    );
}

/// The agent starts and serves with Podman absent: info says which engines answer, and
/// the present one keeps working.
#[test]
fn absent_podman_leaves_docker_serving() {
    require_docker();
    let agent = Agent::start(
        "[runtime]\npodman_socket = \"/nonexistent/podman.sock\"\npodman_bin = \"/nonexistent/podman\"\n",
    );
    let (status, info) = agent.get("/v1/info");
    assert_eq!(status, 200, "{info}");
    for rt in info["result"]["runtimes"].as_array().unwrap() {
        let podman = rt["name"].as_str().unwrap().starts_with("podman");
        assert_eq!(rt["available"], !podman, "{info}");
        assert_eq!(rt["version"].is_string(), !podman, "{info}");
    }
    let (status, r) = agent.execute(&json!({"op": "images", "runtime": "docker-api"}));
    assert_eq!(status, 200, "{r}");
    let (status, r) = agent.execute(&json!({"op": "images", "runtime": "podman"}));
    assert_eq!((status, code(&r)), (503, "runtime_unavailable"), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/nonexistent/podman"),
        "the reply names what is missing: {r}"
    );
}

#[test]
fn info_health_metrics_and_openapi() {
    require_docker();
    let agent = Agent::start("");
    let (status, r) = agent.execute(&json!({"id": "i1", "op": "info"}));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["id"], "i1");
    assert_eq!(r["result"]["store"], "lmdb");
    assert!(r["result"]["device_id"]
        .as_str()
        .unwrap()
        .starts_with("test-"));
    let names: Vec<&str> = r["result"]["runtimes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert!(
        names.contains(&"docker") && names.contains(&"docker-api"),
        "{r}"
    );
    assert!(
        r["result"]["runtimes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["available"] == true),
        "{r}"
    );
    let (status, _) = agent.get("/openapi.json");
    assert_eq!(status, 200);
    let (status, r) = agent.get("/v1/nothing-here");
    assert_eq!((status, code(&r)), (404, "not_found"));
    let text = ureq::get(format!("{}/metrics", agent.url))
        .header("Authorization", agent.bearer())
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        text.contains("ctrmgr_requests_total{transport=\"rest\",outcome=\"ok\"}"),
        "{text}"
    );
}

#[test]
fn sigterm_exits_cleanly_and_a_bad_config_names_the_key() {
    let mut agent = Agent::start("");
    let status = agent.stop();
    assert!(status.success(), "exit status {status}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[store]\nmap_size_mb = \"lots\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ctrmgr"))
        .arg("--config")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("map_size_mb"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_ctrmgr"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("ctrmgr "));
    let out = Command::new(env!("CARGO_BIN_EXE_ctrmgr"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("--config"));
    let out = Command::new(env!("CARGO_BIN_EXE_ctrmgr"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn resource_routes_carry_the_envelope() {
    require_docker();
    let agent = Agent::start("");
    let name = unique("routes");
    let (status, r) = agent.post(
        "/v1/containers?runtime=docker",
        &json!({"name": name, "image": IMAGE, "cmd": ["sleep", "30"], "start": true}),
    );
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["ok"], true);
    let (status, r) = agent.post("/v1/containers", &json!({"name": name, "image": IMAGE}));
    assert_eq!((status, code(&r)), (409, "conflict"));
    let (status, r) = agent.post(
        &format!("/v1/containers/{name}/kill"),
        &json!({"signal": "SIGTERM"}),
    );
    assert_eq!(status, 200, "{r}");
    let (status, r) = agent.post(&format!("/v1/containers/{name}/stop?bogus=1"), &json!({}));
    assert_eq!((status, code(&r)), (400, "invalid_request"), "{r}");
    let (status, r) = agent.get("/v1/containers/--privileged");
    assert_eq!((status, code(&r)), (400, "invalid_request"), "{r}");
    let (status, r) = agent.delete(&format!("/v1/containers/{name}?force=true"));
    assert_eq!(status, 200, "{r}");
    let (status, r) = agent.post("/v1/containers", &json!([1]));
    assert_eq!((status, code(&r)), (400, "invalid_request"), "{r}");
}
