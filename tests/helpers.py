"""What every test module may use, written once: the installed tools and how to run them as the
cluster does (real processes, pipes), waiting with a bound, free loopback ports, a syslog socket that
receives our lines, the files each agent reads."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from platform_under_test import BIN_DIR, PLATFORM, PYTHON  # noqa: F401  (the row's agents)
from rhcs_harness import rgmanager_env

REPO = Path(__file__).resolve().parent.parent
AGENT = BIN_DIR / "mdlp_rhcs"
OCF_FRONT = BIN_DIR / "mdlp_ocf"      # installed as OCF_ROOT/resource.d/websense/mdlp
FENCE = BIN_DIR / "fence_mdlp"
CLUSTER_TOOL = BIN_DIR / "mdlp-cluster"


# This test run's own number, for names on what test runs share (/etc/init.d, /run/netns, the
# journal): the platform rows run side by side, each pytest likely the same PID of its own namespace
RUN_ID = 1000 + int.from_bytes(os.urandom(3), "big") % 3999000


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_for(predicate, timeout=10.0, interval=0.05):
    """PREDICATE()'s first true value within TIMEOUT seconds, else its last (false) one (the package's
    own wait: one loop for both)."""
    from mdlp_agents.cluster.stacks.base import wait
    return wait(predicate, timeout, interval)


def sigstop(pid, timeout=5.0):
    """SIGSTOP PID and wait until the kernel shows it stopped: kill() returns before the target is
    scheduled to take the signal, and on a loaded machine a check run at once still sees it running."""
    os.kill(pid, signal.SIGSTOP)

    def stopped():
        try:
            with open("/proc/%d/stat" % pid) as stat:
                return stat.read().rsplit(") ", 1)[1][:1] in ("T", "t")
        except (OSError, IndexError):
            return True                     # gone: nothing left that could still run
    wait_until("pid %d to stop" % pid, stopped, timeout, interval=0.01)


def sshd_home(root):
    """sshd_config's line giving the test sshd's sessions a HOME of their own (an empty ROOT/home):
    they log in as root, and root's shell would read the host's ~/.bashrc -- here pyenv's init,
    whose rehash takes a lock file in ~/.pyenv; a session killed in it leaves the lock, and every
    later session (of every test, every lane) waits 60 s for it."""
    home = Path(root) / "home"
    home.mkdir(exist_ok=True)
    return "SetEnv HOME=%s\n" % home


def wait_until(what, predicate, timeout, interval=0.2, error=AssertionError):
    """As wait_for, but a timeout is ERROR naming WHAT."""
    value = wait_for(predicate, timeout, interval)
    if not value:
        raise error("timed out after %.0f s waiting for %s" % (timeout, what))
    return value


def free_port(address="127.0.0.1", kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def free_udp_port():
    return free_port(kind=socket.SOCK_DGRAM)


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Result:
    def __init__(self, proc, elapsed):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    def __repr__(self):
        return "<rc=%s %.2fs out=%r err=%r>" % (self.returncode, self.elapsed, self.stdout, self.stderr)


def run_agent(*args, config=None, env=None, ocf_link=None, timeout=60, rgmanager=False):
    """Run the installed agent as the cluster would: a real process, stdout to a pipe.

    CONFIG goes where the caller's kind would put it: $OCF_RESKEY_config through an
    OCF link, $MDLP_RHCS_CONF otherwise (so `status` keeps its single argument)."""
    if rgmanager:  # rgmanager's script wrapper: a bare PATH, C locale, its OCF_* variables
        environ = rgmanager_env(AGENT)
    else:
        environ = dict(os.environ)
    environ.pop("MDLP_RHCS_CONF", None)
    if config is not None:
        environ["OCF_RESKEY_config" if ocf_link else "MDLP_RHCS_CONF"] = str(config)
    if env:
        environ.update(env)
    cmd = [str(ocf_link or AGENT)] + list(args)
    started = time.monotonic()
    proc = subprocess.run(cmd, env=environ, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    return Result(proc, time.monotonic() - started)


def run_cluster(*args, env=None, cwd=REPO, text=True, timeout=60):
    """Run the installed mdlp-cluster: a real process, stdout and stderr on pipes."""
    environ = dict(os.environ)
    environ.update(env or {})
    return subprocess.run([str(CLUSTER_TOOL)] + [str(a) for a in args], capture_output=True, text=text,
                          cwd=str(cwd), env=environ, timeout=timeout)


def run_fence(*args, stdin=None, env=None, conf=None, timeout=120):
    """Run the installed fence_mdlp as fenced does: stdout and stderr on pipes."""
    environ = dict(os.environ)
    environ.pop("MDLP_FENCE_CONF", None)
    if conf is not None:
        environ["MDLP_FENCE_CONF"] = str(conf)
    if env:
        environ.update(env)
    started = time.monotonic()
    proc = subprocess.run([str(FENCE)] + list(args), input=stdin, env=environ, capture_output=True,
                          text=True, timeout=timeout)
    return Result(proc, time.monotonic() - started)


def c_locale():
    """The environment as rgmanager gives it: LC_ALL=C, no Python I/O settings of ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LC_", "PYTHONIOENCODING",
                                                                                     "PYTHONUNBUFFERED"))}
    env.update(LC_ALL="C", LANG="C")
    return env


def write_config(tmp_path, body, agent=""):
    """A config whose state and syslog live in the test's own directory."""
    state = tmp_path / "state"
    path = tmp_path / "mdlp_rhcs.conf"
    path.write_text("[agent]\nstate_dir = %s\nsyslog_socket = %s\n%s\n%s"
                    % (state, tmp_path / "syslog.sock", agent, body))
    return path


def fence_conf(tmp_path, fence="", agent=""):
    """A site fence_mdlp.conf whose syslog and locks live in the test's own directory."""
    path = tmp_path / "fence_mdlp.conf"
    path.write_text("[agent]\nsyslog_socket = %s\nstate_dir = %s\n%s\n[fence]\n%s"
                    % (tmp_path / "syslog.sock", tmp_path / "state", agent, fence))
    path.chmod(0o600)
    return path


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def comm(pid):
    try:
        return Path("/proc/%d/comm" % pid).read_text().strip()
    except OSError:
        return None


class SyslogReceiver:
    """A real unix datagram socket where the agent's syslog lines arrive."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)

    def lines(self):
        got = []
        while True:
            try:
                got.append(self.sock.recv(65536).decode())
            except BlockingIOError:
                return got

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def install_front(path, agent=AGENT, state="/run/mdlp_agents", listen=None):
    """The OCF front at PATH, naming AGENT and the state directory STATE, as the RPM installs it
    (its rewritable lines, as the spec's sed rewrites them); LISTEN: seconds a healthy monitor
    waits for the watcher's word (default: as shipped)."""
    lines = []
    for line in Path(OCF_FRONT).read_text().splitlines(True):
        if line.startswith("agent="):
            line = "agent=%s\n" % agent
        elif line.startswith("state="):
            line = "state=%s\n" % state
        elif line.startswith("listen=") and listen is not None:
            line = "listen=%s\n" % listen
        lines.append(line)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    path.chmod(0o755)
    return path
