//! The agent end to end over REST against the real dockerd, through both Docker access
//! paths (`docker` CLI and `docker-api`): every op, every spec field seen by the engine.

use ctrmgr_testkit::common;

use common::*;
use serde_json::{json, Value};

fn lifecycle(runtime: &str) {
    require_docker();
    let agent = Agent::start("");
    let name = unique(&format!("life-{runtime}"));
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("hello.txt"), "from-host").unwrap();
    let (status, r) = agent.execute(&json!({
        "id": format!("c-{name}"), "op": "create", "runtime": runtime,
        "args": {
            "name": name, "image": IMAGE,
            "entrypoint": ["/bin/sh", "-c"],
            "cmd": ["echo started; cat /data/hello.txt; echo; echo $GREETING; httpd -f -p 8080 -h /www"],
            "env": {"GREETING": "hi there"},
            "ports": [{"host": port, "container": 8080}],
            "mounts": [{"source": data.path().to_str().unwrap(), "target": "/data", "read_only": true}],
            "restart": {"policy": "on-failure", "max_retries": 2},
            "resources": {"memory_bytes": 64 * 1024 * 1024, "cpu_millis": 500, "pids_limit": 50},
            "labels": {"app": "web"},
            "workdir": "/tmp",
            "user": "0:0",
            "start": true
        }
    }));
    assert_eq!(status, 200, "{r}\n{}", agent.log());
    assert_eq!(r["id"], format!("c-{name}"));
    assert_eq!(r["result"]["state"], "running", "{r}");
    assert_eq!(r["result"]["runtime"], runtime);
    for key in [
        "name",
        "runtime",
        "id",
        "image",
        "state",
        "exit_code",
        "created_at",
        "updated_at",
        "spec",
    ] {
        assert!(r["result"].get(key).is_some(), "result lacks {key}: {r}");
    }

    // The engine really has what the spec said.
    let d = docker_inspect(&name);
    let env: Vec<&str> = d["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"GREETING=hi there"), "{env:?}");
    assert_eq!(d["Config"]["Labels"]["app"], "web");
    assert_eq!(d["Config"]["Labels"]["io.ctrmgr.managed"], "true");
    assert_eq!(d["Config"]["WorkingDir"], "/tmp");
    assert_eq!(d["Config"]["User"], "0:0");
    assert_eq!(d["HostConfig"]["Memory"], 64 * 1024 * 1024);
    assert_eq!(d["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(d["HostConfig"]["PidsLimit"], 50);
    // The agent supervises restarts: the engine's own policy is `no`.
    assert_eq!(d["HostConfig"]["RestartPolicy"]["Name"], "no");
    let mounts = d["Mounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["Destination"] == "/data" && m["RW"] == false),
        "{mounts:?}"
    );

    // It really runs: logs, a published port that answers.
    let answer = read_tcp(port, b"GET /nope HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1."), "{answer}");
    let (_, logs) = agent.get(&format!("/v1/containers/{name}/logs?tail=10"));
    let lines: Vec<&str> = logs["result"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        lines.contains(&"started") && lines.contains(&"from-host") && lines.contains(&"hi there"),
        "{logs}"
    );

    let (status, stats) = agent.get(&format!("/v1/containers/{name}/stats"));
    assert_eq!(status, 200, "{stats}");
    assert!(
        stats["result"]["memory_bytes"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert!(stats["result"]["pids"].as_u64().unwrap() >= 1, "{stats}");

    let (_, list) = agent.get("/v1/containers?label=app=web");
    assert!(list["result"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == name.as_str()));

    let (status, r) = agent.post(
        &format!("/v1/containers/{name}/stop?timeout_s=1"),
        &json!({}),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["result"]["state"], "exited");
    assert!(r["result"]["exit_code"].is_i64(), "{r}");
    assert_eq!(docker_inspect(&name)["State"]["Running"], false);

    let (_, list) = agent.get("/v1/containers");
    assert!(
        !list["result"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == name.as_str()),
        "stopped shown without all"
    );
    let (_, list) = agent.get("/v1/containers?all=true");
    assert!(list["result"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == name.as_str()));

    let (status, r) = agent.execute(&json!({"op": "start", "args": {"name": name}}));
    assert_eq!(
        (status, r["result"]["state"].as_str()),
        (200, Some("running")),
        "{r}"
    );
    let (status, r) =
        agent.execute(&json!({"op": "restart", "args": {"name": name, "timeout_s": 1}}));
    assert_eq!(
        (status, r["result"]["state"].as_str()),
        (200, Some("running")),
        "{r}"
    );
    let (status, r) =
        agent.execute(&json!({"op": "kill", "args": {"name": name, "signal": "SIGKILL"}}));
    assert_eq!(status, 200, "{r}");
    assert_ne!(r["result"]["state"], "running", "{r}");

    let (status, r) = agent.get(&format!("/v1/containers/{name}"));
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["result"]["name"], name.as_str());

    let (status, r) = agent.delete(&format!("/v1/containers/{name}?force=true"));
    assert_eq!((status, &r["result"]["name"]), (200, &json!(name)), "{r}");
    assert!(!docker_has(&name));
    let (status, r) = agent.get(&format!("/v1/containers/{name}"));
    assert_eq!((status, code(&r)), (404, "not_found"), "{r}");
}

#[test]
fn lifecycle_docker_cli() {
    lifecycle("docker");
}

#[test]
fn lifecycle_docker_api() {
    lifecycle("docker-api");
}

fn images(runtime: &str) {
    require_docker();
    let agent = Agent::start("");
    // A tag of our own so parallel tests never remove an image another one uses.
    let tagged = format!(
        "127.0.0.1:5000/ctrmgr-test/busybox:{runtime}-{}",
        std::process::id()
    );
    docker(&["tag", IMAGE, &tagged]);
    docker(&["push", "--quiet", &tagged]);
    docker(&["rmi", &tagged]);
    let (status, r) = agent.post(
        &format!("/v1/images/pull?runtime={runtime}"),
        &json!({"image": tagged}),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["result"]["image"], tagged.as_str());
    assert!(
        r["result"]["id"].as_str().unwrap().contains("sha256:")
            || !r["result"]["id"].as_str().unwrap().is_empty()
    );
    let (_, r) = agent.get(&format!("/v1/images?runtime={runtime}"));
    let found = r["result"]["images"].as_array().unwrap().iter().any(|i| {
        i["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == tagged.as_str())
            && i["size_bytes"].as_u64().unwrap() > 0
    });
    assert!(found, "{tagged} not in {r}");
    let encoded = tagged.replace('/', "%2F").replace(':', "%3A");
    let (status, r) = agent.delete(&format!("/v1/images/{encoded}?runtime={runtime}"));
    assert_eq!(status, 200, "{r}");
    let (status, r) = agent
        .execute(&json!({"op": "remove_image", "runtime": runtime, "args": {"image": tagged}}));
    assert_eq!((status, code(&r)), (404, "not_found"), "{r}");
    let (status, r) = agent.execute(&json!({"op": "pull", "runtime": runtime,
        "args": {"image": "127.0.0.1:5000/ctrmgr-test/does-not-exist:1"}}));
    assert_eq!((status, code(&r)), (404, "not_found"), "{r}");
}

#[test]
fn images_docker_cli() {
    images("docker");
}

#[test]
fn images_docker_api() {
    images("docker-api");
}

#[test]
fn other_access_path_of_the_same_engine_manages_it() {
    require_docker();
    let agent = Agent::start("");
    let name = unique("paths");
    let (status, r) = agent.execute(&json!({"op": "create", "runtime": "docker",
        "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "60"], "start": true}}));
    assert_eq!(status, 200, "{r}");
    let (status, r) = agent.execute(
        &json!({"op": "stop", "runtime": "docker-api", "args": {"name": name, "timeout_s": 0}}),
    );
    assert_eq!(
        (status, r["result"]["state"].as_str()),
        (200, Some("exited")),
        "{r}"
    );
    assert_eq!(
        r["result"]["runtime"], "docker",
        "the recorded runtime stays"
    );
    let (status, r) = agent.execute(&json!({"op": "remove", "args": {"name": name}}));
    assert_eq!(status, 200, "{r}");
}

#[test]
fn network_modes_and_read_only_mount_are_enforced() {
    require_docker();
    let agent = Agent::start("");
    let data = tempfile::tempdir().unwrap();
    for (net, ro) in [("none", true), ("host", false)] {
        let name = unique(&format!("net-{net}"));
        let (status, r) = agent.execute(&json!({"op": "create", "runtime": "docker-api", "args": {
            "name": name, "image": IMAGE, "network": net,
            "cmd": ["sh", "-c", "touch /data/x 2>/dev/null && echo wrote || echo refused"],
            "mounts": [{"source": data.path().to_str().unwrap(), "target": "/data", "read_only": ro}],
            "start": true}}));
        assert_eq!(status, 200, "{r}");
        assert_eq!(docker_inspect(&name)["HostConfig"]["NetworkMode"], net);
        for _ in 0..100 {
            let (_, r) = agent.execute(&json!({"op": "inspect", "args": {"name": name}}));
            if r["result"]["state"] == "exited" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let (_, l) = agent.execute(&json!({"op": "logs", "args": {"name": name}}));
        let lines = l["result"]["lines"].clone();
        assert_eq!(
            lines,
            json!([if ro { "refused" } else { "wrote" }]),
            "{net}"
        );
        agent.execute(&json!({"op": "remove", "args": {"name": name, "force": true}}));
    }
}
