//! `info`: the agent's version, device id, store and each runtime's availability.

use crate::core::model::RuntimeStatus;
use crate::core::reply::Info;
use crate::core::service::ContainerService;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// How long `info` waits for an engine's version before calling it unavailable.
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

impl ContainerService {
    pub(in crate::core) async fn info(&self) -> Info {
        let probes: Vec<_> = self
            .runtimes
            .values()
            .map(|rt| {
                Box::pin(async move {
                    let timeout = async {
                        smol::Timer::after(VERSION_TIMEOUT).await;
                        Err(crate::core::error::RuntimeError::Unavailable {
                            runtime: rt.kind(),
                            reason: "no answer within 5 s".into(),
                        })
                    };
                    let version = smol::future::or(rt.version(), timeout).await.ok();
                    RuntimeStatus {
                        name: rt.kind(),
                        available: version.is_some(),
                        version,
                    }
                })
            })
            .collect();
        // All engines at once: a hung one costs its timeout once, not once per engine.
        let runtimes = join_all(probes).await;
        Info {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            device_id: self.device_id.clone(),
            store: self.store.backend().to_owned(),
            runtimes,
        }
    }
}

/// Runs the futures concurrently and returns their outputs in order.
async fn join_all<T, F: Future<Output = T> + Unpin>(futures: Vec<F>) -> Vec<T> {
    let mut pending: Vec<Option<F>> = futures.into_iter().map(Some).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(f) = slot {
                match Pin::new(f).poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::join_all;
    use std::future::Future;
    use std::pin::Pin;

    #[test]
    fn joins_concurrently_in_order() {
        smol::block_on(async {
            // The first future can only finish once the second has run: one after the
            // other would never end.
            let (tx, rx) = smol::channel::bounded::<u32>(1);
            let waits: Pin<Box<dyn Future<Output = u32>>> =
                Box::pin(async move { rx.recv().await.unwrap_or(0) });
            let sends: Pin<Box<dyn Future<Output = u32>>> = Box::pin(async move {
                tx.send(7).await.unwrap();
                2
            });
            let ready: Pin<Box<dyn Future<Output = u32>>> = Box::pin(async { 3 });
            assert_eq!(join_all(vec![waits, sends, ready]).await, [7, 2, 3]);
        });
    }
}
