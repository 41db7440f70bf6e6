//! `info`: the agent's version, device id, store and each runtime's availability.

use crate::core::model::RuntimeStatus;
use crate::core::reply::Info;
use crate::core::service::ContainerService;
use std::time::Duration;

/// How long `info` waits for an engine's version before calling it unavailable.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

impl ContainerService {
    pub(in crate::core) async fn info(&self) -> Info {
        let probes = self.runtimes.values().map(|rt| async move {
            let timeout = async {
                smol::Timer::after(VERSION_TIMEOUT).await;
                Err(crate::core::error::RuntimeError::Unavailable {
                    runtime: rt.kind().as_str(),
                    reason: "no answer within 5 s".into(),
                })
            };
            let version = smol::future::or(rt.version(), timeout).await.ok();
            RuntimeStatus {
                name: rt.kind(),
                available: version.is_some(),
                version,
            }
        });
        let mut runtimes = Vec::new();
        for probe in probes {
            runtimes.push(probe.await);
        }
        Info {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            device_id: self.device_id.clone(),
            store: self.store.backend().to_owned(),
            runtimes,
        }
    }
}
