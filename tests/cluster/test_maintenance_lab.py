"""`mdlp-cluster maintenance` on a real Pacemaker pair (clusterlab.one_pair: node1 and node2,
fenced through ipmi_sim, the group on node1 with migration-threshold=1 and monitors every 2 s).

The guide's "Deploy the settings" restarts the services; in maintenance that costs no
relocation, no fencing and no recorded failure, and ending it is refused while a service is
still down.  `--for` ends by itself through a rule in the CIB, with no process of ours alive.
"""

import json
import signal
import time

import pytest
from helpers import BIN_DIR

from clusterlab import record, wait_until

pytestmark = pytest.mark.cluster
TOOL = BIN_DIR / "mdlp-cluster"
AGENT = BIN_DIR / "mdlp_rhcs"
MONITOR_INTERVAL = 2.0


def _members(cluster, via=None):
    """{resource id: (role, managed, failed)} of the group's members, from crm_mon."""
    root = cluster.mon(via)
    return {r.get("id"): (r.get("role"), r.get("managed"), r.get("failed"))
            for r in root.iter("resource") if r.get("id") in ("mdlp-ip", "mdlp-rhcs")}


def _failures(cluster):
    return [dict(f.attrib) for f in cluster.mon().iter("failure")]


def _no_fencing(cluster):
    return not cluster.fence_history("node1") and not cluster.fence_history("node2")


@pytest.fixture(scope="module")
def pair(one_pair):
    return one_pair


def test_on_is_seen_by_the_whole_cluster(pair):
    cluster = pair.cluster()
    node1, node2 = pair.nodes["node1"], pair.nodes["node2"]
    on = node1.run(TOOL, "maintenance", "on", "--reason", "deploy the settings (guide step 4)")
    assert on.returncode == 0, on
    assert on.stdout.startswith("maintenance ON for group mdlp: Pacemaker does not act on its health"), on.stdout
    assert "by root@node1" in on.stdout and "deploy the settings (guide step 4)" in on.stdout
    assert {rid: m[1] for rid, m in _members(cluster).items()} == {"mdlp-ip": "false", "mdlp-rhcs": "false"}
    # the other node's status and its health agent say so
    status = node2.run(TOOL, "status", "--json")
    maintenance = json.loads(status.stdout)["maintenance"]
    assert maintenance["on"] and maintenance["info"]["reason"] == "deploy the settings (guide step 4)", status
    line = node2.run(TOOL, "status").stdout
    assert "| MAINTENANCE: unmanaged, by root@node1" in line, line
    agent = wait_until("node2's CIB on disk shows the maintenance",
                       lambda: (lambda p: p if "MAINTENANCE of mdlp" in p.stdout else None)(
                           node2.run(AGENT, "status", "--config", pair.lab.agent_config)), 10)
    assert "Pacemaker does not act on its health, by root@node1" in agent.stdout
    off = node2.run(TOOL, "maintenance", "off")       # healthy: the check passes from either node
    assert off.returncode == 0, off
    cluster.idle()
    assert cluster.group_on() == "node1" and _no_fencing(cluster)


def test_a_deployment_in_maintenance_costs_no_failover_and_off_checks_first(pair):
    cluster = pair.cluster()
    node1, node2 = pair.nodes["node1"], pair.nodes["node2"]
    assert node1.run(TOOL, "maintenance", "on", "--reason", "deploy the settings").returncode == 0
    # the deployment: PolicyEngine goes down, and stays down for three monitor intervals
    assert node1.kill("PolicyEngine", signal.SIGKILL)
    time.sleep(3 * MONITOR_INTERVAL + 0.5)
    members = _members(cluster)
    assert members == {"mdlp-ip": ("Started", "false", "false"), "mdlp-rhcs": ("Started", "false", "false")}, members
    assert cluster.where("mdlp-ip") == {"node1"}
    assert cluster.failcount("mdlp-rhcs", "node1") == 0 and not _failures(cluster)
    assert _no_fencing(cluster)
    health = node1.run(AGENT, "status", "--config", pair.lab.agent_config)
    assert health.returncode != 0 and "PolicyEngine" in health.stdout and "MAINTENANCE of mdlp" in health.stdout

    # ending it now would be the outage: refused, and maintenance stays on
    refused = node1.run(TOOL, "maintenance", "off")
    assert refused.returncode == 1, refused
    assert refused.stderr.count("\n") == 1 and "maintenance stays ON for mdlp" in refused.stderr
    # which service, and why: the probe's exit reason, in the same line
    assert "mdlp-rhcs on node1: error (PolicyEngine " in refused.stderr and "--force" in refused.stderr, refused
    assert {m[1] for m in _members(cluster).values()} == {"false"}

    # the deployment ends: PolicyEngine is back; off checks again, and the cluster takes over
    node1.run(pair.lab.root / "service", "PolicyEngine", check=True)
    started = time.monotonic()
    off = node2.run(TOOL, "maintenance", "off")     # from the other node: the check is the cluster's
    record("maintenance off (health check by Pacemaker's probes)", time.monotonic() - started)
    assert off.returncode == 0, off
    assert off.stdout.startswith("maintenance OFF for mdlp: Pacemaker acts on its health again (health check passed)")
    cluster.idle()
    time.sleep(2 * MONITOR_INTERVAL)
    assert _members(cluster) == {"mdlp-ip": ("Started", "true", "false"), "mdlp-rhcs": ("Started", "true", "false")}
    assert cluster.group_on() == "node1"
    assert cluster.failcount("mdlp-rhcs", "node1") == 0 and not _failures(cluster)
    assert _no_fencing(cluster)
    assert "MAINTENANCE" not in node2.run(TOOL, "status").stdout


def test_the_whole_cluster_and_bad_input(pair):
    cluster = pair.cluster()
    node1 = pair.nodes["node1"]
    on = node1.run(TOOL, "maintenance", "on", "--cluster", "--reason", "kernel update")
    assert on.returncode == 0 and "the whole cluster (maintenance-mode" in on.stdout, on
    assert cluster.mon().find("summary/cluster_options").get("maintenance-mode") == "true"
    status = node1.run(TOOL, "maintenance", "status")
    assert status.stdout.startswith(
        "maintenance: ON for the whole cluster (maintenance-mode) (pacemaker), by root@"), status
    assert node1.run(TOOL, "maintenance", "off").returncode == 0
    wait_until("maintenance-mode off",
               lambda: cluster.mon().find("summary/cluster_options").get("maintenance-mode") == "false", 10)
    again = node1.run(TOOL, "maintenance", "off")
    assert again.returncode == 0 and again.stdout.startswith("maintenance is not on for mdlp: nothing to do"), again
    for argv, words in ((["on", "--resource", "no-such-group"], "no group or resource 'no-such-group' in the CIB"),
                        (["on", "--for", "soon"], "'soon' is not a duration"),
                        (["on", "--reason", "two\x1blines"], "printable text"),
                        (["off", "--expired", "0123456789abcdef"], "not an expiry job's token")):
        bad = node1.run(TOOL, "maintenance", *argv)
        assert bad.returncode == 2 and words in bad.stderr and bad.stderr.count("\n") == 1, (argv, bad)
        assert "Traceback" not in bad.stderr
    cluster.idle()
    assert cluster.group_on() == "node1" and _no_fencing(cluster)


def test_for_ends_by_itself_and_then_failures_are_recovered_as_usual(pair):
    cluster = pair.cluster()
    node1 = pair.nodes["node1"]
    on = node1.run(TOOL, "maintenance", "on", "--for", "5s", "--reason", "quick restart")
    set_at = time.monotonic()
    assert on.returncode == 0 and "(in 5 s)" in on.stdout, on
    assert {m[1] for m in _members(cluster).values()} == {"false"}
    wait_until("the group managed again", lambda: {m[1] for m in _members(cluster).values()} == {"true"}, 30, 0.3)
    ended = record("maintenance --for 5s -> managed again", time.monotonic() - set_at)
    assert 4 <= ended <= 12, ended
    status = node1.run(TOOL, "maintenance", "status").stdout
    assert status.startswith("maintenance: off for mdlp (pacemaker)") and "last: by root@node1" in status, status
    assert "(ended): quick restart" in status
    # the cluster watches again: a service killed now is recovered the usual way (relocation)
    assert node1.kill("PolicyEngine", signal.SIGKILL)
    moved = time.monotonic()
    cluster.wait_group("node2", timeout=40)
    record("after expiry: PolicyEngine killed -> group relocated to node2", time.monotonic() - moved)
    assert cluster.failcount("mdlp-rhcs", "node1") >= 1
