//! Desired state (DESIGN.md "Desired state"): a fleet declares a generation of
//! containers; the agent plans it against the device, pulls, switches group by group,
//! verifies, and commits or rolls back, journaling every step in the store.

mod boot;
mod deployer;
pub mod journal;
pub mod plan;
mod recover;
mod repair;
mod run;
pub mod spec_hash;
mod status;
mod steps;
pub mod types;
pub mod validate;
mod verify;

pub use deployer::Deployer;
pub use steps::is_parked;
pub use types::{
    Action, ContainerStatus, Deployment, DeploymentContainer, DeploymentPolicy, DeploymentStatus,
    Desired, OnFailure, Phase,
};
pub use validate::validate_deployment;
pub use verify::check_container_health;

/// What a parked (replaced, not yet removed) container's name ends with.
pub const PARKED_SUFFIX: &str = ".ctrmgr-old";
