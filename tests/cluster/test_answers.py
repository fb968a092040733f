"""cluster/answers.py: the answer file, checked in-process -- each broken answer is one line that
names the file, the table and the key (the CLI's exit 2 for them: cluster/test_cluster_tool_cli.py)."""

import pytest
from helpers import REPO

from mdlp_agents.cluster.site.answers import AnswerError, load

pytestmark = pytest.mark.inprocess

TOML = (REPO / "examples" / "cluster-2node.toml").read_text()
INI = (REPO / "examples" / "cluster-2node.ini").read_text()


def _load(tmp_path, text, suffix=".toml"):
    path = tmp_path / ("site" + suffix)
    path.write_text(text)
    return load(str(path)), str(path)


def _error(tmp_path, text, suffix=".toml"):
    path = tmp_path / ("site" + suffix)
    path.write_text(text)
    with pytest.raises(AnswerError) as caught:
        load(str(path))
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith(str(path) + ": ") and "\n" not in message
    return message[len(str(path)) + 2:]


@pytest.mark.parametrize("text,suffix", [(TOML, ".toml"), (INI, ".ini")], ids=["toml", "ini"])
def test_the_examples_read_the_same_in_toml_and_ini(tmp_path, text, suffix):
    site, _ = _load(tmp_path, text, suffix)
    cluster = site.cluster()
    assert (cluster.name, cluster.floating_ip, cluster.prefix, cluster.interface) == ("mobile-cs", "10.0.32.201", 24,
                                                                                      "eth0")
    assert [(n.name, n.address, n.bmc, n.nodeid) for n in cluster.nodes] == [
        ("node1", "10.0.32.11", "10.0.33.11", 1), ("node2", "10.0.32.12", "10.0.33.12", 2)]
    assert cluster.failover_order == ["node1", "node2"] and cluster.fence_backend == "ipmi"
    assert (site.fence_username, site.fence_lanplus, site.fence_delay, site.dns_ttl) == ("admin", True, 15, 60)


BROKEN_TOML = {
    "unknown table": (TOML + "\n[extra]\nx = 1\n", "unknown table(s) extra (use [site] and [[cluster]])"),
    "secret in site": (TOML.replace('[site]\n', '[site]\nfence_password = "pw"\n'),
                       "[site] fence_password: secrets do not belong in the answer file; put them in "
                       "/etc/mdlp_agents/fence_mdlp.conf ([fence] password = ...)"),
    "secret deep in a node": (TOML.replace('bmc = "10.0.33.12" }', 'bmc = "10.0.33.12", x = {passwd = "pw"} }'),
                              "cluster mobile-cs passwd: secrets do not belong in the answer file; put them in "
                              "/etc/mdlp_agents/fence_mdlp.conf ([fence] password = ...)"),
    "unknown site key": (TOML.replace('[site]\n', '[site]\ncolour = "blue"\n'),
                         "[site]: unknown key 'colour' (known: dns_name, dns_ttl, fence_backend, fence_cipher, "
                         "fence_delay, fence_identity_file, fence_lanplus, fence_timeout, fence_username, "
                         "ip_monitor_interval, "
                         "monitor_interval, script, service_config, stickiness)"),
    "backend": (TOML.replace('"ipmi"', '"ilo"'), "[site] fence_backend: 'ilo' is not one of ipmi, ssh, noop"),
    "interval": (TOML.replace("monitor_interval = 0.5", "monitor_interval = 0"),
                 "[site] monitor_interval: 0 is not a number of seconds between 0.5 and 3600 (in whole milliseconds)"),
    "interval too fine": (TOML.replace("monitor_interval = 0.5", "monitor_interval = 0.5001"),
                          "[site] monitor_interval: 0.5001 is not a number of seconds between 0.5 and 3600 (in whole "
                          "milliseconds)"),
    "not a number": (TOML.replace("monitor_interval = 0.5", 'monitor_interval = "often"'),
                     "[site] monitor_interval: 'often' is not a number of seconds between 0.5 and 3600"),
    "infinite": (TOML.replace("monitor_interval = 0.5", 'monitor_interval = inf'),
                 "[site] monitor_interval: inf is not a number of seconds between 0.5 and 3600"),
    "a boolean": (TOML.replace("monitor_interval = 0.5", 'monitor_interval = true'),
                  "[site] monitor_interval: expected a whole number or a number or text, not a bool"),
    "a list for text": (TOML.replace('fence_username = "admin"', 'fence_username = ["admin"]'),
                        "[site] fence_username: expected text, not a list"),
    "control character": (TOML.replace('fence_username = "admin"', 'fence_username = "ad\\u0007min"'),
                          "[site] fence_username: control characters are not allowed"),
    "relative path": (TOML.replace('"/etc/mdlp_agents/mdlp_rhcs.conf"', '"etc/mdlp_rhcs.conf"'),
                      "[site] service_config: 'etc/mdlp_rhcs.conf' is not an absolute path without spaces"),
    "no cluster": (TOML.split("[[cluster]]")[0], "no cluster: add a [[cluster]] table (TOML) or a [cluster NAME] "
                   "section (INI)"),
    "missing vip": (TOML.replace('floating_ip = "10.0.32.201"\n', ''), "cluster mobile-cs: missing 'floating_ip'"),
    "bad vip": (TOML.replace('"10.0.32.201"', '"10.0.32.300"'),
                "cluster mobile-cs floating_ip: '10.0.32.300' is not an IP address"),
    "scope id": (TOML.replace('"10.0.32.201"', '"fe80::1%eth0"'),
                 "cluster mobile-cs floating_ip: 'fe80::1%eth0' has a scope id: give an address without %..."),
    "prefix": (TOML.replace("prefix = 24", "prefix = 33"), "cluster mobile-cs prefix: 33 is not between 1 and 32"),
    "bad name": (TOML.replace('name = "mobile-cs"', 'name = "mobile cs"'),
                 "cluster mobile cs name: 'mobile cs' is not a valid name (letters, digits, '.', '-')"),
    "vip is a node": (TOML.replace('"10.0.32.201"', '"10.0.32.11"'),
                      "cluster mobile-cs node node1 address: 10.0.32.11 is also the floating IP of cluster mobile-cs"),
    "shared bmc": (TOML.replace('"10.0.33.12"', '"10.0.33.11"'),
                   "cluster mobile-cs node node2 bmc: 10.0.33.11 is also the BMC of node node1"),
    "no bmc for ipmi": (TOML.replace(', bmc = "10.0.33.12"', ''),
                        "cluster mobile-cs node node2: missing 'bmc' (the address of its IPMI BMC; fence_backend "
                        "is ipmi)"),
    "node twice": (TOML.replace('name = "node2"', 'name = "node1"'),
                   "cluster mobile-cs node node1: node name node1 is used twice"),
    "three nodes": (TOML.replace(']\n# ', ']\n').replace(
        '    { name = "node2", address = "10.0.32.12", bmc = "10.0.33.12" },\n',
        '    { name = "node2", address = "10.0.32.12", bmc = "10.0.33.12" },\n'
        '    { name = "node3", address = "10.0.32.13", bmc = "10.0.33.13" },\n'),
        "cluster mobile-cs: 3 nodes; the guide's clusters are pairs (1 or 2 nodes), scale out with more clusters"),
    "order": (TOML.replace('["node1", "node2"]', '["node1", "node1"]'),
              "cluster mobile-cs failover_order: node1, node1 must list each node of the cluster once"),
    "a node that is not a table": (TOML.replace('    { name = "node2", address = "10.0.32.12", bmc = "10.0.33.12" },\n',
                                                '    "node2",\n'),
                                   "cluster mobile-cs node 2: must be a table with name and address"),
    "not toml": ("[site\n", "not valid TOML: "),
    "a delay the fencer cannot wait": (TOML.replace("[site]\n", "[site]\nfence_delay = 90\n"),
                                       "[site] fence_timeout: 90 is too short: with fence_delay = 90, fencing delays "
                                       "of 120 s leave the fence agent 0 s of stonith-timeout 90 s, and it may need "
                                       "50 s (Pacemaker before 2.1.6 spends the delays from the timeout)"),
    "a fencer timeout below a delay": (TOML.replace("[site]\n", "[site]\nfence_delay = 60\nfence_timeout = 60\n"),
                                       "[site] fence_timeout: 60 is too short: with fence_delay = 60, fencing delays "
                                       "of 80 s leave the fence agent 0 s of stonith-timeout 60 s, and it may need "
                                       "50 s (Pacemaker before 2.1.6 spends the delays from the timeout)"),
    "delays that leave the agent too little": (
        TOML.replace("[site]\n", "[site]\nfence_delay = 45\n"),
        "[site] fence_timeout: 90 is too short: with fence_delay = 45, fencing delays of 60 s leave the fence agent "
        "30 s of stonith-timeout 90 s, and it may need 50 s (Pacemaker before 2.1.6 spends the delays from the "
        "timeout)"),
    "a delay too short to decide": (TOML.replace("[site]\n", "[site]\nfence_delay = 3\n"),
                                    "[site] fence_delay: 3 s cannot decide a split: 0 for none, or 5..300 (the "
                                    "winner's BMC must power the other node off within two thirds of it)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_TOML))
def test_broken_toml_answers(tmp_path, case):
    text, expected = BROKEN_TOML[case]
    message = _error(tmp_path, text)
    assert message.startswith(expected) if expected.endswith(": ") else message == expected


BROKEN_INI = {
    "default section": (INI + "[DEFAULT]\nx = 1\n", "[DEFAULT]: unknown section (use [site], [cluster NAME], "
                        "[node NAME])"),
    "not a key value line": (INI + "password hunter2\n", "not a valid INI file: line 19: not a 'key = value' line"),
    "node without cluster": (INI + "[cluster other]\nfloating_ip = 10.0.32.202\n[node node3]\naddress = 10.0.32.13\n",
                             "[node node1]: which cluster? add 'cluster = NAME' (there are 2)"),
    "unknown owner": (INI.replace("[node node2]\n", "[node node2]\ncluster = nowhere\n"),
                      "[node node2]: 'cluster = nowhere' names no [cluster] section"),
    "keys keep their case": (INI.replace("address = 10.0.32.12", "Address = 10.0.32.12"),
                             "cluster mobile-cs node node2: unknown key 'Address' (known: address, bmc, cluster, "
                             "name, nodeid)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_INI))
def test_broken_ini_answers(tmp_path, case):
    text, expected = BROKEN_INI[case]
    message = _error(tmp_path, text, ".ini")
    assert message == expected
    assert "hunter2" not in message


def test_choosing_a_cluster(tmp_path):
    four = (REPO / "examples" / "cluster-4node.toml").read_text()
    site, path = _load(tmp_path, four)
    assert [c.name for c in site.clusters] == ["mobile-cs-a", "mobile-cs-b"]
    assert site.cluster("mobile-cs-b").name == "mobile-cs-b"
    with pytest.raises(AnswerError, match=r": 2 clusters \(mobile-cs-a, mobile-cs-b\): choose one with --cluster$"):
        site.cluster()
    with pytest.raises(AnswerError, match=r": no cluster named 'c' \(there are: mobile-cs-a, mobile-cs-b\)$"):
        site.cluster("c")


@pytest.mark.parametrize("delay,timeout", [(0, 50), (5, 60), (30, 90), (15, 90)])
def test_delays_that_leave_the_agent_its_time_are_accepted(tmp_path, delay, timeout):
    """fence_delay 0 is 'no delay' (the doctor WARNs of it); the agent's 50 s fit after the delays."""
    path = tmp_path / "answers.toml"
    path.write_text(TOML.replace("[site]\n", "[site]\nfence_delay = %d\nfence_timeout = %d\n" % (delay, timeout)))
    assert load(str(path)).fence_timeout == timeout
