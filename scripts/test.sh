#!/usr/bin/env bash
# The one test command for ctrmgr: `bash scripts/test.sh` (as root, or with sudo rights).
#
# Starts the test services (scripts/services.sh up), then runs, stopping at the first
# failure:
#   fmt, clippy (-D warnings), the tests of the scripts themselves (scripts/tests: the
#   step harness, and every layer check failing on a deliberately broken copy of the
#   tree), a lint of the shell scripts, the Yocto layer and manifest checks (see
#   layer_checks), cargo test (default features = all), systemd-analyze verify of the
#   unit, a short fuzz run (scripts/fuzz.sh, 45 s per cargo-fuzz target), the feature
#   matrix (cargo check with no default features and with each feature alone), and the
#   ARM cross builds with their library unit tests run under qemu-user (aarch64, armv7).
# Every step fails on its first failing command (scripts/lib/steps.sh says how).
# Prints a summary with timings; a step that did not run is listed as skipped, with
# the reason. Stops the services it started on exit unless KEEP_SERVICES=1.
#
#   bash scripts/test.sh              everything (what CI runs, through .ci/run)
#   bash scripts/test.sh STEP...      only these steps, e.g. `layer script-tests`
#                                     (no services unless `services` is one of them)
#   bash scripts/test.sh --list       the step names
#
# Environment:
#   KEEP_SERVICES=1        leave the services running on exit
#   CTRMGR_TEST_QUICK=1    skip the fuzz run, the feature matrix and the cross builds
#                          (local use only; CI runs everything)
#   CTRMGR_TOOLS_DIR       where downloaded tools and the crate vendor cache live
#                          (default target/ctrmgr-tools)
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Step names, in the order they run.
ALL_STEPS=(services toolchain fmt clippy layer script-tests shellcheck cargo-test systemd
    fuzz features cross)
CROSS_TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
OELINT_VERSION=9.11.2
OELINT_RELEASE=whinlatter
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOG_DIR="$TARGET_DIR/ctrmgr-test-logs"
export CTRMGR_TOOLS_DIR="${CTRMGR_TOOLS_DIR:-$TARGET_DIR/ctrmgr-tools}"
export CTRMGR_SVC_DIR="${CTRMGR_SVC_DIR:-/tmp/ctrmgr-test-services}"
export CTRMGR_SVC_STARTED_FILE="$LOG_DIR/services-started"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

usage() {
    echo "usage: bash scripts/test.sh [--list | STEP...]; steps: ${ALL_STEPS[*]}" >&2
    exit 2
}

declare -A SELECTED=()
for arg in "$@"; do
    case " ${ALL_STEPS[*]} " in
    *" $arg "*) SELECTED[$arg]=1 ;;
    *)
        [[ "$arg" == --list ]] || usage
        printf '%s\n' "${ALL_STEPS[@]}"
        exit 0
        ;;
    esac
done

mkdir -p "$LOG_DIR" "$CTRMGR_TOOLS_DIR"
: >"$CTRMGR_SVC_STARTED_FILE"
SUMMARY="$LOG_DIR/summary"
: >"$SUMMARY"
T0=$SECONDS

# shellcheck source=scripts/lib/steps.sh
source "$ROOT/scripts/lib/steps.sh"

on_exit() {
    local rc=$?
    stop_bg_steps
    if [[ "${KEEP_SERVICES:-0}" != 1 && -s "$CTRMGR_SVC_STARTED_FILE" ]]; then
        # shellcheck disable=SC2046 # one service name per line, no spaces
        bash scripts/services.sh down $(sort -u "$CTRMGR_SVC_STARTED_FILE") || true
    fi
    printf '\n==== summary (%ss in all) ====\n' $((SECONDS - T0)) >&2
    print_summary "$rc"
    exit "$rc"
}
trap on_exit EXIT

# selected STEP: the step is to run (no STEP arguments: every step).
selected() {
    [[ $# -gt 0 && ( ${#SELECTED[@]} -eq 0 || -n "${SELECTED[$1]:-}" ) ]]
}

# step ID NAME CMD... / bg ID NAME CMD... / wait_bg ID NAME: run_step, bg_step and
# wait_step for a step that is selected; a step that is not is recorded as skipped.
step() {
    local id=$1 name=$2
    shift 2
    if selected "$id"; then
        run_step "$name" "$@"
    else
        skip_step "$name" "not selected"
    fi
}
bg() {
    local id=$1 name=$2
    shift 2
    if selected "$id"; then
        bg_step "$name" "$@"
    else
        skip_step "$name" "not selected"
    fi
}
wait_bg() {
    if selected "$1"; then
        wait_step "$2"
    fi
}

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

# scripts/services.sh installs shellcheck (a Debian package): missing, it is an error,
# not a silent pass.
shellcheck_scripts() {
    command -v shellcheck >/dev/null || {
        echo "shellcheck not found: run scripts/services.sh up (it installs it)" >&2
        return 1
    }
    shellcheck -x scripts/*.sh scripts/lib/*.sh .ci/run
}

# The Python tests of the scripts (unittest; see scripts/tests/README.md).
script_tests() {
    python3 -m unittest discover -s scripts/tests -t scripts/tests -p 'test_*.py' -v
}

oelint_bin() {
    if command -v oelint-adv >/dev/null &&
        [[ "$(oelint-adv --version 2>/dev/null)" == *" $OELINT_VERSION"* ]]; then
        command -v oelint-adv
        return 0
    fi
    local venv="$CTRMGR_TOOLS_DIR/oelint-$OELINT_VERSION"
    if [[ ! -x "$venv/bin/oelint-adv" ]]; then
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q "oelint-adv==$OELINT_VERSION" >&2
    fi
    echo "$venv/bin/oelint-adv"
}

# The Yocto layer against the crate: options <-> features, offline vendoring of the
# crates.inc list, crates.inc drift, the MSRV against the locked crates, oelint-adv.
# scripts/tests/test_layer.py breaks each one in a copy of the tree and checks that this
# step then fails.
layer_checks() {
    local oelint found recipes
    python3 scripts/check-layer.py features
    python3 scripts/check-layer.py vendor
    python3 scripts/gen-crates-inc.py --check
    python3 scripts/check-layer.py msrv
    oelint=$(oelint_bin)
    found=$(find meta-ctrmgr -name '*.bb' -o -name '*.bbappend' | sort)
    [[ -n "$found" ]] || {
        echo "no recipe found under meta-ctrmgr" >&2
        return 1
    }
    mapfile -t recipes <<<"$found"
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

feature_matrix() {
    local f features
    # Not `mapfile < <(...)`: a failing process substitution would go unnoticed and
    # leave an empty list (a matrix of nothing passes).
    features=$(python3 scripts/check-layer.py cargo-features)
    [[ -n "$features" ]] || {
        echo "no cargo features found in Cargo.toml" >&2
        return 1
    }
    mapfile -t features <<<"$features"
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

bg services "services up" bash scripts/services.sh up
step toolchain "rust toolchain" rust_toolchain
step fmt "cargo fmt --check" cargo fmt --all -- --check
step clippy "cargo clippy -D warnings" cargo clippy --workspace --all-targets -- -D warnings
wait_bg services "services up"

bg layer "layer checks" layer_checks
step script-tests "script tests (scripts/tests)" script_tests
step shellcheck "shellcheck" shellcheck_scripts
step cargo-test "cargo test" cargo test
wait_bg layer "layer checks"
step systemd "systemd-analyze verify" systemd_verify

QUICK_SKIP=""
[[ "${CTRMGR_TEST_QUICK:-0}" != 1 ]] || QUICK_SKIP="CTRMGR_TEST_QUICK=1"

# quick ID NAME CMD...: step, unless CTRMGR_TEST_QUICK=1 skips it.
quick() {
    if [[ -n "$QUICK_SKIP" ]]; then
        skip_step "$2" "$QUICK_SKIP"
    else
        step "$@"
    fi
}

# Alone, so each target gets a whole core's worth of executions.
quick fuzz "fuzz (45 s per target)" bash scripts/fuzz.sh 45
quick features "feature matrix (cargo check)" feature_matrix
for t in "${CROSS_TARGETS[@]}"; do
    quick cross "cross build $t" cross_build "$t"
done
# Both test binaries are built: run the two qemu suites side by side.
for t in "${CROSS_TARGETS[@]}"; do
    if [[ -n "$QUICK_SKIP" ]]; then
        skip_step "qemu unit tests $t" "$QUICK_SKIP"
    else
        bg cross "qemu unit tests $t" cross_run "$t"
    fi
done
if [[ -z "$QUICK_SKIP" ]]; then
    for t in "${CROSS_TARGETS[@]}"; do
        wait_bg cross "qemu unit tests $t"
    done
fi
