"""cluster/live/status.py: who runs the service, decided in-process from clustat -x and crm_mon XML;
crm_mon and clustat failing or printing garbage are shaped with pytest-subprocess (a real stack
cannot be made to print garbage on demand).  The real crm_mon answering: test_cluster_tool_lab.py."""

import pytest
from helpers import REPO

from mdlp_agents.cluster.live.status import StatusError, exit_code, from_file, live

pytestmark = pytest.mark.inprocess

DATA = REPO / "tests" / "data"


def from_crm_mon(text, service=None):
    return from_file(text, None, service)


def from_clustat(text, conf=None, service=None):
    return from_file(text, conf, service)
CRM_MON = """<pacemaker-result api-version="2.2" request="crm_mon --output-as=xml">
  <summary><current_dc present="true" name="node1" with_quorum="%(quorum)s"/></summary>
  <nodes>
    <node name="node1" id="1" online="true" unclean="false" pending="false"/>
    <node name="node2" id="2" online="%(node2_online)s" unclean="%(node2_unclean)s" pending="false"/>
  </nodes>
  <resources>
    <group id="mdlp" number_resources="2" disabled="%(disabled)s">
      <resource id="mdlp-ip" resource_agent="ocf:heartbeat:IPaddr2" role="%(role)s" failed="false">%(where)s</resource>
      <resource id="mdlp-service" resource_agent="ocf:websense:mdlp" role="%(role)s"
                failed="%(failed)s">%(where)s</resource>
    </group>
  </resources>
  <status code="0" message="OK"/>
</pacemaker-result>
"""


def crm_mon(role="Started", on="node2", quorum="true", failed="false", disabled="false", node2_online="true",
            node2_unclean="false"):
    where = '<node name="%s" id="x" cached="true"/>' % on if on else ""
    return CRM_MON % dict(role=role, where=where, quorum=quorum, failed=failed, disabled=disabled,
                          node2_online=node2_online, node2_unclean=node2_unclean)


@pytest.mark.parametrize("name,state,code,owner", [
    ("clustat-started.xml", "started", 0, "node2"),
    ("clustat-failed.xml", "failed", 1, None),
    ("clustat-disabled.xml", "disabled", 3, None),
])
def test_clustat_decisions(name, state, code, owner):
    conf = (REPO / "tests" / "golden" / "2node-rhcs.conf").read_text()
    status = from_clustat((DATA / name).read_text(), conf)
    assert (status["state"], exit_code(status), status["active_node"]) == (state, code, owner)
    assert status["floating_ip"] == "10.0.32.201" and status["stack"] == "rgmanager"


def test_clustat_owner_gone_is_recovering_not_started():
    text = (DATA / "clustat-started.xml").read_text().replace('name="node2" state="1"', 'name="node2" state="0"')
    status = from_clustat(text)
    assert status["state"] == "recovering" and exit_code(status) == 1


@pytest.mark.parametrize("kwargs,state,code", [
    ({}, "started", 0),
    ({"failed": "true"}, "failed", 1),
    ({"role": "Stopped", "on": None}, "stopped", 3),
    ({"role": "Stopped", "on": None, "disabled": "true"}, "disabled", 3),
    ({"role": "Starting"}, "recovering", 1),
    ({"node2_online": "false", "node2_unclean": "true"}, "recovering", 1),   # a lost node is not "started"
])
def test_crm_mon_decisions(kwargs, state, code):
    status = from_crm_mon(crm_mon(**kwargs))
    assert (status["state"], exit_code(status)) == (state, code)
    assert status["ip_resource"] == "mdlp-ip" and status["quorate"] is True


def test_crm_mon_without_our_group_is_not_configured():
    text = crm_mon().replace('id="mdlp"', 'id="web"').replace("ocf:websense:mdlp", "ocf:heartbeat:apache")
    status = from_crm_mon(text)
    assert status["state"] == "not configured" and exit_code(status) == 3


# -- live: crm_mon / clustat as pytest-subprocess shapes them --------------------------------------
@pytest.fixture
def stack(tmp_path, monkeypatch):
    """PATH with placeholders named crm_mon / clustat (never run: fp answers) -- which ones exist."""
    def install(*names):
        for name in names:
            (tmp_path / name).write_text("")
            (tmp_path / name).chmod(0o755)
        monkeypatch.setenv("PATH", str(tmp_path))
    return install


def test_crm_mon_answers_and_crm_resource_names_the_ip(fp, stack):
    stack("crm_mon")
    fp.register(["crm_mon", "--output-as=xml"], stdout=crm_mon())
    fp.register(["crm_resource", "--resource", "mdlp-ip", "--get-parameter", "ip"], stdout="10.0.32.201\n")
    status = live(5)
    assert (status["state"], status["active_node"], status["floating_ip"]) == ("started", "node2", "10.0.32.201")


CRM_MON_ARGV, CLUSTAT_ARGV = ["crm_mon", "--output-as=xml"], ["clustat", "-x"]
FAILURES = [
    (CRM_MON_ARGV, "", "crm_mon: Error: cluster is not available on this node\n", 102,
     "crm_mon: crm_mon: Error: cluster is not available on this node"),
    (CRM_MON_ARGV, "", "", 1, "crm_mon: no output"),
    (CRM_MON_ARGV, "<pacemaker-result><nodes>", "", 0,
     "crm_mon --output-as=xml: not XML (no element found: line 1, column 25)"),
    (CRM_MON_ARGV, "<html>proxy error</html>", "", 0, "crm_mon: the root element is <html>, not <pacemaker-result>"),
    (CRM_MON_ARGV, '<pacemaker-result><status code="102" message="Not connected"><errors><error>crm_mon: '
     'Connection to cluster failed: Transport endpoint is not connected</error></errors></status></pacemaker-result>',
     "", 102, "crm_mon: Not connected (crm_mon: Connection to cluster failed: Transport endpoint is not connected)"),
    (CRM_MON_ARGV, "\x00\xff garbage", "", 0, "crm_mon: no output"),
    (CLUSTAT_ARGV, "", "Could not connect to CMAN: No such file or directory\n", 1,
     "clustat -x: Could not connect to CMAN: No such file or directory"),
    (CLUSTAT_ARGV, "", "", 0, "clustat -x: no output"),
    (CLUSTAT_ARGV, "<clustat><nodes>", "", 0, "clustat -x: not XML (no element found: line 1, column 16)"),
]


@pytest.mark.parametrize("argv,stdout,stderr,returncode,message", FAILURES)
def test_failing_or_garbage_is_unknown_in_one_line(fp, stack, argv, stdout, stderr, returncode, message):
    stack(argv[0])
    fp.register(argv, stdout=stdout, stderr=stderr, returncode=returncode)
    with pytest.raises(StatusError) as caught:
        live(5)
    assert str(caught.value) == message and caught.value.exit_code == 4


def test_when_both_are_installed_the_one_that_answers_wins(fp, stack, tmp_path):
    stack("crm_mon", "clustat")
    fp.register(["crm_mon", "--output-as=xml"], stderr="crm_mon: Error: cluster is not available\n", returncode=102)
    fp.register(["clustat", "-x"], stdout=(DATA / "clustat-started.xml").read_text())
    status = live(5, str(tmp_path / "no-cluster.conf"))
    assert (status["stack"], status["state"], status["floating_ip"]) == ("rgmanager", "started", None)


def test_when_both_are_installed_and_crm_mon_cannot_run_rgmanager_answers(fp, stack, tmp_path):
    stack("crm_mon", "clustat")

    def refuse(process):
        raise PermissionError(13, "Permission denied")
    fp.register(["crm_mon", "--output-as=xml"], callback=refuse)
    fp.register(["clustat", "-x"], stdout=(DATA / "clustat-started.xml").read_text())
    status = live(5, str(tmp_path / "no-cluster.conf"))
    assert (status["stack"], status["state"]) == ("rgmanager", "started")


def test_no_stack_at_all(stack):
    stack()
    with pytest.raises(StatusError, match="^no cluster manager here: neither crm_mon"):
        live(5)


def test_a_program_that_cannot_start(fp, stack):
    stack("crm_mon")

    def refuse(process):
        raise PermissionError(13, "Permission denied")
    fp.register(["crm_mon", "--output-as=xml"], callback=refuse)
    with pytest.raises(StatusError) as caught:
        live(5)
    assert str(caught.value) == "cannot run crm_mon: Permission denied"


# -- the service found by what it runs, whatever it is called ------------------------------------
LONE = """<pacemaker-result api-version="2.2" request="crm_mon --output-as=xml">
  <summary><current_dc present="true" name="node1" with_quorum="true"/></summary>
  <nodes><node name="node1" id="1" online="true"/><node name="node2" id="2" online="true"/></nodes>
  <resources>
    <resource id="web-vip" resource_agent="ocf:heartbeat:IPaddr2" role="Started"><node name="node1"/></resource>
    <resource id="websense-agent" resource_agent="ocf:websense:mdlp" role="%(role)s" target_role="%(target)s"
              failed="false">%(where)s</resource>
  </resources>
</pacemaker-result>
"""


def lone(role="Started", target="Started", where='<node name="node2"/>'):
    return LONE % dict(role=role, target=target, where=where)


def test_a_lone_primitive_running_our_agent_is_the_service():
    status = from_crm_mon(lone())
    assert (status["service"], status["state"], status["active_node"]) == ("websense-agent", "started", "node2")
    status = from_crm_mon(lone(role="Stopped", target="Stopped", where=""))
    assert (status["state"], exit_code(status)) == ("disabled", 3)


def test_a_group_of_any_name_holding_our_agent_is_the_service():
    text = crm_mon().replace('<group id="mdlp"', '<group id="frontend"')
    status = from_crm_mon(text)
    assert (status["service"], status["state"]) == ("frontend", "started")


def test_a_name_given_wins_and_an_unknown_one_is_not_configured():
    assert from_crm_mon(lone(), service="web-vip")["service"] == "web-vip"
    status = from_crm_mon(lone(), service="nothing-here")
    assert (status["service"], status["state"]) == ("nothing-here", "not configured")


def test_rgmanager_s_service_is_the_one_holding_the_mdlp_rhcs_script():
    conf = (REPO / "tests" / "golden" / "2node-rhcs.conf").read_text()
    conf = conf.replace('name="mdlp" recovery', 'name="websense" recovery')
    text = (DATA / "clustat-started.xml").read_text().replace("service:mdlp", "service:websense")
    status = from_clustat(text, conf)
    assert (status["service"], status["state"], status["active_node"], status["floating_ip"]) == (
        "websense", "started", "node2", "10.0.32.201")
    # without cluster.conf the name mdlp is assumed; a name given wins
    assert from_clustat(text)["state"] == "not configured"
    assert from_clustat(text, service="websense")["state"] == "started"
