"""cluster/conf_check.py: the guide's cluster.conf rules, in-process, each problem with its line
(the `mdlp-cluster validate` contract, this node's files included: cluster/test_cluster_tool_cli.py)."""

import pytest
from helpers import REPO

from mdlp_agents.cluster.site import conf_check
from mdlp_agents.cluster.site.conf_check import check

pytestmark = pytest.mark.inprocess

# the guide's 2-node file, its script pointing at an executable every machine has
GOOD = (REPO / "tests" / "golden" / "2node-rhcs.conf").read_text().replace("/opt/websense/rproxy/cs/mdlp_rhcs",
                                                                             "/bin/sh")


@pytest.fixture(autouse=True)
def installed_agents(monkeypatch):
    monkeypatch.setattr(conf_check, "agent_installed", lambda agent: agent in ("fence_mdlp", "fence_manual"))


def test_the_guide_s_file_is_clean():
    assert check(GOOD) == [] and check(GOOD.encode()) == []


RULES = [
    ('config_version="1"', 'config_version="x"',
     [(3, "<cluster> has no numeric config_version (ccs_tool/cman refuse to load it)")]),
    (' name="mobile-cs"', "", [(3, "<cluster> has no name")]),
    ('agent="fence_mdlp"', 'agent="fence_manual"',
     [(23, "fence device 'MdlpFencing' uses fence_manual: a node is never really fenced and recovery waits for "
           "fence_ack_manual; use fence_mdlp")]),
    ('agent="fence_mdlp"', 'agent="fence_other"',
     [(23, "fence device 'MdlpFencing': agent fence_other is not installed on this node")]),
    ('<device name="MdlpFencing" ipaddr="10.0.33.12" />', '<device name="Other" />',
     [(16, "node 'node2' uses fence device 'Other', which <fencedevices> does not define")]),
    ('name="node2" nodeid="2"', 'name="node1" nodeid="1"',
     [(13, "node name 'node1' is used twice (first on line 6)"), (13, "nodeid 1 is used twice (first on line 6)"),
      (29, "failover domain 'mdlp' names node 'node2', which is not a cluster node")]),
    (' two_node="1"', "",
     [(21, 'two nodes without <cman two_node="1" expected_votes="1">: the survivor of a failure loses quorum and '
           'stops the service')]),
    ('expected_votes="1" ', 'expected_votes="2" ', [(21, 'two_node="1" needs expected_votes="1"')]),
    ('recovery="relocate"', 'recovery="restart"',
     [(38, 'service \'mdlp\' has recovery="restart"; the guide uses "relocate" (a failure moves the service to the '
           'other node)')]),
    ('autostart="1"', 'autostart="0"',
     [(38, "service 'mdlp' has autostart=\"0\": it does not start with the cluster")]),
    ('domain="mdlp" ', 'domain="other" ', [(38, "service 'mdlp' uses failover domain 'other', which is not defined")]),
    ('restricted="1"', 'restricted="0"',
     [(27, "failover domain 'mdlp' is not restricted=\"1\": the service may run outside it")]),
    ('<ip ref="10.0.32.201" />', '<ip ref="10.9.9.9" />',
     [(39, "service 'mdlp' refers to IP '10.9.9.9', which <resources> does not define")]),
    ('<script ref="mdlp_rhcs" />', '<script ref="other" />',
     [(40, "service 'mdlp' refers to script 'other', which <resources> does not define")]),
    ('file="/bin/sh"', 'file="/etc/passwd"',
     [(34, "script 'mdlp_rhcs': /etc/passwd is not an executable file on this node")]),
    ("</rm>", "</rmm>", [(42, "malformed XML: mismatched tag")]),
    ("<cluster ", "<clusterx ", [(43, "malformed XML: mismatched tag")]),
]


@pytest.mark.parametrize("old,new,expected", RULES, ids=[r[1] or r[0] for r in RULES])
def test_each_rule_names_its_line(old, new, expected):
    assert old in GOOD
    assert check(GOOD.replace(old, new, 1)) == expected


def test_not_a_cluster_and_not_xml():
    assert check("<other/>") == [(1, "the root element is <other>, not <cluster> (or a CIB)")]
    assert check("") == [(1, "malformed XML: no element found")]
    assert check(b"\xff\xfe<")[0][1].startswith("malformed XML")


# -- a CIB (render pacemaker -f cib, cibadmin --query): the settings of a split ---------------------
CIB = (REPO / "tests" / "golden" / "2node-cib.xml").read_text()


def test_the_rendered_cib_is_clean():
    assert check(CIB) == []


LATE = "and it may need 50 s (Pacemaker before 2.1.6 spends the delays from the timeout)"


@pytest.mark.parametrize("old,new,expected", [
    ('name="priority-fencing-delay" value="15s"', 'name="priority-fencing-delay" value="60s"',
     [(8, "priority-fencing-delay 60 s: fencing delays of 60 s leave the fence agent 30 s of stonith-timeout 90 s, "
          + LATE)]),
    ('name="pcmk_delay_base" value="5s"', 'name="pcmk_delay_base" value="61s"',
     [(16, "fence-node1: its delay (pcmk_delay_base/max, delay) 61 s + priority-fencing-delay 15 s: fencing delays "
           "of 76 s leave the fence agent 14 s of stonith-timeout 90 s, " + LATE)]),
    ('name="pcmk_delay_base" value="5s"', 'name="pcmk_delay_base" value="8s"',
     [(16, "fence-node1: its delay (pcmk_delay_base/max, delay) 8 s is more than half of priority-fencing-delay "
           "15 s: the node running the service may lose a split")]),
    # neither alone, but Pacemaker waits both, one after the other
    ('name="priority-fencing-delay" value="15s"', 'name="priority-fencing-delay" value="36s"',
     [(16, "fence-node1: its delay (pcmk_delay_base/max, delay) 5 s + priority-fencing-delay 36 s: fencing delays "
           "of 41 s leave the fence agent 49 s of stonith-timeout 90 s, " + LATE)]),
    # a device's own timeout is the one its fencing has
    ('id="fence-node1-instance-cipher" name="cipher" value="3" />',
     'id="fence-node1-instance-cipher" name="cipher" value="3" />'
     '<nvpair id="y" name="pcmk_reboot_timeout" value="60s" />',
     [(16, "fence-node1: its delay (pcmk_delay_base/max, delay) 5 s + priority-fencing-delay 15 s: fencing delays "
           "of 20 s leave the fence agent 40 s of its pcmk_reboot_timeout 60 s, " + LATE)]),
    # Pacemaker 3's name for stonith-timeout, and ISO 8601 durations
    ('name="stonith-timeout" value="90s"', 'name="fencing-timeout" value="PT1M"',
     [(8, "priority-fencing-delay 15 s: fencing delays of 15 s leave the fence agent 45 s of stonith-timeout 60 s, "
          + LATE)]),
    # the agent's own delay (fence-agents' option) waits as well as the fencer's
    ('id="fence-node1-instance-cipher" name="cipher" value="3" />',
     'id="fence-node1-instance-cipher" name="cipher" value="3" /><nvpair id="x" name="delay" value="61" />',
     [(16, "fence-node1: its delay (pcmk_delay_base/max, delay) 61 s + priority-fencing-delay 15 s: fencing delays "
           "of 76 s leave the fence agent 14 s of stonith-timeout 90 s, " + LATE)]),
    # Pacemaker 2.1's per-node map: the largest of its delays counts
    ('name="pcmk_delay_base" value="5s"', 'name="pcmk_delay_base" value="node1:2s;node2:9s"',
     [(16, "fence-node1: its delay (pcmk_delay_base/max, delay) 9 s is more than half of priority-fencing-delay "
           "15 s: the node running the service may lose a split")]),
    ('<nvpair id="mdlp-meta-priority" name="priority" value="10" />', '',
     [(8, "priority-fencing-delay 15 s, but no resource has a priority (meta priority): it protects nobody")]),
    ('<nvpair id="mdlp-meta-priority" name="priority" value="10" />',
     '<nvpair id="mdlp-meta-priority" name="priority" value="\u00b2" />',
     [(8, "priority-fencing-delay 15 s, but no resource has a priority (meta priority): it protects nobody")]),
])
def test_split_settings_that_cannot_work_are_refused_with_their_line(old, new, expected):
    assert old in CIB
    assert check(CIB.replace(old, new)) == expected


MONITOR = '<op id="mdlp-rhcs-monitor-interval-500ms" name="monitor" interval="500ms" timeout="20s" />'


@pytest.mark.parametrize("new,expected", [
    (MONITOR.replace('interval="500ms"', 'interval="30s"'),
     "mdlp-rhcs is monitored every 30 s: a dead service goes unnoticed that long (render pacemaker: 500ms, "
     "answered by the OCF front without starting Python)"),
    ("", "mdlp-rhcs has no recurring monitor (op monitor with an interval): Pacemaker never notices a dead service"),
    (MONITOR.replace("/>", 'enabled="false" />'),
     "mdlp-rhcs has no recurring monitor (op monitor with an interval): Pacemaker never notices a dead service"),
])
def test_a_slow_or_missing_agent_monitor_is_a_problem(new, expected):
    assert MONITOR in CIB
    found = check(CIB.replace(MONITOR, new))
    assert [message for _, message in found] == [expected], found
    # a sub-second monitor, and one every 5 s, are fine
    assert check(CIB.replace(MONITOR, MONITOR.replace('interval="500ms"', 'interval="5s"'))) == []


def test_a_device_without_an_id_is_named_not_a_crash():
    text = CIB.replace('<primitive id="fence-node1" class="stonith"', '<primitive class="stonith"').replace(
        'name="pcmk_delay_base" value="5s"', 'name="pcmk_delay_base" value="8s"')
    assert check(text) == [(16, "(no id): its delay (pcmk_delay_base/max, delay) 8 s is more than half of "
                                "priority-fencing-delay 15 s: the node running the service may lose a split")]


def test_every_device_s_finding_is_on_its_own_line():
    devices = "".join('<primitive id="f%d" class="stonith" type="fence_mdlp"><instance_attributes id="i%d">'
                      '<nvpair id="n%d" name="pcmk_delay_base" value="70s" /></instance_attributes></primitive>\n'
                      % (i, i, i) for i in range(300))
    found = check(CIB.replace("<resources>", "<resources>\n" + devices))
    assert [line for line, _ in found] == list(range(16, 316)), found[:3]
    assert [text.split(":")[0] for _, text in found] == ["f%d" % i for i in range(300)]
    assert all("70 s + priority-fencing-delay 15 s" in text for _, text in found)
