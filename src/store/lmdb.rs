//! `LmdbStore`: the default persistent [`Store`], an LMDB environment opened with heed.
//!
//! Layout: one environment (a directory holding `data.mdb` and `lock.mdb`) with three
//! named databases:
//! - `containers`: container name -> the `Container` record as JSON with its `intent`
//!   ([`crate::store::record`]);
//! - `replies`: request id -> `{"reply_json", "stored_at"}` as JSON;
//! - `reply_age`: big-endian `stored_at` followed by the request id -> nothing: the
//!   replies oldest first, so pruning the idempotency cache costs O(entries removed).
//!
//! The reply cache is bounded by entries, age and bytes: the pages the `replies`
//! database occupies (`mdb_stat`), at most a quarter of the map, so polled replies
//! never crowd out records. Should a write still find the map full, the oldest half of
//! the cache is dropped and the write tried once more: records always come first.
//!
//! # Implementation
//! Every write is one LMDB transaction, committed with LMDB's default (durable) sync
//! flags, so a record survives a restart and a `kill -9`. Writes wait on LMDB's writer
//! lock and on `fsync`, so they run on a `ctrmgr-io` thread ([`crate::offload::run`],
//! which leaves none behind at idle); reads are short memory-mapped lookups and run on
//! the caller's task.

use super::{closed_error, reply_expired};
use crate::core::clock::unix_now;
use crate::core::error::StoreError;
use crate::core::model::Container;
use crate::core::names::ContainerName;
use crate::core::store::{CachedReply, ReplyCacheLimits, Store};
use crate::store::record;
use async_trait::async_trait;
use heed::types::{Bytes, Unit};
use heed::{CommitOrAbort, Database, Env, EnvOpenOptions, MdbError, RoTxn, RwTxn, WithoutTls};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

const BACKEND: &str = "lmdb";
/// Named databases in the environment (all four used).
const MAX_DBS: u32 = 4;
/// Map sizes are rounded up to this, a multiple of every Linux page size (4, 16, 64 KiB).
const MAP_ALIGN: usize = 64 * 1024;

/// The open environment and its databases, shared with blocking write closures.
struct Lmdb {
    env: Env<WithoutTls>,
    containers: Database<'static, Bytes, Bytes>,
    replies: Database<'static, Bytes, Bytes>,
    reply_age: Database<'static, Bytes, Unit>,
    /// One entry, [`JOURNAL_KEY`]: the deployment journal.
    deployment: Database<'static, Bytes, Bytes>,
}

/// The key of the deployment journal in the `deployment` database.
const JOURNAL_KEY: &str = "journal";

/// An entry of the `replies` database.
#[derive(Serialize, Deserialize)]
struct StoredReply {
    reply_json: String,
    stored_at: u64,
    /// Absent in entries written before requests were bound to their id.
    #[serde(default)]
    request_digest: String,
}

/// Why an operation failed before it is tied to a key: LMDB or an already-typed error.
enum Fail {
    Lmdb(heed::Error),
    Store(StoreError),
}

impl From<heed::Error> for Fail {
    fn from(e: heed::Error) -> Self {
        Fail::Lmdb(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl Fail {
    fn into_store_error(self, key: &str, writing: bool) -> StoreError {
        let key = key.to_owned();
        match self {
            Fail::Store(e) => e,
            Fail::Lmdb(heed::Error::Mdb(MdbError::MapFull)) => StoreError::Full {
                backend: BACKEND,
                key,
            },
            Fail::Lmdb(e) if writing => StoreError::Write {
                backend: BACKEND,
                key,
                reason: e.to_string(),
            },
            Fail::Lmdb(e) => StoreError::Read {
                backend: BACKEND,
                key,
                reason: e.to_string(),
            },
        }
    }
}

/// A [`Store`] in an LMDB environment on disk.
///
/// The map size is the most the database can ever hold and is reserved as address
/// space up front, so on 32-bit armv7 it must stay in tens of MiB (the agent's default
/// is 64 MiB); a write that does not fit fails with [`StoreError::Full`], which tells
/// the operator to raise `store.map_size_mb`, and reads keep working.
///
/// ```
/// # use ctrmgr::core::store::{ReplyCacheLimits, Store};
/// # use ctrmgr::store::lmdb::LmdbStore;
/// let dir = tempfile::tempdir().unwrap();
/// let store = LmdbStore::open(dir.path(), 4 << 20, ReplyCacheLimits::default()).unwrap();
/// # smol::block_on(async {
/// assert!(store.list_containers().await.unwrap().is_empty());
/// store.close().await.unwrap();
/// # });
/// ```
pub struct LmdbStore {
    path: PathBuf,
    limits: ReplyCacheLimits,
    /// `None` once closed.
    db: RwLock<Option<Arc<Lmdb>>>,
}

impl std::fmt::Debug for LmdbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmdbStore")
            .field("path", &self.path)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl LmdbStore {
    /// Opens (creating if missing, mode 0700) the environment in directory `dir`, with a
    /// map of `map_size_bytes` rounded up to a multiple of 64 KiB, and a reply cache
    /// bounded by `limits` (its bytes at most a quarter of the map). One process must open a directory once at a time (a second
    /// open while the first is alive fails with [`StoreError::Open`]).
    pub fn open(
        dir: &Path,
        map_size_bytes: usize,
        limits: ReplyCacheLimits,
    ) -> Result<Self, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            backend: BACKEND,
            location: dir.display().to_string(),
            reason,
        };
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| open_error(format!("cannot create the directory: {e}")))?;
        let map_size = map_size_bytes
            .max(1)
            .checked_next_multiple_of(MAP_ALIGN)
            .ok_or_else(|| open_error(format!("map size {map_size_bytes} bytes is too large")))?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size).max_dbs(MAX_DBS);
        // SAFETY: LMDB maps `data.mdb` into memory; it is undefined behaviour if the file
        // is changed other than through LMDB while mapped, or if one process opens the
        // same environment twice. The directory is the agent's own (0700, not on a network
        // file system), only LMDB writes it, and heed refuses a second open of the same
        // path in this process (`EnvAlreadyOpened`, reported as an open error). We set no
        // unsafe flags (`NO_LOCK`, `NO_SYNC`...).
        #[allow(unsafe_code)]
        let env = unsafe { options.open(dir) }.map_err(|e| open_error(e.to_string()))?;
        let wtxn = env
            .write_txn()
            .map_err(|e| open_error(format!("cannot start a transaction: {e}")))?;
        let created = env
            .create_databases_and_commit(wtxn, |opener, wtxn| {
                let containers = opener.create_database(wtxn, Some("containers"))?;
                let replies = opener.create_database(wtxn, Some("replies"))?;
                let reply_age = opener.create_database(wtxn, Some("reply_age"))?;
                let deployment = opener.create_database(wtxn, Some("deployment"))?;
                Ok::<_, heed::Error>(CommitOrAbort::<_, Infallible>::Commit((
                    containers, replies, reply_age, deployment,
                )))
            })
            .map_err(|e| open_error(format!("cannot create the databases: {e}")))?;
        let (containers, replies, reply_age, deployment) = match created {
            CommitOrAbort::Commit(dbs) => dbs,
            CommitOrAbort::Abort(never) => match never {},
        };
        let limits = ReplyCacheLimits {
            max_bytes: limits.max_bytes.min(map_size as u64 / 4),
            ..limits
        };
        Ok(Self {
            path: dir.to_owned(),
            limits,
            db: RwLock::new(Some(Arc::new(Lmdb {
                env,
                containers,
                replies,
                reply_age,
                deployment,
            }))),
        })
    }

    /// The directory holding the environment.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open environment, or an error naming `key` once the store is closed.
    fn handle(&self, key: &str, writing: bool) -> Result<Arc<Lmdb>, StoreError> {
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        guard
            .clone()
            .ok_or_else(|| closed_error(BACKEND, key, writing))
    }

    /// Runs `f` in a read transaction on the caller's task.
    fn read<T>(
        &self,
        key: &str,
        f: impl FnOnce(&Lmdb, &RoTxn<'_>) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let db = self.handle(key, false)?;
        let run = || {
            let rtxn = db.env.read_txn()?;
            f(&db, &rtxn)
        };
        run().map_err(|e| e.into_store_error(key, false))
    }

    /// Runs `f` in a write transaction on a `ctrmgr-io` thread and commits it. If the map
    /// is full, drops the oldest half of the reply cache and runs `f` once more.
    async fn write<T: Send + 'static>(
        &self,
        key: &str,
        f: impl Fn(&Lmdb, &mut RwTxn<'_>) -> Result<T, Fail> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.handle(key, true)?;
        let result = crate::offload::run(move || {
            let attempt = || {
                let mut wtxn = db.env.write_txn()?;
                let out = f(&db, &mut wtxn)?;
                wtxn.commit()?;
                Ok(out)
            };
            match attempt() {
                Err(Fail::Lmdb(heed::Error::Mdb(MdbError::MapFull))) => {
                    let mut wtxn = db.env.write_txn()?;
                    let dropped = evict_oldest_half(&db, &mut wtxn)?;
                    wtxn.commit()?;
                    log::warn!(
                        "lmdb store: the map was full; dropped the {dropped} oldest cached \
                         replies to make room (raise store.map_size_mb if this recurs)"
                    );
                    attempt()
                }
                other => other,
            }
        })
        .await;
        result.map_err(|e: Fail| e.into_store_error(key, true))
    }
}

fn corrupt(key: &[u8], reason: impl ToString) -> Fail {
    Fail::Store(StoreError::Corrupt {
        backend: BACKEND,
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    })
}

fn decode_container(key: &[u8], bytes: &[u8]) -> Result<Container, Fail> {
    record::decode(bytes).map_err(|e| corrupt(key, e))
}

fn encode_container(key: &str, container: &Container) -> Result<Vec<u8>, StoreError> {
    record::encode(container).map_err(|e| StoreError::Write {
        backend: BACKEND,
        key: key.to_owned(),
        reason: format!("cannot serialize the record: {e}"),
    })
}

fn decode_reply(key: &[u8], bytes: &[u8]) -> Result<StoredReply, Fail> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(key, e))
}

fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Write {
        backend: BACKEND,
        key: key.to_owned(),
        reason: format!("cannot serialize the value: {e}"),
    })
}

/// The `reply_age` key of a reply: big-endian `stored_at`, then the id.
fn age_key(stored_at: u64, id: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + id.len());
    key.extend_from_slice(&stored_at.to_be_bytes());
    key.extend_from_slice(id);
    key
}

/// Splits a `reply_age` key back into `stored_at` and the id.
fn split_age_key(key: &[u8]) -> Option<(u64, &[u8])> {
    let (at, id) = key.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*at), id))
}

/// Bytes of the pages the reply cache occupies.
fn reply_bytes(db: &Lmdb, txn: &RoTxn<'_>) -> Result<u64, Fail> {
    Ok(db.replies.stat(txn)?.non_free_page_size() as u64)
}

/// Drops the oldest half of the cached replies (at least one); answers how many.
fn evict_oldest_half(db: &Lmdb, wtxn: &mut RwTxn<'_>) -> Result<u64, Fail> {
    let count = db.reply_age.len(wtxn)?.div_ceil(2);
    for _ in 0..count {
        let Some((first, ())) = db.reply_age.first(wtxn)? else {
            break;
        };
        let first = first.to_vec();
        db.reply_age.delete(wtxn, &first)?;
        if let Some((_, id)) = split_age_key(&first) {
            db.replies.delete(wtxn, id)?;
        }
    }
    Ok(count)
}

/// Drops expired replies, then the oldest beyond `limits.max_entries` or
/// `limits.max_bytes`, oldest first.
fn prune_replies(
    db: &Lmdb,
    wtxn: &mut RwTxn<'_>,
    limits: ReplyCacheLimits,
    now: u64,
) -> Result<(), Fail> {
    while let Some((first, ())) = db.reply_age.first(wtxn)? {
        let first = first.to_vec();
        let Some((stored_at, id)) = split_age_key(&first) else {
            // Not a key we wrote: drop it so it cannot block pruning.
            db.reply_age.delete(wtxn, &first)?;
            continue;
        };
        let over = db.replies.len(wtxn)? > limits.max_entries as u64
            || reply_bytes(db, wtxn)? > limits.max_bytes;
        if !over && !reply_expired(stored_at, limits.ttl_s, now) {
            break;
        }
        db.reply_age.delete(wtxn, &first)?;
        // The age key may be stale (its reply since replaced); only drop the reply it
        // indexes, or an unreadable one.
        let current = match db.replies.get(wtxn, id)? {
            Some(bytes) => decode_reply(id, bytes).ok().map(|r| r.stored_at),
            None => continue,
        };
        if current.is_none_or(|at| at == stored_at) {
            db.replies.delete(wtxn, id)?;
        }
    }
    Ok(())
}

#[async_trait]
impl Store for LmdbStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn put_container(&self, record: &Container) -> Result<(), StoreError> {
        let key = record.name.as_str().to_owned();
        let value = encode_container(&key, record)?;
        let k = key.clone();
        self.write(&key, move |db, wtxn| {
            db.containers.put(wtxn, k.as_bytes(), &value)?;
            Ok(())
        })
        .await
    }

    async fn get_container(&self, name: &ContainerName) -> Result<Option<Container>, StoreError> {
        let key = name.as_str().as_bytes();
        self.read(name.as_str(), |db, rtxn| {
            db.containers
                .get(rtxn, key)?
                .map(|bytes| decode_container(key, bytes))
                .transpose()
        })
    }

    async fn delete_container(&self, name: &ContainerName) -> Result<bool, StoreError> {
        let key = name.as_str().to_owned();
        let k = key.clone();
        self.write(&key, move |db, wtxn| {
            Ok(db.containers.delete(wtxn, k.as_bytes())?)
        })
        .await
    }

    async fn list_containers(&self) -> Result<Vec<Container>, StoreError> {
        self.read("containers", |db, rtxn| {
            let mut all = Vec::new();
            for entry in db.containers.iter(rtxn)? {
                let (key, bytes) = entry?;
                all.push(decode_container(key, bytes)?);
            }
            Ok(all)
        })
    }

    async fn count_containers(&self) -> Result<usize, StoreError> {
        self.read("containers", |db, rtxn| {
            Ok(usize::try_from(db.containers.len(rtxn)?).unwrap_or(usize::MAX))
        })
    }

    async fn put_reply(&self, id: &str, reply: &CachedReply) -> Result<(), StoreError> {
        let stored_at = reply.stored_at;
        let value = encode(
            id,
            &StoredReply {
                reply_json: reply.reply_json.clone(),
                request_digest: reply.request_digest.clone(),
                stored_at,
            },
        )?;
        let (limits, now, key) = (self.limits, unix_now(), id.to_owned());
        self.write(id, move |db, wtxn| {
            let key = key.as_bytes();
            let old = db.replies.get(wtxn, key)?.map(|b| decode_reply(key, b));
            if let Some(Ok(old)) = old {
                db.reply_age.delete(wtxn, &age_key(old.stored_at, key))?;
            }
            db.replies.put(wtxn, key, &value)?;
            db.reply_age.put(wtxn, &age_key(stored_at, key), &())?;
            prune_replies(db, wtxn, limits, now)
        })
        .await
    }

    async fn get_reply(&self, id: &str) -> Result<Option<CachedReply>, StoreError> {
        let (key, ttl_s, now) = (id.as_bytes(), self.limits.ttl_s, unix_now());
        let stored = self.read(id, |db, rtxn| {
            db.replies
                .get(rtxn, key)?
                .map(|bytes| decode_reply(key, bytes))
                .transpose()
        })?;
        Ok(stored
            .filter(|r| !reply_expired(r.stored_at, ttl_s, now))
            .map(|r| CachedReply {
                reply_json: r.reply_json,
                stored_at: r.stored_at,
                request_digest: r.request_digest,
            }))
    }

    async fn get_deployment_journal(&self) -> Result<Option<String>, StoreError> {
        let key = JOURNAL_KEY.as_bytes();
        self.read(JOURNAL_KEY, |db, rtxn| {
            db.deployment
                .get(rtxn, key)?
                .map(|bytes| String::from_utf8(bytes.to_vec()).map_err(|e| corrupt(key, e)))
                .transpose()
        })
    }

    async fn put_deployment_journal(&self, journal_json: &str) -> Result<(), StoreError> {
        let value = journal_json.as_bytes().to_vec();
        self.write(JOURNAL_KEY, move |db, wtxn| {
            db.deployment.put(wtxn, JOURNAL_KEY.as_bytes(), &value)?;
            Ok(())
        })
        .await
    }

    async fn close(&self) -> Result<(), StoreError> {
        let taken = self
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(db) = taken else {
            return Ok(());
        };
        // The environment closes when the last in-flight write drops its handle.
        crate::offload::run(move || db.env.force_sync())
            .await
            .map_err(|e| StoreError::Write {
                backend: BACKEND,
                key: "data.mdb".to_owned(),
                reason: format!("flushing to disk at close failed: {e}"),
            })
    }
}

#[cfg(test)]
#[path = "lmdb_tests.rs"]
mod tests;
