#!/usr/bin/env python3
"""Fleet simulation for ctrmgr (run by scripts/fleet-sim.sh; not part of the test command).

N agents, each with its own device id, config, data dir and REST socket, on one private
Mosquitto and one private Redis Cluster (3 masters, 3 replicas), sharing the machine's
dockerd. Measures and prints:
  - RSS of the agents (total, per agent: median and max) once all are online;
  - group request fan-out: a `list` request on ctrmgr/group/<g>/req with an MQTT 5 Response
    Topic, per-reply latency p50/p99/max and the time until all N replies are in;
  - desired deployment: every device gets a retained `apply` envelope of 2 containers on
    ctrmgr/<device>/desired at once; time until each device's retained
    ctrmgr/<device>/deployment status says `done` (p50, max). Per device rather than on
    the group topic because all agents share one dockerd, where container names are
    global: a group deployment's names would collide between the simulated devices;
  - broker restart: the time until every agent is `online` again, and how the first
    reconnects spread over time (the back-off jitter; no thundering herd);
  - Redis master failover under load: group `list` requests (each reads the store)
    while the master of one third of the slots is killed: replies that were store_error,
    and the time until every device answers ok again.
Needs paho-mqtt (fleet-sim.sh installs it into a venv).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

GROUP = "fleet"
# The image of the simulated deployment (pushed to the local registry by services.sh).
IMAGE = "127.0.0.1:5000/ctrmgr-test/busybox:latest"
# How long the broker stays down in the restart measurement.
OUTAGE_S = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, ready, limit_s):
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        if ready():
            return time.monotonic() - start
        time.sleep(0.05)
    raise SystemExit(f"fleet-sim: {what}: not within {limit_s} s")


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


class Mosquitto:
    def __init__(self, workdir):
        self.port = free_port()
        self.conf = os.path.join(workdir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                    "max_inflight_messages 0\nmax_queued_messages 100000\nset_tcp_nodelay true\n")
        self.log = os.path.join(workdir, "mosquitto.log")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT)
        wait_until("mosquitto", self._answers, 10)

    def _answers(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def kill(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class RedisCluster:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "redis")
        self.ports = self._ports()
        self.procs = {}

    @staticmethod
    def _ports():
        for first in range(27001, 29000, 10):
            ports = list(range(first, first + 6))
            if all(_free(p) and _free(p + 10000) for p in ports):
                return ports
        raise SystemExit("fleet-sim: no free ports for the Redis Cluster")

    def start_node(self, port):
        d = os.path.join(self.dir, str(port))
        os.makedirs(d, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-node-timeout", "3000", "--repl-diskless-sync-delay", "0", "--save", "",
             "--appendonly", "no", "--dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(f"redis {port}", lambda: self.cli(port, "PING") == "PONG", 10)

    def start(self):
        for p in self.ports:
            self.start_node(p)
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                        "--cluster-replicas", "1", "--cluster-yes"], check=True,
                       stdout=subprocess.DEVNULL)
        wait_until("cluster_state:ok", lambda: all(
            "cluster_state:ok" in self.cli(p, "CLUSTER", "INFO") for p in self.ports), 30)

    def cli(self, port, *args):
        out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True)
        return out.stdout.strip()

    def masters(self):
        out = []
        for line in self.cli(self.ports[0], "CLUSTER", "NODES").splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
                out.append(int(f[1].split("@")[0].split(":")[1]))
        return out

    def kill(self, port):
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait()

    def stop(self):
        for port in list(self.procs):
            self.kill(port)

    def seeds(self):
        return [f"redis://127.0.0.1:{p}" for p in self.ports]


def _free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Agents:
    def __init__(self, binary, workdir, n, broker_port, seeds):
        self.procs = {}
        self.devices = [f"sim-{i:04d}" for i in range(n)]
        for i, device in enumerate(self.devices):
            d = os.path.join(workdir, "agents", device)
            os.makedirs(d, exist_ok=True)
            nodes = ", ".join(f'"{s}"' for s in seeds)
            conf = os.path.join(d, "config.toml")
            with open(conf, "w") as f:
                f.write(f"""[agent]
device_id = "{device}"
[store]
backend = "redis"
path = "{d}/data"
redis_cluster_nodes = [{nodes}]
[runtime]
default = "docker-api"
# Only dockerd is shared: N agents following the shared Podman service's events would
# exhaust its descriptors (seen at N = 1000).
podman_socket = "{d}/no-podman.sock"
podman_bin = "/nonexistent/podman"
[rest]
unix_socket = "{d}/api.sock"
unix_socket_mode = 0o600
[mqtt]
host = "127.0.0.1"
port = {broker_port}
groups = ["{GROUP}"]
allowed_response_prefixes = ["fleet-sim/res"]
reconnect_max_backoff_s = 30
[dbus]
enabled = false
[mqueue]
enabled = false
[log]
level = "warn"
""")
            log = open(os.path.join(d, "agent.log"), "w")
            self.procs[device] = subprocess.Popen([binary, "--config", conf], stdout=log,
                                                  stderr=subprocess.STDOUT)

    def rss_kib(self):
        out = {}
        for device, proc in self.procs.items():
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out[device] = int(line.split()[1])
        return out

    def stop(self):
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()


class Observer:
    """One MQTT 5 client: device status, replies to our response topics."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.status = {}
        self.online_at = {}
        self.replies = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"fleet-sim-{os.getpid()}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.deployments = {}
        self.client.on_connect = lambda c, *_: c.subscribe(
            [("ctrmgr/+/status", 1), ("fleet-sim/res/#", 1), ("ctrmgr/+/deployment", 1)])
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def _on_message(self, _c, _u, msg):
        now = time.monotonic()
        with self.lock:
            if msg.topic.endswith("/deployment"):
                if msg.payload:
                    status = json.loads(msg.payload)
                    self.deployments.setdefault(msg.topic.split("/")[1], []).append((now, status))
            elif msg.topic.endswith("/status"):
                device = msg.topic.split("/")[1]
                state = msg.payload.decode()
                self.status[device] = state
                if state == "online":
                    self.online_at.setdefault(device, now)
            else:
                key = msg.topic.split("/")[-1]
                self.replies.setdefault(key, []).append((now, json.loads(msg.payload)))

    def online_count(self, devices):
        with self.lock:
            return sum(1 for d in devices if self.status.get(d) == "online")

    def request(self, key, op):
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = f"fleet-sim/res/{key}"
        props.CorrelationData = key.encode()
        body = json.dumps({"id": key, "op": op})
        sent = time.monotonic()
        self.client.publish(f"ctrmgr/group/{GROUP}/req", body, qos=1, properties=props)
        return sent

    def desire(self, device, generation, names):
        """Publishes a retained apply envelope for `device`; returns when it was sent."""
        containers = [{"name": n, "image": IMAGE, "cmd": ["sleep", "3600"], "network": "none",
                       "order": i, "desired": "running"} for i, n in enumerate(names)]
        body = json.dumps({"id": f"sim-{device}-{generation}", "op": "apply",
                           "args": {"deployment": {"generation": generation,
                                                   "containers": containers,
                                                   "policy": {"healthy_window_s": 2}}}})
        sent = time.monotonic()
        self.client.publish(f"ctrmgr/{device}/desired", body, qos=1, retain=True)
        return sent

    def done_at(self, device, generation):
        with self.lock:
            for t, status in self.deployments.get(device, []):
                if status.get("generation") == generation and status.get("phase") == "done":
                    return t
        return None

    def clear_desired(self, device):
        self.client.publish(f"ctrmgr/{device}/desired", b"", qos=1, retain=True)

    def replies_for(self, key):
        with self.lock:
            return list(self.replies.get(key, []))


def fan_out(obs, n, rounds, op):
    latencies, completions = [], []
    for r in range(rounds):
        key = f"fan-{os.getpid()}-{op}-{r}"
        sent = obs.request(key, op)
        wait_until(f"{n} replies to {key}", lambda: len(obs.replies_for(key)) >= n, 60)
        times = [t - sent for t, _ in obs.replies_for(key)]
        latencies += times
        completions.append(max(times))
    return latencies, completions


def ms(x):
    return f"{x * 1000:.1f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    n = args.agents
    workdir = tempfile.mkdtemp(prefix="ctrmgr-fleet-sim-")
    broker, cluster, agents = Mosquitto(workdir), RedisCluster(workdir), None
    rows = []
    try:
        broker.start()
        cluster.start()
        t0 = time.monotonic()
        agents = Agents(args.binary, workdir, n, broker.port, cluster.seeds())
        obs = Observer(broker.port)
        try:
            wait_until(f"{n} agents online", lambda: obs.online_count(agents.devices) == n, 300)
        except SystemExit as e:
            online = obs.online_count(agents.devices)
            print(f"fleet-sim: {online} of {n} online after 300 s; first agent log:", file=sys.stderr)
            missing = next(d for d in agents.devices if obs.status.get(d) != "online")
            with open(os.path.join(workdir, "agents", missing, "agent.log")) as f:
                print(f.read()[-3000:], file=sys.stderr)
            raise e
        rows.append(("agents online after start", f"{time.monotonic() - t0:.1f} s for {n}"))
        time.sleep(5)
        rss = agents.rss_kib()
        total = sum(rss.values())
        rows.append(("RSS total", f"{total / 1024:.1f} MiB for {n} agents"))
        rows.append(("RSS per agent", f"median {statistics.median(rss.values()) / 1024:.2f} MiB, "
                                      f"max {max(rss.values()) / 1024:.2f} MiB"))

        # `list` reads the device's records from the cluster. (`info` is left out: it
        # probes every engine, and a busy Podman service costs its 5 s probe timeout.)
        for op in ("list",):
            lat, comp = fan_out(obs, n, args.rounds, op)
            rows.append((f"group '{op}' fan-out, per reply",
                         f"p50 {ms(percentile(lat, 50))}, p99 {ms(percentile(lat, 99))}, max {ms(max(lat))}"))
            rows.append((f"group '{op}' fan-out, all {n} replies in",
                         f"p50 {ms(percentile(comp, 50))}, max {ms(max(comp))} ({args.rounds} rounds)"))

        # A desired deployment of 2 containers on every device at once.
        generation = int(time.time())
        sent = {d: obs.desire(d, generation, [f"{d}-broker", f"{d}-app"]) for d in agents.devices}
        try:
            wait_until(f"{n} deployments done",
                       lambda: all(obs.done_at(d, generation) for d in agents.devices), 600)
            took = sorted(obs.done_at(d, generation) - sent[d] for d in agents.devices)
            rows.append((f"desired deployment (2 containers) on {n} devices, to `done`",
                         f"p50 {percentile(took, 50):.1f} s, max {took[-1]:.1f} s "
                         f"(healthy_window_s 2)"))
        finally:
            for d in agents.devices:
                obs.clear_desired(d)
            subprocess.run(["sh", "-c", "docker ps -aq --filter label=io.ctrmgr.deployment "
                            "--filter name=sim- | xargs -r docker rm -f"],
                           stdout=subprocess.DEVNULL, check=False)

        # Broker restart: every agent reconnects with jittered back-off.
        broker.kill()
        down_at = time.monotonic()
        with obs.lock:
            obs.status.clear()
            obs.online_at.clear()
        time.sleep(OUTAGE_S)
        broker.start()
        wait_until(f"{n} agents online again", lambda: obs.online_count(agents.devices) == n, 180)
        with obs.lock:
            back = sorted(t - down_at for t in obs.online_at.values())
        rows.append((f"broker restart (down {OUTAGE_S} s): all online again", f"{back[-1]:.1f} s after the kill"))
        spread = [f"{percentile(back, p):.1f}" for p in (0, 25, 50, 75, 100)]
        rows.append(("  reconnects spread (s after kill: min/p25/p50/p75/max)", " / ".join(spread)))
        per_second = {}
        for t in back:
            per_second[int(t)] = per_second.get(int(t), 0) + 1
        rows.append(("  busiest second", f"{max(per_second.values())} of {n} reconnects"))

        # Redis master failover under load.
        victim = cluster.masters()[0]
        stop = threading.Event()
        results = []

        def load():
            r = 0
            while not stop.is_set():
                key = f"fo-{os.getpid()}-{r}"
                sent = obs.request(key, "list")
                time.sleep(0.5)
                results.append((sent, key))
                r += 1

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(3)
        killed_at = time.monotonic()
        cluster.kill(victim)
        time.sleep(25)
        stop.set()
        loader.join()
        time.sleep(3)
        errors, last_error = 0, None
        answered = 0
        for sent, key in results:
            for t, reply in obs.replies_for(key):
                answered += 1
                if not reply.get("ok"):
                    errors += 1
                    last_error = max(last_error or 0, sent - killed_at)
        rows.append(("Redis master failover under load",
                     f"{errors} of {answered} replies store_error; last error "
                     f"{'none' if last_error is None else f'{last_error:.1f} s'} after the kill "
                     f"(cluster-node-timeout 3 s)"))
    finally:
        if agents:
            agents.stop()
        broker.kill()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    print(f"\nfleet simulation, {n} agents, {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
