//! `RedisStore`: a [`Store`] in Redis (or a Redis Cluster), shared by a fleet of devices.
//!
//! # Key schema
//! Every key starts with the device's prefix, by default `ctrmgr:{<device id>}:`. The
//! braces are a Redis Cluster hash tag: all keys of one device hash to one slot, so the
//! transactions and scripts below work on a cluster too.
//! - `<prefix>c:<name>`: string, the `Container` record as JSON with its `intent`
//!   ([`crate::store::record`]);
//! - `<prefix>names`: sorted set of every record's name, all with score 0, so it lists
//!   in byte order;
//! - `<prefix>r:<request id>`: string, `{"reply_json", "stored_at"}` as JSON, with an
//!   expiry (`EX`) at the end of the reply cache's TTL;
//! - `<prefix>replies`: sorted set of cached request ids scored by `stored_at`, which
//!   bounds the cache's size (the oldest go first).
//!
//! # Implementation
//! One [`ConnectionManager`] (a multiplexed connection that reconnects by itself) on the
//! smol runtime. It connects lazily, so the agent starts while Redis is down and every
//! call fails with a [`StoreError`] until Redis answers again; each call is bounded by
//! [`CALL_TIMEOUT`] so a dead or unreachable Redis never holds a request. A record write
//! is one `MULTI`/`EXEC` transaction (value and name index together); caching a reply
//! and trimming the cache is one Lua script; listing is one Lua script, a snapshot.

use super::{closed_error, reply_expired};
use crate::core::clock::unix_now;
use crate::core::error::StoreError;
use crate::core::model::Container;
use crate::core::names::ContainerName;
use crate::core::store::{CachedReply, ReplyCacheLimits, Store};
use crate::store::record;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, RedisResult};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

const BACKEND: &str = "redis";
/// The longest any store call waits for Redis, connecting included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one connection attempt waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connection attempts after the first, per reconnection (100 ms, then 200 ms apart).
const CONNECT_RETRIES: usize = 2;
/// The key listing records, relative to the prefix.
const NAMES_KEY: &str = "names";

/// Caches one reply and trims the cache, atomically.
/// KEYS: reply key, replies index. ARGV: value, stored_at, seconds to keep (<= 0: the
/// reply is already expired), expiry cutoff (scores at or below it are expired, or
/// `-inf`), max entries, reply key prefix, request id.
const PUT_REPLY_SCRIPT: &str = r"
local keep = tonumber(ARGV[3])
if keep > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', keep)
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
else
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[7])
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])) do
  redis.call('DEL', ARGV[6] .. id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
    redis.call('DEL', ARGV[6] .. id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return 0
";

/// Every record, in name order, as one snapshot: `[name1, json1, name2, json2, ...]`.
/// KEYS: names index. ARGV: record key prefix.
const LIST_SCRIPT: &str = r"
local out = {}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local value = redis.call('GET', ARGV[1] .. name)
  if value then
    out[#out + 1] = name
    out[#out + 1] = value
  end
end
return out
";

/// A value under `<prefix>r:<id>`.
#[derive(Serialize, Deserialize)]
struct StoredReply {
    reply_json: String,
    stored_at: u64,
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
/// # use ctrmgr::store::redis::RedisStore;
/// # smol::block_on(async {
/// let store = RedisStore::connect(
///     "redis://127.0.0.1:6379/0",
///     "ctrmgr:{gw-01}:".to_owned(),
///     ReplyCacheLimits::default(),
/// )
/// .unwrap();
/// store.ping().await.unwrap();
/// assert!(store.list_containers().await.unwrap().is_empty());
/// # });
/// ```
pub struct RedisStore {
    /// The URL without credentials, for messages.
    location: String,
    prefix: String,
    limits: ReplyCacheLimits,
    call_timeout: Duration,
    /// `None` once closed.
    connection: RwLock<Option<ConnectionManager>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` (`redis://[:password@]host[:port][/db]` or
    /// `redis+unix:///path[?db=N]`) keeping its keys under `prefix`, with a reply cache
    /// bounded by `limits`. Nothing is sent yet: a Redis that is down is reported by
    /// the first call (see [`RedisStore::ping`]), and later calls succeed once it is
    /// back. Fails with [`StoreError::Open`] only for a URL that cannot be used.
    pub fn connect(
        url: &str,
        prefix: String,
        limits: ReplyCacheLimits,
    ) -> Result<Self, StoreError> {
        let location = redact_url(url);
        let open_error = |reason: String| StoreError::Open {
            backend: BACKEND,
            location: location.clone(),
            reason,
        };
        if prefix.is_empty() {
            return Err(open_error("the key prefix is empty".into()));
        }
        let client = Client::open(url).map_err(|e| open_error(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(CONNECT_RETRIES)
            .set_max_delay(Duration::from_secs(1));
        let connection = client
            .get_connection_manager_lazy(config)
            .map_err(|e| open_error(e.to_string()))?;
        Ok(Self {
            location,
            prefix,
            limits,
            call_timeout: CALL_TIMEOUT,
            connection: RwLock::new(Some(connection)),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Checks that Redis answers (`PING`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.call("PING", false, |mut c| async move {
            ::redis::cmd("PING").query_async::<String>(&mut c).await
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

    fn reply_key(&self, id: &str) -> String {
        format!("{}r:{id}", self.prefix)
    }

    fn replies_key(&self) -> String {
        format!("{}replies", self.prefix)
    }

    /// Runs `f` on the connection, bounded by the call timeout; errors name `key`.
    async fn call<T, F, Fut>(&self, key: &str, writing: bool, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
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
        let reason = format!("redis at {}: {reason}", self.location);
        let key = key.to_owned();
        Err(if writing {
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
        })
    }
}

/// A Redis error as a person reads it.
fn describe(e: &RedisError) -> String {
    if e.is_connection_refusal() {
        "connection refused (is redis-server running?)".into()
    } else if e.is_timeout() {
        "timed out (is redis-server reachable?)".into()
    } else if e.is_connection_dropped() {
        format!("connection lost ({e}); reconnecting")
    } else {
        e.to_string()
    }
}

/// `url` with any password or user name replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
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

/// The arguments of [`PUT_REPLY_SCRIPT`] that depend on the clock: seconds to keep the
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
        self.call(name, true, |mut c| async move {
            ::redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&key)
                .arg(&value)
                .ignore()
                .cmd("ZADD")
                .arg(&names)
                .arg(0)
                .arg(name)
                .ignore()
                .exec_async(&mut c)
                .await
        })
        .await
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
        let (deleted, _unindexed): (u64, u64) = self
            .call(name.as_str(), true, |mut c| async move {
                ::redis::pipe()
                    .atomic()
                    .cmd("DEL")
                    .arg(&key)
                    .cmd("ZREM")
                    .arg(&names)
                    .arg(name.as_str())
                    .query_async(&mut c)
                    .await
            })
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
                    .arg(LIST_SCRIPT)
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
                stored_at: reply.stored_at,
            },
        )?;
        let (keep, cutoff) = reply_times(reply.stored_at, self.limits, unix_now());
        let (key, index, key_prefix) = (self.reply_key(id), self.replies_key(), self.reply_key(""));
        let (stored_at, max_entries) = (reply.stored_at, self.limits.max_entries);
        self.call(id, true, |mut c| async move {
            ::redis::cmd("EVAL")
                .arg(PUT_REPLY_SCRIPT)
                .arg(2)
                .arg(&key)
                .arg(&index)
                .arg(&value)
                .arg(stored_at)
                .arg(keep)
                .arg(&cutoff)
                .arg(max_entries)
                .arg(&key_prefix)
                .arg(id)
                .exec_async(&mut c)
                .await
        })
        .await
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
            }),
        )
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
#[path = "redis_tests.rs"]
mod tests;
