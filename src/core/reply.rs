//! `Reply`: the outcome of a request, and `OpResult`, the result of each op.

use super::deployment::DeploymentStatus;
use super::error::ErrorBody;
use super::model::{Container, ImageInfo, RuntimeStatus, Stats};
use super::names::{ContainerName, ImageRef};
use serde::{Deserialize, Serialize};

/// The reply to one request. Its JSON form is the contract's reply envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The request's id, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Result or error.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Success with a result, or an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Outcome {
    /// `{"ok": true, "result": ...}`
    Ok {
        /// Always `true`.
        ok: True,
        /// The op's result.
        result: OpResult,
    },
    /// `{"ok": false, "error": ...}`
    Err {
        /// Always `false`.
        ok: False,
        /// What went wrong.
        error: ErrorBody,
    },
}

/// Serializes as `true` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "bool", into = "bool")]
pub struct True;
/// Serializes as `false` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "bool", into = "bool")]
pub struct False;

impl From<True> for bool {
    fn from(_: True) -> bool {
        true
    }
}
impl TryFrom<bool> for True {
    type Error = &'static str;
    fn try_from(b: bool) -> Result<Self, Self::Error> {
        b.then_some(True).ok_or("expected true")
    }
}
impl From<False> for bool {
    fn from(_: False) -> bool {
        false
    }
}
impl TryFrom<bool> for False {
    type Error = &'static str;
    fn try_from(b: bool) -> Result<Self, Self::Error> {
        (!b).then_some(False).ok_or("expected false")
    }
}

impl Reply {
    /// A successful reply.
    pub fn ok(id: Option<String>, result: OpResult) -> Self {
        Self {
            id,
            outcome: Outcome::Ok { ok: True, result },
        }
    }

    /// An error reply.
    pub fn err(id: Option<String>, error: ErrorBody) -> Self {
        Self {
            id,
            outcome: Outcome::Err { ok: False, error },
        }
    }

    /// The error, if this reply is one.
    pub fn error(&self) -> Option<&ErrorBody> {
        match &self.outcome {
            Outcome::Err { error, .. } => Some(error),
            Outcome::Ok { .. } => None,
        }
    }
}

/// The result of each op, in the contract's shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OpResult {
    /// create, start, stop, restart, kill, inspect.
    Container(Box<Container>),
    /// list.
    Containers {
        /// Managed containers.
        containers: Vec<Container>,
    },
    /// logs.
    Logs {
        /// Log lines, oldest first.
        lines: Vec<String>,
    },
    /// stats.
    Stats(Stats),
    /// pull.
    Pulled {
        /// The reference pulled.
        image: ImageRef,
        /// The image id.
        id: String,
    },
    /// images.
    Images {
        /// Images the engine has.
        images: Vec<ImageInfo>,
    },
    /// remove.
    Removed {
        /// The removed container's name.
        name: ContainerName,
    },
    /// remove_image.
    ImageRemoved {
        /// The removed reference.
        image: ImageRef,
    },
    /// info.
    Info(Info),
    /// apply, deployment, rollback.
    Deployment(Box<DeploymentStatus>),
    /// prune_images.
    ImagesPruned {
        /// References (or ids, for images without one) removed, or that a dry run would
        /// remove.
        removed: Vec<String>,
        /// Bytes those images took.
        reclaimed_bytes: u64,
    },
}

/// The result of `info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// ctrmgr's version.
    pub version: String,
    /// This device's id.
    pub device_id: String,
    /// Store backend (`lmdb`, `redis`, `memory`).
    pub store: String,
    /// Each configured access path.
    pub runtimes: Vec<RuntimeStatus>,
}
