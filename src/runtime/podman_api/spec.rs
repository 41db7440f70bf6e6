//! `ContainerSpec` to the SpecGenerator body of `POST /libpod/containers/create`: every
//! spec field, the managed label, the agent's default ulimits as `r_limits`, and the
//! restart policy `no`: the agent supervises restarts itself (`crate::core::supervision`).

use crate::core::model::{ContainerSpec, Ulimit};
use crate::runtime::engine_api::create_labels;
use serde_json::{json, Map, Value};

/// The CFS period the CPU quota is expressed in (the engines' default, 100 ms).
const CPU_PERIOD_US: u64 = 100_000;

/// The create body for `spec`.
pub(super) fn create_body(spec: &ContainerSpec, ulimits: &[Ulimit]) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(spec.name.as_str()));
    body.insert("image".into(), json!(spec.image.as_str()));
    body.insert("labels".into(), create_labels(spec));
    body.insert("env".into(), json!(spec.env));
    if !spec.cmd.is_empty() {
        body.insert("command".into(), json!(spec.cmd));
    }
    if !spec.entrypoint.is_empty() {
        body.insert("entrypoint".into(), json!(spec.entrypoint));
    }
    if !spec.ports.is_empty() {
        let ports: Vec<Value> = spec
            .ports
            .iter()
            .map(|p| {
                json!({
                    "host_port": p.host,
                    "container_port": p.container,
                    "protocol": p.protocol.as_str(),
                })
            })
            .collect();
        body.insert("portmappings".into(), Value::Array(ports));
    }
    if !spec.mounts.is_empty() {
        let mounts: Vec<Value> = spec
            .mounts
            .iter()
            .map(|m| {
                let access = if m.read_only { "ro" } else { "rw" };
                json!({
                    "type": "bind",
                    "source": m.source.as_str(),
                    "destination": m.target.as_str(),
                    "options": ["rbind", access],
                })
            })
            .collect();
        body.insert("mounts".into(), Value::Array(mounts));
    }
    // The agent restarts containers itself; the engine's policy must not fight it.
    body.insert("restart_policy".into(), json!("no"));
    if let Some(res) = &spec.resources {
        let mut limits = Map::new();
        if let Some(memory) = res.memory_bytes {
            limits.insert("memory".into(), json!({ "limit": memory }));
        }
        if let Some(millis) = res.cpu_millis {
            let quota = millis.saturating_mul(CPU_PERIOD_US) / 1000;
            limits.insert(
                "cpu".into(),
                json!({ "quota": quota, "period": CPU_PERIOD_US }),
            );
        }
        if let Some(pids) = res.pids_limit {
            limits.insert("pids".into(), json!({ "limit": pids }));
        }
        body.insert("resource_limits".into(), Value::Object(limits));
    }
    if let Some(network) = spec.network {
        body.insert("netns".into(), json!({ "nsmode": network.as_str() }));
    }
    if let Some(user) = &spec.user {
        body.insert("user".into(), json!(user));
    }
    if let Some(workdir) = &spec.workdir {
        body.insert("work_dir".into(), json!(workdir.as_str()));
    }
    if spec.privileged {
        body.insert("privileged".into(), json!(true));
    }
    if !spec.devices.is_empty() {
        let devices: Vec<Value> = spec
            .devices
            .iter()
            .map(|d| json!({ "path": d.as_str() }))
            .collect();
        body.insert("devices".into(), Value::Array(devices));
    }
    if !ulimits.is_empty() {
        let r_limits: Vec<Value> = ulimits
            .iter()
            .map(|u| json!({ "type": u.name, "soft": u.soft, "hard": u.hard }))
            .collect();
        body.insert("r_limits".into(), Value::Array(r_limits));
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::engine_api::every_field_spec;

    fn spec(json: Value) -> ContainerSpec {
        serde_json::from_value(json).unwrap()
    }

    fn nofile() -> Vec<Ulimit> {
        vec![Ulimit::parse("nofile=1024:20000").unwrap()]
    }

    #[test]
    fn minimal_spec_carries_image_label_and_ulimits() {
        let body = create_body(&spec(json!({"name": "web", "image": "busybox"})), &nofile());
        assert_eq!(
            body,
            json!({
                "name": "web",
                "image": "busybox",
                "labels": {"io.ctrmgr.managed": "true"},
                "env": {},
                "restart_policy": "no",
                "r_limits": [{"type": "nofile", "soft": 1024, "hard": 20000}],
            })
        );
        let body = create_body(&spec(json!({"name": "web", "image": "busybox"})), &[]);
        assert!(body.get("r_limits").is_none());
    }

    /// The body the real podman 4.3 service accepted for this spec (the conformance suite
    /// checks what it made of it; two host ports on one container port were checked
    /// against podman 4.3.1 too).
    #[test]
    fn every_field_reaches_the_body() {
        let body = create_body(&every_field_spec(), &nofile());
        assert_eq!(
            body,
            json!({
                "name": "web",
                "image": "127.0.0.1:5000/nginx:1",
                "command": ["-g", "daemon off;"],
                "entrypoint": ["nginx"],
                "env": {"A": "1", "B": "x=y"},
                "labels": {"app": "web", "io.ctrmgr.managed": "true"},
                "portmappings": [
                    {"host_port": 8080, "container_port": 80, "protocol": "tcp"},
                    {"host_port": 8081, "container_port": 80, "protocol": "tcp"},
                    {"host_port": 5353, "container_port": 53, "protocol": "udp"}
                ],
                "mounts": [
                    {"type": "bind", "source": "/srv/www", "destination": "/www",
                     "options": ["rbind", "ro"]},
                    {"type": "bind", "source": "/srv/data", "destination": "/data",
                     "options": ["rbind", "rw"]}
                ],
                "restart_policy": "no",
                "resource_limits": {
                    "memory": {"limit": 67108864},
                    "cpu": {"quota": 50000, "period": 100000},
                    "pids": {"limit": 64}
                },
                "netns": {"nsmode": "host"},
                "user": "1000:1000",
                "work_dir": "/www",
                "privileged": true,
                "devices": [{"path": "/dev/ttyUSB0"}],
                "r_limits": [{"type": "nofile", "soft": 1024, "hard": 20000}]
            })
        );
    }

    #[test]
    fn every_restart_policy_is_left_to_the_agent() {
        for policy in ["no", "always", "on-failure", "unless-stopped"] {
            let body = create_body(
                &spec(json!({"name": "web", "image": "busybox",
                             "restart": {"policy": policy, "max_retries": 2}})),
                &[],
            );
            assert_eq!(body["restart_policy"], "no", "{policy}");
            assert!(body.get("restart_tries").is_none(), "{policy}");
        }
    }
}
