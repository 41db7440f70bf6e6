//! `MemoryStore`: an in-process [`Store`] kept in maps, the unit-test double of the core
//! and the reference the conformance suite checks the persistent backends against.

use super::{closed_error, reply_expired};
use crate::core::clock::unix_now;
use crate::core::error::StoreError;
use crate::core::model::Container;
use crate::core::names::ContainerName;
use crate::core::store::{CachedReply, ReplyCacheLimits, Store};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

const BACKEND: &str = "memory";

/// A [`Store`] that keeps everything in memory and forgets it when dropped.
///
/// The idempotency cache honours [`ReplyCacheLimits`] exactly like the persistent
/// backends: expired entries are never returned, and each `put_reply` drops expired
/// entries and then the oldest (by `stored_at`, then id) beyond `max_entries` or
/// `max_bytes`.
///
/// ```
/// # use ctrmgr::core::store::{ReplyCacheLimits, Store};
/// # use ctrmgr::store::memory::MemoryStore;
/// # smol::block_on(async {
/// let store = MemoryStore::new(ReplyCacheLimits::default());
/// assert!(store.list_containers().await.unwrap().is_empty());
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    limits: ReplyCacheLimits,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    containers: BTreeMap<ContainerName, Container>,
    replies: HashMap<String, CachedReply>,
    /// `(stored_at, id)` of every cached reply, oldest first.
    reply_age: BTreeSet<(u64, String)>,
    /// Bytes of every cached reply's JSON and id.
    reply_bytes: u64,
    deployment_journal: Option<String>,
    closed: bool,
}

impl MemoryStore {
    /// An empty store whose reply cache is bounded by `limits`.
    pub fn new(limits: ReplyCacheLimits) -> Self {
        Self {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// Locks the state for a call touching `key`, failing once the store is closed.
    fn open_state(&self, key: &str, writing: bool) -> Result<MutexGuard<'_, State>, StoreError> {
        // A panic while holding the lock cannot leave the maps half-updated (each call
        // mutates them with single infallible operations), so a poisoned lock is usable.
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closed {
            Err(closed_error(BACKEND, key, writing))
        } else {
            Ok(state)
        }
    }
}

impl State {
    fn prune_replies(&mut self, limits: ReplyCacheLimits, now: u64) {
        while let Some((stored_at, id)) = self.reply_age.first().cloned() {
            let expired = reply_expired(stored_at, limits.ttl_s, now);
            let over =
                self.replies.len() > limits.max_entries || self.reply_bytes > limits.max_bytes;
            if !expired && !over {
                break;
            }
            self.reply_age.pop_first();
            if let Some(gone) = self.replies.remove(&id) {
                self.reply_bytes -= reply_size(&id, &gone);
            }
        }
    }
}

/// What one cached reply counts against `max_bytes`.
fn reply_size(id: &str, reply: &CachedReply) -> u64 {
    (id.len() + reply.reply_json.len()) as u64
}

#[async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn put_container(&self, record: &Container) -> Result<(), StoreError> {
        let mut state = self.open_state(record.name.as_str(), true)?;
        state.containers.insert(record.name.clone(), record.clone());
        Ok(())
    }

    async fn get_container(&self, name: &ContainerName) -> Result<Option<Container>, StoreError> {
        let state = self.open_state(name.as_str(), false)?;
        Ok(state.containers.get(name).cloned())
    }

    async fn delete_container(&self, name: &ContainerName) -> Result<bool, StoreError> {
        let mut state = self.open_state(name.as_str(), true)?;
        Ok(state.containers.remove(name).is_some())
    }

    async fn list_containers(&self) -> Result<Vec<Container>, StoreError> {
        let state = self.open_state("containers", false)?;
        Ok(state.containers.values().cloned().collect())
    }

    async fn put_reply(&self, id: &str, reply: &CachedReply) -> Result<(), StoreError> {
        let mut state = self.open_state(id, true)?;
        state.reply_bytes += reply_size(id, reply);
        if let Some(old) = state.replies.insert(id.to_owned(), reply.clone()) {
            state.reply_age.remove(&(old.stored_at, id.to_owned()));
            state.reply_bytes -= reply_size(id, &old);
        }
        state.reply_age.insert((reply.stored_at, id.to_owned()));
        state.prune_replies(self.limits, unix_now());
        Ok(())
    }

    async fn get_reply(&self, id: &str) -> Result<Option<CachedReply>, StoreError> {
        let state = self.open_state(id, false)?;
        let now = unix_now();
        Ok(state
            .replies
            .get(id)
            .filter(|r| !reply_expired(r.stored_at, self.limits.ttl_s, now))
            .cloned())
    }

    async fn get_deployment_journal(&self) -> Result<Option<String>, StoreError> {
        let state = self.open_state("deployment", false)?;
        Ok(state.deployment_journal.clone())
    }

    async fn put_deployment_journal(&self, journal_json: &str) -> Result<(), StoreError> {
        let mut state = self.open_state("deployment", true)?;
        state.deployment_journal = Some(journal_json.to_owned());
        Ok(())
    }

    async fn close(&self) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = State {
            closed: true,
            ..State::default()
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::LIMITS;

    async fn fresh(limits: ReplyCacheLimits) -> (Box<dyn Store>, ()) {
        (Box::new(MemoryStore::new(limits)), ())
    }

    crate::store_conformance_tests!(fresh);

    #[test]
    fn backend_name_is_memory() {
        assert_eq!(MemoryStore::new(LIMITS).backend(), "memory");
    }
}
