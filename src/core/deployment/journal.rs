//! The deployment journal: what the store keeps so that an apply survives `kill -9`.
//! Each step is written before the engine is touched (write-ahead), so on start the
//! agent can undo or finish exactly what was begun (see [`super::recover`]).

use super::types::{Deployment, DeploymentStatus};
use crate::core::error::{CoreError, StoreError};
use crate::core::model::{Container, Intent};
use crate::core::names::ContainerName;
use crate::core::store::Store;
use serde::{Deserialize, Serialize};

/// How many failed generations the journal remembers (never retried by themselves).
const FAILED_KEPT: usize = 16;

/// Everything the agent knows about deployments, written whole on every change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The committed generation: what the device runs.
    pub committed: Option<Deployment>,
    /// The generation committed before it (what `rollback` applies).
    pub previous: Option<Deployment>,
    /// The last generation an apply ended on (done, failed or rolled back), as declared.
    pub last: Option<Deployment>,
    /// Its status.
    pub status: Option<DeploymentStatus>,
    /// Generations that failed, newest last.
    pub failed_generations: Vec<u64>,
    /// The apply under way.
    pub in_progress: Option<InProgress>,
}

/// An apply under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InProgress {
    /// What is being applied.
    pub deployment: Deployment,
    /// Its status so far.
    pub status: DeploymentStatus,
    /// Set once every new container passed verification: from then on the apply is
    /// finished, never undone.
    pub verified: bool,
    /// What was begun, in order.
    pub steps: Vec<Step>,
}

/// A container record as it was before a step, with the intent the record keeps apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// The record.
    pub record: Container,
    /// What the last client op asked of it.
    pub intent: Intent,
}

impl Kept {
    /// Keeps `record` and its intent.
    pub fn of(record: &Container) -> Self {
        Self {
            record: record.clone(),
            intent: record.intent,
        }
    }

    /// The record with its intent back.
    pub fn restored(&self) -> Container {
        Container {
            intent: self.intent,
            ..self.record.clone()
        }
    }
}

/// One begun step of an apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A new container under a free name.
    Created {
        /// Its name.
        name: ContainerName,
    },
    /// The old container stopped and renamed to `parked`; a new one under `name`.
    Replaced {
        /// The name.
        name: ContainerName,
        /// Where the old container waits.
        parked: ContainerName,
        /// Its record.
        old: Kept,
    },
    /// An unchanged container started (desired now `running`).
    Started {
        /// The record before.
        old: Kept,
    },
    /// An unchanged container stopped (desired now `stopped`).
    Stopped {
        /// The record before.
        old: Kept,
    },
    /// A container of the previous generation that this one drops: stopped now,
    /// removed once the generation is verified.
    Dropped {
        /// The record before.
        old: Kept,
    },
}

/// Reads the journal (empty before the first apply).
pub async fn load(store: &dyn Store) -> Result<Journal, CoreError> {
    match store.get_deployment_journal().await? {
        None => Ok(Journal::default()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            CoreError::Store(StoreError::Corrupt {
                backend: store.backend(),
                key: "deployment".into(),
                reason: e.to_string(),
            })
        }),
    }
}

/// Writes the journal whole.
pub async fn save(store: &dyn Store, journal: &Journal) -> Result<(), CoreError> {
    let json = serde_json::to_string(journal).map_err(|e| StoreError::Write {
        backend: store.backend(),
        key: "deployment".into(),
        reason: e.to_string(),
    })?;
    store.put_deployment_journal(&json).await?;
    Ok(())
}

impl Journal {
    /// Records a failed generation.
    pub fn note_failed(&mut self, generation: u64) {
        self.failed_generations.retain(|g| *g != generation);
        self.failed_generations.push(generation);
        let extra = self.failed_generations.len().saturating_sub(FAILED_KEPT);
        self.failed_generations.drain(..extra);
    }

    /// Makes `dep` the committed generation, ended with `status`.
    pub fn commit(&mut self, dep: Deployment, status: DeploymentStatus) {
        if let Some(old) = self.committed.take() {
            if old.generation != dep.generation {
                self.previous = Some(old);
            } else {
                self.committed = Some(old);
            }
        }
        self.committed = Some(dep.clone());
        self.end(dep, status);
    }

    /// Records `dep` as the last generation an apply ended on, with `status`.
    pub fn end(&mut self, dep: Deployment, status: DeploymentStatus) {
        self.last = Some(dep);
        self.status = Some(status);
        self.in_progress = None;
    }

    /// The highest generation the device has seen an apply end on or commit.
    pub fn latest_generation(&self) -> u64 {
        let last = self.last.as_ref().map_or(0, |d| d.generation);
        let committed = self.committed.as_ref().map_or(0, |d| d.generation);
        last.max(committed)
    }
}
