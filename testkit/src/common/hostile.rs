//! The bad-input cases of the contract, shared by every transport's tests (REST, D-Bus,
//! POSIX MQ): each is a label, a request envelope (or raw bytes) and the error code the
//! reply must carry. None of them may change a record or reach an engine.

use super::{unique, IMAGE};
use serde_json::{json, Value};

/// Names that must never reach an engine (option-looking, shell, traversal, empty).
pub const HOSTILE_NAMES: [&str; 10] = [
    "--privileged",
    "-x",
    "a;rm -rf /",
    ";rm -rf /",
    "../x",
    "$(id)",
    "a b",
    "",
    "`id`",
    "a/b",
];

/// Image references that must be refused.
pub const HOSTILE_IMAGES: [&str; 6] = [
    "bad image",
    "-x",
    "--privileged",
    "UPPER/case",
    "a:b:c:d",
    "busybox;id",
];

/// Request bytes that are not a valid JSON envelope, with the code expected (the
/// oversized case is the transport's own: each has its limit).
pub fn malformed_json() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("malformed JSON", b"{nope".to_vec(), "invalid_request"),
        (
            "truncated JSON",
            br#"{"op":"create","args":{"name":"x""#.to_vec(),
            "invalid_request",
        ),
        ("not an object", b"[1,2,3]".to_vec(), "invalid_request"),
        ("empty body", b"".to_vec(), "invalid_request"),
        (
            "binary garbage",
            vec![0xff, 0xfe, 0x00, 0x7b],
            "invalid_request",
        ),
    ]
}

/// Well-formed JSON envelopes the agent must refuse, with the code expected.
/// `existing` names a container the test created (the duplicate-name case).
pub fn envelopes(existing: &str) -> Vec<(String, Value, &'static str)> {
    let mut cases: Vec<(String, Value, &'static str)> = Vec::new();
    for n in HOSTILE_NAMES {
        cases.push((
            format!("create name {n:?}"),
            json!({"op": "create", "args": {"name": n, "image": IMAGE}}),
            "invalid_request",
        ));
        cases.push((
            format!("start name {n:?}"),
            json!({"op": "start", "args": {"name": n}}),
            "invalid_request",
        ));
    }
    for img in HOSTILE_IMAGES {
        cases.push((
            format!("image {img:?}"),
            json!({"op": "create", "args": {"name": "ok-name", "image": img}}),
            "invalid_request",
        ));
        cases.push((
            format!("pull {img:?}"),
            json!({"op": "pull", "args": {"image": img}}),
            "invalid_request",
        ));
    }
    let more = [
        ("unknown op", json!({"op": "explode"}), "invalid_request"),
        ("missing op", json!({"args": {}}), "invalid_request"),
        ("op wrong type", json!({"op": 7}), "invalid_request"),
        (
            "unknown envelope field",
            json!({"op": "info", "extra": 1}),
            "invalid_request",
        ),
        (
            "unknown args field",
            json!({"op": "start", "args": {"name": "x", "bogus": true}}),
            "invalid_request",
        ),
        (
            "prune_images dry_run wrong type",
            json!({"op": "prune_images", "args": {"dry_run": "yes"}}),
            "invalid_request",
        ),
        (
            "prune_images unknown field",
            json!({"op": "prune_images", "args": {"all": true}}),
            "invalid_request",
        ),
        (
            "pull progress wrong type",
            json!({"op": "pull", "args": {"image": IMAGE, "progress": 1}}),
            "invalid_request",
        ),
        (
            "unknown spec field",
            json!({"op": "create", "args": {"name": "x", "image": IMAGE, "cap_add": ["ALL"]}}),
            "invalid_request",
        ),
        (
            "wrong type port",
            json!({"op": "create", "args": {"name": "x", "image": IMAGE, "ports": [{"host": "80", "container": 80}]}}),
            "invalid_request",
        ),
        (
            "port out of range",
            json!({"op": "create", "args": {"name": "x", "image": IMAGE, "ports": [{"host": 70000, "container": 80}]}}),
            "invalid_request",
        ),
        (
            "relative mount",
            json!({"op": "create", "args": {"name": "x", "image": IMAGE, "mounts": [{"source": "etc", "target": "/x"}]}}),
            "invalid_request",
        ),
        (
            "traversal mount",
            json!({"op": "create", "args": {"name": "x", "image": IMAGE, "mounts": [{"source": "/tmp/../etc", "target": "/x"}]}}),
            "invalid_request",
        ),
        (
            "tiny memory",
            json!({"op": "create", "args": {"name": "x", "image": IMAGE, "resources": {"memory_bytes": 1}}}),
            "invalid_request",
        ),
        (
            "negative timeout",
            json!({"op": "stop", "args": {"name": "x", "timeout_s": -1}}),
            "invalid_request",
        ),
        (
            "bad signal",
            json!({"op": "kill", "args": {"name": "x", "signal": "--rm"}}),
            "invalid_request",
        ),
        (
            "bad since",
            json!({"op": "logs", "args": {"name": "x", "since": "--follow"}}),
            "invalid_request",
        ),
        (
            "unknown runtime",
            json!({"op": "info", "runtime": "lxc"}),
            "invalid_request",
        ),
        (
            "id too long",
            json!({"op": "info", "id": "x".repeat(129)}),
            "invalid_request",
        ),
        (
            "env key option",
            json!({"op": "create", "args": {"name": "x", "image": IMAGE, "env": {"--privileged": "1"}}}),
            "invalid_request",
        ),
        (
            "user option",
            json!({"op": "create", "args": {"name": "x", "image": IMAGE, "user": "--privileged"}}),
            "invalid_request",
        ),
        (
            "missing container",
            json!({"op": "start", "args": {"name": "no-such-container-here"}}),
            "not_found",
        ),
        (
            "missing container logs",
            json!({"op": "logs", "args": {"name": "no-such-container-here"}}),
            "not_found",
        ),
        (
            "duplicate name",
            json!({"op": "create", "args": {"name": existing, "image": IMAGE}}),
            "conflict",
        ),
        (
            "missing image",
            json!({"op": "create", "args": {"name": unique("noimg"), "image": "ctrmgr-test/nothing:here"}}),
            "not_found",
        ),
        (
            "deployment duplicate names",
            json!({"op": "apply", "args": {"deployment": {"generation": 1, "containers": [
                {"name": "d-x", "image": IMAGE}, {"name": "d-x", "image": IMAGE}]}}}),
            "invalid_request",
        ),
        (
            "deployment unknown field",
            json!({"op": "apply", "args": {"deployment": {"generation": 1, "containers": [
                {"name": "d-x", "image": IMAGE, "cap_add": ["ALL"]}]}}}),
            "invalid_request",
        ),
        (
            "deployment negative order",
            json!({"op": "apply", "args": {"deployment": {"generation": 1, "containers": [
                {"name": "d-x", "image": IMAGE, "order": -1}]}}}),
            "invalid_request",
        ),
        (
            "deployment generation 0",
            json!({"op": "apply", "args": {"deployment": {"generation": 0, "containers": []}}}),
            "invalid_request",
        ),
        (
            "deployment takes an imperative name",
            json!({"op": "apply", "args": {"deployment": {"generation": 1, "containers": [
                {"name": existing, "image": IMAGE}]}}}),
            "conflict",
        ),
        (
            "deployment args",
            json!({"op": "deployment", "args": {"generation": 1}}),
            "invalid_request",
        ),
    ];
    cases.extend(more.into_iter().map(|(l, v, c)| (l.to_owned(), v, c)));
    cases
}
