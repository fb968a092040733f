"""doctor/iptables.py and doctor/firewall.py in-process: the verdicts on rules loaded into a real
iptables (in a network namespace of the test's own, so the text is iptables-save's own), texts no
iptables would print (hostile or careless), firewalld's answers as firewall-cmd gives them
(firewalld needs D-Bus and systemd: shaped with pytest-subprocess), a firewall-cmd that hangs (a
real process)."""

import json
import subprocess
import sys
import time
import uuid

import pytest
from helpers import REPO

from mdlp_agents.cluster.doctor import facts, firewall, iptables
from mdlp_agents.cluster.site.answers import load
from mdlp_agents.cluster.site.render import firewall as rendered_firewall

pytestmark = pytest.mark.inprocess
PARTNER = "10.0.32.12"


@pytest.fixture
def netns():
    name = "mdlp-fw-%s" % uuid.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], check=True)


def _saved(netns, rules, policy="ACCEPT"):
    """RULES (":CHAIN" lines first) through the real iptables-restore and iptables-save of a fresh namespace."""
    chains = [r for r in rules if r.startswith(":")]
    text = "*filter\n:INPUT %s [0:0]\n%s\nCOMMIT\n" % (policy, "\n".join(chains + [r for r in rules
                                                                                   if not r.startswith(":")]))
    subprocess.run(["ip", "netns", "exec", netns, "iptables-restore"], input=text, text=True, check=True)
    return subprocess.run(["ip", "netns", "exec", netns, "iptables-save"], capture_output=True, text=True,
                          check=True).stdout


def _verdict(saved, proto="udp", port=5405, interface=None, source=PARTNER, deadline=None):
    return iptables.evaluate(iptables.parse(saved), source, proto, port, interface, deadline)


def test_the_guide_s_chain_with_our_rendered_rules_admits_the_partner_only(netns):
    site = load(str(REPO / "examples" / "cluster-2node.toml"))
    rendered = [line for line in rendered_firewall(site, site.clusters, "pacemaker").splitlines()
                if line.startswith("-A")]
    saved = _saved(netns, [":MDLP-FW-IN-0 - [0:0]", "-A INPUT -i lo -j ACCEPT", "-A INPUT -j MDLP-FW-IN-0"]
                   + rendered, policy="DROP")
    for proto, port in facts.cluster_ports("pacemaker"):
        verdict, rule, doubts = _verdict(saved, proto, port)
        assert verdict == "ACCEPT" and "-s 10.0.32.12/32" in rule and doubts == [], (proto, port, rule)
    assert _verdict(saved, source="10.0.32.99") == ("DROP", "policy of INPUT", [])


@pytest.mark.parametrize("rules,verdict,doubtful", [
    (["-A INPUT -s 10.0.32.12/32 -p udp -m udp --dport 5405 -j DROP"], "DROP", False),
    (["-A INPUT -p udp -m multiport --dports 5404:5406 -j REJECT --reject-with icmp-port-unreachable"], "REJECT",
     False),
    (["-A INPUT -p udp -m udp --dport 5406:5410 -j DROP"], "ACCEPT", False),     # a range, not ours
    (["-A INPUT ! -s 10.0.32.12/32 -p udp -j DROP"], "ACCEPT", False),           # not from the partner
    (["-A INPUT -s 10.0.32.0/24 -p tcp -j DROP"], "ACCEPT", False),              # another protocol
    (["-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j DROP"], "ACCEPT", False),   # not a new packet
    (["-A INPUT -i lo -j DROP"], "ACCEPT", False),                               # never from lo
    (["-A INPUT -i eth1 -p udp -j DROP"], "ACCEPT", True),                       # an interface: not known here
    (["-A INPUT -s 10.0.32.12/32 -m comment --comment \"mdlp cluster\" -j DROP"], "DROP", False),
    ([":MDLP - [0:0]", "-A INPUT -j MDLP", "-A INPUT -j DROP", "-A MDLP -s 10.0.32.12/32 -j RETURN",
      "-A MDLP -j ACCEPT"], "DROP", False),                                       # RETURN goes back to INPUT
    # goto: a chain reached with -g does not come back to the rule after it
    ([":DROPPER - [0:0]", "-A INPUT -s 10.0.32.12/32 -g DROPPER", "-A DROPPER -j DROP"], "DROP", False),
    ([":CHK - [0:0]", "-A INPUT -g CHK", "-A INPUT -j DROP", "-A CHK -s 10.0.32.12/32 -j RETURN"], "ACCEPT",
     False),                                                                      # RETURN ends INPUT: its policy
    ([":CHK - [0:0]", "-A INPUT -j CHK", "-A INPUT -j DROP", "-A CHK -s 10.0.32.12/32 -j RETURN"], "DROP", False),
    # a comment is a value, whatever it says: iptables-save prints -j unquoted there
    (["-A INPUT -s 10.0.32.12/32 -m comment --comment \"-j\" -j DROP"], "DROP", False),
    (["-A INPUT -s 10.0.32.12/32 -m comment --comment \"-j ACCEPT\" -j DROP"], "DROP", False),
    (["-A INPUT -s 10.0.32.99/32 -m comment --comment \"-s 10.0.32.12 -j ACCEPT\" -j ACCEPT", "-A INPUT -j DROP"],
     "DROP", False),
    (["-A INPUT -m mark --mark 0x1 -j DROP"], "ACCEPT", True),                   # a mark: not known here
    (["-A INPUT -m mark --mark 0x1 -j ACCEPT", "-A INPUT -j DROP"], "DROP", True),   # blocked, unless...
    (["-A INPUT -s 10.0.32.12/32 -j LOG --log-prefix \"mdlp -j DROP \"", "-A INPUT -j ACCEPT"], "ACCEPT", False),
    (["-A INPUT -s 10.0.32.12/32 -j NFQUEUE --queue-num 1"], "UNKNOWN", False),   # user space decides
])
def test_verdicts_on_real_iptables_save_text(netns, rules, verdict, doubtful):
    saved = _saved(netns, rules)
    found, _, doubts = _verdict(saved)
    assert (found, bool(doubts)) == (verdict, doubtful), saved


def test_the_cluster_interface_settles_an_interface_match(netns):
    saved = _saved(netns, ["-A INPUT -i eth1 -p udp -j DROP", "-A INPUT -i eth+ -p tcp -j DROP"])
    assert _verdict(saved, interface="eth0")[:3] == ("ACCEPT", "policy of INPUT", [])
    assert _verdict(saved, interface="eth1")[0] == "DROP"
    assert _verdict(saved, "tcp", 2224, interface="eth7")[0] == "DROP"


@pytest.mark.parametrize("text", [
    "-A INPUT -p udp --dport corosync -j DROP",                # a name /etc/services does not know
    "-A INPUT -p udp -m udp --dport 1:5000000 -j DROP",          # a range no port reaches the end of
    "-A INPUT -p udp -m multiport --dports 5404,,x:y -j DROP",
    "-A INPUT -s 10.0.32.12/99 -j DROP",
    '-A INPUT -m comment --comment "never closed -j DROP',
    "-A INPUT -s",
    "-A",
    ":",
    ": - [0:0]",
    "-A INPUT ! ! -s 10.0.32.12 -j DROP",
    "-A INPUT -p 17 -j",
    "-A INPUT %s -j DROP" % ("-m mark --mark 1 " * 5000),
])
def test_lines_no_iptables_would_print_are_doubts_not_crashes(text):
    saved = "*filter\n:INPUT ACCEPT [0:0]\n%s\n-A INPUT -j DROP\nCOMMIT\n" % text
    verdict, rule, doubts = _verdict(saved)
    assert verdict in ("DROP", "UNKNOWN", "ACCEPT") and isinstance(doubts, list)
    assert verdict != "ACCEPT" or doubts     # never an OK from a rule we could not read


@pytest.mark.parametrize("policy,rule,verdict", [
    # fail2ban's ipset, a set of the cluster's nodes: not known here -- doubts, either way
    ("ACCEPT", "-A INPUT -p tcp -m set --match-set f2b-sshd src -j REJECT --reject-with icmp-port-unreachable",
     "ACCEPT"),
    ("DROP", "-A INPUT -m set --match-set cluster-nodes src -j ACCEPT", "DROP"),
    ("ACCEPT", "-A INPUT -p tcp -m connlimit --connlimit-above 10 --connlimit-mask 32 --connlimit-saddr -j REJECT",
     "ACCEPT"),
    ("ACCEPT", "-A INPUT -p udp -m physdev --physdev-is-bridged -j DROP", "ACCEPT"),
    ("ACCEPT", "-A INPUT -s 10.0.32.12/32 -p udp -m recent --rcheck --seconds 60 --name x -j DROP", "ACCEPT"),
    ("DROP", "-A INPUT -s 10.0.32.12/32 bogus words -j ACCEPT", "DROP"),
])
def test_rules_with_matches_we_do_not_model_are_doubts_with_their_target(policy, rule, verdict):
    """What iptables prints for ipsets, connlimit, physdev, recent: the target is still read, the rule
    named as a doubt -- never skipped as if it were not there."""
    saved = "*filter\n:INPUT %s [0:0]\n%s\nCOMMIT\n" % (policy, rule)
    found, _, doubts = _verdict(saved, *(("tcp", 2224) if "-p tcp" in rule else ("udp", 5405)))
    assert (found, doubts) == (verdict, [rule]), (found, doubts)
    if "-p tcp" in rule:     # and for udp the rule settles it: it does not match
        assert _verdict(saved)[1:] == ("policy of INPUT", [])


def test_tcp_flags_take_two_values():
    saved = ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -s 10.0.32.12/32 "
             "-j DROP\nCOMMIT\n")
    verdict, _, doubts = _verdict(saved, "tcp", 2224)
    assert verdict == "ACCEPT" and doubts, (verdict, doubts)      # the flags: not modelled, the -s read


@pytest.mark.parametrize("saved", [
    "# Table `filter' is incompatible, use 'nft' tool.\n",
    "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n*filter\n:INPUT ACCEPT [0:0]\n"
    "COMMIT\n",
    "# Warning: nftables table inet t filters input: incompatible with iptables-save, not evaluated\n",
])
def test_a_rule_set_we_cannot_see_is_unknown_not_admitting(saved):
    assert _verdict(saved)[0] == "UNKNOWN"


@pytest.mark.parametrize("saved", ["*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", ""])
def test_no_filter_table_is_an_empty_one(saved):
    """What iptables-save prints in a namespace nobody filtered: nothing stands in the way."""
    assert _verdict(saved) == ("ACCEPT", "policy of INPUT", [])


def _firewall_in(netns, *nft_commands):
    """firewall.firewall() run inside NETNS (its iptables-save and nft are the namespace's) after NFT_COMMANDS."""
    for command in nft_commands:
        subprocess.run(["ip", "netns", "exec", netns, "nft"] + command, check=True)
    code = ("import json; from mdlp_agents.cluster.doctor import facts, firewall; "
            "print(json.dumps(firewall.firewall(%r, [('udp', 5405)], facts.Budget(5))))" % PARTNER)
    proc = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", code], capture_output=True,
                          text=True, check=True, cwd=str(REPO))
    return json.loads(proc.stdout)["results"][0]


def test_native_nftables_input_rules_are_a_doubt_not_admitted(netns):
    """A table of nft's own (written with nft, as firewalld or nftables.service do): iptables-save shows
    nothing, yet it drops the partner.  Real nft and iptables-save in a namespace of the test's."""
    assert _firewall_in(netns)[2] == "ACCEPT"                     # nothing anywhere: an empty namespace
    drop = "{ type filter hook input priority 0; policy drop; }"
    verdict = _firewall_in(netns, ["add", "table", "ip6", "v6"], ["add", "chain", "ip6", "v6", "input", drop])
    assert verdict[2] == "ACCEPT", verdict                        # IPv6 only: not the partner's traffic
    verdict = _firewall_in(netns, ["add", "table", "inet", "site"], ["add", "chain", "inet", "site", "input", drop])
    assert verdict[2] == "UNKNOWN" and "inet site hooks input" in verdict[3], verdict


def test_native_nftables_prerouting_rules_are_a_doubt_too(netns):
    """A drop before routing (a raw-like chain of nft's own) never reaches INPUT: as much a doubt."""
    verdict = _firewall_in(netns, ["add", "table", "inet", "raw"],
                           ["add", "chain", "inet", "raw", "pre",
                            "{ type filter hook prerouting priority -300; policy drop; }"])
    assert verdict[2] == "UNKNOWN" and "inet raw hooks prerouting" in verdict[3], verdict


def test_iptables_nft_tables_iptables_save_shows_are_read_not_doubted(netns):
    """nat and mangle rules written with iptables-nft are nft tables of family ip: iptables-save shows
    them, so they are no doubt (mangle is even evaluated)."""
    for table, rule in (("nat", "-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080"),
                        ("mangle", "-A INPUT -p udp -j MARK --set-mark 1")):
        subprocess.run(["ip", "netns", "exec", netns, "iptables", "-t", table] + rule.split(), check=True)
    verdict = _firewall_in(netns)
    assert verdict[2:] == ["ACCEPT", "policy of INPUT", []], verdict


@pytest.mark.parametrize("table,rule", [
    ("raw", "-A PREROUTING -s 10.0.32.12/32 -j DROP"),
    ("mangle", "-A PREROUTING -s 10.0.32.12/32 -p udp -j DROP"),
    ("mangle", "-A INPUT -p udp -m udp --dport 5405 -j DROP"),
])
def test_a_drop_in_raw_or_mangle_is_a_drop_before_the_filter_table(netns, table, rule):
    """The packet meets raw and mangle PREROUTING, then mangle INPUT, before filter INPUT accepts it."""
    subprocess.run(["ip", "netns", "exec", netns, "iptables", "-t", table] + rule.split(), check=True)
    saved = _saved(netns, ["-A INPUT -s 10.0.32.12/32 -j ACCEPT"], policy="DROP")
    verdict, decider, _ = _verdict(saved)
    assert verdict == "DROP" and decider.startswith("-A %s" % rule.split()[1]), (verdict, decider)
    assert _verdict(saved, source="10.0.32.99")[0] == "DROP"               # filter's policy still there
    assert _firewall_in(netns)[2] == "DROP"


def test_a_doubt_in_raw_that_could_drop_is_named():
    saved = ("*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m mark --mark 1 -j DROP\n"
             "-A PREROUTING -m mark --mark 2 -j CT --notrack\nCOMMIT\n"
             "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
    verdict, _, doubts = _verdict(saved)
    assert verdict == "ACCEPT" and doubts == ["-A PREROUTING -m mark --mark 1 -j DROP"], (verdict, doubts)


def test_raw_with_a_drop_policy_drops():
    saved = "*raw\n:PREROUTING DROP [0:0]\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
    assert _verdict(saved)[:2] == ("DROP", "policy of PREROUTING in raw")


def test_iptables_nft_own_table_is_evaluated_not_doubted(netns):
    """iptables-nft's rules are nft's `ip filter` table: read through iptables-save, not a doubt."""
    _saved(netns, ["-A INPUT -s 10.0.32.12/32 -p udp -j DROP"])
    verdict = _firewall_in(netns)
    assert verdict[2] == "DROP" and verdict[4] == [], verdict


def test_chains_nested_deeper_than_python_recurses_are_unknown():
    lines = ["*filter", ":INPUT ACCEPT [0:0]"] + [":C%d - [0:0]" % i for i in range(600)] + ["-A INPUT -j C0"]
    lines += ["-A C%d -j C%d" % (i, i + 1) for i in range(599)] + ["-A C599 -j DROP", "COMMIT"]
    assert _verdict("\n".join(lines) + "\n")[0] == "UNKNOWN"


def test_an_ipv6_partner_is_not_judged_by_the_ipv4_table():
    found = firewall.firewall("fd00::12", [("udp", 5405)], facts.Budget(5))
    assert "IPv6" in found["error"] and "results" not in found, found


def test_named_ports_and_ranges_are_ranges():
    saved = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport ssh:2300 -j DROP\nCOMMIT\n"
    assert _verdict(saved, "tcp", 2224)[0] == "DROP" and _verdict(saved, "tcp", 3121)[0] == "ACCEPT"
    huge = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 0:4000000000 -j DROP\nCOMMIT\n"
    assert _verdict(huge)[0] == "DROP"


def test_chains_that_fan_out_are_walked_once_each():
    """Ten levels of 200 jumps to the next level: 200**10 walks without memoising; here milliseconds."""
    lines = ["*filter", ":INPUT DROP [0:0]"] + [":L%d - [0:0]" % level for level in range(10)]
    lines += ["-A INPUT -j L0"]
    for level in range(9):
        lines += ["-A L%d -p udp -j L%d" % (level, level + 1)] * 200
    lines += ["-A L9 -s 10.0.32.12/32 -j ACCEPT", "COMMIT"]
    started = time.monotonic()
    assert _verdict("\n".join(lines) + "\n")[0] == "ACCEPT"
    assert time.monotonic() - started < 1.0


def test_a_circle_of_chains_is_unknown_not_a_crash():
    saved = "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j A\nCOMMIT\n"
    assert _verdict(saved)[0] == "UNKNOWN"


def test_a_rule_set_larger_than_the_budget_is_a_doubt_in_time():
    lines = ["*filter", ":INPUT ACCEPT [0:0]"] + ["-A INPUT -s 192.0.2.%d/32 -p tcp -j DROP" % (i % 250)
                                                  for i in range(300000)] + ["COMMIT"]
    started = time.monotonic()
    results = firewall.evaluate_all("\n".join(lines), PARTNER, [("udp", 5405), ("tcp", 2224)], seconds=0.3)
    assert time.monotonic() - started < 5
    assert {r[2] for r in results} == {"UNKNOWN"} and "within 0.3s" in results[0][3], results


# -- firewalld ---------------------------------------------------------------------------------------
LIST_ALL = """internal (active)
  target: %(target)s
  icmp-block-inversion: no
  interfaces: eth0
  sources:
  services: dhcpv6-client ssh %(services)s
  ports: %(ports)s
  protocols:
  forward: no
  masquerade: no
  forward-ports:
  source-ports:
  icmp-blocks:
  rich rules:
%(rich)s
"""


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

    def answer(services="", ports="", rich=(), target="default", active=ACTIVE, zone="internal"):
        fp.register([str(program), "--get-active-zones"], stdout=active)
        fp.register([str(program), "--zone=%s" % zone, "--list-all"], stdout=LIST_ALL % {
            "target": target, "services": services, "ports": ports, "rich": "".join("\t%s\n" % r for r in rich)})
        return firewall.firewall(PARTNER, [("udp", 5405), ("tcp", 2224)], facts.Budget(5), "eth0")
    return answer


ACTIVE = "internal\n  interfaces: eth0\npublic\n  sources: 192.168.0.0/16\n"


ACCEPT_RULE = 'rule family="ipv4" source address="%s" service name="high-availability" accept'


@pytest.mark.parametrize("kwargs,verdict,where,doubts", [
    ({"services": "high-availability"}, "ACCEPT", "firewalld zone internal: service high-availability", 0),
    ({"rich": [ACCEPT_RULE % PARTNER]}, "ACCEPT", "firewalld zone internal: a rich rule for 10.0.32.12", 0),
    ({"rich": [ACCEPT_RULE % "10.0.32.0/24"]}, "ACCEPT", "firewalld zone internal: a rich rule for 10.0.32.12", 0),
    ({"rich": [ACCEPT_RULE % "10.0.32.99"]}, "DROP", "firewalld zone internal: no high-availability service", 0),
    # a log prefix that names the service (and the partner) is a log prefix
    ({"rich": ['rule family="ipv4" source address="10.0.32.99" log prefix="10.0.32.12 service name='
               '\\"high-availability\\" accept" level="info" accept']},
     "DROP", "firewalld zone internal: no high-availability service", 0),
    ({"rich": ['rule family="ipv4" source NOT address="10.0.32.12" service name="high-availability" accept']},
     "DROP", "firewalld zone internal: no high-availability service", 1),     # not the grammar's "not"
    ({"rich": ['rule family="ipv4" source not address="10.0.32.12" service name="high-availability" accept']},
     "DROP", "firewalld zone internal: no high-availability service", 0),
    ({"services": "high-availability", "rich": ['rule family="ipv4" source address="10.0.32.12" drop']},
     "DROP", "firewalld zone internal: a rich rule denies it", 0),
    ({"services": "high-availability", "rich": ['rule source ipset="blocked" drop']},
     "ACCEPT", "firewalld zone internal: service high-availability", 1),      # an ipset: not known here
    ({"target": "ACCEPT"}, "ACCEPT", "firewalld zone internal: target ACCEPT", 0),
    # firewalld's order: negative priority first, then deny, the zone and accept of priority 0, then positive
    ({"services": "high-availability", "rich": ['rule priority="-1" family="ipv4" source address="10.0.32.12" '
                                                'accept', 'rule family="ipv4" source address="10.0.32.12" drop']},
     "ACCEPT", "firewalld zone internal: a rich rule for 10.0.32.12", 0),
    ({"services": "high-availability", "rich": ['rule priority="5" family="ipv4" source address="10.0.32.12" drop']},
     "ACCEPT", "firewalld zone internal: service high-availability", 0),
    ({"rich": ['rule priority="5" family="ipv4" source address="10.0.32.12" accept']},
     "ACCEPT", "firewalld zone internal: a rich rule for 10.0.32.12", 0),
    # a service of the site's own that may cover the ports; a rate limit: doubts, never a certain verdict
    ({"services": "high-availability", "rich": ['rule family="ipv4" source address="10.0.32.12" service '
                                                'name="corosync-custom" drop']},
     "ACCEPT", "firewalld zone internal: service high-availability", 1),
    ({"services": "high-availability", "rich": ['rule family="ipv4" source address="10.0.32.12" drop limit '
                                                'value="1/m"']},
     "ACCEPT", "firewalld zone internal: service high-availability", 1),
])
def test_firewalld_by_the_grammar_of_its_rich_rules(firewalld, kwargs, verdict, where, doubts):
    found = firewalld(**kwargs)
    assert found["tool"] == "firewalld", found
    for proto, port, got, rule, doubt in found["results"]:
        assert (got, len(doubt)) == (verdict, doubts) and rule.startswith(where), (proto, port, found)


def test_firewalld_s_zone_holding_the_partner_s_network(firewalld):
    """A zone whose sources hold the partner's network judges it, not the interface's zone."""
    found = firewalld(target="DROP", zone="isolated",
                      active="internal\n  interfaces: eth0\nisolated\n  sources: 10.0.0.0/8 10.0.32.0/24\n")
    assert [r[2:4] for r in found["results"]] == [["DROP", "firewalld zone isolated: no high-availability service"]] * 2


def test_firewalld_ports_are_read_as_ranges(firewalld):
    found = firewalld(ports="5400-5410/udp 2224/tcp")
    assert [r[2] for r in found["results"]] == ["ACCEPT", "ACCEPT"]
    assert found["results"][0][3] == "firewalld zone internal: port 5405/udp"


def test_firewalld_that_hangs_is_an_error_not_a_crash(tmp_path, monkeypatch):
    """A real firewall-cmd stand-in (a process that does not answer): the budget bounds it."""
    program = tmp_path / "firewall-cmd"
    program.write_text('#!/bin/sh\ncase "$1" in --state) echo running ;; *) exec sleep 30 ;; esac\n')
    program.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:/usr/bin:/bin" % tmp_path)
    started = time.monotonic()
    found = firewall.firewall(PARTNER, [("udp", 5405)], facts.Budget(0.5, step=0.5), "eth0")
    assert time.monotonic() - started < 3
    assert found["error"].startswith("firewall-cmd did not answer within "), found
