#!/usr/bin/env bash
# Instructions per REST request (issue 19), the machine-independent figure: the agent
# runs under `valgrind --tool=callgrind`, and the instructions of all its threads are
# counted over REQUESTS keep-alive `list` requests and then REQUESTS `inspect` requests
# (counters zeroed before each batch, dumped after it), divided by REQUESTS. Unlike
# req/s on these shared machines, the count repeats within a few percent.
#
#   BENCH_AGENT=target/release/ctrmgr bash scripts/bench-callgrind.sh
#
# Environment: BENCH_AGENT (a release agent, required), BENCH_REQUESTS (200),
# BENCH_SEED (containers the agent manages while measured, 10), BENCH_DIR (work dir).
# Needs valgrind (callgrind_control) and dockerd with the test image (services.sh up).
# Prints `list_ir=... inspect_ir=... requests=... containers=...` on stdout.
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
AGENT_BIN="${BENCH_AGENT:?BENCH_AGENT: the release binary of the agent}"
REQUESTS="${BENCH_REQUESTS:-200}"
SEED="${BENCH_SEED:-10}"
IMAGE=ctrmgr-test/busybox:latest
WORK="${BENCH_DIR:-$(mktemp -d /tmp/ctrmgr-bench-cg.XXXXXX)}"
mkdir -p "$WORK"
SOCK="$WORK/api.sock"
log() { printf '[bench-callgrind] %s\n' "$*" >&2; }
command -v callgrind_control >/dev/null || {
    log "valgrind not found (package valgrind)"
    exit 1
}

TAG="cg$$"
PID=""
clean_up() {
    local i
    for ((i = 0; i < SEED; i++)); do
        docker rm -f "$TAG-$i" >/dev/null 2>&1 || true
    done
    [[ -z "$PID" ]] || kill -TERM "$PID" 2>/dev/null || true
}
trap clean_up EXIT

cat >"$WORK/agent.toml" <<EOF
[agent]
device_id = "$TAG"

[store]
backend = "lmdb"
path = "$WORK/data"
map_size_mb = 64

[runtime]
default = "docker-api"
docker_socket = "/var/run/docker.sock"

[rest]
unix_socket = "$SOCK"

[log]
level = "warn"
EOF
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out.%p" \
    "$AGENT_BIN" --config "$WORK/agent.toml" >"$WORK/agent.log" 2>&1 &
PID=$!
api() { curl -sf --unix-socket "$SOCK" "$@"; }
for _ in $(seq 600); do
    api -o /dev/null http://ctrmgr/healthz && break
    kill -0 "$PID" 2>/dev/null || {
        log "the agent exited under valgrind; see $WORK/agent.log"
        exit 1
    }
    sleep 0.2
done
api -o /dev/null http://ctrmgr/healthz || {
    log "the agent does not answer under valgrind; see $WORK/agent.log"
    exit 1
}
for ((i = 0; i < SEED; i++)); do
    api -o /dev/null -X POST http://ctrmgr/v1/containers -H 'Content-Type: application/json' \
        -d "{\"name\":\"$TAG-$i\",\"image\":\"$IMAGE\",\"cmd\":[\"true\"],\"network\":\"none\",\"start\":false}"
done

# batch PATH N: N requests on one keep-alive connection (one curl process).
batch() {
    local urls=() i
    for ((i = 0; i < $2; i++)); do urls+=("http://ctrmgr$1"); done
    curl -sf --unix-socket "$SOCK" "${urls[@]}" >/dev/null
}
# instructions PATH: the agent's instructions (all threads) for REQUESTS requests.
instructions() {
    local before dump
    batch "$1" 20
    callgrind_control -z "$PID" >/dev/null 2>&1
    batch "$1" "$REQUESTS"
    before=$(find "$WORK" -name "callgrind.out.$PID.*" | wc -l)
    callgrind_control -d "$PID" >/dev/null 2>&1
    for _ in $(seq 100); do
        [[ $(find "$WORK" -name "callgrind.out.$PID.*" | wc -l) -gt $before ]] && break
        sleep 0.1
    done
    dump=$(find "$WORK" -name "callgrind.out.$PID.*" -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
    # Threads are not separated (callgrind's default): one dump, one `summary:` line.
    awk '$1 == "summary:" || $1 == "totals:" { print $2; exit }' "$dump"
}
LIST_IR=$(instructions "/v1/containers?all=true")
INSPECT_IR=$(instructions "/v1/containers/$TAG-0")
log "list: $LIST_IR instructions for $REQUESTS requests; inspect: $INSPECT_IR"
printf 'list_ir=%s inspect_ir=%s requests=%s containers=%s\n' \
    "$((LIST_IR / REQUESTS))" "$((INSPECT_IR / REQUESTS))" "$REQUESTS" "$SEED"
