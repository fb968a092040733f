"""rhcs/health.py's verdict in-process: which exit code the services' states give, for rgmanager
and admins (LSB status) and for Pacemaker's monitor (OCF).  The probes finding those states for
real: rhcs/test_status_cli.py."""

import pytest

from mdlp_agents.rhcs.health import ServiceStatus, verdict
from mdlp_agents.rhcs.results import FAILED, HUNG, STALE, STOPPED, ProbeResult

pytestmark = pytest.mark.inprocess

UP = [ProbeResult(True, "process", pid=10)]


def service(name, *results):
    return ServiceStatus(name, list(results) or UP)


def down(probe, cause):
    return ProbeResult(False, probe, cause, "detail")


CASES = [
    # (services, LSB code and summary, OCF monitor code)
    ([service("httpd"), service("PolicyEngine")], (0, "mdlp: running"), 0),
    ([service("httpd", down("process", STOPPED)), service("PolicyEngine")],
     (3, "mdlp: NOT RUNNING (1 of 2 services down)"), 1),
    ([service("httpd", down("pidfile", STALE)), service("PolicyEngine")],
     (1, "mdlp: NOT RUNNING (1 of 2 services down)"), 1),
    ([service("httpd", down("pidfile", STALE)), service("PolicyEngine", down("process", STOPPED))],
     (1, "mdlp: NOT RUNNING (2 of 2 services down)"), 7),
    ([service("httpd", down("process", HUNG))], (3, "mdlp: NOT RUNNING (1 of 1 services down)"), 1),
    # watched only through the network: every probe refused is stopped, a hang is a failure
    ([service("RProxyWD", down("tcp", FAILED))], (3, "mdlp: NOT RUNNING (1 of 1 services down)"), 7),
    ([service("RProxyWD", down("tcp", HUNG))], (3, "mdlp: NOT RUNNING (1 of 1 services down)"), 1),
    # a process that is there but does not serve is not cleanly stopped
    ([service("httpd", ProbeResult(True, "process", pid=10), down("http", FAILED))],
     (3, "mdlp: NOT RUNNING (1 of 1 services down)"), 1),
]


@pytest.mark.parametrize("services,lsb,ocf", CASES)
def test_verdicts(services, lsb, ocf):
    assert verdict(services, monitor=False) == lsb
    code, summary = verdict(services, monitor=True)
    assert code == ocf
    assert summary == {0: "mdlp: running", 7: "mdlp: not running", 1: "mdlp: FAILED"}[ocf]


def test_service_state_labels():
    assert service("httpd").state == "RUNNING"
    assert [service("x", down("process", cause)).state for cause in (STOPPED, STALE, HUNG, FAILED)] == [
        "STOPPED", "STALE", "HUNG", "FAILED"]
    first = service("x", ProbeResult(True, "process", pid=7), down("tcp", HUNG), down("http", FAILED))
    assert (first.pid, first.failure.probe, first.cause) == (7, "tcp", HUNG)
