"""fence_mdlp's own fixtures: a site backend registered through the entry-point group, as a package
of its own would register it."""

import pytest


@pytest.fixture
def plugin_path(tmp_path):
    """A site backend registered through the entry-point group, as a separate package."""
    root = tmp_path / "plugins"
    dist = root / "mdlp_test_backend-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mdlp-test-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mdlp_agents.fence_backends]\nslow = mdlp_test_backend:SlowBackend\n")
    (root / "mdlp_test_backend.py").write_text('''
import os, time
from mdlp_agents.fence.backends import FenceBackend

class SlowBackend(FenceBackend):
    name = "slow"
    def _work(self, what):
        log = os.environ["SLOW_LOG"]
        with open(log, "a") as f:
            f.write("begin %s %s %.3f\\n" % (what, self.options["victim"], time.time()))
        time.sleep(float(os.environ.get("SLOW_SECONDS", "1")))
        with open(log, "a") as f:
            f.write("end %s %s %.3f\\n" % (what, self.options["victim"], time.time()))
    def power_off(self):
        self._work("off")
    def power_on(self):
        pass
    def status(self):
        return "on"
''')
    return root
