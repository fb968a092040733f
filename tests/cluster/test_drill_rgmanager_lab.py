"""The drill's steps on rgmanager: the real Drill and the real Rgmanager stack, against the
rgmanager harness (rhcs_harness.py: the installed mdlp_rhcs at the path cluster.conf names, run
as script.sh runs it) and stand-ins for what Debian does not package -- clustat and clusvcadm
(their output and their effects: clusvcadm -r stops the service and starts it on the other
node, through the script), fence_node (a "reboot" is a new boot id of the node's), and
rgmanager's status loop (a thread: the script's status every 0.3 s, and on a failure its stop,
then its start on the other node, as recovery="relocate" asks).  Both "nodes" are this host, so
the services are the same processes wherever the service runs; httpd is a real HTTP server on
loopback, which the drill's prober fetches."""

import fcntl
import re
import threading
import time
import uuid

import pytest
from helpers import BIN_DIR, free_port, wait_for, write_config

from mdlp_agents.cluster.drill.execute import Drill
from mdlp_agents.cluster.drill.pair import Pair
from mdlp_agents.cluster.drill.prober import Prober
from mdlp_agents.cluster.drill.record import Record
from mdlp_agents.cluster.drill.steps import select
from mdlp_agents.cluster.stacks import Rgmanager as RgmanagerStack
from mdlp_agents.cluster.stacks import runner as runners

from rhcs_harness import CLUSTER_CONF, SCRIPT, SYSTEM_PATH, Rgmanager, clustat_standin

pytestmark = pytest.mark.cluster
NAMES = ("httpd", "PolicyEngine", "RProxyWD")

# clustat stand-in: the service's state, owner and last transition from $RGM
CLUSTAT = clustat_standin("", state="$(cat $RGM/state)", transition="$(cat $RGM/transition)")

# clusvcadm stand-in: -r / -e / -d SERVICE [-m NODE], done through the script as rgmanager does them
# (stop on the owner, start on the target), under rgmanager's lock ($RGM/lock, flock; the services it
# starts do not inherit it)
CLUSVCADM = r"""#!/bin/sh
echo "clusvcadm $*" >> $RGM/calls
exec 9>>$RGM/lock
flock 9
state() { echo $1 > $RGM/state; date +%s%N > $RGM/transition; }
svc=$2; target=${4:-node1}
case $1 in
  -r) echo "Trying to relocate $svc to $target...";
      [ "$(cat $RGM/state)" = started ] && { $SCRIPT stop >/dev/null 2>&1 9>&-; state stopped; }
      echo $target > $RGM/owner
      if $SCRIPT start >/dev/null 2>&1 9>&-; then state started; echo "Success"; echo "$svc is now running on $target"
      else state failed; echo "Failure"; exit 1; fi ;;
  -e) echo $target > $RGM/owner
      if $SCRIPT start >/dev/null 2>&1 9>&-; then state started; echo "Local machine trying to enable $svc...Success"
      else state failed; echo "Local machine trying to enable $svc...Failure"; exit 1; fi ;;
  -d) $SCRIPT stop >/dev/null 2>&1 9>&-; state disabled; echo "Local machine disabling $svc...Success" ;;
  *) echo "usage" >&2; exit 1 ;;
esac
"""

# fence_node stand-in: a node fenced reboots (a new boot id); with $RGM/noop it says so all the same
FENCE_NODE = r"""#!/bin/sh
echo "fence_node $*" >> $RGM/calls
[ -e $RGM/noop ] || cat /proc/sys/kernel/random/uuid > $RGM/boot_id.$1
echo "fence $1 success"
"""


class RgmanagerPair:
    """cluster.conf's pair on this host: rgmanager's tools as stand-ins, its status loop a thread."""

    def __init__(self, root, fake):
        self.port = free_port()
        conf = CLUSTER_CONF.format(port1=1, port2=2, deadline=20)
        self.node = Rgmanager(root / "node", BIN_DIR, conf)
        self.state = root / "rgm"
        self.state.mkdir()
        for name, value in (("state", "stopped"), ("owner", "node1"), ("transition", "0"), ("lock", "")):
            (self.state / name).write_text(value)
        for node in ("node1", "node2"):
            (self.state / ("boot_id." + node)).write_text(str(uuid.uuid4()))
        for name, text in (("clustat", CLUSTAT), ("clusvcadm", CLUSVCADM), ("fence_node", FENCE_NODE)):
            path = self.node.sbin / name
            path.write_text(text)
            path.chmod(0o755)
        self.fake = fake
        self.env = {"PATH": SYSTEM_PATH, "LC_ALL": "C", "RGM": str(self.state), "SCRIPT": SCRIPT}
        self.node.write_etc("mdlp_agents/mdlp_rhcs.conf", self._agent_config(root))
        self._stop = threading.Event()
        self.recoveries = []
        self.thread = threading.Thread(target=self._status_loop, daemon=True)

    def _agent_config(self, root):
        body = ""
        for name in NAMES:
            target = "/usr/bin/python3" if name == "httpd" else "/bin/sleep"
            program, pidfile = self.fake.program(name, target), self.fake.pidfile(name)
            args = "-m http.server --bind 127.0.0.1 %d" % self.port if name == "httpd" else "1000"
            start = "cd %s; %s %s </dev/null >/dev/null 2>&1 & echo $! > %s" % (root, program, args, pidfile)
            body += "[service %s]\nprocess = %s\npidfile = %s\nstart = %s\nstop = kill $(cat %s)\ntimeout = 1\n" % (
                name, name, pidfile, start, pidfile)
            if name == "httpd":
                body += "http = http://127.0.0.1:%d/\n" % self.port
            body += "\n"
        return write_config(root, body, agent="deadline = 3\nstop_policy = stop\nstart_timeout = 5\n"
                            "stop_timeout = 8\n").read_text()

    # -- the tools as the stack runs them: in the node's mount namespace, root's PATH --------------------
    def runner(self, argv, timeout, error, input=None, **_):
        return runners.run(self.node.command(argv), timeout, error, input=input, env=self.env)

    def stack(self):
        conf = self.node.etc / "cluster" / "cluster.conf"
        return RgmanagerStack(self.runner, 10, conf_path=str(conf))

    def tool(self, *argv):
        return self.runner(list(argv), 60, RuntimeError)

    # -- rgmanager's status loop -------------------------------------------------------------------------------
    def start(self):
        assert self.tool("clusvcadm", "-e", "service:mdlp", "-m", "node1").returncode == 0
        self.thread.start()
        return self

    def _set(self, state, owner=None):
        if owner:
            (self.state / "owner").write_text(owner)
        (self.state / "state").write_text(state)
        (self.state / "transition").write_text(str(time.time_ns()))

    def _status_loop(self):
        while not self._stop.is_set():
            with open(self.state / "lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if (self.state / "state").read_text().strip() == "started" and self.node.call("status").returncode:
                    owner = (self.state / "owner").read_text().strip()
                    other = "node2" if owner == "node1" else "node1"
                    self.recoveries.append(owner)
                    self._set("recovering")
                    self.node.call("stop")
                    self._set("stopped")
                    self._set("started" if self.node.call("start").returncode == 0 else "failed", other)
            time.sleep(0.3)

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=30)

    @property
    def owner(self):
        return (self.state / "owner").read_text().strip()

    def calls(self):
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []


class PairOnThisHost(Pair):
    """Both nodes are this host; each one's boot id is the stand-ins' ($RGM/boot_id.NODE), and a
    signal reaches the test's own services only (pkill -f on their program's path, not -x NAME:
    a lab's services elsewhere on this host are not ours to kill)."""

    def __init__(self, state, bindir):
        super().__init__("node1", "node2", timeout=5)
        for node in ("node1", "node2"):
            self.runners[node] = self._runner(node, state, bindir)

    @staticmethod
    def _runner(node, state, bindir):
        def run(argv, timeout, error, input=None, **_):
            if argv == ["cat", "/proc/sys/kernel/random/boot_id"]:
                argv = ["cat", str(state / ("boot_id." + node))]
            elif argv[0] == "pkill" and argv[-2] == "-x":
                argv = argv[:-2] + ["-f", "^%s( |$)" % re.escape("%s/%s" % (bindir, argv[-1]))]
            return runners.LOCAL(argv, timeout, error, input=input)
        return run


@pytest.fixture
def rgm(tmp_path, fake):
    pair = RgmanagerPair(tmp_path, fake).start()
    yield pair
    pair.stop()


@pytest.fixture
def drill(rgm):
    started = time.monotonic()

    def clock():
        return time.monotonic() - started
    prober = Prober("127.0.0.1", clock, port=rgm.port).start()
    said = []
    pair = PairOnThisHost(rgm.state, rgm.fake.bindir)
    found = Drill(rgm.stack(), pair, Record(None, None, None, None, clock), prober, clock, said.append, boot_time=30)
    found.said = said
    assert found.guard_problems(with_doctor=False) == [], "the pair is not fit before the step"
    yield found
    prober.stop()


def _step(name):
    return select([name])[0]


@pytest.mark.parametrize("name", ["kill-httpd", "hang-RProxyWD"])
def test_a_killed_or_hung_service_is_relocated_and_put_back(rgm, drill, name):
    result = drill.run_step(_step(name))
    assert result["verdict"] == "PASS", (result["why"], rgm.calls(), rgm.recoveries)
    timings = result["timings"]
    assert timings["detected"]["seconds"] < 3, timings       # the loop's 0.3 s + the script's status
    assert timings["serving again"]["seconds"] < 15, timings
    assert rgm.recoveries == ["node1"]                        # rgmanager relocated it, once
    # the undo relocated it back: clusvcadm -r to node1, and the pair is fit again
    assert "clusvcadm -r service:mdlp -m node1" in rgm.calls(), rgm.calls()
    assert rgm.owner == "node1" and result["undo_problems"] == []
    assert drill.guard_problems(with_doctor=False) == []
    if name.startswith("hang"):     # no process is left stopped
        assert all(drill.pair.signal("node1", service, "CONT") >= 0 for service in NAMES)


def test_switchover_moves_it_with_clusvcadm_and_back(rgm, drill):
    result = drill.run_step(_step("switchover"))
    assert result["verdict"] == "PASS", (result["why"], rgm.calls(), rgm.recoveries)
    assert [c for c in rgm.calls() if c.startswith("clusvcadm -r")] == [
        "clusvcadm -r service:mdlp -m node2", "clusvcadm -r service:mdlp -m node1"]
    assert rgm.recoveries == [] and rgm.owner == "node1"
    assert result["timings"]["moved"]["seconds"] < 15, result["timings"]


def test_fence_passive_goes_through_fence_node_and_wants_a_reboot(rgm, drill):
    result = drill.run_step(_step("fence-passive"))
    assert result["verdict"] == "PASS", (result["why"], rgm.calls(), rgm.recoveries)
    assert "fence_node node2" in rgm.calls()
    assert result["boot_ids"]["before"] != result["boot_ids"]["after"]
    (rgm.state / "noop").write_text("")
    result = drill.run_step(_step("fence-passive"))
    assert result["verdict"] == "FAIL" and "did not reboot" in result["why"], result
    assert rgm.owner == "node1"


def test_a_service_that_cannot_start_anywhere_fails_and_is_enabled_again(rgm, drill, tmp_path):
    """After the kill, rgmanager's start fails on node2 too (the config's httpd cannot start for a
    moment): the service is failed, the drill says so, and its undo disables and enables it again."""
    httpd = rgm.fake.program("httpd")
    broken = tmp_path / "httpd-moved"
    httpd.rename(broken)

    def restore():      # once rgmanager has failed the service (the drill's undo comes 10 s later)
        wait_for(lambda: (rgm.state / "state").read_text().strip() == "failed", 60)
        broken.rename(httpd)
    restored = threading.Thread(target=restore)
    restored.start()
    try:
        result = drill.run_step(_step("kill-httpd"))
    finally:
        restored.join()
    assert result["verdict"] == "FAIL" and "gave up" in result["why"], result
    calls = rgm.calls()
    assert "clusvcadm -d service:mdlp" in calls and "clusvcadm -e service:mdlp -m node1" in calls, calls
    assert rgm.owner == "node1" and drill.guard_problems(with_doctor=False) == []
