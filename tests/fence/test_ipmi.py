"""fence/backends/ipmi.py in-process against what BMCs of several vendors make ipmitool print,
shaped with pytest-subprocess: exit codes that void the output, warnings on stderr, refusals of a
chassis already off, a power state slow to change.  Real ipmitool against a real BMC simulator
(ipmi_sim over lanplus), and ours against fence_ipmilan: fence/test_fence_cli.py."""

import io
import os
import signal

import pytest
from helpers import fence_conf

from mdlp_agents.common.exitcodes import FENCE_FAILED, FENCE_OK, FENCE_STATUS_OFF
from mdlp_agents.common.main import outcome
from mdlp_agents.fence import runner
from mdlp_agents.fence.backends import FenceBackend
from mdlp_agents.fence.cli import FenceRun

pytestmark = pytest.mark.inprocess
PASSWORD = "bmc-secret-pw"
REQUEST = ("backend=ipmi\nip=127.0.0.1\nusername=admin\npassword=%s\nnodename=node2\npower_timeout=0.3\n"
           "power_wait=0\n" % PASSWORD)


@pytest.fixture
def bmc(tmp_path, fp, monkeypatch):
    """ipmitool as pytest-subprocess answers it; bmc.say(command, stdout, stderr, returncode) queues
    one answer to `ipmitool ... chassis power COMMAND`."""
    tool = tmp_path / "ipmitool"
    tool.write_text("")          # never run: it only has to exist and be executable
    tool.chmod(0o755)
    monkeypatch.setattr(FenceBackend, "POLL", 0.01)
    # pytest-subprocess answers for subprocess.Popen: the runner's posix_spawn path is left to the
    # contract tests against ipmi_sim (fence/test_fence_cli.py)
    monkeypatch.setattr(runner, "USE_POSIX_SPAWN", False)

    class Bmc:
        conf = fence_conf(tmp_path, "ipmitool_path = %s\n" % tool)

        @staticmethod
        def say(command, stdout="", stderr="", returncode=0, times=1):
            fp.register([str(tool), fp.any(), "chassis", "power", command], stdout=stdout, stderr=stderr,
                        returncode=returncode, occurrences=times)

        @staticmethod
        def calls(command):
            return fp.call_count([str(tool), fp.any(), "chassis", "power", command])

        @staticmethod
        def argvs():
            return [" ".join(str(word) for word in call) for call in fp.calls]

    return Bmc


def fence(bmc, action, extra=""):
    """fence_mdlp's run with ACTION (and EXTRA stdin lines), in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    run = FenceRun(out=out, err=err, environ={"MDLP_FENCE_CONF": str(bmc.conf), "PATH": os.environ["PATH"]})
    previous = signal.getsignal(signal.SIGALRM)
    try:
        code = outcome(lambda: run.main([], io.StringIO(REQUEST + extra + "action=%s\n" % action)), run.log.fail,
                       FENCE_FAILED)
    finally:   # the run's deadline must not outlive it here
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert all(PASSWORD not in argv for argv in bmc.argvs())   # through -f /dev/fd/N, never argv
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stdout,stderr,code,answer", [
    ("Chassis Power is on\n", "", FENCE_OK, "Status: ON\n"),
    ("Chassis Power is off\n", "", FENCE_STATUS_OFF, "Status: OFF\n"),
    ("Chassis power is ON\n", "", FENCE_OK, "Status: ON\n"),
    # Supermicro and others warn on stderr and still answer
    ("Chassis Power is on\n", "Get HPM.x Capabilities request failed, compcode = c9\n", FENCE_OK, "Status: ON\n"),
    ("Chassis Power is off\n", "Warning: cipher suite 17 not supported, using 3\n", FENCE_STATUS_OFF, "Status: OFF\n"),
])
def test_status_as_bmcs_print_it(bmc, stdout, stderr, code, answer):
    bmc.say("status", stdout, stderr)
    assert fence(bmc, "status")[:2] == (code, answer)


@pytest.mark.parametrize("stdout,stderr,returncode,reason", [
    ("Chassis Power is unknown\n", "", 0, "Chassis Power is unknown"),
    ("", "", 0, "no answer"),
    ("Chassis Power is off\n", "", 1, "Chassis Power is off"),   # the exit code voids the output
    ("", "Error: Unable to establish IPMI v2 / RMCP+ session\n", 1,
     "Error: Unable to establish IPMI v2 / RMCP+ session"),
    ("", "Set Session Privilege Level to ADMINISTRATOR failed\n", 1,
     "Set Session Privilege Level to ADMINISTRATOR failed"),
])
def test_any_doubt_about_the_status_is_a_failure(bmc, stdout, stderr, returncode, reason):
    bmc.say("status", stdout, stderr, returncode)
    code, out, err = fence(bmc, "status")
    assert code == FENCE_FAILED and out == ""
    assert err == ("fence_mdlp: status of node2: no backend could tell (last: ipmi: BMC 127.0.0.1: cannot read "
                   "power status (ipmitool exit %d): %s)\n" % (returncode, reason))


AMBIGUOUS = ["Chassis Power is off\nChassis Power is on\n", "Chassis Power is on\nchassis power is OFF\n",
             "Chassis Power is on (was: Chassis Power is off)\n", "Chassis Power is on\nChassis Power is x\n"]


@pytest.mark.parametrize("stdout", AMBIGUOUS)
def test_an_answer_naming_two_states_is_no_answer(bmc, stdout):
    """Both states in one answer (either order): status is unknown (1), off neither says "Already
    OFF" nor claims success -- whichever state came first."""
    bmc.say("status", stdout, times=5)
    bmc.say("off", "Chassis Power Control: Down/Off\n")
    code, out, err = fence(bmc, "status")
    assert (code, out) == (FENCE_FAILED, "") and "cannot read power status" in err, (code, out, err)
    code, out, err = fence(bmc, "off")
    assert code == FENCE_FAILED and "Success" not in out and "Already" not in out, (code, out, err)
    assert "NOT fenced" in err


def test_ipmitool_exit_code_voids_its_output(bmc):
    """An ipmitool that prints what a BMC would say when all is well, and exits 1 (was a shell
    stand-in in the contract layer)."""
    bmc.say("status", "Chassis Power is off\n", returncode=1, times=5)
    bmc.say("off", "Chassis Power is off\n", returncode=1)
    code, _, err = fence(bmc, "status")
    assert code == 1 and "cannot read power status (ipmitool exit 1)" in err
    code, out, _ = fence(bmc, "off")
    assert code == 1 and "Success" not in out


def test_off_confirmed_after_the_chassis_takes_its_time(bmc):
    bmc.say("status", "Chassis Power is on\n", times=3)   # before, and twice after the command
    bmc.say("off", "Chassis Power Control: Down/Off\n")
    bmc.say("status", "Chassis Power is off\n")
    code, out, err = fence(bmc, "off")
    assert (code, out, err) == (FENCE_OK, "Success: Powered OFF\n", "")
    assert bmc.calls("status") == 4


def test_off_never_confirmed_is_not_fenced(bmc):
    bmc.say("off", "Chassis Power Control: Down/Off\n")
    bmc.say("status", "Chassis Power is on\n", times=1000)
    code, out, err = fence(bmc, "off")
    assert code == FENCE_FAILED and out == ""
    assert "off of node2 FAILED with every backend" in err and "NOT fenced" in err
    assert "BMC 127.0.0.1 still reports power on 0.3s after power off" in err


def test_a_node_already_off_is_left_alone(bmc):
    """As fence_ipmilan: the state is read first; no power command for a node already off."""
    bmc.say("status", "Chassis Power is off\n")
    assert fence(bmc, "off")[:2] == (FENCE_OK, "Success: Already OFF\n")
    assert bmc.calls("off") == 0


def test_a_refused_off_of_a_chassis_gone_off_meanwhile_is_done(bmc):
    """Some BMCs refuse "power off" for a chassis that is off: what counts is the state."""
    bmc.say("status", "Chassis Power is on\n")
    bmc.say("off", stderr="Set Chassis Power Control to Down/Off failed: Command not supported in present state\n",
            returncode=1)
    bmc.say("status", "Chassis Power is off\n", times=2)
    assert fence(bmc, "off")[:2] == (FENCE_OK, "Success: Powered OFF\n")


def test_a_refused_off_of_a_chassis_still_on_is_not_fenced(bmc):
    bmc.say("status", "Chassis Power is on\n")
    bmc.say("off", stderr="Set Chassis Power Control to Down/Off failed: Insufficient privilege level\n",
            returncode=1)
    bmc.say("status", "Chassis Power is on\n")
    code, out, err = fence(bmc, "off")
    assert code == FENCE_FAILED and out == ""
    assert "power off refused (ipmitool exit 1): Set Chassis Power Control to Down/Off failed: Insufficient " \
           "privilege level" in err


def test_reboot_is_off_confirmed_then_on(bmc):
    bmc.say("status", "Chassis Power is on\n")
    bmc.say("off", "Chassis Power Control: Down/Off\n")
    bmc.say("status", "Chassis Power is off\n")
    bmc.say("on", "Chassis Power Control: Up/On\n")
    bmc.say("status", "Chassis Power is on\n")
    assert fence(bmc, "reboot")[:2] == (FENCE_OK, "Success: Rebooted\n")
    assert [a.split()[-1] for a in bmc.argvs()] == ["status", "off", "status", "on", "status"]


def test_reboot_of_a_node_that_is_off_switches_it_on(bmc):
    bmc.say("status", "Chassis Power is off\n")
    bmc.say("on", "Chassis Power Control: Up/On\n")
    bmc.say("status", "Chassis Power is on\n")
    assert fence(bmc, "reboot")[:2] == (FENCE_OK, "Success: Rebooted\n")
    assert [a.split()[-1] for a in bmc.argvs()] == ["status", "on", "status"]


@pytest.mark.parametrize("retry_on,tries", [("0", 1), ("1", 2), ("3", 4)])
def test_retry_on_counts_attempts_to_power_on(bmc, retry_on, tries):
    """fencing.py: `on` is 1 + retry_on attempts; `off` is one."""
    bmc.say("status", "Chassis Power is off\n", times=100)
    bmc.say("on", stderr="Set Chassis Power Control to Up/On failed: Node busy\n", returncode=1, times=100)
    assert fence(bmc, "on", "retry_on=%s\n" % retry_on)[0] == FENCE_FAILED
    assert bmc.calls("on") == tries


def test_power_wait_defaults_to_fence_ipmilan_s(bmc, monkeypatch):
    from mdlp_agents.fence import backends
    slept = []
    monkeypatch.setattr(backends, "time", type("Clock", (), {"sleep": staticmethod(slept.append),
                                                             "monotonic": staticmethod(backends.time.monotonic)}))
    bmc.say("status", "Chassis Power is on\n")
    bmc.say("off", "Chassis Power Control: Down/Off\n")
    bmc.say("status", "Chassis Power is off\n")
    assert fence(bmc, "off", "power_wait=2\n")[0] == FENCE_OK and slept == [2.0]
    slept.clear()
    bmc.say("status", "Chassis Power is on\n")
    bmc.say("off", "Chassis Power Control: Down/Off\n")
    bmc.say("status", "Chassis Power is off\n")
    request = REQUEST.replace("power_wait=0\n", "")
    assert request != REQUEST
    out, err = io.StringIO(), io.StringIO()
    run = FenceRun(out=out, err=err, environ={"MDLP_FENCE_CONF": str(bmc.conf), "PATH": os.environ["PATH"]})
    try:
        assert outcome(lambda: run.main([], io.StringIO(request + "action=off\n")), run.log.fail, 1) == FENCE_OK
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    assert slept == [2]      # IpmiBackend.POWER_WAIT, when power_wait is not given


@pytest.mark.parametrize("key,problem", [
    ("xyz", "not a Kg key"), ("abc", "not a Kg key"), ("00" * 21, "not a Kg key"),
    ("0100ff", "a key with a zero byte inside"),
])
def test_a_bad_kg_key_is_one_line_and_never_shown(bmc, key, problem):
    code, out, err = fence(bmc, "status", "hexadecimal_kg=%s\n" % key)
    assert code == FENCE_FAILED and problem in err and key not in err and len(err.splitlines()) == 1


def test_the_kg_key_travels_in_the_environment(bmc, fp):
    bmc.say("status", "Chassis Power is on\n")
    result = fence(bmc, "status", "hexadecimal_kg=0x6b67206b6579000000\n")
    assert result[:2] == (FENCE_OK, "Status: ON\n"), result
    argv = bmc.argvs()[0].split()
    assert "-K" in argv and not any("6b67" in word for word in argv)
