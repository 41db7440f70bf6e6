//! `RedisStore`: a [`Store`] in Redis or a Redis Cluster, shared by a fleet of devices.
//!
//! # Key schema
//! Every key starts with the device's prefix, by default `ctrmgr:{<device id>}:`. The
//! braces are a Redis Cluster hash tag: all keys of one device hash to one slot, so the
//! scripts below work on a cluster too. The layout is a documented, read-only interface
//! for fleet tools (README, "Fleet-wide view"):
//! - `<prefix>c:<name>`: string, the `Container` record as JSON with its `intent`
//!   ([`crate::store::record`]);
//! - `<prefix>names`: sorted set of every record's name, all with score 0, so it lists
//!   in byte order;
//! - `<prefix>r:<request id>`: string, `{"reply_json", "stored_at"}` as JSON, with an
//!   expiry (`EX`) at the end of the reply cache's TTL;
//! - `<prefix>replies`: sorted set of cached request ids scored by `stored_at`, which
//!   bounds the cache's size (the oldest go first);
//! - `<prefix>reply_sizes`: hash, request id -> bytes of its cached reply and id;
//! - `<prefix>reply_bytes`: string, the sum of `reply_sizes`, bounded by the cache's
//!   `max_bytes`.
//! - `<prefix>deployment`: string, the deployment journal (JSON, written whole).
//!
//! # Implementation
//! One [`RedisConnection`] (a multiplexed connection that reconnects by itself, or a
//! cluster connection that follows `MOVED`/`ASK` and a failover) on the smol runtime.
//! It connects lazily, so the agent starts while Redis is down and every call fails with
//! a [`StoreError`] until Redis answers again; each call is bounded by [`CALL_TIMEOUT`]
//! so a dead or unreachable Redis never holds a request. Every write is one Lua script
//! ([`scripts`]), atomic and single-slot; with [`RedisStore::require_replicas`] it is
//! followed by `WAIT` on the same master, and fails unless enough replicas
//! acknowledged it.

mod connection;
mod scripts;

pub use connection::{redact_url, RedisTarget};

use super::{closed_error, reply_expired};
use crate::core::clock::unix_now;
use crate::core::error::StoreError;
use crate::core::model::Container;
use crate::core::names::ContainerName;
use crate::core::store::{CachedReply, ReplyCacheLimits, Store};
use crate::store::record;
use ::redis::{FromRedisValue, RedisResult};
use async_trait::async_trait;
use connection::{describe, RedisConnection};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

const BACKEND: &str = "redis";
/// The longest any store call waits for Redis, connecting included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write waits for its replicas (`WAIT`), within [`CALL_TIMEOUT`].
const WAIT_TIMEOUT_MS: u64 = 2_000;
/// The key listing records, relative to the prefix.
const NAMES_KEY: &str = "names";

/// A value under `<prefix>r:<id>`.
#[derive(Serialize, Deserialize)]
struct StoredReply {
    reply_json: String,
    stored_at: u64,
    /// Absent in entries written before requests were bound to their id.
    #[serde(default)]
    request_digest: String,
}

/// A [`Store`] in Redis under a per-device key prefix.
///
/// The reply cache honours [`ReplyCacheLimits`] like the other backends: expired entries
/// are never returned (Redis also drops them by itself at the end of their TTL), and
/// each `put_reply` drops expired entries, then the oldest (by `stored_at`, then id)
/// beyond `max_entries`.
///
/// ```no_run
/// # use ctrmgr::core::store::{ReplyCacheLimits, Store};
/// # use ctrmgr::store::redis::{RedisStore, RedisTarget};
/// # smol::block_on(async {
/// let store = RedisStore::connect(
///     &RedisTarget::Server("redis://127.0.0.1:6379/0".into()),
///     "ctrmgr:{gw-01}:".to_owned(),
///     ReplyCacheLimits::default(),
/// )
/// .unwrap();
/// store.ping().await.unwrap();
/// assert!(store.list_containers().await.unwrap().is_empty());
/// # });
/// ```
pub struct RedisStore {
    /// The target without credentials, for messages.
    location: String,
    prefix: String,
    limits: ReplyCacheLimits,
    call_timeout: Duration,
    /// Replicas that must acknowledge each write (`WAIT`); 0: the master's answer is enough.
    replicas: u32,
    /// `None` once closed.
    connection: RwLock<Option<RedisConnection>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .field("limits", &self.limits)
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `target` keeping its keys under `prefix`, with a reply cache bounded
    /// by `limits`. Nothing is sent yet: a Redis that is down is reported by the first
    /// call (see [`RedisStore::ping`]), and later calls succeed once it is back. Fails
    /// with [`StoreError::Open`] only for a target that cannot be used.
    pub fn connect(
        target: &RedisTarget,
        prefix: String,
        limits: ReplyCacheLimits,
    ) -> Result<Self, StoreError> {
        let location = target.redacted();
        let open_error = |reason: String| StoreError::Open {
            backend: BACKEND,
            location: location.clone(),
            reason,
        };
        if prefix.is_empty() {
            return Err(open_error("the key prefix is empty".into()));
        }
        if matches!(target, RedisTarget::Cluster(nodes) if nodes.is_empty()) {
            return Err(open_error("the cluster has no seed nodes".into()));
        }
        let connection =
            RedisConnection::open(target, CALL_TIMEOUT).map_err(|e| open_error(e.to_string()))?;
        Ok(Self {
            location,
            prefix,
            limits,
            call_timeout: CALL_TIMEOUT,
            replicas: 0,
            connection: RwLock::new(Some(connection)),
        })
    }

    /// Makes every write wait until `replicas` replicas have it (`WAIT`), so a write
    /// the agent acknowledged survives the loss of its master; a write that fewer
    /// replicas confirm within 2 s fails with a store error (it may still be on the
    /// master).
    #[must_use]
    pub fn require_replicas(mut self, replicas: u32) -> Self {
        self.replicas = replicas;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Checks that Redis answers (`PING`; on a cluster, a node that holds the device's
    /// slot).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let names = self.names_key();
        self.call("PING", false, |mut c| async move {
            ::redis::cmd("EXISTS")
                .arg(&names)
                .query_async::<u64>(&mut c)
                .await
        })
        .await
        .map(drop)
    }

    fn record_key(&self, name: &str) -> String {
        format!("{}c:{name}", self.prefix)
    }

    fn names_key(&self) -> String {
        format!("{}{NAMES_KEY}", self.prefix)
    }

    fn journal_key(&self) -> String {
        format!("{}deployment", self.prefix)
    }

    fn reply_key(&self, id: &str) -> String {
        format!("{}r:{id}", self.prefix)
    }

    fn replies_key(&self) -> String {
        format!("{}replies", self.prefix)
    }

    fn reply_sizes_key(&self) -> String {
        format!("{}reply_sizes", self.prefix)
    }

    fn reply_bytes_key(&self) -> String {
        format!("{}reply_bytes", self.prefix)
    }

    /// Runs `f` on the connection, bounded by the call timeout; errors name `key`.
    async fn call<T, F, Fut>(&self, key: &str, writing: bool, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(RedisConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let connection = self
            .connection
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| closed_error(BACKEND, key, writing))?;
        let answer = async { Some(f(connection).await) };
        let timeout = async {
            async_io::Timer::after(self.call_timeout).await;
            None
        };
        let reason = match futures_lite::future::or(answer, timeout).await {
            Some(Ok(value)) => return Ok(value),
            Some(Err(e)) => describe(&e),
            None => format!(
                "no answer within {} s (is redis-server reachable?)",
                self.call_timeout.as_secs()
            ),
        };
        Err(self.failure(key, writing, reason))
    }

    fn failure(&self, key: &str, writing: bool, reason: String) -> StoreError {
        let reason = format!("redis at {}: {reason}", self.location);
        let key = key.to_owned();
        if writing {
            StoreError::Write {
                backend: BACKEND,
                key,
                reason,
            }
        } else {
            StoreError::Read {
                backend: BACKEND,
                key,
                reason,
            }
        }
    }

    /// Runs a write `script` with `keys` and `args` (then `WAIT` when replicas are
    /// required, on the same node: a pipeline is routed by its first key) and returns
    /// the script's answer.
    async fn write_script<T: FromRedisValue + Send + 'static>(
        &self,
        key: &str,
        script: &'static str,
        keys: Vec<String>,
        args: Vec<Vec<u8>>,
    ) -> Result<T, StoreError> {
        let replicas = self.replicas;
        let (answer, acknowledged): (T, Option<u32>) = self
            .call(key, true, |mut c| async move {
                let mut pipe = ::redis::pipe();
                pipe.cmd("EVAL")
                    .arg(script)
                    .arg(keys.len())
                    .arg(&keys)
                    .arg(&args);
                if replicas == 0 {
                    let (answer,): (T,) = pipe.query_async(&mut c).await?;
                    return Ok((answer, None));
                }
                pipe.cmd("WAIT").arg(replicas).arg(WAIT_TIMEOUT_MS);
                let (answer, acked): (T, u32) = pipe.query_async(&mut c).await?;
                Ok((answer, Some(acked)))
            })
            .await?;
        match acknowledged {
            Some(acked) if acked < replicas => Err(self.failure(
                key,
                true,
                format!(
                    "only {acked} of {replicas} replicas acknowledged the write within \
                     {WAIT_TIMEOUT_MS} ms (store.redis_wait_replicas); it may be lost \
                     if the master fails"
                ),
            )),
            _ => Ok(answer),
        }
    }
}

fn corrupt(key: &str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        backend: BACKEND,
        key: key.to_owned(),
        reason: reason.to_string(),
    }
}

fn encode<T: Serialize>(key: &str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Write {
        backend: BACKEND,
        key: key.to_owned(),
        reason: format!("cannot serialize the value: {e}"),
    })
}

/// The arguments of [`scripts::PUT_REPLY`] that depend on the clock: seconds to keep the
/// entry (at most 0 if it is already expired) and the expiry cutoff score.
fn reply_times(stored_at: u64, limits: ReplyCacheLimits, now: u64) -> (i64, String) {
    let keep = if reply_expired(stored_at, limits.ttl_s, now) {
        0
    } else {
        let left = stored_at.saturating_add(limits.ttl_s) - now;
        i64::try_from(left).unwrap_or(i64::MAX)
    };
    // Expired: now >= stored_at + ttl, i.e. stored_at <= now - ttl.
    let cutoff = now
        .checked_sub(limits.ttl_s)
        .map_or_else(|| "-inf".to_owned(), |c| c.to_string());
    (keep, cutoff)
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn put_container(&self, record: &Container) -> Result<(), StoreError> {
        let name = record.name.as_str();
        let value = record::encode(record).map_err(|e| StoreError::Write {
            backend: BACKEND,
            key: name.to_owned(),
            reason: format!("cannot serialize the record: {e}"),
        })?;
        let (key, names) = (self.record_key(name), self.names_key());
        self.write_script::<i64>(
            name,
            scripts::PUT_RECORD,
            vec![key, names],
            vec![value, name.as_bytes().to_vec()],
        )
        .await
        .map(drop)
    }

    async fn get_container(&self, name: &ContainerName) -> Result<Option<Container>, StoreError> {
        let key = self.record_key(name.as_str());
        let value = self
            .call(name.as_str(), false, |mut c| async move {
                ::redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<String>>(&mut c)
                    .await
            })
            .await?;
        value
            .map(|json| record::decode(json.as_bytes()).map_err(|e| corrupt(name.as_str(), e)))
            .transpose()
    }

    async fn delete_container(&self, name: &ContainerName) -> Result<bool, StoreError> {
        let (key, names) = (self.record_key(name.as_str()), self.names_key());
        let deleted: u64 = self
            .write_script(
                name.as_str(),
                scripts::DELETE_RECORD,
                vec![key, names],
                vec![name.as_str().as_bytes().to_vec()],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn count_containers(&self) -> Result<usize, StoreError> {
        let names = self.names_key();
        self.call("containers", false, |mut c| async move {
            ::redis::cmd("ZCARD").arg(&names).query_async(&mut c).await
        })
        .await
    }

    async fn list_containers(&self) -> Result<Vec<Container>, StoreError> {
        let (names, record_prefix) = (self.names_key(), self.record_key(""));
        let flat: Vec<String> = self
            .call("containers", false, |mut c| async move {
                ::redis::cmd("EVAL")
                    .arg(scripts::LIST_RECORDS)
                    .arg(1)
                    .arg(&names)
                    .arg(&record_prefix)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        flat.chunks(2)
            .map(|pair| match pair {
                [name, json] => record::decode(json.as_bytes()).map_err(|e| corrupt(name, e)),
                _ => Err(corrupt(
                    "containers",
                    "the listing script answered an odd count",
                )),
            })
            .collect()
    }

    async fn put_reply(&self, id: &str, reply: &CachedReply) -> Result<(), StoreError> {
        let value = encode(
            id,
            &StoredReply {
                reply_json: reply.reply_json.clone(),
                request_digest: reply.request_digest.clone(),
                stored_at: reply.stored_at,
            },
        )?;
        let (keep, cutoff) = reply_times(reply.stored_at, self.limits, unix_now());
        let (key, index, key_prefix) = (self.reply_key(id), self.replies_key(), self.reply_key(""));
        let args = [
            value,
            reply.stored_at.to_string(),
            keep.to_string(),
            cutoff,
            self.limits.max_entries.to_string(),
            key_prefix,
            id.to_owned(),
            self.limits.max_bytes.to_string(),
        ]
        .map(String::into_bytes)
        .to_vec();
        let keys = vec![key, index, self.reply_sizes_key(), self.reply_bytes_key()];
        self.write_script::<i64>(id, scripts::PUT_REPLY, keys, args)
            .await
            .map(drop)
    }

    async fn get_reply(&self, id: &str) -> Result<Option<CachedReply>, StoreError> {
        let key = self.reply_key(id);
        let value = self
            .call(id, false, |mut c| async move {
                ::redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<String>>(&mut c)
                    .await
            })
            .await?;
        let Some(json) = value else {
            return Ok(None);
        };
        let stored: StoredReply = serde_json::from_str(&json).map_err(|e| corrupt(id, e))?;
        let (ttl_s, now) = (self.limits.ttl_s, unix_now());
        Ok(
            (!reply_expired(stored.stored_at, ttl_s, now)).then_some(CachedReply {
                reply_json: stored.reply_json,
                stored_at: stored.stored_at,
                request_digest: stored.request_digest,
            }),
        )
    }

    async fn get_deployment_journal(&self) -> Result<Option<String>, StoreError> {
        let key = self.journal_key();
        self.call("deployment", false, |mut c| async move {
            ::redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<String>>(&mut c)
                .await
        })
        .await
    }

    async fn put_deployment_journal(&self, journal_json: &str) -> Result<(), StoreError> {
        self.write_script::<i64>(
            "deployment",
            scripts::PUT_JOURNAL,
            vec![self.journal_key()],
            vec![journal_json.as_bytes().to_vec()],
        )
        .await
        .map(drop)
    }

    async fn close(&self) -> Result<(), StoreError> {
        // Every write is acknowledged by Redis before it returns: nothing to flush. The
        // connection closes when the last in-flight call drops its handle.
        self.connection
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
