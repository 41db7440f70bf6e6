//! x
use crate::core::service::ContainerService;
use std::sync::Arc;
/// x
pub async fn run(_s: Arc<ContainerService>, _e: Arc<smol::Executor<'static>>) {}
