//! ctrmgrctl against a real agent and dockerd: every verb, `--json` output parsed, the
//! exit code of each error code, finding the agent (`--host`, `CTRMGR_HOST`), TCP with
//! and without the bearer token, `logs -f`, and `pull` under a pseudo-terminal.

use ctrmgr_testkit::common;

use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CTL: &str = env!("CARGO_BIN_EXE_ctrmgrctl");

/// An agent with its REST unix socket in its own temporary directory.
struct SocketAgent {
    agent: Agent,
    /// `unix:///.../api.sock`
    host: String,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

/// `rest_extra`: more `[rest]` keys.
fn start_agent(rest_extra: &str) -> SocketAgent {
    require_docker();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    let sock = dir.join("api.sock");
    let config = format!(
        "[rest]\nunix_socket = \"{}\"\n{rest_extra}[runtime]\ndefault = \"docker-api\"\n",
        sock.display()
    );
    let agent = Agent::start_in(&dir, &config);
    SocketAgent {
        agent,
        host: format!("unix://{}", sock.display()),
        dir,
        _tmp: tmp,
    }
}

/// What one ctrmgrctl run printed and returned.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        assert_eq!(self.code, 0, "{self:?}");
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Asserts the exit code and that stderr starts with `<code>: `.
    fn failed_with(&self, exit: i32, code: &str) {
        assert_eq!(self.code, exit, "{self:?}");
        assert!(self.stderr.starts_with(&format!("{code}: ")), "{self:?}");
    }
}

/// Runs ctrmgrctl with a clean environment plus `env`.
fn ctl_env(env: &[(&str, &str)], args: &[&str]) -> Out {
    let out = Command::new(CTL)
        .env_remove("CTRMGR_HOST")
        .env_remove("CTRMGR_TOKEN_FILE")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl SocketAgent {
    fn ctl(&self, args: &[&str]) -> Out {
        let mut all = vec!["--host", self.host.as_str()];
        all.extend(args);
        ctl_env(&[], &all)
    }
}

/// Polls `f` until it holds, for at most 20 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn container_verbs() {
    let a = start_agent("");
    let name = unique("ctl");
    let mount = a.dir.to_str().unwrap().to_owned();
    let c = a
        .ctl(&[
            "run",
            "--json",
            "--name",
            &name,
            "-e",
            "GREETING=hi",
            "-l",
            "ctl-test=yes",
            "-p",
            &format!("{}:80", free_port()),
            "-v",
            &format!("{mount}:/data:ro"),
            "--restart",
            "on-failure:2",
            "-m",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "50",
            "-w",
            "/data",
            IMAGE,
            "sh",
            "-c",
            "echo hello; echo world; sleep 300",
        ])
        .json();
    assert_eq!(
        (c["name"].as_str(), c["state"].as_str()),
        (Some(name.as_str()), Some("running"))
    );
    assert_eq!(c["runtime"], "docker-api");
    let d = docker_inspect(&name);
    assert!(
        d["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("GREETING=hi")),
        "{d}"
    );
    assert_eq!(d["Config"]["Labels"]["ctl-test"], "yes");
    assert_eq!(d["Config"]["WorkingDir"], "/data");
    assert_eq!(d["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(d["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(d["HostConfig"]["PidsLimit"], 50);

    let ps = a.ctl(&["ps", "--json"]).json();
    assert!(ps["containers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == name.as_str()));
    let labelled = a
        .ctl(&["ps", "-a", "--label", "ctl-test=yes", "--json"])
        .json();
    let names: Vec<&Value> = labelled["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!(name)]);
    let table = a.ctl(&["ps"]);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.starts_with("NAME "), "{table:?}");
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("running")),
        "{table:?}"
    );

    let inspected = a.ctl(&["inspect", &name]).json();
    assert_eq!(inspected["spec"]["env"]["GREETING"], "hi");
    eventually("the container's two lines", || {
        a.ctl(&["logs", &name, "--json"]).json()["lines"] == json!(["hello", "world"])
    });
    let tail = a.ctl(&["logs", "--tail", "1", &name]);
    assert_eq!(
        (tail.code, tail.stdout.as_str()),
        (0, "world\n"),
        "{tail:?}"
    );
    let stats = a.ctl(&["stats", &name, "--json"]).json();
    for key in ["cpu_percent", "memory_bytes", "memory_limit_bytes", "pids"] {
        assert!(stats.get(key).is_some(), "{key} in {stats}");
    }
    assert!(a.ctl(&["stats", &name]).stdout.contains(&name));

    let stopped = a.ctl(&["stop", "-t", "1", &name, "--json"]).json();
    assert_eq!(stopped["state"], "exited");
    let started = a.ctl(&["start", &name]);
    assert_eq!(
        (started.code, started.stdout.trim()),
        (0, name.as_str()),
        "{started:?}"
    );
    assert_eq!(
        a.ctl(&["restart", "-t", "1", &name, "--json"]).json()["state"],
        "running"
    );
    let killed = a.ctl(&["kill", "-s", "SIGKILL", &name, "--json"]).json();
    assert_eq!(killed["state"], "exited");
    assert_eq!(
        a.ctl(&["rm", "-f", &name, "--json"]).json()["name"],
        name.as_str()
    );
    assert!(!docker_has(&name));
    a.ctl(&["inspect", &name]).failed_with(12, "not_found");
}

#[test]
fn spec_file_and_runtime_flag() {
    let a = start_agent("");
    let name = unique("ctl-spec");
    let spec = a.dir.join("spec.json");
    let body =
        json!({"name": name, "image": IMAGE, "cmd": ["sleep", "300"], "env": {"FROM_FILE": "1"}});
    std::fs::write(&spec, body.to_string()).unwrap();
    let c = a
        .ctl(&[
            "--runtime",
            "docker",
            "create",
            "-f",
            spec.to_str().unwrap(),
            "-e",
            "FLAG=2",
            "--json",
        ])
        .json();
    assert_eq!(
        (c["state"].as_str(), c["runtime"].as_str()),
        (Some("created"), Some("docker"))
    );
    assert_eq!(c["spec"]["env"], json!({"FROM_FILE": "1", "FLAG": "2"}));
    assert_eq!(a.ctl(&["rm", &name]).code, 0);
}

#[test]
fn exit_code_per_error_code() {
    let a = start_agent("");
    a.ctl(&["start", "no-such-container"])
        .failed_with(12, "not_found");
    // A hostile name is refused by the agent and nothing is made.
    let hostile = a.ctl(&["create", "--name=--privileged", IMAGE]);
    hostile.failed_with(10, "invalid_request");
    assert!(
        hostile.stderr.contains("not a valid container name"),
        "{hostile:?}"
    );
    assert!(!docker_has("--privileged"));
    let name = unique("ctl-dup");
    assert_eq!(
        a.ctl(&["create", "--name", &name, IMAGE, "sleep", "30"])
            .code,
        0
    );
    a.ctl(&["create", "--name", &name, IMAGE])
        .failed_with(13, "conflict");
    assert_eq!(a.ctl(&["rm", "-f", &name]).code, 0);
    // A flag value ctrmgrctl cannot send: local error, nothing sent.
    let bad_port = a.ctl(&["create", "--name", &name, "-p", "80", IMAGE]);
    assert_eq!(bad_port.code, 1, "{bad_port:?}");
    assert!(bad_port.stderr.contains("-p '80'"), "{bad_port:?}");
    // Usage errors are clap's 2.
    assert_eq!(a.ctl(&["ps", "--no-such-flag"]).code, 2);
    assert_eq!(a.ctl(&["stop"]).code, 2);
}

#[test]
fn finds_the_agent_by_flag_env_or_default() {
    let a = start_agent("");
    assert_eq!(a.ctl(&["info", "--json"]).json()["store"], "lmdb");
    let by_env = ctl_env(&[("CTRMGR_HOST", &a.host)], &["info", "--json"]);
    assert_eq!(
        by_env.json()["device_id"],
        a.ctl(&["info", "--json"]).json()["device_id"]
    );
    // --host wins over the environment.
    let both = ctl_env(
        &[("CTRMGR_HOST", "unix:///nonexistent/ctrmgr.sock")],
        &["--host", &a.host, "info"],
    );
    assert_eq!(both.code, 0, "{both:?}");
    assert!(both.stdout.contains("docker-api"), "{both:?}");
    let gone = ctl_env(
        &[("CTRMGR_HOST", "unix:///nonexistent/ctrmgr.sock")],
        &["info"],
    );
    assert_eq!(gone.code, 1, "{gone:?}");
    assert!(gone.stderr.contains("/nonexistent/ctrmgr.sock"), "{gone:?}");
    assert!(
        !Path::new("/run/ctrmgr/api.sock").exists(),
        "this test expects no agent on the default socket"
    );
    let default = ctl_env(&[], &["info"]);
    assert_eq!(default.code, 1, "{default:?}");
    assert!(
        default.stderr.contains("/run/ctrmgr/api.sock"),
        "{default:?}"
    );
    let bad = ctl_env(&[], &["--host", "ftp://x", "info"]);
    assert_eq!(bad.code, 1, "{bad:?}");
}

#[test]
fn tcp_needs_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, "ctl-test-token-0123456789\n").unwrap();
    let a = start_agent(&format!("token_file = \"{}\"\n", token_file.display()));
    let tcp = a.agent.url.clone();
    let token = token_file.to_str().unwrap();
    let with_flag = ctl_env(
        &[],
        &["--host", &tcp, "--token-file", token, "info", "--json"],
    );
    assert_eq!(with_flag.json()["store"], "lmdb");
    let with_env = ctl_env(
        &[("CTRMGR_HOST", &tcp), ("CTRMGR_TOKEN_FILE", token)],
        &["ps", "--json"],
    );
    assert!(with_env.json()["containers"].is_array());
    ctl_env(&[], &["--host", &tcp, "info"]).failed_with(11, "forbidden");
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "not-the-token-0123456789").unwrap();
    ctl_env(
        &[],
        &[
            "--host",
            &tcp,
            "--token-file",
            wrong.to_str().unwrap(),
            "ps",
        ],
    )
    .failed_with(11, "forbidden");
    // The event stream is behind the token too.
    ctl_env(&[], &["--host", &tcp, "events"]).failed_with(11, "forbidden");
    let missing = ctl_env(
        &[],
        &["--host", &tcp, "--token-file", "/nonexistent/token", "info"],
    );
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("/nonexistent/token"), "{missing:?}");
}

#[test]
fn logs_follow_until_the_container_stops() {
    let a = start_agent("");
    let name = unique("ctl-follow");
    let script = "echo one; sleep 2; echo two; sleep 2; echo three; sleep 1";
    assert_eq!(
        a.ctl(&["run", "--name", &name, IMAGE, "sh", "-c", script])
            .code,
        0
    );
    let started = Instant::now();
    let followed = a.ctl(&["logs", "-f", &name]);
    assert_eq!(followed.code, 0, "{followed:?}");
    assert_eq!(followed.stdout, "one\ntwo\nthree\n");
    assert!(started.elapsed() < Duration::from_secs(20));
    // A stopped container: the lines, and done; with --json one JSON string a line.
    let as_json = a.ctl(&["logs", "-f", "--json", &name]);
    assert_eq!(
        (as_json.code, as_json.stdout.as_str()),
        (0, "\"one\"\n\"two\"\n\"three\"\n"),
        "{as_json:?}"
    );
    let again = a.ctl(&["logs", "-f", &name]);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "one\ntwo\nthree\n"),
        "{again:?}"
    );
    assert_eq!(a.ctl(&["rm", &name]).code, 0);
}

#[test]
fn pull_plain_json_and_under_a_terminal() {
    let a = start_agent("");
    let plain = a.ctl(&["pull", REGISTRY_IMAGE]);
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(
        plain
            .stdout
            .starts_with(&format!("pulling {REGISTRY_IMAGE} ...\n")),
        "{plain:?}"
    );
    assert!(
        plain
            .stdout
            .contains(&format!("pulled {REGISTRY_IMAGE} (sha256:")),
        "{plain:?}"
    );
    let json = a.ctl(&["pull", REGISTRY_IMAGE, "--json"]).json();
    assert_eq!(json["image"], REGISTRY_IMAGE);
    assert!(json["id"].as_str().unwrap().starts_with("sha256:"));
    // A pseudo-terminal (util-linux `script`): the spinner/bars path draws and ends with
    // the result.
    let line = format!("{CTL} --host {} pull {REGISTRY_IMAGE}", a.host);
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("pulled {REGISTRY_IMAGE} (sha256:")),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    let missing = a.ctl(&["pull", "127.0.0.1:5000/ctrmgr-test/no-such-image:1"]);
    assert!(missing.code == 12 || missing.code == 16, "{missing:?}");
}

#[test]
fn images_and_rmi() {
    let a = start_agent("");
    let tag = format!("ctrmgr-test/ctl-rmi-{}:latest", std::process::id());
    docker(&["tag", IMAGE, &tag]);
    let listed = a.ctl(&["images", "--json"]).json();
    let has = |v: &Value| {
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["tags"].as_array().unwrap().contains(&json!(tag)))
    };
    assert!(has(&listed), "{listed}");
    assert!(a.ctl(&["images"]).stdout.contains(&tag));
    let removed = a.ctl(&["rmi", &tag]);
    assert_eq!(
        (removed.code, removed.stdout.trim()),
        (0, tag.as_str()),
        "{removed:?}"
    );
    assert!(!has(&a.ctl(&["images", "--json"]).json()));
    a.ctl(&["rmi", &tag]).failed_with(12, "not_found");
}

#[test]
fn events_are_printed_as_they_happen() {
    let a = start_agent("");
    let mut child = Command::new(CTL)
        .args(["--host", &a.host, "events", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let name = unique("ctl-events");
    assert_eq!(
        a.ctl(&["create", "--name", &name, IMAGE, "sleep", "30"])
            .code,
        0
    );
    // The stream may open after the create: start and stop until an event names ours.
    let mut seen = None;
    let mut running = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.is_none() && Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => {
                let event: Value = serde_json::from_str(&line).unwrap();
                if event["name"] == name.as_str() {
                    seen = Some(event);
                }
            }
            Err(_) => {
                let verb = if running { "stop" } else { "start" };
                assert_eq!(a.ctl(&[verb, &name]).code, 0);
                running = !running;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let event = seen.expect("an event naming the container");
    assert!(
        event["action"].is_string() && event["state"].is_string(),
        "{event}"
    );
    assert_eq!(a.ctl(&["rm", "-f", &name]).code, 0);
}

#[test]
fn deployment_verbs_send_the_contract_envelopes() {
    let a = start_agent("");
    let json_file = a.dir.join("d.json");
    std::fs::write(
        &json_file,
        json!({"generation": 1, "containers": []}).to_string(),
    )
    .unwrap();
    let toml_file = a.dir.join("d.toml");
    std::fs::write(&toml_file, "generation = 1\ncontainers = []\n").unwrap();
    // An empty generation 1 from JSON, then the same from TOML (the same content: its
    // status again), the status, and a rollback with nothing to roll back to.
    let status = |out: Out| {
        assert_eq!(out.code, 0, "{out:?}");
        let s = out.json();
        assert_eq!(
            (s["generation"].as_u64(), s["phase"].as_str()),
            (Some(1), Some("done"))
        );
    };
    status(a.ctl(&["apply", "-f", json_file.to_str().unwrap(), "--json"]));
    status(a.ctl(&["apply", "-f", toml_file.to_str().unwrap(), "--json"]));
    status(a.ctl(&["deployment", "--json"]));
    let table = a.ctl(&["deployment"]);
    assert_eq!(table.code, 0, "{table:?}");
    a.ctl(&["rollback"]).failed_with(13, "conflict");
    let unreadable = a.ctl(&["apply", "-f", "/nonexistent/d.json"]);
    assert_eq!(unreadable.code, 1, "{unreadable:?}");
}

#[test]
fn help_and_completions() {
    let top = ctl_env(&[], &["--help"]);
    assert_eq!(top.code, 0);
    assert!(
        top.stdout.contains("Exit codes:") && top.stdout.contains("12  not_found"),
        "{top:?}"
    );
    for verb in [
        "ps",
        "create",
        "run",
        "start",
        "stop",
        "restart",
        "kill",
        "rm",
        "inspect",
        "logs",
        "stats",
        "pull",
        "images",
        "rmi",
        "info",
        "events",
        "apply",
        "deployment",
        "rollback",
        "completion",
    ] {
        let help = ctl_env(&[], &[verb, "--help"]);
        assert_eq!(help.code, 0, "{verb}: {help:?}");
        assert!(
            help.stdout.contains(&format!("Usage: ctrmgrctl {verb}")),
            "{verb}: {help:?}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = ctl_env(&[], &["completion", shell]);
        assert_eq!(script.code, 0, "{shell}: {script:?}");
        assert!(
            script.stdout.contains("ctrmgrctl") && script.stdout.contains("rollback"),
            "{shell}"
        );
    }
    assert_eq!(ctl_env(&[], &["completion", "tcsh"]).code, 2);
}
