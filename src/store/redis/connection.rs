//! The connection under [`super::RedisStore`]: one Redis server (a reconnecting
//! multiplexed connection) or a Redis Cluster (a cluster client that follows `MOVED` and
//! `ASK` and refreshes its slot map after a failover), behind one `ConnectionLike`.

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::{ClusterClient, ClusterConfig};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Client, Cmd, Pipeline, RedisError, RedisFuture, Value};
use std::time::Duration;

/// The longest one connection attempt waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connection attempts after the first, per reconnection (100 ms, then 200 ms apart).
const CONNECT_RETRIES: usize = 2;
/// Retries of one cluster request (after `MOVED`, `ASK`, `TRYAGAIN` or a lost node).
/// With the client's back-off they span about a second; a failover takes longer (the
/// cluster's `cluster-node-timeout`), so a write during it fails with `store_error` and
/// the caller's next request finds the new master.
const CLUSTER_RETRIES: u32 = 4;

/// Where the store's Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server: `redis://[:password@]host[:port][/db]` or `redis+unix:///path`.
    Server(String),
    /// A Redis Cluster, by its seed nodes (`redis://host:port` each); the client learns
    /// the rest of the cluster from them.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// The target with any password replaced by `***`, for messages and logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Server(url) => redact_url(url),
            Self::Cluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(|n| redact_url(n)).collect();
                format!("cluster [{}]", nodes.join(", "))
            }
        }
    }
}

/// A connection to one server or to a cluster; cheap to clone (both are multiplexed).
#[derive(Clone)]
pub enum RedisConnection {
    /// One server.
    Server(ConnectionManager),
    /// A cluster.
    Cluster(ClusterConnection),
}

impl RedisConnection {
    /// Opens `target` lazily: nothing is sent until the first command, so a Redis that
    /// is down is reported by that command, and later ones succeed once it is back.
    pub fn open(target: &RedisTarget, response_timeout: Duration) -> Result<Self, RedisError> {
        match target {
            RedisTarget::Server(url) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(response_timeout))
                    .set_number_of_retries(CONNECT_RETRIES)
                    .set_max_delay(Duration::from_secs(1));
                let manager = Client::open(url.as_str())?.get_connection_manager_lazy(config)?;
                Ok(Self::Server(manager))
            }
            RedisTarget::Cluster(nodes) => {
                let client = ClusterClient::builder(nodes.iter().map(String::as_str))
                    .retries(CLUSTER_RETRIES)
                    .build()?;
                let config = ClusterConfig::new()
                    .set_connection_timeout(CONNECT_TIMEOUT)
                    .set_response_timeout(response_timeout);
                Ok(Self::Cluster(
                    client.get_pending_async_connection_with_config(config),
                ))
            }
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// A Redis error as a person reads it.
pub fn describe(e: &RedisError) -> String {
    if e.is_connection_refusal() {
        "connection refused (is redis-server running?)".into()
    } else if e.is_timeout() {
        "timed out (is redis-server reachable?)".into()
    } else if e.is_connection_dropped() {
        format!("connection lost ({e}); reconnecting")
    } else if e.is_cluster_error() {
        format!("the cluster is reconfiguring or down ({e}); retry shortly")
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
