"""Fixtures that start real things (their classes: helpers.py, services.py, devices.py; the lab's:
clusterlab.py), and the run-wide hooks.

PID 1 on these machines does not reap orphans, so the test process makes itself a child
subreaper: daemons that start commands leave behind are reparented to it and reaped after each
test.  Fixtures used by one tool's tests only live in that tool's conftest.py.
"""

import ctypes
import os
import shutil

import pytest
from devices import IpmiSim, Victim
from helpers import SyslogReceiver, install_front, reap_orphans
from services import Apache, FakeServices, make_managed

from clusterlab import TIMINGS

PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@pytest.fixture(autouse=True)
def _reap():
    yield
    reap_orphans()


@pytest.fixture
def ocf_link(tmp_path):
    """The agent reached as Pacemaker reaches it: OCF_ROOT/resource.d/websense/mdlp."""
    return install_front(tmp_path / "ocf" / "resource.d" / "websense" / "mdlp")


@pytest.fixture
def fake(tmp_path):
    services = FakeServices(tmp_path / "svc")
    yield services
    services.cleanup()


@pytest.fixture
def managed(tmp_path, fake):
    """Config whose start/stop commands really launch and kill the fake services,
    and record the order they ran in."""
    return make_managed(tmp_path, fake)


@pytest.fixture
def syslog(tmp_path):
    receiver = SyslogReceiver(tmp_path / "syslog.sock")
    yield receiver
    receiver.close()


@pytest.fixture
def apache():
    if not os.path.exists("/usr/sbin/apache2"):
        pytest.fail("apache2 is not installed: run sh tools/bootstrap test")
    server = Apache().start()
    yield server
    server.remove()


@pytest.fixture
def bmc(tmp_path):
    if not shutil.which("ipmi_sim"):
        pytest.fail("ipmi_sim (openipmi) is not installed: run sh tools/bootstrap test")
    sim = IpmiSim(tmp_path / "bmc").start()
    yield sim
    sim.stop()


@pytest.fixture
def victim(tmp_path):
    node = Victim(tmp_path / "victim")
    try:
        node.start()
    except Exception:
        node.remove()
        raise
    yield node
    node.remove()


def pytest_terminal_summary(terminalreporter):
    """The seconds each cluster scenario took, even under -q: admins want these numbers."""
    if TIMINGS:
        terminalreporter.section("cluster timings")
        for label, seconds, target in TIMINGS:
            terminalreporter.write_line("%-68s %6.2f s%s" % (label, seconds,
                                                              "  (target <= %g s)" % target if target else ""))
