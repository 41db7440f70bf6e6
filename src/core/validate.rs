//! Semantic checks of a `ContainerSpec` and other op arguments that types alone cannot
//! express. Both codecs call these, so JSON and Protobuf refuse exactly the same input.

use super::model::ContainerSpec;
use super::names::printable;

/// A refused field: its path in the request (`args.ports[0].host`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    /// Path of the field, e.g. `args.env`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Smallest memory limit the engines accept (6 MiB).
pub const MIN_MEMORY_BYTES: u64 = 6 * 1024 * 1024;
/// Most entries in any list or map of a spec.
pub const MAX_ITEMS: usize = 256;
/// Longest string in a spec (an env value, an argument).
pub const MAX_STRING: usize = 32 * 1024;

/// Largest spec, measured as its JSON: every record, `list` reply and event carries it,
/// so it is bounded apart from each transport's request size. A spec over it is an
/// `invalid_request` naming this bound.
pub const MAX_SPEC_BYTES: usize = 64 * 1024;

/// Checks a spec that already has valid names, images and paths.
pub fn validate_spec(spec: &ContainerSpec) -> Result<(), FieldError> {
    let size = serde_json::to_vec(spec).map_or(usize::MAX, |json| json.len());
    if size > MAX_SPEC_BYTES {
        return Err(FieldError::new(
            "args",
            format!(
                "the container spec is {size} bytes as JSON, over the maximum of \
                 {MAX_SPEC_BYTES} (records and list replies carry it)"
            ),
        ));
    }
    check_strings("args.cmd", &spec.cmd)?;
    check_strings("args.entrypoint", &spec.entrypoint)?;
    check_map("args.env", &spec.env, env_key_problem)?;
    check_map("args.labels", &spec.labels, label_key_problem)?;
    super::supervision::check::check_health(spec)?;
    if spec.ports.len() > MAX_ITEMS
        || spec.mounts.len() > MAX_ITEMS
        || spec.devices.len() > MAX_ITEMS
    {
        return Err(FieldError::new(
            "args",
            format!("at most {MAX_ITEMS} ports, mounts or devices"),
        ));
    }
    for (i, p) in spec.ports.iter().enumerate() {
        if p.host == 0 || p.container == 0 {
            return Err(FieldError::new(
                format!("args.ports[{i}]"),
                "ports must be 1-65535",
            ));
        }
        let dup = spec.ports[..i]
            .iter()
            .any(|q| q.host == p.host && q.protocol == p.protocol);
        if dup {
            return Err(FieldError::new(
                format!("args.ports[{i}].host"),
                format!(
                    "host port {}/{} is published twice",
                    p.host,
                    p.protocol.as_str()
                ),
            ));
        }
    }
    for (i, m) in spec.mounts.iter().enumerate() {
        if m.target.as_str() == "/" {
            return Err(FieldError::new(
                format!("args.mounts[{i}].target"),
                "cannot mount over the container's root '/'",
            ));
        }
    }
    if let Some(r) = &spec.resources {
        if r.memory_bytes.is_some_and(|m| m < MIN_MEMORY_BYTES) {
            return Err(FieldError::new(
                "args.resources.memory_bytes",
                format!("must be at least {MIN_MEMORY_BYTES} (6 MiB), the engines' minimum"),
            ));
        }
        if r.cpu_millis == Some(0) {
            return Err(FieldError::new(
                "args.resources.cpu_millis",
                "must be at least 1",
            ));
        }
        if r.pids_limit == Some(0) {
            return Err(FieldError::new(
                "args.resources.pids_limit",
                "must be at least 1",
            ));
        }
    }
    if let Some(user) = &spec.user {
        let ok = !user.is_empty()
            && user.len() <= 64
            && !user.starts_with('-')
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-:".contains(c));
        if !ok {
            return Err(FieldError::new(
                "args.user",
                format!(
                    "'{}' is not a user (name or uid, optionally ':group' or ':gid')",
                    printable(user)
                ),
            ));
        }
    }
    Ok(())
}

fn check_strings(field: &str, items: &[String]) -> Result<(), FieldError> {
    if items.len() > MAX_ITEMS {
        return Err(FieldError::new(field, format!("at most {MAX_ITEMS} items")));
    }
    for (i, s) in items.iter().enumerate() {
        if s.len() > MAX_STRING || s.contains('\0') {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("must be at most {MAX_STRING} bytes without NUL characters"),
            ));
        }
    }
    Ok(())
}

fn check_map(
    field: &str,
    map: &std::collections::BTreeMap<String, String>,
    key_problem: fn(&str) -> Option<&'static str>,
) -> Result<(), FieldError> {
    if map.len() > MAX_ITEMS {
        return Err(FieldError::new(
            field,
            format!("at most {MAX_ITEMS} entries"),
        ));
    }
    for (k, v) in map {
        if let Some(problem) = key_problem(k) {
            return Err(FieldError::new(
                field,
                format!("key '{}' {problem}", printable(k)),
            ));
        }
        if v.len() > MAX_STRING || v.contains('\0') {
            return Err(FieldError::new(
                format!("{field}.{}", printable(k)),
                format!("must be at most {MAX_STRING} bytes without NUL characters"),
            ));
        }
    }
    Ok(())
}

fn env_key_problem(k: &str) -> Option<&'static str> {
    let ok = !k.is_empty()
        && k.len() <= 256
        && !k.starts_with('-')
        && k.chars().all(|c| c.is_ascii_graphic() && c != '=');
    (!ok).then_some("is not an environment variable name (printable, no '=', no leading '-')")
}

fn label_key_problem(k: &str) -> Option<&'static str> {
    let ok = !k.is_empty()
        && k.len() <= 256
        && !k.starts_with('-')
        && k.chars().all(|c| c.is_ascii_graphic() && c != '=');
    if !ok {
        return Some("is not a label key (printable, no '=', no leading '-')");
    }
    k.starts_with("io.ctrmgr.")
        .then_some("is reserved for the agent (prefix io.ctrmgr.)")
}

/// Checks a `list` label filter `key=value` and splits it.
pub fn parse_label_filter(s: &str) -> Result<(String, String), FieldError> {
    match s.split_once('=') {
        Some((k, v)) if label_key_problem(k).is_none() || k == super::runtime::MANAGED_LABEL => {
            Ok((k.to_owned(), v.to_owned()))
        }
        _ => Err(FieldError::new(
            "args.label",
            format!(
                "'{}' is not a label filter of the form key=value",
                printable(s)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::*;
    use crate::core::names::*;

    fn spec() -> ContainerSpec {
        serde_json::from_value(serde_json::json!({"name": "web", "image": "busybox"})).unwrap()
    }

    #[test]
    fn minimal_spec_is_valid() {
        validate_spec(&spec()).unwrap();
    }

    #[test]
    fn the_whole_spec_is_bounded() {
        let mut s = spec();
        // Each value within MAX_STRING, the count within MAX_ITEMS, the sum over the bound.
        s.cmd = vec!["x".repeat(16 * 1024); 5];
        let e = validate_spec(&s).unwrap_err();
        assert_eq!(e.field, "args");
        assert!(e.problem.contains("over the maximum of 65536"), "{e}");
        s.cmd.truncate(3);
        validate_spec(&s).unwrap();
    }

    #[test]
    fn refuses_bad_fields() {
        let mut s = spec();
        s.env.insert("A=B".into(), "x".into());
        assert_eq!(validate_spec(&s).unwrap_err().field, "args.env");

        let mut s = spec();
        s.resources = Some(Resources {
            memory_bytes: Some(10),
            ..Default::default()
        });
        assert_eq!(
            validate_spec(&s).unwrap_err().field,
            "args.resources.memory_bytes"
        );

        let mut s = spec();
        s.ports.push(PortMapping {
            host: 0,
            container: 80,
            protocol: Protocol::Tcp,
        });
        assert_eq!(validate_spec(&s).unwrap_err().field, "args.ports[0]");

        let mut s = spec();
        s.user = Some("--privileged".into());
        assert_eq!(validate_spec(&s).unwrap_err().field, "args.user");

        let mut s = spec();
        s.labels.insert("io.ctrmgr.managed".into(), "false".into());
        assert_eq!(validate_spec(&s).unwrap_err().field, "args.labels");

        let mut s = spec();
        s.mounts.push(Mount {
            source: AbsPath::parse("/tmp").unwrap(),
            target: AbsPath::parse("/").unwrap(),
            read_only: false,
        });
        assert_eq!(
            validate_spec(&s).unwrap_err().field,
            "args.mounts[0].target"
        );
    }

    #[test]
    fn label_filters() {
        assert_eq!(parse_label_filter("a=b").unwrap(), ("a".into(), "b".into()));
        assert!(parse_label_filter("nolabel").is_err());
        assert!(parse_label_filter("=x").is_err());
    }
}
