#!/usr/bin/env bash
# Fleet simulation (not part of the test command): N agents (default 100) on one private
# Mosquitto and one private Redis Cluster, sharing this machine's dockerd. Prints RSS,
# group fan-out latency, broker-restart reconnection and a Redis failover under load
# (scripts/fleet_sim.py says what each figure is).
#
#   bash scripts/fleet-sim.sh [N]
#
# Needs what `scripts/services.sh up` installs (dockerd, mosquitto, redis-server) and a
# release build (made here if missing). paho-mqtt is installed into a venv under
# target/ on first use. Each agent opens ~10 descriptors and a connection to dockerd.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:-100}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${CTRMGR_BIN:-$TARGET_DIR/release/ctrmgr}"
VENV="$TARGET_DIR/ctrmgr-tools/fleet-sim-venv"

[[ -x "$BIN" ]] || cargo build --release --bin ctrmgr
if ! "$VENV/bin/python3" -c 'import paho.mqtt' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q 'paho-mqtt==2.1.0'
fi
curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null ||
    { echo "fleet-sim: dockerd does not answer: run scripts/services.sh up" >&2; exit 1; }
# 100 agents x (sockets, event streams, redis connections to 6 nodes): raise the soft limit.
ulimit -n "$(ulimit -Hn)"
exec "$VENV/bin/python3" scripts/fleet_sim.py --agents "$N" --binary "$BIN"
