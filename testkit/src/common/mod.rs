//! The agent side of the harness: starts the real `ctrmgr` binary with a
//! temporary config and talks HTTP to it; checks that the real services are there and
//! fails loudly when they are not.

pub mod contract;
pub mod engine;
pub mod hostile;
pub mod private_dockerd;
pub mod private_registry;
pub mod protobuf_envelope;
pub mod sse;
pub mod stalling_registry;

use serde_json::Value;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The busybox image the test command imports into every engine.
pub const IMAGE: &str = "ctrmgr-test/busybox:latest";
/// The same image in the local registry.
pub const REGISTRY_IMAGE: &str = "127.0.0.1:5000/ctrmgr-test/busybox:latest";
/// The limits every test agent gives containers: the test machines' hard RLIMIT_NOFILE
/// is 20000 and cannot be raised, below Podman's default, so the podman runtimes need
/// them (a test's own `[runtime]` keys are merged over this).
const MACHINE_ULIMITS: &str =
    "[runtime]\ndefault_ulimits = [\"nofile=1024:20000\", \"nproc=1024:1024\"]\n";
/// Docker's socket.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A running agent, stopped (SIGTERM) when dropped.
pub struct Agent {
    child: Option<Child>,
    /// Its temporary directory (config, store, log).
    pub dir: PathBuf,
    /// Base URL, e.g. `http://127.0.0.1:40123` (its TCP listener, which wants the token).
    pub url: String,
    /// The bearer token of its TCP listener (the testkit's own unless a test sets one).
    pub token: String,
    /// Its REST unix socket.
    pub socket: PathBuf,
    http: ureq::Agent,
    _tmp: Option<tempfile::TempDir>,
}

/// The `ctrmgr` binary cargo built for the running test: integration tests run from
/// `target/<profile>/deps/`, the binary sits in `target/<profile>/`.
pub fn agent_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary sits in target/<profile>/deps");
    let binary = profile_dir.join("ctrmgr");
    assert!(
        binary.is_file(),
        "{} is missing: run the integration tests with `cargo test`, which builds it",
        binary.display()
    );
    binary
}

/// A temporary directory (mode 0755) for an agent's socket that another user must reach,
/// for the SO_PEERCRED tests; they run as root, which the test command does.
pub fn socket_dir_for_other_users() -> tempfile::TempDir {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs as root (the test command does)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A container name unique to this test process and call.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t-{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Fails the test unless dockerd answers on its socket.
pub fn require_docker() {
    let out = Command::new("curl")
        .args([
            "-sf",
            "--unix-socket",
            DOCKER_SOCKET,
            "http://localhost/_ping",
        ])
        .output()
        .expect("curl must be installed (scripts/test.sh installs it)");
    assert!(
        out.status.success() && out.stdout == b"OK",
        "dockerd does not answer on {DOCKER_SOCKET}: start the services with `scripts/services.sh up`"
    );
}

/// Runs the docker CLI and returns stdout; panics with stderr on failure.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `docker inspect NAME` as JSON.
pub fn docker_inspect(name: &str) -> Value {
    let v: Value = serde_json::from_str(&docker(&["container", "inspect", "--", name])).unwrap();
    v[0].clone()
}

/// Whether docker knows a container of that name.
pub fn docker_has(name: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", "--", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Removes a container behind the agent's back (test cleanup).
pub fn docker_rm(name: &str) {
    let _ = Command::new("docker")
        .args(["rm", "-f", "--", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Agent {
    /// Starts an agent with `extra` TOML appended to a config that puts the store in a
    /// temporary directory and REST on a free port.
    pub fn start(extra: &str) -> Agent {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let mut agent = Agent::start_in(&dir, extra);
        agent._tmp = Some(tmp);
        agent
    }

    /// The device id the agent runs as (kept across restarts over the same directory).
    pub fn device_id(&self) -> String {
        std::fs::read_to_string(self.dir.join("device-id")).expect("the agent's device id")
    }

    /// Starts an agent whose store lives in `dir` (to restart over the same store).
    pub fn start_in(dir: &Path, extra: &str) -> Agent {
        let port = free_port();
        // A restart over the same directory is the same device: keep its id.
        let id_file = dir.join("device-id");
        let device_id = std::fs::read_to_string(&id_file).unwrap_or_else(|_| {
            let id = format!("test-{port}");
            std::fs::write(&id_file, &id).unwrap();
            id
        });
        // gRPC listens on a socket in the agent's own directory (the default,
        // /run/ctrmgr/grpc.sock, is one path for every agent).
        // POSIX MQ is off unless a test turns it on (testkit/src/mqueue_support.rs): each queue takes
        // ~80 KiB of the user's RLIMIT_MSGQUEUE (800 KiB), which parallel agents would
        // exhaust; a test that turns it on still gets a queue name of its own.
        // REST: the unix socket in the agent's directory, and TCP (which the helpers
        // below use) with a token, as every TCP listener needs one.
        let token_file = dir.join("rest-token");
        std::fs::write(&token_file, format!("testkit-token-{port}-0123456789\n")).unwrap();
        let mut config: toml::Table = toml::from_str(&format!(
            "[agent]\ndevice_id = \"{device_id}\"\n[store]\npath = \"{}\"\nmap_size_mb = 16\n\
             [rest]\nlisten = \"127.0.0.1:{port}\"\ntoken_file = \"{}\"\nunix_socket = \"{}\"\n\
             [log]\nlevel = \"debug\"\n\
             [mqueue]\nenabled = false\nrequest_queue = \"/ctrmgr-test-{port}.req\"\n\
             [grpc]\nunix_socket = \"{}\"\n",
            dir.join("store").display(),
            token_file.display(),
            dir.join("api.sock").display(),
            dir.join("grpc.sock").display()
        ))
        .unwrap();
        let extra: toml::Table = toml::from_str(extra).expect("extra config is TOML");
        if extra.get("rest").and_then(|r| r.get("token")).is_some() {
            // The test brings its own token: rest.token and rest.token_file exclude
            // each other.
            config["rest"].as_table_mut().unwrap().remove("token_file");
        }
        // Tests mount temporary directories and use host networking: unless a test
        // brings its own [policy], open exactly that much.
        if !extra.contains_key("policy") {
            let policy = "[policy]\nallow_host_network = true\n\
                          [[policy.mount_roots]]\npath = \"/tmp\"\nread_write = true\n";
            merge(&mut config, toml::from_str(policy).unwrap());
        }
        merge(&mut config, toml::from_str(MACHINE_ULIMITS).unwrap());
        merge(&mut config, extra);
        let token = match (
            &config["rest"].get("token"),
            &config["rest"].get("token_file"),
        ) {
            (Some(t), _) => t.as_str().unwrap_or_default().to_owned(),
            (None, Some(f)) => std::fs::read_to_string(f.as_str().unwrap_or_default())
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            (None, None) => String::new(),
        };
        let socket = config["rest"]
            .get("unix_socket")
            .and_then(|p| p.as_str())
            .map(PathBuf::from)
            .unwrap_or_default();
        let config = toml::to_string(&config).unwrap();
        let config_path = dir.join("ctrmgr.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.join(format!("agent-{port}.log"))).unwrap();
        let child = Command::new(agent_binary())
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut agent = Agent {
            child: Some(child),
            dir: dir.to_owned(),
            url: format!("http://127.0.0.1:{port}"),
            token,
            socket,
            http,
            _tmp: None,
        };
        agent.wait_healthy();
        agent
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("ctrmgr exited with {status} at start:\n{}", self.log());
            }
            if let Ok((200, _)) = self.get_raw("/healthz") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ctrmgr did not become healthy:\n{}", self.log());
    }

    /// The agent's log so far.
    pub fn log(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            if entry.file_name().to_string_lossy().starts_with("agent-") {
                out.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        out
    }

    /// The `Authorization` header value its TCP listener wants.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// The text of `GET /metrics` (with the token).
    pub fn metrics(&self) -> String {
        let (status, text) = self.get_raw("/metrics").expect("GET /metrics");
        assert_eq!(status, 200, "GET /metrics: {text}");
        text
    }

    fn get_raw(&self, path: &str) -> Result<(u16, String), ureq::Error> {
        let mut res = self
            .http
            .get(format!("{}{path}", self.url))
            .header("Authorization", self.bearer())
            .call()?;
        Ok((res.status().as_u16(), res.body_mut().read_to_string()?))
    }

    /// Sends a request and returns the status and the JSON body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: &str,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        let auth = self.bearer();
        let res = match (method, body) {
            ("GET", _) => self.http.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self.http.delete(&url).header("Authorization", &auth).call(),
            ("POST", Some(b)) => self
                .http
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", content_type)
                .send(b),
            ("POST", None) => self
                .http
                .post(&url)
                .header("Authorization", &auth)
                .send_empty(),
            _ => panic!("unsupported method {method}"),
        };
        let mut res = res.unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()));
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {text}"));
        (status, json)
    }

    /// `POST /v1/execute` with raw bytes and the given Content-Type (none when `None`);
    /// returns the status, the reply's Content-Type and its bytes, whatever the format.
    pub fn request_bytes(&self, body: &[u8], content_type: Option<&str>) -> (u16, String, Vec<u8>) {
        let mut req = self
            .http
            .post(format!("{}/v1/execute", self.url))
            .header("Authorization", self.bearer());
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let mut res = req
            .send(body)
            .unwrap_or_else(|e| panic!("POST /v1/execute: {e}\n{}", self.log()));
        let status = res.status().as_u16();
        let reply_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = res.body_mut().read_to_vec().unwrap();
        (status, reply_type, bytes)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, None, "")
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.request("DELETE", path, None, "")
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request(
            "POST",
            path,
            Some(body.to_string().as_bytes()),
            "application/json",
        )
    }

    /// `POST /v1/execute` with an envelope.
    pub fn execute(&self, envelope: &Value) -> (u16, Value) {
        self.post("/v1/execute", envelope)
    }

    /// `POST /v1/execute` with raw bytes.
    pub fn execute_raw(&self, body: &[u8]) -> (u16, Value) {
        self.request("POST", "/v1/execute", Some(body), "application/json")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("agent already stopped");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        wait_timeout(&mut child, Duration::from_secs(40))
    }

    /// Kills the agent with SIGKILL (no chance to clean up).
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("agent already stopped");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The agent's process id (for `/proc/<pid>` and `prlimit`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("agent already stopped").id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }
}

/// Merges `extra` into `base`, table by table (extra's values win).
fn merge(base: &mut toml::Table, extra: toml::Table) {
    for (key, value) in extra {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(e)) => merge(b, e),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("agent did not exit within {limit:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads a whole TCP answer from `127.0.0.1:port`, retrying while the container starts.
pub fn read_tcp(port: u16, send: &[u8]) -> String {
    use std::io::Write;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.write_all(send);
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if !out.is_empty() {
                return out;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing answered on 127.0.0.1:{port}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The error code of a reply envelope.
pub fn code(reply: &Value) -> &str {
    reply["error"]["code"].as_str().unwrap_or("<none>")
}
