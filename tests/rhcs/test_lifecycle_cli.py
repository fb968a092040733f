"""start / stop / monitor as rgmanager and Pacemaker drive them, with real
start and stop commands, the OCF "active on this node" role, and ocf-tester."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import alive, install_front, run_agent, sigstop, wait_for, write_config
from services import NAMES, service_pid


def test_start_in_order_then_idempotent(managed, fake):
    config = managed()
    assert run_agent("status", config=config).returncode == 3
    result = run_agent("start", config=config)
    assert result.returncode == 0, result
    assert managed.order() == ["start httpd", "start PolicyEngine", "start RProxyWD"]
    assert run_agent("status", config=config).returncode == 0
    again = run_agent("start", config=config)
    assert again.returncode == 0, again
    assert managed.order() == ["start httpd", "start PolicyEngine", "start RProxyWD"]  # nothing restarted
    # only the service that is down is started
    os.kill(service_pid(fake, "PolicyEngine"), signal.SIGKILL)
    assert run_agent("start", config=config).returncode == 0
    assert managed.order()[3:] == ["start PolicyEngine"]


def test_start_that_never_becomes_healthy_fails_in_time(tmp_path):
    name = "PolicyEngine%d" % (os.getpid() % 1000)  # not a name anything else on the host runs
    config = write_config(tmp_path, "[service %s]\nprocess = %s\nstart = true\n" % (name, name),
                          agent="start_timeout = 2\n")
    result = run_agent("start", config=config)
    assert result.returncode == 1, result
    assert "service %s did not become healthy within 2s" % name in result.stderr
    assert result.elapsed < 4


def test_start_with_missing_program_is_not_installed(tmp_path, ocf_link):
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\nstart = /opt/nowhere/httpd\n")
    assert run_agent("start", config=config).returncode == 5
    assert run_agent("start", config=config, ocf_link=ocf_link).returncode == 5


def test_stop_with_leave_policy_leaves_services_running(managed, fake):
    config = managed("leave")
    assert run_agent("start", config=config).returncode == 0
    result = run_agent("stop", config=config)
    assert result.returncode == 0, result
    assert all(alive(service_pid(fake, n)) for n in NAMES)
    assert "stop" not in " ".join(managed.order())


def test_stop_policy_stop_in_reverse_order_and_idempotent(managed, fake):
    config = managed("stop")
    assert run_agent("start", config=config).returncode == 0
    pids = [service_pid(fake, n) for n in NAMES]
    result = run_agent("stop", config=config)
    assert result.returncode == 0, result
    assert managed.order()[3:] == ["stop RProxyWD", "stop PolicyEngine", "stop httpd"]
    assert not any(alive(pid) for pid in pids)
    again = run_agent("stop", config=config)
    assert again.returncode == 0, again
    assert len(managed.order()) == 6


def test_stop_escalates_to_sigkill(managed, fake, tmp_path):
    config = managed("stop", stop_cmd="true")
    # RProxyWD here is a python that ignores SIGTERM
    ignorer = fake.program("RProxyWD-stubborn", target=sys.executable)
    proc = subprocess.Popen([str(ignorer), "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                             "signal.SIG_IGN); open(%r, 'w').write('ready'); time.sleep(1000)"
                             % str(tmp_path / "ready")], start_new_session=True)
    fake.procs.setdefault("stubborn", []).append(proc)
    assert wait_for(lambda: (tmp_path / "ready").exists())
    for name in ("httpd", "PolicyEngine"):
        fake.start(name)
    fake.pidfile("RProxyWD").write_text("%d\n" % proc.pid)
    text = config.read_text().replace("process = RProxyWD\n", "process = RProxyWD-stubborn\n")
    config.write_text(text)
    assert run_agent("status", config=config).returncode == 0
    result = run_agent("stop", config=config, timeout=60)
    assert result.returncode == 0, result
    assert proc.wait(timeout=5) == -signal.SIGKILL


def test_stop_of_a_hung_service_needs_no_escalation(managed, fake, syslog):
    """A SIGSTOPped service gets SIGCONT right after the stop command (as systemd does), so the
    command's own SIGTERM ends it at once -- no grace period lost, no SIGKILL needed."""
    config = managed("stop")
    assert run_agent("start", config=config).returncode == 0
    syslog.lines()   # drained: a unix datagram queue holds only a few lines
    pid = service_pid(fake, "RProxyWD")
    sigstop(pid)
    result = run_agent("stop", config=config, timeout=60)
    assert result.returncode == 0, result
    assert not alive(pid)
    lines = syslog.lines()
    assert any("service RProxyWD stopped" in line for line in lines), lines
    assert not any("still running" in line for line in lines), lines   # no escalation


def test_stop_fails_when_processes_survive(managed, fake, tmp_path):
    """A supervisor respawns RProxyWD as fast as it is killed: stop must say so (exit 1)."""
    config = managed("stop", stop_cmd="true", extra_agent="")
    config.write_text(config.read_text().replace("stop_timeout = 8", "stop_timeout = 3"))
    program = fake.program("RProxyWD")
    for name in ("httpd", "PolicyEngine"):
        fake.start(name)
    respawner = subprocess.Popen(["/bin/sh", "-c", "while :; do %s 1000 & echo $! > %s; wait; done"
                                  % (program, fake.pidfile("RProxyWD"))], start_new_session=True)
    try:
        assert wait_for(lambda: run_agent("status", config=config).returncode == 0)
        result = run_agent("stop", config=config, timeout=60)
        assert result.returncode == 1, result
        assert "service RProxyWD is still running after stop" in result.stderr
    finally:
        os.killpg(respawner.pid, signal.SIGKILL)
        respawner.wait()


def test_ocf_monitor_follows_the_active_role(managed, fake, ocf_link):
    config = managed("leave")
    for name in NAMES:
        fake.start(name)
    # services run (as on both nodes), but this node never started the resource
    assert run_agent("status", config=config).returncode == 0
    assert run_agent("monitor", config=config, ocf_link=ocf_link).returncode == 7
    assert run_agent("status", config=config, ocf_link=ocf_link).returncode == 7  # legacy name
    assert run_agent("start", config=config, ocf_link=ocf_link).returncode == 0
    assert run_agent("monitor", config=config, ocf_link=ocf_link).returncode == 0
    status = run_agent("status", "--json", "--config", str(config))
    assert '"role": "active"' in status.stdout
    sigstop(service_pid(fake, "RProxyWD"))  # one hung: a failure, not "stopped"
    assert run_agent("monitor", config=config, ocf_link=ocf_link).returncode == 1
    fake.kill("RProxyWD")
    assert run_agent("monitor", config=config, ocf_link=ocf_link).returncode == 1  # some down
    fake.kill("httpd")
    fake.kill("PolicyEngine")
    assert run_agent("monitor", config=config, ocf_link=ocf_link).returncode == 7  # all down
    assert run_agent("stop", config=config, ocf_link=ocf_link).returncode == 0
    assert run_agent("monitor", config=config, ocf_link=ocf_link).returncode == 7


def test_ocf_broken_config(tmp_path, ocf_link):
    bad = tmp_path / "bad.conf"
    bad.write_text("[service x]\n")
    assert run_agent("validate-all", config=bad, ocf_link=ocf_link).returncode == 6
    assert run_agent("start", config=bad, ocf_link=ocf_link).returncode == 6  # the same file everywhere
    # missing on this node only: "not installed" here, so Pacemaker tries the other node
    missing = tmp_path / "missing.conf"
    assert run_agent("start", config=missing, ocf_link=ocf_link).returncode == 5
    assert run_agent("validate-all", config=missing, ocf_link=ocf_link).returncode == 5
    assert run_agent("status", config=missing).returncode == 6  # LSB: not configured
    # a probe on a node that never started the resource: not running here
    assert run_agent("monitor", config=bad, ocf_link=ocf_link).returncode == 7
    # stop must not fail (that gets the node fenced): it gives up the role and says why
    result = run_agent("stop", config=bad, ocf_link=ocf_link)
    assert result.returncode == 0 and "no service stopped" in result.stderr


def test_ocf_start_honours_the_operation_timeout(tmp_path, ocf_link):
    config = write_config(tmp_path, "[service PolicyEngine]\nprocess = PolicyEngine\nstart = true\n",
                          agent="start_timeout = 60\n")
    result = run_agent("start", config=config, ocf_link=ocf_link,
                       env={"OCF_RESKEY_CRM_meta_timeout": "4000"})
    assert result.returncode == 1 and result.elapsed < 4, result


def test_metadata_is_valid_against_ra_api_dtd(tmp_path, ocf_link):
    result = run_agent("meta-data", ocf_link=ocf_link)
    assert result.returncode == 0
    meta = tmp_path / "meta.xml"
    meta.write_text(result.stdout)
    check = subprocess.run(["xmllint", "--noout", "--path", "/usr/share/resource-agents", "--dtdvalid",
                            "/usr/share/resource-agents/ra-api-1.dtd", str(meta)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert '<parameter name="config"' in result.stdout
    assert 'default="/etc/mdlp_agents/mdlp_rhcs.conf"' in result.stdout
    for action in ("start", "stop", "monitor", "meta-data", "validate-all"):
        assert '<action name="%s"' % action in result.stdout


@pytest.mark.parametrize("policy", ["leave", "stop"])
def test_ocf_tester_passes(managed, policy):
    """resource-agents' own checker, through an OCF link that `nobody` can reach."""
    config = managed(policy)
    public = Path(tempfile.mkdtemp(prefix="mdlp-ocf-"))
    try:
        os.chmod(public, 0o755)
        link = public / "resource.d" / "websense" / "mdlp"
        install_front(link)
        for directory in (public / "resource.d", link.parent):
            os.chmod(directory, 0o755)
        result = subprocess.run(["ocf-tester", "-n", "mdlp", "-o", "config=%s" % config, str(link)],
                                capture_output=True, text=True, timeout=300)
    finally:
        shutil.rmtree(public)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed all tests" in result.stdout


def test_restart_stops_in_reverse_then_starts_in_order(managed, fake):
    config = managed("leave")  # restart stops the services whatever the policy
    assert run_agent("start", config=config).returncode == 0
    before = {n: service_pid(fake, n) for n in NAMES}
    result = run_agent("restart", config=config)
    assert result.returncode == 0, result
    assert managed.order()[3:] == ["stop RProxyWD", "stop PolicyEngine", "stop httpd",
                                   "start httpd", "start PolicyEngine", "start RProxyWD"]
    after = {n: service_pid(fake, n) for n in NAMES}
    assert all(before[n] != after[n] and alive(after[n]) and not alive(before[n]) for n in NAMES)
    assert run_agent("status", config=config).returncode == 0
