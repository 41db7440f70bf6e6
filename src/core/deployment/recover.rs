//! How an apply ends, live or after a crash: finished forwards (verified, or failed with
//! `keep`: old containers removed, the generation committed) or undone (the previous
//! generation's containers back, same engine ids, no pull). On start,
//! [`resume`] ends an interrupted apply the same way, so the device runs exactly one
//! consistent generation with one container per name.

use super::deployer::Inner;
use super::journal::Journal;
use super::run::save;
use super::types::{DeploymentStatus, Phase};
use crate::core::clock;

/// Ends an interrupted apply found in the journal at start-up: finished when it had
/// been verified, undone otherwise.
pub(super) async fn resume(inner: &Inner, journal: Journal) -> DeploymentStatus {
    let Some(ip) = journal.in_progress.as_ref() else {
        return orphan_status("no apply was under way".into());
    };
    let phase = ip.status.phase;
    if ip.verified {
        log::warn!(
            "deployment: generation {} was verified before the agent stopped; finishing it",
            ip.status.generation
        );
        return finish_forward(inner, journal, Phase::Done, None).await;
    }
    let message = format!(
        "the agent stopped during phase {} and restored the previous generation on start",
        phase.as_str()
    );
    log::warn!("deployment: generation {}: {message}", ip.status.generation);
    undo_all(inner, journal, message).await
}

/// Commits the generation under way and removes what it replaced. `phase` is `done`,
/// or `failed` for a failure kept by `on_failure = keep`.
pub(super) async fn finish_forward(
    inner: &Inner,
    mut journal: Journal,
    phase: Phase,
    message: Option<String>,
) -> DeploymentStatus {
    let Some(ip) = journal.in_progress.as_mut() else {
        return orphan_status("no apply was under way".into());
    };
    ip.verified = true;
    save(inner, &journal).await;
    let Some(ip) = journal.in_progress.take() else {
        return orphan_status("no apply was under way".into());
    };
    let mut problems = Vec::new();
    for step in &ip.steps {
        if let Err(e) = inner.finish(step).await {
            problems.push(e.to_string());
        }
    }
    let mut status = ip.status;
    status.phase = phase;
    status.message = join(message, problems);
    fill_states(inner, &mut status).await;
    status.finished_at = Some(clock::now_rfc3339());
    if phase == Phase::Failed {
        journal.note_failed(status.generation);
    }
    journal.commit(ip.deployment, status.clone());
    save(inner, &journal).await;
    inner.publish(status.generation, phase, None);
    status
}

/// Undoes every begun step, newest first: phase `rolled_back`, the generation recorded
/// as failed; the committed generation stays.
pub(super) async fn undo_all(inner: &Inner, mut journal: Journal, why: String) -> DeploymentStatus {
    let Some(ip) = journal.in_progress.take() else {
        return orphan_status(why);
    };
    let mut problems = Vec::new();
    for step in ip.steps.iter().rev() {
        if let Err(e) = inner.undo(step).await {
            problems.push(format!("undo: {e}"));
        }
    }
    let mut status = ip.status;
    status.phase = Phase::RolledBack;
    status.message = join(Some(why), problems);
    fill_states(inner, &mut status).await;
    status.finished_at = Some(clock::now_rfc3339());
    journal.note_failed(status.generation);
    journal.end(ip.deployment, status.clone());
    save(inner, &journal).await;
    inner.publish(status.generation, Phase::RolledBack, None);
    status
}

/// Each container's state as the engine says now, its health and restarts as the
/// supervisor recorded them.
async fn fill_states(inner: &Inner, status: &mut DeploymentStatus) {
    for line in &mut status.containers {
        line.state = match inner.rt.inspect(&line.name).await {
            Ok(live) => Some(live.state),
            Err(_) => None,
        };
        if let Ok(Some(record)) = inner.store.get_container(&line.name).await {
            line.health = Some(record.health.as_str().to_owned());
            line.restart_count = record.restart_count;
        }
    }
}

fn join(message: Option<String>, problems: Vec<String>) -> Option<String> {
    let mut all: Vec<String> = message.into_iter().collect();
    all.extend(problems);
    (!all.is_empty()).then(|| all.join("; "))
}

/// A `failed` status for an apply whose journal entry vanished (not expected).
pub(super) fn orphan_status(message: String) -> DeploymentStatus {
    DeploymentStatus {
        generation: 0,
        phase: Phase::Failed,
        previous_generation: None,
        started_at: None,
        finished_at: Some(clock::now_rfc3339()),
        message: Some(message),
        containers: Vec::new(),
        in_progress: None,
    }
}
