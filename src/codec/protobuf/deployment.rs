//! The desired-state messages: `ApplyArgs` to the core's `Command::Apply` (with the JSON
//! codec's checks) and `DeploymentStatus` both ways.

use super::reply::enum_word;
use super::spec::{self, parse_required, parse_str};
use super::wire::ctrmgr_v1 as pb;
use crate::core::command::Command;
use crate::core::deployment::{
    validate_deployment, ContainerStatus, Deployment, DeploymentContainer, DeploymentPolicy,
    DeploymentStatus, Desired,
};
use crate::core::validate::FieldError;

/// `apply`'s arguments, checked as the JSON codec checks them.
pub(super) fn apply_from_wire(a: pb::ApplyArgs) -> Result<Command, FieldError> {
    let d = a
        .deployment
        .ok_or_else(|| FieldError::new("args", "missing field `deployment`"))?;
    let at = "args.deployment";
    let containers = d
        .containers
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let here = format!("{at}.containers[{i}]");
            let wire_spec = c
                .spec
                .ok_or_else(|| FieldError::new(&here, "missing field `spec`"))?;
            Ok(DeploymentContainer {
                spec: spec::from_wire(wire_spec, &here)?,
                order: c.order,
                desired: match c.desired {
                    None => Desired::Running,
                    Some(w) => parse_str(&format!("{here}.desired"), w)?,
                },
            })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    let defaults = DeploymentPolicy::default();
    let policy = match d.policy {
        None => defaults,
        Some(p) => DeploymentPolicy {
            on_failure: match p.on_failure {
                None => defaults.on_failure,
                Some(w) => parse_str(&format!("{at}.policy.on_failure"), w)?,
            },
            healthy_window_s: p.healthy_window_s.unwrap_or(defaults.healthy_window_s),
        },
    };
    let deployment = Deployment {
        generation: d.generation,
        containers,
        policy,
    };
    validate_deployment(&deployment, at)?;
    Ok(Command::Apply {
        deployment: Box::new(deployment),
        wait: a.wait.unwrap_or(true),
    })
}

/// A status in its prost form.
pub(super) fn status_to_wire(s: &DeploymentStatus) -> pb::DeploymentStatus {
    pb::DeploymentStatus {
        generation: s.generation,
        phase: s.phase.as_str().to_owned(),
        previous_generation: s.previous_generation,
        started_at: s.started_at.clone(),
        finished_at: s.finished_at.clone(),
        message: s.message.clone(),
        containers: s
            .containers
            .iter()
            .map(|c| pb::DeploymentContainerStatus {
                name: c.name.to_string(),
                action: c.action.as_str().to_owned(),
                state: c.state.as_ref().map(enum_word),
                health: c.health.clone(),
                restart_count: c.restart_count,
                image_id: c.image_id.clone(),
                message: c.message.clone(),
            })
            .collect(),
        in_progress: s
            .in_progress
            .as_deref()
            .map(|p| Box::new(status_to_wire(p))),
    }
}

/// A status from its prost form; paths start with `at`.
pub(super) fn status_from_wire(
    s: pb::DeploymentStatus,
    at: &str,
) -> Result<DeploymentStatus, FieldError> {
    let containers = s
        .containers
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let here = format!("{at}.containers[{i}]");
            Ok(ContainerStatus {
                name: parse_required(&here, "name", c.name)?,
                action: parse_str(&format!("{here}.action"), c.action)?,
                state: c
                    .state
                    .map(|w| parse_str(&format!("{here}.state"), w))
                    .transpose()?,
                health: c.health,
                restart_count: c.restart_count,
                image_id: c.image_id,
                message: c.message,
            })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    Ok(DeploymentStatus {
        generation: s.generation,
        phase: parse_str(&format!("{at}.phase"), s.phase)?,
        previous_generation: s.previous_generation,
        started_at: s.started_at,
        finished_at: s.finished_at,
        message: s.message,
        containers,
        in_progress: s
            .in_progress
            .map(|p| status_from_wire(*p, &format!("{at}.in_progress")).map(Box::new))
            .transpose()?,
    })
}
