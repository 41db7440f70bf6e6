//! Checks of a deployment that its types alone cannot express. Both codecs call
//! [`validate_deployment`], so JSON and Protobuf refuse exactly the same input.

use super::types::Deployment;
use crate::core::validate::{validate_spec, FieldError, MAX_ITEMS};
use std::collections::BTreeSet;

/// Longest name of a deployment container: the old container waits under
/// `<name>.ctrmgr-old` while its replacement is verified, and names end at 63.
pub const MAX_DEPLOYMENT_NAME: usize = 63 - super::PARKED_SUFFIX.len();

/// Longest verification window (one hour).
pub const MAX_HEALTHY_WINDOW_S: u32 = 3600;

/// Checks a deployment; `at` is where it sits in the request (`args.deployment`).
pub fn validate_deployment(d: &Deployment, at: &str) -> Result<(), FieldError> {
    if d.generation == 0 {
        return Err(FieldError::new(
            format!("{at}.generation"),
            "must be at least 1 (0 means nothing was ever applied)",
        ));
    }
    if d.containers.len() > MAX_ITEMS {
        return Err(FieldError::new(
            format!("{at}.containers"),
            format!("at most {MAX_ITEMS} containers"),
        ));
    }
    if d.policy.healthy_window_s > MAX_HEALTHY_WINDOW_S {
        return Err(FieldError::new(
            format!("{at}.policy.healthy_window_s"),
            format!("at most {MAX_HEALTHY_WINDOW_S}"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, c) in d.containers.iter().enumerate() {
        let here = format!("{at}.containers[{i}]");
        let name = c.spec.name.as_str();
        if !seen.insert(name) {
            return Err(FieldError::new(
                format!("{here}.name"),
                format!("'{name}' appears more than once in the deployment"),
            ));
        }
        if name.len() > MAX_DEPLOYMENT_NAME {
            return Err(FieldError::new(
                format!("{here}.name"),
                format!(
                    "'{name}' is longer than {MAX_DEPLOYMENT_NAME} characters (a deployment \
                     keeps the old container as '<name>{}' while it verifies the new one)",
                    super::PARKED_SUFFIX
                ),
            ));
        }
        validate_spec(&c.spec).map_err(|e| {
            let field = match e.field.strip_prefix("args") {
                Some(rest) => format!("{here}{rest}"),
                None => format!("{here}.{}", e.field),
            };
            FieldError::new(field, e.problem)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(json: &str) -> Deployment {
        serde_json::from_str(json).expect("parses")
    }

    #[test]
    fn duplicate_names_are_refused_naming_the_second() {
        let d = dep(
            r#"{"generation":1,"containers":[{"name":"a","image":"i"},{"name":"a","image":"j"}]}"#,
        );
        let e = validate_deployment(&d, "args.deployment").unwrap_err();
        assert_eq!(e.field, "args.deployment.containers[1].name");
    }

    #[test]
    fn spec_problems_name_the_container() {
        let d = dep(r#"{"generation":1,"containers":[{"name":"a","image":"i","env":{"=x":"1"}}]}"#);
        let e = validate_deployment(&d, "args.deployment").unwrap_err();
        assert!(
            e.field.starts_with("args.deployment.containers[0].env"),
            "{e}"
        );
    }

    #[test]
    fn generation_zero_and_long_windows_are_refused() {
        let d = dep(r#"{"generation":0,"containers":[]}"#);
        assert!(validate_deployment(&d, "d").is_err());
        let d = dep(r#"{"generation":1,"containers":[],"policy":{"healthy_window_s":99999}}"#);
        assert_eq!(
            validate_deployment(&d, "d").unwrap_err().field,
            "d.policy.healthy_window_s"
        );
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        assert!(
            serde_json::from_str::<Deployment>(r#"{"generation":1,"containers":[],"x":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<Deployment>(
            r#"{"generation":1,"containers":[{"name":"a","image":"i","bogus":1}]}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Deployment>(
            r#"{"generation":1,"containers":[{"name":"a","image":"i","order":-1}]}"#
        )
        .is_err());
        let d = dep(
            r#"{"generation":1,"containers":[{"name":"a","image":"i","order":2,"desired":"stopped"}]}"#,
        );
        assert_eq!(d.containers[0].order, 2);
        assert_eq!(d.policy.healthy_window_s, 30);
    }
}
