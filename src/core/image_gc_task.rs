//! The periodic `prune_images` (`images.gc_interval_s`): one collection on the default
//! runtime per period, run as an op through the service, on the agent's executor.

use super::command::{Command, Request};
use super::service::ContainerService;
use std::sync::Arc;
use std::time::Duration;

/// Runs `prune_images` every `interval` until the task is dropped; each outcome is logged.
pub async fn run(service: Arc<ContainerService>, interval: Duration) {
    loop {
        smol::Timer::after(interval).await;
        let reply = service
            .execute(Request {
                id: None,
                runtime: None,
                command: Command::PruneImages { dry_run: false },
            })
            .await;
        match reply.error() {
            None => log::info!(
                "periodic prune_images: {}",
                serde_json::to_string(&reply).unwrap_or_default()
            ),
            Some(e) => log::warn!("periodic prune_images failed: {}", e.message),
        }
    }
}
