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
use futures_util::stream::{self, StreamExt};
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

/// Journals steps (in one write) before they are carried out, and announces each.
async fn begin(inner: &Inner, journal: &mut Journal, steps: Vec<(Step, &str, Action)>) {
    if steps.is_empty() {
        return;
    }
    if let Some(ip) = journal.in_progress.as_mut() {
        let generation = ip.status.generation;
        let announced: Vec<_> = steps.iter().map(|(_, n, a)| (*n, *a)).collect();
        ip.steps.extend(steps.into_iter().map(|(s, _, _)| s));
        save(inner, journal).await;
        for (name, action) in announced {
            inner.publish(generation, Phase::Switching, Some((name, action.as_str())));
        }
    }
}

/// How many containers of one `order` group are replaced at once. The engines create
/// and start containers side by side (dockerd measured 2-3x faster with 4 in flight than
/// one by one); more mostly queues inside the engine.
const GROUP_CONCURRENCY: usize = 4;

/// Stops dropped containers, then replaces changed ones group by group: every step of a
/// group is journaled in one write, then carried out up to [`GROUP_CONCURRENCY`] at a
/// time. Returns the containers to verify.
async fn switch(inner: &Inner, journal: &mut Journal, plan: &Plan) -> Result<Vec<Watched>, String> {
    let generation = journal_dep(journal).generation;
    for old in &plan.dropped {
        let kept = Kept::of(old);
        let step = Step::Dropped { old: kept.clone() };
        begin(
            inner,
            journal,
            vec![(step, old.name.as_str(), Action::Remove)],
        )
        .await;
        let _lock = inner.names.lock(old.name.as_str()).await;
        inner
            .set_running(&kept, false)
            .await
            .map_err(|e| format!("stopping dropped container '{}' failed: {e}", old.name))?;
    }
    let mut watched = Vec::new();
    for order in plan.groups() {
        let group: Vec<(&Planned, Step)> = plan
            .items
            .iter()
            .filter(|p| p.item.order == order)
            .filter_map(|p| step_of(p).map(|s| (p, s)))
            .collect();
        let begun = group
            .iter()
            .map(|(p, s)| (s.clone(), p.item.spec.name.as_str(), p.action))
            .collect();
        begin(inner, journal, begun).await;
        // The futures are made before they are streamed: a closure inside the stream's
        // type would make the apply task's future not provably `Send`.
        let work: Vec<_> = group
            .into_iter()
            .enumerate()
            .map(|(i, (p, s))| async move { (i, p, carry_out(inner, p, &s, generation).await) })
            .collect();
        let mut results: Vec<_> = stream::iter(work)
            .buffer_unordered(GROUP_CONCURRENCY)
            .collect()
            .await;
        results.sort_by_key(|(i, _, _)| *i);
        for (_, p, result) in results {
            match result {
                Ok(Some(w)) => watched.push(w),
                Ok(None) => {}
                Err(e) => {
                    return Err(format!(
                        "{} of container '{}' failed: {e}",
                        p.action.as_str(),
                        p.item.spec.name
                    ))
                }
            }
        }
    }
    Ok(watched)
}

/// The journal step of one container's action; `None` when there is nothing to do.
fn step_of(p: &Planned) -> Option<Step> {
    let name = &p.item.spec.name;
    let old = p.existing.as_ref().map(Kept::of);
    Some(match (p.action, old) {
        (Action::None | Action::Remove, _) => return None,
        (Action::Create, _) | (_, None) => Step::Created { name: name.clone() },
        (Action::Recreate, Some(old)) => Step::Replaced {
            name: name.clone(),
            parked: parked_name(name),
            old,
        },
        (Action::Start, Some(old)) => Step::Started { old },
        (Action::Stop, Some(old)) => Step::Stopped { old },
    })
}

/// Carries out one journaled step; returns the container when it must be verified.
async fn carry_out(
    inner: &Inner,
    p: &Planned,
    step: &Step,
    generation: u64,
) -> Result<Option<Watched>, CoreError> {
    let name = &p.item.spec.name;
    let _lock = inner.names.lock(name.as_str()).await;
    let id = match step {
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
