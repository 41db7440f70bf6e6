//! One container engine as the deployment tests see it: the agent reaches it through a
//! runtime path (`runtime`), the test inspects it through its CLI, on the shared daemon
//! or on a private dockerd's socket.

use std::process::{Command, Output};

/// An engine: its CLI, the agent's runtime name for it and, for a private dockerd, the
/// daemon's `unix://` host (`None`: the shared daemon).
#[derive(Clone, Debug)]
pub struct Engine {
    /// `docker` or `podman`.
    pub cli: &'static str,
    /// The agent's `[runtime] default`.
    pub runtime: &'static str,
    /// `--host` for the docker CLI and `docker_socket` for the agent.
    pub host: Option<String>,
}

/// The shared dockerd through its API.
pub const DOCKER_API: Engine = Engine {
    cli: "docker",
    runtime: "docker-api",
    host: None,
};
/// The shared dockerd through the docker CLI.
pub const DOCKER_CLI: Engine = Engine {
    cli: "docker",
    runtime: "docker",
    host: None,
};
/// The shared Podman service through its API.
pub const PODMAN_API: Engine = Engine {
    cli: "podman",
    runtime: "podman-api",
    host: None,
};

impl Engine {
    /// A private dockerd (see [`super::private_dockerd`]) reached through `runtime`
    /// (`docker-api` or `docker`).
    pub fn private_dockerd(
        dockerd: &super::private_dockerd::PrivateDockerd,
        runtime: &'static str,
    ) -> Engine {
        Engine {
            cli: "docker",
            runtime,
            host: Some(dockerd.host()),
        }
    }

    /// Runs the CLI against this engine and returns its output, whatever the status.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(self.cli);
        if let Some(host) = &self.host {
            cmd.args(["--host", host]);
        }
        cmd.args(args)
            .output()
            .unwrap_or_else(|e| panic!("{} CLI: {e}", self.cli))
    }

    /// `inspect` of a container: its id and whether it runs; `None` when absent.
    pub fn state(&self, name: &str) -> Option<(String, bool)> {
        let out = self.cli(&[
            "container",
            "inspect",
            "--format",
            "{{.Id}} {{.State.Running}}",
            "--",
            name,
        ]);
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let (id, running) = text.split_once(' ')?;
        Some((id.to_owned(), running == "true"))
    }

    /// How many containers of exactly this name the engine has (parked copies aside).
    pub fn count_named(&self, name: &str) -> usize {
        let filter = format!("name=^{name}$");
        let out = self.cli(&["ps", "-a", "--filter", &filter, "--format", "{{.ID}}"]);
        assert!(out.status.success(), "{} ps: {out:?}", self.cli);
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    /// Removes the named containers and their parked copies.
    pub fn clean(&self, names: &[&str]) {
        for n in names {
            for name in [n.to_string(), format!("{n}.ctrmgr-old")] {
                let _ = self.cli(&["rm", "-f", "--", &name]);
            }
        }
    }

    /// Removes a local image tag (absent is fine).
    pub fn forget_image(&self, image: &str) {
        let _ = self.cli(&["rmi", "--force", image]);
    }

    /// Whether the engine holds `image` locally.
    pub fn has_image(&self, image: &str) -> bool {
        self.cli(&["image", "inspect", image]).status.success()
    }

    /// The agent's `[runtime]` section for this engine.
    pub fn agent_config(&self) -> String {
        match &self.host {
            None => format!("[runtime]\ndefault = \"{}\"\n", self.runtime),
            Some(host) => format!(
                "[runtime]\ndefault = \"{}\"\ndocker_socket = \"{}\"\n",
                self.runtime,
                host.trim_start_matches("unix://")
            ),
        }
    }
}
