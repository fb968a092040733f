"""fence_mdlp: the protocol fenced and Pacemaker speak, the noop and ipmi backends
against a real ipmi_sim BMC, compared with fence-agents' own fence_ipmilan."""

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from devices import IpmiSim
from helpers import FENCE, fence_conf, run_fence

from platform_under_test import PLATFORM

# fence-agents' fence_ipmilan, the control of a comparison, is the system's: the same program in every
# row of the platform matrix, so its half of a comparison runs in the main run only
CONTROL = pytest.mark.skipif(PLATFORM != "current", reason="the control (fence_ipmilan) is the same in every row")

RNG = "/usr/share/cluster/relaxng/metadata.rng"
NOOP_WARNING = "NOTHING WAS FENCED"


def _stdin(*lines):
    return "".join(line + "\n" for line in lines)


def _ipmi_lines(bmc, password=IpmiSim.PASSWORD):
    return ["backend=ipmi", "ip=127.0.0.1", "ipport=%d" % bmc.port, "username=admin",
            "password=%s" % password, "cipher=3", "power_wait=0"]


# -- metadata ---------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["argv", "stdin"])
def test_metadata_validates_against_fence_agents_schema(tmp_path, how):
    result = run_fence("-o", "metadata") if how == "argv" else run_fence(stdin="action=metadata\n")
    assert result.returncode == 0, result
    path = tmp_path / "meta.xml"
    path.write_text(result.stdout)
    check = subprocess.run(["xmllint", "--noout", "--relaxng", RNG, str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    for name in ("plug", "port", "ip", "ipaddr", "username", "login", "password", "passwd", "password_script",
                 "passwd_script", "delay", "power_timeout", "power_wait", "login_timeout", "shell_timeout",
                 "retry_on", "verbose", "debug_file", "backend", "lanplus", "cipher", "privlvl", "ipport",
                 "identity_file", "ssh_options", "vip"):
        assert '<parameter name="%s"' % name in result.stdout, name
    assert '<parameter name="port" unique="0" required="0" deprecated="1">' in result.stdout
    assert '<parameter name="plug" unique="0" required="0" obsoletes="port">' in result.stdout
    assert '<getopt mixed="-p, --password=[password]" />' in result.stdout
    actions = re.findall(r'<action name="([a-z-]+)"', result.stdout)
    assert actions == ["on", "off", "reboot", "status", "monitor", "list", "list-status", "metadata",
                       "manpage", "validate-all"]


@pytest.mark.parametrize("args", [("-V",), ("--version",), ("--help",), ("-h",)])
def test_help_and_version_do_nothing_else(tmp_path, plugin_path, args):
    """With a site backend configured, -V must not fall through to the default action (reboot)."""
    conf = fence_conf(tmp_path, "backend = slow\nplug = node2\n")
    env = {"PYTHONPATH": str(plugin_path), "SLOW_LOG": str(tmp_path / "slow.log"), "SLOW_SECONDS": "0"}
    result = run_fence(*args, conf=conf, env=env)
    assert result.returncode == 0 and result.stderr == "", result
    assert not (tmp_path / "slow.log").exists()


def test_manpage_and_help_hold_no_secret(tmp_path):
    conf = fence_conf(tmp_path, "backend = noop\npassword = very-secret-pw\n")
    for args in (("-o", "manpage"), ("--help",)):
        result = run_fence(*args, conf=conf)
        assert result.returncode == 0, result
        assert "very-secret-pw" not in result.stdout + result.stderr
    assert ".TH FENCE_MDLP 8" in run_fence("-o", "manpage").stdout
    assert "--password-script" in run_fence("--help").stdout


# -- how fenced and Pacemaker call us --------------------------------------------------
def test_fenced_style_stdin_no_argv_default_reboot(tmp_path, syslog):
    """fenced: device attributes, nodename=, fence device attributes with agent=; no action."""
    conf = fence_conf(tmp_path)
    stdin = _stdin("backend=noop", "nodename=node2", "agent=fence_mdlp")
    proc = subprocess.Popen([str(FENCE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, MDLP_FENCE_CONF=str(conf)))
    proc.stdin.write(stdin.encode())
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0  # its pipe was never read while it ran: it must not block on it
    output = proc.stdout.read().decode()
    assert len(output.splitlines()) <= 3, output
    assert "Success: Rebooted" in output
    lines = syslog.lines()
    assert any(NOOP_WARNING in line and "off of node2" in line and line.startswith("<28>fence_mdlp[")
               for line in lines), lines
    assert any("reboot of node2 done by noop" in line for line in lines), lines


def test_pacemaker_style_stdin_with_extra_keys(tmp_path, syslog):
    conf = fence_conf(tmp_path)
    stdin = _stdin("action=off", "nodename=node2", "port=node2", "backend=noop", "pcmk_host_list=node2",
                   "method=onoff", "timeout=60", "# a comment", "", "retry-on=2")
    result = run_fence(stdin=stdin, conf=conf, env={"PCMK_service": "pacemaker-fenced"})
    assert result.returncode == 0, result
    assert result.stdout == "Success: Powered OFF\n"
    lines = syslog.lines()
    for key in ("pcmk_host_list", "timeout"):
        assert any("ignoring unknown parameter %r" % key in line for line in lines), (key, lines)


def test_port_wins_over_nodename_and_old_names_work(tmp_path, bmc):
    conf = fence_conf(tmp_path)
    stdin = _stdin("action=off", "nodename=node-x", "port=node1", "backend=ipmi", "ipaddr=127.0.0.1",
                   "ipport=%d" % bmc.port, "login=admin", 'passwd="%s"' % IpmiSim.PASSWORD, "cipher=3")
    result = run_fence(stdin=stdin, conf=conf)
    assert result.returncode == 0, result
    assert bmc.power == "off"
    assert (tmp_path / "state" / "fence-node1.lock").exists()  # the lock is the plug's, not nodename's
    assert not (tmp_path / "state" / "fence-node-x.lock").exists()


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("stdin,expected", [
    ("backend=noop\nnodename=node2\nthis line has no equals sign\n", "stdin line 3 is not key=value"),
    ("backend=noop\nnodename=node2\naction=explode\n", "Failed: Unrecognised action 'explode'"),
    ("nodename=node2\n", "no fence backend configured: set backend= (ipmi, noop, ssh)"),
    ("backend=teleport\nnodename=node2\n", "unknown backend 'teleport' (available: ipmi, noop, ssh)"),
    ("backend=noop\naction=off\n", "no node to fence"),
    ("backend=ipmi\nnodename=node2\nusername=admin\n", "backend ipmi: no BMC address: set ip="),
    ("backend=noop\nnodename=node2\ndelay=soon\n", "delay='soon' is not a valid time in seconds"),
    ("backend=noop\nnodename=node2\nlanplus=maybe\n", "lanplus='maybe' is not a boolean"),
    ("backend=noop\nnodename=node2\nprivlvl=god\n", "privlvl='god': use one of callback, user, operator"),
    ("backend=noop\nnodename=node2\ndeadline=0\n", "deadline=0.0: the run must be bounded"),
    ("backend=noop\nnodename=node2\ndelay=inf\n", "delay=inf must be a finite number"),
    ("\x00\xff garbage \x01\n", "stdin line 1 is not key=value"),
    ("backend=noop\nnodename=node2\npasswd hunter2\n", "stdin line 3 is not key=value (14 characters, no '=')"),
    ("x" * 70000, "more than 65536 bytes on stdin"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, stdin, expected):
    result = run_fence(stdin=stdin, conf=fence_conf(tmp_path))
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and expected in result.stderr, result
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_stdin_that_never_ends_is_bounded(tmp_path):
    conf = fence_conf(tmp_path, "backend = noop\ndeadline = 2\n")
    proc = subprocess.Popen([str(FENCE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, MDLP_FENCE_CONF=str(conf)))
    proc.stdin.write(b"nodename=node2\n")
    proc.stdin.flush()  # and never closed, like a caller that hangs
    try:
        assert proc.wait(timeout=30) == 1
    finally:
        proc.stdin.close()
    assert b"timed out after 2s: read input NOT confirmed" in proc.stderr.read()


def test_old_names_option_and_password_script(tmp_path, bmc):
    script = tmp_path / "pw.sh"
    script.write_text("#!/bin/sh\necho '%s'\n" % IpmiSim.PASSWORD)
    script.chmod(0o700)
    lines = [line for line in _ipmi_lines(bmc) if not line.startswith("password=")]
    stdin = _stdin("option=off", "port=node1", "passwd_script=%s" % script, *lines)
    result = run_fence(stdin=stdin, conf=fence_conf(tmp_path))
    assert result.returncode == 0 and result.stdout == "Success: Powered OFF\n", result
    assert bmc.power == "off"
    result = run_fence("-o", "on", "-n", "node1", "-a", "127.0.0.1", "-u", str(bmc.port), "-l", "admin",
                       "-S", str(script), "-C", "3", "--backend", "ipmi", "--power-wait", "0", "--retry-on", "2",
                       conf=fence_conf(tmp_path))
    assert result.returncode == 0 and bmc.power == "on", result


def test_site_config_errors_do_not_echo_secrets_and_others_cannot_write_it(tmp_path):
    conf = fence_conf(tmp_path, "backend = noop\npassword hunter2\n")
    result = run_fence(stdin="nodename=node2\n", conf=conf)
    assert result.returncode == 1 and "line" in result.stderr and "hunter2" not in result.stderr, result
    conf = fence_conf(tmp_path, "backend = noop\n")
    conf.chmod(0o666)
    result = run_fence(stdin="nodename=node2\n", conf=conf)
    assert result.returncode == 1 and "writable by others" in result.stderr, result


def test_stacked_verbose(tmp_path):
    result = run_fence("-vv", "-o", "status", "-n", "node2", "--backend", "noop", conf=fence_conf(tmp_path))
    assert result.returncode == 0 and "WARNING: backend noop" in result.stderr, result


def test_bad_options_and_site_config(tmp_path):
    result = run_fence("--bogus")
    assert result.returncode == 1 and "--bogus" in result.stderr and len(result.stderr.splitlines()) == 1
    conf = fence_conf(tmp_path, "backend = noop\ncolour = blue\n")
    result = run_fence(stdin="nodename=node2\n", conf=conf)
    assert result.returncode == 1 and "[fence] colour: unknown key" in result.stderr, result
    # Pacemaker still learns the parameters from a node whose site file is broken
    assert run_fence(stdin="action=metadata\n", conf=conf).returncode == 0


def test_site_config_defaults_are_overridden_by_stdin(tmp_path, bmc):
    conf = fence_conf(tmp_path, "backend = noop\n")
    result = run_fence(stdin=_stdin("nodename=node1", "action=off"), conf=conf)
    assert result.returncode == 0 and bmc.power == "on"  # noop: nothing happened
    result = run_fence(stdin=_stdin("nodename=node1", "action=off", *_ipmi_lines(bmc)), conf=conf)
    assert result.returncode == 0 and bmc.power == "off"


def test_site_config_readable_by_others_with_a_password_warns(tmp_path, syslog):
    conf = fence_conf(tmp_path, "backend = noop\npassword = pw\n")
    conf.chmod(0o644)
    assert run_fence(stdin="nodename=node2\naction=status\n", conf=conf).returncode == 0
    assert any("readable by group or others (mode 0644): chmod 600" in line for line in syslog.lines())


# -- noop -------------------------------------------------------------------------------------------
def test_noop_is_the_guides_behaviour_but_loud(tmp_path, syslog):
    conf = fence_conf(tmp_path, "backend = noop\n")
    for action, expected, code in (("on", "Success: Powered ON", 0), ("off", "Success: Powered OFF", 0),
                                   ("reboot", "Success: Rebooted", 0), ("status", "Status: ON", 0),
                                   ("monitor", "", 0)):
        result = run_fence("-o", action, "-n", "node2", conf=conf)
        assert result.returncode == code and result.stdout.strip() == expected, (action, result)
        assert NOOP_WARNING in result.stderr, (action, result)
        assert any(NOOP_WARNING in line for line in syslog.lines()), action


# -- delay, deadline, lock, retries, chains ---------------------------------------------------
def test_delay_applies_to_off_and_reboot_only(tmp_path):
    """fence-agents' own check: delay=10 on stdin, the agent takes at least 10 s."""
    conf = fence_conf(tmp_path, "backend = noop\n")
    result = run_fence(stdin="nodename=node2\ndelay=10\n", conf=conf)
    assert result.returncode == 0 and result.elapsed >= 10, result
    result = run_fence(stdin="nodename=node2\ndelay=10\naction=status\n", conf=conf)
    assert result.returncode == 0 and result.elapsed < 5, result


def test_site_backend_from_entry_point(tmp_path, plugin_path):
    conf = fence_conf(tmp_path, "backend = slow\n")
    env = {"PYTHONPATH": str(plugin_path), "SLOW_LOG": str(tmp_path / "slow.log"), "SLOW_SECONDS": "0"}
    result = run_fence("-o", "off", "-n", "node2", conf=conf, env=env)
    assert result.returncode == 0, result
    assert (tmp_path / "slow.log").read_text().startswith("begin off node2")


def test_deadline_bounds_a_hung_backend(tmp_path, plugin_path):
    conf = fence_conf(tmp_path, "backend = slow\ndeadline = 2\n")
    env = {"PYTHONPATH": str(plugin_path), "SLOW_LOG": str(tmp_path / "slow.log"), "SLOW_SECONDS": "60"}
    result = run_fence("-o", "off", "-n", "node2", conf=conf, env=env)
    assert result.returncode == 1, result
    assert 2 <= result.elapsed < 5, result
    assert "timed out after 2s: off of node2 NOT confirmed" in result.stderr  # Pacemaker reads "timed out"


@pytest.mark.parametrize("node2,node3", [("node2", "node3"),
                                         # too long for a file name (255 bytes), alike in their first 64
                                         ("n" * 300 + "2", "n" * 300 + "3"),
                                         ("node/2", "node_2"),     # alike once made a file name
                                         ("\U00020000" * 64 + "2", "\U00020000" * 64 + "3")])   # 4 bytes a character
def test_one_fencing_of_a_node_at_a_time(tmp_path, plugin_path, node2, node3):
    conf = fence_conf(tmp_path, "backend = slow\n")
    log = tmp_path / "slow.log"
    env = {"PYTHONPATH": str(plugin_path), "SLOW_LOG": str(log), "SLOW_SECONDS": "1.5"}
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(run_fence("-o", "off", "-n", n, conf=conf,
                                                                            env=env)))
               for n in (node2, node2, node3)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(60)
    assert [r.returncode for r in results] == [0, 0, 0], results
    assert not [r for r in results if "WITHOUT its lock" in r.stderr], results
    events = [line.split() for line in log.read_text().splitlines()]
    first = [(kind, float(t)) for kind, _, node, t in events if node == node2]
    assert [k for k, _ in first] == ["begin", "end", "begin", "end"]  # serialized, not interleaved
    other_begin = next(float(t) for kind, _, node, t in events if node == node3 and kind == "begin")
    assert other_begin < first[1][1]  # another node is not held up


def test_a_fencing_without_its_lock_says_so(tmp_path):
    """A lock that cannot be taken (here: a lock file another user owns) does not stop the
    fencing -- the node must go -- but the result says it ran unlocked, on stderr and in the log."""
    conf = fence_conf(tmp_path, "backend = noop\n")
    state = tmp_path / "state"
    state.mkdir(mode=0o700, exist_ok=True)
    (state / "fence-node2.lock").write_text("")
    os.chown(state / "fence-node2.lock", 65534, 65534)
    result = run_fence("-o", "off", "-n", "node2", conf=conf)
    assert result.returncode == 0 and result.stdout == "Success: Powered OFF\n", result
    assert "off of node2 was done WITHOUT its lock: lock file" in result.stderr, result


def test_backend_chain_first_confirmed_wins(tmp_path, bmc, syslog):
    conf = fence_conf(tmp_path)
    stdin = _stdin("nodename=node1", "action=off", *_ipmi_lines(bmc, password="wrong")) \
        .replace("backend=ipmi", "backend=ipmi,noop") + "retry_on=2\n"
    result = run_fence(stdin=stdin, conf=conf)
    assert result.returncode == 0, result
    assert bmc.power == "on"  # ipmi could not log in; noop claimed success (and said so)
    lines = syslog.lines()
    # off is one attempt per backend, as in fencing.py (retry_on counts attempts to power on)
    assert sum("via ipmi, attempt" in line and "failed" in line for line in lines) == 1, lines
    assert any("off of node1 via noop succeeded" in line for line in lines)


# -- ipmi against ipmi_sim, side by side with fence_ipmilan ------------------------------------
def _fence_ipmilan(bmc, action, password=IpmiSim.PASSWORD, port=None):
    return subprocess.run(["/usr/sbin/fence_ipmilan", "--ip", "127.0.0.1", "--ipport", str(port or bmc.port),
                           "--username", "admin", "--password", password, "--lanplus", "--cipher", "3",
                           "--power-wait", "0", "--action", action],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"),
                          timeout=120)


def _fence_mdlp_ipmi(tmp_path, bmc, action, password=IpmiSim.PASSWORD, port=None):
    lines = _ipmi_lines(bmc, password)
    if port:
        lines = [line if not line.startswith("ipport=") else "ipport=%d" % port for line in lines]
    return run_fence(stdin=_stdin("nodename=node1", "action=%s" % action, *lines), conf=fence_conf(tmp_path))


SEQUENCE = [("status", 0, "on"), ("off", 0, "off"), ("status", 2, "off"), ("off", 0, "off"),
            ("on", 0, "on"), ("status", 0, "on"), ("reboot", 0, "on"), ("monitor", 0, "on")]


@pytest.mark.parametrize("agent", ["fence_mdlp", pytest.param("fence_ipmilan", marks=CONTROL)])
def test_ipmi_power_actions_match_fence_ipmilan(tmp_path, bmc, agent):
    for action, code, power in SEQUENCE:
        if agent == "fence_ipmilan":
            result = _fence_ipmilan(bmc, action)
        else:
            result = _fence_mdlp_ipmi(tmp_path, bmc, action)
        assert result.returncode == code, (agent, action, result.stdout, result.stderr)
        assert bmc.power == power, (agent, action)
    # a reboot really went off and on
    log = bmc.log()
    reboot = log[max(i for i, line in enumerate(log) if line == "set power 0"):]
    assert "set power 1" in reboot


def _options(bmc, *args):
    return ["--ip", "127.0.0.1", "--ipport", str(bmc.port), "--username", "admin", "--password",
            IpmiSim.PASSWORD, "--lanplus", "--cipher", "3", "--power-wait", "0"] + list(args)


def _ours(tmp_path, bmc, *args):
    return run_fence("--backend", "ipmi", *_options(bmc, *args), conf=fence_conf(tmp_path))


def _both(tmp_path, bmc, *args):
    """fence_mdlp, then fence_ipmilan, with the same fence-agents options, aimed at BMC."""
    ours = _ours(tmp_path, bmc, *args)
    theirs = subprocess.run(["/usr/sbin/fence_ipmilan"] + _options(bmc, *args), capture_output=True, text=True,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"), timeout=120)
    return ours, theirs


def test_the_bmc_address_names_the_node_as_with_fence_ipmilan(tmp_path, bmc):
    """No plug: the BMC's address is the target; the lock and the log name it."""
    ours, theirs = _both(tmp_path, bmc, "-o", "status")
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout) == (0, "Status: ON\n"), ours
    ours = _ours(tmp_path, bmc, "-o", "off")
    assert (ours.returncode, ours.stdout) == (0, "Success: Powered OFF\n"), ours
    assert bmc.power == "off" and (tmp_path / "state" / "fence-127.0.0.1.lock").exists()


def test_already_off_and_reboot_of_an_off_node_as_fence_ipmilan(tmp_path, bmc):
    bmc.set_power("off")
    ours, theirs = _both(tmp_path, bmc, "-o", "off")
    assert ours.stdout == theirs.stdout == "Success: Already OFF\n" and ours.returncode == theirs.returncode == 0
    assert "set power" not in "".join(bmc.log())      # no power command for a node already off
    ours, theirs = _both(tmp_path, bmc, "-o", "on")
    assert ours.stdout == "Success: Powered ON\n" and bmc.power == "on", ours
    ours, theirs = _both(tmp_path, bmc, "-o", "on")
    assert ours.stdout == theirs.stdout == "Success: Already ON\n"
    bmc.set_power("off")
    before = len(bmc.log())
    ours = _ours(tmp_path, bmc, "-o", "reboot")
    assert (ours.returncode, ours.stdout) == (0, "Success: Rebooted\n") and bmc.power == "on", ours
    assert [line for line in bmc.log()[before:] if line.startswith("set power")] == ["set power 1"]


def test_method_cycle_is_refused_in_one_line(tmp_path, bmc):
    """fence_ipmilan's cycle reports success on the BMC's word alone (fence-agents #68, #596)."""
    for action in ("reboot", "validate-all"):
        ours = _ours(tmp_path, bmc, "-o", action, "--method", "cycle")
        assert ours.returncode == 1 and len(ours.stderr.splitlines()) == 1, ours
        assert "method=cycle is refused" in ours.stderr and "method=onoff" in ours.stderr
    assert bmc.power == "on" and not [line for line in bmc.log() if line.startswith("set power")]
    ours = _ours(tmp_path, bmc, "-o", "reboot", "--method", "onoff")
    assert ours.returncode == 0 and bmc.power == "on"


def test_port_as_ip_takes_the_address_from_the_plug(tmp_path, bmc):
    """As fencing.py: with port_as_ip the plug Pacemaker sends (pcmk_host_map's value) is the BMC."""
    lines = [line for line in _ipmi_lines(bmc) if not line.startswith("ip=")]
    result = run_fence(stdin=_stdin("action=off", "nodename=node1", "port=127.0.0.1", "port_as_ip=1", *lines),
                       conf=fence_conf(tmp_path))
    assert result.returncode == 0 and bmc.power == "off", result


def test_the_kg_key_reaches_ipmitool_only_through_its_environment(tmp_path, bmc):
    record = tmp_path / "argv.log"
    wrapper = tmp_path / "ipmitool-wrapper"
    wrapper.write_text('#!/bin/sh\n{ echo "ARGV: $*"; echo "KG: $IPMI_KGKEY"; } >> %s\n'
                       'exec /usr/bin/ipmitool "$@"\n' % record)
    wrapper.chmod(0o755)
    stdin = _stdin("action=status", "ipmitool_path=%s" % wrapper, "hexadecimal_kg=6b67536563726574", *_ipmi_lines(bmc))
    result = run_fence(stdin=stdin, conf=fence_conf(tmp_path))
    recorded = record.read_text()
    assert " -K " in recorded and "KG: kgSecret" in recorded, recorded
    assert "6b67536563726574" not in recorded.split("KG:")[0] and "kgSecret" not in result.stderr
    # ipmi_sim has no Kg key: the session is refused, as the BMC should with a wrong key
    assert result.returncode in (0, 1), result


def test_under_pacemaker_s_fencer_its_timeout_bounds_the_run(tmp_path):
    """fencing.py leaves the overall timing to the fencer (PCMK_service=pacemaker-fenced); fenced
    has no timeout of its own, so there our deadline stands."""
    stdin = _stdin("action=off", "nodename=node2", "backend=noop", "deadline=1", "delay=0", "password_script="
                   "sleep 2; echo pw", "login_timeout=5")
    alone = run_fence(stdin=stdin, conf=fence_conf(tmp_path), timeout=30)
    assert alone.returncode == 1 and "timed out after 1s" in alone.stderr, alone
    fenced = run_fence(stdin=stdin, conf=fence_conf(tmp_path), env={"PCMK_service": "pacemaker-fenced"}, timeout=30)
    assert fenced.returncode == 0 and fenced.stdout == "Success: Powered OFF\n", fenced
    assert fenced.elapsed >= 2


def test_help_in_fence_ipmilan_s_order():
    text = run_fence("--help").stdout
    options = re.findall(r"^  (-\w, )?(--[\w-]+)", text, re.M)
    order = [long for _, long in options]
    assert order[:8] == ["--ip", "--ipport", "--username", "--password", "--password-script", "--plug", "--action",
                         "--method"], order
    assert order.index("--verbose") < order.index("--power-timeout") < order.index("--retry-on")
    assert order[-2:] == ["--version", "--help"]
    assert "Action: on, off, reboot (default), status, monitor, list, list-status, metadata, manpage or" \
        in " ".join(text.split())


def test_metadata_defaults_agree_with_fence_ipmilan():
    ours = run_fence("-o", "metadata").stdout
    theirs = subprocess.run(["/usr/sbin/fence_ipmilan", "-o", "metadata"], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"), timeout=60).stdout

    def default(xml, name):
        match = re.search(r'<parameter name="%s".*?<content type="(\w+)"(?: default="([^"]*)")?' % name, xml, re.S)
        return match and match.groups()
    for name in ("ipport", "power_wait", "privlvl", "method", "power_timeout", "login_timeout", "shell_timeout",
                 "delay", "retry_on"):
        assert default(ours, name)[1] == default(theirs, name)[1], name
    for name in ("hexadecimal_kg", "port_as_ip", "method"):
        assert '<parameter name="%s"' % name in ours, name


@pytest.mark.parametrize("agent", ["fence_mdlp", pytest.param("fence_ipmilan", marks=CONTROL)])
def test_ipmi_wrong_password_and_dead_bmc_fail(tmp_path, bmc, agent):
    run = _fence_ipmilan if agent == "fence_ipmilan" else (lambda *a, **k: _fence_mdlp_ipmi(tmp_path, *a, **k))
    assert run(bmc, "off", password="wrong").returncode == 1
    assert bmc.power == "on"
    assert run(bmc, "status", port=bmc.port + 1 if bmc.port < 65535 else bmc.port - 1).returncode == 1


def test_ipmi_password_never_in_argv_or_logs(tmp_path, bmc, syslog):
    """ipmitool is wrapped by a script that records its argv and environment."""
    record = tmp_path / "argv.log"
    wrapper = tmp_path / "ipmitool-wrapper"
    wrapper.write_text('#!/bin/sh\n{ echo "ARGV: $*"; env; } >> %s\nexec /usr/bin/ipmitool "$@"\n' % record)
    wrapper.chmod(0o755)
    stdin = _stdin("nodename=node1", "action=reboot", "ipmitool_path=%s" % wrapper, "verbose=1",
                   "debug_file=%s" % (tmp_path / "debug.log"), *_ipmi_lines(bmc))
    result = run_fence(stdin=stdin, conf=fence_conf(tmp_path))
    assert result.returncode == 0, result
    recorded = record.read_text()
    assert "ARGV: -I lanplus -H 127.0.0.1" in recorded and " -f /dev/fd/" in recorded
    for where in (recorded, result.stdout, result.stderr, (tmp_path / "debug.log").read_text(),
                  "\n".join(syslog.lines())):
        assert IpmiSim.PASSWORD not in where


def test_ipmi_off_must_be_confirmed(tmp_path, bmc):
    """A BMC that accepts `power off` but never reports off: not fenced, exit 1."""
    script = bmc.root / "chassis.sh"
    script.write_text(script.read_text().replace('"set power") echo "$3" > "$state" ;;',
                                                 '"set power") : ;;'))
    stdin = _stdin("nodename=node1", "action=off", "power_timeout=2", *_ipmi_lines(bmc))
    result = run_fence(stdin=stdin, conf=fence_conf(tmp_path))
    assert result.returncode == 1, result
    assert "still reports power on 2s after power off" in result.stderr
    assert result.elapsed < 10


def test_missing_ipmitool(tmp_path, bmc):
    stdin = _stdin("nodename=node1", "ipmitool_path=/nonexistent/ipmitool", *_ipmi_lines(bmc))
    result = run_fence(stdin=stdin + "action=validate-all\n", conf=fence_conf(tmp_path))
    assert result.returncode == 1 and "ipmitool not found or not executable at /nonexistent/ipmitool" in result.stderr
    result = run_fence(stdin=stdin + "action=off\n", conf=fence_conf(tmp_path))
    assert result.returncode == 1 and "ipmitool not found" in result.stderr and bmc.power == "on"
    # not on PATH (as on a node where the package is missing)
    stdin = _stdin("nodename=node1", "action=off", *_ipmi_lines(bmc))
    result = run_fence(stdin=stdin, conf=fence_conf(tmp_path), env={"PATH": str(tmp_path)})
    assert result.returncode == 1 and "ipmitool not found or not executable on PATH" in result.stderr, result
    assert bmc.power == "on"


def test_dead_bmc_honours_the_timeouts(tmp_path, bmc):
    bmc.stop()
    stdin = _stdin("nodename=node1", "action=off", "login_timeout=1", "shell_timeout=1", *_ipmi_lines(bmc))
    result = run_fence(stdin=stdin, conf=fence_conf(tmp_path))
    assert result.returncode == 1 and "NOT fenced" in result.stderr, result
    assert result.elapsed < 4, result  # one ipmitool call, killed at login_timeout + shell_timeout


def _scan_cmdlines(secret, stop, seen):
    while not stop.is_set():
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as handle:
                        if secret.encode() in handle.read():
                            seen.add(entry)
                except OSError:
                    pass


@pytest.mark.parametrize("agent,expect_seen", [("fence_mdlp", False), pytest.param("fence_ipmilan", True,
                                                                                   marks=CONTROL)])
def test_password_never_in_proc_cmdline_while_fencing(tmp_path, bmc, agent, expect_seen):
    """Watch every /proc/*/cmdline during a reboot; fence_ipmilan (ipmitool -P) is the control."""
    stop, seen = threading.Event(), set()
    watcher = threading.Thread(target=_scan_cmdlines, args=(IpmiSim.PASSWORD, stop, seen))
    watcher.start()
    try:
        if agent == "fence_ipmilan":
            result = _fence_ipmilan(bmc, "reboot")
        else:
            result = run_fence(stdin=_stdin("nodename=node1", "action=reboot", "power_wait=0.5",
                                            *_ipmi_lines(bmc)), conf=fence_conf(tmp_path))
    finally:
        stop.set()
        watcher.join()
    assert result.returncode == 0
    assert bool(seen) == expect_seen, seen


def test_shipped_site_config_is_the_guides_noop(tmp_path):
    from helpers import REPO
    result = run_fence("-o", "reboot", "-n", "node2", conf=REPO / "etc" / "fence_mdlp.conf")
    assert result.returncode == 0 and "NOTHING WAS FENCED" in result.stderr, result


def test_list_and_list_status_from_host_map(tmp_path, bmc):
    bmc.set_power("off")
    lines = [line for line in _ipmi_lines(bmc) if not line.startswith("ip=")]
    lines.append("host_map=node1:127.0.0.1;node9:127.0.0.1")
    listing = run_fence(stdin=_stdin("action=list", *lines), conf=fence_conf(tmp_path))
    assert listing.returncode == 0 and listing.stdout == "node1,\nnode9,\n", listing
    status = run_fence(stdin=_stdin("action=list-status", *lines), conf=fence_conf(tmp_path))
    assert status.returncode == 0 and status.stdout == "node1,,off\nnode9,,off\n", status


def test_monitor_with_host_map_only(tmp_path, bmc):
    """Pacemaker's device monitor carries no node: a host_map device answers through its nodes."""
    lines = [line for line in _ipmi_lines(bmc) if not line.startswith("ip=")]
    ok = run_fence(stdin=_stdin("action=monitor", "host_map=node1:127.0.0.1", *lines), conf=fence_conf(tmp_path))
    assert ok.returncode == 0, ok
    bad = [line.replace("password=%s" % IpmiSim.PASSWORD, "password=wrong") for line in lines]
    result = run_fence(stdin=_stdin("action=monitor", "host_map=node1:127.0.0.1", *bad), conf=fence_conf(tmp_path))
    assert result.returncode == 1 and "monitor: no fencing device answers" in result.stderr, result


def test_the_remembered_site_file_follows_edits_and_trust(tmp_path):
    """fence_mdlp.conf is parsed once and remembered (the fencer's monitor every minute); an edit,
    even of the same size, is read again, and a file others could write is refused, remembered or not."""
    conf = fence_conf(tmp_path, "backend = noop\nplug = node2\n")
    for _ in range(2):
        result = run_fence(stdin="action=status\n", conf=conf)
        assert result.returncode == 0 and "status of node2" in result.stderr, result
    conf.write_text(conf.read_text().replace("plug = node2", "plug = node3"))
    result = run_fence(stdin="action=status\n", conf=conf)
    assert result.returncode == 0 and "status of node3" in result.stderr, result
    conf.write_text(conf.read_text().replace("plug = node3", "plug node3"))
    result = run_fence(stdin="action=status\n", conf=conf)
    assert result.returncode == 1 and "not a 'key = value' line" in result.stderr, result
    conf.write_text(conf.read_text().replace("plug node3", "plug = node3"))
    assert run_fence(stdin="action=status\n", conf=conf).returncode == 0
    conf.chmod(0o666)
    result = run_fence(stdin="action=status\n", conf=conf)
    assert result.returncode == 1 and "writable by others" in result.stderr, result


CACHE = Path("/run/mdlp_agents/config-cache")


def test_the_remembered_password_goes_with_its_file(tmp_path):
    """The cache entry of a fence_mdlp.conf (password included) is private, and removed once the
    file is gone."""
    conf = fence_conf(tmp_path, "backend = noop\npassword = remembered-secret\n")
    time.sleep(0.1)      # the cache takes a file only once it is older than a clock tick
    assert run_fence(stdin="action=status\nnodename=node2\n", conf=conf).returncode == 0
    entry = CACHE / ("fence:" + str(conf).replace("%", "%25").replace("/", "%2F"))
    assert entry.exists() and (entry.stat().st_mode & 0o777, entry.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    conf.unlink()
    assert run_fence(stdin="action=status\nnodename=node2\nbackend=noop\n", conf=conf).returncode == 0
    assert not entry.exists()
