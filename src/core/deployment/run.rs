//! The order of work of one apply (DESIGN.md "Desired state"): pull every missing image
//! (a failure changes nothing), then group by group in `order` replace what changed
//! (the old container parked, stopped, until the generation is verified), verify, and
//! commit; on failure undo (`rollback`) or keep. Every step is journaled before the
//! engine is touched.

use super::deployer::Inner;
use super::journal::{self, Journal, Kept, Step};
use super::plan::{Plan, Planned};
use super::steps::parked_name;
use super::types::{Action, DeploymentStatus, OnFailure, Phase};
use super::verify::{verify, Watched};
use crate::core::clock;
use crate::core::error::CoreError;
use crate::core::model::ImageInfo;
use crate::core::names::ImageRef;
use std::collections::BTreeSet;
use std::time::Duration;

/// Runs the apply journaled in `journal.in_progress` to its end; returns the final status.
pub(super) async fn run(inner: &Inner, mut journal: Journal, plan: Plan) -> DeploymentStatus {
    if let Err(message) = pull_missing(inner, &mut journal, &plan).await {
        return end_without_steps(inner, journal, message).await;
    }
    set_phase(inner, &mut journal, Phase::Switching).await;
    let switched = switch(inner, &mut journal, &plan).await;
    let verified = match switched {
        Ok(watched) => {
            set_phase(inner, &mut journal, Phase::Verifying).await;
            let window = Duration::from_secs(journal_dep(&journal).policy.healthy_window_s.into());
            verify(&*inner.rt, &*inner.store, &watched, window)
                .await
                .map_err(|u| format!("container '{}' failed verification: {}", u.name, u.reason))
        }
        Err(message) => Err(message),
    };
    match verified {
        Ok(()) => super::recover::finish_forward(inner, journal, Phase::Done, None).await,
        Err(message) => match journal_dep(&journal).policy.on_failure {
            OnFailure::Rollback => super::recover::undo_all(inner, journal, message).await,
            OnFailure::Keep => {
                super::recover::finish_forward(inner, journal, Phase::Failed, Some(message)).await
            }
        },
    }
}

/// The deployment being applied.
fn journal_dep(journal: &Journal) -> &super::types::Deployment {
    &journal
        .in_progress
        .as_ref()
        .expect("run only runs a journaled apply")
        .deployment
}

/// Sets the phase, journals it and publishes it.
pub(super) async fn set_phase(inner: &Inner, journal: &mut Journal, phase: Phase) {
    let Some(ip) = journal.in_progress.as_mut() else {
        return;
    };
    ip.status.phase = phase;
    let status = ip.status.clone();
    save(inner, journal).await;
    inner.set_live(Some(status.clone()));
    inner.publish(status.generation, phase, None);
}

/// Writes the journal; a store failure is logged (the apply goes on: the engine is the
/// truth the recovery reads back, and the next write may succeed).
pub(super) async fn save(inner: &Inner, journal: &Journal) {
    if let Err(e) = journal::save(&*inner.store, journal).await {
        log::error!("deployment journal not written: {e}");
    }
}

/// Whether the engine has `image` under one of its tags.
fn present(images: &[ImageInfo], image: &ImageRef) -> bool {
    let wanted = image.as_str();
    let tagged =
        if wanted.contains('@') || wanted.rsplit('/').next().is_some_and(|l| l.contains(':')) {
            wanted.to_owned()
        } else {
            format!("{wanted}:latest")
        };
    images.iter().flat_map(|i| &i.tags).any(|t| {
        let t = t
            .strip_prefix("docker.io/library/")
            .or_else(|| t.strip_prefix("docker.io/"))
            .or_else(|| t.strip_prefix("localhost/"))
            .unwrap_or(t);
        t == tagged || t == wanted
    })
}

/// Pulls the images of new containers that the engine does not have.
async fn pull_missing(inner: &Inner, journal: &mut Journal, plan: &Plan) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    let wanted: Vec<&ImageRef> = plan
        .items
        .iter()
        .filter(|p| matches!(p.action, Action::Create | Action::Recreate))
        .map(|p| &p.item.spec.image)
        .filter(|i| seen.insert(i.as_str()))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let have = inner
        .rt
        .images()
        .await
        .map_err(|e| format!("cannot list the engine's images: {e}"))?;
    let missing: Vec<&ImageRef> = wanted.into_iter().filter(|i| !present(&have, i)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    set_phase(inner, journal, Phase::Pulling).await;
    for image in missing {
        let pulled = inner
            .pull
            .pull(&inner.rt, image, None, true)
            .await
            .map_err(|e| format!("pulling '{image}' failed: {e}"))?;
        if let Some(ip) = journal.in_progress.as_mut() {
            for (line, p) in ip.status.containers.iter_mut().zip(&plan.items) {
                if &p.item.spec.image == image {
                    line.image_id = Some(pulled.id.clone());
                }
            }
        }
    }
    Ok(())
}

/// Journals a step before it is carried out.
async fn begin(inner: &Inner, journal: &mut Journal, step: Step, name: &str, action: Action) {
    if let Some(ip) = journal.in_progress.as_mut() {
        ip.steps.push(step);
        let generation = ip.status.generation;
        save(inner, journal).await;
        inner.publish(generation, Phase::Switching, Some((name, action.as_str())));
    }
}

/// Stops dropped containers, then replaces changed ones group by group. Returns the
/// containers to verify.
async fn switch(inner: &Inner, journal: &mut Journal, plan: &Plan) -> Result<Vec<Watched>, String> {
    let generation = journal_dep(journal).generation;
    for old in &plan.dropped {
        let kept = Kept::of(old);
        let step = Step::Dropped { old: kept.clone() };
        begin(inner, journal, step, old.name.as_str(), Action::Remove).await;
        let _lock = inner.names.lock(old.name.as_str()).await;
        inner
            .set_running(&kept, false)
            .await
            .map_err(|e| format!("stopping dropped container '{}' failed: {e}", old.name))?;
    }
    let mut watched = Vec::new();
    for order in plan.groups() {
        for p in plan.items.iter().filter(|p| p.item.order == order) {
            if let Some(w) = step(inner, journal, p, generation).await.map_err(|e| {
                format!(
                    "{} of container '{}' failed: {e}",
                    p.action.as_str(),
                    p.item.spec.name
                )
            })? {
                watched.push(w);
            }
        }
    }
    Ok(watched)
}

/// Carries out one container's action; returns it when it must be verified.
async fn step(
    inner: &Inner,
    journal: &mut Journal,
    p: &Planned,
    generation: u64,
) -> Result<Option<Watched>, CoreError> {
    let name = &p.item.spec.name;
    let old = p.existing.as_ref().map(Kept::of);
    let step = match (p.action, old) {
        (Action::None | Action::Remove, _) => return Ok(None),
        (Action::Create, _) | (_, None) => Step::Created { name: name.clone() },
        (Action::Recreate, Some(old)) => Step::Replaced {
            name: name.clone(),
            parked: parked_name(name),
            old,
        },
        (Action::Start, Some(old)) => Step::Started { old },
        (Action::Stop, Some(old)) => Step::Stopped { old },
    };
    begin(inner, journal, step.clone(), name.as_str(), p.action).await;
    let _lock = inner.names.lock(name.as_str()).await;
    let id = match &step {
        Step::Created { .. } => inner.create_new(p, generation).await?,
        Step::Replaced { .. } => {
            inner.park(name).await?;
            inner.create_new(p, generation).await?
        }
        Step::Started { old } => inner.set_running(old, true).await?,
        Step::Stopped { old } | Step::Dropped { old } => {
            inner.set_running(old, false).await?;
            return Ok(None);
        }
    };
    let runs = p.item.desired == super::types::Desired::Running;
    Ok(runs.then(|| Watched {
        name: name.clone(),
        id,
    }))
}

/// Ends an apply that touched nothing (a pull failed): phase `failed`.
async fn end_without_steps(
    inner: &Inner,
    mut journal: Journal,
    message: String,
) -> DeploymentStatus {
    let Some(ip) = journal.in_progress.take() else {
        return super::recover::orphan_status(message);
    };
    let mut status = ip.status;
    status.phase = Phase::Failed;
    status.message = Some(format!("{message}; nothing on the device was changed"));
    status.finished_at = Some(clock::now_rfc3339());
    journal.note_failed(status.generation);
    journal.end(ip.deployment, status.clone());
    save(inner, &journal).await;
    inner.publish(status.generation, Phase::Failed, None);
    status
}
