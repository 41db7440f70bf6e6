//! `Deployer`: the desired-state half of the core. It owns what an apply needs (store,
//! runtime, policy, name locks, event bus), runs one apply at a time on its own task (so
//! an apply goes on when the client that sent it goes away), and answers `apply`,
//! `deployment` and `rollback`.

use super::journal::{self, InProgress, Journal};
use super::plan::plan;
use super::run::run;
use super::status::{initial_status, unchanged_status};
use super::types::{Deployment, DeploymentStatus, Phase};
use crate::core::clock;
use crate::core::error::CoreError;
use crate::core::events::{DeploymentEvent, EventBus};
use crate::core::locks::KeyedLocks;
use crate::core::names::ImageRef;
use crate::core::policy::Policy;
use crate::core::puller::Puller;
use crate::core::runtime::Runtime;
use crate::core::store::Store;
use std::sync::{Arc, Mutex, PoisonError};

/// Applies deployments. Cheap to clone: every clone shares one state.
#[derive(Clone)]
pub struct Deployer {
    pub(super) inner: Arc<Inner>,
}

/// What every clone of a [`Deployer`] shares.
pub(super) struct Inner {
    pub(super) store: Arc<dyn Store>,
    pub(super) rt: Arc<dyn Runtime>,
    pub(super) device_id: String,
    pub(super) policy: Policy,
    /// How its pulls run (free space, credentials, progress), as the `pull` op's.
    pub(super) pull: Puller,
    pub(super) names: Arc<KeyedLocks>,
    pub(super) events: Arc<EventBus>,
    /// Held by the apply (or recovery) under way.
    pub(super) busy: Arc<smol::lock::Mutex<()>>,
    /// The status of the apply under way, for `deployment`.
    live: Mutex<Option<DeploymentStatus>>,
}

impl std::fmt::Debug for Deployer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployer")
            .field("runtime", &self.inner.rt.kind())
            .finish_non_exhaustive()
    }
}

impl Deployer {
    /// A deployer creating containers on `rt`.
    pub fn new(
        store: Arc<dyn Store>,
        rt: Arc<dyn Runtime>,
        device_id: String,
        policy: Policy,
        pull: Puller,
        names: Arc<KeyedLocks>,
        events: Arc<EventBus>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                rt,
                device_id,
                policy,
                pull,
                names,
                events,
                busy: Arc::new(smol::lock::Mutex::new(())),
                live: Mutex::new(None),
            }),
        }
    }

    /// `apply`: validates and plans `dep` against the device, then applies it. With
    /// `wait` the reply is the final status, else the `pending` one.
    pub async fn apply(&self, dep: Deployment, wait: bool) -> Result<DeploymentStatus, CoreError> {
        let Some(guard) = self.inner.busy.try_lock_arc() else {
            return self.answer_while_busy(&dep);
        };
        let mut journal = journal::load(&*self.inner.store).await?;
        if let Some(status) = same_generation(&journal, &dep)? {
            return Ok(status);
        }
        let records = self.inner.store.list_containers().await?;
        let plan = plan(
            &dep,
            &records,
            journal.committed.as_ref(),
            &self.inner.policy,
        )?;
        let previous = journal.committed.as_ref().map(|d| d.generation);
        if plan.is_unchanged() {
            let status = unchanged_status(&dep, previous, &plan);
            journal.commit(dep, status.clone());
            journal::save(&*self.inner.store, &journal).await?;
            self.inner.publish(status.generation, Phase::Done, None);
            return Ok(status);
        }
        let status = initial_status(&dep, previous, &plan);
        journal.in_progress = Some(InProgress {
            deployment: dep,
            status: status.clone(),
            verified: false,
            steps: Vec::new(),
        });
        journal::save(&*self.inner.store, &journal).await?;
        self.inner.set_live(Some(status.clone()));
        self.inner.publish(status.generation, Phase::Pending, None);
        let inner = self.inner.clone();
        let task = smol::spawn(async move {
            let _busy = guard;
            let status = run(&inner, journal, plan).await;
            inner.set_live(None);
            status
        });
        if wait {
            Ok(task.await)
        } else {
            task.detach();
            Ok(status)
        }
    }

    /// `deployment`: the last finished apply's status (generation 0 before any), with
    /// the apply under way as `in_progress`.
    pub async fn status(&self) -> Result<DeploymentStatus, CoreError> {
        let journal = journal::load(&*self.inner.store).await?;
        let mut status = journal.status.unwrap_or_else(never_applied);
        status.in_progress = self.inner.live().map(Box::new);
        Ok(status)
    }

    /// The images the current and previous generation name (and the one being applied):
    /// `prune_images` keeps them.
    pub async fn named_images(&self) -> Result<Vec<ImageRef>, CoreError> {
        let journal = journal::load(&*self.inner.store).await?;
        let applying = journal.in_progress.as_ref().map(|ip| &ip.deployment);
        Ok([
            journal.committed.as_ref(),
            journal.previous.as_ref(),
            applying,
        ]
        .into_iter()
        .flatten()
        .flat_map(|d| d.containers.iter().map(|c| c.spec.image.clone()))
        .collect())
    }

    /// `rollback`: applies the previous committed generation's containers and policy
    /// as a new generation (the latest + 1).
    pub async fn rollback(&self) -> Result<DeploymentStatus, CoreError> {
        let journal = journal::load(&*self.inner.store).await?;
        let Some(previous) = journal.previous.clone() else {
            return Err(CoreError::DeploymentConflict(
                "no previous generation to roll back to (fewer than two generations were \
                 committed)"
                    .into(),
            ));
        };
        let dep = Deployment {
            generation: journal.latest_generation() + 1,
            ..previous
        };
        self.apply(dep, true).await
    }

    /// On start: finishes or undoes an apply that a crash interrupted, so the device
    /// runs exactly one consistent generation, then boots that generation (starts its
    /// `running` containers that a power cycle stopped; no pull). Returns the
    /// interrupted apply's status when there was one.
    pub async fn recover(&self) -> Result<Option<DeploymentStatus>, CoreError> {
        let _busy = self.inner.busy.lock_arc().await;
        let journal = journal::load(&*self.inner.store).await?;
        let ended = if journal.in_progress.is_some() {
            Some(super::recover::resume(&self.inner, journal).await)
        } else {
            None
        };
        let journal = journal::load(&*self.inner.store).await?;
        let started = self.inner.boot(&journal).await;
        if !started.is_empty() {
            let names: Vec<&str> = started.iter().map(|n| n.as_str()).collect();
            log::warn!(
                "deployment: started the committed generation's stopped containers on boot: {}",
                names.join(", ")
            );
        }
        Ok(ended)
    }

    fn answer_while_busy(&self, dep: &Deployment) -> Result<DeploymentStatus, CoreError> {
        match self.inner.live() {
            Some(live) if live.generation == dep.generation => Ok(live),
            Some(live) => Err(CoreError::DeploymentConflict(format!(
                "generation {} is being applied (phase {}); apply generation {} when it \
                 has ended",
                live.generation,
                live.phase.as_str(),
                dep.generation
            ))),
            None => Err(CoreError::DeploymentConflict(
                "the agent is recovering an interrupted apply; try again in a moment".into(),
            )),
        }
    }
}

impl Inner {
    /// Publishes a `deployment` event.
    pub(super) fn publish(&self, generation: u64, phase: Phase, step: Option<(&str, &str)>) {
        self.events.publish(DeploymentEvent {
            generation,
            phase: phase.as_str().to_owned(),
            name: step.map(|(n, _)| n.to_owned()),
            action: step.map(|(_, a)| a.to_owned()),
            time: clock::now_rfc3339(),
        });
    }

    pub(super) fn set_live(&self, status: Option<DeploymentStatus>) {
        *self.live.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }

    fn live(&self) -> Option<DeploymentStatus> {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The generation rules: a higher generation is applied; the latest one again with the
/// same content is answered with its status (a failed one is never retried by itself);
/// the latest with other content, or a lower one, is `conflict`.
fn same_generation(
    journal: &Journal,
    dep: &Deployment,
) -> Result<Option<DeploymentStatus>, CoreError> {
    let latest = journal.latest_generation();
    if dep.generation > latest {
        return Ok(None);
    }
    if dep.generation == latest && journal.last.as_ref() == Some(dep) {
        return Ok(journal.status.clone());
    }
    let why = if dep.generation == latest {
        "with other content"
    } else {
        "lower than the latest"
    };
    Err(CoreError::DeploymentConflict(format!(
        "generation {} {why}: the device's latest generation is {latest}; apply a higher \
         generation",
        dep.generation
    )))
}

/// The status before any apply.
fn never_applied() -> DeploymentStatus {
    DeploymentStatus {
        generation: 0,
        phase: Phase::Done,
        previous_generation: None,
        started_at: None,
        finished_at: None,
        message: None,
        containers: Vec::new(),
        in_progress: None,
    }
}
