"""doctor/checks.py in-process: each check's lines from facts shaped by hand (the whole doctor on a
real pair: test_doctor_lab.py), the report and its exit code."""

import json

import pytest

from mdlp_agents.cluster import doctor
from mdlp_agents.cluster.doctor import checks as doctor_checks
from mdlp_agents.cluster.doctor import detection
from mdlp_agents.cluster.doctor.pair import Pair

pytestmark = pytest.mark.inprocess
NOW = 1796029800.0


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
                       "rc": 0, "answer": "Status: ON", "seconds": 0.2}],
            "race": {"stack": "pacemaker", "priority_fencing_delay": 15, "stonith_timeout": 90,
                     "delays": {"fence-node1": 5, "fence-node2": 0}, "priorities": {"mdlp": 10}},
            "detection": {"stack": "pacemaker", "resource": "mdlp-rhcs", "interval": 0.5, "timeout": 20.0,
                          "front": "front", "active": True, "verdict": {"healthy": True, "age": 0.3}}}
    base.update(changes)
    return base


PAIR = Pair("node1", "node2", {"node1": "10.0.32.11", "node2": "10.0.32.12"}, "mobile-cs", 24)


def _lines(mine, theirs):
    checks = []
    doctor_checks.check_names(PAIR, mine, theirs, checks)
    doctor_checks.check_traffic(PAIR, mine, theirs, None, "10.0.32.12", checks)
    doctor_checks.check_time(mine, theirs, checks)
    doctor_checks.check_service(mine, theirs, checks, NOW)
    doctor_checks.check_settings(mine, theirs, checks)
    doctor_checks.check_fencing(mine, theirs, checks)
    doctor_checks.check_split(mine, checks)
    detection.check(mine, checks)
    doctor_checks.check_unread(theirs, checks)
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
     "WARN", "unless one of these rules, whose matches were not evaluated, decides: -A INPUT -i eth1 -j DROP"),
    ({"firewall": {"tool": "iptables", "results": [["udp", 5405, "UNKNOWN", "-A INPUT -j NFQUEUE", []]]}},
     "WARN", "cannot be evaluated for udp/5405 (-A INPUT -j NFQUEUE)"),
    ({"firewall": {"tool": "iptables", "results": [["udp", 5405, "DROP", "policy of INPUT",
                                                    ["-A INPUT -m set --match-set ha src -j ACCEPT"]]]}},
     "WARN", "blocks udp/5405 (DROP: policy of INPUT)"),
    ({"time": float("nan")}, "FAIL", "node2 is +nan s from node1"),
    ({"time": float("inf")}, "FAIL", "node2 is +inf s from node1"),
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


def test_report_json_and_exit_code():
    checks = [doctor.Check("time", doctor.WARN, "x"), doctor.Check("names", doctor.OK, "y")]
    text, code = doctor.report(checks, 0.5, as_json=True)
    assert code == 0 and json.loads(text)["counts"] == {"OK": 1, "WARN": 1, "FAIL": 0, "SKIPPED": 0}
    text, code = doctor.report(checks + [doctor.Check("peer", doctor.FAIL, "z")], 0.5)
    assert code == 1 and text.splitlines()[-1] == "1 OK, 1 WARN, 1 FAIL, 0 SKIPPED in 0.5 s"


@pytest.mark.parametrize("key,value,check", [
    ("time", float("nan"), "time"), ("time", "1796029800", "time"), ("time", 1e300, "time"), ("time", True, "time"),
    ("resolve", {"node1": {"result": "ok", "value": ["not an address"]}}, "names"),
    ("resolve", {"node1": {"result": "ok", "value": "10.0.32.11"}}, "names"),
    ("resolve", [], "names"), ("nameservers", "10.0.0.53", "names"), ("hostname", "node2\nOK fencing", "names"),
    ("addresses", [{"interface": "eth0", "address": "10.0.32.12", "prefix": "24"}], "peer"),
    ("files", {"mdlp_rhcs.conf": {"sha256": "a" * 64}}, "settings"),
    ("files", {"mdlp_rhcs.conf": {"mtime": 1e300}}, "settings"),
    ("manager", {"name": "pacemaker", "running": "yes"}, "cluster config"),
    ("agent", {"status": {"rc": "0"}}, "status"), ("agent", ["x"], "status"),
    ("tls", {"subject": "CN=mobile", "not_after": 1e300}, "certificate"),
    ("tls", {"subject": ["CN=mobile"]}, "certificate"),
    ("firewall", {"tool": "iptables", "results": [["udp", 5000000, "ACCEPT", "x", []]]}, "firewall"),
    ("firewall", {"tool": "iptables", "results": [["udp", 5405, "MAYBE", "x", []]]}, "firewall"),
    ("firewall", {"results": "ACCEPT"}, "firewall"),
    ("fence", ["fence-x"], "fencing"), ("fence", [{"device": "x", "rc": 10 ** 100}], "fencing"),
    ("fence", {"device": "x"}, "fencing"),
    ("time", 10 ** 400, "time"), ("fence", [{"device": "x", "seconds": 10 ** 400}], "fencing"),
    ("tls", {"not_after": 100.0}, "certificate"), ("firewall", {"tool": "iptables"}, "firewall"),
])
def test_partner_facts_of_another_shape_are_one_fail_line(key, value, check):
    """Each malformed fact is one FAIL for the check it feeds (with the partner's name, not its word
    for it); every other check still reports; nothing crashes."""
    from mdlp_agents.cluster.doctor.peer import checked_facts
    sent = _facts("node2", time=NOW)
    del sent["received"]
    sent[key] = value
    theirs = checked_facts(sent, "node2")
    theirs["received"] = NOW
    lines = _lines(_facts("node1"), theirs)
    bad = [line for line in lines if "the facts it sent for %s are not what mdlp-cluster sends" % key in line]
    assert bad and all(line.startswith("FAIL") for line in bad), lines
    assert bad[0].split()[1] == (check or "peer").split()[0], bad
    assert "\n" not in "".join(lines) and all(line.split()[0] in ("OK", "WARN", "FAIL", "SKIPPED") for line in lines)
    # the checks the malformed fact does not feed still report on both nodes
    assert len([line for line in lines if line.split()[1] == "validate-all" or key == "agent"]) >= 1


def test_partner_facts_that_are_whole_are_taken_as_they_are():
    from mdlp_agents.cluster.doctor.peer import checked_facts
    sent = _facts("node2")
    del sent["received"]
    assert "_malformed" not in checked_facts(sent, "node2")


def test_what_facts_py_really_sends_is_never_called_malformed():
    """A certificate valid until 9999, many addresses, services down, an old file: real, not malformed."""
    from mdlp_agents.cluster.doctor.peer import checked_facts
    sent = _facts("node2", tls={"subject": "CN=mobile", "not_after": 253402300799},
                  addresses=[{"interface": "veth%d" % i, "address": "10.1.%d.%d" % (i // 250, i % 250 + 1),
                              "prefix": 24} for i in range(1000)])
    sent["agent"]["status"].update(rc=3, down=["svc%d" % i for i in range(40)])
    sent["files"]["mdlp_rhcs.conf"]["mtime"] = -5
    del sent["received"]
    assert "_malformed" not in checked_facts(sent, "node2"), checked_facts(sent, "node2").get("_malformed")


@pytest.mark.parametrize("race,status,words", [
    ({}, "OK", "in a split the node running mdlp wins: priority-fencing-delay 15 s (priority of mdlp), static 5 s "
     "where it runs nowhere, stonith-timeout 90 s; the price: a node lost while running it is fenced up to 20 s later"),
    ({"priority_fencing_delay": 0, "delays": {"fence-node1": 0, "fence-node2": 0}}, "WARN",
     "no fencing delay (neither priority-fencing-delay nor a device's pcmk_delay_base/max or delay): in a split both "
     "nodes fence each other at once and both may die"),
    ({"priorities": {}}, "WARN", "priority-fencing-delay is 15 s, but no resource has a priority: it protects nobody"),
    ({"delays": {"fence-node1": 10}}, "WARN", "priority-fencing-delay 15 s is less than twice the static delay 10 s"),
    ({"priority_fencing_delay": 70}, "WARN", "fencing delays of 75 s leave the fence agent 15 s of stonith-timeout "
     "90 s, and it may need 50 s"),
    # a device's own timeout is the one its fencing has
    ({"timeouts": {"fence-node1": 60}}, "WARN", "fencing delays of 20 s leave the fence agent 40 s of fence-node1's "
     "pcmk_reboot_timeout 60 s"),
    ({"priority_fencing_delay": 0}, "WARN", "only a static delay (5 s on fence-node1): in a split that node wins "
     "wherever mdlp runs"),
    ({"stack": "rgmanager", "delays": {"node1": 15, "node2": 0}}, "OK",
     "node1's fence device waits 15 s: node1 wins a split, wherever mdlp runs"),
    ({"stack": "rgmanager", "delays": {"node1": 0, "node2": 0}}, "WARN", "no fence device waits: in a split both "
     "nodes fence each other at once"),
    ({"stack": "rgmanager", "delays": {"node1": 5, "node2": 5}}, "WARN", "no fence device waits longer than the "
     "other"),
    ({"error": "cannot read the fence configuration: x"}, "SKIPPED", "cannot read the fence configuration: x"),
])
def test_who_wins_a_split(race, status, words):
    mine = _facts("node1")
    mine["race"] = race if "error" in race else dict(mine["race"], **race)
    if race.get("stack") == "rgmanager":
        mine["race"] = {"stack": "rgmanager", "delays": race["delays"]}
    lines = [line for line in _lines(mine, _facts("node2")) if line.split()[1] == "split"]
    assert len(lines) == 1 and lines[0].startswith(status + " ") and words in lines[0], lines



def test_a_margin_the_bmc_may_not_make_is_a_warning():
    """The winner has priority delay less static to power the other node off: a BMC that took 6 s to
    answer status here will not do it in 10."""
    mine = _facts("node1")
    mine["fence"][0]["seconds"] = 6.0
    lines = [line for line in _lines(mine, _facts("node2")) if line.split()[1] == "split"]
    assert len(lines) == 1 and lines[0].startswith("WARN ") and (
        "the winner has 10 s (priority-fencing-delay 15 s less the static 5 s) to power the other node off, less "
        "than twice the 6.0 s its BMC took to answer status here") in lines[0], lines
    mine["fence"][0]["seconds"] = 4.9
    assert [line for line in _lines(mine, _facts("node2")) if line.split()[1] == "split"][0].startswith("OK ")


def test_no_cluster_manager_running_is_a_skipped_split_line():
    mine = _facts("node1", race={"error": "Pacemaker is not running here: x"})
    lines = [line for line in _lines(mine, _facts("node2")) if line.split()[1] == "split"]
    assert len(lines) == 1 and lines[0].startswith("SKIPPED ") and "Pacemaker is not running here" in lines[0]


@pytest.mark.parametrize("change,status,words", [
    ({}, "OK", "a dead service reaches Pacemaker within about a second: mdlp-rhcs is monitored every 0.5 s by the "
     "OCF front, which answers from the watcher's verdict (its watcher says ok)"),
    ({"active": False, "verdict": None}, "OK", "(the watcher runs where mdlp runs)"),
    ({"interval": 30.0}, "WARN", "mdlp-rhcs is monitored every 30 s: a service that dies between two monitors goes "
     "unnoticed up to 30 s"),
    ({"interval": None}, "WARN", "mdlp-rhcs has no recurring monitor: Pacemaker never notices a dead service"),
    ({"front": "agent"}, "WARN", "/usr/lib/ocf/resource.d/websense/mdlp is the Python agent itself (no front: each "
     "monitor starts Python)"),
    ({"front": "missing"}, "WARN", "/usr/lib/ocf/resource.d/websense/mdlp is missing"),
    ({"verdict": None}, "WARN", "mdlp runs here but no watcher vouches for it (no verdict)"),
    ({"verdict": {"healthy": True, "age": 9.0}}, "WARN", "(its verdict is stale)"),
    ({"verdict": {"healthy": True, "age": None}}, "WARN", "(its verdict is stale)"),     # another boot's
    ({"resource": None}, "SKIPPED", "no ocf:websense:mdlp resource in the CIB"),
    ({"stack": "rgmanager", "interval": 5, "scan": 1}, "OK", "rgmanager runs mdlp_rhcs status every 5 s and looks "
     "for due checks every 1 s: a dead service is noticed within 6 s"),
    ({"stack": "rgmanager", "interval": 30, "scan": 10}, "WARN", "noticed within 40 s"),
    ({"stack": "rgmanager", "interval": None, "scan": 10}, "WARN", "no mdlp_rhcs <script> in cluster.conf"),
    ({"error": "cannot read the cluster's configuration: x"}, "SKIPPED", "cannot read the cluster's configuration: x"),
])
def test_how_soon_a_dead_service_is_noticed(change, status, words):
    mine = _facts("node1")
    mine["detection"] = change if "error" in change else dict(mine["detection"], **change)
    lines = [line for line in _lines(mine, _facts("node2")) if line.split()[1] == "detection"]
    assert len(lines) == 1 and lines[0].startswith(status + " ") and words in lines[0], lines
