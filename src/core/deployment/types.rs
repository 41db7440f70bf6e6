//! The deployment's wire shapes (DESIGN.md "Desired state"): `Deployment` (what a fleet
//! declares) and `DeploymentStatus` (what `apply`, `deployment` and `rollback` answer).

use crate::core::model::{ContainerSpec, ContainerState};
use crate::core::names::ContainerName;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A declared generation: every container the device should run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Higher than the current generation (the same one with the same content is a no-op).
    pub generation: u64,
    /// The containers, each a ContainerSpec plus `order` and `desired`.
    pub containers: Vec<DeploymentContainer>,
    /// What to do on failure and how long to verify.
    #[serde(default)]
    pub policy: DeploymentPolicy,
}

/// One container of a deployment: a ContainerSpec (flattened) plus `order` and `desired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentContainer {
    /// The container (its fields at the same level as `order` and `desired`).
    #[serde(flatten)]
    pub spec: ContainerSpec,
    /// Start order: lower groups first (default 0).
    pub order: u32,
    /// `running` (default) or `stopped`.
    pub desired: Desired,
}

/// serde's `flatten` cannot refuse unknown fields, so the two own fields are taken out
/// and the rest is read as a ContainerSpec, which refuses what it does not know.
impl<'de> Deserialize<'de> for DeploymentContainer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let order = match map.remove("order") {
            None | Some(Value::Null) => 0,
            Some(v) => u32::deserialize(v).map_err(|e| D::Error::custom(format!("order: {e}")))?,
        };
        let desired = match map.remove("desired") {
            None | Some(Value::Null) => Desired::Running,
            Some(v) => {
                Desired::deserialize(v).map_err(|e| D::Error::custom(format!("desired: {e}")))?
            }
        };
        let spec = ContainerSpec::deserialize(Value::Object(map)).map_err(D::Error::custom)?;
        Ok(Self {
            spec,
            order,
            desired,
        })
    }
}

/// Whether a deployment container should run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Desired {
    /// Started and kept running.
    #[default]
    Running,
    /// Created and left stopped.
    Stopped,
}

/// A deployment's failure handling and verification window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentPolicy {
    /// `rollback` (default) or `keep`.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Seconds each new container must stay running before the generation is done.
    #[serde(default = "default_window")]
    pub healthy_window_s: u32,
}

fn default_window() -> u32 {
    30
}

impl Default for DeploymentPolicy {
    fn default() -> Self {
        Self {
            on_failure: OnFailure::Rollback,
            healthy_window_s: default_window(),
        }
    }
}

/// What a failed generation leaves behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Remove the new containers and restore the old ones.
    #[default]
    Rollback,
    /// Leave the new containers as they are.
    Keep,
}

/// Where an apply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Accepted, not started.
    Pending,
    /// Pulling missing images.
    Pulling,
    /// Replacing containers group by group.
    Switching,
    /// Watching the new containers for `healthy_window_s`.
    Verifying,
    /// Verified and committed.
    Done,
    /// Failed and the previous generation restored.
    RolledBack,
    /// Failed (a pull, or a failure with `on_failure = keep`).
    Failed,
}

impl Phase {
    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Pulling => "pulling",
            Phase::Switching => "switching",
            Phase::Verifying => "verifying",
            Phase::Done => "done",
            Phase::RolledBack => "rolled_back",
            Phase::Failed => "failed",
        }
    }

    /// Whether the apply has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Done | Phase::RolledBack | Phase::Failed)
    }
}

/// What an apply does to one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Unchanged: no engine call.
    None,
    /// New name.
    Create,
    /// Changed spec: a new container replaces the old one.
    Recreate,
    /// Same spec, now desired running.
    Start,
    /// Same spec, now desired stopped.
    Stop,
    /// Owned by the previous generation, absent from this one.
    Remove,
}

impl Action {
    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Create => "create",
            Action::Recreate => "recreate",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Remove => "remove",
        }
    }
}

/// The result of `apply`, `deployment` and `rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentStatus {
    /// The generation this status is about (0: nothing was ever applied).
    pub generation: u64,
    /// Where it is.
    pub phase: Phase,
    /// The generation that was committed before it.
    pub previous_generation: Option<u64>,
    /// When the apply started (RFC 3339).
    pub started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub finished_at: Option<String>,
    /// Why it failed or was rolled back.
    pub message: Option<String>,
    /// One entry per container the apply concerned.
    pub containers: Vec<ContainerStatus>,
    /// `deployment` only: the apply running now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<Box<DeploymentStatus>>,
}

/// One container's part in a deployment status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerStatus {
    /// The container.
    pub name: ContainerName,
    /// What the apply did to it.
    pub action: Action,
    /// Its state when last seen.
    pub state: Option<ContainerState>,
    /// `none|starting|healthy|unhealthy` as the supervisor recorded it; `None` for a
    /// container that does not exist (yet).
    pub health: Option<String>,
    /// Restarts seen during verification.
    pub restart_count: u32,
    /// The id of its image, when this apply pulled it.
    pub image_id: Option<String>,
    /// Why this container failed, if it did.
    pub message: Option<String>,
}
