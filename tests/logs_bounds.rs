//! Engine output read with bounds (issue 14, item 11), on the real engines: an 80 MB log
//! read through each of the four access paths keeps the agent's peak RSS small. Without
//! `tail` a reply holds the last 1000 lines; `tail` (at most 100000) is read with a cap of
//! `policy.max_log_bytes` (4 MiB) and past it the reply is `too_large` (the CLI child
//! killed, the API read cut off); a `tail` over 100000 is `invalid_request`.

use ctrmgr_testkit::common::{code, unique, Agent, IMAGE};
use serde_json::json;
use std::time::{Duration, Instant};

/// Lines the container writes, each [`LINE`] bytes with its newline: 80 MB.
const LINES: usize = 80_000;
const LINE: usize = 1000;

/// Creates and starts a container on `runtime` that writes the 80 MB log and exits, and
/// waits for it to exit.
fn noisy_container(agent: &Agent, runtime: &str) -> String {
    let name = unique("biglog");
    let text = "a".repeat(LINE - 1);
    let script = format!("yes {text} | head -n {LINES}");
    let (status, reply) = agent.post(
        &format!("/v1/containers?runtime={runtime}"),
        &json!({"name": name, "image": IMAGE, "cmd": ["sh", "-c", script], "start": true}),
    );
    assert_eq!(status, 201, "{reply}");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (_, c) = agent.get(&format!("/v1/containers/{name}"));
        if c["result"]["state"] == "exited" {
            return name;
        }
        assert!(Instant::now() < deadline, "{name} never exited: {c}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The agent's peak resident set so far (`VmHWM`), in bytes.
fn peak_rss(agent: &Agent) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.pid())).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status");
    kb * 1024
}

/// Reads the log of `name` through `runtime`: the default tail, a tail of 10000 lines
/// (10 MB, over the byte cap; three at once), and a tail over the maximum. (Podman's
/// libpod API takes about a minute to start sending a tail of 100000 lines of this log,
/// its own cost: 10000 show the cap as well.)
fn read_bounded(agent: &Agent, name: &str, runtime: &str) {
    let path = format!("/v1/containers/{name}/logs?runtime={runtime}");
    let (status, reply) = agent.get(&path);
    assert_eq!(status, 200, "{runtime}: {}", code(&reply));
    let lines = reply["result"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1000, "{runtime}: the default tail");
    assert_eq!(lines[0].as_str().unwrap().len(), LINE - 1);
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|_| s.spawn(|| agent.get(&format!("{path}&tail=10000"))))
            .collect();
        for reader in readers {
            let (status, reply) = reader.join().unwrap();
            assert_eq!(
                (status, code(&reply)),
                (413, "too_large"),
                "{runtime}: {reply}"
            );
            let message = reply["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("policy.max_log_bytes") && message.contains(name),
                "{runtime}: {message}"
            );
        }
    });
    let (status, reply) = agent.get(&format!("{path}&tail=100001"));
    assert_eq!((status, code(&reply)), (400, "invalid_request"), "{reply}");
}

#[test]
fn an_80_mb_log_through_every_runtime_keeps_the_agent_small() {
    ctrmgr_testkit::common::require_docker();
    let agent = Agent::start("");
    let docker = noisy_container(&agent, "docker");
    let podman = noisy_container(&agent, "podman-api");
    let before = peak_rss(&agent);
    for (name, runtime) in [
        (&docker, "docker"),
        (&docker, "docker-api"),
        (&podman, "podman"),
        (&podman, "podman-api"),
    ] {
        read_bounded(&agent, name, runtime);
        eprintln!("after {runtime}: peak RSS {} KiB", peak_rss(&agent) >> 10);
    }
    let peak = peak_rss(&agent);
    for name in [&docker, &podman] {
        let (status, reply) = agent.delete(&format!("/v1/containers/{name}?force=true"));
        assert_eq!(status, 200, "{reply}");
    }
    eprintln!(
        "peak RSS: {} KiB before the reads, {} KiB after",
        before >> 10,
        peak >> 10
    );
    assert!(
        peak < 64 << 20,
        "the agent's peak RSS reached {} MiB",
        peak >> 20
    );
}
