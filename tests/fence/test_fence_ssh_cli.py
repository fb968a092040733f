"""fence_mdlp's ssh backend against a real sshd in a network namespace the test makes:
the services are real processes, the floating IP a real address on the node's link."""

import os
import signal
import subprocess

import pytest
from helpers import fence_conf, run_fence, wait_for

NAMES = ("httpd", "PolicyEngine", "RProxyWD")


def _stdin(*lines):
    return "".join(line + "\n" for line in lines)


def _start_services(fake):
    return {name: fake.start(name, pidfile=False) for name in NAMES}


def test_ssh_off_kills_services_and_drops_the_floating_ip(tmp_path, fake, victim, syslog):
    procs = _start_services(fake)
    conf = fence_conf(tmp_path)
    status = run_fence(stdin=_stdin("nodename=node2", "action=status", *victim.ssh_lines()), conf=conf)
    assert status.returncode == 0 and status.stdout == "Status: ON\n", status
    result = run_fence(stdin=_stdin("nodename=node2", "action=off", *victim.ssh_lines()), conf=conf)
    assert result.returncode == 0, result
    assert result.stdout == "Success: Powered OFF\n"
    for name, proc in procs.items():
        assert proc.wait(timeout=5) == -signal.SIGKILL, name
    assert not victim.has_vip()
    status = run_fence(stdin=_stdin("nodename=node2", "action=status", *victim.ssh_lines()), conf=conf)
    assert status.returncode == 2 and status.stdout == "Status: OFF\n", status
    assert any("off of node2 done by ssh" in line for line in syslog.lines())


def test_ssh_reboot_is_off_then_reachable(tmp_path, fake, victim):
    _start_services(fake)
    result = run_fence(stdin=_stdin("nodename=node2", *victim.ssh_lines()), conf=fence_conf(tmp_path))
    assert result.returncode == 0 and result.stdout == "Success: Rebooted\n", result
    assert not victim.has_vip()


def test_ssh_unreachable_is_a_failure(tmp_path, fake, victim):
    procs = _start_services(fake)
    victim.stop_sshd()
    result = run_fence(stdin=_stdin("nodename=node2", "action=off", *victim.ssh_lines()), conf=fence_conf(tmp_path))
    assert result.returncode == 1, result
    assert "ssh to %s:2222 failed" % victim.NODE_ADDR in result.stderr and "NOT fenced" in result.stderr
    assert all(proc.poll() is None for proc in procs.values()) and victim.has_vip()


def test_ssh_key_not_authorized_is_a_failure(tmp_path, fake, victim):
    _start_services(fake)
    result = run_fence(stdin=_stdin("nodename=node2", "action=off", *victim.ssh_lines(key="stranger_key")),
                       conf=fence_conf(tmp_path))
    assert result.returncode == 1 and "Permission denied" in result.stderr, result
    assert victim.has_vip()


def test_ssh_unknown_host_key_is_a_failure(tmp_path, fake, victim):
    _start_services(fake)
    (victim.root / "empty_known_hosts").write_text("")
    lines = victim.ssh_lines(known_hosts="empty_known_hosts")
    result = run_fence(stdin=_stdin("nodename=node2", "action=off", *lines), conf=fence_conf(tmp_path))
    assert result.returncode == 1 and "Host key verification failed" in result.stderr, result
    assert victim.has_vip()


def test_ssh_survivor_means_not_fenced(tmp_path, fake, victim):
    """RProxyWD is respawned as fast as it is killed: the verification must say so."""
    fake.start("httpd", pidfile=False)
    fake.start("PolicyEngine", pidfile=False)
    program = fake.program("RProxyWD")
    respawner = subprocess.Popen(["/bin/sh", "-c", "while :; do %s 1000; done" % program], start_new_session=True)
    try:
        assert wait_for(lambda: subprocess.run(["pgrep", "-x", "RProxyWD"], capture_output=True).returncode == 0)
        result = run_fence(stdin=_stdin("nodename=node2", "action=off", "power_timeout=2", *victim.ssh_lines()),
                           conf=fence_conf(tmp_path))
    finally:
        os.killpg(respawner.pid, signal.SIGKILL)
        respawner.wait()
    assert result.returncode == 1, result
    assert "still on running: RProxyWD" in result.stderr


def test_ssh_then_noop_chain(tmp_path, fake, victim, syslog):
    victim.stop_sshd()
    stdin = _stdin("nodename=node2", "action=off", *victim.ssh_lines()).replace("backend=ssh", "backend=ssh,noop")
    result = run_fence(stdin=stdin, conf=fence_conf(tmp_path))
    assert result.returncode == 0, result
    assert "NOTHING WAS FENCED" in result.stderr
    lines = syslog.lines()
    assert any("off of node2 via ssh, attempt 1/1 failed" in line for line in lines), lines


def test_ssh_node_address_from_host_map(tmp_path, fake, victim):
    _start_services(fake)
    lines = [line for line in victim.ssh_lines() if not line.startswith("ip=")]
    lines.append("host_map=node1:%s.99;node2:%s" % (victim.NODE_ADDR.rsplit(".", 1)[0], victim.NODE_ADDR))
    result = run_fence(stdin=_stdin("nodename=node2", "action=off", *lines), conf=fence_conf(tmp_path))
    assert result.returncode == 0, result
    listing = run_fence(stdin=_stdin("action=list", *lines), conf=fence_conf(tmp_path))
    assert listing.returncode == 0 and listing.stdout == "node1,\nnode2,\n", listing


def test_vip_with_a_prefix_length_is_still_found_and_dropped(tmp_path, fake, victim):
    _start_services(fake)
    lines = [line if not line.startswith("vip=") else "vip=%s/24" % victim.VIP for line in victim.ssh_lines()]
    result = run_fence(stdin=_stdin("nodename=node2", "action=off", *lines), conf=fence_conf(tmp_path))
    assert result.returncode == 0, result
    assert not victim.has_vip()


@pytest.mark.inprocess
def test_the_node_script_never_says_off_when_it_cannot_look(tmp_path):
    """The script the ssh backend sends, run by a real sh on a node without ps: an error, not "off"."""
    from mdlp_agents.fence.backends.ssh import SshBackend
    backend = SshBackend({"kill_processes": "httpd", "vip": "10.9.9.9"}, None, None)
    nops = tmp_path / "bin"
    nops.mkdir()
    for tool in ("ip", "awk", "tr", "sleep", "pkill", "killall", "rm"):
        path = subprocess.run(["sh", "-c", "command -v %s" % tool], capture_output=True, text=True).stdout.strip()
        if path:
            (nops / tool).symlink_to(path)
    result = subprocess.run(["/bin/sh", "-s"], input=backend._script("report\n"), capture_output=True,
                            env={"PATH": str(nops)})
    assert b"MDLP-FENCE error: no ps on the node: cannot verify" in result.stdout, result
    assert b"MDLP-FENCE off" not in result.stdout


def test_unmatchable_process_names_are_refused(tmp_path, victim):
    lines = victim.ssh_lines() + ["kill_processes=httpd,a-very-long-process-name"]
    result = run_fence(stdin=_stdin("nodename=node2", "action=off", *lines), conf=fence_conf(tmp_path))
    assert result.returncode == 1 and "cannot be matched by its process name" in result.stderr, result
