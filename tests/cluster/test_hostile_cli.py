"""mdlp-cluster, given hostile and careless input: one class of hole per test, each against the real
programs: a lie (healthy when not, fenced when not), a hang past the deadline, a leak (a process
or a file left behind), an injection.  Grow this file with every new class found."""

import os
import stat
import subprocess
import time
import xml.parsers.expat

import pytest
from helpers import BIN_DIR, REPO, free_port, port_open, run_cluster, sshd_home

TOOL = BIN_DIR / "mdlp-cluster"


# -- mdlp-cluster: nothing from the answer file runs, nothing is written where it should not be
def tool(*args, cwd=REPO, env=None):
    return run_cluster(*args, cwd=cwd, env=env, text=False)


INI = (REPO / "examples" / "cluster-2node.ini").read_text()


@pytest.mark.parametrize("address", ["fe80::1%eth0", "fe80::1%eth0 -j ACCEPT;touch${IFS}PWNED;$(id)'\"<x>",
                                     "fe80::1%$(reboot)"])
def test_scope_ids_never_reach_a_render(tmp_path, address):
    answers = tmp_path / "site.ini"
    answers.write_text(INI.replace("address = 10.0.32.12", "address = " + address))
    for render in (["render", "pacemaker"], ["render", "firewall", "-f", "firewalld"], ["render", "firewall"],
                   ["render", "hosts"], ["render", "rhcs"]):
        result = tool(*render, answers)
        assert result.returncode == 2 and result.stdout == b"", (render, result)
        assert result.stderr.count(b"\n") == 1 and b"scope id" in result.stderr, result


def test_rendered_shell_lines_quote_every_value_with_shlex(tmp_path):
    """Whatever a value holds, the pcs and firewalld scripts carry it as one word: run the
    script with a recording stand-in for pcs/firewall-cmd and compare the words."""
    answers = tmp_path / "site.ini"
    answers.write_text(INI.replace("fence_username = admin", "fence_username = ad min$(touch PWNED)"))
    result = tool("render", "pacemaker", answers)
    if result.returncode == 2:   # refused is fine too: then nothing can reach a script
        assert result.stderr.count(b"\n") == 1
        return
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "argv"
    stub = bindir / "pcs"
    stub.write_text("#!/usr/bin/python3\nimport json, sys\nopen(%r, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                    % str(record))
    stub.chmod(0o755)
    run = subprocess.run(["sh", "-c", result.stdout.decode()], cwd=str(tmp_path),
                         env={"PATH": "%s:/usr/bin:/bin" % bindir}, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run
    assert not (tmp_path / "PWNED").exists()
    assert "username=ad min$(touch PWNED)" in record.read_text().replace('\\"', '"')


def test_answer_file_names_with_hyphens_keep_the_xml_well_formed(tmp_path):
    for name in ("x---y.ini", "x--.ini", "-.ini", "a----------b.ini"):
        answers = tmp_path / name
        answers.write_text(INI)
        for render in (["render", "rhcs"], ["render", "pacemaker", "-f", "cib"]):
            result = tool(*render, "./" + name, cwd=tmp_path)
            assert result.returncode == 0, (name, result)
            xml.parsers.expat.ParserCreate().Parse(result.stdout, True)   # raises if not well-formed


def test_render_output_never_follows_a_planted_link(tmp_path):
    """The old temporary name was OUTPUT.tmp.PID: plant links at every name an attacker could
    guess for this run (exec keeps the PID) and see that only OUTPUT changes."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o600)
    out = tmp_path / "out.hosts"
    script = ('for n in "$1.tmp.$$" "$1.$$.tmp" ".out.hosts.$$.tmp"; do ln -s "$2" "$n"; done; '
              'exec "$3" render hosts "$4" -o "$1"')
    answers = tmp_path / "site.ini"
    answers.write_text(INI)
    result = subprocess.run(["sh", "-c", script, "sh", str(out), str(victim), str(TOOL), str(answers)],
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result
    assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert out.is_file() and not out.is_symlink() and "node1" in out.read_text()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp") and not os.path.islink(tmp_path / p)]


def test_non_utf8_answer_path_and_deep_nesting_are_one_line_and_leave_nothing(tmp_path):
    raw_dir = os.fsencode(str(tmp_path))
    odd = raw_dir + b"/site\xff.ini"
    with open(odd, "wb") as handle:
        handle.write(INI.encode())
    out = raw_dir + b"/out.conf"
    result = subprocess.run([str(TOOL), "render", "rhcs", odd, "-o", out], capture_output=True, timeout=60)
    assert result.returncode == 0 and result.stderr == b"", result
    assert b"\xef\xbf\xbd" in open(out, "rb").read()   # the undecodable byte shown as U+FFFD
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    nested = tmp_path / "nested.toml"
    nested.write_text("[site]\ndns_name = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n")
    for answers in (deep, nested):
        result = tool("render", "rhcs", answers, "-o", tmp_path / "never.conf")
        assert result.returncode == 2 and result.stderr.count(b"\n") == 1 and b"Traceback" not in result.stderr, \
            result
    assert sorted(os.listdir(tmp_path)) == sorted(["deep.toml", "nested.toml", "out.conf",
                                                   os.fsdecode(b"site\xff.ini")])


@pytest.mark.parametrize("node_attrs,expected", [
    ('online="true" unclean="false"', (0, "started")),
    ('online="false" unclean="true"', (1, "recovering")),
    ('online="false" unclean="false"', (1, "recovering")),
])
def test_status_never_calls_a_lost_node_started(tmp_path, node_attrs, expected):
    recording = tmp_path / "crm_mon.xml"
    recording.write_text(
        '<pacemaker-result api-version="2.2" request="crm_mon --output-as=xml">'
        '<summary><current_dc present="true" with_quorum="true"/></summary>'
        '<nodes><node name="n1" id="1" %s pending="false"/>'
        '<node name="n2" id="2" online="true" unclean="false" pending="false"/></nodes>'
        '<resources><group id="mdlp" number_resources="2">'
        '<resource id="mdlp-ip" resource_agent="ocf:heartbeat:IPaddr2" role="Started" failed="false">'
        '<node name="n1" id="1" cached="true"/></resource>'
        '<resource id="mdlp-rhcs" resource_agent="ocf:websense:mdlp" role="Started" failed="false">'
        '<node name="n1" id="1" cached="true"/></resource></group></resources>'
        '<status code="0" message="OK"/></pacemaker-result>' % node_attrs)
    result = tool("status", "--json", "--from", recording)
    assert result.returncode == expected[0], result
    assert '"state": "%s"' % expected[1] in result.stdout.decode(), result


def test_fifos_where_mdlp_cluster_reads_files_are_errors_not_hangs(tmp_path):
    fifo = tmp_path / "site.toml"
    os.mkfifo(fifo)
    for args in (["render", "rhcs", fifo], ["validate", fifo], ["status", "--from", fifo]):
        started = time.monotonic()
        result = tool(*args)
        assert result.returncode in (2, 4) and b"not a regular file" in result.stderr, (args, result)
        assert result.stderr.count(b"\n") == 1 and time.monotonic() - started < 5, result


# -- doctor: what the partner sends is text from another machine ------------------------------------
class FakePartner:
    """A real sshd on a loopback port whose only key runs a forced command: the partner's `doctor
    --facts` answers whatever the test puts in its file.  The doctor reaches it as `--peer peer-node`
    through root's ssh_config, which a mount namespace of the test's own provides."""

    def __init__(self, root):
        self.root = root
        self.port = free_port()
        self.answer = root / "answer"
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True)
        (root / "authorized_keys").write_text('command="%s" %s' % (root / "answer.sh",
                                                                   (root / "client_key.pub").read_text()))
        (root / "answer.sh").write_text("#!/bin/sh\nexec %s\n" % "cat %s" % self.answer)
        (root / "answer.sh").chmod(0o755)
        (root / "sshd_config").write_text(
            "ListenAddress 127.0.0.1\nPort %d\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin yes\n"
            % (self.port, root / "host_key", root / "sshd.pid", root / "authorized_keys") + sshd_home(root))
        (root / "ssh_config").write_text(
            "Host peer-node\n  HostName 127.0.0.1\n  Port %d\n  User root\n  IdentityFile %s\n"
            "  UserKnownHostsFile %s\n  StrictHostKeyChecking accept-new\n"
            % (self.port, root / "client_key", root / "known_hosts"))
        os.makedirs("/run/sshd", exist_ok=True)
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(root / "sshd_config")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(root / "sshd.log", "a"))
        end = time.monotonic() + 10
        while not port_open(self.port) and time.monotonic() < end:
            time.sleep(0.05)

    def says(self, text):
        self.answer.write_bytes(text if isinstance(text, bytes) else text.encode())

    def doctor(self, *args):
        """mdlp-cluster doctor --peer peer-node ARGS, root's ~/.ssh/config being ours: (result, peak RSS KiB)."""
        script = ('mount -t tmpfs -o mode=0700 tmpfs /root && mkdir -m 700 /root/.ssh && '
                  'cp "$1" /root/.ssh/config && shift && exec "$@"')
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                                 str(self.root / "ssh_config"), str(TOOL), "doctor", "--peer", "peer-node"]
                                + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate(timeout=120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())

    def stop(self):
        self.sshd.kill()
        self.sshd.wait()


@pytest.fixture
def partner(tmp_path):
    fake = FakePartner(tmp_path)
    yield fake
    fake.stop()


def _good_facts():
    """This machine's own facts, as `doctor --facts` prints them: the shape the partner sends."""
    import json
    facts = tool("doctor", "--facts", "--names", "peer-node", "--timeout", "4")
    assert facts.returncode == 0, facts
    return json.loads(facts.stdout)


@pytest.mark.parametrize("key,value,check", [
    ("time", float("nan"), "time"), ("time", float("inf"), "time"), ("time", "1796029800", "time"),
    ("resolve", {"peer-node": {"result": "ok", "value": ["fe80::1%$(reboot)"]}}, "names"),
    ("addresses", "eth0", "peer"), ("tls", {"subject": "CN=x", "not_after": 1e308}, "certificate"),
    ("firewall", {"tool": "iptables", "results": [["udp", 5000000, "ACCEPT", "x", []]]}, "firewall"),
    ("fence", [{"device": "x", "seconds": "0.2"}], "fencing"), ("manager", [], "cluster"),
    ("hostname", "peer-node\nOK      fencing          all fine", "names"),
])
def test_partner_facts_of_another_shape_are_a_fail_line_not_a_crash(partner, key, value, check):
    import json
    facts = _good_facts()
    facts[key] = value
    partner.says(json.dumps(facts))
    result = partner.doctor("--timeout", "8")
    assert result.returncode == 1 and "internal error" not in result.stderr, result
    lines = result.stdout.splitlines()
    bad = [line for line in lines if "the facts it sent for %s are not what mdlp-cluster sends" % key in line]
    assert bad and bad[0].split()[:2] == ["FAIL", check], lines
    assert any(line.split()[1] == "peer" and line.startswith("OK") for line in lines), lines   # the rest stands
    assert not [line for line in lines if line.startswith("OK") and "fencing" in line and "all fine" in line]


def test_a_partner_answering_hundreds_of_mb_is_not_read_whole(partner):
    """300 MB of answer: the doctor stops reading at its cap, says so in the peer's FAIL line, and its
    peak memory stays far below the answer's size."""
    (partner.root / "answer.sh").write_text("#!/bin/sh\nexec head -c 300000000 /dev/zero\n")
    script = ('mount -t tmpfs -o mode=0700 tmpfs /root && mkdir -m 700 /root/.ssh && cp "$1" /root/.ssh/config && '
              'shift && exec "$@"')
    # measured from a small launcher: a child's peak RSS counts the memory of whoever forked it
    # (pytest's own, late in a run), so the doctor is forked from a fresh interpreter that reports it
    measure = ("import resource, subprocess, sys\nproc = subprocess.run(sys.argv[2:])\n"
               "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
               "sys.exit(proc.returncode)\n")
    peak = partner.root / "peak-kib"
    doctor = subprocess.run(["python3", "-c", measure, str(peak), "unshare", "--mount", "--propagation", "private",
                             "sh", "-c", script, "sh", str(partner.root / "ssh_config"), str(TOOL), "doctor", "--peer",
                             "peer-node", "--timeout", "20"], capture_output=True, timeout=120)
    lines = doctor.stdout.decode().splitlines()
    assert doctor.returncode == 1 and b"internal error" not in doctor.stderr, doctor
    assert any(line.startswith("FAIL") and "printed more than" in line for line in lines), lines
    assert int(peak.read_text()) < 150 * 1024, peak.read_text()       # KiB


@pytest.mark.parametrize("peer", ["fe80::1%eth0", "fe80::1%$(reboot)", "10.0.0.1 -oProxyCommand=x", "-oProxyCommand=x",
                                  "node\u00e9", "a..b"])
def test_peers_are_names_or_addresses_by_their_grammar(peer):
    result = tool("doctor", "--peer", peer)
    assert result.returncode == 2 and result.stderr.count(b"\n") == 1, result
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize("rules,verdict", [
    (["-N DROPPER", "-A INPUT -s 10.0.32.12/32 -g DROPPER", "-A DROPPER -j DROP"], "DROP"),
    (["-A INPUT -s 10.0.32.12/32 -m comment --comment -j -j DROP"], "DROP"),
    (["-A INPUT -s 10.0.32.12/32 -m comment --comment \"-s 10.0.32.99 -j ACCEPT\" -j REJECT"], "REJECT"),
    (["-A INPUT -m mark --mark 0x1 -j DROP"], "ACCEPT"),
])
def test_the_firewall_fact_of_a_node_is_what_its_iptables_does(rules, verdict):
    """doctor --facts in a network namespace of the test's own, whose real iptables holds RULES: the
    verdict for the partner's corosync port, and a rule it cannot evaluate named as a doubt."""
    import json
    import uuid
    ns = "mdlp-hf-%s" % uuid.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for rule in rules:
            subprocess.run(["ip", "netns", "exec", ns, "iptables"] + _words(rule), check=True)
        proc = subprocess.run(["ip", "netns", "exec", ns, str(TOOL), "doctor", "--facts", "--names", "node1",
                               "--partner", "node2", "--partner-address", "10.0.32.12", "--timeout", "6"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc
        wall = json.loads(proc.stdout)["firewall"]
        corosync = [r for r in wall["results"] if r[:2] == ["udp", 5405]][0]
        assert wall["tool"] == "iptables" and corosync[2] == verdict, wall
        if "mark" in rules[0]:
            assert corosync[4] == ["-A INPUT -m mark --mark 0x1 -j DROP"], corosync
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


def _words(rule):
    import shlex
    return shlex.split(rule)
