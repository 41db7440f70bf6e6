//! The gRPC transport against the real agent and dockerd, driven by a client no one
//! here wrote: Python `grpcio` with stubs that `grpcio-tools` generates from
//! proto/ctrmgr.proto into a temporary directory at test time.

use ctrmgr_testkit::common;
use ctrmgr_testkit::grpc_support::{command, run_script as run, target, GrpcClient};

use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn the_contract_suite_runs_over_grpc() {
    require_docker();
    let agent = Agent::start("");
    let device = format!("test-{}", agent.url.rsplit(':').next().unwrap());
    let client = GrpcClient::connect(&agent);
    contract::every_op(&client, ctrmgr::codec::Format::Protobuf, &device);
}

#[test]
fn every_op_answers_over_grpc() {
    require_docker();
    let agent = Agent::start("");
    let name = unique("grpc-ops");
    let script = r#"
name, image = args["name"], args["image"]
out = {}
def ex(key, fill):
    request = pb.Request(id="py-" + key)
    fill(request)
    reply = stub.Execute(request, timeout=120)
    out[key] = as_dict(reply)
def create(r):
    r.create.name = name
    r.create.image = image
    r.create.cmd.extend(["sh", "-c", "echo hello-grpc; sleep 300"])
ex("create", create)
ex("start", lambda r: setattr(r.start, "name", name))
ex("inspect", lambda r: setattr(r.inspect, "name", name))
ex("list", lambda r: setattr(r.list, "all", True))
ex("stats", lambda r: setattr(r.stats, "name", name))
def logs(r):
    r.logs.name = name
    r.logs.tail = 10
ex("logs", logs)
def restart(r):
    r.restart.name = name
    r.restart.timeout_s = 1
ex("restart", restart)
def stop(r):
    r.stop.name = name
    r.stop.timeout_s = 1
ex("stop", stop)
ex("start_again", lambda r: setattr(r.start, "name", name))
ex("kill", lambda r: setattr(r.kill, "name", name))
def remove(r):
    r.remove.name = name
    r.remove.force = True
ex("remove", remove)
ex("pull", lambda r: setattr(r.pull, "image", args["registry_image"]))
ex("images", lambda r: r.images.SetInParent())
ex("info", lambda r: r.info.SetInParent())
print(json.dumps(out))
"#;
    let v = run(
        &agent,
        script,
        &target(&agent),
        json!({"name": name, "image": IMAGE, "registry_image": REGISTRY_IMAGE}),
    );
    for (key, reply) in v.as_object().unwrap() {
        assert_eq!(reply["id"], format!("py-{key}"), "{key}: {reply}");
        assert_eq!(reply["ok"], true, "{key}: {reply}");
    }
    assert_eq!(v["create"]["container"]["state"], "created", "{v}");
    for (key, state) in [
        ("start", "running"),
        ("inspect", "running"),
        ("restart", "running"),
        ("stop", "exited"),
        ("start_again", "running"),
        ("kill", "exited"),
    ] {
        assert_eq!(v[key]["container"]["name"], name.as_str(), "{key}: {v}");
        assert_eq!(v[key]["container"]["state"], state, "{key}: {v}");
    }
    let listed = v["list"]["list"]["containers"].as_array().unwrap();
    assert!(listed.iter().any(|c| c["name"] == name.as_str()), "{v}");
    assert!(v["stats"]["stats"].get("memory_bytes").is_some(), "{v}");
    let lines = v["logs"]["logs"]["lines"].as_array().unwrap();
    assert!(lines.iter().any(|l| l == "hello-grpc"), "{v}");
    assert_eq!(v["remove"]["remove"]["name"], name.as_str(), "{v}");
    assert!(!docker_has(&name), "remove left the container behind");
    assert_eq!(v["pull"]["pull"]["image"], REGISTRY_IMAGE, "{v}");
    let images = v["images"]["images"]["images"].as_array().unwrap();
    assert!(!images.is_empty(), "{v}");
    assert!(
        !v["info"]["info"]["runtimes"].as_array().unwrap().is_empty(),
        "{v}"
    );
}

#[test]
fn watch_streams_the_container_events() {
    require_docker();
    let agent = Agent::start("");
    let name = unique("grpc-watch");
    let script = r#"
name = args["name"]
stream = stub.Watch(pb.WatchRequest(name=name), timeout=120)
# The subscription is live once the call's headers arrive.
stream.initial_metadata()
def ex(fill):
    request = pb.Request()
    fill(request)
    reply = stub.Execute(request, timeout=120)
    assert reply.ok, as_dict(reply)
def create(r):
    r.create.name = name
    r.create.image = args["image"]
    r.create.cmd.extend(["sleep", "300"])
    r.create.start = True
ex(create)
def stop(r):
    r.stop.name = name
    r.stop.timeout_s = 1
ex(stop)
def remove(r):
    r.remove.name = name
    r.remove.force = True
ex(remove)
events = []
for event in stream:
    events.append(as_dict(event))
    if event.container.action == "remove":
        break
stream.cancel()
bad = [as_dict(e) for e in stub.Watch(pb.WatchRequest(kinds=["weather"]), timeout=30)]
print(json.dumps({"events": events, "bad": bad}))
"#;
    let v = run(
        &agent,
        script,
        &target(&agent),
        json!({"name": name, "image": IMAGE}),
    );
    let events = v["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .all(|e| e["kind"] == "container" && e["container"]["name"] == name.as_str()),
        "the name filter let another container through: {v}"
    );
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["container"]["action"].as_str().unwrap())
        .collect();
    for wanted in ["create", "stop", "remove"] {
        assert!(actions.contains(&wanted), "no '{wanted}' event: {v}");
    }
    let stopped = events
        .iter()
        .find(|e| e["container"]["action"] == "stop")
        .unwrap();
    assert_eq!(stopped["container"]["state"], "exited", "{v}");
    assert_eq!(stopped["container"]["runtime"], "docker-api", "{v}");
    // A WatchRequest naming an unknown kind: one error event, then the stream ends.
    let bad = v["bad"].as_array().unwrap();
    assert_eq!(bad.len(), 1, "{v}");
    assert_eq!(bad[0]["kind"], "error", "{v}");
    assert_eq!(bad[0]["error"]["code"], "invalid_request", "{v}");
    assert!(
        bad[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'weather'"),
        "{v}"
    );
}

#[test]
fn bad_input_is_a_reply_with_status_ok() {
    let agent = Agent::start("[grpc]\nmax_message_bytes = 1024\n");
    let script = r#"
raw = channel.unary_unary("/ctrmgr.v1.Agent/Execute",
                          request_serializer=None, response_deserializer=None)
def call(data):
    reply_bytes, call = raw.with_call(data, timeout=30)
    reply = pb.Reply()
    reply.ParseFromString(reply_bytes)
    return {"status": call.code().name, "reply": as_dict(reply)}
out = {}
out["garbage"] = call(b"\xff\xff\xff\xff garbage")
out["oversized"] = call(b"\x12\x02ok" + b"\x00" * 4096)
known = pb.Request(id="u1")
known.info.SetInParent()
# Field 99, varint 1: a field number the schema does not have.
out["unknown_field"] = call(known.SerializeToString() + b"\x98\x06\x01")
out["empty"] = call(b"")
out["good"] = call(known.SerializeToString())
print(json.dumps(out))
"#;
    let v = run(&agent, script, &target(&agent), json!({}));
    for key in ["garbage", "oversized", "unknown_field", "empty", "good"] {
        assert_eq!(v[key]["status"], "OK", "{key}: {v}");
    }
    assert_eq!(
        v["garbage"]["reply"]["error"]["code"], "invalid_request",
        "{v}"
    );
    assert_eq!(v["oversized"]["reply"]["error"]["code"], "too_large", "{v}");
    assert!(
        v["oversized"]["reply"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("grpc.max_message_bytes"),
        "{v}"
    );
    let unknown = &v["unknown_field"]["reply"];
    assert_eq!(unknown["error"]["code"], "invalid_request", "{v}");
    assert_eq!(unknown["id"], "u1", "{v}");
    assert!(
        unknown["error"]["message"].as_str().unwrap().contains("99"),
        "the message should name field 99: {v}"
    );
    assert_eq!(
        v["empty"]["reply"]["error"]["code"], "invalid_request",
        "{v}"
    );
    assert_eq!(v["good"]["reply"]["ok"], true, "{v}");
}

#[test]
fn tcp_needs_the_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = "grpc-test-token-0123456789";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let port = free_port();
    let agent = Agent::start(&format!(
        "[grpc]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\n",
        token_file.display()
    ));
    let script = r#"
request = pb.Request(id="tcp")
request.info.SetInParent()
out = {}
for label, metadata in [("none", None),
                        ("wrong", [("authorization", "Bearer wrong-token-0123456789")]),
                        ("right", [("authorization", "Bearer " + args["token"])])]:
    try:
        reply = stub.Execute(request, metadata=metadata, timeout=30)
        out[label] = {"status": "OK", "ok": reply.ok}
    except grpc.RpcError as e:
        out[label] = {"status": e.code().name, "details": e.details()}
print(json.dumps(out))
"#;
    let v = run(
        &agent,
        script,
        &format!("127.0.0.1:{port}"),
        json!({ "token": token }),
    );
    assert_eq!(v["none"]["status"], "UNAUTHENTICATED", "{v}");
    assert_eq!(v["wrong"]["status"], "UNAUTHENTICATED", "{v}");
    assert!(
        v["none"]["details"]
            .as_str()
            .unwrap()
            .contains("grpc.token_file"),
        "{v}"
    );
    assert_eq!(v["right"]["status"], "OK", "{v}");
    assert_eq!(v["right"]["ok"], true, "{v}");
}

#[test]
fn a_tcp_listener_without_a_token_does_not_start() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ctrmgr.toml");
    std::fs::write(&config, format!("[grpc]\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ctrmgr"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("grpc.listen") && stderr.contains("grpc.token_file"),
        "{stderr}"
    );
}

#[test]
fn over_max_in_flight_is_resource_exhausted() {
    let agent = Agent::start("[grpc]\nmax_in_flight = 1\n");
    let script = r#"
request = pb.Request()
request.info.SetInParent()
watch = stub.Watch(pb.WatchRequest(), timeout=60)
watch.initial_metadata()
out = {}
try:
    stub.Execute(request, timeout=30)
    out["busy"] = "OK"
except grpc.RpcError as e:
    out["busy"] = e.code().name
    out["details"] = e.details()
watch.cancel()
# The slot comes back once the agent has seen the cancel.
for _ in range(50):
    try:
        out["after"] = "OK" if stub.Execute(request, timeout=30).ok else "not ok"
        break
    except grpc.RpcError as e:
        out["after"] = e.code().name
        time.sleep(0.1)
print(json.dumps(out))
"#;
    let v = run(&agent, script, &target(&agent), json!({}));
    assert_eq!(v["busy"], "RESOURCE_EXHAUSTED", "{v}");
    assert!(
        v["details"]
            .as_str()
            .unwrap()
            .contains("grpc.max_in_flight"),
        "{v}"
    );
    assert_eq!(v["after"], "OK", "{v}");
}

#[test]
fn sigterm_ends_watch_streams_and_the_agent() {
    let mut agent = Agent::start("");
    let script = r#"
stream = stub.Watch(pb.WatchRequest(), timeout=60)
stream.initial_metadata()
print("subscribed", flush=True)
count = sum(1 for _ in stream)
print(json.dumps({"status": stream.code().name, "events": count}), flush=True)
"#;
    let mut child = command(script, &target(&agent), &json!({}))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "subscribed");
    let socket = agent.dir.join("grpc.sock");
    assert!(socket.exists());
    let status = agent.stop();
    assert!(status.success(), "agent exit: {status}");
    let last = lines.next().expect("the client printed nothing").unwrap();
    let v: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["status"], "OK", "the stream should end cleanly: {v}");
    assert!(child.wait().unwrap().success());
    assert!(!socket.exists(), "the socket file outlived the agent");
}

/// `curl` speaking gRPC (HTTP/2 over the unix socket) as user nobody: an `info`
/// request; the response's headers and trailers.
fn curl_grpc_as_nobody(socket: &std::path::Path) -> String {
    // The gRPC frame: not compressed, 3 bytes: `Request{info: {}}` (field 18, empty).
    let frame = b"\x00\x00\x00\x00\x03\x92\x01\x00";
    let dir = socket.parent().unwrap();
    let body = dir.join("frame");
    std::fs::write(&body, frame).unwrap();
    std::fs::set_permissions(&body, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "curl"])
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--http2-prior-knowledge",
        ])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg("--unix-socket")
        .arg(socket)
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg("http://localhost/ctrmgr.v1.Agent/Execute")
        .output()
        .expect("curl and setpriv (util-linux) must be installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_unix_socket_checks_the_callers_credentials() {
    let sockdir = common::socket_dir_for_other_users();
    let socket = sockdir.path().join("grpc.sock");
    let config = format!(
        "[grpc]\nunix_socket = \"{}\"\nunix_socket_mode = 438\n",
        socket.display()
    );
    let agent = Agent::start(&config);
    let refused = curl_grpc_as_nobody(&socket);
    assert!(refused.contains("grpc-status: 16"), "{refused}");
    // grpc-message is percent-encoded.
    assert!(refused.contains("uid%2065534"), "{refused}");
    drop(agent);
    let agent = Agent::start(&format!("{config}unix_socket_uids = [65534]\n"));
    let allowed = curl_grpc_as_nobody(&socket);
    assert!(allowed.contains("grpc-status: 0"), "{allowed}");
    drop(agent);
}

#[test]
fn sigterm_lets_an_execute_in_flight_finish() {
    require_docker();
    let mut agent = Agent::start("");
    let name = unique("grpc-drain");
    let script = r#"
name = args["name"]
request = pb.Request()
request.create.name = name
request.create.image = args["image"]
# sleep as PID 1 ignores SIGTERM: the stop below takes its whole timeout.
request.create.cmd.extend(["sleep", "300"])
request.create.start = True
assert stub.Execute(request, timeout=120).ok
request = pb.Request(id="drain")
request.stop.name = name
request.stop.timeout_s = 3
print("sending", flush=True)
reply = stub.Execute(request, timeout=120)
print(json.dumps(as_dict(reply)), flush=True)
"#;
    let mut child = command(
        script,
        &target(&agent),
        &json!({"name": name, "image": IMAGE}),
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "sending");
    // The stop is in the agent's hands well before its 3 s timeout ends.
    std::thread::sleep(std::time::Duration::from_millis(700));
    let status = agent.stop();
    let last = lines.next().expect("the client got no reply").unwrap();
    docker_rm(&name);
    assert!(status.success(), "agent exit: {status}");
    let v: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["id"], "drain", "{v}");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["container"]["state"], "exited", "{v}");
    assert!(child.wait().unwrap().success());
}
