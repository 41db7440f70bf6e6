//! Argument vectors for each CLI subcommand, built from validated domain values. Every
//! value travels as one `--flag=VALUE` element or after `--`, so none can become an option.
//!
//! Docker CLI 28.x accepts `--` before the positional values of every subcommand used here
//! (`create`, `start`, `stop`, `restart`, `kill`, `rm`, `container inspect`, `logs`,
//! `stats`, `pull`, `image inspect`, `rmi`); podman's cobra-based CLI parses it the same way.

use super::CliFlavor;
use crate::core::model::{ContainerSpec, Ulimit};
use crate::core::names::{ContainerName, ImageRef, SignalName};
use crate::core::runtime::{LogOptions, MANAGED_LABEL};
use crate::runtime::registry_auth::is_loopback_registry;

/// Go template for one docker `stats` line: `CPUPerc|MemUsage|PIDs` (none contains `|`).
pub const STATS_FORMAT: &str = "{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}";

/// The same line from podman, in raw numbers: podman's `{{.MemUsage}}` is rounded to
/// three digits in SI units (`67.11MB` for 64 MiB), its raw fields are exact.
pub const PODMAN_STATS_FORMAT: &str = "{{.ContainerStats.CPU}}|{{.ContainerStats.MemUsage}} / \
                                       {{.ContainerStats.MemLimit}}|{{.ContainerStats.PIDs}}";

/// Go template for one `images` line: `ID|Repository|Tag|Size` (same fields in podman).
pub const IMAGES_FORMAT: &str = "{{.ID}}|{{.Repository}}|{{.Tag}}|{{.Size}}";

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `version`: the engine's version. Podman without a service has no `.Server`, and its
/// client is the engine, so the podman flavor asks for the client version.
pub fn version(flavor: CliFlavor) -> Vec<String> {
    let format = match flavor {
        CliFlavor::Docker => "--format={{.Server.Version}}",
        CliFlavor::Podman => "--format={{.Client.Version}}",
    };
    strings(&["version", format])
}

/// `info --format=...`: the engine's data root (Docker's `DockerRootDir`, Podman's
/// `store.graphRoot`).
pub fn data_root(flavor: CliFlavor) -> Vec<String> {
    let format = match flavor {
        CliFlavor::Docker => "--format={{.DockerRootDir}}",
        CliFlavor::Podman => "--format={{.Store.GraphRoot}}",
    };
    strings(&["info", format])
}

/// `create --pull=never [options] -- IMAGE [CMD...]`, with one `--ulimit` for each of
/// `ulimits` (the agent's defaults).
///
/// Docker's `--entrypoint` takes a single string, so for docker a multi-element
/// entrypoint is passed as its first element, with the remaining elements put in front of
/// `cmd`: the process argv the container runs is the same, but the engine records
/// Entrypoint `[first]` and Cmd `rest ++ cmd`. Podman's `--entrypoint` also takes a JSON
/// array, which keeps the entrypoint whole.
pub fn create(spec: &ContainerSpec, flavor: CliFlavor, ulimits: &[Ulimit]) -> Vec<String> {
    let mut a = strings(&["create", "--pull=never"]);
    a.push(format!("--name={}", spec.name));
    a.push(format!("--label={MANAGED_LABEL}=true"));
    for (k, v) in spec.labels.iter().filter(|(k, _)| *k != MANAGED_LABEL) {
        a.push(format!("--label={k}={v}"));
    }
    for (k, v) in &spec.env {
        a.push(format!("--env={k}={v}"));
    }
    for p in &spec.ports {
        a.push(format!(
            "--publish={}:{}/{}",
            p.host,
            p.container,
            p.protocol.as_str()
        ));
    }
    for m in &spec.mounts {
        let ro = if m.read_only { ",readonly" } else { "" };
        a.push(format!(
            "--mount=type=bind,source={},target={}{ro}",
            m.source, m.target
        ));
    }
    // The agent restarts containers itself (`crate::core::supervision`): the engine's
    // policy stays `no` whatever the spec asks for, so the two never fight.
    a.push("--restart=no".to_owned());
    if let Some(r) = &spec.resources {
        if let Some(m) = r.memory_bytes {
            // Swap equal to memory: the limit is the limit, with no extra swap on top.
            a.push(format!("--memory={m}"));
            a.push(format!("--memory-swap={m}"));
        }
        if let Some(c) = r.cpu_millis {
            a.push(format!("--cpus={}", cpus(c)));
        }
        if let Some(p) = r.pids_limit {
            a.push(format!("--pids-limit={p}"));
        }
    }
    if let Some(n) = spec.network {
        a.push(format!("--network={}", n.as_str()));
    }
    if let Some(u) = &spec.user {
        a.push(format!("--user={u}"));
    }
    if let Some(w) = &spec.workdir {
        a.push(format!("--workdir={w}"));
    }
    if spec.privileged {
        a.push("--privileged".to_owned());
    }
    for d in &spec.devices {
        a.push(format!("--device={d}"));
    }
    for u in ulimits {
        a.push(format!("--ulimit={}={}:{}", u.name, u.soft, u.hard));
    }
    let mut cmd_prefix: &[String] = &[];
    match (flavor, spec.entrypoint.split_first()) {
        (_, None) => {}
        (CliFlavor::Docker, Some((first, rest))) => {
            a.push(format!("--entrypoint={first}"));
            cmd_prefix = rest;
        }
        (CliFlavor::Podman, Some(_)) => {
            let json = serde_json::Value::from(spec.entrypoint.clone());
            a.push(format!("--entrypoint={json}"));
        }
    }
    a.push("--".to_owned());
    a.push(spec.image.to_string());
    a.extend(cmd_prefix.iter().cloned());
    a.extend(spec.cmd.iter().cloned());
    a
}

/// Thousandths of a CPU as the decimal `--cpus` wants: 500 -> `0.5`, 2000 -> `2`.
pub fn cpus(millis: u64) -> String {
    let whole = millis / 1000;
    let frac = millis % 1000;
    if frac == 0 {
        whole.to_string()
    } else {
        let digits = format!("{frac:03}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

fn on_container(sub: &[&str], name: &ContainerName) -> Vec<String> {
    let mut a = strings(sub);
    a.push("--".to_owned());
    a.push(name.to_string());
    a
}

/// `rename -- FROM TO`.
pub fn rename(from: &ContainerName, to: &ContainerName) -> Vec<String> {
    let mut a = on_container(&["rename"], from);
    a.push(to.to_string());
    a
}

/// `start -- NAME`.
pub fn start(name: &ContainerName) -> Vec<String> {
    on_container(&["start"], name)
}

/// `stop|restart --timeout=N -- NAME`. Docker 28 deprecated `--time` for `--timeout`;
/// podman spells it `--time`.
pub fn stop_or_restart(
    sub: &str,
    flavor: CliFlavor,
    name: &ContainerName,
    timeout_s: Option<u32>,
) -> Vec<String> {
    let mut a = vec![sub.to_owned()];
    if let Some(t) = timeout_s {
        match flavor {
            CliFlavor::Docker => a.push(format!("--timeout={t}")),
            CliFlavor::Podman => a.push(format!("--time={t}")),
        }
    }
    a.push("--".to_owned());
    a.push(name.to_string());
    a
}

/// `kill --signal=SIG -- NAME`.
pub fn kill(name: &ContainerName, signal: SignalName) -> Vec<String> {
    on_container(&["kill", &format!("--signal={}", signal.as_str())], name)
}

/// `exec -- NAME CMD...`: the command as argv elements, never through a shell.
pub fn exec(name: &ContainerName, cmd: &[String]) -> Vec<String> {
    let mut a = on_container(&["exec"], name);
    a.extend(cmd.iter().cloned());
    a
}

/// `update --restart=no -- NAME` (docker only: podman 4 cannot change the policy).
pub fn clear_restart_policy(name: &ContainerName) -> Vec<String> {
    on_container(&["update", "--restart=no"], name)
}

/// `rm [--force] -- NAME_OR_ID` (a validated name, or an id the engine printed).
pub fn remove_container(name_or_id: &str, force: bool) -> Vec<String> {
    let mut a = vec!["rm".to_owned()];
    if force {
        a.push("--force".to_owned());
    }
    a.push("--".to_owned());
    a.push(name_or_id.to_owned());
    a
}

/// `container inspect -- NAME...`: a JSON array, one object per container.
pub fn inspect<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut a = strings(&["container", "inspect", "--"]);
    a.extend(names.into_iter().map(str::to_owned));
    a
}

/// `ps -a -q --no-trunc --filter=label=io.ctrmgr.managed=true`: ids, one a line.
pub fn list_managed_ids() -> Vec<String> {
    vec![
        "ps".to_owned(),
        "--all".to_owned(),
        "--quiet".to_owned(),
        "--no-trunc".to_owned(),
        format!("--filter=label={MANAGED_LABEL}=true"),
    ]
}

/// `logs --timestamps [--tail=N] [--since=T] -- NAME`. Timestamps let the caller merge
/// the container's stdout and stderr, which the CLI writes to its own two streams.
pub fn logs(name: &ContainerName, opts: &LogOptions) -> Vec<String> {
    let mut a = strings(&["logs", "--timestamps"]);
    if let Some(n) = opts.tail {
        a.push(format!("--tail={n}"));
    }
    if let Some(s) = &opts.since {
        a.push(format!("--since={s}"));
    }
    a.push("--".to_owned());
    a.push(name.to_string());
    a
}

/// `stats --no-stream --no-trunc --format=... -- NAME`.
pub fn stats(name: &ContainerName, flavor: CliFlavor) -> Vec<String> {
    let format = match flavor {
        CliFlavor::Docker => STATS_FORMAT,
        CliFlavor::Podman => PODMAN_STATS_FORMAT,
    };
    on_container(
        &[
            "stats",
            "--no-stream",
            "--no-trunc",
            &format!("--format={format}"),
        ],
        name,
    )
}

/// `pull --quiet [--authfile=PATH] [--tls-verify=false] -- REF`. Docker takes
/// credentials from the `DOCKER_CONFIG` directory instead (set in the environment by the
/// caller) and decides TLS itself (loopback registries may speak plain HTTP); podman is
/// told so for a loopback registry only, as the libpod path does.
pub fn pull(image: &ImageRef, authfile: Option<&str>, flavor: CliFlavor) -> Vec<String> {
    let mut a = strings(&["pull", "--quiet"]);
    if let Some(f) = authfile {
        a.push(format!("--authfile={f}"));
    }
    if flavor == CliFlavor::Podman && is_loopback_registry(image) {
        a.push("--tls-verify=false".to_owned());
    }
    a.push("--".to_owned());
    a.push(image.to_string());
    a
}

/// `image inspect --format={{.Id}} -- REF`.
pub fn image_id(image: &ImageRef) -> Vec<String> {
    let mut a = strings(&["image", "inspect", "--format={{.Id}}", "--"]);
    a.push(image.to_string());
    a
}

/// `images --no-trunc --format=...`.
pub fn images() -> Vec<String> {
    vec![
        "images".to_owned(),
        "--no-trunc".to_owned(),
        format!("--format={IMAGES_FORMAT}"),
    ]
}

/// `rmi [--force] -- REF`.
pub fn remove_image(image: &ImageRef, force: bool) -> Vec<String> {
    let mut a = vec!["rmi".to_owned()];
    if force {
        a.push("--force".to_owned());
    }
    a.push("--".to_owned());
    a.push(image.to_string());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{
        Mount, NetworkMode, PortMapping, Protocol, Resources, RestartKind, RestartPolicy,
    };
    use crate::core::names::AbsPath;
    use std::collections::BTreeMap;

    #[test]
    fn data_root_asks_each_engine_for_its_own_field() {
        assert_eq!(
            data_root(CliFlavor::Docker),
            ["info", "--format={{.DockerRootDir}}"]
        );
        assert_eq!(
            data_root(CliFlavor::Podman),
            ["info", "--format={{.Store.GraphRoot}}"]
        );
    }

    fn minimal(name: &str) -> ContainerSpec {
        ContainerSpec {
            name: ContainerName::parse(name).unwrap(),
            image: ImageRef::parse("127.0.0.1:5000/ctrmgr-test/busybox:latest").unwrap(),
            cmd: vec![],
            entrypoint: vec![],
            env: BTreeMap::new(),
            ports: vec![],
            mounts: vec![],
            restart: None,
            resources: None,
            labels: BTreeMap::new(),
            network: None,
            user: None,
            workdir: None,
            privileged: false,
            devices: vec![],
            health: None,
        }
    }

    fn full() -> ContainerSpec {
        let mut s = minimal("web");
        s.cmd = vec!["-c".into(), "echo hi".into()];
        s.entrypoint = vec!["/bin/sh".into(), "-e".into()];
        s.env = BTreeMap::from([("A".into(), "1".into()), ("B".into(), "x=y z".into())]);
        s.ports = vec![
            PortMapping {
                host: 8080,
                container: 80,
                protocol: Protocol::Tcp,
            },
            PortMapping {
                host: 5353,
                container: 53,
                protocol: Protocol::Udp,
            },
        ];
        s.mounts = vec![
            Mount {
                source: AbsPath::parse("/srv/data").unwrap(),
                target: AbsPath::parse("/data").unwrap(),
                read_only: true,
            },
            Mount {
                source: AbsPath::parse("/tmp/x").unwrap(),
                target: AbsPath::parse("/x").unwrap(),
                read_only: false,
            },
        ];
        s.restart = Some(RestartPolicy {
            policy: RestartKind::OnFailure,
            max_retries: Some(3),
        });
        s.resources = Some(Resources {
            memory_bytes: Some(64 * 1024 * 1024),
            cpu_millis: Some(500),
            pids_limit: Some(100),
        });
        s.labels = BTreeMap::from([("app".into(), "web".into())]);
        s.network = Some(NetworkMode::Host);
        s.user = Some("1000:1000".into());
        s.workdir = Some(AbsPath::parse("/work").unwrap());
        s.privileged = true;
        s.devices = vec![AbsPath::parse("/dev/ttyUSB0").unwrap()];
        s
    }

    fn ulimits() -> Vec<Ulimit> {
        ["nofile=1024:20000", "nproc=512"]
            .iter()
            .map(|u| Ulimit::parse(u).unwrap())
            .collect()
    }

    #[test]
    fn create_full_spec() {
        assert_eq!(
            create(&full(), CliFlavor::Docker, &ulimits()),
            [
                "create",
                "--pull=never",
                "--name=web",
                "--label=io.ctrmgr.managed=true",
                "--label=app=web",
                "--env=A=1",
                "--env=B=x=y z",
                "--publish=8080:80/tcp",
                "--publish=5353:53/udp",
                "--mount=type=bind,source=/srv/data,target=/data,readonly",
                "--mount=type=bind,source=/tmp/x,target=/x",
                "--restart=no",
                "--memory=67108864",
                "--memory-swap=67108864",
                "--cpus=0.5",
                "--pids-limit=100",
                "--network=host",
                "--user=1000:1000",
                "--workdir=/work",
                "--privileged",
                "--device=/dev/ttyUSB0",
                "--ulimit=nofile=1024:20000",
                "--ulimit=nproc=512:512",
                "--entrypoint=/bin/sh",
                "--",
                "127.0.0.1:5000/ctrmgr-test/busybox:latest",
                "-e",
                "-c",
                "echo hi",
            ]
        );
    }

    #[test]
    fn podman_keeps_the_entrypoint_whole() {
        let a = create(&full(), CliFlavor::Podman, &[]);
        let dashdash = a.iter().position(|x| x == "--").unwrap();
        assert_eq!(a[dashdash - 1], r#"--entrypoint=["/bin/sh","-e"]"#);
        assert_eq!(
            a[dashdash + 1..],
            ["127.0.0.1:5000/ctrmgr-test/busybox:latest", "-c", "echo hi"]
        );
        let mut s = minimal("a");
        s.entrypoint = vec!["sh".into(), "-c".into(), "x \"y\"".into()];
        let a = create(&s, CliFlavor::Podman, &[]);
        assert!(a.contains(&r#"--entrypoint=["sh","-c","x \"y\""]"#.to_owned()));
    }

    #[test]
    fn create_minimal_spec() {
        assert_eq!(
            create(&minimal("a"), CliFlavor::Docker, &[]),
            [
                "create",
                "--pull=never",
                "--name=a",
                "--label=io.ctrmgr.managed=true",
                "--restart=no",
                "--",
                "127.0.0.1:5000/ctrmgr-test/busybox:latest",
            ]
        );
    }

    #[test]
    fn exec_keeps_the_command_after_the_name() {
        let n = ContainerName::parse("web").unwrap();
        let cmd = vec!["--privileged".to_owned(), "a b".to_owned()];
        assert_eq!(exec(&n, &cmd), ["exec", "--", "web", "--privileged", "a b"]);
        assert_eq!(
            clear_restart_policy(&n),
            ["update", "--restart=no", "--", "web"]
        );
    }

    #[test]
    fn hostile_values_stay_single_elements() {
        let mut s = minimal("a");
        s.env = BTreeMap::from([("--privileged".into(), "--network=host".into())]);
        s.labels = BTreeMap::from([
            ("-v".into(), "/:/host".into()),
            (MANAGED_LABEL.into(), "false".into()),
        ]);
        s.user = Some("--privileged".into());
        s.cmd = vec!["--privileged".into(), "; rm -rf /".into()];
        s.restart = Some(RestartPolicy {
            policy: RestartKind::Always,
            max_retries: Some(5),
        });
        let a = create(&s, CliFlavor::Docker, &[]);
        let dashdash = a.iter().position(|x| x == "--").unwrap();
        assert!(a.contains(&"--env=--privileged=--network=host".to_owned()));
        assert!(a.contains(&"--label=-v=/:/host".to_owned()));
        assert!(a.contains(&"--user=--privileged".to_owned()));
        assert!(a.contains(&"--restart=no".to_owned()));
        // The managed label cannot be overridden by a user label.
        assert!(!a.iter().any(|x| x.contains("managed=false")));
        // Before `--`, every element is one known flag; after it, image then command.
        assert!(a[2..dashdash]
            .iter()
            .all(|x| x.starts_with("--") && x.contains('=')));
        assert_eq!(a[dashdash + 2..], ["--privileged", "; rm -rf /"]);
    }

    #[test]
    fn cpus_from_millis() {
        assert_eq!(cpus(500), "0.5");
        assert_eq!(cpus(1000), "1");
        assert_eq!(cpus(1500), "1.5");
        assert_eq!(cpus(250), "0.25");
        assert_eq!(cpus(1), "0.001");
        assert_eq!(cpus(2010), "2.01");
    }

    #[test]
    fn lifecycle_argv() {
        let n = ContainerName::parse("web").unwrap();
        assert_eq!(start(&n), ["start", "--", "web"]);
        assert_eq!(
            stop_or_restart("stop", CliFlavor::Docker, &n, Some(5)),
            ["stop", "--timeout=5", "--", "web"]
        );
        assert_eq!(
            stop_or_restart("restart", CliFlavor::Podman, &n, Some(5)),
            ["restart", "--time=5", "--", "web"]
        );
        assert_eq!(
            stop_or_restart("stop", CliFlavor::Docker, &n, None),
            ["stop", "--", "web"]
        );
        assert_eq!(
            kill(&n, SignalName::parse("TERM").unwrap()),
            ["kill", "--signal=SIGTERM", "--", "web"]
        );
        assert_eq!(
            remove_container("61f05bab", true),
            ["rm", "--force", "--", "61f05bab"]
        );
        assert_eq!(remove_container(n.as_str(), false), ["rm", "--", "web"]);
        assert_eq!(
            inspect(["a", "b"]),
            ["container", "inspect", "--", "a", "b"]
        );
        assert_eq!(
            list_managed_ids(),
            [
                "ps",
                "--all",
                "--quiet",
                "--no-trunc",
                "--filter=label=io.ctrmgr.managed=true"
            ]
        );
    }

    #[test]
    fn logs_stats_and_image_argv() {
        let n = ContainerName::parse("web").unwrap();
        let opts = LogOptions {
            tail: Some(10),
            since: Some(crate::core::since::Since::parse("2026-11-29T10:00:00Z").unwrap()),
            ..LogOptions::default()
        };
        assert_eq!(
            logs(&n, &opts),
            [
                "logs",
                "--timestamps",
                "--tail=10",
                "--since=2026-11-29T10:00:00Z",
                "--",
                "web"
            ]
        );
        assert_eq!(
            logs(&n, &LogOptions::default()),
            ["logs", "--timestamps", "--", "web"]
        );
        assert_eq!(
            stats(&n, CliFlavor::Podman)[3],
            "--format={{.ContainerStats.CPU}}|{{.ContainerStats.MemUsage}} / \
             {{.ContainerStats.MemLimit}}|{{.ContainerStats.PIDs}}"
        );
        assert_eq!(
            stats(&n, CliFlavor::Docker),
            [
                "stats",
                "--no-stream",
                "--no-trunc",
                "--format={{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}",
                "--",
                "web"
            ]
        );
        let i = ImageRef::parse("busybox:1").unwrap();
        assert_eq!(
            pull(&i, None, CliFlavor::Podman),
            ["pull", "--quiet", "--", "busybox:1"]
        );
        let local = ImageRef::parse("127.0.0.1:5001/a:1").unwrap();
        assert_eq!(
            pull(&local, None, CliFlavor::Podman),
            [
                "pull",
                "--quiet",
                "--tls-verify=false",
                "--",
                "127.0.0.1:5001/a:1"
            ]
        );
        assert_eq!(
            pull(&local, None, CliFlavor::Docker),
            ["pull", "--quiet", "--", "127.0.0.1:5001/a:1"]
        );
        assert_eq!(
            pull(&i, Some("/tmp/a/auth.json"), CliFlavor::Podman),
            [
                "pull",
                "--quiet",
                "--authfile=/tmp/a/auth.json",
                "--",
                "busybox:1"
            ]
        );
        assert_eq!(
            image_id(&i),
            ["image", "inspect", "--format={{.Id}}", "--", "busybox:1"]
        );
        assert_eq!(
            remove_image(&i, true),
            ["rmi", "--force", "--", "busybox:1"]
        );
        assert_eq!(remove_image(&i, false), ["rmi", "--", "busybox:1"]);
        assert_eq!(
            version(CliFlavor::Docker),
            ["version", "--format={{.Server.Version}}"]
        );
    }
}
