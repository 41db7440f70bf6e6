//! Checks of a spec's `health` that its types cannot express: exactly one probe kind,
//! non-zero timing, a usable command, port and path, and an address to probe (`http`
//! and `tcp` need a network: `network: none` has none the agent can reach).

use crate::core::model::{ContainerSpec, NetworkMode};
use crate::core::validate::{FieldError, MAX_ITEMS, MAX_STRING};

/// Longest interval, timeout or start period accepted (one day).
pub const MAX_SECONDS: u32 = 86_400;

/// Checks `spec.health`, if any.
pub fn check_health(spec: &ContainerSpec) -> Result<(), FieldError> {
    let Some(h) = &spec.health else {
        return Ok(());
    };
    let kinds = [h.cmd.is_some(), h.http.is_some(), h.tcp.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(FieldError::new(
            "args.health",
            "needs exactly one of cmd, http or tcp",
        ));
    }
    for (field, value) in [
        ("interval_s", h.interval_s),
        ("timeout_s", h.timeout_s),
        ("retries", h.retries),
    ] {
        if value == 0 {
            return Err(FieldError::new(
                format!("args.health.{field}"),
                "must be at least 1",
            ));
        }
    }
    for (field, value) in [
        ("interval_s", h.interval_s),
        ("timeout_s", h.timeout_s),
        ("start_period_s", h.start_period_s),
    ] {
        if value > MAX_SECONDS {
            return Err(FieldError::new(
                format!("args.health.{field}"),
                format!("must be at most {MAX_SECONDS} (one day)"),
            ));
        }
    }
    if let Some(cmd) = &h.cmd {
        let bad = cmd.is_empty()
            || cmd.len() > MAX_ITEMS
            || cmd.iter().any(|a| a.len() > MAX_STRING || a.contains('\0'));
        if bad {
            return Err(FieldError::new(
                "args.health.cmd",
                format!(
                    "must be 1-{MAX_ITEMS} arguments of at most {MAX_STRING} bytes without \
                     NUL characters"
                ),
            ));
        }
    }
    let port = match (&h.http, &h.tcp) {
        (Some(http), _) => {
            let ok = http.path.starts_with('/')
                && http.path.len() <= 2048
                && http.path.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(FieldError::new(
                    "args.health.http.path",
                    "must start with '/' and be printable ASCII without spaces \
                     (at most 2048 bytes)",
                ));
            }
            Some(("http", http.port))
        }
        (None, Some(tcp)) => Some(("tcp", tcp.port)),
        (None, None) => None,
    };
    if let Some((kind, port)) = port {
        if port == 0 {
            return Err(FieldError::new(
                format!("args.health.{kind}.port"),
                "ports must be 1-65535",
            ));
        }
        if spec.network == Some(NetworkMode::None) {
            return Err(FieldError::new(
                format!("args.health.{kind}"),
                "a container with network 'none' has no address the agent can probe \
                 (use a cmd check)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn check(health: Value, network: &str) -> Result<(), FieldError> {
        let spec: ContainerSpec = serde_json::from_value(json!({
            "name": "web", "image": "busybox", "network": network, "health": health
        }))
        .unwrap();
        check_health(&spec)
    }

    fn field(health: Value, network: &str) -> String {
        check(health, network).unwrap_err().field
    }

    #[test]
    fn good_checks_pass_with_the_contract_defaults() {
        check(json!({"cmd": ["true"]}), "none").unwrap();
        check(json!({"http": {"port": 80}}), "bridge").unwrap();
        check(json!({"tcp": {"port": 6379}, "interval_s": 1}), "host").unwrap();
        let spec: ContainerSpec = serde_json::from_value(
            json!({"name": "w", "image": "b", "health": {"tcp": {"port": 1}}}),
        )
        .unwrap();
        let h = spec.health.unwrap();
        assert_eq!(
            (h.interval_s, h.timeout_s, h.retries, h.start_period_s),
            (10, 5, 3, 0)
        );
        assert_eq!(h.on_unhealthy, crate::core::model::OnUnhealthy::Restart);
    }

    #[test]
    fn bad_checks_name_their_field() {
        assert_eq!(field(json!({}), "bridge"), "args.health");
        let two = json!({"cmd": ["true"], "tcp": {"port": 1}});
        assert_eq!(field(two, "bridge"), "args.health");
        let zero = json!({"cmd": ["true"], "interval_s": 0});
        assert_eq!(field(zero, "bridge"), "args.health.interval_s");
        let zero = json!({"cmd": ["true"], "retries": 0});
        assert_eq!(field(zero, "bridge"), "args.health.retries");
        assert_eq!(field(json!({"cmd": []}), "bridge"), "args.health.cmd");
        let path = json!({"http": {"port": 80, "path": "no-slash"}});
        assert_eq!(field(path, "bridge"), "args.health.http.path");
        assert_eq!(
            field(json!({"tcp": {"port": 0}}), "bridge"),
            "args.health.tcp.port"
        );
        assert_eq!(
            field(json!({"tcp": {"port": 80}}), "none"),
            "args.health.tcp"
        );
        assert_eq!(
            field(json!({"http": {"port": 80}}), "none"),
            "args.health.http"
        );
    }

    #[test]
    fn unknown_fields_are_refused_by_the_decoder() {
        let bad = serde_json::from_value::<ContainerSpec>(json!({
            "name": "w", "image": "b", "health": {"cmd": ["true"], "every": 3}
        }));
        assert!(bad.is_err());
    }
}
