#!/usr/bin/env bash
# The one test command for ctrmgr: `bash scripts/test.sh` (as root, or with sudo rights).
#
# Starts the test services (scripts/services.sh up), then runs, stopping at the first
# failure:
#   fmt, clippy (-D warnings), cargo test (default features = all),
#   a lint of the shell scripts, Yocto layer checks (ctrmgr-crates.inc drift, oelint-adv),
#   systemd-analyze verify of the unit, a short fuzz run (scripts/fuzz.sh, 45 s per
#   cargo-fuzz target), the feature matrix (cargo check with no default features and
#   with each feature alone), and the ARM cross builds with their library unit tests run
#   under qemu-user (aarch64 and armv7).
# Prints a summary with timings. Stops the services it started on exit unless
# KEEP_SERVICES=1.
#
# Environment:
#   KEEP_SERVICES=1        leave the services running on exit
#   CTRMGR_TEST_QUICK=1    skip the fuzz run, the feature matrix and the cross builds
#                          (local use only; CI runs everything)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CROSS_TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
OELINT_VERSION=9.11.2
OELINT_RELEASE=whinlatter
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOG_DIR="$TARGET_DIR/ctrmgr-test-logs"
TOOLS_DIR="$TARGET_DIR/ctrmgr-tools"
export CTRMGR_SVC_DIR="${CTRMGR_SVC_DIR:-/tmp/ctrmgr-test-services}"
export CTRMGR_SVC_STARTED_FILE="$LOG_DIR/services-started"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

mkdir -p "$LOG_DIR" "$TOOLS_DIR"
: >"$CTRMGR_SVC_STARTED_FILE"
SUMMARY="$LOG_DIR/summary"
: >"$SUMMARY"
T0=$SECONDS

say() { printf '\n==> %s\n' "$*" >&2; }

# run_step NAME CMD...: run CMD, record its time and outcome in the summary.
run_step() {
    local name=$1 start=$SECONDS rc=0
    shift
    say "$name"
    "$@" || rc=$?
    if [[ $rc -eq 0 ]]; then
        printf '%-44s %5ss  ok\n' "$name" $((SECONDS - start)) >>"$SUMMARY"
    else
        printf '%-44s %5ss  FAILED (exit %s)\n' "$name" $((SECONDS - start)) "$rc" >>"$SUMMARY"
    fi
    return "$rc"
}

# bg_step NAME CMD...: run_step in the background, output to a log; see wait_step.
declare -A BG_PIDS=()
bg_step() {
    local name=$1
    shift
    say "$name (in the background, log $LOG_DIR/$name.log)"
    run_step "$name" "$@" >"$LOG_DIR/$name.log" 2>&1 &
    BG_PIDS[$name]=$!
}

wait_step() {
    local name=$1 rc=0
    wait "${BG_PIDS[$name]}" || rc=$?
    unset "BG_PIDS[$name]"
    if [[ $rc -ne 0 ]]; then
        printf '\n--- %s failed; its log: ---\n' "$name" >&2
        tail -n 60 "$LOG_DIR/$name.log" >&2
        exit "$rc"
    fi
    printf '%s: done\n' "$name" >&2
}

on_exit() {
    local rc=$?
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [[ "${KEEP_SERVICES:-0}" != 1 && -s "$CTRMGR_SVC_STARTED_FILE" ]]; then
        # shellcheck disable=SC2046 # one service name per line, no spaces
        bash scripts/services.sh down $(sort -u "$CTRMGR_SVC_STARTED_FILE") || true
    fi
    printf '\n==== summary (%ss in all) ====\n' $((SECONDS - T0)) >&2
    cat "$SUMMARY" >&2
    if [[ $rc -eq 0 ]]; then
        printf 'ALL PASSED\n' >&2
    else
        printf 'FAILED (exit %s); logs in %s\n' "$rc" "$LOG_DIR" >&2
    fi
    exit "$rc"
}
trap on_exit EXIT

# --- steps --------------------------------------------------------------------------

rust_toolchain() {
    local installed t c
    installed=$(rustup component list --installed)
    for c in rustfmt clippy; do
        grep -q "^$c" <<<"$installed" || rustup component add "$c"
    done
    installed=$(rustup target list --installed)
    for t in "${CROSS_TARGETS[@]}"; do
        grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
}

shellcheck_scripts() {
    if ! command -v shellcheck >/dev/null; then
        echo "shellcheck not installed; skipped" >&2
        return 0
    fi
    shellcheck scripts/*.sh .ci/run
}

oelint_bin() {
    if command -v oelint-adv >/dev/null &&
        [[ "$(oelint-adv --version 2>/dev/null)" == *" $OELINT_VERSION"* ]]; then
        command -v oelint-adv
        return 0
    fi
    local venv="$TOOLS_DIR/oelint-$OELINT_VERSION"
    if [[ ! -x "$venv/bin/oelint-adv" ]]; then
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q "oelint-adv==$OELINT_VERSION" >&2
    fi
    echo "$venv/bin/oelint-adv"
}

layer_checks() {
    python3 scripts/gen-crates-inc.py --check
    local oelint recipes
    oelint=$(oelint_bin)
    mapfile -t recipes < <(find meta-ctrmgr -name '*.bb' -o -name '*.bbappend' | sort)
    # --quiet prints only findings; any finding (info included) makes it exit non-zero.
    # Suppressed here: inconspaces and notneededspace flag the `SRC_URI += " \` line of
    # the generated ctrmgr-crates.inc, whose format is OE-Core's own
    # (cargo-update-recipe-crates). Other suppressions sit in the recipe, with reasons.
    "$oelint" --quiet --release "$OELINT_RELEASE" \
        --suppress oelint.vars.inconspaces --suppress oelint.vars.notneededspace \
        "${recipes[@]}"
}

# systemd-analyze verify checks that ExecStart's binary exists, so verify a copy of the
# unit whose ExecStart points at the binary just built (the real unit names
# /usr/bin/ctrmgr, which exists only on a device). It only warns (exit 0) about unknown
# keys and bad values, so any output at all is a failure.
systemd_verify() {
    local bin="$TARGET_DIR/debug/ctrmgr" tmp out rc=0
    [[ -x "$bin" ]] || cargo build --bin ctrmgr
    tmp=$(mktemp -d)
    sed "s|/usr/bin/ctrmgr|$bin|" systemd/ctrmgr.service >"$tmp/ctrmgr.service"
    out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp/ctrmgr.service" 2>&1) || rc=$?
    rm -rf "$tmp"
    if [[ $rc -ne 0 || -n "$out" ]]; then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

cargo_features() {
    python3 - <<'EOF'
import tomllib
with open("Cargo.toml", "rb") as f:
    features = tomllib.load(f).get("features", {})
for name in features:
    if name != "default":
        print(name)
EOF
}

feature_matrix() {
    local f features
    mapfile -t features < <(cargo_features)
    echo "features: ${features[*]}" >&2
    echo "--- --no-default-features" >&2
    cargo check -q --no-default-features
    for f in "${features[@]}"; do
        echo "--- --no-default-features --features $f" >&2
        cargo check -q --no-default-features --features "$f"
    done
}

cross_build() {
    cargo test --config .cargo/cross-targets.toml --target "$1" --lib --no-run
}

# Every library unit test runs under qemu-user too. (A missing CLI binary used to be the
# exception: qemu-user's posix_spawn cannot report the exec error to the parent, so the
# CLI runtime now looks the binary up before spawning it.)
cross_run() {
    cargo test --config .cargo/cross-targets.toml --target "$1" --lib
}

# --- main ---------------------------------------------------------------------------

bg_step "services up" bash scripts/services.sh up
run_step "rust toolchain" rust_toolchain
run_step "cargo fmt --check" cargo fmt --all -- --check
run_step "cargo clippy -D warnings" cargo clippy --all-targets -- -D warnings
wait_step "services up"

bg_step "layer checks (crates.inc, oelint-adv)" layer_checks
run_step "shellcheck" shellcheck_scripts
run_step "cargo test" cargo test
wait_step "layer checks (crates.inc, oelint-adv)"
run_step "systemd-analyze verify" systemd_verify

if [[ "${CTRMGR_TEST_QUICK:-0}" == 1 ]]; then
    echo "CTRMGR_TEST_QUICK=1: fuzz run, feature matrix and cross builds skipped" >>"$SUMMARY"
    exit 0
fi

# Alone, so each target gets a whole core's worth of executions.
run_step "fuzz (45 s per target)" bash scripts/fuzz.sh 45

run_step "feature matrix (cargo check)" feature_matrix
for t in "${CROSS_TARGETS[@]}"; do
    run_step "cross build $t" cross_build "$t"
done
# Both test binaries are built: run the two qemu suites side by side.
for t in "${CROSS_TARGETS[@]}"; do
    bg_step "qemu unit tests $t" cross_run "$t"
done
for t in "${CROSS_TARGETS[@]}"; do
    wait_step "qemu unit tests $t"
done
