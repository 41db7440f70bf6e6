//! `POST /v1/execute` in Protobuf against the running agent and the real dockerd:
//! requests built with the generated prost types, replies checked to be Protobuf and
//! decoded with the library's own decoder.

use ctrmgr_testkit::common;

use common::*;
use ctrmgr::codec::protobuf::decode_reply;
use ctrmgr::codec::protobuf::wire::ctrmgr_v1 as pb;
use ctrmgr::codec::protobuf::wire::Message;
use ctrmgr::core::error::ErrorCode;
use ctrmgr::core::model::{Container, ContainerState};
use ctrmgr::core::reply::{OpResult, Outcome, Reply};
use pb::request::Op;

const PROTOBUF: &str = "application/x-protobuf";

/// Sends a request in Protobuf; checks the reply is Protobuf and decodes it.
fn send(agent: &Agent, request: &pb::Request) -> (u16, Reply) {
    send_bytes(agent, &request.encode_to_vec(), Some(PROTOBUF))
}

fn send_bytes(agent: &Agent, body: &[u8], content_type: Option<&str>) -> (u16, Reply) {
    let (status, reply_type, bytes) = agent.request_bytes(body, content_type);
    assert_eq!(
        reply_type,
        PROTOBUF,
        "status {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let reply = decode_reply(&bytes)
        .unwrap_or_else(|e| panic!("the reply is not ctrmgr.v1.Reply: {}", e.error.message));
    (status, reply)
}

fn request(id: &str, op: Op) -> pb::Request {
    pb::Request {
        id: Some(id.to_owned()),
        runtime: Some("docker-api".to_owned()),
        reply_to: None,
        op: Some(op),
    }
}

fn container(reply: &Reply) -> &Container {
    match &reply.outcome {
        Outcome::Ok {
            result: OpResult::Container(c),
            ..
        } => c,
        other => panic!("expected a container, got {other:?}"),
    }
}

fn error_code(reply: &Reply) -> ErrorCode {
    reply
        .error()
        .map_or_else(|| panic!("expected an error, got {reply:?}"), |e| e.code)
}

#[test]
fn lifecycle_in_protobuf() {
    require_docker();
    let agent = Agent::start("");
    let name = unique("proto");
    let create = Op::Create(pb::CreateArgs {
        name: name.clone(),
        image: IMAGE.to_owned(),
        cmd: vec!["sleep".into(), "300".into()],
        labels: [("app".to_owned(), "proto".to_owned())].into(),
        ..Default::default()
    });
    let (status, reply) = send(&agent, &request("p1", create));
    assert_eq!(status, 200, "{reply:?}\n{}", agent.log());
    assert_eq!(reply.id.as_deref(), Some("p1"));
    assert_eq!(container(&reply).state, ContainerState::Created);
    assert_eq!(container(&reply).spec.cmd, ["sleep", "300"]);

    let (status, reply) = send(
        &agent,
        &request("p2", Op::Start(pb::StartArgs { name: name.clone() })),
    );
    assert_eq!(status, 200, "{reply:?}");
    assert_eq!(container(&reply).state, ContainerState::Running);
    assert_eq!(docker_inspect(&name)["State"]["Running"], true);

    let (status, reply) = send(
        &agent,
        &request("p3", Op::Inspect(pb::InspectArgs { name: name.clone() })),
    );
    assert_eq!(status, 200, "{reply:?}");
    assert_eq!(
        container(&reply).id,
        docker_inspect(&name)["Id"].as_str().unwrap()
    );

    let list = Op::List(pb::ListArgs {
        all: true,
        label: Some("app=proto".into()),
    });
    let (status, reply) = send(&agent, &request("p4", list));
    assert_eq!(status, 200, "{reply:?}");
    let Outcome::Ok {
        result: OpResult::Containers { containers },
        ..
    } = &reply.outcome
    else {
        panic!("expected a list, got {reply:?}")
    };
    assert!(
        containers.iter().any(|c| c.name.as_str() == name),
        "{containers:?}"
    );

    let stop = Op::Stop(pb::StopArgs {
        name: name.clone(),
        timeout_s: Some(1),
    });
    let (status, reply) = send(&agent, &request("p5", stop));
    assert_eq!(status, 200, "{reply:?}");
    assert_eq!(container(&reply).state, ContainerState::Exited);

    let remove = Op::Remove(pb::RemoveArgs {
        name: name.clone(),
        force: false,
    });
    let (status, reply) = send(&agent, &request("p6", remove));
    assert_eq!(status, 200, "{reply:?}");
    assert!(matches!(
        &reply.outcome,
        Outcome::Ok { result: OpResult::Removed { name: removed }, .. } if removed.as_str() == name
    ));
    assert!(!docker_has(&name));
}

#[test]
fn errors_come_back_in_protobuf_with_their_status() {
    let agent = Agent::start("");

    // Not Protobuf at all: 400 invalid_request, in Protobuf.
    let (status, reply) = send_bytes(&agent, b"\xff\xff\xff\xff", Some(PROTOBUF));
    assert_eq!(status, 400);
    assert_eq!(error_code(&reply), ErrorCode::InvalidRequest);
    assert!(reply
        .error()
        .unwrap()
        .message
        .starts_with("request is not valid Protobuf"));

    // A field this schema does not have: refused, naming its number; the id is kept.
    let mut bytes = request("u1", Op::Info(pb::InfoArgs {})).encode_to_vec();
    bytes.extend([0xc8, 0x03, 0x01]); // field 57, varint 1
    let (status, reply) = send_bytes(&agent, &bytes, Some(PROTOBUF));
    assert_eq!(status, 400);
    assert_eq!(reply.id.as_deref(), Some("u1"));
    assert!(
        reply
            .error()
            .unwrap()
            .message
            .contains("unknown field number 57"),
        "{reply:?}"
    );

    // No op set.
    let mut no_op = request("n1", Op::Info(pb::InfoArgs {}));
    no_op.op = None;
    let (status, reply) = send(&agent, &no_op);
    assert_eq!(status, 400);
    assert!(
        reply.error().unwrap().message.starts_with("op:"),
        "{reply:?}"
    );

    // The contract's bad-name example, with JSON's message.
    let create = Op::Create(pb::CreateArgs {
        name: "--privileged".into(),
        image: "busybox".into(),
        ..Default::default()
    });
    let (status, reply) = send(&agent, &request("b1", create));
    assert_eq!(status, 400);
    assert_eq!(
        reply.error().unwrap().message,
        "args.name: '--privileged' is not a valid container name (letters, digits, '_', \
         '.', '-'; must start with a letter or digit)"
    );
}

#[test]
fn every_op_over_execute_in_protobuf() {
    require_docker();
    let agent = Agent::start("");
    let device = format!("test-{}", agent.url.rsplit(':').next().unwrap());
    let format = ctrmgr::codec::Format::Protobuf;
    contract::every_op(&contract::RestClient(&agent), format, &device);
}

#[test]
fn not_found_is_404_in_protobuf() {
    require_docker();
    let agent = Agent::start("");
    let start = Op::Start(pb::StartArgs {
        name: unique("nope"),
    });
    let (status, reply) = send(&agent, &request("a3", start));
    assert_eq!(status, 404, "{reply:?}");
    assert_eq!(error_code(&reply), ErrorCode::NotFound);
    assert_eq!(reply.id.as_deref(), Some("a3"));
}

#[test]
fn a_body_without_a_format_is_sniffed() {
    let agent = Agent::start("");
    // Protobuf sent as application/octet-stream: answered in Protobuf.
    let info = request("s1", Op::Info(pb::InfoArgs {})).encode_to_vec();
    let (status, reply) = send_bytes(&agent, &info, Some("application/octet-stream"));
    assert_eq!(status, 200, "{reply:?}");
    assert!(matches!(
        reply.outcome,
        Outcome::Ok {
            result: OpResult::Info(_),
            ..
        }
    ));
    // JSON after blanks with no Content-Type at all: answered in JSON.
    let body = " \n{\"id\":\"s2\",\"op\":\"info\"}";
    let port: u16 = agent.url.rsplit(':').next().unwrap().parse().unwrap();
    let answer = read_tcp(
        port,
        format!(
            "POST /v1/execute HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\
             Authorization: {}\r\nConnection: close\r\n\r\n{body}",
            body.len(),
            agent.bearer()
        )
        .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer}"
    );
    assert!(answer.contains(r#""id":"s2""#), "{answer}");
}

/// A client in another language: Python's own `protobuf` package, with classes that
/// grpcio-tools' protoc generates from proto/ctrmgr.proto, over plain HTTP.
#[test]
fn a_python_protobuf_client_is_understood() {
    let python = std::env::var("CTRMGR_PYTHON").unwrap_or_else(|_| {
        let dir = std::env::var("CTRMGR_SVC_DIR").unwrap_or("/tmp/ctrmgr-test-services".into());
        format!("{dir}/python/bin/python3")
    });
    assert!(
        std::path::Path::new(&python).exists(),
        "no {python}: run `scripts/services.sh up` (it installs protobuf and grpcio-tools there)"
    );
    let agent = Agent::start("");
    let out_dir = tempfile::tempdir().unwrap();
    let script = r#"
import json, sys, urllib.request, urllib.error
from grpc_tools import protoc
proto_dir, out_dir, url, auth = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
if protoc.main(["protoc", "-I" + proto_dir, "--python_out=" + out_dir, "ctrmgr.proto"]) != 0:
    sys.exit("protoc failed on ctrmgr.proto")
sys.path.insert(0, out_dir)
import ctrmgr_pb2 as pb

def call(request):
    http = urllib.request.Request(url + "/v1/execute", data=request.SerializeToString(),
                                  headers={"Content-Type": "application/x-protobuf",
                                           "Authorization": auth})
    try:
        res = urllib.request.urlopen(http, timeout=60)
    except urllib.error.HTTPError as e:
        res = e
    reply = pb.Reply()
    reply.ParseFromString(res.read())
    return res.status, res.headers["Content-Type"], reply

out = []
request = pb.Request(id="py-info")
request.info.SetInParent()
status, ctype, reply = call(request)
out.append({"status": status, "type": ctype, "id": reply.id, "ok": reply.ok,
            "result": reply.WhichOneof("result"), "runtimes": len(reply.info.runtimes)})
request = pb.Request(id="py-bad")
request.create.name = "--privileged"
request.create.image = "busybox"
status, ctype, reply = call(request)
out.append({"status": status, "id": reply.id, "ok": reply.ok,
            "code": reply.error.code, "message": reply.error.message})
print(json.dumps(out))
"#;
    let proto_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/proto");
    let out = std::process::Command::new(&python)
        .args([
            "-c",
            script,
            proto_dir,
            out_dir.path().to_str().unwrap(),
            &agent.url,
            &agent.bearer(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        agent.log()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["status"], 200, "{v}");
    assert_eq!(v[0]["type"], PROTOBUF, "{v}");
    assert_eq!(v[0]["id"], "py-info", "{v}");
    assert_eq!(v[0]["ok"], true, "{v}");
    assert_eq!(v[0]["result"], "info", "{v}");
    assert!(v[0]["runtimes"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v[1]["status"], 400, "{v}");
    assert_eq!(v[1]["id"], "py-bad", "{v}");
    assert_eq!(v[1]["ok"], false, "{v}");
    assert_eq!(v[1]["code"], "invalid_request", "{v}");
    assert!(
        v[1]["message"]
            .as_str()
            .unwrap()
            .starts_with("args.name: '--privileged'"),
        "{v}"
    );
}
