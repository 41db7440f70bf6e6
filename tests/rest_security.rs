//! Policy and authentication over REST: every policy rule refuses with `forbidden`
//! naming it and nothing reaches the engine; the bearer token; the unix socket's
//! SO_PEERCRED check; no remote listener without a token.

use ctrmgr_testkit::common;

use common::*;
use serde_json::{json, Value};
use std::process::Command;

#[test]
fn every_policy_rule_is_forbidden_and_nothing_reaches_the_engine() {
    // A private engine: max_containers counts every record, and agents on a shared
    // engine may adopt other tests' hand-made containers.
    let dockerd = common::private_dockerd::PrivateDockerd::start();
    let agent = Agent::start(&format!(
        "[policy]\nallowed_images = [\"127.0.0.1:5000/\", \"docker.io/ctrmgr-test/\"]\nmax_containers = 1\n\
         max_memory_bytes = 134217728\n\
         [[policy.mount_roots]]\npath = \"/tmp/ctrmgr-ro-root\"\nread_write = false\n\
         [runtime]\ndocker_socket = \"{}\"\n",
        dockerd.socket().display()
    ));
    let docker_has = |name: &str| {
        Command::new("docker")
            .args(["--host", &dockerd.host(), "container", "inspect", name])
            .output()
            .unwrap()
            .status
            .success()
    };
    let limits = json!({"memory_bytes": 67108864});
    let name = unique("policy");
    let cases = [
        ("policy.allow_privileged", json!({"privileged": true})),
        ("policy.allow_host_network", json!({"network": "host"})),
        ("policy.allowed_devices", json!({"devices": ["/dev/null"]})),
        (
            "policy.mount_roots",
            json!({"mounts": [{"source": "/etc", "target": "/x", "read_only": true}]}),
        ),
        (
            "policy.mount_roots",
            json!({"mounts": [{"source": "/tmp/ctrmgr-ro-root/a", "target": "/x"}]}),
        ),
        (
            "policy.allowed_images",
            json!({"image": "docker.io/library/alpine:3"}),
        ),
        (
            "policy.max_memory_bytes",
            json!({"resources": {"memory_bytes": 268435456}}),
        ),
        ("policy.max_memory_bytes", json!({"resources": null})),
    ];
    for (rule, extra) in cases {
        let mut args = json!({"name": name, "image": IMAGE, "cmd": ["sleep", "30"], "network": "none", "resources": limits});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                args.as_object_mut().unwrap().remove(k);
            } else {
                args[k] = v.clone();
            }
        }
        let (status, r) = agent.execute(&json!({"op": "create", "args": args}));
        assert_eq!((status, code(&r)), (403, "forbidden"), "{rule}: {r}");
        assert!(
            r["error"]["message"].as_str().unwrap().contains(rule),
            "{rule}: {r}"
        );
        assert!(
            !docker_has(&name),
            "{rule}: the container reached the engine"
        );
    }
    let (status, r) =
        agent.execute(&json!({"op": "pull", "args": {"image": "docker.io/library/alpine:3"}}));
    assert_eq!((status, code(&r)), (403, "forbidden"), "{r}");

    let (status, r) = agent.execute(
        &json!({"op": "create", "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "30"], "network": "none", "resources": limits}}),
    );
    assert_eq!(status, 200, "{r}");
    let (status, r) = agent.execute(&json!({"op": "create", "args": {"name": unique("policy2"), "image": IMAGE, "resources": limits}}));
    assert_eq!((status, code(&r)), (403, "forbidden"), "{r}");
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("policy.max_containers"));
    agent.execute(&json!({"op": "remove", "args": {"name": name, "force": true}}));
}

#[test]
fn bearer_token_guards_every_route_but_healthz() {
    let token = "s3cret-token-0123456789";
    let agent = Agent::start(&format!("[rest]\ntoken = \"{token}\"\n"));
    let url = format!("{}/v1/info", agent.url);
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let status = |auth: Option<&str>| {
        let mut req = http.get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.call().unwrap().status().as_u16()
    };
    assert_eq!(status(None), 403);
    assert_eq!(status(Some("Bearer wrong")), 403);
    assert_eq!(status(Some(&format!("Bearer {token}x"))), 403);
    assert_eq!(status(Some(token)), 403);
    assert_eq!(status(Some(&format!("Bearer {token}"))), 200);
    let health = http.get(format!("{}/healthz", agent.url)).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[test]
fn remote_listener_without_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[rest]\nlisten = \"0.0.0.0:0\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ctrmgr"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rest.listen") && err.contains("rest.token"),
        "{err}"
    );
}

fn curl_unix(socket: &str, as_nobody: bool) -> (String, String) {
    curl_unix_groups(socket, as_nobody.then_some("--clear-groups"))
}

/// `curl` on the unix socket, as root (`None`) or as uid/gid 65534 with the
/// supplementary-groups option of setpriv given.
fn curl_unix_groups(socket: &str, nobody_groups: Option<&str>) -> (String, String) {
    let mut cmd = if let Some(groups) = nobody_groups {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", groups, "curl"]);
        c
    } else {
        Command::new("curl")
    };
    let out = cmd
        .args([
            "-s",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "--unix-socket",
            socket,
            "http://localhost/v1/info",
        ])
        .output()
        .expect("curl and setpriv (util-linux) must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_owned(), code.to_owned())
}

#[test]
fn unix_socket_checks_the_callers_credentials() {
    let sockdir = common::socket_dir_for_other_users();
    let socket = sockdir.path().join("ctrmgr.sock");
    let agent = Agent::start(&format!(
        "[rest]\nunix_socket = \"{}\"\nunix_socket_mode = 438\n",
        socket.display()
    ));
    let socket = socket.to_str().unwrap();
    let (body, status) = curl_unix(socket, false);
    assert_eq!(status, "200", "root: {body}");
    let (body, status) = curl_unix(socket, true);
    assert_eq!(status, "403", "nobody: {body}");
    assert!(
        body.contains("forbidden") && body.contains("uid 65534"),
        "{body}"
    );
    drop(agent);

    let agent = Agent::start(&format!(
        "[rest]\nunix_socket = \"{}\"\nunix_socket_mode = 438\nunix_socket_uids = [65534]\n",
        sockdir.path().join("ctrmgr.sock").display()
    ));
    let (body, status) = curl_unix(socket, true);
    assert_eq!(status, "200", "nobody, allowed: {body}");
    drop(agent);
}

#[test]
fn unix_socket_group_members_are_admitted_and_own_the_file() {
    use std::os::unix::fs::MetadataExt;
    let sockdir = common::socket_dir_for_other_users();
    let socket = sockdir.path().join("api.sock");
    let users = nix::unistd::Group::from_name("users")
        .unwrap()
        .expect("group 'users' (Debian's gid 100) exists on the test machine")
        .gid
        .as_raw();
    let _agent = Agent::start(&format!(
        "[rest]\nunix_socket = \"{}\"\nunix_socket_group = \"users\"\n",
        socket.display()
    ));
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(
        meta.gid(),
        users,
        "the socket file belongs to rest.unix_socket_group"
    );
    assert_eq!(meta.mode() & 0o777, 0o660);
    let socket = socket.to_str().unwrap();
    let (body, status) = curl_unix_groups(socket, Some(&format!("--groups={users}")));
    assert_eq!(status, "200", "nobody in group users: {body}");
    let (body, status) = curl_unix_groups(socket, Some("--clear-groups"));
    assert_eq!(
        status, "000",
        "nobody outside the group cannot even connect: {body}"
    );
}

#[test]
fn a_tcp_listener_without_a_token_does_not_start_even_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[rest]\nlisten = \"127.0.0.1:0\"\nunix_socket = \"{}\"\n\
             [grpc]\nenabled = false\n[mqueue]\nenabled = false\n[store]\npath = \"{}\"\n",
            dir.path().join("api.sock").display(),
            dir.path().join("store").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctrmgr"))
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the agent started a loopback TCP listener without a token");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(78), "{err}");
    assert!(
        err.contains("rest.listen") && err.contains("rest.token_file"),
        "{err}"
    );
}

#[test]
fn tcp_requests_must_name_this_listener_in_host() {
    let agent = Agent::start("[rest]\nallowed_hosts = [\"gw-01.local\"]\n");
    let port: u16 = agent.url.rsplit(':').next().unwrap().parse().unwrap();
    let ask = |host: &str| {
        read_tcp(
            port,
            format!(
                "GET /v1/info HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\
                 Connection: close\r\n\r\n",
                agent.bearer()
            )
            .as_bytes(),
        )
    };
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".to_owned(),
        format!("GW-01.local:{port}"),
    ] {
        let answer = ask(&host);
        assert!(answer.starts_with("HTTP/1.1 200"), "{host}: {answer}");
    }
    // DNS rebinding: a web page's own name re-pointed at 127.0.0.1.
    for host in [format!("attacker.example:{port}"), "127.0.0.2".to_owned()] {
        let answer = ask(&host);
        assert!(answer.starts_with("HTTP/1.1 403"), "{host}: {answer}");
        assert!(
            answer.contains("forbidden") && answer.contains("rest.allowed_hosts"),
            "{host}: {answer}"
        );
    }
}

#[test]
fn concurrent_creates_never_overshoot_max_containers() {
    require_docker();
    let agent = Agent::start("[policy]\nmax_containers = 3\n");
    let names: Vec<String> = (0..8).map(|i| unique(&format!("cap{i}"))).collect();
    let outcomes: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let agent = &agent;
                s.spawn(move || {
                    agent.post(
                        "/v1/containers",
                        &json!({"name": name, "image": IMAGE, "cmd": ["sleep", "60"],
                                "network": "none"}),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: Vec<&String> = names
        .iter()
        .zip(&outcomes)
        .filter(|(_, (status, _))| *status == 201)
        .map(|(name, _)| name)
        .collect();
    for name in &names {
        docker_rm(name);
    }
    assert_eq!(created.len(), 3, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(s, _)| *s != 201) {
        assert_eq!((*status, code(body)), (403, "forbidden"), "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("policy.max_containers"),
            "{body}"
        );
    }
}

#[test]
fn the_image_allow_list_compares_components_not_text() {
    require_docker();
    let agent = Agent::start(
        "[policy]\nallowed_images = [\"127.0.0.1:5000/acc\", \"registry.local\", \
         \"docker.io/ctrmgr-test/\"]\n",
    );
    for image in [
        "127.0.0.1:5000/acc-evil:1",
        "registry.local.attacker.net/x:1",
        "127.0.0.1:5000/other/acc:1",
    ] {
        let name = unique("allow");
        let (status, body) = agent.post(
            "/v1/containers",
            &json!({"name": name, "image": image, "network": "none"}),
        );
        assert_eq!((status, code(&body)), (403, "forbidden"), "{image}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("policy.allowed_images"),
            "{body}"
        );
        assert!(!docker_has(&name), "{image} reached the engine");
    }
    // What the entries name is admitted (the local image is docker.io/ctrmgr-test/...).
    let name = unique("allow-ok");
    let (status, body) = agent.post(
        "/v1/containers",
        &json!({"name": name, "image": IMAGE, "network": "none"}),
    );
    docker_rm(&name);
    assert_eq!(status, 201, "{body}");
}

/// Runs the engine's CLI (`docker` or `podman`) and returns stdout; panics with stderr.
fn engine_cli(cli: &str, args: &[&str]) -> String {
    let out = Command::new(cli).args(args).output().expect("engine CLI");
    assert!(
        out.status.success(),
        "{cli} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A recorded container removed behind the agent's back, whose name is a prefix of
/// another container's id: every op on the record leaves that container alone (both
/// engines resolve an unknown name as an id prefix), on all four runtime paths.
#[test]
fn ops_on_a_vanished_record_never_reach_a_container_whose_id_starts_with_its_name() {
    require_docker();
    let agent = Agent::start("");
    for (runtime, cli) in [
        ("docker-api", "docker"),
        ("docker", "docker"),
        ("podman-api", "podman"),
        ("podman", "podman"),
    ] {
        let victim = unique("victim");
        let victim_id = engine_cli(
            cli,
            &[
                "run",
                "-d",
                "--name",
                &victim,
                "--network",
                "none",
                IMAGE,
                "sleep",
                "300",
            ],
        );
        let _cleanup = RemoveWith(cli, victim_id.clone());
        let name = &victim_id[..12];
        let (status, r) = agent.execute(&json!({"op": "create", "runtime": runtime,
            "args": {"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "network": "none",
                     "start": true}}));
        assert_eq!(status, 200, "{runtime}: {r}");
        let managed_id = r["result"]["id"].as_str().unwrap().to_owned();
        engine_cli(cli, &rm_now(cli, &managed_id));
        for (op, args) in [
            ("stop", json!({"name": name, "timeout_s": 0})),
            ("kill", json!({"name": name})),
            ("restart", json!({"name": name, "timeout_s": 0})),
            ("start", json!({"name": name})),
            ("logs", json!({"name": name})),
            ("stats", json!({"name": name})),
        ] {
            let (status, r) = agent.execute(&json!({"op": op, "runtime": runtime, "args": args}));
            assert_eq!(
                (status, code(&r)),
                (404, "not_found"),
                "{runtime} {op}: {r}"
            );
        }
        let (status, r) = agent.execute(
            &json!({"op": "remove", "runtime": runtime, "args": {"name": name, "force": true}}),
        );
        assert_eq!(status, 200, "{runtime} remove: the record goes: {r}");
        let state = engine_cli(
            cli,
            &[
                "container",
                "inspect",
                "--format",
                "{{.State.Status}}",
                &victim_id,
            ],
        );
        assert_eq!(state, "running", "{runtime}: the victim was touched");
    }
}

/// `rm -f` without a grace period (podman's `rm -f` waits 10 s for a PID 1 that ignores
/// SIGTERM; docker's kills at once).
fn rm_now<'a>(cli: &str, id: &'a str) -> Vec<&'a str> {
    if cli == "podman" {
        vec!["rm", "-f", "-t", "0", id]
    } else {
        vec!["rm", "-f", id]
    }
}

/// Removes a container with `docker` or `podman` when dropped (the test passed or not).
struct RemoveWith(&'static str, String);

impl Drop for RemoveWith {
    fn drop(&mut self) {
        let _ = Command::new(self.0).args(rm_now(self.0, &self.1)).output();
    }
}

/// A symbolic link planted below a mount root (`a/esc -> /`, as a container with a
/// writable root could) never becomes a mount: refused as `forbidden` on all four
/// runtime paths before anything reaches the engine; a real directory still mounts.
#[test]
fn a_symlink_below_a_mount_root_never_escapes_it() {
    require_docker();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("a/data")).unwrap();
    std::os::unix::fs::symlink("/", root.path().join("a/esc")).unwrap();
    let base = root.path().to_str().unwrap();
    let agent = Agent::start(&format!(
        "[policy]\n[[policy.mount_roots]]\npath = \"{base}\"\nread_write = true\n"
    ));
    for runtime in ["docker-api", "docker", "podman-api", "podman"] {
        for source in [format!("{base}/a/esc"), format!("{base}/a/esc/etc")] {
            let name = unique("esc");
            let (status, r) = agent.execute(&json!({"op": "create", "runtime": runtime,
                "args": {"name": name, "image": IMAGE, "network": "none",
                         "mounts": [{"source": source, "target": "/host"}]}}));
            assert_eq!(
                (status, code(&r)),
                (403, "forbidden"),
                "{runtime} {source}: {r}"
            );
            let message = r["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("policy.mount_roots") && message.contains("symbolic link"),
                "{r}"
            );
            let (_, list) = agent.get("/v1/containers?all=true");
            assert_eq!(
                list["result"]["containers"],
                json!([]),
                "{runtime}: a record"
            );
        }
    }
    let name = unique("esc-ok");
    let (status, r) = agent.execute(&json!({"op": "create", "runtime": "docker-api",
        "args": {"name": name, "image": IMAGE, "network": "none",
                 "mounts": [{"source": format!("{base}/a/data"), "target": "/data"}]}}));
    assert_eq!(status, 200, "{r}");
    agent.execute(&json!({"op": "remove", "args": {"name": name, "force": true}}));
}
