//! Store throughput: puts, gets, lists and cached replies per second on LMDB (in a temp
//! dir) and Redis (`CTRMGR_BENCH_REDIS`, default `redis://127.0.0.1:6379/0`), one call at
//! a time and from 8 concurrent tasks; the benchmark's Redis keys are deleted at the end.
//! Not a test: `cargo run --release --example store_bench [RECORDS]`.

use ctrmgr::core::clock::unix_now;
use ctrmgr::core::store::{CachedReply, ReplyCacheLimits, Store};
use ctrmgr::store::conformance::sample_container;
use std::time::Instant;

/// Concurrent tasks in the parallel put figure.
const TASKS: usize = 8;
/// Full listings timed.
const LISTS: usize = 20;

fn main() -> Result<(), String> {
    let records: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("RECORDS '{n}': {e}"))?,
        None => 2000,
    };
    let limits = ReplyCacheLimits::default();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let lmdb = ctrmgr::store::lmdb::LmdbStore::open(dir.path(), 256 << 20, limits)
        .map_err(|e| e.to_string())?;
    smol::block_on(bench(&lmdb, records))?;
    let url = std::env::var("CTRMGR_BENCH_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let prefix = format!("ctrmgr-bench:{{{}}}:", std::process::id());
    let target = ctrmgr::store::redis::RedisTarget::Server(url.clone());
    let redis = ctrmgr::store::redis::RedisStore::connect(&target, prefix.clone(), limits)
        .map_err(|e| e.to_string())?;
    let measured = smol::block_on(bench(&redis, records));
    delete_keys(&url, &prefix)?;
    measured
}

/// Deletes the benchmark's keys from Redis.
fn delete_keys(url: &str, prefix: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut connection = client.get_connection().map_err(|e| e.to_string())?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut connection)
        .map_err(|e| e.to_string())?;
    for chunk in keys.chunks(500) {
        redis::cmd("DEL")
            .arg(chunk)
            .exec(&mut connection)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn rate(what: &str, backend: &str, ops: usize, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!("{backend:6} {what:28} {:>10.0} ops/s", ops as f64 / secs);
}

async fn bench(store: &dyn Store, records: usize) -> Result<(), String> {
    let backend = store.backend();
    let containers: Vec<_> = (0..records)
        .map(|i| sample_container(&format!("b{i}")))
        .collect();
    let start = Instant::now();
    for c in &containers {
        store.put_container(c).await.map_err(|e| e.to_string())?;
    }
    rate("put_container", backend, records, start);

    let start = Instant::now();
    let ex = smol::LocalExecutor::new();
    let tasks: Vec<_> = containers
        .chunks(records.div_ceil(TASKS).max(1))
        .map(|chunk| {
            ex.spawn(async move {
                for c in chunk {
                    store.put_container(c).await.map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    ex.run(async {
        for t in tasks {
            t.await?;
        }
        Ok::<(), String>(())
    })
    .await?;
    rate(
        &format!("put_container ({TASKS} tasks)"),
        backend,
        records,
        start,
    );

    let start = Instant::now();
    for c in &containers {
        store
            .get_container(&c.name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("a record just written is missing")?;
    }
    rate("get_container", backend, records, start);

    let start = Instant::now();
    for _ in 0..LISTS {
        let all = store.list_containers().await.map_err(|e| e.to_string())?;
        if all.len() != records {
            return Err(format!("listed {} of {records} records", all.len()));
        }
    }
    rate(
        &format!("list_containers ({records} each)"),
        backend,
        LISTS,
        start,
    );

    let reply = CachedReply {
        reply_json: r#"{"ok":true,"result":{"name":"web"}}"#.to_owned(),
        stored_at: unix_now(),
        request_digest: "d".into(),
    };
    let start = Instant::now();
    for i in 0..records {
        store
            .put_reply(&format!("bench-{i}"), &reply)
            .await
            .map_err(|e| e.to_string())?;
    }
    rate("put_reply", backend, records, start);
    Ok(())
}
