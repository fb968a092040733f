"""`mdlp-cluster doctor` on a real pair: two Pacemaker nodes of the lab (clusterlab), each with its
own /etc and /root, a real sshd between them (root's key, BatchMode), the mobile agent's
certificate served on 127.0.0.1:443, fence_mdlp devices against ipmi_sim BMCs whose password is
in each node's /etc/mdlp_agents/fence_mdlp.conf.  A clean pair gives all OK within 5 s; each of
the guide's mistakes, planted in turn, gives its FAIL (or WARN) line and exit 1."""

import json
import subprocess
import time

import pytest
from helpers import BIN_DIR

from clusterlab import (
    AGENT_CONFIG,
    PAIR_VIPS,
    PASSWORD,
    Lab,
    _lab_root,
    pair_answers,
    pair_config,
    record,
    require_cluster_tools,
    seed_ssh,
    start_sshd,
    wait_until,
)

pytestmark = pytest.mark.cluster
TOOL = BIN_DIR / "mdlp-cluster"
RING = {"node1": "198.19.1.1", "node2": "198.19.1.2"}
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SUBJECT = "/O=Websense/CN=mobile.example.test"


# the mobile agent's certificate on 127.0.0.1:443: a TLS listener that completes handshakes
TLS_SERVER = r"""
import socket, ssl, sys
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 443))
server.listen(8)
while True:
    conn, _ = server.accept()
    try:
        context.wrap_socket(conn, server_side=True).close()
    except (OSError, ssl.SSLError):
        conn.close()
"""


def sh(*argv):
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True)


def certificate(directory, name, subject):
    key, cert = directory / (name + ".key"), directory / (name + ".crt")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", subject,
       "-keyout", key, "-out", cert)
    return cert, key


class DoctorPair:
    def __init__(self, lab, cluster, root):
        self.lab, self.cluster, self.root = lab, cluster, root
        self.nodes = lab.nodes
        self.answers = root / "answers.toml"

    def doctor(self, node="node1", *args, timeout=60):
        started = time.monotonic()
        proc = self.nodes[node].run(TOOL, "doctor", self.answers, *args, timeout=timeout)
        proc.elapsed = time.monotonic() - started
        proc.lines = proc.stdout.splitlines()
        return proc

    def write(self, node, path, text, mode=0o644):
        target = self.nodes[node].path(path)
        target.write_text(text)
        target.chmod(mode)

    def read(self, node, path):
        return self.nodes[node].path(path).read_text()

    def sshd(self, node, extra=""):
        start_sshd(self.nodes[node], extra)

    def tls(self, node, cert, key):
        self.nodes[node].kill("python3-tls")
        self.nodes[node].run("sh", "-c", "setsid %s %s %s %s </dev/null >/dev/null 2>&1 &" % (
            self.root / "python3-tls", self.root / "tls_server.py", cert, key), check=True)
        wait_until("TLS on %s" % node, lambda: self.nodes[node].run(
            "openssl", "s_client", "-connect", "127.0.0.1:443", timeout=10).returncode == 0, 10)


def _seed_node(node):
    """What the node's /etc holds before it boots (written into its overlay's upper layer)."""
    etc = node.dir / "etc-upper"
    (etc / "mdlp_agents").mkdir(parents=True, exist_ok=True)
    (etc / "hosts").write_text("127.0.0.1 localhost\n%s node1\n%s node2\n" % (RING["node1"], RING["node2"]))
    (etc / "mdlp_agents" / "mdlp_rhcs.conf").write_text(AGENT_CONFIG % {"lab": node.lab.root})
    fence = etc / "mdlp_agents" / "fence_mdlp.conf"
    fence.write_text("[fence]\npassword = %s\n" % PASSWORD)
    fence.chmod(0o600)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    require_cluster_tools()
    root = _lab_root(tmp_path_factory, "doctor")
    lab = Lab(root / "lab", setup=False)
    try:
        lab.setup()
        for name in ("node1", "node2"):
            lab.add_bmc(name)
        cluster = lab.add_cluster("pairA", ["node1", "node2"],
                                  pair_config(lab, "node1", "node2", PAIR_VIPS["pairA"], password_in_cib=False,
                                              priority_fencing_delay="3s"))
        for name in ("node1", "node2"):
            _seed_node(lab.nodes[name])
        seed_ssh(lab, root, RING)
        (root / "answers.toml").write_text(pair_answers(PAIR_VIPS["pairA"], interface="hb0",
                                                         service_config="/etc/mdlp_agents/mdlp_rhcs.conf"))
        (root / "tls_server.py").write_text(TLS_SERVER)
        (root / "python3-tls").symlink_to("/usr/bin/python3")
        certificate(root, "mobile", SUBJECT)
        certificate(root, "other", "/O=Somebody Else/CN=other.example.test")
        started = time.monotonic()
        with lab.logs_on_error():
            cluster.start(timeout=90)
            cluster.wait_group("node1", timeout=60)
        scenario = DoctorPair(lab, cluster, root)
        for name in ("node1", "node2"):
            scenario.sshd(name)
            scenario.tls(name, root / "mobile.crt", root / "mobile.key")
        record("doctor pair: power on -> group started, sshd and TLS up", time.monotonic() - started)
        yield scenario
    finally:
        lab.remove()


def _status(result, check, words):
    """The status of the first line of CHECK that contains WORDS."""
    for line in result.lines:
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1] == check and words in line:
            return parts[0]
    return None


def test_a_clean_pair_is_all_ok_within_five_seconds(pair):
    for node in ("node1", "node2"):
        result = pair.doctor(node)
        assert result.returncode == 0, result.stdout + result.stderr
        body = result.lines[:-1]
        assert body and all(line.startswith("OK ") for line in body), result.stdout
        record("doctor on a clean pair (from %s)" % node, result.elapsed, 5)
        assert result.elapsed < 5, result.elapsed
    checks = {line.split()[1] for line in body}
    assert checks >= {"names", "subnet", "peer", "firewall", "time", "validate-all", "status", "certificate",
                      "settings", "cluster", "fencing", "split", "detection"}, checks
    assert PASSWORD not in result.stdout
    report = json.loads(pair.doctor("node1", "--json").stdout)
    assert report["counts"] == {"OK": len(body), "WARN": 0, "FAIL": 0, "SKIPPED": 0}
    assert _status(result, "fencing", "from node2, fence-node1 (fence_mdlp ipmi at 198.18.10.201) answers status")
    assert _status(result, "split", "in a split the node running mdlp wins: priority-fencing-delay 3 s (priority of "
                   "mdlp), static 1 s where it runs nowhere, stonith-timeout 60 s") == "OK"


def _hosts(pair, node, text):
    original = pair.read(node, "/etc/hosts")
    pair.write(node, "/etc/hosts", text)
    return lambda: pair.write(node, "/etc/hosts", original)


def _plant_wrong_hosts(pair):
    return _hosts(pair, "node2", "127.0.0.1 localhost\n198.19.1.99 node1\n198.19.1.2 node2\n")


def _plant_blocked_port(pair):
    # pcsd's port (not used by this lab's corosync, so the cluster itself stays whole)
    rule = ["INPUT", "-s", RING["node2"], "-p", "tcp", "--dport", "2224", "-j", "DROP"]
    pair.nodes["node1"].run("iptables", "-A", *rule, check=True)
    return lambda: pair.nodes["node1"].run("iptables", "-D", *rule, check=True)


def _plant_skew(seconds):
    def plant(pair):
        pair.sshd("node2", "SetEnv LD_PRELOAD=%s FAKETIME=%+ds" % (FAKETIME, seconds))
        return lambda: pair.sshd("node2")
    return plant


def _plant_other_certificate(pair):
    pair.tls("node2", pair.root / "other.crt", pair.root / "other.key")
    return lambda: pair.tls("node2", pair.root / "mobile.crt", pair.root / "mobile.key")


def _plant_other_config(pair):
    original = pair.read("node2", "/etc/mdlp_agents/mdlp_rhcs.conf")
    pair.write("node2", "/etc/mdlp_agents/mdlp_rhcs.conf", original + "# edited on node2 only\n")
    return lambda: pair.write("node2", "/etc/mdlp_agents/mdlp_rhcs.conf", original)


def _plant_dead_bmc(pair):
    pair.lab.bmcs["node2"].freeze()
    return pair.lab.bmcs["node2"].thaw


def _plant_wrong_password(pair):
    original = pair.read("node1", "/etc/mdlp_agents/fence_mdlp.conf")
    pair.write("node1", "/etc/mdlp_agents/fence_mdlp.conf", "[fence]\npassword = not-the-bmc-s3cret\n", 0o600)
    return lambda: pair.write("node1", "/etc/mdlp_agents/fence_mdlp.conf", original, 0o600)


FAULTS = [
    ("wrong hosts entry", _plant_wrong_hosts,
     [("FAIL", "names", "on node2: node1 resolves to 198.19.1.99, not 198.19.1.1")]),
    ("blocked port", _plant_blocked_port,
     [("FAIL", "firewall", "on node1, cluster traffic from node2 is blocked: tcp/2224 (DROP: -A INPUT -s "
                           "198.19.1.2/32 -p tcp -m tcp --dport 2224 -j DROP)")]),
    ("clock 10 s ahead", _plant_skew(10), [("FAIL", "time", "node2 is +10.")]),
    ("clock 3 s ahead", _plant_skew(3), [("WARN", "time", "node2 is +3.")]),
    ("other certificate", _plant_other_certificate,
     [("FAIL", "certificate", "different Subjects: node1: CN=mobile.example.test,O=Websense; "
                              "node2: CN=other.example.test,O=Somebody Else")]),
    ("other config", _plant_other_config,
     [("FAIL", "settings", "mdlp_rhcs.conf differs between the nodes")]),
    ("dead BMC", _plant_dead_bmc,
     [("FAIL", "fencing", "from node1, fence-node2 (fence_mdlp ipmi at 198.18.10.202) does not answer status "
                          "(exit 1): fence_mdlp: status of node2: no backend could tell (last: ipmi: ipmitool timed "
                          "out after"),
      ("OK", "fencing", "from node2, fence-node1")]),
    ("wrong BMC password", _plant_wrong_password,
     [("FAIL", "fencing", "from node1, fence-node2 (fence_mdlp ipmi at 198.18.10.202) does not answer status"),
      ("FAIL", "settings", "fence_mdlp.conf differs between the nodes"),
      ("OK", "fencing", "from node2, fence-node1")]),
]


@pytest.mark.parametrize("fault,plant,expected", FAULTS, ids=[f[0] for f in FAULTS])
def test_each_planted_fault_is_found(pair, fault, plant, expected):
    restore = plant(pair)
    try:
        result = pair.doctor("node1")
    finally:
        restore()
    for status, check, words in expected:
        assert _status(result, check, words) == status, (fault, result.stdout)
    warn_only = all(status == "WARN" for status, _, _ in expected)
    assert result.returncode == (0 if warn_only else 1), result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert PASSWORD not in result.stdout and "not-the-bmc-s3cret" not in result.stdout
    assert result.elapsed < 15, result.elapsed


def test_bad_input_is_one_line_each_never_ok(pair):
    unknown = pair.doctor("node1", "--peer", "node9")
    assert unknown.returncode == 1
    assert _status(unknown, "peer", "unknown node 'node9': cluster pairA of") == "FAIL", unknown.stdout

    pair.nodes["node2"].kill("sshd")
    try:
        refused = pair.doctor("node1")
    finally:
        pair.sshd("node2")
    assert refused.returncode == 1
    assert _status(refused, "peer", "ssh 198.19.1.2: ssh: connect to host 198.19.1.2 port 22: Connection refused") \
        == "FAIL", refused.stdout
    for check in ("time", "settings"):
        assert _status(refused, check, "no answer") == "SKIPPED", refused.stdout
    assert not any(line.startswith("OK") and "node2" in line.split(None, 2)[2].split(":")[0]
                   for line in refused.lines if line.split()[1] in ("status", "validate-all"))

    keys = pair.nodes["node2"].path("/root/.ssh/authorized_keys")
    saved = keys.read_text()
    keys.write_text("")
    try:
        denied = pair.doctor("node1")
    finally:
        keys.write_text(saved)
    assert _status(denied, "peer", "Permission denied") == "FAIL", denied.stdout

    # an address where nothing answers: the doctor's own --timeout bounds it
    (pair.root / "blackhole.toml").write_text(pair.answers.read_text().replace("198.19.1.2", "198.19.1.77"))
    started = time.monotonic()
    black = pair.nodes["node1"].run(TOOL, "doctor", pair.root / "blackhole.toml", "--timeout", "4", timeout=60)
    assert time.monotonic() - started < 10
    assert black.returncode == 1 and "FAIL    peer" in black.stdout, black.stdout
    assert "Traceback" not in black.stdout + black.stderr
