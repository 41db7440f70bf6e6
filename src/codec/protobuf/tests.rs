//! Unit tests of the Protobuf codec: the same refusal, in the same words, as JSON for
//! each kind of bad argument; sniffing of ids whose length byte is blank or `{`.

use super::wire::ctrmgr_v1 as pb;
use super::{decode_request, encode_reply};
use crate::codec::{json, Format};
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::reply::Reply;
use pb::request::Op;
use prost::Message;

fn proto(op: Op) -> Vec<u8> {
    pb::Request {
        op: Some(op),
        ..Default::default()
    }
    .encode_to_vec()
}

fn spec(name: &str, image: &str) -> pb::CreateArgs {
    pb::CreateArgs {
        name: name.into(),
        image: image.into(),
        ..Default::default()
    }
}

/// Decodes both forms; both must fail with the same message, which is returned.
fn same_refusal(json_text: &str, bytes: &[u8]) -> String {
    let from_json = json::decode_request(json_text.as_bytes()).unwrap_err();
    let from_proto = decode_request(bytes).unwrap_err();
    assert_eq!(from_proto.error.code, ErrorCode::InvalidRequest);
    assert_eq!(from_json.error, from_proto.error, "{json_text}");
    from_proto.error.message
}

#[test]
fn refuses_bad_arguments_as_json_does() {
    let bad_port = pb::CreateArgs {
        ports: vec![pb::PortMapping {
            host: 70000,
            container: 80,
            protocol: None,
        }],
        ..spec("a", "b")
    };
    let bad_protocol = pb::CreateArgs {
        ports: vec![pb::PortMapping {
            host: 80,
            container: 80,
            protocol: Some("sctp".into()),
        }],
        ..spec("a", "b")
    };
    let bad_mount = pb::CreateArgs {
        mounts: vec![pb::Mount {
            source: "../x".into(),
            target: "/x".into(),
            read_only: false,
        }],
        ..spec("a", "b")
    };
    let bad_policy = pb::CreateArgs {
        restart: Some(pb::RestartPolicy {
            policy: "sometimes".into(),
            max_retries: None,
        }),
        ..spec("a", "b")
    };
    let small_memory = pb::CreateArgs {
        resources: Some(pb::Resources {
            memory_bytes: Some(1024),
            ..Default::default()
        }),
        ..spec("a", "b")
    };
    let cases: Vec<(&str, Op)> = vec![
        (
            r#"{"op":"create","args":{"name":"--privileged","image":"busybox"}}"#,
            Op::Create(spec("--privileged", "busybox")),
        ),
        (
            r#"{"op":"create","args":{"name":"a","image":"-x"}}"#,
            Op::Create(spec("a", "-x")),
        ),
        (
            r#"{"op":"create","args":{"image":"b"}}"#,
            Op::Create(spec("", "b")),
        ),
        (
            r#"{"op":"create","args":{"name":"a","image":"b","ports":[{"host":70000,"container":80}]}}"#,
            Op::Create(bad_port),
        ),
        (
            r#"{"op":"create","args":{"name":"a","image":"b","ports":[{"host":80,"container":80,"protocol":"sctp"}]}}"#,
            Op::Create(bad_protocol),
        ),
        (
            r#"{"op":"create","args":{"name":"a","image":"b","mounts":[{"source":"../x","target":"/x"}]}}"#,
            Op::Create(bad_mount),
        ),
        (
            r#"{"op":"create","args":{"name":"a","image":"b","restart":{"policy":"sometimes"}}}"#,
            Op::Create(bad_policy),
        ),
        (
            r#"{"op":"create","args":{"name":"a","image":"b","resources":{"memory_bytes":1024}}}"#,
            Op::Create(small_memory),
        ),
        (
            r#"{"op":"stop","args":{"name":"a","timeout_s":3601}}"#,
            Op::Stop(pb::StopArgs {
                name: "a".into(),
                timeout_s: Some(3601),
            }),
        ),
        (
            r#"{"op":"kill","args":{"name":"a","signal":"SIGFOO"}}"#,
            Op::Kill(pb::KillArgs {
                name: "a".into(),
                signal: Some("SIGFOO".into()),
            }),
        ),
        (
            r#"{"op":"logs","args":{"name":"a","since":"--x"}}"#,
            Op::Logs(pb::LogsArgs {
                name: "a".into(),
                tail: None,
                since: Some("--x".into()),
            }),
        ),
        (
            r#"{"op":"list","args":{"label":"nolabel"}}"#,
            Op::List(pb::ListArgs {
                all: false,
                label: Some("nolabel".into()),
            }),
        ),
        (
            r#"{"op":"pull","args":{"image":"UPPER"}}"#,
            Op::Pull(pb::PullArgs {
                image: "UPPER".into(),
                auth: None,
                progress: false,
            }),
        ),
    ];
    for (json_text, op) in cases {
        same_refusal(json_text, &proto(op));
    }
    let bad_runtime = pb::Request {
        runtime: Some("lxc".into()),
        op: Some(Op::Info(pb::InfoArgs {})),
        ..Default::default()
    };
    let message = same_refusal(
        r#"{"op":"info","runtime":"lxc"}"#,
        &bad_runtime.encode_to_vec(),
    );
    assert!(message.starts_with("runtime:"));
    let long_id = pb::Request {
        id: Some("a".repeat(129)),
        op: Some(Op::Info(pb::InfoArgs {})),
        ..Default::default()
    };
    let json_text = format!(r#"{{"id":"{}","op":"info"}}"#, "a".repeat(129));
    assert_eq!(
        same_refusal(&json_text, &long_id.encode_to_vec()),
        "id: longer than 128 bytes"
    );
}

#[test]
fn keeps_the_id_and_names_op_when_none_is_set() {
    let bytes = pb::Request {
        id: Some("x9".into()),
        ..Default::default()
    }
    .encode_to_vec();
    let e = decode_request(&bytes).unwrap_err();
    assert_eq!(e.id.as_deref(), Some("x9"));
    assert!(
        e.error.message.starts_with("op: no op is set"),
        "{}",
        e.error.message
    );
}

#[test]
fn wrong_types_and_garbage_say_not_protobuf() {
    // create (5) holding a varint instead of a message.
    let e = decode_request(&[0x28, 0x01]).unwrap_err();
    assert_eq!(e.error.code, ErrorCode::InvalidRequest);
    assert!(
        e.error
            .message
            .starts_with("request is not valid Protobuf: "),
        "{}",
        e.error.message
    );
    assert!(!e.error.message.contains("failed to decode"));
    // A start group (field 15, `{`) is never part of ctrmgr.v1.
    let e = decode_request(b"{\"op\":\"info\"}").unwrap_err();
    assert_eq!(e.error.code, ErrorCode::InvalidRequest);
}

#[test]
fn ids_whose_length_byte_is_blank_or_a_brace_still_sniff_as_protobuf() {
    for len in [9, 10, 12, 13, 32, 123] {
        let request = pb::Request {
            id: Some("{".repeat(len)),
            op: Some(Op::Info(pb::InfoArgs {})),
            ..Default::default()
        };
        let bytes = request.encode_to_vec();
        assert_eq!(Format::sniff(&bytes), Format::Protobuf, "id of {len} bytes");
        assert_eq!(
            decode_request(&bytes).unwrap().id.map(String::from),
            request.id
        );
    }
    let reply = Reply::err(
        Some("{".repeat(123)),
        ErrorBody::new(ErrorCode::Internal, "x"),
    );
    assert_eq!(Format::sniff(&encode_reply(&reply)), Format::Protobuf);
}
