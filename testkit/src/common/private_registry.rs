//! A real image registry of a test's own (distribution's `docker-registry serve`, the
//! package the test services use) on a free loopback port with its storage in a temp
//! directory, so a test can stop it without touching the shared one on 127.0.0.1:5000
//! that other tests pull from. Loopback registries are plain HTTP: dockerd allows them,
//! the agent's podman paths pull from them with TLS verification off.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `docker-registry`, killed and its storage removed when dropped.
pub struct PrivateRegistry {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl PrivateRegistry {
    /// Starts one on a free loopback port and waits until `/v2/` answers; panics when
    /// `docker-registry` is not installed or never answers.
    pub fn start() -> PrivateRegistry {
        let dir = tempfile::Builder::new()
            .prefix("ctrmgr-registry-")
            .tempdir()
            .unwrap();
        let port = super::free_port();
        let config = dir.path().join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry (package docker-registry) must be installed");
        let mut registry = PrivateRegistry {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !registry.answers() {
            if let Some(status) = registry.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "docker-registry exited ({status}) on port {port}:\n{}",
                    registry.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer on 127.0.0.1:{port}:\n{}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        registry
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A reference in this registry, e.g. `image("ctrmgr-test/busybox:latest")`.
    pub fn image(&self, repository_tag: &str) -> String {
        format!("{}/{repository_tag}", self.address())
    }

    /// Tags the shared dockerd's local `source` as `target` (a reference in this
    /// registry) and pushes it; the local tag is removed again, so only the registry
    /// holds `target`.
    pub fn push_from_docker(&self, source: &str, target: &str) {
        super::docker(&["tag", source, target]);
        super::docker(&["push", "--quiet", target]);
        super::docker(&["rmi", target]);
    }

    /// Whether `/v2/` answers.
    pub fn answers(&self) -> bool {
        Command::new("curl")
            .args(["-sf", "--max-time", "2"])
            .arg(format!("http://{}/v2/", self.address()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Kills the registry (SIGKILL, like a network that is gone) and waits for it; the
    /// storage stays until drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(!self.answers(), "the registry still answers after its kill");
    }

    /// Its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for PrivateRegistry {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
