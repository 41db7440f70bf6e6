//! Property tests: generated requests (every op, specs with every field) decode to the
//! same `Request` from JSON and from Protobuf, or fail with the same error; garbage,
//! truncated and wrong-typed Protobuf is `invalid_request`, never a panic; replies
//! survive encode then decode.

use super::wire::ctrmgr_v1 as pb;
use super::{decode_reply, decode_request, encode_reply};
use crate::codec::{json, Format};
use crate::core::error::{ErrorBody, ErrorCode};
use crate::core::model::{Container, ContainerSpec, ImageInfo, RuntimeKind, RuntimeStatus};
use crate::core::reply::{Info, OpResult, Reply};
use pb::request::Op;
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use prost::Message;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A request in both encodings.
#[derive(Debug, Clone)]
struct Pair {
    json: Value,
    proto: pb::Request,
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}"
}

fn image() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("busybox".to_owned()),
        Just("ctrmgr-test/busybox:latest".to_owned()),
        Just("127.0.0.1:5000/nginx:1".to_owned()),
        "[a-z0-9]{1,8}(/[a-z0-9]{1,8})?(:[a-z0-9][a-z0-9.]{0,6})?",
    ]
}

fn abs_path() -> impl Strategy<Value = String> {
    "(/[a-z0-9_]{1,8}){1,3}"
}

fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,12}"
}

fn string_map(keys: &'static str) -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(keys, text(), 0..4)
}

/// JSON args of a spec and the same spec in Protobuf.
fn spec() -> impl Strategy<Value = (Map<String, Value>, pb::ContainerSpec)> {
    let ports = vec(
        (
            1u16..=65535,
            1u16..=65535,
            of(prop_oneof![Just("tcp"), Just("udp")]),
        ),
        0..3,
    );
    let mounts = vec((abs_path(), abs_path(), any::<bool>()), 0..3);
    let restart = of((
        prop_oneof![
            Just("no"),
            Just("always"),
            Just("on-failure"),
            Just("unless-stopped")
        ],
        of(0u32..10),
    ));
    let resources = of((of(1u64 << 20..1u64 << 32), of(0u64..4000), of(0u64..1000)));
    let head = (name(), image(), vec(text(), 0..3), vec(text(), 0..2));
    let maps = (
        string_map("[A-Z_][A-Z0-9_]{0,8}"),
        string_map("[a-z][a-z0-9.]{0,10}"),
    );
    let tail = (
        of(prop_oneof![Just("bridge"), Just("host"), Just("none")]),
        of("[a-z][a-z0-9]{0,8}(:[0-9]{1,4})?"),
        of(abs_path()),
        any::<bool>(),
        vec(abs_path(), 0..3),
    );
    (head, maps, ports, mounts, restart, resources, tail).prop_map(
        |(head, maps, ports, mounts, restart, resources, tail)| {
            let (name, image, cmd, entrypoint) = head;
            let (env, labels) = maps;
            let (network, user, workdir, privileged, devices) = tail;
            let mut j = Map::new();
            j.insert("name".into(), json!(name));
            j.insert("image".into(), json!(image));
            j.insert("cmd".into(), json!(cmd));
            j.insert("entrypoint".into(), json!(entrypoint));
            j.insert("env".into(), json!(env));
            j.insert("labels".into(), json!(labels));
            let port_values: Vec<Value> = ports
                .iter()
                .map(|(h, c, p)| match p {
                    Some(p) => json!({"host": h, "container": c, "protocol": p}),
                    None => json!({"host": h, "container": c}),
                })
                .collect();
            j.insert("ports".into(), Value::Array(port_values));
            let mount_values: Vec<Value> = mounts
                .iter()
                .map(|(s, t, r)| json!({"source": s, "target": t, "read_only": r}))
                .collect();
            j.insert("mounts".into(), Value::Array(mount_values));
            if let Some((policy, retries)) = restart {
                let mut r = json!({"policy": policy});
                if let Some(n) = retries {
                    r["max_retries"] = json!(n);
                }
                j.insert("restart".into(), r);
            }
            if let Some((m, c, p)) = resources {
                let mut r = Map::new();
                for (key, value) in [("memory_bytes", m), ("cpu_millis", c), ("pids_limit", p)] {
                    if let Some(v) = value {
                        r.insert(key.into(), json!(v));
                    }
                }
                j.insert("resources".into(), Value::Object(r));
            }
            let optional = [
                ("network", network),
                ("user", user.as_deref()),
                ("workdir", workdir.as_deref()),
            ];
            for (key, value) in optional {
                if let Some(v) = value {
                    j.insert(key.into(), json!(v));
                }
            }
            j.insert("privileged".into(), json!(privileged));
            j.insert("devices".into(), json!(devices));
            let proto = pb::ContainerSpec {
                name,
                image,
                cmd,
                entrypoint,
                env,
                ports: ports
                    .into_iter()
                    .map(|(h, c, p)| pb::PortMapping {
                        host: h.into(),
                        container: c.into(),
                        protocol: p.map(str::to_owned),
                    })
                    .collect(),
                mounts: mounts
                    .into_iter()
                    .map(|(source, target, read_only)| pb::Mount {
                        source,
                        target,
                        read_only,
                    })
                    .collect(),
                restart: restart.map(|(policy, max_retries)| pb::RestartPolicy {
                    policy: policy.to_owned(),
                    max_retries,
                }),
                resources: resources.map(|(memory_bytes, cpu_millis, pids_limit)| pb::Resources {
                    memory_bytes,
                    cpu_millis,
                    pids_limit,
                }),
                labels,
                network: network.map(str::to_owned),
                user,
                workdir,
                privileged,
                devices,
                // Health checks round-trip in `super::health`'s tests.
                health: None,
            };
            (j, proto)
        },
    )
}

fn create() -> impl Strategy<Value = (String, Value, Op)> {
    (spec(), any::<bool>()).prop_map(|((mut args, s), start)| {
        args.insert("start".into(), json!(start));
        let op = Op::Create(pb::CreateArgs {
            name: s.name,
            image: s.image,
            cmd: s.cmd,
            entrypoint: s.entrypoint,
            env: s.env,
            ports: s.ports,
            mounts: s.mounts,
            restart: s.restart,
            resources: s.resources,
            labels: s.labels,
            network: s.network,
            user: s.user,
            workdir: s.workdir,
            privileged: s.privileged,
            devices: s.devices,
            start,
            health: s.health,
        });
        ("create".to_owned(), Value::Object(args), op)
    })
}

/// Every op but create: its name, JSON args and Protobuf op.
fn simple_op() -> impl Strategy<Value = (String, Value, Op)> {
    let op = |o: &str, args: Value, op: Op| (o.to_owned(), args, op);
    let signal = prop_oneof![Just("SIGTERM"), Just("term"), Just("9"), Just("SIGHUP")];
    let since = prop_oneof![
        Just("2026-11-29T10:00:00Z"),
        Just("2026-01-02T03:04:05.123+01:00")
    ];
    prop_oneof![
        name().prop_map(move |n| op("start", json!({"name": n}), Op::Start(pb::StartArgs { name: n.clone() }))),
        name().prop_map(move |n| op("inspect", json!({"name": n}), Op::Inspect(pb::InspectArgs { name: n.clone() }))),
        name().prop_map(move |n| op("stats", json!({"name": n}), Op::Stats(pb::StatsArgs { name: n.clone() }))),
        (name(), of(0u32..=3600)).prop_map(move |(n, t)| op(
            "stop",
            json!({"name": n, "timeout_s": t}),
            Op::Stop(pb::StopArgs { name: n, timeout_s: t })
        )),
        (name(), of(0u32..=3600)).prop_map(move |(n, t)| op(
            "restart",
            json!({"name": n, "timeout_s": t}),
            Op::Restart(pb::RestartArgs { name: n, timeout_s: t })
        )),
        (name(), of(signal)).prop_map(move |(n, s)| op(
            "kill",
            json!({"name": n, "signal": s}),
            Op::Kill(pb::KillArgs { name: n, signal: s.map(str::to_owned) })
        )),
        (name(), any::<bool>()).prop_map(move |(n, f)| op(
            "remove",
            json!({"name": n, "force": f}),
            Op::Remove(pb::RemoveArgs { name: n, force: f })
        )),
        (any::<bool>(), of("[a-z][a-z0-9.]{0,8}=[a-z0-9]{0,6}")).prop_map(move |(a, l)| op(
            "list",
            json!({"all": a, "label": l}),
            Op::List(pb::ListArgs { all: a, label: l })
        )),
        (name(), of(0u32..10_000), of(since)).prop_map(move |(n, t, s)| op(
            "logs",
            json!({"name": n, "tail": t, "since": s}),
            Op::Logs(pb::LogsArgs { name: n, tail: t, since: s.map(str::to_owned) })
        )),
        (image(), of(("[a-z]{1,8}", "[ -~]{1,12}")), any::<bool>()).prop_map(move |(i, a, p)| op(
            "pull",
            json!({"image": i, "auth": a.as_ref().map(|(u, p)| json!({"username": u, "password": p})), "progress": p}),
            Op::Pull(pb::PullArgs {
                image: i,
                auth: a.map(|(username, password)| pb::RegistryAuth { username, password }),
                progress: p,
            })
        )),
        (image(), any::<bool>()).prop_map(move |(i, f)| op(
            "remove_image",
            json!({"image": i, "force": f}),
            Op::RemoveImage(pb::RemoveImageArgs { image: i, force: f })
        )),
        Just(op("images", json!({}), Op::Images(pb::ImagesArgs {}))),
        Just(op("info", json!({}), Op::Info(pb::InfoArgs {}))),
        any::<bool>().prop_map(move |d| op(
            "prune_images",
            json!({"dry_run": d}),
            Op::PruneImages(pb::PruneImagesArgs { dry_run: d })
        )),
    ]
}

fn request() -> impl Strategy<Value = Pair> {
    let envelope = (
        of("[a-zA-Z0-9{ -]{0,128}"),
        of(prop_oneof![
            Just("docker"),
            Just("docker-api"),
            Just("podman"),
            Just("podman-api")
        ]),
        of("/[a-z.]{1,10}"),
    );
    (envelope, prop_oneof![1 => create(), 3 => simple_op()]).prop_map(
        |((id, runtime, reply_to), (op, args, proto_op))| {
            // JSON nulls stand for "absent", which is what serde makes of them.
            let mut json = json!({"op": op, "args": drop_nulls(args)});
            let envelope = [
                ("id", id.as_deref()),
                ("runtime", runtime),
                ("reply_to", reply_to.as_deref()),
            ];
            for (key, value) in envelope {
                if let Some(v) = value {
                    json[key] = json!(v);
                }
            }
            let proto = pb::Request {
                id,
                runtime: runtime.map(str::to_owned),
                reply_to,
                op: Some(proto_op),
            };
            Pair { json, proto }
        },
    )
}

fn drop_nulls(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

fn container() -> impl Strategy<Value = Container> {
    let state = prop_oneof![
        Just("created"),
        Just("running"),
        Just("exited"),
        Just("missing")
    ];
    (spec(), state, of(-255i64..256), "[0-9a-f]{12}", 0usize..4).prop_map(
        |((args, _), state, exit_code, id, runtime)| {
            let spec: ContainerSpec = serde_json::from_value(Value::Object(args)).unwrap();
            Container {
                name: spec.name.clone(),
                runtime: RuntimeKind::ALL[runtime],
                id,
                image: spec.image.clone(),
                state: serde_json::from_value(json!(state)).unwrap(),
                exit_code,
                created_at: "2026-11-29T10:00:00Z".into(),
                updated_at: "2026-11-29T10:00:01Z".into(),
                spec,
                health: Default::default(),
                restart_count: 0,
                last_exit_code: None,
                started_at: None,
                intent: Default::default(),
                supervision: Default::default(),
            }
        },
    )
}

fn reply() -> impl Strategy<Value = Reply> {
    let result = prop_oneof![
        container().prop_map(|c| OpResult::Container(Box::new(c))),
        vec(container(), 0..3).prop_map(|containers| OpResult::Containers { containers }),
        vec(text(), 0..4).prop_map(|lines| OpResult::Logs { lines }),
        (0.0f64..800.0, any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(c, m, l, p)| {
            OpResult::Stats(crate::core::model::Stats {
                cpu_percent: c,
                memory_bytes: m,
                memory_limit_bytes: l,
                pids: p,
            })
        }),
        (image(), "sha256:[0-9a-f]{8}").prop_map(|(i, id)| OpResult::Pulled {
            image: crate::core::names::ImageRef::parse(&i).unwrap(),
            id
        }),
        vec(("[0-9a-f]{8}", vec(image(), 0..2), any::<u64>()), 0..3).prop_map(|v| {
            OpResult::Images {
                images: v
                    .into_iter()
                    .map(|(id, tags, size_bytes)| ImageInfo {
                        id,
                        tags,
                        size_bytes,
                    })
                    .collect(),
            }
        }),
        name().prop_map(|n| OpResult::Removed {
            name: crate::core::names::ContainerName::parse(&n).unwrap()
        }),
        image().prop_map(|i| OpResult::ImageRemoved {
            image: crate::core::names::ImageRef::parse(&i).unwrap()
        }),
        (text(), vec((0usize..4, any::<bool>(), of(text())), 0..4)).prop_map(|(v, rs)| {
            OpResult::Info(Info {
                version: v,
                device_id: "dev-1".into(),
                store: "lmdb".into(),
                runtimes: rs
                    .into_iter()
                    .map(|(k, available, version)| RuntimeStatus {
                        name: RuntimeKind::ALL[k],
                        available,
                        version,
                    })
                    .collect(),
            })
        }),
        (vec(text(), 0..3), any::<u64>()).prop_map(|(removed, reclaimed_bytes)| {
            OpResult::ImagesPruned {
                removed,
                reclaimed_bytes,
            }
        }),
    ];
    let error = (0usize..ErrorCode::ALL.len(), text())
        .prop_map(|(c, m)| ErrorBody::new(ErrorCode::ALL[c], m));
    (
        of("[a-z0-9-]{0,16}"),
        prop_oneof![result.prop_map(Ok), error.prop_map(Err)],
    )
        .prop_map(|(id, outcome)| match outcome {
            Ok(r) => Reply::ok(id, r),
            Err(e) => Reply::err(id, e),
        })
}

fn assert_invalid(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = decode_request(bytes) {
        prop_assert_eq!(
            e.error.code,
            ErrorCode::InvalidRequest,
            "{}",
            e.error.message
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_and_protobuf_decode_to_the_same_request(pair in request()) {
        let bytes = pair.proto.encode_to_vec();
        prop_assert_eq!(Format::sniff(&bytes), Format::Protobuf);
        let from_json = json::decode_request(pair.json.to_string().as_bytes());
        let from_proto = decode_request(&bytes);
        prop_assert_eq!(from_json, from_proto);
    }

    #[test]
    fn garbage_is_invalid_request(bytes in vec(any::<u8>(), 0..256)) {
        assert_invalid(&bytes)?;
    }

    #[test]
    fn truncated_requests_are_invalid_request(pair in request(), cut in any::<prop::sample::Index>()) {
        let bytes = pair.proto.encode_to_vec();
        let end = cut.index(bytes.len());
        let e = decode_request(&bytes[..end]).unwrap_err();
        prop_assert_eq!(e.error.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn wrong_wire_types_are_invalid_request(
        field in 2u32..=18,
        wire_type in prop_oneof![Just(0u32), Just(1), Just(5)],
        payload in vec(any::<u8>(), 8),
    ) {
        // Every field of Request is a string or a message (wire type 2).
        let mut bytes = vec![u8::try_from(field << 3 | wire_type).unwrap()];
        if field >= 16 {
            bytes = vec![u8::try_from((field << 3 | wire_type) & 0x7f | 0x80).unwrap(), 1];
        }
        bytes.extend(payload);
        let e = decode_request(&bytes).unwrap_err();
        prop_assert_eq!(e.error.code, ErrorCode::InvalidRequest);
        prop_assert!(e.error.message.starts_with("request is not valid Protobuf"), "{}", e.error.message);
    }

    #[test]
    fn replies_round_trip(reply in reply()) {
        let bytes = encode_reply(&reply);
        prop_assert_eq!(decode_reply(&bytes).unwrap(), reply);
    }
}
