//! Unit tests of the Redis store's pure parts: key schema, URL redaction, reply expiry
//! arguments, and the call path with no server (the conformance suite runs against a
//! real redis-server in `tests/store_redis.rs`).

use super::*;
use crate::store::conformance::LIMITS;

fn store(url: &str) -> RedisStore {
    let target = RedisTarget::Server(url.to_owned());
    RedisStore::connect(&target, "ctrmgr:{gw-01}:".to_owned(), LIMITS).expect("a valid URL")
}

#[test]
fn key_schema_is_pinned() {
    let s = store("redis://127.0.0.1:6379/0");
    assert_eq!(s.record_key("web.1"), "ctrmgr:{gw-01}:c:web.1");
    assert_eq!(s.names_key(), "ctrmgr:{gw-01}:names");
    assert_eq!(s.reply_key("req-7"), "ctrmgr:{gw-01}:r:req-7");
    assert_eq!(s.replies_key(), "ctrmgr:{gw-01}:replies");
    assert_eq!(s.reply_sizes_key(), "ctrmgr:{gw-01}:reply_sizes");
    assert_eq!(s.reply_bytes_key(), "ctrmgr:{gw-01}:reply_bytes");
    assert_eq!(s.backend(), "redis");
    assert_eq!(s.prefix(), "ctrmgr:{gw-01}:");
}

#[test]
fn bad_url_and_empty_prefix_are_open_errors() {
    let server = |url: &str| RedisTarget::Server(url.to_owned());
    let e = RedisStore::connect(&server("http://x"), "p:".into(), LIMITS).unwrap_err();
    assert!(matches!(e, StoreError::Open { .. }), "{e}");
    let e = RedisStore::connect(&server("redis://127.0.0.1/0"), String::new(), LIMITS).unwrap_err();
    assert!(e.to_string().contains("prefix is empty"), "{e}");
    let e = RedisStore::connect(&RedisTarget::Cluster(vec![]), "p:".into(), LIMITS).unwrap_err();
    assert!(e.to_string().contains("no seed nodes"), "{e}");
    let bad_node = RedisTarget::Cluster(vec!["http://x".into()]);
    let e = RedisStore::connect(&bad_node, "p:".into(), LIMITS).unwrap_err();
    assert!(matches!(e, StoreError::Open { .. }), "{e}");
}

#[test]
fn credentials_never_reach_messages() {
    assert_eq!(
        redact_url("redis://:s3cret@10.0.0.5:6379/2"),
        "redis://***@10.0.0.5:6379/2"
    );
    assert_eq!(
        redact_url("redis://user:pw@host/0?x=a@b"),
        "redis://***@host/0?x=a@b"
    );
    assert_eq!(redact_url("redis://host:6379/0"), "redis://host:6379/0");
    assert_eq!(
        redact_url("redis+unix:///run/redis.sock"),
        "redis+unix:///run/redis.sock"
    );
    let cluster = RedisTarget::Cluster(vec![
        "redis://:pw@10.0.0.1:7001".into(),
        "redis://10.0.0.2:7002".into(),
    ]);
    assert_eq!(
        cluster.redacted(),
        "cluster [redis://***@10.0.0.1:7001, redis://10.0.0.2:7002]"
    );
}

#[test]
fn reply_times_follow_the_expiry_rule() {
    let limits = ReplyCacheLimits {
        max_entries: 3,
        ttl_s: 100,
        max_bytes: 1 << 20,
    };
    assert_eq!(reply_times(1000, limits, 1000), (100, "900".to_owned()));
    assert_eq!(reply_times(1000, limits, 1099), (1, "999".to_owned()));
    assert_eq!(reply_times(1000, limits, 1100).0, 0);
    assert_eq!(reply_times(10, limits, 50), (60, "-inf".to_owned()));
}

#[test]
fn unreachable_redis_is_a_clear_store_error() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let s = store("redis://:pw@127.0.0.1:1/0");
    let e = smol::block_on(s.get_container(&ContainerName::parse("web").unwrap())).unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, StoreError::Read { .. }), "{message}");
    assert!(message.contains("redis://***@127.0.0.1:1/0"), "{message}");
    assert!(message.contains("is redis-server"), "{message}");
    assert!(!message.contains("pw"), "{message}");
}

#[test]
fn calls_fail_after_close_without_a_server() {
    let s = store("redis://127.0.0.1:1/0");
    smol::block_on(async {
        s.close().await.unwrap();
        let e = s.ping().await.unwrap_err();
        assert!(e.to_string().contains("closed"), "{e}");
    });
}

#[test]
fn unreachable_cluster_is_a_clear_store_error() {
    let target = RedisTarget::Cluster(vec!["redis://:pw@127.0.0.1:1".into()]);
    let s = RedisStore::connect(&target, "ctrmgr:{gw-01}:".into(), LIMITS).expect("valid");
    let e = smol::block_on(s.get_container(&ContainerName::parse("web").unwrap())).unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, StoreError::Read { .. }), "{message}");
    assert!(
        message.contains("cluster [redis://***@127.0.0.1:1]"),
        "{message}"
    );
    assert!(!message.contains("pw"), "{message}");
}
