"""doctor/firewall.py in-process: the verdicts on rules loaded into a real iptables (in a network
namespace of the test's own), firewalld's answers as firewall-cmd gives them (firewalld needs D-Bus
and systemd: shaped with pytest-subprocess), a firewall-cmd that hangs (a real process)."""

import subprocess
import time
import uuid

import pytest

from mdlp_agents.cluster.doctor import facts, firewall
from mdlp_agents.cluster.site.answers import load
from mdlp_agents.cluster.site.render import firewall as rendered_firewall

from conftest import REPO

pytestmark = pytest.mark.inprocess


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
    rendered = [line for line in rendered_firewall(site, site.clusters, "pacemaker").splitlines()
                if line.startswith("-A")]
    rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:MDLP-FW-IN-0 - [0:0]\n" \
            "-A INPUT -i lo -j ACCEPT\n-A INPUT -j MDLP-FW-IN-0\n%s\nCOMMIT\n" % "\n".join(rendered)
    saved = _saved(netns, rules)
    for proto, port in facts.cluster_ports("pacemaker"):
        verdict, rule, doubts = firewall.evaluate(saved, "10.0.32.12", proto, port)
        assert verdict == "ACCEPT" and "-s 10.0.32.12/32" in rule and doubts == [], (proto, port, rule)
    assert firewall.evaluate(saved, "10.0.32.99", "udp", 5405) == ("DROP", "policy of INPUT", [])


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
    found, _, doubts = firewall.evaluate(saved, "10.0.32.12", "udp", 5405)
    assert (found, bool(doubts)) == (verdict, doubtful), saved


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
    found = firewall.firewall("10.0.32.12", [("udp", 5405), ("tcp", 2224)], facts.Budget(5), "eth0")
    assert found["tool"] == "firewalld"
    assert found["results"] == [["udp", 5405, verdict, where, []], ["tcp", 2224, verdict, where, []]]


def test_firewalld_that_hangs_is_an_error_not_a_crash(tmp_path, monkeypatch):
    """A real firewall-cmd stand-in (a process that does not answer): the budget bounds it."""
    program = tmp_path / "firewall-cmd"
    program.write_text('#!/bin/sh\ncase "$1" in --state) echo running ;; *) exec sleep 30 ;; esac\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:/usr/bin:/bin" % tmp_path)
    started = time.monotonic()
    found = firewall.firewall("10.0.32.12", [("udp", 5405)], facts.Budget(0.5, step=0.5), "eth0")
    assert time.monotonic() - started < 3
    assert found["error"].startswith("firewall-cmd did not answer within "), found
