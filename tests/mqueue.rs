//! POSIX message queue transport against real queues and dockerd: every op in JSON,
//! Protobuf requests, concurrent clients, a full and a vanished reply queue, an oversized
//! reply, garbage and every hostile input of the contract, the no-`reply_to` rule, the
//! queue's mode and group, its removal at SIGTERM, and a Python `posix_ipc` client.

use ctrmgr_testkit::{common, mqueue_support};

use common::{code, contract, docker_has, docker_rm, require_docker, unique, Agent, IMAGE};
use common::{hostile, protobuf_envelope};
use ctrmgr::codec::protobuf::wire::{ctrmgr_v1 as pb, Message};
use ctrmgr::codec::Format;
use mqueue_support::{metric, queue_name, send, start_agent, start_agent_on};
use mqueue_support::{MqueueClient, ReplyQueue, UNANSWERABLE};
use nix::errno::Errno;
use nix::mqueue::{mq_close, mq_getattr, mq_open, MQ_OFlag, MqAttr};
use nix::sys::stat::{fstat, Mode};
use pb::reply::Result as Answer;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const FULL: &str = "ctrmgr_mqueue_reply_queue_full_total";
const MISSING: &str = "ctrmgr_mqueue_reply_queue_missing_total";
const TOO_LARGE: &str = "ctrmgr_mqueue_reply_too_large_total";
const FOREIGN: &str = "ctrmgr_mqueue_reply_queue_foreign_total";

/// Removes the named containers when dropped, also when an assertion failed.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        self.0.iter().for_each(|n| docker_rm(n));
    }
}

/// Waits until the agent's metric `name` reaches `want`, and checks it does not pass it.
fn wait_metric(agent: &Agent, name: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = metric(agent, name);
        assert!(n <= want, "{name} is {n}, more than {want}");
        if n == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed at {n}, expected {want}:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts the agent still answers over the queue.
fn assert_serving(agent: &Agent, queue: &str) {
    let client = ReplyQueue::standard();
    let r = client.call(agent, queue, json!({"id": "still-there", "op": "info"}));
    assert_eq!(
        (&r["id"], &r["ok"]),
        (&json!("still-there"), &json!(true)),
        "{r}"
    );
}

fn ok_result(r: &Value, what: &str) -> Value {
    assert_eq!(r["ok"], true, "{what}: {r}");
    r["result"].clone()
}

#[test]
fn every_op_in_json() {
    require_docker();
    let (agent, queue) = start_agent("");
    let device = format!("test-{}", agent.url.rsplit(':').next().unwrap());
    let client = MqueueClient {
        agent: &agent,
        queue,
        replies: ReplyQueue::standard(),
    };
    contract::every_op(&client, Format::Json, &device);
    assert_eq!(client.replies.pending(), 0, "exactly one reply per request");
}

#[test]
fn protobuf_requests_get_protobuf_replies() {
    require_docker();
    let (agent, queue) = start_agent("");
    let client = ReplyQueue::standard();
    let name = unique("mq-pb");
    let _cleanup = Containers(vec![name.clone()]);
    let request = |envelope: Value| {
        let mut request = protobuf_envelope::request(&envelope).unwrap();
        request.reply_to = Some(client.name.clone());
        request.encode_to_vec()
    };
    let call = |bytes: Vec<u8>| {
        send(&queue, &bytes);
        pb::Reply::decode(client.receive(&agent).as_slice()).unwrap()
    };

    let info = call(request(json!({"id": "pb-info", "op": "info"})));
    assert_eq!(
        (
            info.id.as_deref(),
            info.ok,
            matches!(info.result, Some(Answer::Info(_)))
        ),
        (Some("pb-info"), true, true)
    );
    let create_envelope = json!({"id": "pb-create", "op": "create", "args": {"name": name,
        "image": IMAGE, "cmd": ["sleep", "300"], "network": "none", "start": true}});
    let create = call(request(create_envelope.clone()));
    assert!(
        create.ok && matches!(create.result, Some(Answer::Container(_))),
        "{create:?}"
    );
    assert!(docker_has(&name));
    let list = call(request(
        json!({"id": "pb-list", "op": "list", "args": {"all": true}}),
    ));
    let Some(Answer::List(listed)) = &list.result else {
        panic!("{list:?}");
    };
    assert!(list.ok);
    assert!(listed.containers.iter().any(|c| c.name == name));

    let error = |reply: &pb::Reply| match &reply.result {
        Some(Answer::Error(e)) => e.code.clone(),
        other => panic!("expected an error, got {other:?}"),
    };
    let missing =
        json!({"id": "pb-missing", "op": "start", "args": {"name": "no-such-container-here"}});
    let r = call(request(missing));
    assert_eq!(
        (r.id.as_deref(), r.ok, error(&r).as_str()),
        (Some("pb-missing"), false, "not_found")
    );
    let hostile = json!({"id": "pb-hostile", "op": "start", "args": {"name": "--privileged"}});
    let r = call(request(hostile));
    assert_eq!(error(&r), "invalid_request", "{r:?}");
    // An unknown field and a truncated message still carry a readable reply_to.
    let mut unknown = request(json!({"id": "pb-unknown", "op": "info"}));
    unknown.extend([0x98, 0x06, 0x01]); // field 99, varint 1
    assert_eq!(error(&call(unknown)), "invalid_request");
    let mut truncated = request(create_envelope);
    truncated.truncate(truncated.len() - 5);
    assert_eq!(error(&call(truncated)), "invalid_request");

    let removed = call(request(
        json!({"id": "pb-remove", "op": "remove", "args": {"name": name, "force": true}}),
    ));
    assert!(
        removed.ok && matches!(removed.result, Some(Answer::Remove(_))),
        "{removed:?}"
    );
    assert!(!docker_has(&name));
    // Garbage names no reply queue: counted, and the agent goes on.
    send(&queue, &[0xff, 0xfe, 0x00, 0x7b]);
    wait_metric(&agent, UNANSWERABLE, 1);
    assert_serving(&agent, &queue);
    assert_eq!(client.pending(), 0);
}

#[test]
fn concurrent_clients_each_get_their_own_replies() {
    let (agent, queue) = start_agent("");
    std::thread::scope(|s| {
        for t in 0..6 {
            let (agent, queue) = (&agent, &queue);
            s.spawn(move || {
                let client = ReplyQueue::create(5, 2048);
                let mut want: Vec<String> = (0..5).map(|i| format!("c{t}-{i}")).collect();
                for id in &want {
                    let envelope = json!({"id": id, "op": "info", "reply_to": client.name});
                    send(queue, envelope.to_string().as_bytes());
                }
                let mut got: Vec<String> = (0..5)
                    .map(|_| {
                        client.receive_json(agent)["id"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "client {t}");
                assert_eq!(client.pending(), 0, "client {t}: no stray reply");
            });
        }
    });
}

#[test]
fn full_reply_queue_is_counted_and_others_are_served() {
    let (agent, queue) = start_agent("");
    let slow = ReplyQueue::create(1, 8192);
    for i in 0..3 {
        let envelope = json!({"id": format!("full-{i}"), "op": "info", "reply_to": slow.name});
        send(&queue, envelope.to_string().as_bytes());
    }
    wait_metric(&agent, FULL, 2);
    assert_serving(&agent, &queue);
    let kept = slow.receive_json(&agent);
    assert!(kept["id"].as_str().unwrap().starts_with("full-"), "{kept}");
    assert_eq!(slow.pending(), 0);
    assert!(agent.log().contains("is full"), "the drop is logged");
}

#[test]
fn vanished_client_is_counted_and_others_are_served() {
    let (agent, queue) = start_agent("");
    let gone = ReplyQueue::standard();
    let name = gone.name.clone();
    drop(gone);
    send(
        &queue,
        json!({"id": "v1", "op": "info", "reply_to": name})
            .to_string()
            .as_bytes(),
    );
    wait_metric(&agent, MISSING, 1);
    assert_serving(&agent, &queue);
}

#[test]
fn oversized_reply_becomes_too_large_and_the_id_fetches_it_later() {
    require_docker();
    let (agent, queue) = start_agent("");
    let client = ReplyQueue::standard();
    let name = unique("mq-big");
    let _cleanup = Containers(vec![name.clone()]);
    let create = client.call(
        &agent,
        &queue,
        json!({"op": "create", "args": {"name": name, "labels": {"mq-test": name},
        "image": IMAGE, "cmd": ["sleep", "300"], "network": "none"}}),
    );
    ok_result(&create, "create");
    let tiny = ReplyQueue::create(2, 128);
    let envelope = json!({"id": format!("big-{name}"), "op": "list",
        "args": {"all": true, "label": format!("mq-test={name}")}});
    let r = tiny.call(&agent, &queue, envelope.clone());
    assert_eq!((code(&r), &r["id"]), ("too_large", &envelope["id"]), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mq_msgsize"),
        "{r}"
    );
    wait_metric(&agent, TOO_LARGE, 1);
    // Sent again with the same id to a queue that fits, the reply arrives whole.
    let r = client.call(&agent, &queue, envelope.clone());
    assert_eq!(r["id"], envelope["id"]);
    assert!(ok_result(&r, "list")["containers"]
        .to_string()
        .contains(&name));
}

#[test]
fn every_hostile_input_gets_its_code_and_nothing_is_lost() {
    require_docker();
    let (agent, queue) = start_agent("");
    let client = ReplyQueue::standard();
    let existing = unique("mq-bad");
    let _cleanup = Containers(vec![existing.clone()]);
    let create = client.call(
        &agent,
        &queue,
        json!({"op": "create", "args": {"name": existing, "labels": {"mq-test": existing},
        "image": IMAGE, "cmd": ["sleep", "300"], "network": "none"}}),
    );
    ok_result(&create, "create");
    let label = format!("mq-test={existing}");
    let list = json!({"op": "list", "args": {"all": true, "label": label}});
    let before = client.call(&agent, &queue, list.clone());

    for (label, envelope, want) in hostile::envelopes(&existing) {
        let r = client.call(&agent, &queue, envelope);
        assert_eq!(code(&r), want, "{label}: {r}");
        assert!(
            !r["error"]["message"].as_str().unwrap().is_empty(),
            "{label}"
        );
    }
    let r = client.call(
        &agent,
        &queue,
        json!({"id": "keep-me", "op": "start", "args": {"name": "-x"}}),
    );
    assert_eq!((code(&r), &r["id"]), ("invalid_request", &json!("keep-me")));
    // Bytes that are no envelope name no reply queue: each is counted, none answered.
    let malformed = hostile::malformed_json();
    let garbage_protobuf: [&[u8]; 3] = [&[0xff, 0xfe, 0x00, 0x7b], &[0x22, 40, b'/'], &[0x80; 12]];
    for (_, bytes, _) in &malformed {
        send(&queue, bytes);
    }
    for bytes in garbage_protobuf {
        send(&queue, bytes);
    }
    wait_metric(
        &agent,
        UNANSWERABLE,
        (malformed.len() + garbage_protobuf.len()) as u64,
    );
    assert_serving(&agent, &queue);

    let after = client.call(&agent, &queue, list);
    assert_eq!(
        after["result"]["containers"].as_array().map(Vec::len),
        Some(1),
        "{after}"
    );
    assert_eq!(after, before, "no record changed");
    for never in ["ok-name", "x"] {
        let r = client.call(
            &agent,
            &queue,
            json!({"op": "inspect", "args": {"name": never}}),
        );
        assert_eq!(code(&r), "not_found", "no record for {never}: {r}");
    }
    assert!(!docker_has("ok-name"), "nothing reached the engine");
    assert_eq!(client.pending(), 0, "exactly one reply per request");
}

#[test]
fn without_reply_to_only_requests_with_an_id_run() {
    require_docker();
    let (agent, queue) = start_agent("");
    let (fired, refused) = (unique("mq-fire"), unique("mq-refused"));
    let _cleanup = Containers(vec![fired.clone(), refused.clone()]);
    let create = |name: &str| {
        json!({"op": "create", "args": {"name": name, "image": IMAGE,
        "cmd": ["sleep", "300"], "network": "none"}})
    };

    let mut with_id = create(&fired);
    with_id["id"] = json!(format!("fire-{fired}"));
    send(&queue, with_id.to_string().as_bytes());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !docker_has(&fired) {
        assert!(
            Instant::now() < deadline,
            "{fired} never created:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The same id with a reply_to returns the stored reply; the create does not run again.
    let client = ReplyQueue::standard();
    let r = client.call(&agent, &queue, with_id.clone());
    assert_eq!(r["id"], with_id["id"]);
    assert_eq!(ok_result(&r, "stored create")["name"], fired);

    send(&queue, create(&refused).to_string().as_bytes());
    wait_metric(&agent, UNANSWERABLE, 1);
    assert_serving(&agent, &queue);
    assert!(
        !docker_has(&refused),
        "a request nobody can be told about is not run"
    );
}

#[test]
fn queue_has_the_configured_mode_and_group_and_replaces_a_stale_one() {
    let queue = queue_name("req");
    // A stale queue with other attributes, as a crashed agent of another config left it.
    let attr = MqAttr::new(0, 2, 256, 0);
    let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL;
    let stale = mq_open(
        queue.as_str(),
        flags,
        Mode::from_bits_truncate(0o600),
        Some(&attr),
    )
    .unwrap();
    mq_close(stale).unwrap();
    let daemon = nix::unistd::Group::from_name("daemon")
        .unwrap()
        .expect("group daemon exists");
    // 0o620 under the test's umask (022) would lose the group's write bit: the agent sets
    // the mode exactly.
    let (mut agent, queue) = start_agent_on(queue, "mode = 0o620\ngroup = \"daemon\"\n");
    let mqd = mq_open(queue.as_str(), MQ_OFlag::O_WRONLY, Mode::empty(), None).unwrap();
    let stat = fstat(&mqd).unwrap();
    let attr = mq_getattr(&mqd).unwrap();
    mq_close(mqd).unwrap();
    assert_eq!(stat.st_mode & 0o7777, 0o620);
    assert_eq!(stat.st_gid, daemon.gid.as_raw());
    assert_eq!(
        (attr.maxmsg(), attr.msgsize()),
        (2, 8192),
        "recreated as configured"
    );
    assert_serving(&agent, &queue);

    let status = agent.stop();
    assert!(status.success(), "{status}");
    let e = mq_open(queue.as_str(), MQ_OFlag::O_WRONLY, Mode::empty(), None).unwrap_err();
    assert_eq!(e, Errno::ENOENT, "the request queue is unlinked at SIGTERM");
}

#[test]
fn a_python_posix_ipc_client_gets_its_reply() {
    let python = std::env::var("CTRMGR_PYTHON").unwrap_or_else(|_| {
        let dir = std::env::var("CTRMGR_SVC_DIR").unwrap_or("/tmp/ctrmgr-test-services".into());
        format!("{dir}/python/bin/python3")
    });
    assert!(
        std::path::Path::new(&python).exists(),
        "no {python}: run `scripts/services.sh up` (it installs posix_ipc in that venv)"
    );
    let (agent, queue) = start_agent("");
    let reply_queue = queue_name("py");
    let script = r#"
import json, sys, posix_ipc
request_queue, reply_name = sys.argv[1], sys.argv[2]
reply = posix_ipc.MessageQueue(reply_name, posix_ipc.O_CREX, mode=0o600,
                               max_messages=2, max_message_size=8192)
try:
    requests = posix_ipc.MessageQueue(request_queue)
    requests.send(json.dumps({"id": "py-1", "op": "info", "reply_to": reply_name}))
    requests.close()
    message, _ = reply.receive(120)
    print(message.decode())
finally:
    reply.close()
    reply.unlink()
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, &queue, &reply_queue])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        agent.log()
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&r["id"], &r["ok"]), (&json!("py-1"), &json!(true)), "{r}");
    assert!(r["result"]["device_id"].is_string(), "{r}");
}

/// A `reply_to` naming another user's queue (uid 65534, who may not send requests) gets
/// nothing written into it: the agent checks the opened queue's owner (fstat), logs and
/// counts; its own users' queues still get their replies.
#[test]
fn a_reply_queue_of_another_user_is_not_written_to() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs as root (the test command does)"
    );
    let (agent, queue) = start_agent("");
    let name = queue_name("foreign");
    let flags = MQ_OFlag::O_RDONLY | MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_NONBLOCK;
    let attr = MqAttr::new(0, 2, 8192, 0);
    let mqd = mq_open(
        name.as_str(),
        flags,
        Mode::from_bits_truncate(0o622),
        Some(&attr),
    )
    .unwrap();
    nix::unistd::fchown(
        std::os::fd::AsFd::as_fd(&mqd),
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .unwrap();
    send(
        &queue,
        json!({"id": "foreign-1", "op": "info", "reply_to": name})
            .to_string()
            .as_bytes(),
    );
    wait_metric(&agent, FOREIGN, 1);
    assert_eq!(
        mq_getattr(&mqd).unwrap().curmsgs(),
        0,
        "a reply was written"
    );
    mq_close(mqd).unwrap();
    let _ = nix::mqueue::mq_unlink(name.as_str());
    assert!(
        agent.log().contains("belongs to uid 65534"),
        "{}",
        agent.log()
    );
    assert_serving(&agent, &queue);
}
