//! `RedisStore` against real redis-servers: the store conformance suite on the test
//! command's server (each case under its own key prefix, so cases run in parallel), and
//! fault tests on a private server this file starts and kills: the store, then the
//! whole agent, while Redis is down and after it is back.

use ctrmgr_testkit::common;
use ctrmgr_testkit::redis_support::{redis_cli, unique_prefix, PrefixCleanup};

use common::{code, docker_has, docker_rm, free_port, require_docker, unique, Agent, IMAGE};
use ctrmgr::core::error::StoreError;
use ctrmgr::core::names::ContainerName;
use ctrmgr::core::store::{CachedReply, ReplyCacheLimits, Store};
use ctrmgr::store::conformance::{sample_container, LIMITS};
use ctrmgr::store::redis::{RedisStore, RedisTarget};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The test command's redis-server (scripts/services.sh).
const SHARED_REDIS: &str = "redis://127.0.0.1:6379/0";

/// The one-server target at `url`.
fn server(url: &str) -> RedisTarget {
    RedisTarget::Server(url.to_owned())
}

fn redis_answers(port: u16) -> bool {
    redis_cli(port, &["ping"]).trim() == "PONG"
}

/// Fails the test unless the shared redis-server answers.
fn require_redis() {
    assert!(
        redis_answers(6379),
        "redis-server does not answer on 127.0.0.1:6379: start the services with \
         `bash scripts/services.sh up`"
    );
}

/// This case's own prefix on the shared server, emptied now and when the case ends.
fn shared_prefix() -> (String, PrefixCleanup) {
    let prefix = unique_prefix("single");
    let cleanup = PrefixCleanup {
        prefix: prefix.clone(),
        ports: vec![6379],
    };
    cleanup.delete_now();
    (prefix, cleanup)
}

async fn fresh(limits: ReplyCacheLimits) -> (Box<dyn Store>, PrefixCleanup) {
    require_redis();
    let (prefix, cleanup) = shared_prefix();
    let store = RedisStore::connect(&server(SHARED_REDIS), prefix, limits).expect("connect");
    (Box::new(store), cleanup)
}

ctrmgr::store_conformance_tests!(fresh);

/// A redis-server of this test's own on a free port, killed with SIGKILL when dropped.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl PrivateRedis {
    fn start() -> PrivateRedis {
        let mut redis = PrivateRedis {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
        };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Starts the server on the same port and waits until it answers.
    fn restart(&mut self) {
        assert!(self.child.is_none(), "the private redis-server is running");
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (package redis-server)");
        self.child = Some(child);
        for _ in 0..200 {
            if redis_answers(self.port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        panic!(
            "private redis-server did not answer on {}:\n{log}",
            self.port
        );
    }

    /// SIGKILL: no chance to answer anything in flight.
    fn kill9(&mut self) {
        let mut child = self
            .child
            .take()
            .expect("the private redis-server is not running");
        child.kill().expect("SIGKILL redis-server");
        child.wait().expect("reap redis-server");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Removes the named containers from docker when the test ends, passed or not.
struct RemoveContainers(Vec<String>);

impl Drop for RemoveContainers {
    fn drop(&mut self) {
        for name in &self.0 {
            docker_rm(name);
        }
    }
}

/// Retries `attempt` (bounded) until it succeeds, for the first calls after Redis is back:
/// the connection manager reconnects in the background after a failed call.
async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut last = None;
    for _ in 0..100 {
        match attempt().await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        async_io::Timer::after(Duration::from_millis(100)).await;
    }
    panic!("{what} still fails after Redis came back: {last:?}");
}

#[test]
fn store_fails_while_redis_is_down_and_recovers_without_reconnecting_by_hand() {
    let mut redis = PrivateRedis::start();
    let store =
        RedisStore::connect(&server(&redis.url()), "ctrmgr:{fault}:".into(), LIMITS).unwrap();
    smol::block_on(async {
        let web = sample_container("web");
        store.put_container(&web).await.expect("put with Redis up");
        assert_eq!(
            store.get_container(&web.name).await.unwrap(),
            Some(web.clone())
        );

        redis.kill9();
        // Every kind of call fails with a store error, none hangs.
        let mut messages = Vec::new();
        for _ in 0..3 {
            let e = store.get_container(&web.name).await.unwrap_err();
            assert!(matches!(e, StoreError::Read { .. }), "{e}");
            messages.push(e.to_string());
            let e = store.put_container(&web).await.unwrap_err();
            assert!(matches!(e, StoreError::Write { .. }), "{e}");
            messages.push(e.to_string());
        }
        assert!(store.list_containers().await.is_err());
        assert!(store.delete_container(&web.name).await.is_err());
        let reply = CachedReply {
            reply_json: "{}".into(),
            stored_at: ctrmgr::core::clock::unix_now(),
            request_digest: "d".into(),
        };
        assert!(store.put_reply("r1", &reply).await.is_err());
        assert!(store.get_reply("r1").await.is_err());
        let location = format!("redis at {}", redis.url());
        assert!(
            messages.iter().all(|m| m.contains(&location)),
            "{messages:#?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("connection refused (is redis-server running?)")),
            "{messages:#?}"
        );

        redis.restart();
        // The same store object works again; the server lost its memory (no persistence).
        eventually("put", || store.put_container(&web)).await;
        assert_eq!(
            store.get_container(&web.name).await.unwrap(),
            Some(web.clone())
        );
        store.put_reply("r1", &reply).await.unwrap();
        assert_eq!(store.get_reply("r1").await.unwrap(), Some(reply));
        let names: Vec<String> = store
            .list_containers()
            .await
            .unwrap()
            .iter()
            .map(|c| c.name.to_string())
            .collect();
        assert_eq!(names, ["web"]);
        assert!(store.delete_container(&web.name).await.unwrap());
    });
}

#[test]
fn store_opened_while_redis_is_down_works_once_it_starts() {
    let mut redis = PrivateRedis::start();
    redis.kill9();
    let store =
        RedisStore::connect(&server(&redis.url()), "ctrmgr:{late}:".into(), LIMITS).unwrap();
    let name = ContainerName::parse("web").unwrap();
    smol::block_on(async {
        let e = store.get_container(&name).await.unwrap_err();
        assert!(e.to_string().contains("is redis-server running?"), "{e}");
        redis.restart();
        assert_eq!(eventually("get", || store.get_container(&name)).await, None);
        store.put_container(&sample_container("web")).await.unwrap();
    });
}

#[test]
fn record_write_is_one_transaction_in_the_documented_keys() {
    require_redis();
    let (prefix, _cleanup) = shared_prefix();
    let store = RedisStore::connect(&server(SHARED_REDIS), prefix.clone(), LIMITS).unwrap();
    smol::block_on(store.put_container(&sample_container("web"))).unwrap();
    let value = redis_cli(6379, &["GET", &format!("{prefix}c:web")]);
    let stored: serde_json::Value = serde_json::from_str(value.trim()).unwrap();
    assert_eq!(stored["name"], "web");
    let names = redis_cli(6379, &["ZRANGE", &format!("{prefix}names"), "0", "-1"]);
    assert_eq!(names.trim(), "web");
    let reply = CachedReply {
        reply_json: "{}".into(),
        stored_at: ctrmgr::core::clock::unix_now(),
        request_digest: "d".into(),
    };
    smol::block_on(store.put_reply("req-1", &reply)).unwrap();
    let ttl: u64 = redis_cli(6379, &["TTL", &format!("{prefix}r:req-1")])
        .trim()
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= LIMITS.ttl_s, "TTL {ttl}");
    let score = redis_cli(6379, &["ZSCORE", &format!("{prefix}replies"), "req-1"]);
    assert_eq!(score.trim(), reply.stored_at.to_string());
}

#[test]
fn agent_answers_store_error_while_redis_is_down_and_touches_no_engine() {
    require_docker();
    let mut redis = PrivateRedis::start();
    let agent = Agent::start(&format!(
        "[store]\nbackend = \"redis\"\nredis_url = \"{}\"\n",
        redis.url()
    ));
    // No network: this test is about the store, not the engine's bridge.
    let spec = |name: &str| json!({"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "network": "none", "start": true});

    let (up, down, back) = (
        unique("redis-up"),
        unique("redis-down"),
        unique("redis-back"),
    );
    let _cleanup = RemoveContainers(vec![up.clone(), down.clone(), back.clone()]);
    let (status, body) = agent.post("/v1/containers", &spec(&up));
    assert_eq!(status, 201, "{body}\n{}", agent.log());
    assert!(docker_has(&up));

    redis.kill9();
    for _ in 0..2 {
        let (status, body) = agent.post("/v1/containers", &spec(&down));
        assert_eq!(status, 500, "{body}");
        assert_eq!(code(&body), "store_error", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("redis"),
            "{body}"
        );
    }
    assert!(
        !docker_has(&down),
        "a container was created without a record"
    );
    let (status, body) = agent.get("/v1/containers");
    assert_eq!((status, code(&body)), (500, "store_error"), "{body}");

    redis.restart();
    let mut created = None;
    for _ in 0..100 {
        let (status, body) = agent.post("/v1/containers", &spec(&back));
        if status != 500 {
            created = Some((status, body));
            break;
        }
        assert_eq!(code(&body), "store_error", "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = created.expect("create still fails after Redis came back");
    assert_eq!(status, 201, "{body}");
    let (status, body) = agent.get(&format!("/v1/containers/{back}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["state"], "running", "{body}");
}
