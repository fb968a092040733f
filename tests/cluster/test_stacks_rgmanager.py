"""stacks/rgmanager.py and stacks/cluster_conf.py in-process: clustat -x as rgmanager 3 prints it
(tests/data/clustat-*.xml), clusvcadm's answers shaped with pytest-subprocess, cluster.conf read one
way (the golden render), trusted only when root's alone.  rgmanager itself does not run on Debian:
the stand-ins that record its tools for whole runs are test_maintenance_rgmanager_cli.py's."""

import os

import pytest
from helpers import REPO

from mdlp_agents.cluster.stacks import LOCAL, NotAnswering, Refused, cluster_conf, rgmanager
from mdlp_agents.cluster.stacks.rgmanager import Rgmanager

pytestmark = pytest.mark.inprocess
DATA = REPO / "tests" / "data"
GOLDEN = REPO / "tests" / "golden" / "2node-rhcs.conf"


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "cluster.conf"
    path.write_text(GOLDEN.read_text())
    path.chmod(0o644)
    return path


@pytest.fixture
def stack(fp, tmp_path, conf, monkeypatch):
    (tmp_path / "clustat").write_text("")
    (tmp_path / "clustat").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    return Rgmanager(LOCAL, 5, conf_path=str(conf))


def test_the_service_and_its_floating_ip_come_from_cluster_conf(fp, stack):
    fp.register(["clustat", "-x"], stdout=(DATA / "clustat-started.xml").read_text())
    status = stack.status()
    assert (status["stack"], status["service"], status["state"], status["active_node"], status["floating_ip"]) == (
        "rgmanager", "mdlp", "started", "node2", "10.0.32.201")
    assert status["quorate"] is True and status["cluster"] == "mobile-cs"


@pytest.mark.parametrize("stdout,stderr,returncode,message", [
    ("", "Could not connect to CMAN: No such file or directory\n", 1,
     "clustat -x: Could not connect to CMAN: No such file or directory"),
    ("<clustat><nodes>", "", 0, "clustat -x: not XML (no element found: line 1, column 16)"),
    ("<html/>", "", 0, "clustat -x: the root element is <html>, not <clustat>"),
])
def test_clustat_failing_is_not_answering(fp, stack, stdout, stderr, returncode, message):
    fp.register(["clustat", "-x"], stdout=stdout, stderr=stderr, returncode=returncode)
    with pytest.raises(NotAnswering) as caught:
        stack.status()
    assert str(caught.value) == message


def test_maintenance_state_of_a_frozen_service_set_elsewhere(fp, stack, tmp_path, monkeypatch):
    monkeypatch.setenv("MDLP_MAINTENANCE_DIR", str(tmp_path / "run"))
    frozen = (DATA / "clustat-started.xml").read_text().replace('flags="0" flags_str=""',
                                                                'flags="1" flags_str="frozen"')
    fp.register(["clustat", "-x"], stdout=frozen)
    state = stack.maintenance_state()
    assert (state["on"], state["set_by_us"], state["owner"], state["local_node"]) == (True, False, "node2", "node1")
    assert "not from this node" in state["note"]


@pytest.mark.parametrize("flags,restarts", [("\u00b2", "\u00b3"), ("\u0661", "x"), ("-1", "99999999999999999999")])
def test_numbers_in_clustat_are_ascii_digits_or_nothing(fp, stack, flags, restarts):
    """'²' passes str.isdigit() and fails int(): recorded output with it is read, never a crash."""
    text = (DATA / "clustat-started.xml").read_text().replace('flags="0"', 'flags="%s"' % flags).replace(
        'restarts="0"', 'restarts="%s"' % restarts)
    fp.register(["clustat", "-x"], stdout=text)
    status = stack.status()
    assert status["state"] == "started" and status["maintenance"] is None and status["restarts"] is None


def test_move_is_clusvcadm_relocate(fp, stack):
    fp.register(["clustat", "-x"], stdout=(DATA / "clustat-started.xml").read_text(), occurrences=2)
    fp.register(["clusvcadm", "-r", "service:mdlp", "-m", "node1"],
                stdout="Trying to relocate service:mdlp to node1...Success\nservice:mdlp is now running on node1\n")
    assert stack.move("node1") == "service:mdlp is now running on node1"
    fp.register(["clusvcadm", "-r", "service:mdlp", "-m", "node9"],
                stdout="Trying to relocate service:mdlp to node9...Failure\n", returncode=1)
    with pytest.raises(Refused, match=r"^clusvcadm -r service:mdlp: Trying to relocate service:mdlp to node9"):
        stack.move("node9")


def test_fence_history_is_not_kept_by_rgmanager(stack):
    with pytest.raises(Refused, match="rgmanager keeps no fence history"):
        stack.fence_history("node2")


def test_fence_devices_as_fenced_passes_them(stack):
    devices = stack.fence_devices("node2")
    assert [(name, agent) for name, agent, _ in devices] == [("MdlpFencing", "fence_mdlp")]
    assert devices[0][2]["ipaddr"] == "10.0.33.12" and devices[0][2]["nodename"] == "node2"


@pytest.mark.parametrize("owner,mode", [(65534, 0o644), (0, 0o666), (0, 0o620)])
def test_a_cluster_conf_others_could_write_is_not_trusted_to_say_what_root_runs(stack, conf, owner, mode):
    os.chown(conf, owner, 0)
    conf.chmod(mode)
    with pytest.raises(PermissionError, match="not trusted to say what root runs"):
        stack.fence_devices("node2")
    assert cluster_conf.read(str(conf)).tag == "cluster"      # read for display: fine


@pytest.mark.parametrize("text,line,words", [
    ("<cluster>", 1, "malformed XML: no element found"),
    ('<?xml version="1.0"?>\n<!DOCTYPE c [<!ENTITY a "x">]>\n<cluster/>', 2, "a DOCTYPE"),
    ("", 1, "malformed XML: no element found"),
    ("<cluster>" + "<rm>" * 5000 + "</rm>" * 5000 + "</cluster>", 1, "nested more than 64 deep"),
])
def test_cluster_conf_that_is_not_one(text, line, words):
    with pytest.raises(cluster_conf.Malformed) as caught:
        cluster_conf.parse(text)
    assert caught.value.line == line and words in str(caught.value)


def test_the_script_and_service_are_found_by_what_they_run():
    root = cluster_conf.parse(GOLDEN.read_text().replace('name="mdlp" recovery', 'name="websense" recovery'))
    assert cluster_conf.service_name(root) == "websense"
    assert cluster_conf.script_path(root) == "/opt/websense/rproxy/cs/mdlp_rhcs"
    assert cluster_conf.floating_ip(root, "websense") == "10.0.32.201"
    assert cluster_conf.node_names(root) == ["node1", "node2"]
    assert cluster_conf.script_path(None) == "/opt/websense/rproxy/cs/mdlp_rhcs"


def test_atd_is_the_system_s_or_none():
    """This machine's: no atd running (the tests start it where they need it), or root's."""
    problem = rgmanager.atd_problem()
    assert problem in (None, "start atd") or "not root's" in problem


def test_race_is_the_fence_delays_of_each_node(stack, conf):
    """fenced knows no service: what decides a split is each node's device delay (render rhcs: the
    preferred node's)."""
    assert stack.race() == {"stack": "rgmanager", "delays": {"node1": 15, "node2": 0}}
    conf.write_text(GOLDEN.read_text().replace('delay="15"', 'delay="\u00b2"'))
    assert stack.race() == {"stack": "rgmanager", "delays": {"node1": 0, "node2": 0}}
