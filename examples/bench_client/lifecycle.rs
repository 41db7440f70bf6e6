//! Lifecycle overhead: create + start + stop + remove of N containers through one access
//! path, timed, with the agent's path and the engine's own path run in alternating
//! rounds so drift on a busy machine falls on both.

use crate::http::{Conn, Target};
use std::process::Command;
use std::time::{Duration, Instant};

/// Docker Engine API version the direct calls use (the agent negotiates the same cap).
const DOCKER_API: &str = "/v1.41";
/// libpod API prefix, as the agent's podman-api runtime uses it.
const LIBPOD_API: &str = "/v4.0.0/libpod";

/// The hard RLIMIT_NOFILE containers get (`BENCH_NOFILE_HARD`, as the agent's
/// `runtime.default_ulimits` says): Podman's own default may exceed the machine's limit.
fn nofile_hard() -> u64 {
    std::env::var("BENCH_NOFILE_HARD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// One way to drive a container's lifecycle.
pub enum AccessPath {
    /// The agent's REST resource routes, with `?runtime=` naming the access path.
    Agent { target: Target, runtime: String },
    /// The Docker Engine API on its unix socket.
    DockerApi(Target),
    /// The libpod API on its unix socket.
    PodmanApi(Target),
    /// An engine CLI binary (`docker` or `podman`).
    Cli(String),
}

impl AccessPath {
    /// Parses `agent:HOST:PORT:RUNTIME`, `docker-api:SOCKET`, `podman-api:SOCKET` or
    /// `cli:BINARY`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("access path '{s}': KIND:ARGS"))?;
        match kind {
            "agent" => {
                let (addr, runtime) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| format!("'{s}': agent:HOST:PORT:RUNTIME"))?;
                Ok(Self::Agent {
                    target: Target::Tcp(addr.to_owned()),
                    runtime: runtime.to_owned(),
                })
            }
            "docker-api" => Ok(Self::DockerApi(Target::Unix(rest.into()))),
            "podman-api" => Ok(Self::PodmanApi(Target::Unix(rest.into()))),
            "cli" => Ok(Self::Cli(rest.to_owned())),
            other => Err(format!("unknown access path kind '{other}'")),
        }
    }
}

/// Drives one container through its lifecycle on one access path.
struct Driver<'a> {
    path: &'a AccessPath,
    conn: Option<Conn>,
    image: &'a str,
}

impl<'a> Driver<'a> {
    fn new(path: &'a AccessPath, image: &'a str) -> Self {
        let conn = match path {
            AccessPath::Agent { target, .. }
            | AccessPath::DockerApi(target)
            | AccessPath::PodmanApi(target) => Some(Conn::new(target.clone())),
            AccessPath::Cli(_) => None,
        };
        Self { path, conn, image }
    }

    fn http(
        &mut self,
        method: &str,
        url: &str,
        body: Option<String>,
        ok: &[u16],
    ) -> Result<(), String> {
        let conn = self.conn.as_mut().ok_or("no connection on a CLI path")?;
        let r = conn
            .send(method, url, body.as_deref().map(str::as_bytes))
            .map_err(|e| format!("{method} {url}: {e}"))?;
        if ok.contains(&r.status) {
            Ok(())
        } else {
            Err(format!(
                "{method} {url}: HTTP {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ))
        }
    }

    fn cli(bin: &str, args: &[&str]) -> Result<(), String> {
        let out = Command::new(bin)
            .args(args)
            .output()
            .map_err(|e| format!("{bin}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{bin} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// create, start, stop (no grace period), remove; the direct paths set the same
    /// ulimits the agent's `runtime.default_ulimits` adds.
    fn cycle(&mut self, name: &str) -> Result<(), String> {
        let image = self.image;
        let hard = nofile_hard();
        match self.path {
            AccessPath::Agent { runtime, .. } => {
                let spec = format!(
                    r#"{{"name":"{name}","image":"{image}","cmd":["sleep","300"],"network":"none"}}"#
                );
                let runtime = runtime.clone();
                self.http(
                    "POST",
                    &format!("/v1/containers?runtime={runtime}"),
                    Some(spec),
                    &[201],
                )?;
                let base = format!("/v1/containers/{name}");
                self.http("POST", &format!("{base}/start"), None, &[200])?;
                self.http(
                    "POST",
                    &format!("{base}/stop"),
                    Some(r#"{"timeout_s":0}"#.into()),
                    &[200],
                )?;
                self.http("DELETE", &base, None, &[200])
            }
            AccessPath::DockerApi(_) => {
                let spec = format!(
                    r#"{{"Image":"{image}","Cmd":["sleep","300"],"HostConfig":{{"NetworkMode":"none","Ulimits":[{{"Name":"nofile","Soft":1024,"Hard":{hard}}},{{"Name":"nproc","Soft":1024,"Hard":1024}}]}}}}"#
                );
                self.http(
                    "POST",
                    &format!("{DOCKER_API}/containers/create?name={name}"),
                    Some(spec),
                    &[201],
                )?;
                let base = format!("{DOCKER_API}/containers/{name}");
                self.http("POST", &format!("{base}/start"), None, &[204])?;
                self.http("POST", &format!("{base}/stop?t=0"), None, &[204, 304])?;
                self.http("DELETE", &base, None, &[204])
            }
            AccessPath::PodmanApi(_) => {
                let spec = format!(
                    r#"{{"name":"{name}","image":"{image}","command":["sleep","300"],"netns":{{"nsmode":"none"}},"r_limits":[{{"type":"nofile","soft":1024,"hard":{hard}}},{{"type":"nproc","soft":1024,"hard":1024}}]}}"#
                );
                self.http(
                    "POST",
                    &format!("{LIBPOD_API}/containers/create"),
                    Some(spec),
                    &[201],
                )?;
                let base = format!("{LIBPOD_API}/containers/{name}");
                self.http("POST", &format!("{base}/start"), None, &[204])?;
                self.http("POST", &format!("{base}/stop?timeout=0"), None, &[204, 304])?;
                self.http("DELETE", &base, None, &[200, 204])
            }
            AccessPath::Cli(bin) => {
                let nofile = format!("nofile=1024:{hard}");
                Self::cli(
                    bin,
                    &[
                        "create",
                        "--name",
                        name,
                        "--network",
                        "none",
                        "--ulimit",
                        &nofile,
                        "--ulimit",
                        "nproc=1024:1024",
                        image,
                        "sleep",
                        "300",
                    ],
                )?;
                Self::cli(bin, &["start", name])?;
                Self::cli(bin, &["stop", "-t", "0", name])?;
                Self::cli(bin, &["rm", name])
            }
        }
    }

    /// Best-effort removal after a failed cycle, so a failed run leaves nothing behind.
    fn clean_up(&mut self, name: &str) {
        let _ = match self.path {
            AccessPath::Agent { .. } => self.http(
                "DELETE",
                &format!("/v1/containers/{name}?force=true"),
                None,
                &[200],
            ),
            AccessPath::DockerApi(_) => self.http(
                "DELETE",
                &format!("{DOCKER_API}/containers/{name}?force=true"),
                None,
                &[204],
            ),
            AccessPath::PodmanApi(_) => self.http(
                "DELETE",
                &format!("{LIBPOD_API}/containers/{name}?force=true"),
                None,
                &[200],
            ),
            AccessPath::Cli(bin) => Self::cli(bin, &["rm", "-f", name]),
        };
    }

    /// Cycles `n` containers named `prefix-I`; the time of the whole batch.
    fn batch(&mut self, prefix: &str, n: usize) -> Result<Duration, String> {
        let start = Instant::now();
        for i in 0..n {
            let name = format!("{prefix}-{i}");
            if let Err(e) = self.cycle(&name) {
                self.clean_up(&name);
                return Err(e);
            }
        }
        Ok(start.elapsed())
    }
}

/// Cycles `n` containers through `base` then `via`, `rounds` times (after one warm-up
/// container each); prints milliseconds per container for both and their ratio.
pub fn compare(
    base: &AccessPath,
    via: &AccessPath,
    image: &str,
    n: usize,
    rounds: usize,
) -> Result<String, String> {
    let tag = std::process::id();
    let mut base_driver = Driver::new(base, image);
    let mut via_driver = Driver::new(via, image);
    base_driver.batch(&format!("bench-warm-b{tag}"), 1)?;
    via_driver.batch(&format!("bench-warm-v{tag}"), 1)?;
    let (mut base_total, mut via_total) = (Duration::ZERO, Duration::ZERO);
    for r in 0..rounds {
        base_total += base_driver.batch(&format!("bench-b{tag}-{r}"), n)?;
        via_total += via_driver.batch(&format!("bench-v{tag}-{r}"), n)?;
    }
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / (n * rounds) as f64;
    Ok(format!(
        "base_ms={:.1} via_ms={:.1} ratio={:.3} containers={}",
        per(base_total),
        per(via_total),
        via_total.as_secs_f64() / base_total.as_secs_f64(),
        n * rounds
    ))
}
