//! Change detection without loops: the canonical form of a ContainerSpec and its hash,
//! carried by every deployment-owned container as `io.ctrmgr.spec-hash=<version>:<sha256>`.
//! A container whose label matches the declared spec's hash is left alone; the engine's
//! inspect output is never compared, so nothing is recreated in a loop.

use crate::core::model::ContainerSpec;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The label naming the generation that created a deployment-owned container.
pub const DEPLOYMENT_LABEL: &str = "io.ctrmgr.deployment";

/// The label holding `<version>:<sha256 of the canonical spec>`.
pub const SPEC_HASH_LABEL: &str = "io.ctrmgr.spec-hash";

/// The version of the canonical form. A later agent that changes the form bumps it and
/// can tell an old hash from a changed spec instead of recreating every container.
pub const SPEC_HASH_VERSION: u32 = 1;

/// Labels the agent adds itself (`io.ctrmgr.*`): not part of what a client declares.
const AGENT_LABEL_PREFIX: &str = "io.ctrmgr.";

/// The canonical bytes of a spec: its JSON with every object's keys sorted, no spaces,
/// set-like lists sorted (ports, mounts, devices), empty fields left out (the same as
/// the defaults they stand for), defaults of present fields filled in (a port's
/// `protocol`), and the agent's own labels removed.
pub fn canonical_bytes(spec: &ContainerSpec) -> Vec<u8> {
    let mut spec = spec.clone();
    spec.labels
        .retain(|k, _| !k.starts_with(AGENT_LABEL_PREFIX));
    spec.ports
        .sort_by_key(|p| (p.host, p.container, p.protocol.as_str()));
    spec.mounts.sort_by(|a, b| {
        (a.target.as_str(), a.source.as_str(), a.read_only).cmp(&(
            b.target.as_str(),
            b.source.as_str(),
            b.read_only,
        ))
    });
    spec.devices.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let value = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let mut out = String::new();
    write_sorted(&value, &mut out);
    out.into_bytes()
}

/// `<version>:<hex sha256 of the canonical bytes>`, the value of [`SPEC_HASH_LABEL`].
pub fn spec_hash(spec: &ContainerSpec) -> String {
    let digest = Sha256::digest(&canonical_bytes(spec));
    let mut out = format!("{SPEC_HASH_VERSION}:");
    for b in digest.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Writes `v` as compact JSON with every object's keys in byte order, whatever order
/// serde_json keeps them in.
fn write_sorted(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_sorted(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> ContainerSpec {
        serde_json::from_str(json).expect("valid spec")
    }

    /// Pins the canonical form of version 1: changing it must bump SPEC_HASH_VERSION.
    #[test]
    fn canonical_bytes_are_pinned() {
        let s = spec(
            r#"{"name":"web","image":"busybox:1","env":{"B":"2","A":"1"},
                "ports":[{"host":8081,"container":81},{"host":8080,"container":80,"protocol":"udp"}],
                "devices":["/dev/b","/dev/a"],
                "labels":{"team":"x","io.ctrmgr.deployment":"4"}}"#,
        );
        assert_eq!(
            String::from_utf8(canonical_bytes(&s)).unwrap(),
            r#"{"devices":["/dev/a","/dev/b"],"env":{"A":"1","B":"2"},"image":"busybox:1","labels":{"team":"x"},"name":"web","ports":[{"container":80,"host":8080,"protocol":"udp"},{"container":81,"host":8081,"protocol":"tcp"}]}"#
        );
        assert_eq!(
            spec_hash(&s),
            format!(
                "1:{}",
                Sha256::digest(&canonical_bytes(&s))
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            )
        );
    }

    #[test]
    fn order_of_set_like_lists_and_defaults_do_not_change_the_hash() {
        let a = spec(
            r#"{"name":"w","image":"i","ports":[{"host":1,"container":1},{"host":2,"container":2}]}"#,
        );
        let b = spec(
            r#"{"name":"w","image":"i","cmd":[],"ports":[{"host":2,"container":2,"protocol":"tcp"},{"host":1,"container":1}]}"#,
        );
        assert_eq!(spec_hash(&a), spec_hash(&b));
        let c = spec(r#"{"name":"w","image":"i","cmd":["sh"]}"#);
        assert_ne!(spec_hash(&a), spec_hash(&c));
        assert!(spec_hash(&a).starts_with("1:"));
        assert_eq!(spec_hash(&a).len(), 2 + 64);
    }
}
