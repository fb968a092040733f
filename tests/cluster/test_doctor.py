"""cluster/doctor.py and cluster/facts.py in-process: the firewall verdicts on rules loaded into a real
iptables (in a network namespace of the test's), the fence devices found in a CIB and a cluster.conf,
each check's lines from facts shaped by hand (the whole doctor on a real pair: test_doctor_lab.py)."""

import json
import subprocess
import time
import uuid

import pytest

from mdlp_agents.cluster import doctor, facts
from mdlp_agents.cluster.answers import load
from mdlp_agents.cluster.render import firewall

from conftest import REPO

pytestmark = pytest.mark.inprocess
NOW = 1796029800.0


@pytest.fixture
def netns():
    name = "mdlp-fw-%s" % uuid.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=True)


def _saved(netns, rules):
    """RULES through the real iptables-restore and iptables-save of a fresh namespace."""
    subprocess.run(["ip", "netns", "exec", netns, "iptables-restore"], input=rules, text=True, check=True)
    return subprocess.run(["ip", "netns", "exec", netns, "iptables-save"], capture_output=True, text=True,
                          check=True).stdout


def test_the_guide_s_chain_with_our_rendered_rules_admits_the_partner_only(netns):
    site = load(str(REPO / "examples" / "cluster-2node.toml"))
    rendered = [line for line in firewall(site, site.clusters, "pacemaker").splitlines() if line.startswith("-A")]
    rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:MDLP-FW-IN-0 - [0:0]\n" \
            "-A INPUT -i lo -j ACCEPT\n-A INPUT -j MDLP-FW-IN-0\n%s\nCOMMIT\n" % "\n".join(rendered)
    saved = _saved(netns, rules)
    for proto, port in doctor.cluster_ports("pacemaker"):
        verdict, rule, doubts = facts.evaluate(saved, "10.0.32.12", proto, port)
        assert verdict == "ACCEPT" and "-s 10.0.32.12/32" in rule and doubts == [], (proto, port, rule)
    assert facts.evaluate(saved, "10.0.32.99", "udp", 5405) == ("DROP", "policy of INPUT", [])


@pytest.mark.parametrize("rules,verdict,doubtful", [
    (["-A INPUT -s 10.0.32.12/32 -p udp -m udp --dport 5405 -j DROP"], "DROP", False),
    (["-A INPUT -p udp -m multiport --dports 5404:5406 -j REJECT --reject-with icmp-port-unreachable"], "REJECT",
     False),
    (["-A INPUT ! -s 10.0.32.12/32 -p udp -j DROP"], "ACCEPT", False),           # not from the partner
    (["-A INPUT -s 10.0.32.0/24 -p tcp -j DROP"], "ACCEPT", False),              # another protocol
    (["-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j DROP"], "ACCEPT", False),   # not a new packet
    (["-A INPUT -i lo -j DROP"], "ACCEPT", False),                               # never from lo
    (["-A INPUT -i eth1 -p udp -j DROP"], "ACCEPT", True),                       # an interface: not known here
    (["-A INPUT -s 10.0.32.12/32 -m comment --comment \"mdlp cluster\" -j DROP"], "DROP", False),
    ([":MDLP - [0:0]", "-A INPUT -j MDLP", "-A INPUT -j DROP", "-A MDLP -s 10.0.32.12/32 -j RETURN",
      "-A MDLP -j ACCEPT"], "DROP", False),                                       # RETURN goes back to INPUT
])
def test_verdicts_on_real_iptables_save_text(netns, rules, verdict, doubtful):
    chains = [r for r in rules if r.startswith(":")]
    saved = _saved(netns, "*filter\n:INPUT ACCEPT [0:0]\n%s\nCOMMIT\n" % "\n".join(
        chains + [r for r in rules if not r.startswith(":")]))
    found, _, doubts = facts.evaluate(saved, "10.0.32.12", "udp", 5405)
    assert (found, bool(doubts)) == (verdict, doubtful), saved


CIB = """<resources>
  <primitive id="fence-node1" class="stonith" type="fence_mdlp"><instance_attributes id="a">
    <nvpair id="a1" name="ip" value="10.0.33.11"/><nvpair id="a2" name="password" value="s3cret"/>
    <nvpair id="a3" name="pcmk_host_list" value="node1"/></instance_attributes></primitive>
  <primitive id="fence-map" class="stonith" type="fence_ipmilan"><instance_attributes id="b">
    <nvpair id="b1" name="pcmk_host_map" value="node2:10.0.33.12;node3:10.0.33.13"/></instance_attributes>
  </primitive>
  <primitive id="web" class="ocf" provider="websense" type="mdlp"/>
</resources>"""


def test_fence_devices_for_a_node_from_the_cib_and_cluster_conf():
    assert facts.fence_devices_for("node1", cib_text=CIB) == [("fence-node1", "fence_mdlp", {
        "ip": "10.0.33.11", "password": "s3cret", "nodename": "node1", "port": "node1"})]
    mapped = facts.fence_devices_for("node2", cib_text=CIB)      # the port pcmk_host_map gives, as the fencer
    assert [(d[0], d[2]["port"]) for d in mapped] == [("fence-map", "10.0.33.12")]
    configured = facts.fence_devices_for("node1", cib_text=CIB.replace(
        '<nvpair id="a1"', '<nvpair id="a0" name="plug" value="3"/><nvpair id="a1"'))
    assert "port" not in configured[0][2] and configured[0][2]["plug"] == "3"
    conf = (REPO / "tests" / "golden" / "2node-rhcs.conf").read_text()
    devices = facts.fence_devices_for("node2", cluster_conf_text=conf)
    assert [(name, agent) for name, agent, _ in devices] == [("MdlpFencing", "fence_mdlp")]
    assert devices[0][2]["ipaddr"] == "10.0.33.12"


def _facts(name, **changes):
    base = {"hostname": name, "time": NOW, "received": NOW, "nameservers": ["10.0.0.53"],
            "resolve": {"node1": {"result": "ok", "value": ["10.0.32.11"]},
                        "node2": {"result": "ok", "value": ["10.0.32.12"]}},
            "addresses": [{"interface": "eth0", "address": "10.0.32.%d" % (11 if name == "node1" else 12),
                           "prefix": 24}],
            "files": {"mdlp_rhcs.conf": {"sha256": "a" * 64, "size": 10, "mtime": NOW},
                      "fence_mdlp.conf": {"hmac": "b" * 64, "mtime": NOW},
                      "cluster.conf": {"error": "absent"}},
            "manager": {"name": "pacemaker", "running": True, "configuration_sha256": "c" * 64},
            "agent": {"validate": {"rc": 0}, "status": {"rc": 0, "role": "active", "summary": "mdlp: running"}},
            "tls": {"subject": "CN=mobile", "not_after": NOW + 90 * 86400},
            "firewall": {"tool": "iptables", "results": [["udp", 5405, "ACCEPT", "policy of INPUT", []]]},
            "fence": [{"device": "fence-x", "agent": "fence_mdlp", "backend": "ipmi", "address": "10.0.33.1",
                       "rc": 0, "answer": "Status: ON", "seconds": 0.2}]}
    base.update(changes)
    return base


PAIR = doctor.Pair("node1", "node2", {"node1": "10.0.32.11", "node2": "10.0.32.12"}, "mobile-cs", 24)


def _lines(mine, theirs):
    checks = []
    doctor.check_names(PAIR, mine, theirs, checks)
    doctor.check_traffic(PAIR, mine, theirs, None, "10.0.32.12", checks)
    doctor.check_time(mine, theirs, checks)
    doctor.check_service(mine, theirs, checks, NOW)
    doctor.check_settings(mine, theirs, checks)
    doctor.check_fencing(mine, theirs, checks)
    return [c.line() for c in checks]


def test_a_clean_pair_from_facts_is_all_ok():
    lines = _lines(_facts("node1"), _facts("node2", time=NOW + 0.4))
    assert all(line.startswith("OK ") for line in lines), lines
    assert "OK      certificate      the same Subject on both nodes: CN=mobile, valid until 2027-02-28" in lines


@pytest.mark.parametrize("theirs,status,words", [
    ({"time": NOW + 1.5}, "WARN", "node2 is +1.5 s from node1 (more than 1 s)"),
    ({"time": NOW - 6}, "FAIL", "node2 is -6.0 s from node1 (more than 5 s)"),
    ({"hostname": "node1"}, "FAIL", "both nodes are called node1"),
    ({"nameservers": ["10.9.9.9"]}, "WARN", "the nodes ask different DNS servers"),
    ({"resolve": {"node1": {"result": "ok", "value": ["127.0.1.1"]}, "node2": {"result": "error", "value": "no"}}},
     "FAIL", "on node2: node1 resolves to 127.0.1.1, not 10.0.32.11; node2 does not resolve (no)"),
    ({"tls": {"subject": "CN=mobile", "not_after": NOW + 5 * 86400}}, "WARN", "on node2: CN=mobile expires in 5 days"),
    ({"tls": {"subject": "CN=other", "not_after": NOW + 99 * 86400}}, "FAIL", "different Subjects"),
    ({"tls": {"error": "127.0.0.1:443: Connection refused"}}, "FAIL", "on node2: 127.0.0.1:443: Connection refused"),
    ({"agent": {"validate": {"rc": 5, "line": "httpd: /usr/sbin/httpd is not installed"},
                "status": {"rc": 1, "role": "passive", "summary": "mdlp: DOWN", "down": ["httpd"]}}},
     "FAIL", "on node2: mdlp_rhcs validate-all exit 5: httpd: /usr/sbin/httpd is not installed"),
    ({"manager": {"name": "pacemaker", "running": True, "configuration_sha256": "d" * 64}}, "FAIL",
     "the nodes hold different CIB configurations"),
    ({"manager": {"name": "pacemaker", "running": False, "why": "Pacemaker is not running here: x"}}, "SKIPPED",
     "from node2: Pacemaker is not running here: x"),
    ({"fence": [{"device": "fence-x", "agent": "fence_mdlp", "backend": "noop", "rc": 0, "answer": "Status: ON"}]},
     "WARN", "the noop backend FENCES NOTHING"),
    ({"fence": [{"device": "fence-x", "agent": "fence_mdlp", "error": "fence_mdlp: no answer within 4s"}]},
     "FAIL", "from node2, fence-x (fence_mdlp): fence_mdlp: no answer within 4s"),
    ({"fence": [{"device": "fence-x", "agent": "fence_mdlp", "backend": "ipmi", "rc": 2, "answer": "Status: OFF"}]},
     "FAIL", "says the node it fences is OFF, yet that node answers"),
    ({"firewall": {"tool": "iptables", "results": [["udp", 5405, "ACCEPT", "policy of INPUT",
                                                    ["-A INPUT -i eth1 -j DROP"]]]}},
     "WARN", "unless one of these rules, whose matches were not evaluated, applies: -A INPUT -i eth1 -j DROP"),
])
def test_each_finding_from_facts(theirs, status, words):
    lines = _lines(_facts("node1"), _facts("node2", **theirs))
    found = [line for line in lines if words in line]
    assert found and found[0].startswith(status + " "), lines


def test_the_fence_config_is_compared_but_never_shown():
    theirs = _facts("node2")
    theirs["files"] = dict(theirs["files"], **{"fence_mdlp.conf": {"hmac": "e" * 64, "mtime": NOW}})
    lines = _lines(_facts("node1"), theirs)
    line = next(line for line in lines if "fence_mdlp.conf" in line)
    assert line.startswith("FAIL") and "b" * 8 not in line and "e" * 8 not in line and "bytes" not in line
    theirs["files"]["fence_mdlp.conf"] = {"mtime": NOW}      # a partner that got no key: not compared
    line = next(line for line in _lines(_facts("node1"), theirs) if "fence_mdlp.conf" in line)
    assert line.startswith("SKIPPED") and "no digest from node2" in line


def test_a_secret_file_is_digested_only_under_a_key(tmp_path):
    path = tmp_path / "fence_mdlp.conf"
    path.write_text("[fence]\npassword = s3cret\n")
    one, two = facts.file_fact(str(path), "k1"), facts.file_fact(str(path), "k2")
    assert one["hmac"] != two["hmac"] and one["hmac"] == facts.file_fact(str(path), "k1")["hmac"]
    assert set(facts.file_fact(str(path), "")) == {"mtime"}           # no key: no digest at all
    assert set(facts.file_fact(str(path))) == {"sha256", "size", "mtime"}
    assert facts.file_fact(str(tmp_path / "none"))["error"] == "absent"


def test_a_budget_bounds_the_steps_together():
    budget = facts.Budget(1.0, step=4.0)
    assert 0.9 <= budget() <= 1.0
    assert facts.Budget(-5)() == 0.2           # spent: each remaining step still gets a moment


def test_who_is_the_partner(monkeypatch):
    site = load(str(REPO / "examples" / "cluster-2node.toml"))
    pair = doctor.pair_from(site, None, "node2")
    assert (pair.me, pair.partner, pair.problem) == ("node2", "node1", None)
    unknown = doctor.pair_from(site, "node7", "node1")
    assert unknown.partner is None and unknown.problem.startswith("unknown node 'node7': cluster mobile-cs of ")
    stranger = doctor.pair_from(site, None, "web3")
    assert stranger.problem.startswith("this node (web3) is not a node of ")


def test_report_json_and_exit_code(capsys):
    checks = [doctor.Check("time", doctor.WARN, "x"), doctor.Check("names", doctor.OK, "y")]
    assert doctor.report(checks, 0.5, as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"OK": 1, "WARN": 1, "FAIL": 0, "SKIPPED": 0}
    assert doctor.report(checks + [doctor.Check("peer", doctor.FAIL, "z")], 0.5) == 1


@pytest.fixture
def firewalld(fp, tmp_path, monkeypatch):
    """firewall-cmd as firewalld answers it (firewalld itself needs D-Bus and systemd: not here)."""
    program = tmp_path / "firewall-cmd"
    program.write_text("#!/bin/sh\nexit 99\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    fp.register([str(program), "--state"], stdout="running\n")
    fp.register([str(program), "--get-zone-of-source=10.0.32.12"], stdout="no zone\n", returncode=2)
    fp.register([str(program), "--get-zone-of-interface=eth0"], stdout="internal\n")
    return fp, str(program)


@pytest.mark.parametrize("service,rich,verdict,where", [
    (0, "", "ACCEPT", "firewalld zone internal: service high-availability"),
    (1, 'rule family="ipv4" source address="10.0.32.12" service name="high-availability" accept\n', "ACCEPT",
     "firewalld zone internal: a rich rule for 10.0.32.12"),
    (1, 'rule family="ipv4" source address="10.0.32.99" service name="high-availability" accept\n', "DROP",
     "firewalld zone internal: no high-availability service"),
])
def test_firewalld_s_zone_of_the_cluster_interface(firewalld, service, rich, verdict, where):
    fp, program = firewalld
    fp.register([program, "--zone=internal", "--query-service=high-availability"], returncode=service)
    fp.register([program, "--zone=internal", "--list-rich-rules"], stdout=rich)
    found = facts.firewall("10.0.32.12", [("udp", 5405), ("tcp", 2224)], facts.Budget(5), "eth0")
    assert found["tool"] == "firewalld"
    assert found["results"] == [["udp", 5405, verdict, where, []], ["tcp", 2224, verdict, where, []]]


def test_firewalld_that_hangs_is_an_error_not_a_crash(tmp_path, monkeypatch):
    """A real firewall-cmd stand-in (a process that does not answer): the budget bounds it."""
    program = tmp_path / "firewall-cmd"
    program.write_text('#!/bin/sh\ncase "$1" in --state) echo running ;; *) exec sleep 30 ;; esac\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:/usr/bin:/bin" % tmp_path)
    started = time.monotonic()
    found = facts.firewall("10.0.32.12", [("udp", 5405)], facts.Budget(0.5, step=0.5), "eth0")
    assert time.monotonic() - started < 3
    assert found["error"].startswith("firewall-cmd did not answer within "), found
