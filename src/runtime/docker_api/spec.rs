//! `ContainerSpec` to the body of `POST /containers/create`: every spec field, plus the
//! managed label and the agent's default ulimits. The engine's restart policy is always
//! `no`: the agent supervises restarts itself (`crate::core::supervision`).

use crate::core::model::{ContainerSpec, Ulimit};
use crate::runtime::engine_api::create_labels;
use serde_json::{json, Map, Value};

/// The create body for `spec`, every container getting `ulimits` (`HostConfig.Ulimits`).
pub(super) fn create_body(spec: &ContainerSpec, ulimits: &[Ulimit]) -> Value {
    let mut top = Map::new();
    top.insert("Image".into(), json!(spec.image.as_str()));
    top.insert("Labels".into(), create_labels(spec));
    let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    top.insert("Env".into(), json!(env));
    top.insert("HostConfig".into(), host_config(spec, ulimits));
    if !spec.cmd.is_empty() {
        top.insert("Cmd".into(), json!(spec.cmd));
    }
    if !spec.entrypoint.is_empty() {
        top.insert("Entrypoint".into(), json!(spec.entrypoint));
    }
    if !spec.ports.is_empty() {
        let exposed: Map<String, Value> = spec
            .ports
            .iter()
            .map(|p| (port_key(p.container, p.protocol.as_str()), json!({})))
            .collect();
        top.insert("ExposedPorts".into(), Value::Object(exposed));
    }
    if let Some(user) = &spec.user {
        top.insert("User".into(), json!(user));
    }
    if let Some(workdir) = &spec.workdir {
        top.insert("WorkingDir".into(), json!(workdir.as_str()));
    }
    Value::Object(top)
}

fn port_key(port: u16, protocol: &str) -> String {
    format!("{port}/{protocol}")
}

fn host_config(spec: &ContainerSpec, ulimits: &[Ulimit]) -> Value {
    let mut hc = Map::new();
    if !ulimits.is_empty() {
        let list: Vec<Value> = ulimits
            .iter()
            .map(|u| json!({"Name": u.name, "Soft": u.soft, "Hard": u.hard}))
            .collect();
        hc.insert("Ulimits".into(), Value::Array(list));
    }
    if !spec.ports.is_empty() {
        let mut bindings: Map<String, Value> = Map::new();
        for p in &spec.ports {
            let entry = bindings
                .entry(port_key(p.container, p.protocol.as_str()))
                .or_insert_with(|| json!([]));
            if let Value::Array(list) = entry {
                list.push(json!({"HostIp": "", "HostPort": p.host.to_string()}));
            }
        }
        hc.insert("PortBindings".into(), Value::Object(bindings));
    }
    if !spec.mounts.is_empty() {
        let mounts: Vec<Value> = spec
            .mounts
            .iter()
            .map(|m| {
                json!({
                    "Type": "bind",
                    "Source": m.source.as_str(),
                    "Target": m.target.as_str(),
                    "ReadOnly": m.read_only,
                })
            })
            .collect();
        hc.insert("Mounts".into(), Value::Array(mounts));
    }
    hc.insert("RestartPolicy".into(), json!({"Name": "no"}));
    if let Some(res) = &spec.resources {
        if let Some(memory) = res.memory_bytes {
            hc.insert("Memory".into(), json!(memory));
        }
        if let Some(millis) = res.cpu_millis {
            hc.insert("NanoCpus".into(), json!(millis.saturating_mul(1_000_000)));
        }
        if let Some(pids) = res.pids_limit {
            hc.insert("PidsLimit".into(), json!(pids));
        }
    }
    if let Some(network) = spec.network {
        hc.insert("NetworkMode".into(), json!(network.as_str()));
    }
    if spec.privileged {
        hc.insert("Privileged".into(), json!(true));
    }
    if !spec.devices.is_empty() {
        let devices: Vec<Value> = spec
            .devices
            .iter()
            .map(|d| {
                json!({
                    "PathOnHost": d.as_str(),
                    "PathInContainer": d.as_str(),
                    "CgroupPermissions": "rwm",
                })
            })
            .collect();
        hc.insert("Devices".into(), Value::Array(devices));
    }
    Value::Object(hc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::engine_api::every_field_spec;

    fn spec(json: Value) -> ContainerSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn minimal_spec_carries_image_and_managed_label() {
        let body = create_body(&spec(json!({"name": "web", "image": "busybox"})), &[]);
        assert_eq!(
            body,
            json!({
                "Image": "busybox",
                "Labels": {"io.ctrmgr.managed": "true"},
                "Env": [],
                "HostConfig": {"RestartPolicy": {"Name": "no"}},
            })
        );
    }

    #[test]
    fn every_field_reaches_the_body() {
        let body = create_body(&every_field_spec(), &[]);
        assert_eq!(
            body,
            json!({
                "Image": "127.0.0.1:5000/nginx:1",
                "Cmd": ["-g", "daemon off;"],
                "Entrypoint": ["nginx"],
                "Env": ["A=1", "B=x=y"],
                "Labels": {"app": "web", "io.ctrmgr.managed": "true"},
                "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
                "User": "1000:1000",
                "WorkingDir": "/www",
                "HostConfig": {
                    "PortBindings": {
                        "80/tcp": [
                            {"HostIp": "", "HostPort": "8080"},
                            {"HostIp": "", "HostPort": "8081"}
                        ],
                        "53/udp": [{"HostIp": "", "HostPort": "5353"}]
                    },
                    "Mounts": [
                        {"Type": "bind", "Source": "/srv/www", "Target": "/www", "ReadOnly": true},
                        {"Type": "bind", "Source": "/srv/data", "Target": "/data", "ReadOnly": false}
                    ],
                    "RestartPolicy": {"Name": "no"},
                    "Memory": 67108864,
                    "NanoCpus": 500_000_000,
                    "PidsLimit": 64,
                    "NetworkMode": "host",
                    "Privileged": true,
                    "Devices": [{
                        "PathOnHost": "/dev/ttyUSB0",
                        "PathInContainer": "/dev/ttyUSB0",
                        "CgroupPermissions": "rwm"
                    }]
                }
            })
        );
    }

    #[test]
    fn default_ulimits_reach_the_host_config() {
        let ulimits = [
            Ulimit::parse("nofile=1024:20000").unwrap(),
            Ulimit::parse("nproc=512").unwrap(),
        ];
        let body = create_body(&spec(json!({"name": "web", "image": "busybox"})), &ulimits);
        assert_eq!(
            body["HostConfig"]["Ulimits"],
            json!([
                {"Name": "nofile", "Soft": 1024, "Hard": 20000},
                {"Name": "nproc", "Soft": 512, "Hard": 512}
            ])
        );
    }

    #[test]
    fn every_restart_policy_is_left_to_the_agent() {
        for policy in ["always", "on-failure", "unless-stopped"] {
            let body = create_body(
                &spec(json!({
                    "name": "web", "image": "busybox",
                    "restart": {"policy": policy, "max_retries": 3}
                })),
                &[],
            );
            assert_eq!(
                body["HostConfig"]["RestartPolicy"],
                json!({"Name": "no"}),
                "{policy}"
            );
        }
    }
}
