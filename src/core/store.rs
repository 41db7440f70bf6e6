//! The `Store` trait: container records by name and the idempotency cache of replies.

use super::error::StoreError;
use super::model::Container;
use super::names::ContainerName;
use async_trait::async_trait;

/// A reply kept for idempotency: the serialized `Reply` (JSON), when it was stored and
/// the digest of the request it answers (`core::request_digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedReply {
    /// The reply as JSON.
    pub reply_json: String,
    /// Seconds since the Unix epoch when it was stored.
    pub stored_at: u64,
    /// SHA-256 (hex) of the request's op, runtime and args; empty in entries written
    /// before requests were bound (they answer no request: `conflict`).
    pub request_digest: String,
}

/// Where the agent keeps what it manages. Object-safe: the backend is chosen at run time.
/// Implementations make each `put_container` atomic: a reader sees the old record or the
/// new one, never a mix.
#[async_trait]
pub trait Store: Send + Sync {
    /// Backend name (`lmdb`, `redis`, `memory`).
    fn backend(&self) -> &'static str;
    /// Writes (inserts or replaces) a record.
    async fn put_container(&self, record: &Container) -> Result<(), StoreError>;
    /// Reads a record.
    async fn get_container(&self, name: &ContainerName) -> Result<Option<Container>, StoreError>;
    /// Deletes a record; returns whether it existed.
    async fn delete_container(&self, name: &ContainerName) -> Result<bool, StoreError>;
    /// Every record, ordered by name.
    async fn list_containers(&self) -> Result<Vec<Container>, StoreError>;
    /// How many records there are (the policy's container count on every create).
    /// Backends that can count without reading the records override it.
    async fn count_containers(&self) -> Result<usize, StoreError> {
        Ok(self.list_containers().await?.len())
    }
    /// Caches the reply to request `id`. The store bounds the cache: entries older than
    /// its TTL are dropped and the oldest go when it holds more than its maximum.
    async fn put_reply(&self, id: &str, reply: &CachedReply) -> Result<(), StoreError>;
    /// A cached reply still within its TTL.
    async fn get_reply(&self, id: &str) -> Result<Option<CachedReply>, StoreError>;
    /// The deployment journal (DESIGN.md "Desired state", durability): the committed
    /// generation, the one in progress and its steps, as the core serialized them (JSON).
    /// `None` before the first apply.
    async fn get_deployment_journal(&self) -> Result<Option<String>, StoreError>;
    /// Replaces the deployment journal in one atomic write: a reader (or the agent after
    /// `kill -9`) sees the old journal or the new one, never a mix.
    async fn put_deployment_journal(&self, journal_json: &str) -> Result<(), StoreError>;
    /// Flushes and closes; later calls fail.
    async fn close(&self) -> Result<(), StoreError>;
}

/// Bounds of the idempotency cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyCacheLimits {
    /// Most entries kept.
    pub max_entries: usize,
    /// Seconds an entry is kept.
    pub ttl_s: u64,
    /// Most bytes the cached replies may take (their JSON and ids; LMDB counts the pages
    /// they occupy), so polled replies never crowd out records.
    pub max_bytes: u64,
}

impl Default for ReplyCacheLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            ttl_s: 24 * 3600,
            max_bytes: 16 << 20,
        }
    }
}
