"""stacks/pacemaker.py and stacks/cib.py in-process, against what Pacemaker's tools print (recorded
from the lab's Pacemaker 2.1.5, or shaped with pytest-subprocess where a real cluster cannot be made
to say it on demand): the health check `maintenance off` runs, the fence devices of a node, the
fence history, moves.  The real clusters: test_*_lab.py."""

import os
import xml.etree.ElementTree as ET

import pytest

from mdlp_agents.cluster.stacks import LOCAL, Refused, cib
from mdlp_agents.cluster.stacks.pacemaker import Pacemaker

pytestmark = pytest.mark.inprocess


CIB = """<resources>
  <primitive id="fence-node1" class="stonith" type="fence_mdlp"><instance_attributes id="a">
    <nvpair id="a1" name="ip" value="10.0.33.11"/><nvpair id="a2" name="password" value="s3cret"/>
    <nvpair id="a3" name="pcmk_host_list" value="node1"/></instance_attributes></primitive>
  <primitive id="fence-map" class="stonith" type="fence_ipmilan"><instance_attributes id="b">
    <nvpair id="b1" name="pcmk_host_map" value="node2:10.0.33.12;node3:10.0.33.13"/></instance_attributes>
  </primitive>
  <primitive id="web" class="ocf" provider="websense" type="mdlp"/>
</resources>"""


def _devices(node, text=CIB):
    return cib.fence_devices(ET.fromstring(text), node)


def test_fence_devices_for_a_node_from_the_cib():
    assert _devices("node1") == [("fence-node1", "fence_mdlp", {
        "ip": "10.0.33.11", "password": "s3cret", "nodename": "node1", "port": "node1"})]
    mapped = _devices("node2")      # the port pcmk_host_map gives, as the fencer
    assert [(d[0], d[2]["port"]) for d in mapped] == [("fence-map", "10.0.33.12")]
    configured = _devices("node1", CIB.replace('<nvpair id="a1"',
                                               '<nvpair id="a0" name="plug" value="3"/><nvpair id="a1"'))
    assert "port" not in configured[0][2] and configured[0][2]["plug"] == "3"


@pytest.mark.parametrize("host_map", ["node1=10.0.33.11;node2=10.0.33.12", "node1:10.0.33.11 node2:10.0.33.12",
                                      "node1=10.0.33.11,node2:10.0.33.12", " node2=10.0.33.12 "])
def test_pcmk_host_map_is_read_as_the_fencer_reads_it(host_map):
    """node=port as well as node:port (Pacemaker takes both): the doctor asked the device for port
    'node2' where the map said 10.0.33.12."""
    text = CIB.replace("node2:10.0.33.12;node3:10.0.33.13", host_map)
    assert [(d[0], d[2]["port"]) for d in _devices("node2", text)] == [("fence-map", "10.0.33.12")]


# -- `maintenance off`'s refusal names the service down and why ------------------------------------
HERE = os.uname().nodename
MON = ('<pacemaker-result><nodes><node name="%s" online="true"/><node name="node2" online="true"/></nodes>'
       '<resources><group id="mdlp"><resource id="mdlp-ip" resource_agent="ocf:heartbeat:IPaddr2"/>'
       '<resource id="mdlp-rhcs" resource_agent="ocf:websense:mdlp"/></group></resources></pacemaker-result>' % HERE)


def _probes(call, rcs):
    """cibadmin --query --scope status: each (node, member) -> (rc, exit-reason) at CALL."""
    states = {}
    for (node, member), (rc, why) in rcs.items():
        states.setdefault(node, []).append(
            '<lrm_resource id="%s"><lrm_rsc_op id="%s_last_0" call-id="%d" rc-code="%s" exit-reason="%s"/>'
            '</lrm_resource>' % (member, member, call, rc, why))
    return "<status>%s</status>" % "".join('<node_state uname="%s"><lrm><lrm_resources>%s</lrm_resources></lrm>'
                                           '</node_state>' % (n, "".join(r)) for n, r in states.items())


def _refused_by(fp, tmp_path, why, config_body=None):
    config = tmp_path / "mdlp_rhcs.conf"
    config.write_text(config_body or "")
    rcs = {(HERE, "mdlp-ip"): ("0", ""), (HERE, "mdlp-rhcs"): ("1", why),
           ("node2", "mdlp-ip"): ("7", ""), ("node2", "mdlp-rhcs"): ("7", "")}
    fp.register(["cibadmin", "--query", "--scope", "status"], stdout=_probes(1, rcs))
    fp.register(["crm_resource", "--refresh", "--resource", "mdlp"])
    fp.register(["cibadmin", "--query", "--scope", "status"], stdout=_probes(2, rcs), occurrences=3)
    fp.register(["cibadmin", "--query", "--scope", "configuration"], stdout=(
        '<configuration><resources><group id="mdlp"><primitive id="mdlp-rhcs" class="ocf" provider="websense" '
        'type="mdlp"><instance_attributes id="a"><nvpair id="a-c" name="config" value="%s"/></instance_attributes>'
        '</primitive></group></resources></configuration>' % config))
    root = ET.fromstring(MON)
    pacemaker = Pacemaker(LOCAL, 5)
    with pytest.raises(Refused) as refused:
        pacemaker.check(root, pacemaker.unit(root))
    return str(refused.value)


def test_off_refused_names_the_service_from_the_probe_s_exit_reason(fp, tmp_path):
    message = _refused_by(fp, tmp_path, "PolicyEngine STOPPED (process: no process named PolicyEngine)")
    assert message == ("maintenance stays ON for mdlp: the service is not healthy: mdlp-rhcs on %s: error "
                       "(PolicyEngine STOPPED (process: no process named PolicyEngine)) -- fix it, or end "
                       "maintenance anyway with --force" % HERE)


def test_off_refused_without_a_reason_asks_mdlp_rhcs_here(fp, tmp_path):
    """A probe that recorded no reason (an older agent): mdlp_rhcs, with the CIB's config, says it."""
    name = "mdlp-gone-%d" % os.getpid()
    message = _refused_by(fp, tmp_path, "", "[agent]\nstate_dir = %s\n[service %s]\nprocess = %s\n"
                          % (tmp_path / "state", name, name))
    assert ("mdlp-rhcs on %s: error (mdlp_rhcs here: %s STOPPED (process: no process named %s))"
            % (HERE, name, name)) in message, message
    assert message.count("\n") == 0


# -- against the lab's recordings (tests/data/pacemaker-*.xml), shaped where a fault cannot be made -----
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def _recorded(name):
    with open(os.path.join(DATA, name)) as handle:
        return handle.read()


@pytest.fixture
def pacemaker(fp, tmp_path, monkeypatch):
    """A Pacemaker stack whose tools are pytest-subprocess answers (crm_mon on PATH for detect())."""
    (tmp_path / "crm_mon").write_text("")
    (tmp_path / "crm_mon").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    return Pacemaker(LOCAL, 5)


def test_status_from_the_recorded_crm_mon(fp, pacemaker):
    fp.register(["crm_mon", "--output-as=xml"], stdout=_recorded("pacemaker-crm_mon.xml"))
    fp.register(["crm_resource", "--resource", "mdlp-ip", "--get-parameter", "ip"], stdout="198.18.10.101\n")
    status = pacemaker.status()
    assert (status["stack"], status["service"], status["state"], status["active_node"], status["floating_ip"]) == (
        "pacemaker", "mdlp", "started", "node1", "198.18.10.101")
    assert [n["name"] for n in status["nodes"] if n["online"]] == ["node1", "node2"]


def test_fence_devices_from_the_recorded_cib(fp, pacemaker):
    fp.register(["cibadmin", "--query", "--local", "--scope", "resources"], stdout=_recorded("pacemaker-resources.xml"))
    devices = pacemaker.fence_devices("node2")
    assert [(d[0], d[1], d[2]["ip"], d[2]["port"]) for d in devices] == [
        ("fence-node2", "fence_mdlp", "198.18.10.202", "node2")]
    assert not [k for k in devices[0][2] if k.startswith("pcmk_")]


def test_fence_history_from_the_recorded_stonith_admin(fp, pacemaker):
    argv = ["stonith_admin", "--history", "node2", "--verbose", "--output-as=xml"]
    fp.register(argv, stdout=_recorded("pacemaker-fence-history.xml"))
    assert pacemaker.fence_history("node2") == [{"target": "node2", "action": "reboot", "state": "success",
                                                 "when": 1796492501, "by": "node1", "reason": ""}]
    failed = _recorded("pacemaker-fence-history.xml").replace(
        'status="success"', 'status="failed" exit-reason="No route to host&#155;[2J&#10;OK"')
    fp.register(argv, stdout=failed)
    event = pacemaker.fence_history("node2")[0]
    assert (event["state"], event["reason"]) == ("failed", "No route to host?[2J OK")
    fp.register(argv, stderr="error: Could not connect to fencer: Transport endpoint is not connected\n",
                returncode=102)
    with pytest.raises(Refused, match="^stonith_admin --history node2: error: Could not connect to fencer"):
        pacemaker.fence_history("node2")


@pytest.mark.parametrize("text,epoch", [("2026-12-05 17:41:41Z", 1796492501), ("2026-12-05 18:41:41 +01:00",
                                                                                 1796492501),
                                        ("2026-12-05T17:41:41Z", 1796492501), ("", None), ("yesterday", None),
                                        ("2026-12-05 17:41:41 +1:00", None)])
def test_pacemaker_times(text, epoch):
    assert cib.pacemaker_time(text) == epoch


def test_move_and_clear(fp, pacemaker):
    fp.register(["crm_mon", "--output-as=xml"], stdout=_recorded("pacemaker-crm_mon.xml"), occurrences=3)
    fp.register(["crm_resource", "--move", "--resource", "mdlp", "--node", "node2"],
                stdout="WARNING: Creating rsc_location constraint 'cli-prefer-mdlp' with a score of INFINITY\n")
    assert "cli-prefer-mdlp" in pacemaker.move("node2")
    fp.register(["crm_resource", "--move", "--resource", "mdlp", "--node", "node9"],
                stderr="crm_resource: Error performing operation: No such object\n", returncode=105)
    with pytest.raises(Refused, match="^crm_resource --move mdlp to node9: crm_resource: Error performing"):
        pacemaker.move("node9")
    fp.register(["crm_resource", "--clear", "--resource", "mdlp"], stdout="Removing constraint: cli-prefer-mdlp\n")
    pacemaker.clear_move()


@pytest.mark.parametrize("stderr,returncode,message", [
    ("Signon to CIB failed: Transport endpoint is not connected\nInit failed, could not perform requested "
     "operations\n", 102, "cibadmin --query: Init failed, could not perform requested operations"),
    ("", 0, "cibadmin --query: not XML (no element found: line 1, column 0)"),
])
def test_cibadmin_failing_is_one_refusal(fp, pacemaker, stderr, returncode, message):
    fp.register(["cibadmin", "--query", "--local", "--scope", "resources"], stderr=stderr, returncode=returncode)
    with pytest.raises(Refused) as caught:
        pacemaker.fence_devices("node2")
    assert str(caught.value) == message


def test_a_doctype_is_refused_before_any_entity_expands(fp, pacemaker):
    laughs = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]>'
              '<resources>&b;</resources>')
    fp.register(["cibadmin", "--query", "--local", "--scope", "resources"], stdout=laughs)
    with pytest.raises(Refused, match="a DOCTYPE"):
        pacemaker.fence_devices("node2")


def test_race_settings_from_the_rendered_configuration(fp, pacemaker):
    """race(): what the doctor's split check reads, from the render's own CIB as cibadmin gives it."""
    rendered = open(os.path.join(DATA, "..", "golden", "2node-cib.xml")).read().split("-->", 1)[1]
    fp.register(["cibadmin", "--query", "--local", "--scope", "configuration"], stdout=rendered)
    assert pacemaker.race() == {"stack": "pacemaker", "priority_fencing_delay": 15, "stonith_timeout": 90,
                                "delays": {"fence-node1": 5, "fence-node2": 0}, "timeouts": {},
                                "priorities": {"mdlp": 10}}


@pytest.mark.parametrize("value,seconds", [("15s", 15), ("15", 15), ("500ms", 0.5), ("2min", 120), ("1h", 3600),
                                           ("15 s", 15), ("", None), ("s", None), ("\u00b2s", None),
                                           ("15x", None), ("1" * 10, None), ("1.5s", 1), ("PT15S", 15),
                                           ("PT1M30S", 90), ("P1D", 86400), ("P", None), ("PT-1S", None)])
def test_pacemaker_durations(value, seconds):
    assert cib.pacemaker_seconds(value) == seconds


def test_race_settings_read_properties_as_pacemaker_does():
    """The first property set that names a property wins (cib-bootstrap-options comes first)."""
    configuration = ET.fromstring(
        '<configuration><crm_config>'
        '<cluster_property_set id="cib-bootstrap-options"><nvpair id="a" name="stonith-timeout" value="120s"/>'
        '</cluster_property_set><cluster_property_set id="later"><nvpair id="b" name="stonith-timeout" value="5s"/>'
        '<nvpair id="c" name="priority-fencing-delay" value="PT20S"/></cluster_property_set></crm_config>'
        '<resources><primitive class="stonith" type="fence_mdlp"/></resources></configuration>')
    race = cib.race_settings(configuration)
    assert (race["stonith_timeout"], race["priority_fencing_delay"], race["delays"]) == (120, 20, {"(no id)": 0})
