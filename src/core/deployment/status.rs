//! Building a `DeploymentStatus`: the first one of an apply, the one of an unchanged
//! re-apply (no engine call), and each container's line.

use super::plan::Plan;
use super::types::{Action, ContainerStatus, Deployment, DeploymentStatus, Phase};
use crate::core::clock;
use crate::core::model::Container;

/// A container's line before the apply touches it.
fn line(name: &Container, action: Action) -> ContainerStatus {
    ContainerStatus {
        name: name.name.clone(),
        action,
        state: Some(name.state),
        health: Some(name.health.as_str().to_owned()),
        restart_count: name.restart_count,
        image_id: None,
        message: None,
    }
}

/// Every container the plan concerns: the declared ones, then the dropped ones.
fn lines(plan: &Plan) -> Vec<ContainerStatus> {
    let mut out: Vec<ContainerStatus> = plan
        .items
        .iter()
        .map(|p| match &p.existing {
            Some(r) => line(r, p.action),
            None => ContainerStatus {
                name: p.item.spec.name.clone(),
                action: p.action,
                state: None,
                health: None,
                restart_count: 0,
                image_id: None,
                message: None,
            },
        })
        .collect();
    out.extend(plan.dropped.iter().map(|r| line(r, Action::Remove)));
    out
}

/// The `pending` status of an apply about to start.
pub fn initial_status(dep: &Deployment, previous: Option<u64>, plan: &Plan) -> DeploymentStatus {
    DeploymentStatus {
        generation: dep.generation,
        phase: Phase::Pending,
        previous_generation: previous,
        started_at: Some(clock::now_rfc3339()),
        finished_at: None,
        message: None,
        containers: lines(plan),
        in_progress: None,
    }
}

/// The `done` status of a generation that changes nothing: every action `none`, states
/// as recorded (no engine call).
pub fn unchanged_status(dep: &Deployment, previous: Option<u64>, plan: &Plan) -> DeploymentStatus {
    let now = clock::now_rfc3339();
    DeploymentStatus {
        phase: Phase::Done,
        finished_at: Some(now),
        previous_generation: previous.filter(|p| *p != dep.generation),
        ..initial_status(dep, previous, plan)
    }
}
