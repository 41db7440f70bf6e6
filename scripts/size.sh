#!/usr/bin/env bash
# Stripped release binary sizes (every default feature) for x86_64, aarch64 and armv7.
# Not part of the test command: three LTO release builds take several minutes.
#
#   bash scripts/size.sh                 # all three
#   bash scripts/size.sh aarch64-unknown-linux-gnu
#   CTRMGR_SIZE_FEATURES=rest,docker-api,lmdb bash scripts/size.sh   # only these features
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] ||
    TARGETS=("$HOST" aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)

FEATURE_ARGS=()
[[ -z "${CTRMGR_SIZE_FEATURES:-}" ]] ||
    FEATURE_ARGS=(--no-default-features --features "$CTRMGR_SIZE_FEATURES")

# The Cargo.toml release profile already strips (strip = true); `strip` is not run again.
declare -A SIZES=() TIMES=()
for t in "${TARGETS[@]}"; do
    echo "==> cargo build --release --target $t" >&2
    start=$SECONDS
    cargo build -q --release --config .cargo/cross-targets.toml --target "$t" --bin ctrmgr "${FEATURE_ARGS[@]}"
    TIMES[$t]=$((SECONDS - start))
    SIZES[$t]=$(stat -c %s "$TARGET_DIR/$t/release/ctrmgr")
done

printf '\n%-36s %12s %10s %8s\n' target bytes MiB build_s
for t in "${TARGETS[@]}"; do
    printf '%-36s %12s %10s %8s\n' "$t" "${SIZES[$t]}" \
        "$(awk -v b="${SIZES[$t]}" 'BEGIN { printf "%.2f", b / 1048576 }')" "${TIMES[$t]}"
done
