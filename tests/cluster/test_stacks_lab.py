"""The seam against a real Pacemaker pair (clusterlab.one_pair: node1 and node2 behind ipmi_sim BMCs,
the group on node1): what stacks.detect() finds, status, fence devices, a move and its clearing, a
fencing through the cluster and its history -- the calls the drill and the doctor build on.

With MDLP_RECORD=DIR the tools' raw answers are kept there (how tests/data/pacemaker-* were made)."""

import json
import os
import time

import pytest
from helpers import BIN_DIR

from clusterlab import record, wait_until

pytestmark = pytest.mark.cluster
PYTHON = BIN_DIR / "python"

ASK = """
import json, sys
from mdlp_agents.cluster import stacks
stack = stacks.detect(stacks.LOCAL, 20)
call, args = sys.argv[1], sys.argv[2:]
result = {"stack": stack.name}
if call == "status":
    result["status"] = stack.status()
elif call == "fence_devices":
    result["devices"] = stack.fence_devices(args[0])
elif call == "fence_history":
    result["events"] = stack.fence_history(args[0])
elif call == "move":
    result["said"] = stack.move(args[0])
elif call == "clear_move":
    stack.clear_move()
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def pair(one_pair):
    return one_pair


def ask(node, call, *args):
    proc = node.run(str(PYTHON), "-c", ASK, call, *args, timeout=60)
    assert proc.returncode == 0, proc
    return json.loads(proc.stdout)


def keep(node, name, *argv):
    """With MDLP_RECORD: the raw answer of ARGV on NODE, as a recording for the in-process tests."""
    directory = os.environ.get("MDLP_RECORD")
    if directory:
        proc = node.run(*argv, timeout=30)
        with open(os.path.join(directory, name), "w") as handle:
            handle.write(proc.stdout if proc.stdout.strip() else proc.stderr)


def test_detect_and_status_from_either_node(pair):
    for name in ("node1", "node2"):
        found = ask(pair.nodes[name], "status")
        assert found["stack"] == "pacemaker"
        status = found["status"]
        assert (status["service"], status["state"], status["active_node"]) == ("mdlp", "started", "node1"), status
        assert status["floating_ip"] and status["quorate"] is True
    keep(pair.nodes["node1"], "pacemaker-crm_mon.xml", "crm_mon", "--output-as=xml")


def test_fence_devices_as_the_fencer_passes_them(pair):
    devices = ask(pair.nodes["node1"], "fence_devices", "node2")["devices"]
    assert [d[0] for d in devices] == ["fence-node2"], devices
    name, agent, params = devices[0]
    assert agent == "fence_mdlp" and params["nodename"] == "node2" and "port" in params
    assert not [k for k in params if k.startswith("pcmk_")]
    keep(pair.nodes["node1"], "pacemaker-resources.xml", "cibadmin", "--query", "--local", "--scope", "resources")


def test_a_move_and_its_clearing(pair):
    cluster = pair.cluster()
    node1 = pair.nodes["node1"]
    started = time.monotonic()
    said = ask(node1, "move", "node2")["said"]
    assert said
    cluster.wait_group("node2", timeout=40)
    record("stacks: move to node2 (planned)", time.monotonic() - started)
    ask(node1, "clear_move")
    constraints = node1.run("cibadmin", "--query", "--scope", "constraints", timeout=20).stdout
    assert "cli-prefer" not in constraints and "cli-ban" not in constraints, constraints
    ask(node1, "move", "node1")
    cluster.wait_group("node1", timeout=40)
    ask(node1, "clear_move")
    assert not cluster.fence_history("node1") and not cluster.fence_history("node2")


def test_a_fencing_through_the_cluster_and_its_history(pair):
    cluster = pair.cluster()
    node1, node2 = pair.nodes["node1"], pair.nodes["node2"]
    before = time.time()
    proc = node1.run("stonith_admin", "--reboot", "node2", "--timeout", "60", timeout=90)
    assert proc.returncode == 0, proc
    events = wait_until("node2's fencing in the history",
                        lambda: [e for e in ask(node1, "fence_history", "node2")["events"]
                                 if e["state"] == "success"], 30)
    event = events[0]
    assert (event["target"], event["action"], event["by"]) == ("node2", "reboot", "node1"), event
    assert event["when"] and before - 5 <= event["when"] <= time.time() + 5, (event, before)
    keep(node1, "pacemaker-fence-history.xml", "stonith_admin", "--history", "node2", "--verbose",
         "--output-as=xml")
    # the lab's BMC boots the node again: it rejoins, the group stays where it is
    cluster.wait_online(timeout=90)
    assert cluster.group_on() == "node1" and node2.init_pid()
