"""mdlp-cluster against a running Pacemaker: its renders of a single-node variant are loaded into
the cluster (CIB with cibadmin, the crm text with crmsh), `crm_verify -L` is clean, the group runs,
and `mdlp-cluster status` reads the real crm_mon XML."""

import json

import pytest
from helpers import BIN_DIR

from clusterlab import SINGLE_VIP, wait_until

pytestmark = pytest.mark.cluster
TOOL = BIN_DIR / "mdlp-cluster"

# the lab's node1 as an answer file: one node, nobody else to fence it (noop, loudly logged)
ANSWERS = """[site]
fence_backend = "noop"
service_config = "%(config)s"
monitor_interval = 2
ip_monitor_interval = 2

[[cluster]]
name = "mdlp-single"
floating_ip = "%(vip)s"
prefix = 24
interface = "eth0"
nodes = [{ name = "node1", address = "%(address)s" }]
"""


@pytest.fixture(scope="module")
def answers(single_node, tmp_path_factory):
    path = tmp_path_factory.mktemp("answers") / "single.toml"
    path.write_text(ANSWERS % {"config": single_node.lab.agent_config, "vip": SINGLE_VIP,
                               "address": single_node.nodes["node1"].address})
    return path


def _verify_clean(cluster, node):
    # what the module's fixture ran before is gone from the configuration: once it is stopped and
    # its history cleaned up, the live CIB is this render alone
    cluster.idle()
    cluster.cleanup()
    cluster.idle()
    verify = node.run("crm_verify", "-L", "-V")
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, ""), verify


def _group_runs(cluster, node, lab):
    cluster.cleanup()
    wait_until("the rendered group started", lambda: cluster.group_on() == "node1", 60, 0.3)
    resources = {r.get("id"): r.get("resource_agent") for r in cluster.mon().iter("resource")}
    assert resources == {"fence-node1": "stonith:fence_mdlp", "mdlp-ip": "ocf:heartbeat:IPaddr2",
                         "mdlp-rhcs": "ocf:websense:mdlp"}, resources
    assert wait_until("the floating IP answering", lambda: lab.fetch(SINGLE_VIP) == "served by node1", 20)


def test_rendered_cib_loads_verifies_and_runs(single_node, answers, tmp_path):
    cluster, node = single_node.cluster(), single_node.nodes["node1"]
    cib = tmp_path / "cib.xml"
    render = node.run(TOOL, "render", "pacemaker", "--format", "cib", answers, "-o", cib)
    assert render.returncode == 0, render
    load = node.run("cibadmin", "--replace", "--scope", "configuration", "--xml-file", cib)
    assert load.returncode == 0, load
    _verify_clean(cluster, node)
    _group_runs(cluster, node, single_node.lab)


def test_rendered_crm_text_loads_with_crmsh(single_node, answers, tmp_path):
    cluster, node = single_node.cluster(), single_node.nodes["node1"]
    text = tmp_path / "crm.txt"
    assert node.run(TOOL, "render", "pacemaker", "--format", "crm", answers, "-o", text).returncode == 0
    load = node.run("crm", "-F", "configure", "load", "replace", text, timeout=120)
    assert load.returncode == 0, load
    _verify_clean(cluster, node)
    _group_runs(cluster, node, single_node.lab)
    # crmsh kept what we wrote: the group's migration-threshold and the stickiness
    shown = node.run("crm", "configure", "show", "mdlp").stdout
    assert "migration-threshold=1" in shown


def test_status_reads_the_running_cluster(single_node):
    node = single_node.nodes["node1"]
    proc = node.run(TOOL, "status", "--json")
    assert proc.returncode == 0, proc
    status = json.loads(proc.stdout)
    assert (status["stack"], status["state"], status["active_node"], status["floating_ip"]) == \
        ("pacemaker", "started", "node1", SINGLE_VIP)
    assert status["quorate"] is True and status["nodes"] == [
        {"name": "node1", "online": True, "unclean": False}]
    line = node.run(TOOL, "status")
    assert line.stdout.startswith("mdlp: started on node1 | floating IP %s" % SINGLE_VIP), line
    # the same from a recording of crm_mon's XML
    recorded = node.run("crm_mon", "--output-as=xml").stdout
    stopped = node.run("crm_resource", "--resource", "mdlp", "--set-parameter", "target-role", "--meta",
                       "--parameter-value", "Stopped")
    assert stopped.returncode == 0, stopped
    wait_until("the group stopped", lambda: node.run(TOOL, "status").returncode == 3, 30, 0.3)
    assert node.run(TOOL, "status").stdout.startswith("mdlp: disabled")   # target-role=Stopped
    node.run("crm_resource", "--resource", "mdlp", "--delete-parameter", "target-role", "--meta")
    wait_until("the group started again", lambda: node.run(TOOL, "status").returncode == 0, 30, 0.3)
    path = single_node.lab.root / "crm_mon.xml"
    path.write_text(recorded)
    from_file = node.run(TOOL, "status", "--from", path, "--json")
    assert json.loads(from_file.stdout)["active_node"] == "node1"
