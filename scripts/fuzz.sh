#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 60), one after the
# other, and prints per target the executions, the time and the crashes found.
#
#   bash scripts/fuzz.sh            # 60 s per target
#   bash scripts/fuzz.sh 600        # a longer run
#   bash scripts/fuzz.sh 60 json_request config   # only these targets
#
# cargo-fuzz needs nightly-only rustc flags (-Z sanitizer, -C passes=sancov): with a
# stable toolchain they are unlocked by RUSTC_BOOTSTRAP=1, as here. cargo-fuzz is
# installed with `cargo install` when missing.
#
# Each target's working corpus lives in fuzz/target/corpus/<target> (grows from run to
# run, not committed); the committed seeds in fuzz/corpus/<target> are read only.
# A crash leaves its input in fuzz/artifacts/<target>/ and makes the script exit 1:
# fix it, then keep the input in fuzz/regressions/<target>/ with a unit test that
# replays it.
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${1:-60}
shift || true
FUZZ_TARGET_DIR="$ROOT/fuzz/target"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

TARGETS=("$@")
if [[ ${#TARGETS[@]} -eq 0 ]]; then
    # Not `mapfile < <(cargo fuzz list)`: a failing process substitution would go
    # unnoticed and leave no target, and fuzzing nothing passes.
    list=$(cargo fuzz list)
    [[ -n "$list" ]] || {
        echo "cargo fuzz list names no target" >&2
        exit 1
    }
    mapfile -t TARGETS <<<"$list"
fi

echo "==> cargo fuzz build (${TARGETS[*]})" >&2
for t in "${TARGETS[@]}"; do
    cargo fuzz build --target-dir "$FUZZ_TARGET_DIR" "$t"
done

# count_artifacts TARGET: files libFuzzer left for TARGET (crash-, oom-, timeout-, leak-).
count_artifacts() {
    find "fuzz/artifacts/$1" -type f 2>/dev/null | wc -l
}

REPORT=()
FAILED=0
for t in "${TARGETS[@]}"; do
    corpus="$FUZZ_TARGET_DIR/corpus/$t"
    mkdir -p "$corpus" "fuzz/artifacts/$t"
    dict=()
    [[ -f "fuzz/dict/$t.dict" ]] && dict=("-dict=fuzz/dict/$t.dict")
    log="$FUZZ_TARGET_DIR/fuzz-$t.log"
    before=$(count_artifacts "$t")
    start=$SECONDS
    echo "==> $t for ${SECONDS_PER_TARGET}s (log $log)" >&2
    rc=0
    # The binary built above, run directly: `cargo fuzz run` would rebuild whenever a
    # source file changed since.
    "$FUZZ_TARGET_DIR/$HOST/release/$t" -artifact_prefix="fuzz/artifacts/$t/" \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 \
        "${dict[@]}" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    crashes=$(($(count_artifacts "$t") - before))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    line=$(printf '%-16s %6ss  %12s execs  %d crashes  corpus %s inputs' "$t" \
        $((SECONDS - start)) "${execs:-?}" "$crashes" "$(find "$corpus" -type f | wc -l)")
    if [[ $rc -ne 0 || $crashes -ne 0 ]]; then
        FAILED=1
        line+="  FAILED (exit $rc)"
        grep -E -A 30 '^(==[0-9]+==ERROR|thread .* panicked)' "$log" | head -n 40 >&2 ||
            tail -n 40 "$log" >&2
        echo "new artifacts:" >&2
        find "fuzz/artifacts/$t" -type f -printf '%T@ %p\n' | sort -rn | head -n "$crashes" |
            cut -d' ' -f2- >&2
    fi
    echo "$line" >&2
    REPORT+=("$line")
done

printf '\n==== fuzzing (%ss per target) ====\n' "$SECONDS_PER_TARGET" >&2
printf '%s\n' "${REPORT[@]}" >&2
exit "$FAILED"
