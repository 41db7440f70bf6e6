//! `RedisStore` on a real Redis Cluster: the store conformance suite on the test
//! command's 3-master, 3-replica cluster (`scripts/services.sh up`, ports 7001-7006),
//! an agent whose records live there, and a failover test on a private cluster this
//! file starts: the master holding the device's slot is killed, writes fail with a store
//! error for the failover window and resume without a restart, and nothing acknowledged
//! (with `WAIT 1`) is lost.

use ctrmgr_testkit::common;
use ctrmgr_testkit::redis_support::{redis_cli, unique_prefix, PrefixCleanup};

use common::{require_docker, unique, Agent, IMAGE};
use ctrmgr::core::error::StoreError;
use ctrmgr::core::store::{ReplyCacheLimits, Store};
use ctrmgr::store::conformance::{sample_container, LIMITS};
use ctrmgr::store::redis::{RedisStore, RedisTarget};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The first port of the test command's cluster (scripts/services.sh: 7001-7006).
const SHARED_FIRST_PORT: u16 = 7001;
/// Nodes in a cluster: three masters, each with one replica.
const NODES: u16 = 6;

fn cluster_ok(port: u16) -> bool {
    redis_cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
}

fn seeds(first_port: u16) -> Vec<String> {
    (first_port..first_port + NODES)
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect()
}

/// Fails the test unless the shared cluster answers and is healthy.
fn require_shared_cluster() {
    assert!(
        cluster_ok(SHARED_FIRST_PORT),
        "no healthy Redis Cluster on 127.0.0.1:{SHARED_FIRST_PORT}-{}: start the services \
         with `bash scripts/services.sh up`",
        SHARED_FIRST_PORT + NODES - 1
    );
}

/// This case's own prefix on the shared cluster (the keys share one slot, but which
/// node holds it is the cluster's business: every node is scanned), emptied now and
/// when the case ends.
fn shared_prefix() -> (String, PrefixCleanup) {
    let prefix = unique_prefix("cluster");
    let cleanup = PrefixCleanup {
        prefix: prefix.clone(),
        ports: (SHARED_FIRST_PORT..SHARED_FIRST_PORT + NODES).collect(),
    };
    cleanup.delete_now();
    (prefix, cleanup)
}

async fn fresh(limits: ReplyCacheLimits) -> (Box<dyn Store>, PrefixCleanup) {
    require_shared_cluster();
    let (prefix, cleanup) = shared_prefix();
    let target = RedisTarget::Cluster(seeds(SHARED_FIRST_PORT));
    let store = RedisStore::connect(&target, prefix, limits).expect("connect");
    (Box::new(store), cleanup)
}

ctrmgr::store_conformance_tests!(fresh);

#[test]
fn a_device_keeps_every_key_in_one_slot_of_the_cluster() {
    require_shared_cluster();
    let (prefix, _cleanup) = shared_prefix();
    let target = RedisTarget::Cluster(seeds(SHARED_FIRST_PORT));
    let store = RedisStore::connect(&target, prefix.clone(), LIMITS)
        .unwrap()
        .require_replicas(1);
    smol::block_on(async {
        for name in ["a", "b", "c", "web"] {
            store.put_container(&sample_container(name)).await.unwrap();
        }
        let reply = ctrmgr::core::store::CachedReply {
            reply_json: "{}".into(),
            stored_at: ctrmgr::core::clock::unix_now(),
            request_digest: "d".into(),
        };
        store.put_reply("req-1", &reply).await.unwrap();
    });
    let slots: std::collections::BTreeSet<String> = ["c:a", "c:web", "names", "r:req-1", "replies"]
        .iter()
        .map(|k| {
            redis_cli(
                SHARED_FIRST_PORT,
                &["CLUSTER", "KEYSLOT", &format!("{prefix}{k}")],
            )
        })
        .collect();
    assert_eq!(slots.len(), 1, "{slots:?}");
    let value = redis_cli(SHARED_FIRST_PORT, &["-c", "GET", &format!("{prefix}c:web")]);
    let stored: serde_json::Value = serde_json::from_str(value.trim()).unwrap();
    assert_eq!(stored["name"], "web");
}

#[test]
fn an_agent_keeps_its_records_in_the_cluster() {
    require_docker();
    require_shared_cluster();
    let device = unique("cl-dev");
    let nodes: Vec<String> = seeds(SHARED_FIRST_PORT)
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect();
    let agent = Agent::start(&format!(
        "[agent]\ndevice_id = \"{device}\"\n[store]\nbackend = \"redis\"\n\
         redis_cluster_nodes = [{}]\nredis_wait_replicas = 1\n",
        nodes.join(", ")
    ));
    let prefix = format!("ctrmgr:{{{device}}}:");
    let _cleanup = PrefixCleanup {
        prefix: prefix.clone(),
        ports: (SHARED_FIRST_PORT..SHARED_FIRST_PORT + NODES).collect(),
    };
    let name = unique("cl-web");
    let _container = RemoveContainer(name.clone());
    let spec = json!({"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "network": "none"});
    let (status, body) = agent.post("/v1/containers", &spec);
    assert_eq!(status, 201, "{body}\n{}", agent.log());
    let value = redis_cli(
        SHARED_FIRST_PORT,
        &["-c", "GET", &format!("{prefix}c:{name}")],
    );
    let stored: serde_json::Value = serde_json::from_str(value.trim()).expect("the record");
    assert_eq!(stored["name"], name.as_str());
    let (status, body) = agent.get("/v1/containers?all=true");
    assert_eq!(status, 200, "{body}");

    // The operator's fleet table reads the same record from the cluster.
    let table = fleet_table(&["--json", &seeds(SHARED_FIRST_PORT)[2]]);
    let row = table
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .find(|row| row["device"] == device.as_str())
        .unwrap_or_else(|| panic!("no row for device {device}:\n{table}"));
    assert_eq!(row["container"]["name"], name.as_str(), "{row}");
    assert_eq!(row["container"]["state"], "created", "{row}");
    let table = fleet_table(&[&seeds(SHARED_FIRST_PORT)[0]]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&device) && l.contains(&name)),
        "{table}"
    );

    let (status, body) = agent.delete(&format!("/v1/containers/{name}?force=true"));
    assert_eq!((status, &body["ok"]), (200, &json!(true)), "{body}");
}

/// Runs `examples/fleet_table` (built by `cargo test` beside the test binaries).
fn fleet_table(args: &[&str]) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let examples = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples");
    let out = Command::new(examples.join("fleet_table"))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run examples/fleet_table ({e}): run the whole `cargo test`, which builds it")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Removes a docker container when the test ends, passed or not.
struct RemoveContainer(String);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        common::docker_rm(&self.0);
    }
}

/// A 3-master, 3-replica cluster of this test's own, killed when dropped.
struct PrivateCluster {
    first_port: u16,
    children: Vec<Option<Child>>,
    dir: tempfile::TempDir,
}

impl PrivateCluster {
    /// Six nodes on free ports (a node also listens on its port + 10000, the cluster
    /// bus) with a 2 s node timeout, so a failover takes seconds, not the default 15 s.
    fn start() -> PrivateCluster {
        let first_port = free_port_block();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cluster = PrivateCluster {
            first_port,
            children: (0..NODES).map(|_| None).collect(),
            dir,
        };
        for port in first_port..first_port + NODES {
            cluster.start_node(port);
        }
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for port in first_port..first_port + NODES {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for port in first_port..first_port + NODES {
            wait_for(
                &format!("cluster_state:ok on {port}"),
                Duration::from_secs(20),
                || cluster_ok(port),
            );
        }
        // Every replica in sync with its master, so `WAIT 1` can be met: a master lists
        // its replica as `state=online` once the first full sync is over.
        wait_for("replication", Duration::from_secs(30), || {
            (first_port..first_port + NODES).all(|port| {
                let info = redis_cli(port, &["INFO", "replication"]);
                info.contains("state=online") || info.contains("master_link_status:up")
            })
        });
        cluster
    }

    /// Starts (or restarts, with its `nodes.conf`) the node on `port` and waits until it
    /// answers.
    fn start_node(&mut self, port: u16) {
        let node_dir = self.dir.path().join(port.to_string());
        std::fs::create_dir_all(&node_dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
            // Full syncs start at once (the default waits 5 s for more replicas).
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&node_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (package redis-server)");
        self.children[usize::from(port - self.first_port)] = Some(child);
        wait_for(&format!("node {port}"), Duration::from_secs(10), || {
            redis_cli(port, &["PING"]).trim() == "PONG"
        });
    }

    /// The port of the healthy master serving `key`'s slot, as the node on `ask` sees
    /// it (none while the slot's master is failing).
    fn master_of(&self, ask: u16, key: &str) -> Option<u16> {
        let slot: u16 = redis_cli(ask, &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("a slot number");
        let nodes = redis_cli(ask, &["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let port: u16 = fields[1]
                .split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .expect("host:port@bus");
            for range in &fields[8..] {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
                    if (lo..=hi).contains(&slot) {
                        return Some(port);
                    }
                }
            }
        }
        None
    }

    fn kill9(&mut self, port: u16) {
        let mut child = self.children[usize::from(port - self.first_port)]
            .take()
            .expect("that node is running");
        child.kill().expect("SIGKILL redis-server");
        child.wait().expect("reap redis-server");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A first port P such that P..P+6 and their bus ports P+10000.. are free.
fn free_port_block() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let offset = u16::try_from(std::process::id() % 400).unwrap() * 10;
    for _ in 0..50 {
        let n = u16::try_from(NEXT.fetch_add(1, Ordering::SeqCst)).unwrap();
        let first = 21_000 + (offset + n * 10) % 9_000;
        let free = (first..first + NODES).all(|p| {
            std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok()
        });
        if free {
            return first;
        }
    }
    panic!("no block of free ports for a private cluster");
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within {limit:?}");
}

#[test]
fn failover_of_the_device_master_fails_writes_for_a_while_then_loses_nothing() {
    let mut cluster = PrivateCluster::start();
    let prefix = "ctrmgr:{failover}:".to_owned();
    let target = RedisTarget::Cluster(seeds(cluster.first_port));
    let store = RedisStore::connect(&target, prefix.clone(), LIMITS)
        .unwrap()
        .require_replicas(1);
    smol::block_on(async {
        let mut acknowledged = Vec::new();
        for i in 0..20 {
            let record = sample_container(&format!("before-{i}"));
            store
                .put_container(&record)
                .await
                .expect("write before the failover");
            acknowledged.push(record);
        }
        let names_key = format!("{prefix}names");
        let master = cluster
            .master_of(cluster.first_port, &names_key)
            .expect("a healthy cluster");
        let survivor = (cluster.first_port..cluster.first_port + NODES)
            .find(|&p| p != master)
            .unwrap();
        cluster.kill9(master);
        let mut restarted = false;

        let (mut failures, start) = (0, Instant::now());
        let mut i = 0;
        while start.elapsed() < Duration::from_secs(60) {
            let record = sample_container(&format!("during-{i}"));
            i += 1;
            match store.put_container(&record).await {
                Ok(()) => {
                    acknowledged.push(record);
                    if failures > 0 {
                        break;
                    }
                }
                Err(e) => {
                    assert!(matches!(e, StoreError::Write { .. }), "{e}");
                    assert!(e.to_string().contains("redis at cluster ["), "{e}");
                    failures += 1;
                    // Once a replica has taken over, the old master comes back and
                    // rejoins as its replica: until then no write reaches a replica
                    // (WAIT 1). Not earlier: a master without persistence that restarts
                    // before the failover comes back empty and its replica copies that.
                    if !restarted
                        && cluster
                            .master_of(survivor, &names_key)
                            .is_some_and(|m| m != master)
                    {
                        cluster.start_node(master);
                        restarted = true;
                    }
                    async_io::Timer::after(Duration::from_millis(200)).await;
                }
            }
        }
        assert!(
            failures > 0,
            "no write failed: the killed node was not the device's master"
        );
        assert!(restarted, "no replica took over within 60 s");
        // Writes resumed on the same store object; every acknowledged record is there.
        let names: Vec<String> = store
            .list_containers()
            .await
            .expect("list after the failover")
            .into_iter()
            .map(|c| c.name.to_string())
            .collect();
        for record in &acknowledged {
            assert!(
                names.contains(&record.name.to_string()),
                "acknowledged record {} lost; have {names:?}",
                record.name
            );
            assert_eq!(
                store.get_container(&record.name).await.unwrap().as_ref(),
                Some(record)
            );
        }
    });
}
