//! Images on a device with little disk (issue 17), against the real engines: the
//! free-space check before a pull on all four access paths.

use ctrmgr_testkit::common;

use common::*;
use serde_json::json;
use std::process::Command;

/// Every access path the agent builds by default.
const RUNTIMES: [&str; 4] = ["docker", "docker-api", "podman", "podman-api"];

/// Whether `engine` (`docker` or `podman`) has the image `image`.
fn engine_has_image(engine: &str, image: &str) -> bool {
    Command::new(engine)
        .args(["image", "inspect", "--", image])
        .output()
        .expect("engine CLI")
        .status
        .success()
}

/// Bytes free on the file system of `path` (`df`, so the test does not share the
/// agent's arithmetic).
fn df_free(path: &str) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail", path])
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df prints the free bytes")
}

#[test]
fn a_pull_below_min_free_bytes_is_insufficient_storage_on_every_path() {
    require_docker();
    let above = df_free("/var/lib/docker").max(df_free("/var/lib/containers")) * 4;
    let agent = Agent::start(&format!("[policy]\nmin_free_bytes = {above}\n"));
    for runtime in RUNTIMES {
        // A tag of the local registry that no engine has: were it not refused first,
        // the pull would be not_found.
        let image = format!("127.0.0.1:5000/ctrmgr-test/busybox:{}", unique("nospace"));
        let (status, r) = agent.execute(&json!({
            "op": "pull", "runtime": runtime, "args": {"image": image}
        }));
        assert_eq!(
            (status, code(&r)),
            (507, "insufficient_storage"),
            "{runtime}: {r}"
        );
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains(&above.to_string()), "{runtime}: {message}");
        assert!(message.contains("bytes free"), "{runtime}: {message}");
        let engine = if runtime.starts_with("docker") {
            "docker"
        } else {
            "podman"
        };
        assert!(
            !engine_has_image(engine, &image),
            "{runtime}: {image} was pulled"
        );
    }
    // The ordinary setting lets the same pull through to the registry.
    let agent = Agent::start("[policy]\nmin_free_bytes = 1\n");
    let (status, r) = agent.execute(&json!({
        "op": "pull", "runtime": "docker-api", "args": {"image": REGISTRY_IMAGE}
    }));
    assert_eq!(status, 200, "{r}");
}
