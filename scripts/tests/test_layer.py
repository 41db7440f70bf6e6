"""Every layer check fails the test command when it should.

Each test copies the tree (sources, layer and scripts; not target/ or .git), breaks one
thing in the copy the way it breaks in real life (a stale crates list, an option without
a feature, an MSRV that is not the locked crates' one, a lint finding), and runs the
copy's own `bash scripts/test.sh layer`: the run must fail, in the layer step, with the
check's message. An unbroken copy passes, so the failures come from the breakage.

The copies share the real tree's tool dir ($CTRMGR_TOOLS_DIR: the oelint-adv venv and
the crate vendor cache), so a run costs seconds.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = os.environ.get("CTRMGR_TOOLS_DIR") or str(ROOT / "target" / "ctrmgr-tools")
RECIPE = Path("meta-ctrmgr/recipes-containers/ctrmgr/ctrmgr_0.1.0.bb")
INC = Path("meta-ctrmgr/recipes-containers/ctrmgr/ctrmgr-crates.inc")


class Copy:
    """A copy of the tree to break; `layer()` runs its test command's layer step."""

    def __init__(self, tmp: str):
        self.root = Path(tmp) / "ctrmgr"
        shutil.copytree(ROOT, self.root, symlinks=True,
                        ignore=shutil.ignore_patterns("target", ".git", "build", ".test-state",
                                                      ".ctrmgr-data"))

    def edit(self, rel: Path, fn) -> None:
        path = self.root / rel
        before = path.read_text()
        after = fn(before)
        assert after != before, f"the edit of {rel} changed nothing"
        path.write_text(after)

    def layer(self) -> tuple[int, str, str]:
        env = dict(os.environ, CTRMGR_TOOLS_DIR=TOOLS_DIR)
        env.pop("CARGO_TARGET_DIR", None)
        proc = subprocess.run(["bash", "scripts/test.sh", "layer"], cwd=self.root, env=env,
                              capture_output=True, text=True, timeout=600)
        summary = (self.root / "target" / "ctrmgr-test-logs" / "summary").read_text()
        log = (self.root / "target" / "ctrmgr-test-logs" / "layer checks.log").read_text()
        return proc.returncode, summary, proc.stderr + log


class LayerChecksTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ctrmgr-layer-test-")
        self.copy = Copy(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def assert_layer_fails(self, message: str) -> str:
        rc, summary, out = self.copy.layer()
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(summary, r"layer checks +\d+s  FAILED", out)
        self.assertNotIn("ALL PASSED", out)
        self.assertIn(message, out)
        return out

    def test_the_unbroken_copy_passes(self):
        rc, summary, out = self.copy.layer()
        self.assertEqual(rc, 0, out)
        self.assertRegex(summary, r"layer checks +\d+s  ok")

    def test_a_crates_list_missing_a_crate_fails_the_vendoring_check(self):
        # The list an older Cargo.lock gave: zbus (needed by the dbus feature alone) gone.
        def drop_zbus(text):
            return "\n".join(line for line in text.splitlines()
                             if not re.search(r"\bzbus[/-]5\.", line)) + "\n"
        self.copy.edit(INC, drop_zbus)
        out = self.assert_layer_fails("OE's offline vendoring")
        self.assertIn("searched package name: `zbus`", out)

    def test_a_stale_checksum_fails_the_drift_check(self):
        # Every crate is there (vendoring resolves); one checksum is not Cargo.lock's.
        self.copy.edit(INC, lambda t: re.sub(r'(SRC_URI\[zbus-5[^\]]*\] = ")[0-9a-f]{4}',
                                             r"\g<1>0000", t, count=1))
        self.assert_layer_fails("drifted from Cargo.lock")

    def test_an_option_without_a_feature_fails(self):
        self.copy.edit(RECIPE, lambda t: t.replace(
            'PACKAGECONFIG[lmdb] = "--features lmdb,,,,,"\n',
            'PACKAGECONFIG[lmdb] = "--features lmdb,,,,,"\n'
            'PACKAGECONFIG[sqlite] = "--features sqlite,,,,,"\n'))
        self.assert_layer_fails("PACKAGECONFIG[sqlite] has no cargo feature `sqlite`")

    def test_a_feature_without_an_option_fails(self):
        self.copy.edit(RECIPE, lambda t: re.sub(r"PACKAGECONFIG\[mqueue\].*\n", "", t))
        self.assert_layer_fails("cargo feature `mqueue` has no PACKAGECONFIG[mqueue] option")

    def test_an_option_in_the_old_do_compile_form_fails(self):
        self.copy.edit(RECIPE, lambda t: t.replace('PACKAGECONFIG[rest] = "--features rest,',
                                                   'PACKAGECONFIG[rest] = "rest,'))
        self.assert_layer_fails('PACKAGECONFIG[rest] must start with "--features rest,,"')

    def test_an_msrv_below_the_locked_crates_fails(self):
        self.copy.edit(Path("Cargo.toml"), lambda t: re.sub(
            r'(?m)^rust-version = ".*"$', 'rust-version = "1.85"', t))
        self.assert_layer_fails("Cargo.toml's rust-version is 1.85, but the highest")

    def test_a_lint_finding_fails(self):
        self.copy.edit(RECIPE, lambda t: t + 'DEPENDS = "zlib"\n')
        self.assert_layer_fails("oelint.vars.dependsappend")


if __name__ == "__main__":
    unittest.main()
