//! The flags of `create`/`run` and how they become the contract's ContainerSpec: a
//! spec file (`-f`) first, then each flag on top (scalars replace, `-e`/`--label` entries
//! are added to the maps, `-p`/`-v`/`--device` appended to the lists). Values are only
//! reshaped here; the agent validates them (names, paths, policy) and says what is wrong.

use crate::error::CtlError;
use crate::health::HealthFlags;
use clap::Args;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// The container's settings, docker-style.
#[derive(Debug, Args)]
pub struct ContainerFlags {
    /// Image reference (may come from the spec file instead)
    pub image: Option<String>,
    /// Command and its arguments (everything after the image)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub cmd: Vec<String>,
    /// A ContainerSpec as JSON; the flags below are applied on top of it
    #[arg(short = 'f', long = "file", value_name = "SPEC.json")]
    pub file: Option<PathBuf>,
    /// Container name
    #[arg(long)]
    pub name: Option<String>,
    /// Environment variable KEY=VALUE (KEY alone takes it from this shell)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Publish a port HOST:CONTAINER[/tcp|/udp]
    #[arg(short = 'p', long = "publish", value_name = "HOST:CONTAINER[/udp]")]
    pub ports: Vec<String>,
    /// Bind mount SOURCE:TARGET[:ro] (absolute paths)
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]")]
    pub volumes: Vec<String>,
    /// Restart policy: no, always, unless-stopped, on-failure[:MAX_RETRIES]
    #[arg(long, value_name = "POLICY[:N]")]
    pub restart: Option<String>,
    /// Memory limit: bytes, or with a unit k, m, g (1024-based), e.g. 256m
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// CPUs, e.g. 0.5 (same as --cpu-millis 500)
    #[arg(long, value_name = "N", conflicts_with = "cpu_millis")]
    pub cpus: Option<f64>,
    /// CPU limit in thousandths of a CPU
    #[arg(long, value_name = "N")]
    pub cpu_millis: Option<u64>,
    /// Largest number of processes
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<i64>,
    /// Label KEY=VALUE
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Network: bridge, host or none
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// User (name or uid[:gid]) the command runs as
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Give the container every capability and device (the agent's policy may refuse)
    #[arg(long)]
    pub privileged: bool,
    /// A host device to pass in, e.g. /dev/ttyUSB0
    #[arg(long = "device", value_name = "PATH")]
    pub devices: Vec<String>,
    /// Override the image's entrypoint (one executable)
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// The health check (`--health-cmd`, `--health-http`, `--health-tcp` and timings)
    #[command(flatten)]
    pub health: HealthFlags,
}

impl ContainerFlags {
    /// The ContainerSpec these flags describe (the `create` op's args, without `start`).
    pub fn to_spec(&self) -> Result<Value, CtlError> {
        let mut spec = match &self.file {
            Some(path) => read_spec_file(path)?,
            None => Map::new(),
        };
        let mut set = |key: &str, value: Value| {
            spec.insert(key.to_owned(), value);
        };
        if let Some(name) = &self.name {
            set("name", json!(name));
        }
        if let Some(image) = &self.image {
            set("image", json!(image));
        }
        if !self.cmd.is_empty() {
            set("cmd", json!(self.cmd));
        }
        if let Some(entrypoint) = &self.entrypoint {
            set("entrypoint", json!([entrypoint]));
        }
        if let Some(restart) = &self.restart {
            set("restart", restart_policy(restart)?);
        }
        for (key, value) in [
            ("network", &self.network),
            ("user", &self.user),
            ("workdir", &self.workdir),
        ] {
            if let Some(value) = value {
                set(key, json!(value));
            }
        }
        if self.privileged {
            set("privileged", json!(true));
        }
        let env = self
            .env
            .iter()
            .map(|e| env_entry(e))
            .collect::<Result<Vec<_>, _>>()?;
        extend_map(&mut spec, "env", env)?;
        let labels = self
            .labels
            .iter()
            .map(|l| key_value("--label", l))
            .collect::<Result<Vec<_>, _>>()?;
        extend_map(&mut spec, "labels", labels)?;
        let ports = self
            .ports
            .iter()
            .map(|p| port(p))
            .collect::<Result<Vec<_>, _>>()?;
        extend_list(&mut spec, "ports", ports)?;
        let mounts = self
            .volumes
            .iter()
            .map(|v| mount(v))
            .collect::<Result<Vec<_>, _>>()?;
        extend_list(&mut spec, "mounts", mounts)?;
        extend_list(
            &mut spec,
            "devices",
            self.devices.iter().map(|d| json!(d)).collect(),
        )?;
        let mut resources = Map::new();
        if let Some(memory) = &self.memory {
            resources.insert("memory_bytes".into(), json!(bytes(memory)?));
        }
        if let Some(cpus) = self.cpus {
            if !(cpus.is_finite() && cpus > 0.0) {
                return Err(CtlError::Local(format!(
                    "--cpus {cpus}: must be a positive number"
                )));
            }
            resources.insert("cpu_millis".into(), json!((cpus * 1000.0).round() as u64));
        }
        if let Some(millis) = self.cpu_millis {
            resources.insert("cpu_millis".into(), json!(millis));
        }
        if let Some(pids) = self.pids_limit {
            resources.insert("pids_limit".into(), json!(pids));
        }
        extend_map(&mut spec, "resources", resources.into_iter().collect())?;
        self.health.apply_to(&mut spec)?;
        Ok(Value::Object(spec))
    }
}

fn read_spec_file(path: &PathBuf) -> Result<Map<String, Value>, CtlError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CtlError::Local(format!("cannot read {}: {e}", path.display())))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(spec)) => Ok(spec),
        Ok(_) => Err(CtlError::Local(format!(
            "{}: a ContainerSpec must be a JSON object",
            path.display()
        ))),
        Err(e) => Err(CtlError::Local(format!(
            "{}: not JSON: {e}",
            path.display()
        ))),
    }
}

/// Adds `entries` to the object at `spec[key]` (made when missing).
fn extend_map(
    spec: &mut Map<String, Value>,
    key: &str,
    entries: Vec<(String, Value)>,
) -> Result<(), CtlError> {
    if entries.is_empty() {
        return Ok(());
    }
    let slot = spec.entry(key).or_insert_with(|| json!({}));
    let map = slot
        .as_object_mut()
        .ok_or_else(|| CtlError::Local(format!("the spec file's '{key}' is not an object")))?;
    map.extend(entries);
    Ok(())
}

/// Appends `items` to the list at `spec[key]` (made when missing).
fn extend_list(
    spec: &mut Map<String, Value>,
    key: &str,
    items: Vec<Value>,
) -> Result<(), CtlError> {
    if items.is_empty() {
        return Ok(());
    }
    let slot = spec.entry(key).or_insert_with(|| json!([]));
    let list = slot
        .as_array_mut()
        .ok_or_else(|| CtlError::Local(format!("the spec file's '{key}' is not a list")))?;
    list.extend(items);
    Ok(())
}

fn bad(flag: &str, value: &str, why: &str) -> CtlError {
    CtlError::Local(format!("{flag} '{value}': {why}"))
}

fn key_value(flag: &str, text: &str) -> Result<(String, Value), CtlError> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), json!(v))),
        _ => Err(bad(flag, text, "expected KEY=VALUE")),
    }
}

/// `-e KEY=VALUE`, or `-e KEY` with the value from this process's environment.
fn env_entry(text: &str) -> Result<(String, Value), CtlError> {
    if text.contains('=') {
        return key_value("-e", text);
    }
    std::env::var(text)
        .map(|v| (text.to_owned(), json!(v)))
        .map_err(|_| bad("-e", text, "no '=' and no such variable in this shell"))
}

/// `-p HOST:CONTAINER[/tcp|/udp]`.
fn port(text: &str) -> Result<Value, CtlError> {
    let (ports, protocol) = match text.rsplit_once('/') {
        Some((p, proto @ ("tcp" | "udp"))) => (p, proto),
        Some(_) => return Err(bad("-p", text, "the protocol must be tcp or udp")),
        None => (text, "tcp"),
    };
    let number = |s: &str| s.parse::<u16>().ok().filter(|n| *n > 0);
    match ports.split_once(':').map(|(h, c)| (number(h), number(c))) {
        Some((Some(host), Some(container))) => {
            Ok(json!({"host": host, "container": container, "protocol": protocol}))
        }
        _ => Err(bad(
            "-p",
            text,
            "expected HOST:CONTAINER with ports 1-65535, e.g. 8080:80",
        )),
    }
}

/// `-v SOURCE:TARGET[:ro|:rw]`.
fn mount(text: &str) -> Result<Value, CtlError> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, read_only) = match parts.as_slice() {
        [s, t] => (*s, *t, false),
        [s, t, "ro"] => (*s, *t, true),
        [s, t, "rw"] => (*s, *t, false),
        _ => {
            return Err(bad(
                "-v",
                text,
                "expected SOURCE:TARGET[:ro] with absolute paths",
            ))
        }
    };
    Ok(json!({"source": source, "target": target, "read_only": read_only}))
}

/// `--restart POLICY[:N]`.
fn restart_policy(text: &str) -> Result<Value, CtlError> {
    match text.split_once(':') {
        None => Ok(json!({"policy": text})),
        Some((policy, n)) => {
            let retries: u32 = n.parse().map_err(|_| {
                bad(
                    "--restart",
                    text,
                    "the retry count must be a number, e.g. on-failure:3",
                )
            })?;
            Ok(json!({"policy": policy, "max_retries": retries}))
        }
    }
}

/// A size such as `268435456`, `512k`, `256m`, `1g` (1024-based, as docker).
fn bytes(text: &str) -> Result<u64, CtlError> {
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (digits, unit) = match trimmed.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&trimmed[..i], c),
        _ => (trimmed, ' '),
    };
    let shift = match unit {
        ' ' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        _ => return Err(bad("--memory", text, "the unit must be k, m or g")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| bad("--memory", text, "expected a size such as 256m"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        flags: ContainerFlags,
    }

    fn spec(args: &[&str]) -> Result<Value, CtlError> {
        let mut argv = vec!["probe"];
        argv.extend(args);
        Probe::try_parse_from(argv).unwrap().flags.to_spec()
    }

    #[test]
    fn flags_make_a_spec() {
        let s = spec(&[
            "--name",
            "web",
            "-e",
            "A=1",
            "-p",
            "8080:80",
            "-p",
            "53:53/udp",
            "-v",
            "/srv:/data:ro",
            "--restart",
            "on-failure:3",
            "-m",
            "256m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "64",
            "-l",
            "tier=front",
            "--network",
            "host",
            "-u",
            "1000",
            "-w",
            "/app",
            "--privileged",
            "--device",
            "/dev/ttyUSB0",
            "--entrypoint",
            "/bin/sh",
            "img:1",
            "sleep",
            "-x",
            "30",
        ])
        .unwrap();
        assert_eq!(
            s,
            json!({
                "name": "web", "image": "img:1", "cmd": ["sleep", "-x", "30"],
                "entrypoint": ["/bin/sh"], "env": {"A": "1"}, "labels": {"tier": "front"},
                "ports": [{"host": 8080, "container": 80, "protocol": "tcp"},
                          {"host": 53, "container": 53, "protocol": "udp"}],
                "mounts": [{"source": "/srv", "target": "/data", "read_only": true}],
                "restart": {"policy": "on-failure", "max_retries": 3},
                "resources": {"memory_bytes": 268435456u64, "cpu_millis": 500, "pids_limit": 64},
                "network": "host", "user": "1000", "workdir": "/app", "privileged": true,
                "devices": ["/dev/ttyUSB0"]
            })
        );
    }

    #[test]
    fn flags_go_on_top_of_a_spec_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spec.json");
        std::fs::write(
            &path,
            r#"{"name":"a","image":"i","env":{"X":"1"},"ports":[{"host":1,"container":2}]}"#,
        )
        .unwrap();
        let s = spec(&[
            "-f",
            path.to_str().unwrap(),
            "--name",
            "b",
            "-e",
            "Y=2",
            "-p",
            "3:4",
        ])
        .unwrap();
        assert_eq!(s["name"], "b");
        assert_eq!(s["env"], json!({"X": "1", "Y": "2"}));
        assert_eq!(s["ports"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn bad_values_are_named() {
        for (args, want) in [
            (&["-p", "80"][..], "-p '80'"),
            (&["-p", "1:2/sctp"], "tcp or udp"),
            (&["-v", "/a"], "-v '/a'"),
            (&["-e", "NO_SUCH_VAR_FOR_CTRMGRCTL"], "no such variable"),
            (&["--restart", "on-failure:x"], "retry count"),
            (&["-m", "12q"], "unit"),
            (&["-l", "=v"], "KEY=VALUE"),
        ] {
            let err = spec(args).unwrap_err().to_string();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes("1024").unwrap(), 1024);
        assert_eq!(bytes("512k").unwrap(), 512 * 1024);
        assert_eq!(bytes("1G").unwrap(), 1 << 30);
        assert_eq!(bytes("256mb").unwrap(), 256 << 20);
    }
}
