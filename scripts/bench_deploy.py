#!/usr/bin/env python3
"""Desired-state figures (issue 15), printed as one markdown table; nothing is asserted.

    python3 scripts/bench_deploy.py            # ~3 min on 2 busy cores

Needs a release agent (`cargo build --release --bin ctrmgr`, or BENCH_AGENT=PATH) and the
services of `scripts/services.sh up` (dockerd, the Podman API service, the test image).
For each API runtime (BENCH_RUNTIMES, default "docker-api podman-api") one agent runs on
a temporary config (LMDB, REST on a unix socket only) and the script measures, each
figure next to the same work done against the engine's own API in the same run:

- converge from empty: `apply` (wait, `healthy_window_s` 0) of BENCH_N (10) containers
  until the reply says `done`, next to creating and starting the same containers through
  the engine's API one after the other (the engine's floor for that work);
- unchanged re-apply: the same containers under the next generation (their spec hashes
  match: no engine call), median of BENCH_REPEATS (20), next to one inspect per container
  through the engine (what an agent comparing against inspect output pays at least);
- memory: a second, fresh agent's VmRSS before and 10 s after a BENCH_MANY (50)
  container deployment is done, next to dockerd's (or Podman service's) RSS growth for the same.

`healthy_window_s` is 0 so the figures are the agent's own work: a real deployment adds
its window (default 30 s) on top, as a deliberate wait.
"""
import http.client
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENT_BIN = os.environ.get("BENCH_AGENT", os.path.join(ROOT, "target/release/ctrmgr"))
RUNTIMES = os.environ.get("BENCH_RUNTIMES", "docker-api podman-api").split()
N = int(os.environ.get("BENCH_N", "10"))
MANY = int(os.environ.get("BENCH_MANY", "50"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "20"))
IMAGE = "ctrmgr-test/busybox:latest"
SOCKETS = {"docker-api": "/var/run/docker.sock", "podman-api": "/run/podman/podman.sock"}
SERVICE_PIDS = {"docker-api": "dockerd.pid", "podman-api": "podman.pid"}
# Docker's API at its root, libpod's own under a versioned prefix.
LIBPOD = "/v4.0.0/libpod"
API_PREFIX = {"docker-api": "", "podman-api": LIBPOD}
# Every path (agent and engine) gives containers the same ulimits; Podman's default
# RLIMIT_NOFILE may exceed this machine's hard limit.
NOFILE_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
SVC_DIR = os.environ.get("CTRMGR_SVC_DIR", "/tmp/ctrmgr-test-services")


def log(*parts):
    print("[bench-deploy]", *parts, file=sys.stderr, flush=True)


class UnixHTTP(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket (the agent's API socket, dockerd's, libpod's)."""

    def __init__(self, path, timeout=600):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(conn, method, path, body=None, ok=(200, 201, 204, 304)):
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    if resp.status not in ok:
        raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {raw[:300]!r}")
    return json.loads(raw) if raw else None


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def service_rss_kb(runtime):
    """RSS of the engine's daemon: dockerd plus containerd, or the Podman API service."""
    pids = []
    with open(os.path.join(SVC_DIR, SERVICE_PIDS[runtime])) as f:
        pids.append(int(f.read().strip()))
    if runtime == "docker-api":
        found = subprocess.run(["pgrep", "-x", "containerd"], capture_output=True, text=True)
        pids += [int(p) for p in found.stdout.split()]
    return sum(rss_kb(p) for p in pids)


def container(prefix, i):
    return {"name": f"{prefix}-{i}", "image": IMAGE, "cmd": ["sleep", "3600"],
            "network": "none", "order": 0, "desired": "running"}


def deployment(generation, containers):
    """The body of `PUT /v1/deployment` (`wait` defaults to true)."""
    return {"generation": generation, "containers": containers,
            "policy": {"on_failure": "rollback", "healthy_window_s": 0}}


class Agent:
    """One agent process on a temporary config, REST on a unix socket only."""

    def __init__(self, runtime, directory, device):
        self.dir = directory
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "api.sock")
        with open(os.path.join(self.dir, "agent.toml"), "w") as f:
            f.write(f"""[agent]
device_id = "{device}"

[store]
backend = "lmdb"
path = "{self.dir}/data"
map_size_mb = 64

[runtime]
default = "{runtime}"
docker_socket = "{SOCKETS['docker-api']}"
podman_socket = "{SOCKETS['podman-api']}"
call_timeout_s = 120
default_ulimits = ["nofile=1024:{NOFILE_HARD}", "nproc=1024:1024"]

[rest]
unix_socket = "{self.sock}"

[policy]
max_containers = {MANY + N + 50}

[log]
level = "warn"
""")
        self.log = open(os.path.join(self.dir, "agent.log"), "w")
        self.proc = subprocess.Popen(
            [AGENT_BIN, "--config", os.path.join(self.dir, "agent.toml")],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the agent exited; see {self.dir}/agent.log")
            try:
                call(UnixHTTP(self.sock, timeout=2), "GET", "/healthz")
                break
            except (OSError, RuntimeError):
                time.sleep(0.05)
        self.conn = UnixHTTP(self.sock)

    def apply(self, body):
        t0 = time.perf_counter()
        reply = call(self.conn, "PUT", "/v1/deployment", body)
        return time.perf_counter() - t0, (reply or {}).get("result") or reply

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def phase_of(status):
    return (status or {}).get("phase")


def engine_create_start(runtime, names):
    """Create and start `names` through the engine's own API, one after the other."""
    conn = UnixHTTP(SOCKETS[runtime])
    t0 = time.perf_counter()
    for name in names:
        if runtime == "docker-api":
            call(conn, "POST", f"/containers/create?name={name}", {
                "Image": IMAGE, "Cmd": ["sleep", "3600"],
                "HostConfig": {"NetworkMode": "none", "Ulimits": [
                    {"Name": "nofile", "Soft": 1024, "Hard": NOFILE_HARD},
                    {"Name": "nproc", "Soft": 1024, "Hard": 1024}]}})
            call(conn, "POST", f"/containers/{name}/start")
        else:
            call(conn, "POST", f"{LIBPOD}/containers/create", {
                "name": name, "image": IMAGE, "command": ["sleep", "3600"],
                "netns": {"nsmode": "none"}, "r_limits": [
                    {"type": "nofile", "soft": 1024, "hard": NOFILE_HARD},
                    {"type": "nproc", "soft": 1024, "hard": 1024}]})
            call(conn, "POST", f"{LIBPOD}/containers/{name}/start")
    return time.perf_counter() - t0


def engine_inspect_all(runtime, names):
    conn = UnixHTTP(SOCKETS[runtime])
    prefix = API_PREFIX[runtime]
    t0 = time.perf_counter()
    for name in names:
        call(conn, "GET", f"{prefix}/containers/{name}/json")
    return time.perf_counter() - t0


def engine_remove(runtime, names):
    conn = UnixHTTP(SOCKETS[runtime])
    prefix = API_PREFIX[runtime]
    for name in names:
        try:
            call(conn, "DELETE", f"{prefix}/containers/{name}?force=true&t=0",
                 ok=(200, 204, 404))
        except (OSError, RuntimeError) as e:
            log(f"removing {name}: {e}")


def converge_and_reapply(runtime, work, tag):
    rows = {}
    agent = Agent(runtime, os.path.join(work, "converge"), tag)
    mine = [container(f"{tag}-a", i) for i in range(N)]
    ref = [f"{tag}-e-{i}" for i in range(N)]
    try:
        # Converge from empty, then the engine's floor for the same work.
        took, status = agent.apply(deployment(1, mine))
        if phase_of(status) != "done":
            raise RuntimeError(f"apply of {N} containers: {json.dumps(status)}")
        rows["converge"] = took
        rows["engine_converge"] = engine_create_start(runtime, ref)
        log(f"{runtime}: converge {N}: agent {took * 1000:.0f} ms, "
            f"engine {rows['engine_converge'] * 1000:.0f} ms")
        # Unchanged re-apply under new generations: spec hashes match, no engine call.
        times = []
        for k in range(REPEATS):
            took, status = agent.apply(deployment(2 + k, mine))
            actions = {c.get("action") for c in status.get("containers", [])}
            if phase_of(status) != "done" or actions != {"none"}:
                raise RuntimeError(f"unchanged re-apply: {json.dumps(status)}")
            times.append(took)
        rows["reapply"] = statistics.median(times)
        rows["engine_inspect"] = statistics.median(
            engine_inspect_all(runtime, [c["name"] for c in mine]) for _ in range(REPEATS))
        log(f"{runtime}: re-apply median {rows['reapply'] * 1000:.1f} ms, engine inspect "
            f"x{N} {rows['engine_inspect'] * 1000:.1f} ms")
    finally:
        # The agent first: it would create its removed containers again.
        agent.stop()
        engine_remove(runtime, ref + [c["name"] for c in mine])
    return rows


def memory(runtime, work, tag):
    """VmRSS of a fresh agent before and 10 s after a MANY-container deployment."""
    agent = Agent(runtime, os.path.join(work, "memory"), tag)
    many = [container(f"{tag}-m", i) for i in range(MANY)]
    try:
        time.sleep(5)
        agent_before, engine_before = rss_kb(agent.proc.pid), service_rss_kb(runtime)
        took, status = agent.apply(deployment(1, many))
        if phase_of(status) != "done":
            raise RuntimeError(f"apply of {MANY}: {json.dumps(status)}")
        time.sleep(10)
        agent_after, engine_after = rss_kb(agent.proc.pid), service_rss_kb(runtime)
        log(f"{runtime}: {MANY} containers in {took:.1f} s; agent RSS {agent_before} -> "
            f"{agent_after} kB, engine {engine_before} -> {engine_after} kB")
        return {"converge_many": took,
                "rss": (agent_before, agent_after, engine_before, engine_after)}
    finally:
        agent.stop()
        engine_remove(runtime, [c["name"] for c in many])


def measure(runtime, work):
    tag = f"bd{os.getpid()}{runtime[0]}"
    rows = converge_and_reapply(runtime, os.path.join(work, runtime), tag)
    rows.update(memory(runtime, os.path.join(work, runtime), tag))
    return rows


def main():
    if not os.access(AGENT_BIN, os.X_OK):
        sys.exit(f"no agent binary at {AGENT_BIN}: cargo build --release --bin ctrmgr")
    subprocess.run(["bash", os.path.join(ROOT, "scripts/services.sh"), "up"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="ctrmgr-bench-deploy.")
    results = {r: measure(r, work) for r in RUNTIMES}
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"### ctrmgr desired state: {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, "
          f"ctrmgr {commit}, {os.cpu_count()} cores, `healthy_window_s` 0\n")
    print("| measure | runtime | ctrmgr | engine's own API, same run | ratio |")
    print("|---|---|---|---|---|")
    for r, x in results.items():
        print(f"| converge {N} containers from empty (`apply`, wait) | {r} | "
              f"{x['converge'] * 1000:.0f} ms | create + start one by one: "
              f"{x['engine_converge'] * 1000:.0f} ms | "
              f"{x['converge'] / x['engine_converge']:.2f}x |")
        print(f"| unchanged re-apply of {N} (median of {REPEATS}, goal < 50 ms) | {r} | "
              f"{x['reapply'] * 1000:.1f} ms | one inspect per container: "
              f"{x['engine_inspect'] * 1000:.1f} ms | "
              f"{x['reapply'] / x['engine_inspect']:.2f}x |")
        ab, aa, eb, ea = x["rss"]
        print(f"| memory added by a {MANY}-container deployment (VmRSS, 10 s after "
              f"`done` in {x['converge_many']:.1f} s) | {r} | +{(aa - ab) / 1024:.2f} MiB "
              f"({ab / 1024:.2f} -> {aa / 1024:.2f}) | engine daemon(s) "
              f"+{(ea - eb) / 1024:.1f} MiB ({eb / 1024:.1f} -> {ea / 1024:.1f}) | - |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
