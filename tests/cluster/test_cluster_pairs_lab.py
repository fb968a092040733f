"""The guide's topology on real Pacemaker + corosync: 2-node clusters whose nodes are powered
through ipmi_sim, fenced by fence_mdlp, with the floating IP answering on the client network.

Two pairs run side by side (pairA: node1/node2, pairB: node3/node4).  Every scenario breaks
pairA; a watcher on the client network fetches pairB's floating IP throughout, and the last
test shows pairB never noticed.
"""

import subprocess
import threading
import time

import pytest

from clusterlab import PAIR_VIPS, record, wait_until

pytestmark = pytest.mark.cluster
VIP_A = PAIR_VIPS["pairA"]


class Watcher:
    """A client on the lab network fetching a floating IP five times a second (a 5 s timeout: a
    busy machine is not an outage; a vanished address still shows as FAIL)."""

    def __init__(self, lab, address):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns, "/usr/bin/python3", "-u", "-c",
             "import time, urllib.request as u\n"
             "while True:\n"
             "    try:\n"
             "        print(u.urlopen('http://%s/', timeout=5).read().decode().strip(), flush=True)\n"
             "    except Exception as exc:\n"
             "        print('FAIL %%s' %% exc, flush=True)\n"
             "    time.sleep(0.2)\n" % address],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.thread.join(5)
        return self.lines


@pytest.fixture(scope="module")
def pairs(pair_lab):
    """The lab, with pairB's floating IP watched for the whole module."""
    pair_lab.watcher = Watcher(pair_lab.lab, PAIR_VIPS["pairB"])
    pair_lab.b_home = pair_lab.cluster("pairB").group_on()
    yield pair_lab
    pair_lab.watcher.stop()


@pytest.fixture
def pair_a(pairs):
    """pairA healthy before the test: both nodes on and online, failures cleared, the group
    started.  Returns (cluster, active node, passive node)."""
    cluster = pairs.cluster("pairA")
    for node in cluster.nodes:
        if not node.powered:
            pairs.lab.power(node.name, "on")
        wait_until("%s booted" % node.name, node.init_pid, 10)
        node_path = node.path("/run/mdlp-test")
        for flag in node_path.glob("broken-*"):
            flag.unlink()
    for bmc in pairs.bmcs.values():
        bmc.thaw()
    cluster.wait_online(timeout=60)
    cluster.cleanup()
    active = cluster.node(cluster.wait_group(timeout=60))
    passive = next(n for n in cluster.nodes if n is not active)
    cluster.idle(timeout=60)
    return cluster, active, passive


def test_service_that_cannot_restart_moves_the_group(pairs, pair_a):
    cluster, active, passive = pair_a
    assert pairs.lab.fetch(VIP_A) == "served by %s" % active.name
    fences = {n.name: len(cluster.fence_history(n.name)) for n in cluster.nodes}
    active.path("/run/mdlp-test/broken-PolicyEngine").write_text("")   # cannot be restarted here
    started = time.monotonic()
    active.kill("PolicyEngine")
    cluster.wait_group(passive.name, via=passive, timeout=60)
    moved = record("pairA: PolicyEngine dies on %s -> group (IP too) on %s" % (active.name, passive.name),
                   time.monotonic() - started)
    answers = wait_until("the floating IP answering from %s" % passive.name,
                         lambda: pairs.lab.fetch(VIP_A) == "served by %s" % passive.name, 10)
    record("pairA: ... and the floating IP answers there", time.monotonic() - started)
    assert answers and moved < 60
    assert passive.has_address(VIP_A) and not active.has_address(VIP_A)
    assert active.pids("httpd") == [] and active.pids("RProxyWD") == []   # stopped, not left running
    assert cluster.failcount("mdlp-rhcs", active.name, via=passive) >= 1
    # a relocation, not a fence
    assert {n.name: len(cluster.fence_history(n.name, via=passive)) for n in cluster.nodes} == fences


def test_crashed_node_is_fenced_and_the_survivor_takes_over(pairs, pair_a):
    cluster, active, passive = pair_a
    bmc = pairs.bmcs[active.name]
    before = len(bmc.log())
    fenced_before = [e for e in cluster.fence_history(active.name, via=passive) if e["status"] == "success"]
    started = time.monotonic()
    active.crash_stack()     # corosync and Pacemaker die; httpd and the IP are still up there
    wait_until("%s fenced" % active.name, lambda: "set power 0" in bmc.log()[before:], 30, 0.1)
    record("pairA: %s's stack killed -> fenced (power off)" % active.name, time.monotonic() - started)
    cluster.wait_group(passive.name, via=passive, timeout=60)
    record("pairA: ... group running on the survivor %s" % passive.name, time.monotonic() - started)
    assert wait_until("the floating IP answering from %s" % passive.name,
                      lambda: pairs.lab.fetch(VIP_A) == "served by %s" % passive.name, 10)
    assert bmc.log()[before:before + 2] == ["set power 0", "set power 1"]
    history = [e for e in cluster.fence_history(active.name, via=passive) if e["status"] == "success"]
    assert len(history) == len(fenced_before) + 1 and history[0]["delegate"] == passive.name, history
    # the fenced node boots, rejoins, and stays passive (stickiness)
    cluster.wait_online([active.name, passive.name], via=passive, timeout=60)
    record("pairA: ... fenced node %s back online" % active.name, time.monotonic() - started)
    cluster.idle(via=passive)
    assert cluster.group_on(passive) == passive.name
    assert active.pids("httpd") == [] and not active.has_address(VIP_A)


def test_unanswering_bmc_fencing_fails_and_the_service_is_not_started_twice(pairs, pair_a):
    cluster, active, passive = pair_a
    bmc = pairs.bmcs[active.name]
    before = len(bmc.log())
    bmc.freeze()
    started = time.monotonic()
    active.crash_stack()
    wait_until("a failed fencing of %s" % active.name,
               lambda: any(e["status"] == "failed" for e in cluster.fence_history(active.name, via=passive)),
               60, 0.3)
    record("pairA: %s lost, its BMC dead -> fencing reported failed" % active.name, time.monotonic() - started)
    # while the lost node cannot be fenced, the survivor must not take the service: the old node
    # may still hold the IP (it does here) -- starting it again would be the split brain fencing prevents
    end = time.monotonic() + 8
    while time.monotonic() < end:
        assert not passive.has_address(VIP_A)
        assert passive.pids("PolicyEngine") == []
        time.sleep(0.25)
    assert active.has_address(VIP_A)
    assert cluster.group_on(passive) != passive.name   # still "Started" on the lost, UNCLEAN node
    assert not any(e["status"] == "success" for e in cluster.fence_history(active.name, via=passive)[:1])
    assert "set power 0" not in bmc.log()[before:]
    # the BMC answers again: the next attempt fences the node and the service moves
    bmc.thaw()
    cluster.wait_group(passive.name, via=passive, timeout=90)
    record("pairA: ... BMC back -> fenced and failed over", time.monotonic() - started)
    assert "set power 0" in bmc.log()[before:]


def test_failure_in_one_pair_leaves_the_other_untouched(pairs, pair_a):
    """pairB (node3/node4, its own floating IP) goes on serving while pairA fails over -- and
    went on serving through every scenario of this module."""
    cluster, active, passive = pair_a
    b = pairs.cluster("pairB")
    active.path("/run/mdlp-test/broken-httpd").write_text("")
    active.kill("httpd")
    cluster.wait_group(passive.name, via=passive, timeout=60)
    time.sleep(1)
    lines = pairs.watcher.stop()
    served = set(lines)
    assert lines and served == {"served by %s" % pairs.b_home}, sorted(served)
    b_node = b.node(pairs.b_home)
    assert b.group_on(b_node) == pairs.b_home
    assert b.online(b_node) == {"node3", "node4"}
    for node in b.nodes:
        assert b.failcount("mdlp-rhcs", node.name, via=b_node) == 0
        assert b.fence_history(node.name, via=b_node) == []
        assert pairs.bmcs[node.name].log() == []
