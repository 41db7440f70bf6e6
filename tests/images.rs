//! Images on a device with little disk (issue 17), against the real engines: the
//! free-space check before a pull on all four access paths, and pull progress events
//! over SSE and MQTT (and ctrmgrctl's drawing of them) for a multi-layer image of the local
//! registry, and pulls through `runtime.registry_auth_file` from a second registry with
//! htpasswd auth, started by the test.

use ctrmgr_testkit::{common, mqtt_support};

use common::sse::SseEvents;
use common::stalling_registry::StallingRegistry;
use common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A three-layer image (busybox and two layers of random bytes, so no engine has them)
/// pushed to the local registry under a unique name and removed from the local engines;
/// dropping it removes it from docker and podman again (the registry keeps its blobs:
/// registry:2 has no delete without its own garbage collection).
struct LayeredImage {
    reference: String,
}

impl LayeredImage {
    fn push() -> LayeredImage {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!(
                "FROM {IMAGE}\nRUN head -c 3000000 /dev/urandom > /a\n\
                 RUN head -c 2000000 /dev/urandom > /b\n"
            ),
        )
        .unwrap();
        let reference = format!("127.0.0.1:5000/ctrmgr-test/{}:1", unique("layers"));
        docker(&[
            "build",
            "-q",
            "-t",
            &reference,
            &dir.path().display().to_string(),
        ]);
        docker(&["push", "-q", &reference]);
        let image = LayeredImage { reference };
        image.remove_local();
        image
    }

    fn remove_local(&self) {
        for engine in ["docker", "podman"] {
            let _ = Command::new(engine)
                .args(["rmi", "-f", "--", &self.reference])
                .output();
        }
    }
}

impl Drop for LayeredImage {
    fn drop(&mut self) {
        self.remove_local();
    }
}

/// The `pull_progress` events of `image` received so far.
fn progress_of(events: &SseEvents, image: &str) -> Vec<Value> {
    events
        .all()
        .into_iter()
        .filter(|e| e["kind"] == "pull_progress" && e["image"] == image)
        .collect()
}

#[test]
fn pull_progress_events_over_sse_on_both_api_paths() {
    require_docker();
    let agent = Agent::start("");
    for runtime in ["docker-api", "podman-api"] {
        let image = LayeredImage::push();
        let events = SseEvents::connect(&agent);
        let (status, r) = agent.execute(&json!({
            "op": "pull", "runtime": runtime,
            "args": {"image": image.reference, "progress": true}
        }));
        assert_eq!(status, 200, "{runtime}: {r}");
        // The events are published before the reply; give the SSE reader a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let done = |p: &[Value]| {
            p.iter()
                .filter(|e| e["total"].is_u64() && e["current"] == e["total"])
                .count()
        };
        while done(&progress_of(&events, &image.reference)) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let progress = progress_of(&events, &image.reference);
        // Two new layers (and busybox's, already present) each reach a final state.
        assert!(done(&progress) >= 2, "{runtime}: {progress:#?}");
        for e in &progress {
            assert!(e["layer"].as_str().is_some_and(|l| !l.is_empty()), "{e}");
            assert!(e["current"].is_u64() && e["time"].is_string(), "{e}");
        }
        if runtime == "docker-api" {
            // Docker reports bytes: the 3 MB layer's final state says so.
            assert!(
                progress
                    .iter()
                    .any(|e| e["total"].as_u64() > Some(2_900_000)),
                "{progress:#?}"
            );
        }
    }
}

#[test]
fn a_pull_without_progress_publishes_none() {
    require_docker();
    let agent = Agent::start("");
    let image = LayeredImage::push();
    let events = SseEvents::connect(&agent);
    let (status, r) = agent.execute(&json!({
        "op": "pull", "runtime": "docker-api", "args": {"image": image.reference}
    }));
    assert_eq!(status, 200, "{r}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(progress_of(&events, &image.reference).is_empty());
}

#[test]
fn ctrmgrctl_pull_prints_each_finished_layer() {
    require_docker();
    let agent = Agent::start("");
    let image = LayeredImage::push();
    let socket = format!("unix://{}", agent.dir.join("api.sock").display());
    let out = Command::new(env!("CARGO_BIN_EXE_ctrmgrctl"))
        .env_remove("CTRMGR_HOST")
        .env_remove("CTRMGR_TOKEN_FILE")
        .args(["--host", &socket, "pull", &image.reference])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let layers = stdout.lines().filter(|l| l.starts_with("layer ")).count();
    assert!(layers >= 2, "{stdout}");
    assert!(
        stdout.contains(&format!("pulled {} (sha256:", image.reference)),
        "{stdout}"
    );
}

/// The password of the test's private registry (found nowhere the agent writes).
const REGISTRY_PASSWORD: &str = "pw-9f3c-never-logged";

/// A `docker-registry` with htpasswd auth on a free loopback port (plain HTTP: both
/// engines allow it on loopback, and the registry does not require TLS for basic auth),
/// holding one image; stopped and its storage removed on drop.
struct PrivateRegistry {
    child: std::process::Child,
    addr: String,
    image: String,
    _dir: tempfile::TempDir,
}

impl PrivateRegistry {
    fn start() -> PrivateRegistry {
        let dir = tempfile::tempdir().unwrap();
        // bcrypt, the only hash the registry's htpasswd reader takes.
        let hash = Command::new("python3")
            .args([
                "-W",
                "ignore",
                "-c",
                "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
                REGISTRY_PASSWORD,
            ])
            .output()
            .expect("python3 for a bcrypt hash");
        let hash = String::from_utf8(hash.stdout).unwrap();
        assert!(hash.starts_with("$2"), "no bcrypt hash: {hash}");
        std::fs::write(
            dir.path().join("htpasswd"),
            format!("ctrmgr:{}", hash.trim()),
        )
        .unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\n\
             http:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: ctrmgr-test\n    \
             path: {root}/htpasswd\n",
            root = dir.path().display()
        );
        std::fs::write(dir.path().join("registry.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("registry.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry (package docker-registry, scripts/services.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "the private registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let image = format!("{addr}/private/{}:1", unique("busybox"));
        // Push with a login of its own (a throw-away DOCKER_CONFIG), then forget it.
        let docker_config = dir.path().join("docker-config");
        let login = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo \"$PW\" | docker login -u ctrmgr --password-stdin {addr} && \
                 docker tag {IMAGE} {image} && docker push -q {image} && docker rmi {image}"
            ))
            .env("PW", REGISTRY_PASSWORD)
            .env("DOCKER_CONFIG", &docker_config)
            .output()
            .unwrap();
        assert!(
            login.status.success(),
            "{}",
            String::from_utf8_lossy(&login.stderr)
        );
        PrivateRegistry {
            child,
            addr,
            image,
            _dir: dir,
        }
    }

    fn remove_local(&self) {
        for engine in ["docker", "podman"] {
            let _ = Command::new(engine)
                .args(["rmi", "-f", "--", &self.image])
                .output();
        }
    }
}

impl Drop for PrivateRegistry {
    fn drop(&mut self) {
        self.remove_local();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A credentials file for the private registry (one entry in each form), mode `mode`.
fn auth_file(dir: &std::path::Path, addr: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let out = Command::new("sh")
        .args(["-c", "printf '%s' \"ctrmgr:$PW\" | base64 -w0"])
        .env("PW", REGISTRY_PASSWORD)
        .output()
        .expect("base64 (coreutils)");
    let token = String::from_utf8(out.stdout).unwrap();
    let path = dir.join("registry-auth.json");
    let text = json!({"auths": {
        addr: {"auth": token},
        "registry.example.com": {"username": "other", "password": "x"}
    }});
    std::fs::write(&path, text.to_string()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn pulls_use_the_registry_auth_file_on_every_path() {
    require_docker();
    let registry = PrivateRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let file = auth_file(dir.path(), &registry.addr, 0o600);
    let without = Agent::start("");
    let with = Agent::start(&format!(
        "[runtime]\nregistry_auth_file = \"{}\"\n",
        file.display()
    ));
    // Every process's command line, sampled while the pulls run (the CLI children's
    // included): the password must never be in one.
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let watching = watching.clone();
        std::thread::spawn(move || {
            let mut seen = 0usize;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                        seen += 1;
                        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                        assert!(
                            !text.contains(REGISTRY_PASSWORD),
                            "in a command line: {text}"
                        );
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            seen
        })
    };
    for runtime in RUNTIMES {
        let pull = json!({"op": "pull", "runtime": runtime, "args": {"image": registry.image}});
        let (status, r) = without.execute(&pull);
        // The registry's own word, not a hang: docker's "no basic auth credentials",
        // podman's "unauthorized: authentication required".
        let message = r["error"]["message"].as_str().unwrap_or_default();
        assert_eq!((status, code(&r)), (502, "runtime_error"), "{runtime}: {r}");
        assert!(
            message.contains("credentials") || message.contains("unauthorized"),
            "{runtime}: {r}"
        );
        let (status, r) = with.execute(&pull);
        assert_eq!(status, 200, "{runtime}: {r}");
        assert!(!r.to_string().contains(REGISTRY_PASSWORD));
        registry.remove_local();
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(watcher.join().expect("no command line held the password") > 0);
    for agent in [&without, &with] {
        assert!(
            !agent.log().contains(REGISTRY_PASSWORD),
            "the password is in the log"
        );
    }
}

#[test]
fn a_credentials_file_others_can_read_missing_or_malformed_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let open = auth_file(dir.path(), "127.0.0.1:1", 0o644);
    let missing = dir.path().join("missing.json");
    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, "{\"auths\": [").unwrap();
    std::fs::set_permissions(
        &malformed,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    for (path, want) in [
        (&open, "chmod 600"),
        (&missing, "cannot read"),
        (&malformed, "not a Docker config.json"),
    ] {
        let config = dir.path().join("ctrmgr.toml");
        std::fs::write(
            &config,
            format!("[runtime]\nregistry_auth_file = \"{}\"\n", path.display()),
        )
        .unwrap();
        let out = Command::new(agent_binary())
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: started", path.display());
        assert!(stderr.contains("runtime.registry_auth_file"), "{stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert!(!stderr.contains(REGISTRY_PASSWORD), "{stderr}");
    }
}

/// Runs `engine` (`docker` or `podman`) with `args`, returning stdout; panics on failure.
fn engine(engine: &str, args: &[&str]) -> String {
    let out = Command::new(engine)
        .args(args)
        .output()
        .expect("engine CLI");
    assert!(
        out.status.success(),
        "{engine} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Builds a small image of `IMAGE` plus one unique file, tagged `tag` (untagged: none).
fn build(cli: &str, tag: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let marker = unique("gc");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN echo {marker} > /marker\n"),
    )
    .unwrap();
    let context = dir.path().display().to_string();
    let mut args = vec!["build", "-q"];
    if let Some(t) = tag {
        args.extend(["-t", t]);
    }
    args.push(&context);
    let id = engine(cli, &args);
    let id = id.lines().last().unwrap().to_owned();
    if id.starts_with("sha256:") {
        id
    } else {
        format!("sha256:{id}")
    }
}

/// Held by each test that prunes: a prune removes every dangling image of the engine,
/// the other prune test's too.
static PRUNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn prune_images_removes_a_dangling_image_and_keeps_one_a_stopped_container_uses() {
    require_docker();
    let _alone = PRUNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Old enough at once, and one image kept per repository: the shared test images
    // (each alone in its repository) are never candidates.
    let agent = Agent::start("[images]\ngc_min_age_s = 0\ngc_keep_per_repo = 1\n");
    for (runtime, cli) in [
        ("docker-api", "docker"),
        ("podman-api", "podman"),
        ("docker", "docker"),
        ("podman", "podman"),
    ] {
        let repo = format!("ctrmgr-test/{}", unique("gcrepo"));
        let (used_tag, newer_tag) = (format!("{repo}:old"), format!("{repo}:new"));
        let dangling = build(cli, None);
        let used = build(cli, Some(&used_tag));
        // Creation times count in seconds: the newer one must be a second younger.
        std::thread::sleep(Duration::from_millis(1100));
        build(cli, Some(&newer_tag));
        let container = unique("gcuser");
        engine(cli, &["create", "--name", &container, &used_tag, "true"]);
        let prune = |dry_run: bool| {
            let (status, r) = agent.execute(&json!({
                "op": "prune_images", "runtime": runtime, "args": {"dry_run": dry_run}
            }));
            assert_eq!(status, 200, "{runtime}: {r}");
            r["result"].clone()
        };
        let named = |result: &Value, what: &str| {
            result["removed"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == what)
        };
        let dry = prune(true);
        assert!(named(&dry, &dangling), "{runtime}: {dry}");
        assert!(
            !named(&dry, &used_tag) && !named(&dry, &used),
            "{runtime}: {dry}"
        );
        assert!(
            dry["reclaimed_bytes"].as_u64() > Some(0),
            "{runtime}: {dry}"
        );
        assert!(
            engine_has_image(cli, &dangling),
            "{runtime}: a dry run removed it"
        );
        let done = prune(false);
        assert!(named(&done, &dangling), "{runtime}: {done}");
        assert!(!engine_has_image(cli, &dangling), "{runtime}: still there");
        assert!(
            engine_has_image(cli, &used_tag),
            "{runtime}: the used image went"
        );
        assert!(
            engine_has_image(cli, &newer_tag),
            "{runtime}: the newest went"
        );
        engine(cli, &["rm", "-f", &container]);
        engine(cli, &["rmi", "-f", &used_tag, &newer_tag]);
    }
}

#[test]
fn pull_progress_events_over_mqtt() {
    require_docker();
    let broker = mqtt_support::Broker::start();
    let agent = Agent::start(&mqtt_support::agent_mqtt_config(&broker, ""));
    let client = mqtt_support::TestClient::connect(&broker);
    let device = agent.device_id();
    client.wait_status(&device, "online");
    let events = format!("ctrmgr/{device}/events");
    client.subscribe(&events);
    let image = LayeredImage::push();
    let reply = client.call(
        &device,
        &json!({"op": "pull", "runtime": "docker-api",
                "args": {"image": image.reference, "progress": true}}),
    );
    assert_eq!(reply["ok"], true, "{reply}");
    let finished = |m: &mqtt_support::Message| {
        let e = m.json();
        e["kind"] == "pull_progress"
            && e["image"] == image.reference.as_str()
            && e["total"].as_u64() > Some(0)
            && e["current"] == e["total"]
    };
    let mut layers = std::collections::BTreeSet::new();
    while layers.len() < 2 {
        let Some(m) = client.next_on(&events, Duration::from_secs(10), finished) else {
            panic!("only {} finished layers on {events}", layers.len());
        };
        layers.insert(m.json()["layer"].as_str().unwrap().to_owned());
    }
}

/// A registry that stalls mid-pull: the pull ends within `runtime.call_timeout_s` with
/// an error (no hang), the agent goes on answering, and the partial image is not
/// present afterwards, on both API paths.
#[test]
fn a_registry_that_stalls_mid_pull_costs_the_call_timeout_and_leaves_no_image() {
    require_docker();
    let registry = StallingRegistry::start();
    let agent = Agent::start("[runtime]\ncall_timeout_s = 5\n");
    for runtime in ["docker-api", "podman-api"] {
        let image = registry.image();
        let (_, r) = agent.execute(&json!({
            "op": "pull", "runtime": runtime, "args": {"image": image}
        }));
        assert_eq!(r["ok"], false, "{runtime}: {r}");
        let message = r["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{runtime}: {r}");
        let (_, images) = agent.execute(&json!({"op": "images", "runtime": runtime}));
        assert_eq!(images["ok"], true, "{runtime}: {images}");
        assert!(
            !images["result"].to_string().contains(&image),
            "{runtime}: the partial pull counts as present: {images}"
        );
    }
    let (status, info) = agent.execute(&json!({"op": "info"}));
    assert_eq!(status, 200, "{info}");
}

/// `prune_images` keeps an image that only the previous deployment names (what
/// `rollback` would need), and removes it once no generation it keeps names it.
#[test]
fn prune_images_keeps_the_images_of_the_previous_deployment() {
    require_docker();
    let _alone = PRUNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let agent = Agent::start(
        "[images]\ngc_min_age_s = 0\ngc_keep_per_repo = 1\n[runtime]\ndefault = \"docker-api\"\n",
    );
    let repo = format!("ctrmgr-test/{}", unique("gcdep"));
    let (deployed, newest) = (format!("{repo}:1"), format!("{repo}:2"));
    build("docker", Some(&deployed));
    std::thread::sleep(Duration::from_millis(1100));
    build("docker", Some(&newest));
    let dangling = build("docker", None);
    let (old, steady) = (unique("gc-old"), unique("gc-steady"));
    let sleeper = |name: &str, image: &str| json!({"name": name, "image": image, "cmd": ["sleep", "3600"], "network": "none"});
    let apply = |generation: u64, containers: Vec<Value>| {
        let (_, r) = agent.execute(&json!({"op": "apply", "args": {"deployment": {
            "generation": generation, "containers": containers,
            "policy": {"healthy_window_s": 1}}}}));
        assert_eq!(r["result"]["phase"], "done", "{r}");
    };
    let prune = || {
        let (_, r) = agent.execute(&json!({"op": "prune_images", "args": {}}));
        assert_eq!(r["ok"], true, "{r}");
        r["result"]["removed"].to_string()
    };
    apply(1, vec![sleeper(&old, &deployed), sleeper(&steady, IMAGE)]);
    // Generation 2 drops the container: its image is unused, but generation 1 (the
    // previous one) names it.
    apply(2, vec![sleeper(&steady, IMAGE)]);
    assert!(!docker_has(&old), "generation 2 removed it");
    let removed = prune();
    assert!(removed.contains(&dangling), "{removed}");
    assert!(!removed.contains(&deployed), "{removed}");
    assert!(engine_has_image("docker", &deployed));
    // Generation 3: now neither the committed nor the previous generation names it.
    apply(3, vec![sleeper(&steady, REGISTRY_IMAGE)]);
    let removed = prune();
    assert!(removed.contains(&deployed), "{removed}");
    assert!(!engine_has_image("docker", &deployed));
    assert!(
        engine_has_image("docker", &newest),
        "the newest of its repository stays"
    );
    // The agent first: it would create its deployment's container again.
    drop(agent);
    docker_rm(&steady);
    engine("docker", &["rmi", "-f", &newest]);
}
