"""The step harness of scripts/test.sh (scripts/lib/steps.sh): a step fails on its first
failing command, and a failed step fails the run.

Each test writes a small driver that uses the harness exactly as scripts/test.sh does
(`set -euo pipefail`, inherit_errexit, `source scripts/lib/steps.sh`, steps called as
plain commands) and runs it with bash.
"""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPS = ROOT / "scripts" / "lib" / "steps.sh"

# A step whose FIRST command fails and whose last one succeeds: under `"$@" || rc=$?`
# it used to pass.
EARLY_FAIL = """
early() {
    false
    echo "ran past the failing command" >&2
    true
}
"""


class Run:
    """One driver run: its exit status, output and summary file."""

    def __init__(self, body: str):
        with tempfile.TemporaryDirectory(prefix="ctrmgr-harness-") as tmp:
            driver = Path(tmp) / "driver.sh"
            driver.write_text(
                "set -euo pipefail\nshopt -s inherit_errexit\n"
                f'SUMMARY="{tmp}/summary"; LOG_DIR="{tmp}"; : >"$SUMMARY"\n'
                f'source "{STEPS}"\n{body}\necho "the run went on" >&2\n')
            proc = subprocess.run(["bash", str(driver)], capture_output=True, text=True,
                                  timeout=60)
            self.rc = proc.returncode
            self.out = proc.stdout + proc.stderr
            self.summary = (Path(tmp) / "summary").read_text()
            self.logs = "".join(p.read_text() for p in Path(tmp).glob("*.log"))


class HarnessTest(unittest.TestCase):
    def assert_failed_early(self, run: Run, step: str) -> None:
        self.assertNotEqual(run.rc, 0, run.out)
        self.assertRegex(run.summary, rf"{step} +\d+s  FAILED \(exit 1\)")
        self.assertNotIn("ran past the failing command", run.out + run.logs)
        self.assertNotIn("the run went on", run.out)

    def test_a_step_failing_early_fails_the_run(self):
        self.assert_failed_early(Run(EARLY_FAIL + "run_step early early"), "early")

    def test_a_background_step_failing_early_fails_the_run(self):
        run = Run(EARLY_FAIL + "bg_step early early\nwait_step early")
        self.assert_failed_early(run, "early")
        self.assertIn("early failed; its log", run.out)

    def test_a_failing_command_substitution_fails_the_step(self):
        run = Run("""
early() {
    local x
    x=$(false; echo value)
    echo "ran past the failing command: $x" >&2
}
run_step early early""")
        self.assert_failed_early(run, "early")

    def test_a_failing_pipeline_stage_fails_the_step(self):
        run = Run("""
early() {
    false | cat
    echo "ran past the failing command" >&2
}
run_step early early""")
        self.assert_failed_early(run, "early")

    def test_a_passing_step_is_recorded_ok_and_the_run_goes_on(self):
        run = Run("fine() { true; }\nrun_step fine fine\nprint_summary 0")
        self.assertEqual(run.rc, 0, run.out)
        self.assertRegex(run.summary, r"fine +\d+s  ok")
        self.assertIn("ALL PASSED", run.out)

    def test_a_skipped_step_is_recorded_as_skipped_not_passed(self):
        run = Run('skip_step fuzz "CTRMGR_TEST_QUICK=1"\nprint_summary 0')
        self.assertEqual(run.rc, 0, run.out)
        self.assertRegex(run.summary, r"fuzz +0s  skipped \(CTRMGR_TEST_QUICK=1\)")
        self.assertNotIn("ALL PASSED", run.out)
        self.assertIn("1 step(s) skipped", run.out)


class TestCommandTest(unittest.TestCase):
    def test_an_unknown_step_name_is_refused(self):
        # Its own target dir: a test run inside scripts/test.sh must never touch the
        # outer run's summary and logs.
        with tempfile.TemporaryDirectory(prefix="ctrmgr-harness-") as tmp:
            env = dict(os.environ, CARGO_TARGET_DIR=tmp)
            proc = subprocess.run(["bash", "scripts/test.sh", "no-such-step"], cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("usage:", proc.stderr)


if __name__ == "__main__":
    unittest.main()
