//! The device's policy: what a request may ask of the engine. Checked by the core before
//! anything reaches a runtime; a violation is `forbidden` naming the rule.

use super::image_pattern::{ImageParts, ImagePattern};
use super::model::{ContainerSpec, NetworkMode};
use super::names::ImageRef;

/// A host directory containers may bind-mount, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRoot {
    /// Absolute host path; mounts of it or anything below it are allowed.
    pub path: String,
    /// Whether mounts below it may be writable.
    pub read_write: bool,
}

/// The rules. `Policy::default()` is the secure default: any image, no host mounts, no
/// privileged mode, no devices, no host network, at most 64 managed containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Registries, repository prefixes or repositories allowed (matched by components:
    /// [`ImagePattern`]); empty allows any.
    pub allowed_images: Vec<ImagePattern>,
    /// Host directories that may be mounted.
    pub mount_roots: Vec<MountRoot>,
    /// Whether `privileged: true` is allowed.
    pub allow_privileged: bool,
    /// Host devices that may be passed through (exact paths).
    pub allowed_devices: Vec<String>,
    /// Whether `network: host` is allowed.
    pub allow_host_network: bool,
    /// Most managed containers on the device.
    pub max_containers: usize,
    /// Largest memory limit a container may ask for; also required when set.
    pub max_memory_bytes: Option<u64>,
    /// Largest CPU limit a container may ask for (thousandths of a CPU).
    pub max_cpu_millis: Option<u64>,
    /// Largest process limit a container may ask for.
    pub max_pids: Option<u64>,
    /// Most bytes of engine output one `logs` request reads (and so the largest logs
    /// reply); more is `too_large`.
    pub max_log_bytes: u64,
    /// Free bytes the engine's data root must have before a pull starts (0 = no check).
    pub min_free_bytes: u64,
}

/// `policy.max_log_bytes` when the config does not set it: 4 MiB.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 4 << 20;

/// Default of [`Policy::min_free_bytes`]: 256 MiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 256 * 1024 * 1024;

impl Default for Policy {
    fn default() -> Self {
        Self {
            allowed_images: Vec::new(),
            mount_roots: Vec::new(),
            allow_privileged: false,
            allowed_devices: Vec::new(),
            allow_host_network: false,
            max_containers: 64,
            max_memory_bytes: None,
            max_cpu_millis: None,
            max_pids: None,
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

/// A refused request: the rule (its config key) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused by policy {rule}: {reason}")]
pub struct Violation {
    /// The config key of the rule, e.g. `policy.allow_privileged`.
    pub rule: &'static str,
    /// What the request asked that the rule does not allow.
    pub reason: String,
}

fn violation(rule: &'static str, reason: String) -> Violation {
    Violation { rule, reason }
}

impl Policy {
    /// Checks an image reference against `allowed_images`.
    pub fn check_image(&self, image: &ImageRef) -> Result<(), Violation> {
        let parts = ImageParts::of(image);
        let ok =
            self.allowed_images.is_empty() || self.allowed_images.iter().any(|p| p.matches(&parts));
        if ok {
            Ok(())
        } else {
            Err(violation(
                "policy.allowed_images",
                format!(
                    "image '{image}' is not from an allowed registry or repository ({})",
                    self.allowed_images
                        .iter()
                        .map(ImagePattern::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    }

    /// Checks a spec before create; `managed` is how many containers the agent manages.
    pub fn check_create(&self, spec: &ContainerSpec, managed: usize) -> Result<(), Violation> {
        if managed >= self.max_containers {
            return Err(violation(
                "policy.max_containers",
                format!(
                    "the device already has {managed} managed containers (at most {})",
                    self.max_containers
                ),
            ));
        }
        self.check_image(&spec.image)?;
        if spec.privileged && !self.allow_privileged {
            return Err(violation(
                "policy.allow_privileged",
                "privileged containers are not allowed".into(),
            ));
        }
        if spec.network == Some(NetworkMode::Host) && !self.allow_host_network {
            return Err(violation(
                "policy.allow_host_network",
                "network 'host' is not allowed".into(),
            ));
        }
        for d in &spec.devices {
            if !self.allowed_devices.iter().any(|a| a == d.as_str()) {
                return Err(violation(
                    "policy.allowed_devices",
                    format!("device '{d}' is not in the allowed devices"),
                ));
            }
        }
        for m in &spec.mounts {
            let root = self
                .mount_roots
                .iter()
                .find(|r| is_within(m.source.as_str(), &r.path));
            match root {
                None => {
                    return Err(violation(
                        "policy.mount_roots",
                        format!(
                            "host path '{}' is not under an allowed mount root",
                            m.source
                        ),
                    ))
                }
                Some(r) if !r.read_write && !m.read_only => {
                    return Err(violation(
                        "policy.mount_roots",
                        format!(
                            "host path '{}' may only be mounted read-only (root '{}')",
                            m.source, r.path
                        ),
                    ))
                }
                Some(r) => super::mount_source::check_beneath(&r.path, m.source.as_str())
                    .map_err(|reason| violation("policy.mount_roots", reason))?,
            }
        }
        let res = spec.resources.unwrap_or_default();
        check_limit(
            "policy.max_memory_bytes",
            "memory_bytes",
            res.memory_bytes,
            self.max_memory_bytes,
        )?;
        check_limit(
            "policy.max_cpu_millis",
            "cpu_millis",
            res.cpu_millis,
            self.max_cpu_millis,
        )?;
        check_limit(
            "policy.max_pids",
            "pids_limit",
            res.pids_limit,
            self.max_pids,
        )?;
        Ok(())
    }
}

/// With a maximum set, the limit is required and must not exceed it.
fn check_limit(
    rule: &'static str,
    field: &str,
    asked: Option<u64>,
    max: Option<u64>,
) -> Result<(), Violation> {
    match (asked, max) {
        (_, None) => Ok(()),
        (None, Some(max)) => Err(violation(
            rule,
            format!("resources.{field} is required (at most {max})"),
        )),
        (Some(a), Some(max)) if a > max => Err(violation(
            rule,
            format!("resources.{field} {a} is above the maximum {max}"),
        )),
        _ => Ok(()),
    }
}

/// Whether `path` is `root` or below it, component-wise (`/data2` is not below `/data`).
fn is_within(path: &str, root: &str) -> bool {
    let root = root.trim_end_matches('/');
    root.is_empty()
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> ContainerSpec {
        let mut base = serde_json::json!({"name": "a", "image": "127.0.0.1:5000/app:1"});
        base.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn rule(p: &Policy, json: serde_json::Value) -> &'static str {
        p.check_create(&spec(json), 0)
            .err()
            .map_or("ok", |v| v.rule)
    }

    #[test]
    fn default_policy_refuses_the_dangerous_options() {
        let p = Policy::default();
        assert_eq!(rule(&p, serde_json::json!({})), "ok");
        assert_eq!(
            rule(&p, serde_json::json!({"privileged": true})),
            "policy.allow_privileged"
        );
        assert_eq!(
            rule(&p, serde_json::json!({"network": "host"})),
            "policy.allow_host_network"
        );
        assert_eq!(
            rule(&p, serde_json::json!({"devices": ["/dev/mem"]})),
            "policy.allowed_devices"
        );
        assert_eq!(
            rule(
                &p,
                serde_json::json!({"mounts": [{"source": "/etc", "target": "/x", "read_only": true}]})
            ),
            "policy.mount_roots"
        );
        assert_eq!(
            p.check_create(&spec(serde_json::json!({})), 64)
                .unwrap_err()
                .rule,
            "policy.max_containers"
        );
    }

    #[test]
    fn mount_roots_are_component_wise_and_honour_read_only() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_str().unwrap();
        for dir in ["data/x/y", "app/conf", "data2"] {
            std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        }
        std::os::unix::fs::symlink("/", tmp.path().join("data/esc")).unwrap();
        let p = Policy {
            mount_roots: vec![
                MountRoot {
                    path: format!("{base}/data"),
                    read_write: true,
                },
                MountRoot {
                    path: format!("{base}/app"),
                    read_write: false,
                },
                MountRoot {
                    path: format!("{base}/missing"),
                    read_write: true,
                },
            ],
            ..Policy::default()
        };
        let m = |src: &str, ro: bool| serde_json::json!({"mounts": [{"source": format!("{base}/{src}"), "target": "/m", "read_only": ro}]});
        assert_eq!(rule(&p, m("data", false)), "ok");
        assert_eq!(rule(&p, m("data/x/y", false)), "ok");
        assert_eq!(rule(&p, m("data2", true)), "policy.mount_roots");
        assert_eq!(rule(&p, m("app/conf", true)), "ok");
        assert_eq!(rule(&p, m("app/conf", false)), "policy.mount_roots");
        assert_eq!(rule(&p, m("data/esc", false)), "policy.mount_roots");
        assert_eq!(rule(&p, m("data/esc/etc", true)), "policy.mount_roots");
        assert_eq!(rule(&p, m("missing/x", true)), "policy.mount_roots");
    }

    #[test]
    fn images_and_limits() {
        let p = Policy {
            allowed_images: vec![super::ImagePattern::parse("127.0.0.1:5000/").unwrap()],
            max_memory_bytes: Some(128 << 20),
            ..Policy::default()
        };
        assert_eq!(
            rule(
                &p,
                serde_json::json!({"resources": {"memory_bytes": 64 << 20}})
            ),
            "ok"
        );
        assert_eq!(rule(&p, serde_json::json!({})), "policy.max_memory_bytes");
        assert_eq!(
            rule(
                &p,
                serde_json::json!({"resources": {"memory_bytes": 256u64 << 20}})
            ),
            "policy.max_memory_bytes"
        );
        assert_eq!(
            rule(
                &p,
                serde_json::json!({"image": "docker.io/evil:1", "resources": {"memory_bytes": 1 << 23}})
            ),
            "policy.allowed_images"
        );
    }
}
