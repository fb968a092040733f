"""The watcher (mdlp_agents/rhcs/watcher.py) and the OCF front (bin/mdlp_ocf) on real processes.

Two fronts per test: the real one (agent = the installed mdlp_rhcs) drives start/stop/monitor as
Pacemaker would; the "judge" is the same front whose agent is a stub printing FULL-CHECK, so what
it answers without Python is visible: exit 0 (vouched by the verdict) or the stub's 42.
"""

import os
import signal
import subprocess
import time

import pytest
from helpers import PYTHON, install_front, sigstop, wait_for, write_config

INSTANCE = "mdlp-rhcs"
NAMES = ("httpd", "PolicyEngine", "RProxyWD")
STUB = "#!/bin/sh\necho FULL-CHECK \"$@\"\nexit 42\n"


class Pair:
    """The real front and the judge over one state directory and configuration."""

    def __init__(self, tmp_path, config):
        self.state = tmp_path / "state"
        self.state.mkdir(mode=0o755, exist_ok=True)
        self.config = config
        self.front = install_front(tmp_path / "ocf/resource.d/websense/mdlp", state=self.state, listen=1)
        self.stub = tmp_path / "stub"
        self.stub.write_text(STUB)
        self.stub.chmod(0o755)
        self.judge_front = install_front(tmp_path / "judge/resource.d/websense/mdlp", agent=self.stub,
                                         state=self.state, listen=0)
        self.verdict = self.state / ("watch-%s.verdict" % INSTANCE)

    def env(self, interval="500", **extra):
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("OCF_", "MDLP_"))}
        environ.update(OCF_ROOT="/usr/lib/ocf", OCF_RESOURCE_INSTANCE=INSTANCE, OCF_RESKEY_config=str(self.config),
                       OCF_RESKEY_CRM_meta_interval=interval, OCF_RESKEY_CRM_meta_timeout="20000")
        environ.update(extra)
        return environ

    def run(self, action, front=None, **env):
        return subprocess.run([str(front or self.front), action], env=self.env(**env), capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)

    def judge(self, **env):
        """0: answered from the verdict; 42: sent to the full check."""
        return self.run("monitor", front=self.judge_front, **env).returncode

    def line(self):
        try:
            return self.verdict.read_text()
        except OSError:
            return ""

    def watcher_pid(self):
        fields = self.line().split()
        return int(fields[6].split(":")[0]) if len(fields) > 6 else None


@pytest.fixture
def pair(tmp_path, fake):
    for name in NAMES:
        fake.start(name)
    body = "".join("[service %s]\nprocess = %s\npidfile = %s\ntimeout = 1\n\n" % (n, n, fake.pidfile(n))
                   for n in NAMES)
    config = write_config(tmp_path, body, agent="deadline = 4\ncheck_interval = 2\n")
    config.chmod(0o600)
    made = Pair(tmp_path, config)
    yield made
    made.run("stop")


def started(pair):
    result = pair.run("start")
    assert result.returncode == 0, result
    wait_for(lambda: " ok " in pair.line(), timeout=5)
    return pair.watcher_pid()


def test_the_watcher_vouches_and_the_front_answers_without_python(pair):
    watcher = started(pair)
    assert open("/proc/%d/comm" % watcher).read().strip() == "mdlp_rhcs-watch"
    assert pair.judge() == 0
    real = pair.run("monitor")
    assert real.returncode == 0 and real.stdout == "" and real.stderr == "", real
    # a probe (interval 0) and every other action always run the agent
    assert pair.judge(interval="0") == 42
    assert pair.run("meta-data", front=pair.judge_front).returncode == 42
    # one watcher per instance: a second start leaves the first in place
    assert pair.run("start").returncode == 0
    time.sleep(0.3)
    assert pair.watcher_pid() == watcher and len(_watchers(pair)) == 1


def _watchers(pair):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = open("/proc/%s/cmdline" % entry, "rb").read().split(b"\0")
            except OSError:
                continue
            if b"mdlp_agents.rhcs.watcher" in cmdline and str(pair.state).encode() in cmdline:
                found.append(int(entry))
    return found


def test_a_killed_service_fails_the_verdict_within_a_tick_and_the_monitor_says_why(pair, fake):
    started(pair)
    killed = time.monotonic()
    fake.kill("PolicyEngine")
    wait_for(lambda: " failed " in pair.line(), timeout=3)
    assert time.monotonic() - killed < 1.0
    assert "PolicyEngine STALE" in pair.line()
    assert pair.judge() == 42
    real = pair.run("monitor")
    assert real.returncode == 1 and "PolicyEngine STALE" in real.stderr, real


def test_a_restart_within_the_grace_is_no_failure(tmp_path, pair, fake):
    pair.config.write_text(pair.config.read_text().replace("check_interval = 2", "check_interval = 2\n"
                                                            "restart_grace = 1.5"))
    started(pair)
    old = fake.procs["PolicyEngine"][-1].pid
    fake.kill("PolicyEngine")
    new = fake.start("PolicyEngine").pid      # the admin's restart, well within the grace
    seen = set()
    end = time.monotonic() + 2.5
    while time.monotonic() < end:
        seen.add(pair.line().split(" ")[5] if pair.line() else "")
        time.sleep(0.02)
    assert "failed" not in seen, seen
    assert " %d:" % new in pair.line() and " %d:" % old not in pair.line()
    assert pair.judge() == 0


def test_a_stopped_service_fails_the_verdict(pair, fake):
    started(pair)
    fake.kill("RProxyWD", signal.SIGSTOP)
    try:
        wait_for(lambda: " failed " in pair.line(), timeout=3)
        assert "RProxyWD HUNG" in pair.line()
        assert pair.judge() == 42
        assert pair.run("monitor").returncode == 1
    finally:
        fake.kill("RProxyWD", signal.SIGCONT)


def test_stop_ends_the_watcher_and_its_verdict(pair):
    watcher = started(pair)
    result = pair.run("stop")
    assert result.returncode == 0, result
    assert not os.path.exists("/proc/%d" % watcher) or open("/proc/%d/stat" % watcher).read().split(") ")[1][0] == "Z"
    assert not pair.verdict.exists() and _watchers(pair) == []
    assert pair.judge() == 42
    assert pair.run("monitor").returncode == 7


def test_a_killed_watcher_sends_the_monitor_to_the_full_check_which_starts_another(pair, syslog):
    pair.config.write_text(pair.config.read_text().replace(
        "syslog_socket = %s" % (pair.state.parent / "syslog.sock"), "syslog_socket = %s" % syslog.path))
    watcher = started(pair)
    os.kill(watcher, signal.SIGKILL)
    wait_for(lambda: pair.judge() == 42, timeout=2)
    real = pair.run("monitor")
    assert real.returncode == 0, real                        # the truth: the services run
    wait_for(lambda: " ok " in pair.line() and pair.watcher_pid() != watcher, timeout=5)
    assert pair.judge() == 0
    assert any("was not running" in line for line in syslog.lines()), syslog.lines()


def test_a_hung_watcher_is_not_believed(pair, fake):
    watcher = started(pair)
    sigstop(watcher)
    try:
        assert pair.judge() == 42                            # a stopped watcher vouches for nothing
        os.kill(watcher, signal.SIGCONT)
        wait_for(lambda: pair.judge() == 0, timeout=3)
        sigstop(watcher)
        # the verdict still says ok, but the service it names is dead: never healthy
        fake.kill("httpd")
        assert " ok " in pair.line()
        assert pair.judge() == 42
        assert pair.run("monitor").returncode == 1
    finally:
        os.kill(watcher, signal.SIGCONT)


def test_no_watcher_when_switched_off_or_for_rgmanager(pair):
    pair.config.write_text(pair.config.read_text().replace("check_interval = 2", "watch = no"))
    assert pair.run("start").returncode == 0
    time.sleep(0.5)
    assert not pair.verdict.exists() and _watchers(pair) == []
    assert pair.run("monitor").returncode == 0


def test_a_listening_monitor_hands_a_failure_over_at_once(tmp_path, pair, fake):
    started(pair)
    listener = install_front(tmp_path / "listener/resource.d/websense/mdlp", agent=pair.stub, state=pair.state,
                             listen=3)
    began = time.monotonic()
    healthy = subprocess.run([str(listener), "monitor"], env=pair.env(), capture_output=True, timeout=10)
    assert healthy.returncode == 0 and time.monotonic() - began >= 2.9      # it listened, then answered
    # the op's timeout caps the wait at a quarter of it
    began = time.monotonic()
    capped = subprocess.run([str(listener), "monitor"], env=pair.env(OCF_RESKEY_CRM_meta_timeout="2000"),
                            capture_output=True, timeout=10)
    assert capped.returncode == 0 and 0.45 <= time.monotonic() - began < 1.5
    monitor = subprocess.Popen([str(listener), "monitor"], env=pair.env(), stdout=subprocess.PIPE)
    time.sleep(0.5)
    killed = time.monotonic()
    fake.kill("RProxyWD")
    assert monitor.wait(timeout=10) == 42                                      # to the full check...
    assert time.monotonic() - killed < 1.0                                     # ...at once, not after 3 s
    assert monitor.stdout.read().startswith(b"FULL-CHECK monitor")


def test_an_http_500_fails_the_verdict_within_the_check_interval(tmp_path, apache):
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\npidfile = %s\nhttp = %s\ntimeout = 1\n"
                          % (apache.pidfile, apache.url("/flip")), agent="check_interval = 1\n")
    config.chmod(0o600)
    pair = Pair(tmp_path, config)
    try:
        started(pair)
        broken = apache.root / "broken-now"
        broken.touch()
        began = time.monotonic()
        wait_for(lambda: " failed " in pair.line(), timeout=5)
        assert time.monotonic() - began < 2.5                  # check_interval 1 s, and the probe
        assert "httpd FAILED (http: " in pair.line() and "HTTP 500" in pair.line()
        assert pair.judge() == 42
        assert pair.run("monitor").returncode == 1
        broken.unlink()                                        # serving again: the watcher says so
        wait_for(lambda: " ok " in pair.line(), timeout=5)
        assert pair.judge() == 0
    finally:
        pair.run("stop")


def test_the_watcher_leaves_with_a_word_and_no_fifo(pair):
    watcher = started(pair)
    wake = pair.state / ("watch-%s.wake" % INSTANCE)
    assert wake.is_fifo() and oct(wake.stat().st_mode & 0o777) == "0o600"
    pair.config.write_text(pair.config.read_text() + "\n")      # a changed configuration: it leaves
    wait_for(lambda: not os.path.exists("/proc/%d/cmdline" % watcher) or not open("/proc/%d/cmdline" % watcher).read(),
             timeout=3)
    assert not wake.exists() and not pair.verdict.exists()
    # the next healthy monitor (the full check) starts another on the new file
    assert pair.run("monitor").returncode == 0
    wait_for(lambda: " ok " in pair.line(), timeout=5)
    assert pair.watcher_pid() != watcher


# --- the front against hostile verdict files -------------------------------------------------------
def _forged(pair, fake, **change):
    """A verdict line as the watcher writes it (the agent's own verdict.line), for processes that
    run: a sleep stands in for the watcher."""
    watcher = fake.start("stand-in", pidfile=False).pid
    pids = [fake.procs[n][-1].pid for n in NAMES]
    code = ("import sys\nfrom mdlp_agents.common.procfs import ProcStat\nfrom mdlp_agents.rhcs import verdict\n"
            "pids = [int(p) for p in sys.argv[2:]]\n"
            "t = lambda p: (p, ProcStat(p).ticks)\n"
            "sys.stdout.write(verdict.line(sys.argv[1], True, t(pids[0]), [t(p) for p in pids[1:]]))\n")
    line = subprocess.run([str(PYTHON), "-c", code, INSTANCE, str(watcher)] + [str(p) for p in pids],
                          capture_output=True, text=True, check=True).stdout
    return line, watcher, pids


def _shift(line, field, delta):
    fields = line.split(" ")
    fields[field] = str(int(fields[field]) + delta)
    return " ".join(fields)


HOSTILE = {
    "stale": lambda line, pids: _shift(line, 4, -200),
    "from the future": lambda line, pids: _shift(line, 4, +100),
    "another boot": lambda line, pids: line.replace(line.split(" ")[3], "0" * 8 + "-0000-0000-0000-" + "0" * 12),
    "another instance": lambda line, pids: line.replace(" %s " % INSTANCE, " other "),
    "failed": lambda line, pids: line.replace(" ok ", " failed "),
    "a reused pid": lambda line, pids: " ".join(
        "%s:%d" % (f.split(":")[0], int(f.split(":")[1]) + 1) if f.startswith("%d:" % pids[1]) else f
        for f in line.strip().split(" ")) + "\n",
    "garbage": lambda line, pids: "\x00\xff" * 40 + "\n",
    "no newline, huge": lambda line, pids: line.strip() + " 1:1" * 300000,
    "an extra colon": lambda line, pids: line.replace(" %d:" % pids[0], " %d::" % pids[0]),
    "a dead pid": lambda line, pids: line.replace(" %d:" % pids[0], " 999999:"),
    "empty": lambda line, pids: "",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_the_front_believes_only_a_true_verdict(pair, fake, case):
    line, _, pids = _forged(pair, fake)
    pair.verdict.write_text(line)
    assert pair.judge() == 0, "the forged line is a true one: %r" % line      # the control
    pair.verdict.write_text(HOSTILE[case](line, pids))
    started_at = time.monotonic()
    assert pair.judge() == 42
    assert time.monotonic() - started_at < 2.0


@pytest.mark.parametrize("case", ["fifo", "symlink", "foreign owner", "directory", "state dir a symlink"])
def test_the_front_refuses_what_is_not_our_file(tmp_path, pair, fake, case):
    line, _, _ = _forged(pair, fake)
    if case == "fifo":
        os.mkfifo(str(pair.verdict))
    elif case == "symlink":
        real = tmp_path / "elsewhere"
        real.write_text(line)
        pair.verdict.symlink_to(real)
    elif case == "foreign owner":
        pair.verdict.write_text(line)
        os.chown(str(pair.verdict), 65534, 65534)
    elif case == "directory":
        pair.verdict.mkdir()
    else:
        pair.verdict.write_text(line)
        os.rename(str(pair.state), str(tmp_path / "real-state"))
        pair.state.symlink_to(tmp_path / "real-state")
    started_at = time.monotonic()
    assert pair.judge() == 42
    assert time.monotonic() - started_at < 2.0


def test_a_stopped_service_is_not_vouched_for(pair, fake):
    line, _, _ = _forged(pair, fake)
    pair.verdict.write_text(line)
    fake.kill("PolicyEngine", signal.SIGSTOP)
    try:
        assert pair.judge() == 42
    finally:
        fake.kill("PolicyEngine", signal.SIGCONT)
    assert pair.judge() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs")
def test_a_full_run_directory_still_gets_the_truth_in_time(tmp_path, fake):
    """The state directory on a tmpfs that fills up: the watcher cannot write, its verdict goes stale,
    the monitor checks in Python and answers the truth within its deadline."""
    for name in NAMES:
        fake.start(name)
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(state)], check=True)
    try:
        body = "".join("[service %s]\nprocess = %s\npidfile = %s\ntimeout = 1\n\n" % (n, n, fake.pidfile(n))
                       for n in NAMES)
        pair = Pair(tmp_path, write_config(tmp_path, body, agent="deadline = 4\n"))
        started(pair)
        fd = os.open(str(state / "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        time.sleep(2)                               # beyond the verdict's 1.5 s
        assert pair.judge() == 42                   # stale: not believed
        began = time.monotonic()
        assert pair.run("monitor").returncode == 0
        fake.kill("PolicyEngine")
        result = pair.run("monitor")
        assert result.returncode == 1 and "PolicyEngine" in result.stderr, result
        assert time.monotonic() - began < 4
        pair.run("stop")
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)
