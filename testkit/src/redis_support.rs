//! Redis for the store tests: `redis-cli` against the test command's server (6379) or
//! cluster (7001-7006), and key prefixes of their own that are deleted when a case ends.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `redis-cli -h 127.0.0.1 -p port args...` and returns its stdout.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli must be installed (package redis-server; scripts/services.sh up)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A key prefix no other case (or earlier run) uses, with a device hash tag:
/// `ctrmgr-test:{<tag>-<pid>-<n>}:`.
pub fn unique_prefix(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("ctrmgr-test:{{{tag}-{}-{n}}}:", std::process::id())
}

/// Deletes every key under a prefix when dropped (the case's keys, passed or not).
pub struct PrefixCleanup {
    /// The prefix.
    pub prefix: String,
    /// Every node that may hold its keys (one server: just it).
    pub ports: Vec<u16>,
}

impl PrefixCleanup {
    /// Deletes every key under the prefix now: scans each node, deletes through the
    /// first (`-c` follows a cluster's redirects; a single server ignores it).
    pub fn delete_now(&self) {
        for &port in &self.ports {
            let pattern = format!("{}*", self.prefix);
            for key in redis_cli(port, &["--scan", "--pattern", &pattern]).lines() {
                if !key.is_empty() {
                    redis_cli(self.ports[0], &["-c", "DEL", key]);
                }
            }
        }
    }
}

impl Drop for PrefixCleanup {
    fn drop(&mut self) {
        self.delete_now();
    }
}
