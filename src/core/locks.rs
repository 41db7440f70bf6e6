//! Keyed async locks: ops on the same container name, and requests with the same id,
//! run one at a time; different keys run concurrently.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A set of async mutexes created on demand and dropped when unused.
#[derive(Debug, Default)]
pub struct KeyedLocks {
    map: Mutex<HashMap<String, Arc<smol::lock::Mutex<()>>>>,
}

/// Holds one key's lock; releasing it forgets the key when nobody else waits.
pub struct KeyGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<smol::lock::MutexGuardArc<()>>,
}

impl KeyedLocks {
    /// The mutex of `key`, made when missing.
    fn mutex(&self, key: &str) -> Arc<smol::lock::Mutex<()>> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(key.to_owned()).or_default().clone()
    }

    /// Waits for and takes the lock of `key`.
    pub async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let guard = self.mutex(key).lock_arc().await;
        KeyGuard {
            locks: self,
            key: key.to_owned(),
            guard: Some(guard),
        }
    }

    /// Takes the lock of `key` if nobody holds it, without waiting.
    pub fn try_lock(&self, key: &str) -> Option<KeyGuard<'_>> {
        let guard = self.mutex(key).try_lock_arc()?;
        Some(KeyGuard {
            locks: self,
            key: key.to_owned(),
            guard: Some(guard),
        })
    }

    /// Keys currently held or awaited.
    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self
            .locks
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(m) = map.get(&self.key) {
            // Only the map holds it: nobody waits, forget the key.
            if Arc::strong_count(m) == 1 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_lock_takes_only_a_free_key() {
        let locks = KeyedLocks::default();
        let held = locks.try_lock("a").unwrap();
        assert!(locks.try_lock("a").is_none());
        assert!(locks.try_lock("b").is_some());
        drop(held);
        assert!(locks.try_lock("a").is_some());
        assert!(locks.is_empty());
    }

    #[test]
    fn same_key_serializes_and_is_forgotten() {
        smol::block_on(async {
            let locks = KeyedLocks::default();
            let g = locks.lock("a").await;
            assert!(locks.map.lock().unwrap()["a"].try_lock().is_none());
            let _b = locks.lock("b").await;
            drop(g);
            assert_eq!(locks.len(), 1);
        });
    }
}
