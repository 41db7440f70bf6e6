//! The store conformance suite: one set of cases, written against `&dyn Store`, that
//! every backend (memory, LMDB, Redis) must pass.
//!
//! Each case expects a fresh, empty store whose reply cache is bounded by [`LIMITS`].
//! [`store_conformance_tests!`](crate::store_conformance_tests) turns the cases into one
//! `#[test]` each for a backend, given an async factory; unit tests use it directly and
//! integration tests (e.g. against a real `redis-server`) use it with the
//! `store-conformance` feature. Cases assert behaviour, never wall-clock time: expiry is
//! tested with `stored_at` values far in the past, not by sleeping.

use crate::core::clock::unix_now;
use crate::core::model::{
    Container, ContainerSpec, ContainerState, Health, HealthSpec, HttpProbe, Intent, Mount,
    NetworkMode, OnUnhealthy, PortMapping, Protocol, Resources, RestartKind, RestartPolicy,
    RuntimeKind, Supervision,
};
use crate::core::names::{AbsPath, ContainerName, ImageRef};
use crate::core::store::{CachedReply, ReplyCacheLimits, Store};
use std::collections::BTreeMap;

/// The reply-cache bounds every case expects its store to be built with.
pub const LIMITS: ReplyCacheLimits = ReplyCacheLimits {
    max_entries: 3,
    ttl_s: 3600,
    max_bytes: 64 * 1024,
};

/// Instantiates one `#[test]` per conformance case for a backend.
///
/// `$make` is an `async fn(ReplyCacheLimits) -> (Box<dyn Store>, G)` that builds a fresh,
/// empty store; `G` (a temp dir, a server handle...) is kept alive until the case ends.
///
/// ```text
/// async fn fresh(limits: ReplyCacheLimits) -> (Box<dyn Store>, ()) {
///     (Box::new(MemoryStore::new(limits)), ())
/// }
/// ctrmgr::store_conformance_tests!(fresh);
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:path) => {
        $crate::store_conformance_tests!(@cases $make;
            put_get_roundtrip,
            overwrite_replaces,
            get_missing_is_none,
            delete_reports_existence,
            list_is_ordered_and_complete,
            many_records,
            names_with_punctuation,
            concurrent_puts_lose_nothing,
            reply_roundtrip,
            reply_ttl_expiry,
            reply_eviction_keeps_newest,
            reply_bytes_bound_keeps_newest,
            calls_fail_after_close,
            intent_round_trips,
            deployment_journal_round_trips
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            ::smol::block_on(async {
                let (store, _keep) = $make($crate::store::conformance::LIMITS).await;
                $crate::store::conformance::$case(&*store).await;
            });
        }
    )*};
}

fn name(s: &str) -> ContainerName {
    ContainerName::parse(s).expect("test names are valid")
}

fn path(s: &str) -> AbsPath {
    AbsPath::parse(s).expect("test paths are valid")
}

/// A record named `n` with every spec field set to a non-default value.
pub fn sample_container(n: &str) -> Container {
    let spec = ContainerSpec {
        name: name(n),
        image: ImageRef::parse("127.0.0.1:5000/nginx:1.25").expect("test image is valid"),
        cmd: vec!["nginx".into(), "-g".into(), "daemon off;".into()],
        entrypoint: vec!["/docker-entrypoint.sh".into()],
        env: BTreeMap::from([
            ("MODE".into(), "edge".into()),
            ("QUOTE".into(), "a \"b\" \u{e9}".into()),
        ]),
        ports: vec![
            PortMapping {
                host: 8080,
                container: 80,
                protocol: Protocol::Tcp,
            },
            PortMapping {
                host: 5353,
                container: 53,
                protocol: Protocol::Udp,
            },
        ],
        mounts: vec![Mount {
            source: path("/var/lib/app"),
            target: path("/data"),
            read_only: true,
        }],
        restart: Some(RestartPolicy {
            policy: RestartKind::OnFailure,
            max_retries: Some(5),
        }),
        resources: Some(Resources {
            memory_bytes: Some(64 * 1024 * 1024),
            cpu_millis: Some(500),
            pids_limit: Some(100),
        }),
        labels: BTreeMap::from([("io.ctrmgr.managed".into(), "true".into())]),
        network: Some(NetworkMode::Host),
        user: Some("1000:1000".into()),
        workdir: Some(path("/srv")),
        privileged: true,
        devices: vec![path("/dev/ttyUSB0")],
        health: Some(HealthSpec {
            cmd: None,
            http: Some(HttpProbe {
                port: 80,
                path: "/healthz".into(),
            }),
            tcp: None,
            interval_s: 5,
            timeout_s: 2,
            retries: 4,
            start_period_s: 30,
            on_unhealthy: OnUnhealthy::None,
        }),
    };
    Container {
        name: name(n),
        runtime: RuntimeKind::DockerApi,
        id: format!("4f1c{n}"),
        image: spec.image.clone(),
        state: ContainerState::Running,
        exit_code: Some(137),
        created_at: "2026-11-29T10:00:00Z".into(),
        updated_at: "2026-11-29T10:00:01Z".into(),
        spec,
        health: Health::Healthy,
        restart_count: 3,
        last_exit_code: Some(1),
        started_at: Some("2026-11-29T10:00:01Z".into()),
        intent: Intent::Running,
        supervision: Supervision {
            step: 2,
            next_restart_ms: None,
            last_start_ms: Some(1_764_410_401_000),
            recent_restarts_ms: vec![1_764_410_400_000],
            engine_policy_no: true,
            health_restart: false,
        },
    }
}

fn reply(tag: &str, stored_at: u64) -> CachedReply {
    CachedReply {
        reply_json: format!(r#"{{"id":"{tag}","ok":true,"result":{{"name":"web"}}}}"#),
        stored_at,
        request_digest: format!("digest-of-{tag}"),
    }
}

async fn names_listed(store: &dyn Store) -> Vec<String> {
    let all = store.list_containers().await.expect("list");
    all.iter().map(|c| c.name.as_str().to_owned()).collect()
}

/// A full record reads back equal, field for field.
pub async fn put_get_roundtrip(store: &dyn Store) {
    let record = sample_container("web");
    store.put_container(&record).await.expect("put");
    let got = store.get_container(&record.name).await.expect("get");
    assert_eq!(got, Some(record));
}

/// The client's intent, which the wire shape does not carry, is kept: every value reads
/// back, by name and in the listing.
pub async fn intent_round_trips(store: &dyn Store) {
    for (n, intent) in [
        ("a-created", Intent::Created),
        ("b-running", Intent::Running),
        ("c-stopped", Intent::Stopped),
    ] {
        let mut record = sample_container(n);
        record.intent = intent;
        store.put_container(&record).await.expect("put");
        let got = store.get_container(&record.name).await.expect("get");
        assert_eq!(got.map(|c| c.intent), Some(intent), "{n}");
    }
    let listed: Vec<Intent> = store
        .list_containers()
        .await
        .expect("list")
        .iter()
        .map(|c| c.intent)
        .collect();
    assert_eq!(listed, [Intent::Created, Intent::Running, Intent::Stopped]);
}

/// A second put of the same name replaces the record, leaving one.
pub async fn overwrite_replaces(store: &dyn Store) {
    let mut record = sample_container("web");
    store.put_container(&record).await.expect("first put");
    record.state = ContainerState::Exited;
    record.exit_code = Some(0);
    record.spec.env.clear();
    record.spec.resources = None;
    store.put_container(&record).await.expect("second put");
    let got = store.get_container(&record.name).await.expect("get");
    assert_eq!(got, Some(record));
    assert_eq!(names_listed(store).await, ["web"]);
}

/// Reading or deleting a name never stored finds nothing.
pub async fn get_missing_is_none(store: &dyn Store) {
    assert_eq!(store.get_container(&name("nope")).await.expect("get"), None);
    store
        .put_container(&sample_container("web"))
        .await
        .expect("put");
    assert_eq!(store.get_container(&name("we")).await.expect("get"), None);
    assert_eq!(store.get_container(&name("web1")).await.expect("get"), None);
}

/// `delete_container` says whether the record existed, and removes it.
pub async fn delete_reports_existence(store: &dyn Store) {
    let record = sample_container("web");
    store.put_container(&record).await.expect("put");
    assert!(store.delete_container(&record.name).await.expect("delete"));
    assert_eq!(store.get_container(&record.name).await.expect("get"), None);
    assert!(!store
        .delete_container(&record.name)
        .await
        .expect("delete again"));
    assert!(names_listed(store).await.is_empty());
}

/// `list_containers` returns every record, ordered by name (byte order).
pub async fn list_is_ordered_and_complete(store: &dyn Store) {
    assert!(names_listed(store).await.is_empty());
    assert_eq!(store.count_containers().await.expect("count"), 0);
    let scrambled = ["b", "Z9", "a_1", "a", "a-1", "A", "a.1", "10", "9"];
    for n in scrambled {
        store
            .put_container(&sample_container(n))
            .await
            .expect("put");
    }
    let mut expected: Vec<String> = scrambled.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(names_listed(store).await, expected);
    let all = store.list_containers().await.expect("list");
    for c in &all {
        assert_eq!(c, &sample_container(c.name.as_str()));
    }
    assert_eq!(
        store.count_containers().await.expect("count"),
        scrambled.len()
    );
}

/// 500 records are all kept and listed.
pub async fn many_records(store: &dyn Store) {
    let count = 500;
    for i in (0..count).rev() {
        store
            .put_container(&sample_container(&format!("svc-{i:04}")))
            .await
            .expect("put");
    }
    let listed = names_listed(store).await;
    let expected: Vec<String> = (0..count).map(|i| format!("svc-{i:04}")).collect();
    assert_eq!(listed, expected);
    assert_eq!(store.count_containers().await.expect("count"), count);
    let got = store.get_container(&name("svc-0250")).await.expect("get");
    assert_eq!(got, Some(sample_container("svc-0250")));
}

/// Names that differ only by `.`, `-`, `_` or a suffix are distinct keys.
pub async fn names_with_punctuation(store: &dyn Store) {
    let names = [
        "web", "web.1", "web-1", "web_1", "web1", "w.e-b_", "a..b", "x--y",
    ];
    for n in names {
        store
            .put_container(&sample_container(n))
            .await
            .expect("put");
    }
    for n in names {
        let got = store.get_container(&name(n)).await.expect("get");
        assert_eq!(got, Some(sample_container(n)), "{n}");
    }
    assert!(store.delete_container(&name("web")).await.expect("delete"));
    let mut rest: Vec<String> = names[1..].iter().map(|s| (*s).to_owned()).collect();
    rest.sort();
    assert_eq!(names_listed(store).await, rest);
}

/// Puts from several concurrent tasks are all kept.
pub async fn concurrent_puts_lose_nothing(store: &dyn Store) {
    let tasks = 8;
    let per_task = 20;
    let ex = smol::LocalExecutor::new();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            ex.spawn(async move {
                for i in 0..per_task {
                    let record = sample_container(&format!("t{t}-{i:02}"));
                    store.put_container(&record).await.expect("concurrent put");
                }
            })
        })
        .collect();
    ex.run(async {
        for h in handles {
            h.await;
        }
    })
    .await;
    let mut expected: Vec<String> = (0..tasks)
        .flat_map(|t| (0..per_task).map(move |i| format!("t{t}-{i:02}")))
        .collect();
    expected.sort();
    assert_eq!(names_listed(store).await, expected);
}

/// A cached reply reads back equal; a second put of the same id replaces it.
pub async fn reply_roundtrip(store: &dyn Store) {
    let now = unix_now();
    assert_eq!(store.get_reply("req-1").await.expect("get"), None);
    let first = reply("first", now);
    store.put_reply("req-1", &first).await.expect("put");
    assert_eq!(store.get_reply("req-1").await.expect("get"), Some(first));
    let second = reply("second", now);
    store.put_reply("req-1", &second).await.expect("put again");
    assert_eq!(store.get_reply("req-1").await.expect("get"), Some(second));
    assert_eq!(store.get_reply("req-2").await.expect("get"), None);
}

/// An entry older than the TTL is never returned; a fresh one is.
pub async fn reply_ttl_expiry(store: &dyn Store) {
    let now = unix_now();
    let old = now - 2 * LIMITS.ttl_s;
    store
        .put_reply("old", &reply("old", old))
        .await
        .expect("put old");
    assert_eq!(store.get_reply("old").await.expect("get old"), None);
    let fresh = reply("fresh", now - 1);
    store.put_reply("fresh", &fresh).await.expect("put fresh");
    assert_eq!(store.get_reply("fresh").await.expect("get"), Some(fresh));
    assert_eq!(store.get_reply("old").await.expect("get old"), None);
}

/// Beyond `max_entries`, the oldest entries go and the newest stay.
pub async fn reply_eviction_keeps_newest(store: &dyn Store) {
    let now = unix_now();
    let total = LIMITS.max_entries + 2;
    // Stored out of order: eviction follows stored_at, not insertion order.
    let mut ages: Vec<u64> = (0..total as u64).collect();
    ages.rotate_left(2);
    for age in &ages {
        let id = format!("req-{age}");
        store
            .put_reply(&id, &reply(&id, now - 100 + age))
            .await
            .expect("put");
    }
    for age in 0..total as u64 {
        let id = format!("req-{age}");
        let got = store.get_reply(&id).await.expect("get");
        if age < (total - LIMITS.max_entries) as u64 {
            assert_eq!(got, None, "{id} is among the oldest and must be evicted");
        } else {
            assert_eq!(got, Some(reply(&id, now - 100 + age)), "{id} must be kept");
        }
    }
}

/// Beyond `max_bytes`, the oldest entries go even under `max_entries`: three replies of
/// 40 KiB under a 64 KiB bound leave only the newest.
pub async fn reply_bytes_bound_keeps_newest(store: &dyn Store) {
    let now = unix_now();
    let big = |tag: &str, stored_at| CachedReply {
        reply_json: format!(
            r#"{{"id":"{tag}","ok":true,"result":{{"lines":["{}"]}}}}"#,
            "x".repeat(40 * 1024)
        ),
        stored_at,
        request_digest: format!("digest-of-{tag}"),
    };
    for age in 0..3u64 {
        let id = format!("big-{age}");
        store
            .put_reply(&id, &big(&id, now - 10 + age))
            .await
            .expect("put");
    }
    assert_eq!(
        store.get_reply("big-0").await.expect("get"),
        None,
        "oldest kept"
    );
    assert_eq!(
        store.get_reply("big-1").await.expect("get"),
        None,
        "second kept"
    );
    assert_eq!(
        store.get_reply("big-2").await.expect("get"),
        Some(big("big-2", now - 8)),
        "the newest must stay"
    );
    // Small replies fit again beside it.
    store
        .put_reply("small", &reply("small", now))
        .await
        .expect("put");
    assert!(store.get_reply("small").await.expect("get").is_some());
}

/// After `close`, reads and writes fail with an error instead of succeeding.
pub async fn calls_fail_after_close(store: &dyn Store) {
    let record = sample_container("web");
    store.put_container(&record).await.expect("put");
    store.close().await.expect("close");
    assert!(store.get_container(&record.name).await.is_err());
    assert!(store.put_container(&record).await.is_err());
    assert!(store.list_containers().await.is_err());
    assert!(store.delete_container(&record.name).await.is_err());
    assert!(store.put_reply("r", &reply("r", unix_now())).await.is_err());
    assert!(store.get_reply("r").await.is_err());
}

/// The deployment journal starts absent, is written whole and read back as written, and
/// is independent of the container records.
pub async fn deployment_journal_round_trips(store: &dyn Store) {
    assert_eq!(store.get_deployment_journal().await.expect("get"), None);
    store
        .put_deployment_journal(r#"{"committed":1}"#)
        .await
        .expect("put");
    store
        .put_deployment_journal(r#"{"committed":2,"in_progress":null}"#)
        .await
        .expect("put again");
    assert_eq!(
        store
            .get_deployment_journal()
            .await
            .expect("get")
            .as_deref(),
        Some(r#"{"committed":2,"in_progress":null}"#)
    );
    assert!(store.list_containers().await.expect("list").is_empty());
}
