"""mdlp_rhcs, given hostile and careless input: one class of hole per test, each against the real
programs: a lie (healthy when not, fenced when not), a hang past the deadline, a leak (a process
or a file left behind), an injection.  Grow this file with every new class found."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import BIN_DIR, RUN_ID, c_locale, free_port, run_agent, write_config

LISTENER = "import socket, sys, time\ns = socket.socket()\ns.bind((sys.argv[1], int(sys.argv[2])))\n" \
           "s.listen(5)\ntime.sleep(1000)\n"


def _listening(address, port):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(["ss", "-Hltn", "src", "%s:%d" % (address, port)], capture_output=True,
                             text=True).stdout
        if out.strip():
            return True
        time.sleep(0.05)
    return False


# -- mdlp_rhcs: "healthy" must mean healthy ------------------------------------------------
@pytest.mark.parametrize("probed", ["127.0.0.1:%d", "[::ffff:127.0.0.1]:%d"])
def test_squatter_on_the_probed_address_is_not_the_service(tmp_path, fake, probed):
    """The service listens on 127.0.0.2:P, another program on 127.0.0.1:P: a probe of
    127.0.0.1:P reaches the squatter, whatever spelling of the address is configured."""
    port = free_port("127.0.0.1")
    fake.start("httpd", target=sys.executable, args=("-c", LISTENER, "127.0.0.2", str(port)))
    squatter = subprocess.Popen([sys.executable, "-c", LISTENER, "127.0.0.1", str(port)])
    try:
        assert _listening("127.0.0.2", port) and _listening("127.0.0.1", port)
        config = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = %s\n" % (probed % port))
        result = run_agent("status", config=config)
        assert result.returncode == 3, result
        assert "is held by pid %d" % squatter.pid in result.stdout, result
        # the service's own address is fine
        good = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = 127.0.0.2:%d\n" % port)
        assert run_agent("status", config=good).returncode == 0
    finally:
        squatter.kill()
        squatter.wait()


def test_squatter_on_an_own_non_loopback_address_is_caught(tmp_path, fake):
    """A probe of the node's own address (not loopback) is checked too: in a network namespace
    of the test's own, 198.18.99.1 is this host's; the service listens on 127.0.0.1:P, a squatter
    on 198.18.99.1:P."""
    port = 18800 + os.getpid() % 1000
    httpd = fake.program("httpd", target=sys.executable)
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = 198.18.99.1:%d\n" % port)
    # the address first, then both listeners (`a && b && c &` would put the address in the background too)
    script = ('ip link set lo up && ip addr add 198.18.99.1/32 dev lo || exit 1; '
              '"$1" -c "$2" 127.0.0.1 "$3" & service=$!; '
              '"$4" -c "$2" 198.18.99.1 "$3" & squatter=$!; '
              'for i in $(seq 100); do ss -Hltn | grep -q "198.18.99.1:$3" && ss -Hltn | grep -q "127.0.0.1:$3" '
              '&& break; sleep 0.05; done; '
              'MDLP_RHCS_CONF="$5" "$6" status; echo "rc=$? squatter=$squatter"; kill -9 $service $squatter')
    result = subprocess.run(["unshare", "--net", "sh", "-c", script, "sh", str(httpd), LISTENER, str(port),
                             sys.executable, str(config), str(BIN_DIR / "mdlp_rhcs")],
                            capture_output=True, text=True, timeout=60)
    rc, squatter = result.stdout.strip().splitlines()[-1].split()
    assert rc == "rc=3", result
    assert "198.18.99.1:%d is held by pid %s" % (port, squatter.split("=")[1]) in result.stdout, result


@pytest.mark.parametrize("older", [True, False], ids=["older-instance-alive", "no-older-instance"])
def test_a_restarted_service_is_not_a_squatter(tmp_path, fake, older):
    """The PIDs remembered from the last run are not the truth after a restart: an older
    instance of the name still lives (Apache's graceful-stop drains the old master while a new
    one listens; a second instance on another port), the one holding the probed port is
    restarted with a new PID.  Every status after the restart says running; a program of
    another name on the port is still caught, by facts read now."""
    port, other = free_port("127.0.0.1"), free_port("127.0.0.1")
    if older:
        fake.start("httpd", pidfile=False, target=sys.executable, args=("-c", LISTENER, "127.0.0.1", str(other)))
    first = fake.start("httpd", pidfile=False, target=sys.executable, args=("-c", LISTENER, "127.0.0.1", str(port)))
    assert _listening("127.0.0.1", port)
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = 127.0.0.1:%d\n" % port)
    for _ in range(2):   # the first run scans and remembers; the second answers from memory
        result = run_agent("status", config=config)
        assert result.returncode == 0, result
    first.kill()
    first.wait()
    second = fake.start("httpd", pidfile=False, target=sys.executable, args=("-c", LISTENER, "127.0.0.1", str(port)))
    assert second.pid != first.pid and _listening("127.0.0.1", port)
    for _ in range(3):
        result = run_agent("status", config=config)
        assert result.returncode == 0, result
        assert "held by" not in result.stdout, result
    # a real squatter: another program on the port, while (with older) an httpd still lives
    second.kill()
    second.wait()
    squatter = subprocess.Popen([sys.executable, "-c", LISTENER, "127.0.0.1", str(port)])
    try:
        assert _listening("127.0.0.1", port)
        for _ in range(2):
            result = run_agent("status", config=config)
            assert result.returncode == 3, result
            held = "is held by pid %d" % squatter.pid in result.stdout
            if older:
                assert held, result
            else:   # or another test's httpd lives on this machine (an Apache fixture): then the port says it
                assert held or "no process named httpd" in result.stdout, result
    finally:
        squatter.kill()
        squatter.wait()


# HTTP interim answers and impossible status codes: test_status_cli.py, test_http_probe_reads_the_status_line


@pytest.mark.parametrize("owner,mode", [(65534, 0o644), (0, 0o666), (0, 0o620)])
def test_config_others_could_write_runs_nothing(tmp_path, owner, mode):
    """Its start= commands would run as root: refused, one line, exit 6, nothing run."""
    ran = tmp_path / "ran"
    config = write_config(tmp_path, "[service httpd]\nprocess = mdlp-never-%d\nstart = touch %s\n" % (os.getpid(), ran))
    os.chown(config, owner, 0)
    config.chmod(mode)
    for action in ("start", "status", "validate-all"):
        result = run_agent(action, config=config, timeout=30)
        assert result.returncode == 6, (action, result)
        assert result.stderr.count("\n") == 1 and "refused" in result.stderr, result
    assert not ran.exists()


def test_fifo_as_config_answers_at_once(tmp_path):
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    result = run_agent("status", config=fifo, timeout=30)
    assert result.returncode == 6 and "not a regular file" in result.stderr, result
    assert result.stderr.count("\n") == 1 and result.elapsed < 5, result


def test_fifo_as_pidfile_is_failed_not_hung(tmp_path, fake):
    fifo = tmp_path / "httpd.pid"
    os.mkfifo(fifo)
    config = write_config(tmp_path, "[service httpd]\npidfile = %s\n" % fifo)
    result = run_agent("status", config=config, timeout=30)
    assert result.returncode == 3 and "not a regular file" in result.stdout and result.elapsed < 3, result


def test_init_script_slower_than_the_deadline_is_not_left_running(tmp_path):
    """timeout >= deadline: the script is killed before the check ends, every time."""
    name = "mdlp-hang-%d" % RUN_ID
    marker = "sleep %d" % (3000 + RUN_ID % 1000)
    script = Path("/etc/init.d") / name
    script.write_text("#!/bin/sh\nexec %s\n" % marker)
    script.chmod(0o755)
    try:
        config = write_config(tmp_path, "[service PolicyEngine]\ninit = %s\ntimeout = 5\n" % name,
                              agent="deadline = 1\n")
        for _ in range(4):
            result = run_agent("status", config=config, timeout=30)
            assert result.returncode == 3 and result.elapsed < 3, result
        time.sleep(0.2)
        left = subprocess.run(["pgrep", "-f", "^%s$" % marker], capture_output=True, text=True).stdout.split()
        assert left == [], left
    finally:
        subprocess.run(["pkill", "-9", "-f", "^%s$" % marker])
        script.unlink()


def test_fast_init_scripts_are_reaped_by_the_agent_itself(tmp_path):
    """Commands that exit at once, several per check, many checks: each is reaped by the probe
    that ran it (on Python < 3.8 a dropped Popen object reaped them first: "No child processes")."""
    names = []
    for index in range(3):
        name = "mdlp-fast-%d-%d" % (RUN_ID, index)
        script = Path("/etc/init.d") / name
        script.write_text('#!/bin/sh\n[ "$1" = status ] && exit 0; exit 1\n')
        script.chmod(0o755)
        names.append(name)
    try:
        config = write_config(tmp_path, "".join("[service svc%d]\ninit = %s\ntimeout = 2\n" % (i, n)
                                                for i, n in enumerate(names)))
        for _ in range(8):
            result = run_agent("status", config=config, timeout=30)
            assert result.returncode == 0, result
    finally:
        for name in names:
            (Path("/etc/init.d") / name).unlink()


def test_non_ascii_under_the_c_locale_is_escaped_not_a_traceback(tmp_path):
    """rgmanager runs us with LC_ALL=C: Python 3.6 then writes ASCII only to stdout.  A name
    from outside with other characters is escaped; the answer stays the real one."""
    config = write_config(tmp_path, "[service httpd]\npidfile = %s\n" % (tmp_path / "h\u00f6ttpd.pid"))
    result = run_agent("status", config=config, env=c_locale(), timeout=30)
    assert result.returncode == 3 and "does not exist" in result.stdout, result
    assert "internal error" not in result.stderr and result.stderr == "", result


@pytest.mark.parametrize("body,key", [
    ("[agent]\nstart_timeout = 1e300\n", "start_timeout"),
    ("[agent]\ndeadline = 1e12\n", "deadline"),
    ("[agent]\nstop_timeout = inf\n", "stop_timeout"),
])
def test_huge_seconds_are_refused_as_config_errors(tmp_path, body, key):
    config = tmp_path / "huge.conf"
    config.write_text(body + "[service httpd]\nprocess = httpd\n")
    for action in ("validate-all", "start"):
        result = run_agent(action, config=config, timeout=30)
        assert result.returncode == 6 and key in result.stderr and "internal error" not in result.stderr, result


def test_a_full_state_dir_leaves_no_temporary_files(tmp_path):
    """A full tmpfs (private mount namespace): every status run fails to save its state,
    and leaves nothing behind."""
    state = tmp_path / "full"
    state.mkdir(mode=0o755)
    config = tmp_path / "full.conf"
    config.write_text("[agent]\nstate_dir = %s\nsyslog_socket = %s\n[service mdlp-nothing]\nprocess = mdlp-nothing\n"
                      % (state, tmp_path / "syslog"))
    script = ('mount -t tmpfs -o size=16k,mode=0755 none "$1" && (dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; '
              'true) && for i in 1 2 3; do "$2" status --config "$3" >/dev/null; done; ls -a "$1"')
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                             str(state), str(BIN_DIR / "mdlp_rhcs"), str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result
    assert sorted(result.stdout.split()) == [".", "..", "fill"], result.stdout


GOOD_RECORD = {"service": "mdlp", "by": "root@node1", "since": "2026-11-30T09:00:00Z", "token": "0a" * 8}


@pytest.mark.parametrize("record", [
    dict(GOOD_RECORD, until=1796029800), dict(GOOD_RECORD, by=["root"]), dict(GOOD_RECORD, job="12"),
    dict(GOOD_RECORD, job=True), dict(GOOD_RECORD, since="yesterday"), dict(GOOD_RECORD, reason={"a": 1}),
    dict(GOOD_RECORD, service=None), {"by": "root@node1"}, [GOOD_RECORD], "maintenance", 12, None,
    "[" * 100000 + "]" * 100000,
], ids=lambda r: str(r)[:40])
def test_a_maintenance_record_of_the_wrong_shape_is_no_record(tmp_path, fake, syslog, record):
    """The record is root's (so trusted), but a status check never fails on its contents: a bad
    record is no record, and one log line says why (rgmanager would recover a service whose
    status exits 4 "internal error")."""
    import json
    fake.start("httpd")
    config = write_config(tmp_path, "[service httpd]\npidfile = %s\nprocess = httpd\n" % fake.pidfile("httpd"))
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    (run / "maintenance.json").write_text(record if isinstance(record, str) and record.startswith("[")
                                          else json.dumps(record))
    (run / "maintenance.json").chmod(0o600)
    for rgmanager in (False, True):
        result = run_agent("status", config=config, env={"MDLP_MAINTENANCE_DIR": str(run)}, rgmanager=rgmanager)
        assert (result.returncode, result.stderr) == (0, ""), result
        assert "MAINTENANCE" not in result.stdout, result
    lines = [line for line in syslog.lines() if "maintenance record" in line]
    assert len(lines) == 2 and "ignored: " in lines[0] and lines[0].startswith("<28>"), lines
    # the same record written right is shown
    (run / "maintenance.json").write_text(json.dumps(GOOD_RECORD))
    result = run_agent("status", config=config, env={"MDLP_MAINTENANCE_DIR": str(run)})
    assert result.returncode == 0 and "MAINTENANCE of mdlp" in result.stdout, result


@pytest.mark.parametrize("body", ["[agent]\npassword hunter2-secret\n",
                                  "root:$6$hunter2-secret$abcdef:19000:0:99999:7:::\n"])
def test_a_config_line_that_is_not_key_value_is_not_echoed(tmp_path, ocf_link, body):
    """The exit reason goes into the CIB (and crm_mon): a mistyped password line, or a root-only file
    of password hashes named as the config, is named by its line number, never shown."""
    config = tmp_path / "wrong.conf"
    config.write_text(body)
    config.chmod(0o600)
    for action, link in (("start", ocf_link), ("validate-all", ocf_link), ("status", None)):
        result = run_agent(action, config=config, ocf_link=link, env={"OCF_RESKEY_CRM_meta_interval": "10000"})
        assert result.returncode == 6 and "line " in result.stderr, (action, result)
        assert "hunter2" not in result.stdout + result.stderr, (action, result)


SQUATTER_NAMED = ("import socket, sys, time\nopen('/proc/self/comm', 'w').write(sys.argv[3])\n"
                  "s = socket.socket()\ns.bind((sys.argv[1], int(sys.argv[2])))\ns.listen(5)\ntime.sleep(1000)\n")


def test_outside_text_cannot_forge_lines(tmp_path, fake, syslog, ocf_link):
    """A squatter's process name (anybody sets their own), HA_LOGTAG and OCF_EXIT_REASON_PREFIX with
    a newline and an escape sequence: the LSB one-line status stays one line, the exit reason one
    line, each syslog line one line -- no forged 'mdlp: RUNNING'."""
    port = free_port("127.0.0.1")
    fake.start("httpd", pidfile=False)
    squatter = subprocess.Popen([sys.executable, "-c", SQUATTER_NAMED, "127.0.0.1", str(port), "\nmdlp: RUNNING\x1b"])
    try:
        assert _listening("127.0.0.1", port)
        config = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = 127.0.0.1:%d\n" % port)
        result = run_agent("status", config=config)
        assert result.returncode == 3 and result.stdout.count("\n") == 1, result
        assert result.stdout.startswith("mdlp: NOT RUNNING") and "\x1b" not in result.stdout, result
        env = {"OCF_RESOURCE_INSTANCE": "mdlp-rhcs", "HA_LOGTAG": "tag\nmdlp: RUNNING", "OCF_RESKEY_CRM_meta_interval":
               "10000", "OCF_EXIT_REASON_PREFIX": "why:\nmdlp: RUNNING\n"}
        assert run_agent("start", config=config, ocf_link=ocf_link, env=env).returncode == 1
        monitor = run_agent("monitor", config=config, ocf_link=ocf_link, env=env)
        assert monitor.returncode in (1, 7) and monitor.stderr.count("\n") == 1, monitor
        assert monitor.stderr.startswith("why: mdlp: RUNNING ") and "\x1b" not in monitor.stderr, monitor
    finally:
        squatter.kill()
        squatter.wait()
    lines = syslog.lines()
    assert lines and all("\n" not in line and "\x1b" not in line for line in lines), lines
    assert any(line.startswith("<27>tag mdlp: RUNNING[") for line in lines), lines


@pytest.mark.parametrize("value", ["\u00b2", "\u0661\u0662\u0660\u0660\u0660", "\u2460", "20000\u00b2", " ", "-5",
                                   "9" * 40, "1e5"])
def test_meta_values_that_are_not_ascii_numbers(tmp_path, ocf_link, value):
    """OCF_RESKEY_CRM_meta_* from the environment: '²' passes str.isdigit() and fails int() (Python
    >= 3.9 says so), Arabic-Indic digits pass both: neither is a number Pacemaker wrote.  Start,
    monitor and stop answer as without them, never 'internal error'."""
    name = "mdlp-meta-%d" % RUN_ID
    config = write_config(tmp_path, "[service %s]\nprocess = %s\n" % (name, name))
    env = {"OCF_RESKEY_CRM_meta_timeout": value, "OCF_RESKEY_CRM_meta_interval": value}
    for action, codes in (("start", (1,)), ("monitor", (7,)), ("stop", (0,))):
        result = run_agent(action, config=config, ocf_link=ocf_link, env=env, timeout=60)
        assert result.returncode in codes and "internal error" not in result.stderr, (action, result)
