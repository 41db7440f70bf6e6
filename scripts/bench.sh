#!/usr/bin/env bash
# Footprint and speed of ctrmgr, measured, printed as ONE markdown table (issue 8).
# Not part of the test command, and nothing here is asserted: budgets are compared and
# the verdict printed next to each figure.
#
#   bash scripts/bench.sh                 # everything (~15 min on 2 busy cores)
#   BENCH_TARGETS=host bash scripts/bench.sh   # sizes for this machine only (quicker)
#
# What it does, in order:
#   1. stripped release sizes through scripts/size.sh: minimal features first, then every
#      default feature, so the host build left in target/<host>/release is the full agent
#      this script then runs (the one release build of the agent);
#   2. bench_client and store_bench examples, release, same target dir;
#   3. scripts/services.sh up (dockerd, registry, redis, image, the Python clients), the
#      podman API service if nothing answers on its socket, a private mosquitto and,
#      when the agent has the dbus feature, a private bus;
#   4. the agent with a temporary config (LMDB in a temp dir, REST on a free port, MQTT to
#      the private broker), then: idle RSS, threads and CPU ticks over BENCH_IDLE_S;
#      REST load (list, inspect) next to dockerd's own list and inspect, same client;
#      transport round trips (every transport among the agent's features); lifecycle overhead agent vs engine for each access path;
#      peak RSS; instructions per REST list/inspect under callgrind
#      (scripts/bench-callgrind.sh); LMDB and Redis store rates;
#   5. the table on stdout; progress and raw figures in $BENCH_DIR/bench.log.
#
# Fairness: one client (examples/bench_client, std-only blocking HTTP/1.1 keep-alive)
# measures the agent over TCP and dockerd/libpod over their unix sockets: no proxy on
# either side. The lifecycle rounds alternate engine and agent batches.
#
# Environment: BENCH_SECONDS (load per measurement, 10), BENCH_CONNECTIONS (4),
# BENCH_N (containers per lifecycle batch, 20), BENCH_ROUNDS (2), BENCH_IDLE_S (30),
# BENCH_TARGETS (host | all, default all), BENCH_DIR (work dir, default a new temp dir),
# BENCH_MANY (containers for the second list/inspect load, 100),
# BENCH_AGENT and BENCH_CLIENT (prebuilt release binaries of the agent and of
# examples/bench_client: no build at all, the size row is the agent file's; for
# comparing two commits on one machine without two full sets of release builds),
# BENCH_ONLY (lifecycle: only the lifecycle rows, on BENCH_AGENT and BENCH_CLIENT, through
# scripts/bench-lifecycle.sh, which also counts the engine calls per op with BENCH_COUNT=1).
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ "${BENCH_ONLY:-}" == lifecycle ]]; then
    exec bash scripts/bench-lifecycle.sh
fi
COMMAND="bash scripts/bench.sh${*:+ $*}"
SECONDS_LOAD="${BENCH_SECONDS:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-4}"
N="${BENCH_N:-20}"
ROUNDS="${BENCH_ROUNDS:-2}"
IDLE_S="${BENCH_IDLE_S:-30}"
MANY="${BENCH_MANY:-100}"
MINIMAL_FEATURES="rest,docker-api,lmdb"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN_DIR="$TARGET_DIR/$HOST/release"
DOCKER_SOCK=/var/run/docker.sock
PODMAN_SOCK=/run/podman/podman.sock
IMAGE=ctrmgr-test/busybox:latest
DEVICE=bench
SVC_DIR="${CTRMGR_SVC_DIR:-/tmp/ctrmgr-test-services}"
WORK="${BENCH_DIR:-$(mktemp -d /tmp/ctrmgr-bench.XXXXXX)}"
mkdir -p "$WORK"
LOG="$WORK/bench.log"
: >"$LOG"

log() { printf '[bench] %s\n' "$*" | tee -a "$LOG" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# --- clean-up of what this script started (by pid) ----------------------------------

PIDS_TO_STOP=()
SEEDED=()
AGENT_PID=""
cleanup() {
    local name pid
    for name in "${SEEDED[@]}"; do
        acurl -s -o /dev/null -X DELETE "$AGENT/v1/containers/$name?force=true" || true
    done
    [[ -z "$AGENT_PID" ]] || stop_pid "$AGENT_PID"
    for pid in "${PIDS_TO_STOP[@]}"; do
        stop_pid "$pid"
    done
}
trap cleanup EXIT

stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# kv KEY LINE: the value of KEY in a `k=v k=v` line.
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }

# The agent measured is the default build (scripts/size.sh without CTRMGR_SIZE_FEATURES):
# what it can be asked to do follows Cargo.toml's default features.
DEFAULT_FEATURES=" $(python3 scripts/check-layer.py cargo-features --default | tr '\n' ' ')"
has_feature() { [[ "$DEFAULT_FEATURES" == *" $1 "* ]]; }
has_feature rest || die "the bench drives the agent over REST: Cargo.toml's default features lack rest"
has_feature mqtt || die "the bench's agent config has an [mqtt] section: Cargo.toml's default features lack mqtt"
log "the agent's features:$DEFAULT_FEATURES"

# --- 1. sizes, 2. examples ------------------------------------------------------------

# sizes FEATURES: `target bytes` lines from scripts/size.sh (FEATURES empty: defaults).
sizes() {
    local targets=()
    [[ "${BENCH_TARGETS:-all}" == host ]] && targets=("$HOST")
    CTRMGR_SIZE_FEATURES="$1" nice -n 10 bash scripts/size.sh "${targets[@]}" 2>>"$LOG" |
        awk 'NF == 4 && $2 ~ /^[0-9]+$/ { print $1, $2 }'
}

declare -A SIZE_MIN=() SIZE_ALL=()
if [[ -n "${BENCH_AGENT:-}" ]]; then
    [[ -x "$BENCH_AGENT" && -x "${BENCH_CLIENT:-}" ]] ||
        die "BENCH_AGENT needs BENCH_CLIENT, both executable release builds"
    AGENT_BIN="$BENCH_AGENT"
    CLIENT="$BENCH_CLIENT"
    SIZE_ALL[$HOST]=$(stat -c %s "$AGENT_BIN")
    log "work dir $WORK; prebuilt agent $AGENT_BIN and client $CLIENT (no builds)"
else
    log "work dir $WORK; sizes (release builds, nice -n 10) ..."
    # Not `done < <(sizes ...)`: a failed build in a process substitution would go unnoticed.
    lines=$(sizes "$MINIMAL_FEATURES")
    while read -r t b; do SIZE_MIN[$t]=$b; done <<<"$lines"
    lines=$(sizes "")
    while read -r t b; do SIZE_ALL[$t]=$b; done <<<"$lines"
    AGENT_BIN="$BIN_DIR/ctrmgr"
    [[ -x "$AGENT_BIN" ]] || die "no agent binary at $AGENT_BIN"
    log "examples bench_client, store_bench (release) ..."
    nice -n 10 cargo build -q --release --target "$HOST" \
        --example bench_client --example store_bench 2>>"$LOG"
    CLIENT="$BIN_DIR/examples/bench_client"
fi

# --- 3. services ----------------------------------------------------------------------

log "services ..."
bash scripts/services.sh up >>"$LOG" 2>&1 || die "scripts/services.sh up failed (see $LOG)"
podman_ping() { curl -sf --max-time 2 --unix-socket "$PODMAN_SOCK" http://d/_ping >/dev/null; }
if ! podman_ping && command -v podman >/dev/null; then
    PODMAN_SOCK="$WORK/podman.sock"
    log "no podman API service answers; starting one on $PODMAN_SOCK"
    setsid podman system service --time=0 "unix://$PODMAN_SOCK" >"$WORK/podman.log" 2>&1 &
    PIDS_TO_STOP+=($!)
    for _ in $(seq 50); do
        if podman_ping; then break; fi
        sleep 0.2
    done
fi
podman_ping || log "podman API service unavailable: podman rows will say so"

MQTT_PORT=$(free_port)
{
    [[ $EUID -ne 0 ]] || echo "user root"
    # mosquitto's default leaves Nagle on: every reply then waits ~40 ms for an ACK.
    printf 'allow_anonymous true\npersistence false\nset_tcp_nodelay true\nlistener %s 127.0.0.1\n' \
        "$MQTT_PORT"
} >"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS_TO_STOP+=($!)

# A private bus for the D-Bus transport.
DBUS_ADDR=""
if has_feature dbus; then
    command -v dbus-daemon >/dev/null || die "dbus-daemon not found (package dbus)"
    DBUS_ADDR="unix:path=$WORK/bus"
    dbus-daemon --config-file=/usr/share/dbus-1/session.conf --address="$DBUS_ADDR" \
        --nofork --nopidfile >"$WORK/dbus.log" 2>&1 &
    PIDS_TO_STOP+=($!)
fi

# --- 4. the agent ---------------------------------------------------------------------

REST_PORT=$(free_port)
# Podman's default RLIMIT_NOFILE may exceed this machine's hard limit: every path (agent
# and direct) gives containers the same ulimits.
NOFILE_HARD=$(ulimit -Hn)
export BENCH_NOFILE_HARD=$NOFILE_HARD
AGENT="http://127.0.0.1:$REST_PORT"
# Every TCP listener wants a bearer token: the agent reads it from this file, curl and
# bench_client (CTRMGR_BENCH_TOKEN) send it.
export CTRMGR_BENCH_TOKEN="bench-$RANDOM$RANDOM-0123456789abcdef"
printf '%s\n' "$CTRMGR_BENCH_TOKEN" >"$WORK/rest-token"
acurl() { curl -H "Authorization: Bearer $CTRMGR_BENCH_TOKEN" "$@"; }
cat >"$WORK/agent.toml" <<EOF
[agent]
device_id = "$DEVICE"

[store]
backend = "lmdb"
path = "$WORK/data"
map_size_mb = 64

[runtime]
default = "docker-api"
docker_socket = "$DOCKER_SOCK"
podman_socket = "$PODMAN_SOCK"
call_timeout_s = 60
default_ulimits = ["nofile=1024:$NOFILE_HARD", "nproc=1024:1024"]

[rest]
listen = "127.0.0.1:$REST_PORT"
token_file = "$WORK/rest-token"
unix_socket = "$WORK/api.sock"

[mqtt]
host = "127.0.0.1"
port = $MQTT_PORT
# bench_client asks for its replies on bench/<client id>/reply: issue 14 wants a Response
# Topic outside the prefix allowed by name (topic levels, no trailing slash).
allowed_response_prefixes = ["bench"]

[policy]
max_containers = $((MANY + 50))

[log]
level = "info"
EOF
if [[ -n "$DBUS_ADDR" ]]; then
    printf '\n[dbus]\nbus = "%s"\n' "$DBUS_ADDR" >>"$WORK/agent.toml"
fi
MQ_QUEUE="/ctrmgr-bench-$$.req"
if has_feature mqueue; then
    printf '\n[mqueue]\nrequest_queue = "%s"\n' "$MQ_QUEUE" >>"$WORK/agent.toml"
fi
log "agent on $AGENT (config $WORK/agent.toml) ..."
"$AGENT_BIN" --config "$WORK/agent.toml" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 100); do
    curl -sf "$AGENT/healthz" >/dev/null && break
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited; see $WORK/agent.log"
    sleep 0.1
done
curl -sf "$AGENT/healthz" >/dev/null || die "the agent does not answer; see $WORK/agent.log"

status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$AGENT_PID/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat"; }

sleep 5
IDLE_RSS_KB=$(status_kb VmRSS)
# Where the idle pages are: anonymous (heap, stacks: what the agent allocated), the
# agent's own file (its text, mapped by the kernel in large page-cache folios, so
# nearly all of it) and the shared libraries (clean page-cache pages).
rollup_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$AGENT_PID/smaps_rollup"; }
IDLE_ANON_KB=$(rollup_kb Anonymous)
IDLE_TEXT_KB=$(awk -v bin="$(readlink -f "$AGENT_BIN")" '
    /^[0-9a-f]+-[0-9a-f]+ / { mine = ($6 == bin) }
    mine && $1 == "Rss:" { kb += $2 } END { print kb + 0 }' "/proc/$AGENT_PID/smaps")
THREADS=$(for t in /proc/"$AGENT_PID"/task/*; do cat "$t/comm"; done | sort | uniq -c |
    awk '{ n = $1; sub(/^ *[0-9]+ /, ""); printf "%s%s%s", sep, $0, (n > 1 ? " x" n : ""); sep = ", " }')
THREAD_COUNT=$(find /proc/"$AGENT_PID"/task -mindepth 1 -maxdepth 1 | wc -l)
log "idle: VmRSS ${IDLE_RSS_KB} kB, threads: $THREADS; counting CPU ticks for ${IDLE_S}s ..."
T0=$(ticks)
sleep "$IDLE_S"
IDLE_TICKS=$(($(ticks) - T0))
CLK_TCK=$(getconf CLK_TCK)

# Seed containers, so both lists have something to list.
for i in $(seq 0 9); do
    name="bench-seed-$$-$i"
    acurl -sf -o /dev/null -X POST "$AGENT/v1/containers" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$name\",\"image\":\"$IMAGE\",\"cmd\":[\"true\"],\"network\":\"none\"}" ||
        die "seeding container $name through the agent failed"
    SEEDED+=("$name")
done
SEED="${SEEDED[0]}"

load() { # load NAME TARGET PATH CONNECTIONS
    local line
    line=$("$CLIENT" load "$2" "$3" "$4" "$SECONDS_LOAD")
    log "$1: $line"
    printf '%s\n' "$line"
}
log "REST load: ${CONNECTIONS} connections x ${SECONDS_LOAD}s each ..."
L_AGENT_LIST=$(load "agent list" "tcp:127.0.0.1:$REST_PORT" "/v1/containers?all=true" "$CONNECTIONS")
L_DOCKER_LIST=$(load "dockerd list" "unix:$DOCKER_SOCK" "/containers/json?all=true" "$CONNECTIONS")
L_AGENT_INSPECT=$(load "agent inspect" "tcp:127.0.0.1:$REST_PORT" "/v1/containers/$SEED" "$CONNECTIONS")
L_DOCKER_INSPECT=$(load "dockerd inspect" "unix:$DOCKER_SOCK" "/containers/$SEED/json" "$CONNECTIONS")
LOAD_HWM_KB=$(status_kb VmHWM)

# Round trips: one request at a time, the same `list` op on every transport.
log "transport round trips ..."
RTT_REST=$(load "REST round trip" "tcp:127.0.0.1:$REST_PORT" "/v1/containers?all=true" 1)
RTT_MQTT=$("$CLIENT" mqtt 127.0.0.1 "$MQTT_PORT" "ctrmgr/$DEVICE/req" \
    '{"op":"list","args":{"all":true}}' 500) || RTT_MQTT="failed"
log "MQTT round trip: $RTT_MQTT"
# D-Bus: `List` through one in-process zbus connection of bench_client, one at a time.
# POSIX MQ: posix_ipc (the Python client scripts/services.sh installs) sends `list` with
# a reply_to queue of its own and waits for the reply, one at a time. Without an `id`,
# like the MQTT and D-Bus rows; with one, the agent also writes the reply to the store's
# idempotency cache (an LMDB commit) before sending it.
mq_rtt() { # mq_rtt N ID(0|1): `p50_ms=... p99_ms=...` of N round trips
    "$SVC_DIR/python/bin/python3" - "$MQ_QUEUE" "$1" "$2" <<'EOF'
import json, os, sys, time
import posix_ipc
queue, n, with_id = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
name = f"/ctrmgr-bench-reply-{os.getpid()}"
reply = posix_ipc.MessageQueue(name, posix_ipc.O_CREX, mode=0o600, max_messages=2,
                               max_message_size=8192)
try:
    requests = posix_ipc.MessageQueue(queue)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        request = {"op": "list", "args": {"all": True}, "reply_to": name}
        if with_id:
            request["id"] = f"bench-{os.getpid()}-{i}"
        requests.send(json.dumps(request))
        message, _ = reply.receive(30)
        times.append(time.perf_counter() - t0)
        if b'"ok":true' not in message.replace(b" ", b""):
            sys.exit(f"reply {i}: {message[:200]!r}")
    times.sort()
    print(f"p50_ms={times[n // 2] * 1000:.3f} p99_ms={times[n * 99 // 100] * 1000:.3f}")
finally:
    reply.close()
    reply.unlink()
EOF
}
RTT_DBUS="not built (dbus is not a default feature)"
RTT_MQUEUE="not built (mqueue is not a default feature)"
RTT_MQUEUE_ID=""
if [[ -n "$DBUS_ADDR" ]]; then
    RTT_DBUS=$("$CLIENT" dbus "$DBUS_ADDR" 500 2>>"$LOG") || RTT_DBUS="failed (see $LOG and $WORK/agent.log)"
fi
if has_feature mqueue; then
    RTT_MQUEUE=$(mq_rtt 500 0 2>>"$LOG") || RTT_MQUEUE="failed (see $LOG and $WORK/agent.log)"
    RTT_MQUEUE_ID=$(mq_rtt 200 1 2>>"$LOG") || RTT_MQUEUE_ID="failed"
fi
log "D-Bus round trip: $RTT_DBUS"
log "POSIX MQ round trip: $RTT_MQUEUE; with an id: $RTT_MQUEUE_ID"

# The same loads with $MANY containers (after the round trips: a `list` of $MANY is
# larger than a POSIX MQ message).
log "seeding up to $MANY containers ..."
for ((i = ${#SEEDED[@]}; i < MANY; i++)); do
    name="bench-seed-$$-$i"
    acurl -sf -o /dev/null -X POST "$AGENT/v1/containers" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$name\",\"image\":\"$IMAGE\",\"cmd\":[\"true\"],\"network\":\"none\",\"start\":false}" ||
        die "seeding container $name through the agent failed"
    SEEDED+=("$name")
done
L_AGENT_LIST_MANY=$(load "agent list, $MANY" "tcp:127.0.0.1:$REST_PORT" "/v1/containers?all=true" "$CONNECTIONS")
L_DOCKER_LIST_MANY=$(load "dockerd list, $MANY" "unix:$DOCKER_SOCK" "/containers/json?all=true" "$CONNECTIONS")
L_AGENT_INSPECT_MANY=$(load "agent inspect, $MANY" "tcp:127.0.0.1:$REST_PORT" "/v1/containers/$SEED" "$CONNECTIONS")
L_DOCKER_INSPECT_MANY=$(load "dockerd inspect, $MANY" "unix:$DOCKER_SOCK" "/containers/$SEED/json" "$CONNECTIONS")

# Lifecycle: engine path (base) vs the agent on the same path (via).
runtimes=$(acurl -sf "$AGENT/v1/info")
has_runtime() { grep -q "\"name\":\"$1\",\"available\":true" <<<"$runtimes"; }
lifecycle() { # lifecycle LABEL RUNTIME BASE
    local line
    if ! has_runtime "$2"; then
        printf 'unavailable\n'
        log "lifecycle $1: runtime $2 not available in this agent"
        return
    fi
    line=$("$CLIENT" lifecycle "$3" "agent:127.0.0.1:$REST_PORT:$2" "$IMAGE" "$N" "$ROUNDS") ||
        line="failed"
    log "lifecycle $1: $line"
    printf '%s\n' "$line"
}
log "lifecycle: $N containers x $ROUNDS rounds per path ..."
LC_DOCKER_API=$(lifecycle docker-api docker-api "docker-api:$DOCKER_SOCK")
LC_PODMAN_API=$(lifecycle podman-api podman-api "podman-api:$PODMAN_SOCK")
LC_DOCKER_CLI=$(lifecycle "docker CLI" docker "cli:docker")
LC_PODMAN_CLI=$(lifecycle "podman CLI" podman "cli:podman")
PEAK_HWM_KB=$(status_kb VmHWM)

# Instructions per request (all threads, under callgrind): the figure these noisy machines
# repeat, from a second agent of the same binary on a config of its own.
CG_LINE="valgrind not installed"
if command -v callgrind_control >/dev/null; then
    log "instructions per REST request (callgrind) ..."
    CG_LINE=$(BENCH_AGENT="$AGENT_BIN" BENCH_DIR="$WORK/callgrind" bash scripts/bench-callgrind.sh 2>>"$LOG") ||
        CG_LINE="failed (see $LOG)"
    log "callgrind: $CG_LINE"
fi

log "store rates (store_bench, release) ..."
STORE_OUT=$("$BIN_DIR/examples/store_bench" 2000 2>>"$LOG") || STORE_OUT=""
printf '%s\n' "$STORE_OUT" >>"$LOG"

# --- 5. the table ---------------------------------------------------------------------

verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**missed**"; fi; }
ratio_row() { # ratio_row LABEL LINE GOAL (issue 19: 1.05 for the API paths, 1.10 for the CLIs)
    local r
    case "$2" in
    unavailable | failed) printf '| lifecycle %s | %s | | <= %sx | - |\n' "$1" "$2" "$3" ;;
    *)
        r=$(kv ratio "$2")
        printf '| lifecycle %s (ms/container, agent vs engine) | %s vs %s | %sx | <= %sx | %s |\n' \
            "$1" "$(kv via_ms "$2")" "$(kv base_ms "$2")" "$r" "$3" "$(verdict "$r <= $3")"
        ;;
    esac
}
load_row() { # load_row LABEL LINE
    printf '| %s | %s req/s | p50 %s ms, p99 %s ms; %s B, %s errors | | - |\n' "$1" \
        "$(kv rps "$2")" "$(kv p50_ms "$2")" "$(kv p99_ms "$2")" "$(kv body_bytes "$2")" "$(kv errors "$2")"
}
ratio_cell() { # ratio_cell LABEL AGENT_LINE ENGINE_LINE GOAL: req/s ratio row
    local a e r
    a=$(kv rps "$2")
    e=$(kv rps "$3")
    r=$(awk -v a="${a:-0}" -v e="${e:-0}" 'BEGIN { if (e > 0) printf "%.2f", a / e; else print 0 }')
    printf '| %s | %sx | %s vs %s req/s | >= %sx (issue 19) | %s |\n' "$1" "$r" "$a" "$e" "$4" \
        "$(verdict "$r >= $4")"
}
rtt_cell() {
    case "$1" in
    *p50_ms=*) printf 'p50 %s ms, p99 %s ms' "$(kv p50_ms "$1")" "$(kv p99_ms "$1")" ;;
    *) printf '%s' "$1" ;;
    esac
}
store_rate() { awk -v b="$1" -v w="$2" '$1 == b && index($0, w) { print $(NF - 1) }' <<<"$STORE_OUT" | head -n 1; }

mem_kb=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
aarch64_all=${SIZE_ALL[aarch64-unknown-linux-gnu]:-}
idle_wakeups=$(awk -v t="$IDLE_TICKS" -v s="$IDLE_S" 'BEGIN { printf "%.2f", t / s }')
agent_list_rps=$(kv rps "$L_AGENT_LIST")
docker_list_rps=$(kv rps "$L_DOCKER_LIST")

cat <<EOF
### ctrmgr footprint and speed

- date: $(date -u +%Y-%m-%dT%H:%MZ); ctrmgr $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml || echo ' (with uncommitted changes)')${BENCH_AGENT:+; agent binary $BENCH_AGENT (not built from this tree)}
- machine: $(nproc) cores ($cpu_model), $((mem_kb / 1024)) MiB RAM, Linux $(uname -r), $(docker version --format 'Docker {{.Server.Version}}' 2>/dev/null), $(podman --version 2>/dev/null)
- command: \`$COMMAND\` (load: $CONNECTIONS connections x ${SECONDS_LOAD}s; lifecycle: $N containers x $ROUNDS rounds; idle: ${IDLE_S}s)

| measure | ctrmgr | reference / detail | budget | verdict |
|---|---|---|---|---|
EOF
for t in "$HOST" aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
    [[ -n "${SIZE_ALL[$t]:-}" ]] || continue
    budget="" ok="-"
    if [[ $t == aarch64-unknown-linux-gnu ]]; then
        budget="<= 8 MiB"
        ok=$(verdict "${SIZE_ALL[$t]} <= 8 * 1048576")
    fi
    minimal="not built (BENCH_AGENT)"
    [[ -z "${SIZE_MIN[$t]:-}" ]] || minimal=$(mib "${SIZE_MIN[$t]}")
    printf '| stripped binary %s, every default feature | %s | minimal (%s): %s | %s | %s |\n' \
        "$t" "$(mib "${SIZE_ALL[$t]}")" "$MINIMAL_FEATURES" "$minimal" "$budget" "$ok"
done
[[ -n "$aarch64_all" ]] || printf '| stripped binary aarch64 | not built (BENCH_TARGETS=host) | | <= 8 MiB | - |\n'
cat <<EOF
| idle RSS (VmRSS, 5 s after start) | $((IDLE_RSS_KB / 1024)).$(((IDLE_RSS_KB % 1024) * 10 / 1024)) MiB | every default transport on, LMDB open | <= 5 MiB (issue 19) | $(verdict "$IDLE_RSS_KB <= 5120") |
| idle RSS by kind (/proc/PID/smaps) | anonymous $((IDLE_ANON_KB / 1024)).$(((IDLE_ANON_KB % 1024) * 10 / 1024)) MiB | the agent's file (text, rodata) $((IDLE_TEXT_KB / 1024)).$(((IDLE_TEXT_KB % 1024) * 10 / 1024)) MiB; shared libraries and the rest $(((IDLE_RSS_KB - IDLE_ANON_KB - IDLE_TEXT_KB) / 1024)).$((((IDLE_RSS_KB - IDLE_ANON_KB - IDLE_TEXT_KB) % 1024) * 10 / 1024)) MiB | | - |
| peak RSS (VmHWM) after REST load | $((LOAD_HWM_KB / 1024)).$(((LOAD_HWM_KB % 1024) * 10 / 1024)) MiB | after lifecycle runs too: $((PEAK_HWM_KB / 1024)).$(((PEAK_HWM_KB % 1024) * 10 / 1024)) MiB | | - |
| OS threads at idle | $THREAD_COUNT | $THREADS | <= 4, named | $(verdict "$THREAD_COUNT <= 4") |
| CPU ticks over ${IDLE_S} s idle | $IDLE_TICKS (${idle_wakeups}/s at $CLK_TCK Hz) | utime+stime from /proc/PID/stat | no wake-ups more often than 1/s | - |
EOF
load_row "REST list, agent \`GET /v1/containers?all=true\`" "$L_AGENT_LIST"
load_row "dockerd list \`GET /containers/json?all=true\` (unix socket)" "$L_DOCKER_LIST"
printf '| REST list faster than dockerd list | %s vs %s req/s | | agent > dockerd | %s |\n' \
    "$agent_list_rps" "$docker_list_rps" "$(verdict "${agent_list_rps:-0} > ${docker_list_rps:-0}")"
load_row "REST inspect, agent \`GET /v1/containers/NAME\`" "$L_AGENT_INSPECT"
load_row "dockerd inspect \`GET /containers/NAME/json\` (unix socket)" "$L_DOCKER_INSPECT"
ratio_cell "REST inspect vs dockerd inspect" "$L_AGENT_INSPECT" "$L_DOCKER_INSPECT" 1.0
ratio_cell "REST list vs dockerd list" "$L_AGENT_LIST" "$L_DOCKER_LIST" 3.0
load_row "REST list, $MANY containers" "$L_AGENT_LIST_MANY"
load_row "dockerd list, $MANY containers" "$L_DOCKER_LIST_MANY"
ratio_cell "REST list vs dockerd list, $MANY containers" "$L_AGENT_LIST_MANY" "$L_DOCKER_LIST_MANY" 3.0
load_row "REST inspect, $MANY containers" "$L_AGENT_INSPECT_MANY"
load_row "dockerd inspect, $MANY containers" "$L_DOCKER_INSPECT_MANY"
ratio_cell "REST inspect vs dockerd inspect, $MANY containers" "$L_AGENT_INSPECT_MANY" "$L_DOCKER_INSPECT_MANY" 1.0
cat <<EOF
| round trip REST (\`list\`, 1 connection) | $(rtt_cell "$RTT_REST") | keep-alive HTTP/1.1 | | - |
| round trip MQTT (\`list\`, QoS 1, Response Topic) | $(rtt_cell "$RTT_MQTT") | via local mosquitto | | - |
| round trip D-Bus (\`List\`) | $(rtt_cell "$RTT_DBUS") | in-process zbus client (bench_client dbus), private bus | p50 < 0.5 ms | - |
| round trip POSIX MQ (\`list\`, reply_to queue) | $(rtt_cell "$RTT_MQUEUE") | in-process Python posix_ipc client; with an \`id\` (reply cached in LMDB): $(rtt_cell "$RTT_MQUEUE_ID") | p50 < 0.5 ms | - |
EOF
case "$CG_LINE" in
list_ir=*)
    printf "| instructions per REST \`list\` (%s containers; callgrind, every thread) | %s | machine-independent; %s requests on one keep-alive connection | | - |\n" \
        "$(kv containers "$CG_LINE")" "$(kv list_ir "$CG_LINE")" "$(kv requests "$CG_LINE")"
    printf "| instructions per REST \`inspect\` | %s | the same agent, the same way | | - |\n" "$(kv inspect_ir "$CG_LINE")"
    ;;
*) printf '| instructions per REST request (callgrind) | %s | | | - |\n' "$CG_LINE" ;;
esac
ratio_row docker-api "$LC_DOCKER_API" 1.05
ratio_row podman-api "$LC_PODMAN_API" 1.05
ratio_row "docker CLI" "$LC_DOCKER_CLI" 1.10
ratio_row "podman CLI" "$LC_PODMAN_CLI" 1.10
for b in lmdb redis; do
    printf '| store %s ops/s | put %s, get %s | put x8 tasks %s, list of 2000 %s/s, put_reply %s | | - |\n' "$b" \
        "$(store_rate "$b" "put_container ")" "$(store_rate "$b" get_container)" \
        "$(store_rate "$b" "tasks")" "$(store_rate "$b" list_containers)" "$(store_rate "$b" put_reply)"
done
log "done; raw figures in $LOG"
