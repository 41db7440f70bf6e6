//! Per-name reconcile work for one followed engine (issue 14 item 14): each container
//! name has at most one reconcile running and at most one more wanted, so a burst of
//! events for a name costs one or two re-inspects (the latest event supersedes the ones
//! queued; none when every event says the state the record has, see
//! [`super::event_told`]), and a name whose lock is held by a long op (`stop` with
//! `timeout_s = 3600`) waits alone while every other name is reconciled at once.

use super::event_told::Told;
use super::names::ContainerName;
use super::reconcile_live::{Pending, Work};
use super::runtime::Runtime;
use super::service::ContainerService;
use std::sync::{Arc, PoisonError};

/// Reconciles running at once against one engine (engine calls, not names waiting).
/// One: the API paths' calls each hold a `ctrmgr-io` thread ([`crate::offload`]) while
/// they run, so a start-up reconcile of many names starts one thread per engine, not
/// one per name. Names waiting for their lock hold no permit, so one is enough to keep
/// a long op from stalling the others.
pub const CONCURRENT_RECONCILES: usize = 1;

/// The names of one engine waiting for or under reconcile; its work runs on `executor`,
/// which the owner drives (dropping it cancels what is in flight).
pub(crate) struct NameQueue<'e, 'a> {
    service: &'a ContainerService,
    rt: &'a Arc<dyn Runtime>,
    executor: &'e smol::Executor<'a>,
    pending: &'a Pending,
    permits: &'a smol::lock::Semaphore,
}

/// What a [`NameQueue`] borrows besides the service; it lives as long as the executor
/// that runs the work.
pub(crate) struct QueueState {
    permits: smol::lock::Semaphore,
}

impl QueueState {
    /// A state allowing [`CONCURRENT_RECONCILES`] engine calls at once.
    pub(crate) fn new() -> Self {
        Self {
            permits: smol::lock::Semaphore::new(CONCURRENT_RECONCILES),
        }
    }
}

impl<'e, 'a> NameQueue<'e, 'a> {
    /// A queue for the engine behind `rt`, its work spawned on `executor`; the names
    /// pending are the service's (see [`super::reconcile_live`]).
    pub(crate) fn new(
        service: &'a ContainerService,
        rt: &'a Arc<dyn Runtime>,
        executor: &'e smol::Executor<'a>,
        state: &'a QueueState,
    ) -> Self {
        Self {
            service,
            rt,
            executor,
            pending: &service.live.of(rt.kind().engine()).pending,
            permits: &state.permits,
        }
    }

    /// Asks for a reconcile of `name`, with what the asking event `told` of its state
    /// ([`Told::Unknown`] for a resync): starts one, or marks the running one to go
    /// again once it is done (any number of asks while it runs make one more pass).
    pub(crate) fn push(&self, name: ContainerName, told: Told) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(work) = pending.get_mut(&name) {
            work.again = true;
            work.told = work.told.then(told);
            return;
        }
        pending.insert(name.clone(), Work { again: false, told });
        drop(pending);
        let (service, rt, pending, permits) = (self.service, self.rt, self.pending, self.permits);
        self.executor
            .spawn(work(service, rt, pending, permits, name))
            .detach();
    }

    /// Names asked for and not finished yet.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Reconciles `name` until no event asked for another pass while it read the engine.
async fn work(
    service: &ContainerService,
    rt: &Arc<dyn Runtime>,
    pending: &Pending,
    permits: &smol::lock::Semaphore,
    name: ContainerName,
) {
    loop {
        // Neither is held while waiting for the other: a name waiting for a long op
        // holds no permit, and a name waiting for a permit holds no lock (a client's op
        // on it goes first).
        let (lock, _permit) = loop {
            let permit = permits.acquire().await;
            if let Some(lock) = service.try_lock_name(&name) {
                break (lock, permit);
            }
            drop(permit);
            drop(service.lock_name(&name).await);
        };
        // Events from now on are not covered by the read below: they ask again.
        let told = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&name)
            .map_or(Told::Unknown, |work| {
                work.again = false;
                std::mem::replace(&mut work.told, Told::Nothing)
            });
        if let Err(e) = service.reconcile_told(rt, &name, &lock, told).await {
            log::warn!("container '{name}' not reconciled: {e}");
        }
        // Done while the name's lock is held: an op waiting for it finds the record
        // live (see `ContainerService::op_target`).
        let mut pending = pending.lock().unwrap_or_else(PoisonError::into_inner);
        if !pending.get(&name).is_some_and(|work| work.again) {
            pending.remove(&name);
            return;
        }
    }
}
