//! `Command`: one validated variant per op of the contract, and `Request`, a command
//! with its envelope. Codecs produce these; the core runs them.

use super::deployment::Deployment;
use super::model::{ContainerSpec, RegistryAuth, RuntimeKind};
use super::names::{ContainerName, ImageRef, SignalName};
use super::op::Op;
use super::request_id::RequestId;
use super::since::Since;

/// A validated request: the envelope around one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Client's request id, the idempotency key.
    pub id: Option<RequestId>,
    /// Access path asked for; `None` means the recorded one or the default.
    pub runtime: Option<RuntimeKind>,
    /// What to do.
    pub command: Command,
}

/// One op of the contract with its validated arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Create (and optionally start) a container. The name must be free on the device.
    Create {
        /// What to create (boxed: it is much larger than every other variant).
        spec: Box<ContainerSpec>,
        /// Start it once created.
        start: bool,
    },
    /// Start a managed container.
    Start {
        /// Which container.
        name: ContainerName,
    },
    /// Stop a managed container (SIGTERM, then SIGKILL after the timeout).
    Stop {
        /// Which container.
        name: ContainerName,
        /// Grace period; the engine's default when `None`.
        timeout_s: Option<u32>,
    },
    /// Restart a managed container.
    Restart {
        /// Which container.
        name: ContainerName,
        /// Grace period; the engine's default when `None`.
        timeout_s: Option<u32>,
    },
    /// Send a signal to a managed container.
    Kill {
        /// Which container.
        name: ContainerName,
        /// Signal to send (default `SIGKILL`).
        signal: SignalName,
    },
    /// Remove a managed container and its record.
    Remove {
        /// Which container.
        name: ContainerName,
        /// Remove even when running.
        force: bool,
    },
    /// Live state of a managed container (the record is updated).
    Inspect {
        /// Which container.
        name: ContainerName,
    },
    /// Managed containers.
    List {
        /// Include containers that are not running.
        all: bool,
        /// Only containers whose spec carries this label (`key`, `value`).
        label: Option<(String, String)>,
    },
    /// Log lines of a managed container.
    Logs {
        /// Which container.
        name: ContainerName,
        /// Only the last N lines.
        tail: Option<u32>,
        /// Only lines since this instant.
        since: Option<Since>,
    },
    /// Resource usage of a managed container.
    Stats {
        /// Which container.
        name: ContainerName,
    },
    /// Pull an image.
    Pull {
        /// Image to pull.
        image: ImageRef,
        /// Registry credentials.
        auth: Option<RegistryAuth>,
        /// Publish `pull_progress` events while it runs.
        progress: bool,
    },
    /// Images the engine has.
    Images,
    /// Remove an image.
    RemoveImage {
        /// Image to remove.
        image: ImageRef,
        /// Remove even when in use.
        force: bool,
    },
    /// Agent and runtime information.
    Info,
    /// Apply a deployment (DESIGN.md "Desired state").
    Apply {
        /// The declared generation (boxed: it holds many specs).
        deployment: Box<Deployment>,
        /// Reply when the apply has ended (`true`) or at once with phase `pending`.
        wait: bool,
    },
    /// The current deployment status.
    Deployment,
    /// Apply the previous generation's containers as a new generation.
    Rollback,
    /// Remove images nothing uses (see [`crate::core::image_gc`]).
    PruneImages {
        /// Only say what would be removed.
        dry_run: bool,
    },
}

impl Command {
    /// The contract's op.
    pub fn op(&self) -> Op {
        match self {
            Command::Create { .. } => Op::Create,
            Command::Start { .. } => Op::Start,
            Command::Stop { .. } => Op::Stop,
            Command::Restart { .. } => Op::Restart,
            Command::Kill { .. } => Op::Kill,
            Command::Remove { .. } => Op::Remove,
            Command::Inspect { .. } => Op::Inspect,
            Command::List { .. } => Op::List,
            Command::Logs { .. } => Op::Logs,
            Command::Stats { .. } => Op::Stats,
            Command::Pull { .. } => Op::Pull,
            Command::Images => Op::Images,
            Command::RemoveImage { .. } => Op::RemoveImage,
            Command::Info => Op::Info,
            Command::Apply { .. } => Op::Apply,
            Command::Deployment => Op::Deployment,
            Command::Rollback => Op::Rollback,
            Command::PruneImages { .. } => Op::PruneImages,
        }
    }
}
