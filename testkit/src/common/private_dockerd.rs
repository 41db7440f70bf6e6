//! A private dockerd of a test's own (own socket, data and exec roots, own network
//! and mount namespaces, no bridge, no iptables), so a test can stop and restart the engine under
//! the agent without disturbing the shared dockerd other tests use. The network
//! namespace matters: a dockerd started with `--bridge none` deletes the host's
//! `docker0`, which would break the shared daemon's containers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A dockerd this test owns; killed and its data removed when dropped.
pub struct PrivateDockerd {
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

impl PrivateDockerd {
    /// Starts a daemon and loads the test image into it from the shared dockerd.
    pub fn start() -> PrivateDockerd {
        super::require_docker();
        let dir = tempfile::Builder::new()
            .prefix("ctrmgr-dockerd-")
            .tempdir()
            .unwrap();
        let mut d = PrivateDockerd { dir, child: None };
        d.launch();
        let mut save = Command::new("docker")
            .args(["save", super::IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let load = Command::new("docker")
            .args(["--host", &d.host(), "load", "--quiet"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(save.wait().unwrap().success(), "docker save failed");
        assert!(
            load.status.success(),
            "docker load: {}",
            String::from_utf8_lossy(&load.stderr)
        );
        d
    }

    /// The daemon's socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// `unix://<socket>` for the docker CLI's `--host`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn launch(&mut self) {
        let root = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("dockerd.log"))
            .unwrap();
        let child = Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--propagation",
                "private",
                "--",
                "dockerd",
                "--host",
            ])
            .arg(self.host())
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("dockerd.pid"))
            .args(["--bridge", "none", "--iptables=false", "--ip6tables=false"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("unshare (util-linux) and dockerd (docker.io) must be installed");
        self.child = Some(child);
        wait_for(&self.socket(), true);
    }

    /// Stops the daemon (SIGTERM, or SIGKILL when `hard`) and waits until it is gone.
    /// A hard stop leaves containerd's shims and the containers' processes behind (as a
    /// power cut would leave nothing): they are killed too, found by this daemon's own
    /// paths and container pids, so the restarted daemon starts clean.
    pub fn stop(&mut self, hard: bool) {
        let leftovers = if hard {
            self.container_pids()
        } else {
            Vec::new()
        };
        let mut child = self.child.take().expect("dockerd not running");
        let signal = if hard {
            nix::sys::signal::Signal::SIGKILL
        } else {
            nix::sys::signal::Signal::SIGTERM
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "dockerd did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(self.socket());
        if hard {
            let mine = self.dir.path().to_string_lossy().into_owned();
            for p in leftovers.into_iter().chain(processes_mentioning(&mine)) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            // Stale pid files would make the restarted daemons refuse to start.
            let _ = std::fs::remove_file(self.dir.path().join("dockerd.pid"));
            let _ = std::fs::remove_file(self.dir.path().join("exec/containerd/containerd.pid"));
        }
    }

    /// The host pids of the daemon's running containers.
    fn container_pids(&self) -> Vec<i32> {
        let out = Command::new("docker")
            .args(["--host", &self.host(), "ps", "--quiet"])
            .output()
            .unwrap();
        let ids = String::from_utf8_lossy(&out.stdout).into_owned();
        ids.split_whitespace()
            .filter_map(|id| {
                let out = Command::new("docker")
                    .args([
                        "--host",
                        &self.host(),
                        "inspect",
                        "--format",
                        "{{.State.Pid}}",
                        id,
                    ])
                    .output()
                    .ok()?;
                String::from_utf8_lossy(&out.stdout).trim().parse().ok()
            })
            .filter(|p| *p > 0)
            .collect()
    }

    /// Starts the daemon again on the same socket and data.
    pub fn restart(&mut self) {
        self.launch();
    }
}

/// Pids whose command line mentions `needle` (this daemon's unique directory).
fn processes_mentioning(needle: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

fn wait_for(socket: &Path, up: bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new("curl")
            .args(["-sf", "--max-time", "2", "--unix-socket"])
            .arg(socket)
            .arg("http://localhost/_ping")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok == up {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "private dockerd did not come up at {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop(false);
        }
    }
}
