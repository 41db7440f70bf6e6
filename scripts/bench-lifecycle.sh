#!/usr/bin/env bash
# The lifecycle rows of scripts/bench.sh alone (issue 19), on prebuilt release binaries:
# create + start + stop + remove through the agent's REST vs the engine directly, per
# access path, and what the agent asks the engines per op (machine-independent).
#
#   BENCH_AGENT=target/release/ctrmgr BENCH_CLIENT=target/release/examples/bench_client \
#       bash scripts/bench-lifecycle.sh            # or: BENCH_ONLY=lifecycle scripts/bench.sh
#
# Environment: BENCH_N (containers per batch, 10), BENCH_ROUNDS (3), BENCH_PATHS (the
# access paths, default "docker-api podman-api docker podman"), BENCH_COUNT (1: before
# the timed rows, one container per path through the agent under strace, printing the
# engine HTTP requests and engine CLI processes of each op, reconciler included),
# BENCH_DIR (work dir). Needs dockerd and the Podman API service running (services.sh).
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${BENCH_N:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
PATHS="${BENCH_PATHS:-docker-api podman-api docker podman}"
AGENT_BIN="${BENCH_AGENT:?BENCH_AGENT: the release binary of the agent}"
CLIENT="${BENCH_CLIENT:?BENCH_CLIENT: examples/bench_client, release}"
DOCKER_SOCK=/var/run/docker.sock
PODMAN_SOCK=/run/podman/podman.sock
IMAGE=ctrmgr-test/busybox:latest
WORK="${BENCH_DIR:-$(mktemp -d /tmp/ctrmgr-bench-lc.XXXXXX)}"
mkdir -p "$WORK"
log() { printf '[bench-lifecycle] %s\n' "$*" >&2; }

AGENT_PID=""
stop_agent() {
    [[ -n "$AGENT_PID" ]] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=""
}
trap stop_agent EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CTRMGR_BENCH_TOKEN="bench-$RANDOM$RANDOM-0123456789abcdef"
export BENCH_NOFILE_HARD
BENCH_NOFILE_HARD=$(ulimit -Hn)
printf '%s\n' "$CTRMGR_BENCH_TOKEN" >"$WORK/rest-token"
cat >"$WORK/agent.toml" <<EOF
[agent]
device_id = "bench-lc-$$"

[store]
backend = "lmdb"
path = "$WORK/data"
map_size_mb = 64

[runtime]
default = "docker-api"
docker_socket = "$DOCKER_SOCK"
podman_socket = "$PODMAN_SOCK"
call_timeout_s = 60
default_ulimits = ["nofile=1024:$BENCH_NOFILE_HARD", "nproc=1024:1024"]

[rest]
listen = "127.0.0.1:$PORT"
token_file = "$WORK/rest-token"

[log]
level = "warn"
EOF
AGENT="http://127.0.0.1:$PORT"
acurl() { curl -sf -H "Authorization: Bearer $CTRMGR_BENCH_TOKEN" "$@"; }

# start_agent [WRAPPER...]: the agent (under WRAPPER, e.g. strace), until it answers and
# follows both engines' events (a lifecycle while it opens the streams is not steady).
start_agent() {
    "$@" "$AGENT_BIN" --config "$WORK/agent.toml" >"$WORK/agent.log" 2>&1 &
    AGENT_PID=$!
    for _ in $(seq 100); do
        curl -sf "$AGENT/healthz" >/dev/null && break
        sleep 0.1
    done
    curl -sf "$AGENT/healthz" >/dev/null || {
        log "the agent does not answer; see $WORK/agent.log"
        exit 1
    }
    sleep 2
}

# calls FILE NAME ID: "HTTP EXECS" in the strace log FILE so far: the agent's engine HTTP
# requests about the container NAME (by name or ID, and creates: other agents on the
# shared engines cause events and inspects of their own containers), and the engine CLI
# processes it started (it starts none but for these ops). What the CLI processes do
# (their requests to their daemon, conmon's `podman container cleanup`) is the engine's:
# lines of an exec'd process and of the threads and processes it made are left out.
calls() {
    awk -v name="$2" -v id="${3:-none}" '
        function ours(line) { return index(line, name) || index(line, id) }
        { pid = $1 }
        /execve\("[^"]*\/(docker|podman)"/ {
            if (!(pid in child)) execs++
            child[pid] = 1
        }
        /(clone3?\(|<\.\.\. clone3? resumed>)/ && match($0, /= [0-9]+$/) {
            if (pid in child) child[substr($0, RSTART + 2)] = 1
        }
        /(write|sendto)\([0-9]+, "(GET|POST|DELETE) \/|writev\([0-9]+, \[\{iov_base="(GET|POST|DELETE) \// {
            if (!(pid in child) && (ours($0) || /\/containers\/create/)) http++
        }
        END { print http + 0, execs + 0 }' "$1"
}

if [[ "${BENCH_COUNT:-0}" == 1 ]]; then
    start_agent strace -f -qq -s 200 -e trace=write,writev,sendto,execve,clone,clone3 -o "$WORK/strace.log"
    for rt in $PATHS; do
        name="bench-count-$$-$rt"
        counts=()
        id=""
        step() { # step OP...: run it, let the events settle, count what it cost
            local h0 e0 h1 e1 reply
            read -r h0 e0 < <(calls "$WORK/strace.log" "$name" "$id")
            reply=$("$@")
            [[ -n "$id" ]] || id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])' <<<"$reply")
            sleep 1
            read -r h1 e1 < <(calls "$WORK/strace.log" "$name" "$id")
            counts+=("$((h1 - h0)) HTTP + $((e1 - e0)) CLI")
        }
        step acurl -X POST "$AGENT/v1/containers?runtime=$rt" -H 'Content-Type: application/json' \
            -d "{\"name\":\"$name\",\"image\":\"$IMAGE\",\"cmd\":[\"sleep\",\"300\"],\"network\":\"none\"}"
        step acurl -X POST "$AGENT/v1/containers/$name/start"
        step acurl -X POST "$AGENT/v1/containers/$name/stop" -H 'Content-Type: application/json' -d '{"timeout_s":0}'
        step acurl -X DELETE "$AGENT/v1/containers/$name"
        printf 'engine calls via %s (reconciler included): create %s, start %s, stop %s, remove %s\n' \
            "$rt" "${counts[@]}"
    done
    stop_agent
fi

start_agent
for rt in $PATHS; do
    case "$rt" in
    docker-api) base="docker-api:$DOCKER_SOCK" ;;
    podman-api) base="podman-api:$PODMAN_SOCK" ;;
    *) base="cli:$rt" ;;
    esac
    line=$("$CLIENT" lifecycle "$base" "agent:127.0.0.1:$PORT:$rt" "$IMAGE" "$N" "$ROUNDS") ||
        line="failed"
    printf 'lifecycle %s: %s\n' "$rt" "$line"
done
