"""scripts/services.sh: `down` puts back the podman configuration files that `up` wrote.

`up` installs and starts real services, so these tests drive the same functions on
files in a temporary directory: write_file by sourcing the script (as `up` calls it),
and `down podman` through the script itself with CTRMGR_CONTAINERS_CONF and
CTRMGR_REGISTRIES_DROPIN pointing there (no podman service of ours runs in that
state dir, so nothing is stopped).
"""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"


class RestoreTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="ctrmgr-services-test-")
        self.dir = Path(self._tmp.name)
        self.conf = self.dir / "containers" / "containers.conf"
        self.dropin = self.dir / "containers" / "registries.conf.d" / "50-test.conf"
        self.env = dict(os.environ, CTRMGR_SVC_DIR=str(self.dir / "state"),
                        CTRMGR_CONTAINERS_CONF=str(self.conf),
                        CTRMGR_REGISTRIES_DROPIN=str(self.dropin))
        self.env.pop("CTRMGR_SVC_STARTED_FILE", None)

    def tearDown(self):
        self._tmp.cleanup()

    def bash(self, script: str) -> None:
        proc = subprocess.run(["bash", "-c", f'source "{SERVICES}"\n{script}'],
                              env=self.env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def up(self) -> None:
        """What `up` does to the two files (podman_config_up without its podman checks)."""
        self.bash('write_file "$CONTAINERS_CONF" "$CONTAINERS_CONF_TEXT"\n'
                  'write_file "$REGISTRIES_DROPIN" "$REGISTRIES_DROPIN_TEXT"')

    def down(self) -> None:
        proc = subprocess.run(["bash", str(SERVICES), "down", "podman"], env=self.env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_down_restores_the_file_up_replaced_even_after_two_ups(self):
        self.conf.parent.mkdir(parents=True)
        self.conf.write_text("# the machine's own\n[engine]\nruntime = \"crun\"\n")
        self.up()
        self.assertIn('runtime = "runc"', self.conf.read_text())
        self.conf.write_text("# edited by hand after up\n")
        self.up()  # a second up must not take the test file for the original
        self.down()
        self.assertEqual(self.conf.read_text(),
                         "# the machine's own\n[engine]\nruntime = \"crun\"\n")
        self.assertFalse(Path(f"{self.conf}.ctrmgr-orig").exists())

    def test_down_removes_the_files_up_created(self):
        self.up()
        self.assertTrue(self.conf.exists() and self.dropin.exists())
        self.down()
        self.assertFalse(self.conf.exists())
        self.assertFalse(self.dropin.exists())
        self.assertEqual(list(self.dropin.parent.iterdir()), [])

    def test_down_without_an_up_changes_nothing(self):
        self.conf.parent.mkdir(parents=True)
        self.conf.write_text("mine\n")
        self.down()
        self.assertEqual(self.conf.read_text(), "mine\n")


if __name__ == "__main__":
    unittest.main()
