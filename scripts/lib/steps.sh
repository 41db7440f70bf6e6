# shellcheck shell=bash
# The step harness of scripts/test.sh (sourced; scripts/tests/test_harness.py tests it).
#
# A step is a command (usually a function) whose time and outcome go into $SUMMARY:
#
#   run_step NAME CMD...     run it now; its status is the step's status
#   bg_step NAME CMD...      run it in the background (output to $LOG_DIR/NAME.log) ...
#   wait_step NAME           ... and wait for it: a failed step ends the run
#   skip_step NAME REASON    record a step that did not run, and why
#
# Every step fails on its FIRST failing command. A step is not run as `"$@" || rc=$?`:
# bash runs a command of a `||`/`&&` list, an `if`/`while` condition or a `!` with
# errexit off, all the way down (functions, subshells, even a `set -e` inside them), so
# only a step's last command counted. run_step switches errexit off in the caller, runs
# the step in a subshell with `set -e` (and inherit_errexit, so `x=$(cmd)` fails too),
# and reads `$?` afterwards. For the same reason, never call run_step or wait_step inside
# an `if`, `while`, `||`, `&&` or `!`: the step would lose errexit again.
#
# Needs: SUMMARY (file) and LOG_DIR (directory), set by the caller.

say() { printf '\n==> %s\n' "$*" >&2; }

summary_line() { # summary_line NAME SECONDS OUTCOME
    printf '%-48s %5ss  %s\n' "$1" "$2" "$3" >>"$SUMMARY"
}

run_step() {
    local name=$1 start=$SECONDS rc had_errexit=0
    shift
    say "$name"
    [[ $- != *e* ]] || had_errexit=1
    set +e
    (
        set -euo pipefail
        shopt -s inherit_errexit
        "$@"
    )
    rc=$?
    [[ $had_errexit -eq 0 ]] || set -e
    if [[ $rc -eq 0 ]]; then
        summary_line "$name" $((SECONDS - start)) ok
    else
        summary_line "$name" $((SECONDS - start)) "FAILED (exit $rc)"
    fi
    return "$rc"
}

skip_step() { # skip_step NAME REASON
    say "$1: skipped ($2)"
    summary_line "$1" 0 "skipped ($2)"
}

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

# stop_bg_steps: kill the background steps still running (for an EXIT trap).
stop_bg_steps() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}

# print_summary RC: the summary, and the verdict of a run that ends with status RC.
print_summary() {
    local rc=$1 skipped
    cat "$SUMMARY" >&2
    skipped=$(grep -c '  skipped (' "$SUMMARY" || true)
    if [[ $rc -ne 0 ]]; then
        printf 'FAILED (exit %s); logs in %s\n' "$rc" "$LOG_DIR" >&2
    elif [[ $skipped -gt 0 ]]; then
        printf 'PASSED, but %s step(s) skipped (see above): not a full run\n' "$skipped" >&2
    else
        printf 'ALL PASSED\n' >&2
    fi
}
