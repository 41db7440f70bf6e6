//! Tests of `LmdbStore`: the shared conformance suite, plus persistence, a full map and
//! corrupt values, which only a persistent backend has.

use super::*;
use crate::store::conformance::{sample_container, LIMITS};
use std::os::unix::fs::PermissionsExt;
use tempfile::TempDir;

/// Small enough for 32-bit targets under qemu.
const TEST_MAP: usize = 4 << 20;

async fn fresh(limits: ReplyCacheLimits) -> (Box<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LmdbStore::open(&dir.path().join("db"), TEST_MAP, limits).expect("open");
    (Box::new(store), dir)
}

crate::store_conformance_tests!(fresh);

fn name(s: &str) -> ContainerName {
    ContainerName::parse(s).expect("valid name")
}

#[test]
fn creates_a_private_directory_and_reports_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested").join("ctrmgr");
    let store = LmdbStore::open(&path, TEST_MAP, LIMITS).expect("open");
    assert_eq!(store.path(), path);
    assert_eq!(store.backend(), "lmdb");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn records_survive_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    smol::block_on(async {
        let store = LmdbStore::open(dir.path(), TEST_MAP, LIMITS).expect("open");
        store
            .put_container(&sample_container("web"))
            .await
            .expect("put");
        let reply = CachedReply {
            reply_json: r#"{"ok":true}"#.into(),
            stored_at: unix_now(),
            request_digest: "d".into(),
        };
        store.put_reply("req-1", &reply).await.expect("put reply");
        drop(store);

        let store = LmdbStore::open(dir.path(), TEST_MAP, LIMITS).expect("reopen");
        let got = store.get_container(&name("web")).await.expect("get");
        assert_eq!(got, Some(sample_container("web")));
        assert_eq!(store.get_reply("req-1").await.expect("get"), Some(reply));
        store.close().await.expect("close");

        // Closing releases the environment: it can be opened again at once.
        let store = LmdbStore::open(dir.path(), TEST_MAP, LIMITS).expect("reopen after close");
        assert_eq!(store.list_containers().await.expect("list").len(), 1);
    });
}

#[test]
fn a_second_open_of_the_same_directory_is_an_open_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = LmdbStore::open(dir.path(), TEST_MAP, LIMITS).expect("open");
    let err = LmdbStore::open(dir.path(), TEST_MAP, LIMITS).expect_err("second open");
    assert!(
        matches!(
            err,
            StoreError::Open {
                backend: "lmdb",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_full_map_is_reported_and_reads_keep_working() {
    let dir = tempfile::tempdir().expect("temp dir");
    smol::block_on(async {
        let store = LmdbStore::open(dir.path(), 64 * 1024, LIMITS).expect("open");
        let mut written = Vec::new();
        let mut full = None;
        for i in 0..2000 {
            let mut record = sample_container(&format!("svc-{i:04}"));
            record.spec.cmd = vec!["x".repeat(512)];
            match store.put_container(&record).await {
                Ok(()) => written.push(record),
                Err(e) => {
                    full = Some(e);
                    break;
                }
            }
        }
        let err = full.expect("a 64 KiB map must fill up");
        assert!(
            matches!(&err, StoreError::Full { backend: "lmdb", key } if key.starts_with("svc-")),
            "{err:?}"
        );
        assert!(err.to_string().contains("store.map_size_mb"), "{err}");
        assert!(!written.is_empty());
        assert_eq!(store.list_containers().await.expect("list"), written);
        let first = &written[0];
        assert_eq!(
            store.get_container(&first.name).await.expect("get"),
            Some(first.clone())
        );
        // The remedy the message names: reopen with a larger map; nothing is lost.
        drop(store);
        let store = LmdbStore::open(dir.path(), TEST_MAP, LIMITS).expect("reopen larger");
        store
            .put_container(&sample_container("after-full"))
            .await
            .expect("put after raising the map size");
        assert_eq!(
            store.list_containers().await.expect("list").len(),
            written.len() + 1
        );
    });
}

#[test]
fn corrupt_values_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    smol::block_on(async {
        let store = LmdbStore::open(dir.path(), TEST_MAP, LIMITS).expect("open");
        store
            .put_container(&sample_container("good"))
            .await
            .expect("put");
        store
            .write("bad", |db, wtxn| {
                db.containers.put(wtxn, b"bad", b"{not json")?;
                db.replies.put(wtxn, b"req-bad", b"\xff\xfe")?;
                Ok(())
            })
            .await
            .expect("raw write");

        let err = store
            .get_container(&name("bad"))
            .await
            .expect_err("corrupt");
        assert!(
            matches!(&err, StoreError::Corrupt { backend: "lmdb", key, .. } if key == "bad"),
            "{err:?}"
        );
        let err = store.list_containers().await.expect_err("corrupt in list");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
        let err = store.get_reply("req-bad").await.expect_err("corrupt reply");
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");

        // The good record still reads, and the bad one can be deleted or overwritten.
        let got = store.get_container(&name("good")).await.expect("get");
        assert_eq!(got, Some(sample_container("good")));
        assert!(store.delete_container(&name("bad")).await.expect("delete"));
        let reply = CachedReply {
            reply_json: "{}".into(),
            stored_at: unix_now(),
            request_digest: "d".into(),
        };
        store.put_reply("req-bad", &reply).await.expect("overwrite");
        assert_eq!(store.get_reply("req-bad").await.expect("get"), Some(reply));
    });
}

#[test]
fn map_sizes_round_up_to_64_kib() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LmdbStore::open(dir.path(), 100_000, LIMITS).expect("odd map size opens");
    let size = store
        .handle("info", false)
        .expect("open")
        .env
        .info()
        .map_size;
    assert_eq!(size, 128 * 1024);
}

#[test]
fn age_keys_sort_by_time_then_id() {
    let a = age_key(1, b"zzz");
    let b = age_key(256, b"aaa");
    assert!(a < b);
    assert_eq!(split_age_key(&b), Some((256, &b"aaa"[..])));
    assert_eq!(split_age_key(b"short"), None);
}

/// The reply cache cannot crowd out records: thousands of 18 KB replies with fresh ids
/// (the polled `list` of a busy fleet), far past a 1 MiB map, all succeed, the cache
/// stays under a quarter of the map, and records are still written afterwards.
#[test]
fn replies_far_past_the_map_size_never_fill_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let limits = ReplyCacheLimits {
        max_entries: 10_000,
        ttl_s: 3600,
        max_bytes: 64 << 20,
    };
    let map = 1 << 20;
    smol::block_on(async {
        let store = LmdbStore::open(dir.path(), map, limits).expect("open");
        let now = unix_now();
        let body = "x".repeat(18 * 1024);
        for i in 0..3000u64 {
            let id = format!("poll-{i:05}");
            let reply = CachedReply {
                reply_json: format!(r#"{{"id":"{id}","ok":true,"result":"{body}"}}"#),
                stored_at: now,
                request_digest: "d".into(),
            };
            store
                .put_reply(&id, &reply)
                .await
                .unwrap_or_else(|e| panic!("reply {i} of 3000 (54 MB into a 1 MiB map): {e}"));
        }
        let db = store.handle("stat", false).expect("open");
        let rtxn = db.env.read_txn().expect("txn");
        let bytes = reply_bytes(&db, &rtxn).unwrap_or_else(|_| panic!("stat"));
        assert!(bytes <= (map / 4) as u64, "the cache takes {bytes} bytes");
        drop(rtxn);
        assert!(store.get_reply("poll-02999").await.expect("get").is_some());
        assert!(store.get_reply("poll-00000").await.expect("get").is_none());
        for i in 0..20 {
            let record = sample_container(&format!("after-{i:02}"));
            store
                .put_container(&record)
                .await
                .expect("a record after the flood");
        }
        assert_eq!(store.count_containers().await.expect("count"), 20);
    });
}
