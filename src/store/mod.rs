//! Store implementations of [`crate::core::store::Store`].
//!
//! - [`memory::MemoryStore`]: in memory, the unit-test double (always built);
//! - [`lmdb::LmdbStore`]: LMDB through heed, the default persistent store (feature `lmdb`);
//! - [`redis::RedisStore`]: Redis or a Redis Cluster, shared by a fleet (feature `redis`);
//! - `conformance`: the one suite every backend passes (tests, or feature
//!   `store-conformance` for integration tests).

#[cfg(any(test, feature = "store-conformance"))]
pub mod conformance;
#[cfg(feature = "lmdb")]
pub mod lmdb;
pub mod memory;
#[cfg(any(feature = "lmdb", feature = "redis"))]
pub mod record;
#[cfg(feature = "redis")]
pub mod redis;

use crate::core::error::StoreError;

/// Whether a reply stored at `stored_at` (seconds since the epoch) has outlived a TTL of
/// `ttl_s` seconds at `now`: an entry is kept for `[stored_at, stored_at + ttl_s)`.
/// Every backend uses this one rule.
pub fn reply_expired(stored_at: u64, ttl_s: u64, now: u64) -> bool {
    now >= stored_at.saturating_add(ttl_s)
}

/// The error of a call made after `close`: a read or a write error naming `key`.
fn closed_error(backend: &'static str, key: &str, writing: bool) -> StoreError {
    let reason = "the store was closed (the agent is shutting down)".to_owned();
    let key = key.to_owned();
    if writing {
        StoreError::Write {
            backend,
            key,
            reason,
        }
    } else {
        StoreError::Read {
            backend,
            key,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reply_expired;

    #[test]
    fn expiry_rule() {
        assert!(!reply_expired(100, 10, 109));
        assert!(reply_expired(100, 10, 110));
        assert!(reply_expired(100, 0, 100));
        assert!(!reply_expired(u64::MAX, 10, u64::MAX - 1));
    }
}
