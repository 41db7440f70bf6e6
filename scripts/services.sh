#!/usr/bin/env bash
# Test services for ctrmgr: install what is missing, start, stop, report.
#
#   scripts/services.sh up       install missing packages, configure podman, start what
#                                is not running, build and push the busybox test image
#                                and pull it into podman
#   scripts/services.sh down     stop what this script started (by its pid files) and
#                                put back the podman configuration files `up` replaced
#                                (`down podman` does that too; other services leave it)
#   scripts/services.sh status   say what runs, and who started it
#
# Idempotent. A service that already answers (a dockerd on the socket, a registry on
# port 5000, a podman service on its socket) is reused, never started twice, and never
# stopped by `down`.
#
# Environment:
#   CTRMGR_SVC_DIR           state dir: logs, pid files, configs (default /tmp/ctrmgr-test-services)
#   CTRMGR_SVC_STARTED_FILE  if set, `up` appends the name of each service it started
#                            (scripts/test.sh uses this to stop only those on exit)
#   CTRMGR_SKIP_INSTALL=1    never call apt-get (report missing packages and go on)
#   CTRMGR_DOCKER_SOCK, CTRMGR_REGISTRY_ADDR, CTRMGR_DOCKERD_ARGS, CTRMGR_REDIS_PORT,
#                            CTRMGR_PODMAN_SOCK, CTRMGR_CONTAINERS_CONF, CTRMGR_REGISTRIES_DROPIN
#                            only to exercise this script beside running services
set -euo pipefail
shopt -s inherit_errexit

STATE_DIR="${CTRMGR_SVC_DIR:-/tmp/ctrmgr-test-services}"
DOCKER_SOCK="${CTRMGR_DOCKER_SOCK:-/var/run/docker.sock}"
REGISTRY_ADDR="${CTRMGR_REGISTRY_ADDR:-127.0.0.1:5000}"
REDIS_PORT="${CTRMGR_REDIS_PORT:-6379}"
# The Redis Cluster: six nodes (three masters, one replica each) on consecutive ports.
REDIS_CLUSTER_FIRST_PORT="${CTRMGR_REDIS_CLUSTER_PORT:-7001}"
PODMAN_SOCK="${CTRMGR_PODMAN_SOCK:-/run/podman/podman.sock}"
# Extra dockerd arguments (e.g. a second daemon for testing this script:
# --data-root DIR --exec-root DIR --bridge BRIDGE --iptables=false). Never `--bridge none`
# in the host's network namespace: dockerd then deletes the `docker0` interface (moby's
# configureNetworking calls removeDefaultBridgeInterface) under the running dockerd.
read -r -a DOCKERD_ARGS <<<"${CTRMGR_DOCKERD_ARGS:-}"
export DOCKER_HOST="unix://$DOCKER_SOCK"
IMAGE_LOCAL=ctrmgr-test/busybox:latest
IMAGE_REMOTE="$REGISTRY_ADDR/ctrmgr-test/busybox:latest"
WAIT_S=60

# Debian packages, by purpose. Later issues add to these lists.
PKGS_SERVICES=(docker.io busybox-static docker-registry curl
    podman runc redis-server mosquitto mosquitto-clients dbus)
PKGS_CROSS=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
    libc6-dev-arm64-cross libc6-dev-armhf-cross qemu-user-static)
PKGS_TOOLS=(systemd python3 python3-venv shellcheck)

# Applets linked into the test image's /bin.
BUSYBOX_APPLETS=(sh sleep echo cat ls env id pwd touch mkdir rm wc grep nc httpd ps
    kill true false yes head tail printf test)

log() { printf '[services] %s\n' "$*" >&2; }
die() {
    printf '[services] ERROR: %s\n' "$*" >&2
    exit 1
}

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root for: $*"
    fi
}

# --- packages -------------------------------------------------------------------------

missing_packages() {
    local p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
            printf '%s\n' "$p"
        fi
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages "${PKGS_SERVICES[@]}" "${PKGS_CROSS[@]}" "${PKGS_TOOLS[@]}")
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    if [[ "${CTRMGR_SKIP_INSTALL:-0}" == 1 ]]; then
        log "missing packages (not installed, CTRMGR_SKIP_INSTALL=1): ${missing[*]}"
        return 0
    fi
    log "installing: ${missing[*]}"
    as_root apt-get update -qq
    # Package post-install scripts must not try to start services (no init system here).
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >"$STATE_DIR/apt.log" 2>&1 ||
        die "apt-get install failed; see $STATE_DIR/apt.log"
}

# --- pid files ------------------------------------------------------------------------

# pid_alive NAME EXE: the pid in NAME.pid is alive and runs EXE (guards against pid reuse).
pid_alive() {
    local name=$1 exe=$2 pidfile="$STATE_DIR/$1.pid" pid
    [[ -s "$pidfile" ]] || return 1
    pid=$(<"$pidfile")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$exe" || {
        log "$name: pid $pid from $pidfile is now another process; ignoring it"
        return 1
    }
}

# stop_service NAME EXE: stop the process in NAME.pid if it is ours and alive.
stop_service() {
    local name=$1 exe=$2 pidfile="$STATE_DIR/$1.pid" pid i
    if ! pid_alive "$name" "$exe"; then
        rm -f "$pidfile"
        return 0
    fi
    pid=$(<"$pidfile")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 30 * 5; i++)); do
        [[ -e "/proc/$pid" ]] || break
        sleep 0.2
    done
    if [[ -e "/proc/$pid" ]]; then
        log "$name (pid $pid) still alive after 30 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

record_started() {
    if [[ -n "${CTRMGR_SVC_STARTED_FILE:-}" ]]; then
        printf '%s\n' "$1" >>"$CTRMGR_SVC_STARTED_FILE"
    fi
}

# wait_for NAME LOGFILE PIDFILE CHECK...: poll CHECK for up to WAIT_S seconds.
wait_for() {
    local name=$1 logfile=$2 pidfile=$3 i pid
    shift 3
    for ((i = 0; i < WAIT_S * 5; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if [[ -s "$pidfile" ]]; then
            pid=$(<"$pidfile")
            if [[ ! -e "/proc/$pid" ]]; then
                tail -n 30 "$logfile" >&2 || true
                die "$name exited during start-up; log: $logfile"
            fi
        fi
        sleep 0.2
    done
    tail -n 30 "$logfile" >&2 || true
    die "$name did not answer within ${WAIT_S}s; log: $logfile"
}

# --- dockerd --------------------------------------------------------------------------

docker_ping() { curl -sf --max-time 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping; }

dockerd_up() {
    if docker_ping >/dev/null 2>&1; then
        if pid_alive dockerd dockerd; then
            log "dockerd: running (ours, pid $(<"$STATE_DIR/dockerd.pid"))"
        else
            log "dockerd: already answers on $DOCKER_SOCK; reusing it"
        fi
        return 0
    fi
    command -v dockerd >/dev/null || die "dockerd not found (package docker.io)"
    log "dockerd: starting (log $STATE_DIR/dockerd.log)"
    rm -f "$STATE_DIR/dockerd.pid"
    # dockerd writes its own pid file; setsid detaches it from our session and signals.
    setsid dockerd --host "unix://$DOCKER_SOCK" --pidfile "$STATE_DIR/dockerd.pid" \
        "${DOCKERD_ARGS[@]}" </dev/null >"$STATE_DIR/dockerd.log" 2>&1 &
    local launcher=$!
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$STATE_DIR/dockerd.pid" ]] && break
        sleep 0.1
    done
    [[ -s "$STATE_DIR/dockerd.pid" ]] || echo "$launcher" >"$STATE_DIR/dockerd.pid"
    record_started dockerd
    wait_for dockerd "$STATE_DIR/dockerd.log" "$STATE_DIR/dockerd.pid" docker_ping
    log "dockerd: ready (pid $(<"$STATE_DIR/dockerd.pid"))"
}

# --- registry -------------------------------------------------------------------------

registry_ping() { curl -sf --max-time 2 "http://$REGISTRY_ADDR/v2/"; }

registry_up() {
    if registry_ping >/dev/null 2>&1; then
        if pid_alive registry docker-registry; then
            log "registry: running (ours, pid $(<"$STATE_DIR/registry.pid"))"
        else
            log "registry: already answers on $REGISTRY_ADDR; reusing it"
        fi
        return 0
    fi
    command -v docker-registry >/dev/null || die "docker-registry not found (package docker-registry)"
    mkdir -p "$STATE_DIR/registry-data"
    rm -f "$STATE_DIR/registry.pid"
    cat >"$STATE_DIR/registry.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry-data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
    log "registry: starting on $REGISTRY_ADDR (log $STATE_DIR/registry.log)"
    # Without job control a background job is not a process-group leader, so setsid
    # execs in place and $! is the registry's own pid.
    setsid docker-registry serve "$STATE_DIR/registry.yml" \
        </dev/null >"$STATE_DIR/registry.log" 2>&1 &
    echo $! >"$STATE_DIR/registry.pid"
    record_started registry
    wait_for registry "$STATE_DIR/registry.log" "$STATE_DIR/registry.pid" registry_ping
    log "registry: ready (pid $(<"$STATE_DIR/registry.pid"))"
}

# --- redis-server ---------------------------------------------------------------------

redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }

redis_up() {
    if redis_ping; then
        if pid_alive redis redis-server; then
            log "redis: running (ours, pid $(<"$STATE_DIR/redis.pid"))"
        else
            log "redis: already answers on 127.0.0.1:$REDIS_PORT; reusing it"
        fi
        return 0
    fi
    command -v redis-server >/dev/null || die "redis-server not found (package redis-server)"
    rm -f "$STATE_DIR/redis.pid"
    log "redis: starting on 127.0.0.1:$REDIS_PORT (log $STATE_DIR/redis.log)"
    # In memory only: the tests make their own keys under unique prefixes.
    setsid redis-server --daemonize no --port "$REDIS_PORT" --bind 127.0.0.1 \
        --save "" --appendonly no </dev/null >"$STATE_DIR/redis.log" 2>&1 &
    echo $! >"$STATE_DIR/redis.pid"
    record_started redis
    wait_for redis "$STATE_DIR/redis.log" "$STATE_DIR/redis.pid" redis_ping
    log "redis: ready (pid $(<"$STATE_DIR/redis.pid"))"
}

# --- Redis Cluster --------------------------------------------------------------------

redis_cluster_ports() { seq "$REDIS_CLUSTER_FIRST_PORT" $((REDIS_CLUSTER_FIRST_PORT + 5)); }

redis_cluster_ok() {
    redis-cli -h 127.0.0.1 -p "$REDIS_CLUSTER_FIRST_PORT" cluster info 2>/dev/null |
        grep -q '^cluster_state:ok'
}

redis_node_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

# Six in-memory cluster nodes, then `redis-cli --cluster create` with one replica per
# master. The tests' keys live under unique prefixes; the failover test makes its own
# private cluster instead of killing nodes of this one.
redis_cluster_up() {
    if redis_cluster_ok; then
        log "redis-cluster: already answers on 127.0.0.1:$REDIS_CLUSTER_FIRST_PORT; reusing it"
        return 0
    fi
    local port name dir="$STATE_DIR/redis-cluster" nodes=()
    for port in $(redis_cluster_ports); do
        name="redis-cluster-$port"
        nodes+=("127.0.0.1:$port")
        redis_node_ping "$port" && die "127.0.0.1:$port answers but is not a healthy cluster node"
        rm -rf "${dir:?}/$port" "$STATE_DIR/$name.pid"
        mkdir -p "$dir/$port"
        setsid redis-server --daemonize no --port "$port" --bind 127.0.0.1 \
            --cluster-enabled yes --cluster-node-timeout 5000 --repl-diskless-sync-delay 0 --dir "$dir/$port" \
            --save "" --appendonly no </dev/null >"$STATE_DIR/$name.log" 2>&1 &
        echo $! >"$STATE_DIR/$name.pid"
        wait_for "$name" "$STATE_DIR/$name.log" "$STATE_DIR/$name.pid" redis_node_ping "$port"
    done
    record_started redis-cluster
    log "redis-cluster: creating the cluster on ${nodes[*]}"
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes \
        >"$STATE_DIR/redis-cluster-create.log" 2>&1 ||
        die "redis-cli --cluster create failed; see $STATE_DIR/redis-cluster-create.log"
    wait_for redis-cluster "$STATE_DIR/redis-cluster-create.log" /dev/null redis_cluster_ok
    log "redis-cluster: ready on 127.0.0.1:$REDIS_CLUSTER_FIRST_PORT-$((REDIS_CLUSTER_FIRST_PORT + 5))"
}

redis_cluster_down() {
    local port
    for port in $(redis_cluster_ports); do
        stop_service "redis-cluster-$port" redis-server
    done
}

# --- busybox test image ---------------------------------------------------------------

busybox_bin() {
    # busybox-static installs /bin/busybox (it conflicts with the dynamic `busybox`).
    [[ -x /bin/busybox ]] || die "no /bin/busybox (package busybox-static)"
    missing_packages busybox-static | grep -q . && die "/bin/busybox is not from busybox-static"
    echo /bin/busybox
}

build_rootfs_tar() {
    local out=$1 root="$STATE_DIR/rootfs" applet
    rm -rf "$root"
    mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,www}
    chmod 1777 "$root/tmp"
    cp "$(busybox_bin)" "$root/bin/busybox"
    for applet in "${BUSYBOX_APPLETS[@]}"; do
        ln -s busybox "$root/bin/$applet"
    done
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
    echo 'ctrmgr test image' >"$root/www/index.html"
    tar --owner=0 --group=0 --numeric-owner -C "$root" -cf "$out" .
}

image_in_registry() {
    curl -sf --max-time 5 -o /dev/null \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "http://$REGISTRY_ADDR/v2/ctrmgr-test/busybox/manifests/latest"
}

image_up() {
    if docker image inspect "$IMAGE_LOCAL" >/dev/null 2>&1 && image_in_registry; then
        log "image: $IMAGE_LOCAL present and pushed"
        return 0
    fi
    local tar="$STATE_DIR/busybox-rootfs.tar"
    log "image: building $IMAGE_LOCAL from busybox-static"
    build_rootfs_tar "$tar"
    docker import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' "$tar" "$IMAGE_LOCAL" >/dev/null
    docker tag "$IMAGE_LOCAL" "$IMAGE_REMOTE"
    log "image: pushing $IMAGE_REMOTE"
    docker push "$IMAGE_REMOTE" >"$STATE_DIR/push.log" 2>&1 ||
        die "docker push $IMAGE_REMOTE failed; see $STATE_DIR/push.log"
}

# --- python test clients ------------------------------------------------------------

# Third-party clients the tests drive the agent with, in a venv under the state dir
# (tests/mqueue.rs runs $STATE_DIR/python/bin/python3): posix_ipc for POSIX MQ;
# protobuf and grpcio-tools (its protoc) for tests/rest_protobuf.rs's Python client;
# grpcio for tests/grpc.rs's client.
PY_CLIENTS=(posix_ipc==1.3.2 protobuf==7.36.2 grpcio-tools==1.85.1 grpcio==1.85.4)

python_clients_up() {
    local venv="$STATE_DIR/python"
    if "$venv/bin/python3" -c 'import posix_ipc, google.protobuf, grpc_tools' >/dev/null 2>&1; then
        log "python clients: present in $venv"
        return 0
    fi
    if [[ "${CTRMGR_SKIP_INSTALL:-0}" == 1 ]]; then
        log "python clients missing (not installed, CTRMGR_SKIP_INSTALL=1): ${PY_CLIENTS[*]}"
        return 0
    fi
    log "python clients: installing ${PY_CLIENTS[*]} into $venv"
    python3 -m venv "$venv" >"$STATE_DIR/pip.log" 2>&1 ||
        die "python3 -m venv $venv failed; see $STATE_DIR/pip.log"
    "$venv/bin/pip" install -q "${PY_CLIENTS[@]}" >>"$STATE_DIR/pip.log" 2>&1 ||
        die "pip install ${PY_CLIENTS[*]} failed; see $STATE_DIR/pip.log"
}

# --- podman ---------------------------------------------------------------------------

# What podman needs on these machines (see ../shared/ENVIRONMENT.md): runc (crun fails
# with "cgroups in hybrid mode not supported"), cgroupfs and file events (no systemd),
# and ulimits within the hard RLIMIT_NOFILE of 20000 that cannot be raised here.
CONTAINERS_CONF="${CTRMGR_CONTAINERS_CONF:-/etc/containers/containers.conf}"
CONTAINERS_CONF_TEXT='# Written by ctrmgr scripts/services.sh for the test machine.
[containers]
default_ulimits = ["nofile=1024:20000", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'
# The local registry over plain HTTP, by both loopback spellings.
REGISTRIES_DROPIN="${CTRMGR_REGISTRIES_DROPIN:-/etc/containers/registries.conf.d/50-ctrmgr-test-registry.conf}"
REGISTRIES_DROPIN_TEXT='# Written by ctrmgr scripts/services.sh: the test registry speaks plain HTTP.
[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
location = "localhost:5000"
insecure = true
'

# write_file PATH TEXT: write TEXT to PATH unless it already holds exactly that. The
# first time it replaces or creates PATH it keeps what was there, for restore_file: the
# old file as PATH.ctrmgr-orig, or an empty PATH.ctrmgr-absent if there was none. An
# existing backup is never overwritten, so a second `up` keeps the true original.
write_file() {
    local path=$1 text=$2
    if [[ -f "$path" && "$(<"$path")" == "${text%$'\n'}" ]]; then
        return 0
    fi
    as_root mkdir -p "$(dirname "$path")"
    if [[ ! -e "$path.ctrmgr-orig" && ! -e "$path.ctrmgr-absent" ]]; then
        if [[ -f "$path" ]]; then
            as_root cp -p "$path" "$path.ctrmgr-orig"
        else
            as_root touch "$path.ctrmgr-absent"
        fi
    fi
    log "writing $path"
    printf '%s' "$text" | as_root tee "$path" >/dev/null
}

# restore_file PATH: undo write_file: put back the file it replaced, or remove the one
# it created. Without a backup (never written, or already restored) PATH stays as is.
restore_file() {
    local path=$1
    if [[ -e "$path.ctrmgr-orig" ]]; then
        log "restoring $path (the file \`up\` replaced)"
        as_root mv -f "$path.ctrmgr-orig" "$path"
    elif [[ -e "$path.ctrmgr-absent" ]]; then
        log "removing $path (\`up\` created it)"
        as_root rm -f "$path" "$path.ctrmgr-absent"
    fi
}

podman_config_up() {
    command -v podman >/dev/null || die "podman not found (package podman)"
    write_file "$CONTAINERS_CONF" "$CONTAINERS_CONF_TEXT"
    write_file "$REGISTRIES_DROPIN" "$REGISTRIES_DROPIN_TEXT"
    # Podman's default network is its own bridge (netavark: podman0, 10.88.0.0/16); it
    # must never be docker's bridge, which dockerd owns.
    local iface
    iface=$(podman network inspect podman --format '{{.NetworkInterface}}' 2>/dev/null || true)
    [[ "$iface" != docker0 ]] || die "podman's default network uses docker0; it must have a bridge of its own"
}

podman_ping() { curl -sf --max-time 2 --unix-socket "$PODMAN_SOCK" http://d/_ping; }

podman_up() {
    if podman_ping >/dev/null 2>&1; then
        if pid_alive podman "podman system service"; then
            log "podman: running (ours, pid $(<"$STATE_DIR/podman.pid"))"
        else
            log "podman: already answers on $PODMAN_SOCK; reusing it"
        fi
        return 0
    fi
    rm -f "$STATE_DIR/podman.pid"
    as_root mkdir -p "$(dirname "$PODMAN_SOCK")"
    log "podman: starting the API service on $PODMAN_SOCK (log $STATE_DIR/podman.log)"
    # As for the registry: setsid execs in place, so $! is the service's own pid.
    setsid podman system service --time=0 "unix://$PODMAN_SOCK" \
        </dev/null >"$STATE_DIR/podman.log" 2>&1 &
    echo $! >"$STATE_DIR/podman.pid"
    record_started podman
    wait_for podman "$STATE_DIR/podman.log" "$STATE_DIR/podman.pid" podman_ping
    log "podman: ready (pid $(<"$STATE_DIR/podman.pid"))"
}

# The test image in podman, pulled from the local registry (so it has the same id there
# as in docker's registry copy) and tagged as docker names it; podman stores the short
# name as localhost/ctrmgr-test/busybox:latest. A pull of an unchanged image copies
# nothing, so this runs every time and follows a rebuilt image.
podman_image_up() {
    log "image: pulling $IMAGE_REMOTE into podman"
    podman pull --quiet "$IMAGE_REMOTE" >"$STATE_DIR/podman-pull.log" 2>&1 ||
        die "podman pull $IMAGE_REMOTE failed; see $STATE_DIR/podman-pull.log"
    podman tag "$IMAGE_REMOTE" "$IMAGE_LOCAL"
}

# --- commands -------------------------------------------------------------------------

cmd_up() {
    install_packages
    python_clients_up
    dockerd_up
    registry_up
    redis_up
    redis_cluster_up
    image_up
    podman_config_up
    podman_up
    podman_image_up
}

# cmd_down [NAME...]: stop the named services (default: all) that this script started.
cmd_down() {
    local names=("$@")
    [[ ${#names[@]} -gt 0 ]] || names=(podman redis-cluster redis registry dockerd)
    local n
    for n in "${names[@]}"; do
        case "$n" in
        dockerd) stop_service dockerd dockerd ;;
        registry) stop_service registry docker-registry ;;
        redis) stop_service redis redis-server ;;
        redis-cluster) redis_cluster_down ;;
        podman)
            stop_service podman "podman system service"
            # The podman configuration `up` wrote goes with podman.
            restore_file "$CONTAINERS_CONF"
            restore_file "$REGISTRIES_DROPIN"
            ;;
        *) die "unknown service '$n'" ;;
        esac
    done
}

status_line() {
    local name=$1 exe=$2 check=$3
    if pid_alive "$name" "$exe"; then
        printf '%-10s running, started by this script (pid %s)\n' "$name" "$(<"$STATE_DIR/$name.pid")"
    elif "$check" >/dev/null 2>&1; then
        printf '%-10s running, started elsewhere (reused)\n' "$name"
    else
        printf '%-10s down\n' "$name"
    fi
}

cmd_status() {
    status_line dockerd dockerd docker_ping
    status_line registry docker-registry registry_ping
    status_line redis redis-server redis_ping
    if redis_cluster_ok; then
        printf '%-10s running on 127.0.0.1:%s-%s\n' redis-cluster "$REDIS_CLUSTER_FIRST_PORT" \
            $((REDIS_CLUSTER_FIRST_PORT + 5))
    else
        printf '%-10s down\n' redis-cluster
    fi
    status_line podman "podman system service" podman_ping
    if docker image inspect "$IMAGE_LOCAL" >/dev/null 2>&1; then
        printf '%-10s %s present\n' image "$IMAGE_LOCAL"
    else
        printf '%-10s %s missing\n' image "$IMAGE_LOCAL"
    fi
}

main() {
    mkdir -p "$STATE_DIR"
    case "${1:-}" in
    up) cmd_up ;;
    down)
        shift
        cmd_down "$@"
        ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 up|down [service...]|status" >&2
        exit 2
        ;;
    esac
}

# Sourced (scripts/tests/test_services.py), it only defines its functions.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi
