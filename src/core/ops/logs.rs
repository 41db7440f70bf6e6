//! `logs`: log lines of a managed container, bounded: at most [`MAX_LOG_TAIL`] lines
//! (the last [`DEFAULT_LOG_TAIL`] when the request names no `tail`) and at most
//! `policy.max_log_bytes` of engine output, past which the reply is `too_large`; at
//! most [`LOG_READS_AT_ONCE`] reads at once (more wait their turn), so concurrent
//! `logs` requests cost a bounded amount of memory together, not each.

use crate::core::error::{CoreError, RuntimeError};
use crate::core::model::RuntimeKind;
use crate::core::names::ContainerName;
use crate::core::reply::OpResult;
use crate::core::runtime::LogOptions;
use crate::core::service::ContainerService;
use crate::core::since::Since;

/// Lines a `logs` request without `tail` gets: the last 1000.
pub const DEFAULT_LOG_TAIL: u32 = 1000;
/// Most lines a `logs` request may ask for.
pub const MAX_LOG_TAIL: u32 = 100_000;

/// Engine log reads running at once, device-wide.
pub const LOG_READS_AT_ONCE: usize = 2;

/// The slots of [`LOG_READS_AT_ONCE`].
static LOG_READS: smol::lock::Semaphore = smol::lock::Semaphore::new(LOG_READS_AT_ONCE);

impl ContainerService {
    pub(in crate::core) async fn logs(
        &self,
        requested: Option<RuntimeKind>,
        name: &ContainerName,
        tail: Option<u32>,
        since: Option<Since>,
    ) -> Result<OpResult, CoreError> {
        let tail = tail.unwrap_or(DEFAULT_LOG_TAIL);
        if tail > MAX_LOG_TAIL {
            return Err(CoreError::TailTooLarge {
                tail,
                max: MAX_LOG_TAIL,
                default: DEFAULT_LOG_TAIL,
            });
        }
        let (record, rt) = self.managed(requested, name).await?;
        let (target, _) = self.address(rt, &record).await?;
        let opts = LogOptions {
            tail: Some(tail),
            since,
            max_bytes: self.policy.max_log_bytes,
        };
        let _slot = LOG_READS.acquire().await;
        let lines = rt.logs(&target, &opts).await.map_err(|e| match e {
            RuntimeError::TooLarge { runtime, limit, .. } => RuntimeError::TooLarge {
                runtime,
                what: format!("the log of container '{name}' (tail {tail})"),
                limit,
                hint: " (policy.max_log_bytes): ask for fewer lines (tail) or a later since",
            },
            other => other,
        })?;
        Ok(OpResult::Logs { lines })
    }
}
