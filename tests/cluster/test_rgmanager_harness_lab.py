"""rgmanager and fenced harnesses: our agents called exactly as those daemons call them,
configured by the guide's cluster.conf (see rhcs_harness.py)."""

import os
import signal
import subprocess
import time

import pytest
from devices import IpmiSim
from helpers import BIN_DIR, alive, free_udp_port, sigstop, wait_for
from services import service_pid

from rhcs_harness import CLUSTER_CONF, SCRIPT, Fenced, Rgmanager, libfence_blocks

pytestmark = pytest.mark.cluster
CADENCE = 0.3      # rgmanager polls status every 30 s; compressed here
DEADLINE = 3       # the `managed` config's deadline


def _conf(port1=1, port2=2, deadline=20):
    return CLUSTER_CONF.format(port1=port1, port2=port2, deadline=deadline)


@pytest.fixture
def rgmanager(tmp_path, managed):
    """rgmanager on a node whose /etc/mdlp_agents/mdlp_rhcs.conf starts and stops the fakes."""
    harness = Rgmanager(tmp_path / "node", BIN_DIR, _conf())
    harness.write_etc("mdlp_agents/mdlp_rhcs.conf", managed("stop").read_text())
    return harness


def _cadence(harness, rounds):
    results = []
    for _ in range(rounds):
        results.append(harness.call("status"))
        time.sleep(CADENCE)
    return results


def test_rgmanager_runs_the_script_from_cluster_conf(rgmanager):
    assert rgmanager.script().get("file") == SCRIPT
    # nothing started yet: status must fail (rgmanager would start the service)
    assert rgmanager.call("status").returncode != 0


def test_rgmanager_cadence_notices_a_dead_service_then_stop_and_start(rgmanager, fake):
    assert rgmanager.call("start").returncode == 0
    healthy = _cadence(rgmanager, 5)
    assert [r.returncode for r in healthy] == [0] * 5, healthy
    os.kill(service_pid(fake, "PolicyEngine"), signal.SIGKILL)
    failed = _cadence(rgmanager, 3)
    assert all(r.returncode != 0 for r in failed), failed
    assert "PolicyEngine" in failed[0].output
    assert all(r.elapsed < DEADLINE + 2 for r in healthy + failed)
    # recovery="relocate": stop here (must succeed, or the service goes to "failed") ...
    others = [service_pid(fake, n) for n in ("httpd", "RProxyWD")]
    stop = rgmanager.call("stop")
    assert stop.returncode == 0, stop
    assert not any(alive(pid) for pid in others)
    assert rgmanager.call("stop").returncode == 0        # idempotent
    assert rgmanager.call("status").returncode != 0
    # ... and start on the next node of the domain (here the same box plays it: what is shown is that
    # stop left nothing behind and start brings all three back)
    assert rgmanager.call("start").returncode == 0
    assert rgmanager.call("status").returncode == 0


def test_rgmanager_status_of_a_hung_service_answers_in_time(rgmanager, fake):
    """No timeout guards a script resource: a status that hung would hang recovery."""
    assert rgmanager.call("start").returncode == 0
    sigstop(service_pid(fake, "httpd"))
    result = rgmanager.call("status", timeout=DEADLINE + 10)
    assert result.returncode != 0 and result.elapsed < DEADLINE + 2, result
    stop = rgmanager.call("stop")
    assert stop.returncode == 0, stop


def test_rgmanager_with_a_broken_config(rgmanager):
    rgmanager.write_etc("mdlp_agents/mdlp_rhcs.conf", "[service httpd\nprocess = httpd\n")
    status = rgmanager.call("status")
    assert status.returncode != 0 and "Traceback" not in status.output
    assert len(status.output.strip().splitlines()) == 1, status
    # a failed stop would leave the service "failed" until an admin steps in
    assert rgmanager.call("stop").returncode == 0


@pytest.fixture
def fenced(tmp_path):
    """fenced on node1 with the guide's cluster.conf; node2's BMC is a real ipmi_sim."""
    bmc = IpmiSim(tmp_path / "bmc-node2", name="node2").start()
    harness = Fenced(tmp_path / "node1", BIN_DIR, _conf(port1=free_udp_port(), port2=bmc.port, deadline=15))
    harness.write_etc("mdlp_agents/fence_mdlp.conf",
                      "[agent]\nsyslog_socket = %s\nstate_dir = %s\n[fence]\npassword = %s\n"
                      % (tmp_path / "syslog.sock", tmp_path / "state", IpmiSim.PASSWORD))
    harness.bmc = bmc
    yield harness
    bmc.stop()


def test_libfence_block_from_cluster_conf(fenced):
    [(agent, block)] = libfence_blocks(fenced.tree, "node2")
    assert agent == "fence_mdlp"
    lines = block.splitlines()
    assert lines[0] == "ipport=%d" % fenced.bmc.port and lines[1] == "nodename=node2"
    assert "agent=fence_mdlp" in lines and "backend=ipmi" in lines and "login=admin" in lines
    assert not any(line.startswith(("passwd", "password", "name=")) for line in lines)
    assert "action" not in block      # fenced sends none: reboot is the default


def test_fenced_reboots_node2_through_its_bmc(fenced, syslog):
    [result] = fenced.fence("node2")
    assert result.returncode == 0, (result, result.block)
    assert [line for line in fenced.bmc.log() if line.startswith("set")] == ["set power 0", "set power 1"]
    assert fenced.bmc.power == "on"
    assert len(result.output) < 4096        # the pipe nobody reads stays far from full
    assert wait_for(lambda: any("node2" in line for line in syslog.lines()), timeout=2)


def test_fenced_with_a_dead_bmc_gets_a_failure_within_the_deadline(fenced):
    fenced.bmc.stop()
    [result] = fenced.fence("node2", timeout=60)
    assert result.returncode == 1, result
    assert result.elapsed < 15 + 3, result        # deadline="15" on the fencedevice
    assert "NOT fenced" in result.output or "timed out" in result.output, result


def test_fenced_with_the_cluster_conf_mdlp_cluster_renders(tmp_path, syslog):
    """The whole RHCS path: answer file -> mdlp-cluster render rhcs -> fenced's stdin block ->
    fence_mdlp -> the BMC of the victim (and only that one), the preferred node's device delayed."""
    bmcs = {name: IpmiSim(tmp_path / ("bmc-" + name), name=name, address=address, port=623).start()
            for name, address in (("node1", "127.0.0.11"), ("node2", "127.0.0.12"))}
    try:
        answers = tmp_path / "site.toml"
        answers.write_text('[site]\nfence_delay = 5\n[[cluster]]\nname = "mobile-cs"\nfloating_ip = "10.0.32.201"\n'
                           'failover_order = ["node1", "node2"]\nnodes = [\n'
                           ' {name = "node1", address = "10.0.32.11", bmc = "127.0.0.11"},\n'
                           ' {name = "node2", address = "10.0.32.12", bmc = "127.0.0.12"}]\n')
        render = subprocess.run([str(BIN_DIR / "mdlp-cluster"), "render", "rhcs", str(answers)],
                                capture_output=True, text=True, timeout=60)
        assert render.returncode == 0, render.stderr
        harness = Fenced(tmp_path / "node", BIN_DIR, render.stdout)
        harness.write_etc("mdlp_agents/fence_mdlp.conf", "[agent]\nsyslog_socket = %s\nstate_dir = %s\n[fence]\n"
                          "password = %s\n" % (tmp_path / "syslog.sock", tmp_path / "state", IpmiSim.PASSWORD))
        [node2] = harness.fence("node2")
        assert node2.returncode == 0, (node2, node2.block)
        assert "ipaddr=127.0.0.12" in node2.block and "delay" not in node2.block
        [node1] = harness.fence("node1")
        assert node1.returncode == 0, (node1, node1.block)
        assert "delay=5" in node1.block and node1.elapsed >= 5
        for name, bmc in bmcs.items():
            assert [line for line in bmc.log() if line.startswith("set")] == ["set power 0", "set power 1"], name
    finally:
        for bmc in bmcs.values():
            bmc.stop()
