//! A JSON request envelope written as Protobuf `ctrmgr.v1.Request` with the agent's
//! generated types, so one case list serves both encodings. Cases that Protobuf's types
//! cannot carry (a JSON value of the wrong type, a field name the schema lacks, an op
//! that is no `oneof` field) have no Protobuf form.

use ctrmgr::codec::protobuf::wire::ctrmgr_v1 as pb;
use ctrmgr::codec::protobuf::wire::Message;
use pb::request::Op;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The envelope as `ctrmgr.v1.Request` bytes, or `None` when it has no Protobuf form.
pub fn to_protobuf(envelope: &Value) -> Option<Vec<u8>> {
    request(envelope).map(|r| r.encode_to_vec())
}

/// The envelope as a `ctrmgr.v1.Request`, or `None` when it has no Protobuf form.
pub fn request(envelope: &Value) -> Option<pb::Request> {
    let env = object(envelope, &["id", "op", "runtime", "args", "reply_to"])?;
    let empty = Value::Object(Map::new());
    let args = env.get("args").unwrap_or(&empty);
    let op = match env.get("op") {
        None => None,
        Some(op) => Some(op_args(op.as_str()?, args)?),
    };
    Some(pb::Request {
        id: opt_string(env, "id")?,
        runtime: opt_string(env, "runtime")?,
        reply_to: opt_string(env, "reply_to")?,
        op,
    })
}

fn op_args(op: &str, args: &Value) -> Option<Op> {
    Some(match op {
        "create" => Op::Create(create_args(args)?),
        "start" => Op::Start(pb::StartArgs {
            name: string(object(args, &["name"])?, "name")?,
        }),
        "stop" | "restart" => {
            let a = object(args, &["name", "timeout_s"])?;
            let (name, timeout_s) = (string(a, "name")?, opt_u32(a, "timeout_s")?);
            if op == "stop" {
                Op::Stop(pb::StopArgs { name, timeout_s })
            } else {
                Op::Restart(pb::RestartArgs { name, timeout_s })
            }
        }
        "kill" => {
            let a = object(args, &["name", "signal"])?;
            let signal = match a.get("signal") {
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => opt_string(a, "signal")?,
            };
            Op::Kill(pb::KillArgs {
                name: string(a, "name")?,
                signal,
            })
        }
        "remove" => {
            let a = object(args, &["name", "force"])?;
            Op::Remove(pb::RemoveArgs {
                name: string(a, "name")?,
                force: boolean(a, "force")?,
            })
        }
        "inspect" => Op::Inspect(pb::InspectArgs {
            name: string(object(args, &["name"])?, "name")?,
        }),
        "stats" => Op::Stats(pb::StatsArgs {
            name: string(object(args, &["name"])?, "name")?,
        }),
        "list" => {
            let a = object(args, &["all", "label"])?;
            Op::List(pb::ListArgs {
                all: boolean(a, "all")?,
                label: opt_string(a, "label")?,
            })
        }
        "logs" => {
            let a = object(args, &["name", "tail", "since"])?;
            Op::Logs(pb::LogsArgs {
                name: string(a, "name")?,
                tail: opt_u32(a, "tail")?,
                since: opt_string(a, "since")?,
            })
        }
        "pull" => {
            let a = object(args, &["image", "auth", "progress"])?;
            let auth = match a.get("auth") {
                None => None,
                Some(v) => {
                    let auth = object(v, &["username", "password"])?;
                    Some(pb::RegistryAuth {
                        username: string(auth, "username")?,
                        password: string(auth, "password")?,
                    })
                }
            };
            Op::Pull(pb::PullArgs {
                image: string(a, "image")?,
                auth,
                progress: boolean(a, "progress")?,
            })
        }
        "remove_image" => {
            let a = object(args, &["image", "force"])?;
            Op::RemoveImage(pb::RemoveImageArgs {
                image: string(a, "image")?,
                force: boolean(a, "force")?,
            })
        }
        "images" => {
            object(args, &[])?;
            Op::Images(pb::ImagesArgs {})
        }
        "info" => {
            object(args, &[])?;
            Op::Info(pb::InfoArgs {})
        }
        "deployment" => {
            object(args, &[])?;
            Op::Deployment(pb::DeploymentArgs {})
        }
        "rollback" => {
            object(args, &[])?;
            Op::Rollback(pb::RollbackArgs {})
        }
        "apply" => Op::Apply(apply_args(args)?),
        "prune_images" => {
            let a = object(args, &["dry_run"])?;
            Op::PruneImages(pb::PruneImagesArgs {
                dry_run: boolean(a, "dry_run")?,
            })
        }
        _ => return None,
    })
}

fn apply_args(args: &Value) -> Option<pb::ApplyArgs> {
    let a = object(args, &["deployment", "wait"])?;
    let wait = match a.get("wait") {
        None => None,
        Some(v) => Some(v.as_bool()?),
    };
    let d = object(
        a.get("deployment")?,
        &["generation", "containers", "policy"],
    )?;
    let containers = list(d, "containers")?
        .iter()
        .map(|c| {
            let mut spec = c.as_object()?.clone();
            let order = spec.remove("order");
            let desired = spec.remove("desired");
            if spec.contains_key("start") {
                return None;
            }
            let c = create_args(&Value::Object(spec))?;
            Some(pb::DeploymentContainer {
                spec: Some(pb::ContainerSpec {
                    name: c.name,
                    image: c.image,
                    cmd: c.cmd,
                    entrypoint: c.entrypoint,
                    env: c.env,
                    ports: c.ports,
                    mounts: c.mounts,
                    restart: c.restart,
                    resources: c.resources,
                    labels: c.labels,
                    network: c.network,
                    user: c.user,
                    workdir: c.workdir,
                    privileged: c.privileged,
                    devices: c.devices,
                    health: c.health,
                }),
                order: match order {
                    None => 0,
                    Some(o) => u32::try_from(o.as_u64()?).ok()?,
                },
                desired: match desired {
                    None => None,
                    Some(v) => Some(v.as_str()?.to_owned()),
                },
            })
        })
        .collect::<Option<_>>()?;
    let policy = match d.get("policy") {
        None => None,
        Some(p) => {
            let p = object(p, &["on_failure", "healthy_window_s"])?;
            Some(pb::DeploymentPolicy {
                on_failure: opt_string(p, "on_failure")?,
                healthy_window_s: opt_u32(p, "healthy_window_s")?,
            })
        }
    };
    Some(pb::ApplyArgs {
        deployment: Some(pb::Deployment {
            generation: d.get("generation")?.as_u64()?,
            containers,
            policy,
        }),
        wait,
    })
}

fn create_args(args: &Value) -> Option<pb::CreateArgs> {
    let a = object(
        args,
        &[
            "name",
            "image",
            "cmd",
            "entrypoint",
            "env",
            "ports",
            "mounts",
            "restart",
            "resources",
            "labels",
            "network",
            "user",
            "workdir",
            "privileged",
            "devices",
            "health",
            "start",
        ],
    )?;
    let ports = list(a, "ports")?
        .iter()
        .map(|p| {
            let p = object(p, &["host", "container", "protocol"])?;
            Some(pb::PortMapping {
                host: opt_u32(p, "host")?.unwrap_or_default(),
                container: opt_u32(p, "container")?.unwrap_or_default(),
                protocol: opt_string(p, "protocol")?,
            })
        })
        .collect::<Option<_>>()?;
    let mounts = list(a, "mounts")?
        .iter()
        .map(|m| {
            let m = object(m, &["source", "target", "read_only"])?;
            Some(pb::Mount {
                source: string(m, "source")?,
                target: string(m, "target")?,
                read_only: boolean(m, "read_only")?,
            })
        })
        .collect::<Option<_>>()?;
    let restart = match a.get("restart") {
        None => None,
        Some(r) => {
            let r = object(r, &["policy", "max_retries"])?;
            Some(pb::RestartPolicy {
                policy: string(r, "policy")?,
                max_retries: opt_u32(r, "max_retries")?,
            })
        }
    };
    let resources = match a.get("resources") {
        None => None,
        Some(r) => {
            let r = object(r, &["memory_bytes", "cpu_millis", "pids_limit"])?;
            Some(pb::Resources {
                memory_bytes: opt_u64(r, "memory_bytes")?,
                cpu_millis: opt_u64(r, "cpu_millis")?,
                pids_limit: opt_u64(r, "pids_limit")?,
            })
        }
    };
    Some(pb::CreateArgs {
        name: string(a, "name")?,
        image: string(a, "image")?,
        cmd: strings(a, "cmd")?,
        entrypoint: strings(a, "entrypoint")?,
        env: string_map(a, "env")?,
        ports,
        mounts,
        restart,
        resources,
        labels: string_map(a, "labels")?,
        network: opt_string(a, "network")?,
        user: opt_string(a, "user")?,
        workdir: opt_string(a, "workdir")?,
        privileged: boolean(a, "privileged")?,
        devices: strings(a, "devices")?,
        start: boolean(a, "start")?,
        health: match a.get("health") {
            None => None,
            Some(h) => Some(health(h)?),
        },
    })
}

/// A spec's `health` (unknown keys have no Protobuf form).
fn health(value: &Value) -> Option<pb::HealthSpec> {
    let h = object(
        value,
        &[
            "cmd",
            "http",
            "tcp",
            "interval_s",
            "timeout_s",
            "retries",
            "start_period_s",
            "on_unhealthy",
        ],
    )?;
    let http = match h.get("http") {
        None => None,
        Some(p) => {
            let p = object(p, &["port", "path"])?;
            Some(pb::HttpProbe {
                port: opt_u32(p, "port")?.unwrap_or_default(),
                path: opt_string(p, "path")?,
            })
        }
    };
    let tcp = match h.get("tcp") {
        None => None,
        Some(p) => Some(pb::TcpProbe {
            port: opt_u32(object(p, &["port"])?, "port")?.unwrap_or_default(),
        }),
    };
    Some(pb::HealthSpec {
        cmd: strings(h, "cmd")?,
        http,
        tcp,
        interval_s: opt_u32(h, "interval_s")?,
        timeout_s: opt_u32(h, "timeout_s")?,
        retries: opt_u32(h, "retries")?,
        start_period_s: opt_u32(h, "start_period_s")?,
        on_unhealthy: opt_string(h, "on_unhealthy")?,
    })
}

/// `value` as an object whose keys are all in `known`.
fn object<'a>(value: &'a Value, known: &[&str]) -> Option<&'a Map<String, Value>> {
    let map = value.as_object()?;
    map.keys()
        .all(|k| known.contains(&k.as_str()))
        .then_some(map)
}

/// A proto3 plain string: absent is empty.
fn string(map: &Map<String, Value>, key: &str) -> Option<String> {
    Some(opt_string(map, key)?.unwrap_or_default())
}

fn opt_string(map: &Map<String, Value>, key: &str) -> Option<Option<String>> {
    match map.get(key) {
        None => Some(None),
        Some(v) => Some(Some(v.as_str()?.to_owned())),
    }
}

fn opt_u32(map: &Map<String, Value>, key: &str) -> Option<Option<u32>> {
    match map.get(key) {
        None => Some(None),
        Some(v) => Some(Some(u32::try_from(v.as_u64()?).ok()?)),
    }
}

fn opt_u64(map: &Map<String, Value>, key: &str) -> Option<Option<u64>> {
    match map.get(key) {
        None => Some(None),
        Some(v) => Some(Some(v.as_u64()?)),
    }
}

fn boolean(map: &Map<String, Value>, key: &str) -> Option<bool> {
    match map.get(key) {
        None => Some(false),
        Some(v) => v.as_bool(),
    }
}

fn list<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a [Value]> {
    match map.get(key) {
        None => Some(&[]),
        Some(v) => Some(v.as_array()?.as_slice()),
    }
}

fn strings(map: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    list(map, key)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn string_map(map: &Map<String, Value>, key: &str) -> Option<BTreeMap<String, String>> {
    match map.get(key) {
        None => Some(BTreeMap::new()),
        Some(v) => v
            .as_object()?
            .iter()
            .map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect(),
    }
}
