//! `ContainerSpec` to the SpecGenerator body of `POST /libpod/containers/create`: every
//! spec field, the managed label, the agent's default ulimits as `r_limits`, and the
//! restart policies Podman cannot honour refused with the reason.

use crate::core::model::{ContainerSpec, RestartKind, Ulimit};
use crate::runtime::engine_api::create_labels;
use crate::runtime::podman_restart::{restart_supported, RestartUnsupported};
use serde_json::{json, Map, Value};

/// The CFS period the CPU quota is expressed in (the engines' default, 100 ms).
const CPU_PERIOD_US: u64 = 100_000;

/// What the host offers that a restart policy may depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HostSupport {
    /// systemd runs as init, so `podman-restart.service` can start `always` containers
    /// at boot.
    pub(super) systemd: bool,
}

/// The create body for `spec`; `Err` says why a field cannot be honoured by Podman.
pub(super) fn create_body(
    spec: &ContainerSpec,
    ulimits: &[Ulimit],
    host: HostSupport,
) -> Result<Value, RestartUnsupported> {
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
    if let Some(restart) = &spec.restart {
        restart_supported(restart.policy, host.systemd)?;
        body.insert("restart_policy".into(), json!(restart.policy.as_str()));
        // Podman refuses a retry count with any policy but on-failure.
        if restart.policy == RestartKind::OnFailure {
            body.insert(
                "restart_tries".into(),
                json!(restart.max_retries.unwrap_or(0)),
            );
        }
    }
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
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::engine_api::every_field_spec;

    const SYSTEMD: HostSupport = HostSupport { systemd: true };
    const NO_SYSTEMD: HostSupport = HostSupport { systemd: false };

    fn spec(json: Value) -> ContainerSpec {
        serde_json::from_value(json).unwrap()
    }

    fn nofile() -> Vec<Ulimit> {
        vec![Ulimit::parse("nofile=1024:20000").unwrap()]
    }

    #[test]
    fn minimal_spec_carries_image_label_and_ulimits() {
        let body = create_body(
            &spec(json!({"name": "web", "image": "busybox"})),
            &nofile(),
            NO_SYSTEMD,
        );
        assert_eq!(
            body,
            Ok(json!({
                "name": "web",
                "image": "busybox",
                "labels": {"io.ctrmgr.managed": "true"},
                "env": {},
                "r_limits": [{"type": "nofile", "soft": 1024, "hard": 20000}],
            }))
        );
        let body = create_body(
            &spec(json!({"name": "web", "image": "busybox"})),
            &[],
            NO_SYSTEMD,
        )
        .unwrap();
        assert!(body.get("r_limits").is_none());
    }

    /// The body the real podman 4.3 service accepted for this spec (the conformance suite
    /// checks what it made of it; two host ports on one container port were checked
    /// against podman 4.3.1 too).
    #[test]
    fn every_field_reaches_the_body() {
        let body = create_body(&every_field_spec(), &nofile(), NO_SYSTEMD);
        assert_eq!(
            body,
            Ok(json!({
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
                "restart_policy": "on-failure",
                "restart_tries": 3,
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
            }))
        );
    }

    #[test]
    fn restart_policies_podman_can_honour() {
        let with = |policy: &str, host| {
            create_body(
                &spec(json!({"name": "web", "image": "busybox",
                             "restart": {"policy": policy, "max_retries": 2}})),
                &[],
                host,
            )
        };
        let body = with("no", NO_SYSTEMD).unwrap();
        assert_eq!(body["restart_policy"], "no");
        assert!(body.get("restart_tries").is_none());
        assert_eq!(with("on-failure", NO_SYSTEMD).unwrap()["restart_tries"], 2);
        let always = with("always", SYSTEMD).unwrap();
        assert_eq!(always["restart_policy"], "always");
        assert!(always.get("restart_tries").is_none());

        let err = with("always", NO_SYSTEMD).unwrap_err().to_string();
        assert!(err.contains("does not run systemd"), "{err}");
        for host in [SYSTEMD, NO_SYSTEMD] {
            let err = with("unless-stopped", host).unwrap_err().to_string();
            assert!(err.contains("only 'always' containers at boot"), "{err}");
        }
    }
}
