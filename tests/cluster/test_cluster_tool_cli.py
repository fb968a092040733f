"""mdlp-cluster: renders of the examples (golden files), validate, broken answers, status from
recorded clustat -x output.  (Loading a render into a running Pacemaker: test_cluster_tool_lab.py.)

UPDATE_GOLDEN=1 rewrites the golden files from the current renders -- then read the diff."""

import json
import os
import re
import subprocess

import pytest
from helpers import BIN_DIR, REPO, run_cluster

from rhcs_harness import Appliance

TOOL = BIN_DIR / "mdlp-cluster"
GOLDEN = REPO / "tests" / "golden"
DATA = REPO / "tests" / "data"
TWO = "examples/cluster-2node.toml"
FOUR = "examples/cluster-4node.toml"
RENDERS = [
    ("2node-rhcs.conf", ["render", "rhcs", TWO]),
    ("2node-pcs.sh", ["render", "pacemaker", TWO]),
    ("2node-crm.txt", ["render", "pacemaker", "--format", "crm", TWO]),
    ("2node-cib.xml", ["render", "pacemaker", "--format", "cib", TWO]),
    ("2node-iptables.txt", ["render", "firewall", TWO]),
    ("2node-iptables-pacemaker.txt", ["render", "firewall", "--stack", "pacemaker", TWO]),
    ("2node-firewalld.sh", ["render", "firewall", "--format", "firewalld", TWO]),
    ("2node-hosts.txt", ["render", "hosts", TWO]),
    ("4node-a-rhcs.conf", ["render", "rhcs", "--cluster", "mobile-cs-a", FOUR]),
    ("4node-b-rhcs.conf", ["render", "rhcs", "--cluster", "mobile-cs-b", FOUR]),
    ("4node-a-pcs.sh", ["render", "pacemaker", "--cluster", "mobile-cs-a", FOUR]),
    ("4node-b-pcs.sh", ["render", "pacemaker", "--cluster", "mobile-cs-b", FOUR]),
    ("4node-b-crm.txt", ["render", "pacemaker", "-f", "crm", "-c", "mobile-cs-b", FOUR]),
    ("4node-iptables.txt", ["render", "firewall", FOUR]),
    ("4node-hosts.txt", ["render", "hosts", FOUR]),
    ("4node-dns.zone", ["render", "dns", FOUR]),
]


tool = run_cluster


@pytest.mark.parametrize("name,args", RENDERS, ids=[r[0] for r in RENDERS])
def test_render_matches_golden(name, args):
    proc = tool(*args)
    assert proc.returncode == 0 and proc.stderr == "", proc
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(proc.stdout)
    assert proc.stdout == golden.read_text()


def test_toml_without_a_toml_reader_is_one_line_pointing_at_tomli_and_ini(tmp_path):
    """Python < 3.11 without tomli (a bare EL8 node): one line naming the way out, exit 2.
    Modules of these names on PYTHONPATH (searched before the standard library) hide both readers."""
    hide = tmp_path / "hide"
    hide.mkdir()
    for name in ("tomllib", "tomli"):
        (hide / (name + ".py")).write_text("raise ImportError('hidden by the test')\n")
    proc = tool("render", "rhcs", TWO, env={"PYTHONPATH": str(hide)})
    assert proc.returncode == 2 and proc.stdout == "", proc
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc
    assert "tomli" in proc.stderr and "INI" in proc.stderr, proc
    # the INI spelling of the same answers still renders there
    ini = tool("render", "rhcs", "examples/cluster-2node.ini", env={"PYTHONPATH": str(hide)})
    assert ini.returncode == 0 and "<cluster " in ini.stdout, ini


def test_ini_answers_render_the_same_as_toml():
    for kind in (["rhcs"], ["pacemaker", "-f", "cib"], ["hosts"]):
        toml = tool("render", *kind, TWO).stdout
        ini = tool("render", *kind, "examples/cluster-2node.ini").stdout
        assert ini.replace("cluster-2node.ini", "cluster-2node.toml") == toml


def test_no_secret_in_any_render():
    for _, args in RENDERS:
        out = tool(*args).stdout
        assert not re.search(r"passw(or)?d\s*=\s*[\"']?\w", out), args


@pytest.mark.parametrize("name", ["2node-rhcs.conf", "4node-a-rhcs.conf", "4node-b-rhcs.conf"])
def test_rendered_cluster_conf_is_clean_on_a_node(tmp_path, name):
    """On a node as the RPM installs it (fence_mdlp in /sbin, the script under /opt), validate finds
    nothing; on this bare test machine it finds exactly the two run-time problems."""
    conf = (GOLDEN / name).read_text()
    node = Appliance(tmp_path / "node", BIN_DIR, conf)
    env = {"PATH": "/bin:/sbin:/usr/bin:/usr/sbin", "LC_ALL": "C"}
    result = node._run([str(TOOL), "validate", "/etc/cluster/cluster.conf"], env)
    assert result.returncode == 0, result
    assert "clean" in result.output
    bare = tmp_path / "cluster.conf"
    bare.write_text(conf)
    if not os.path.exists("/opt/websense/rproxy/cs/mdlp_rhcs"):
        proc = tool("validate", bare, env={"PATH": "/bin:/usr/bin"})
        assert proc.returncode == 1
        assert [line.split(": ", 1)[1] for line in proc.stdout.splitlines()] == [
            "fence device 'MdlpFencing': agent fence_mdlp is not installed on this node",
            "script 'mdlp_rhcs': /opt/websense/rproxy/cs/mdlp_rhcs is not an executable file on this node"]


def test_config_version_is_bumped_over_an_existing_file(tmp_path):
    out = tmp_path / "cluster.conf"
    assert tool("render", "rhcs", TWO, "-o", out).returncode == 0
    assert 'config_version="1"' in out.read_text()
    assert tool("render", "rhcs", TWO, "-o", out).returncode == 0
    assert 'config_version="2"' in out.read_text()
    out.write_text(out.read_text().replace('config_version="2"', 'config_version="41"'))
    assert tool("render", "rhcs", TWO, "-o", out).returncode == 0
    assert 'config_version="42"' in out.read_text()
    assert tool("render", "rhcs", TWO, "--config-version", "7").stdout.count('config_version="7"') == 1


BROKEN_CONF = {
    "fence_manual": (lambda c: c.replace('agent="fence_mdlp"', 'agent="fence_manual"'), "uses fence_manual"),
    "no fence level": (lambda c: c.replace('<device name="MdlpFencing" ipaddr="10.0.33.12" />', ''),
                       "node 'node2' has no fence level"),
    "agent missing": (lambda c: c.replace('agent="fence_mdlp"', 'agent="fence_nosuchagent"'),
                      "agent fence_nosuchagent is not installed"),
    "unrestricted": (lambda c: c.replace('restricted="1"', 'restricted="0"'), "is not restricted"),
    "not exclusive": (lambda c: c.replace('exclusive="1"', 'exclusive="0"'), "is not exclusive"),
    "script": (lambda c: c.replace('file="/opt/websense/rproxy/cs/mdlp_rhcs"', 'file="/etc/cluster/cluster.conf"'),
               "/etc/cluster/cluster.conf is not an executable file"),
    "script missing": (lambda c: c.replace('cs/mdlp_rhcs"', 'cs/mdlp_rhcs.old"'),
                       "/opt/websense/rproxy/cs/mdlp_rhcs.old is not an executable file"),
    "two_node": (lambda c: c.replace(' two_node="1"', ''), "two nodes without <cman two_node"),
    "duplicate": (lambda c: c.replace('name="node2" nodeid="2"', 'name="node1" nodeid="2"'),
                  "node name 'node1' is used twice (first on line 6)"),
    "malformed": (lambda c: c.replace("</rm>", "</rmm>"), "malformed XML: mismatched tag"),
    "recovery": (lambda c: c.replace('recovery="relocate"', 'recovery="disable"'), 'the guide uses "relocate"'),
    "autostart": (lambda c: c.replace('autostart="1"', 'autostart="0"'), "does not start with the cluster"),
    "unordered": (lambda c: c.replace('ordered="1"', 'ordered="0"'), "is not ordered"),
    "ip ref": (lambda c: c.replace('<ip ref="10.0.32.201" />', '<ip ref="10.9.9.9" />'),
               "refers to IP '10.9.9.9'"),
    "empty domain": (lambda c: re.sub(r'\s*<failoverdomainnode [^>]*/>', '', c), "has no nodes"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_CONF))
def test_validate_reports_with_line_numbers(tmp_path, case):
    edit, expected = BROKEN_CONF[case]
    good = (GOLDEN / "2node-rhcs.conf").read_text()
    broken = edit(good)
    assert broken != good
    path = tmp_path / "cluster.conf"
    path.write_text(broken)
    node = Appliance(tmp_path / "node", BIN_DIR, broken)
    result = node._run([str(TOOL), "validate", "/etc/cluster/cluster.conf"], {"PATH": "/bin:/usr/bin:/sbin"})
    assert result.returncode == 1, result
    hits = [line for line in result.output.splitlines() if expected in line]
    assert hits, result.output
    number = int(hits[0].split(":")[1])
    assert 1 <= number <= len(broken.splitlines())
    if case != "malformed":     # the line named is the element at fault
        assert number != 1


def test_validate_unreadable_is_2(tmp_path):
    proc = tool("validate", tmp_path / "missing.conf")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["mdlp-cluster: %s: cannot read: No such file or directory"
                                                % (tmp_path / "missing.conf")]


BROKEN_ANSWERS = {
    "missing file": (None, "cannot read: No such file or directory"),
    "toml syntax": ("[site\n", "not valid TOML"),
    "inline secret": ('[site]\nfence_password = "x"\n', "secrets do not belong in the answer file"),
    "node secret": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nnodes = [{name = "n1", '
                    'address = "10.0.0.2", bmc = "10.0.1.2", passwd = "x"}]\n', "secrets do not belong"),
    "unknown key": ('[site]\nfence_bakend = "ipmi"\n', "unknown key 'fence_bakend'"),
    "no cluster": ('[site]\n', "no cluster"),
    "bad ip": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.300"\nnodes = [{name = "n1", address = "10.0.0.2", '
               'bmc = "10.0.1.2"}]\n', "'10.0.0.300' is not an IP address"),
    "duplicate node": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nnodes = [{name = "n1", address = '
                       '"10.0.0.2", bmc = "10.0.1.2"}, {name = "n1", address = "10.0.0.3", bmc = "10.0.1.3"}]\n',
                       "node name n1 is used twice"),
    "three nodes": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nnodes = [' + ", ".join(
        '{name = "n%d", address = "10.0.0.%d", bmc = "10.0.1.%d"}' % (i, i + 1, i) for i in (1, 2, 3)) + "]\n",
        "3 nodes; the guide's clusters are pairs"),
    "missing bmc": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nnodes = [{name = "n1", address = '
                    '"10.0.0.2"}]\n', "missing 'bmc'"),
    "bad backend": ('[site]\nfence_backend = "fence_manual"\n[[cluster]]\nname = "c"\n',
                    "is not one of ipmi, ssh, noop"),
    "order": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nfailover_order = ["n1", "n9"]\nnodes = [{name = '
              '"n1", address = "10.0.0.2", bmc = "10.0.1.2"}]\n', "must list each node of the cluster once"),
    "ini section": ("[nodes]\naddress = 1\n", "unknown section"),
    "nested secret": ('[site]\nfence_username = { name = "admin", password = "hunter2" }\n',
                      "secrets do not belong"),
    "secret in a table": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nnodes = [{name = "n1", address = '
                          '"10.0.0.2", bmc = { ip = "10.0.1.2", password = "hunter2" }}]\n', "secrets do not belong"),
    "order types": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nfailover_order = ["n1", 2]\nnodes = '
                    '[{name = "n1", address = "10.0.0.2", bmc = "10.0.1.2"}]\n', "expected a list of node names"),
    "order string": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nfailover_order = "n1"\nnodes = '
                     '[{name = "n1", address = "10.0.0.2", bmc = "10.0.1.2"}]\n', "expected a list of node names"),
    "boolean cipher": ('[site]\nfence_cipher = false\n', "fence_cipher: expected text or a whole number, not a bool"),
    "list interface": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\ninterface = ["eth0"]\nnodes = '
                       '[{name = "n1", address = "10.0.0.2", bmc = "10.0.1.2"}]\n', "interface: expected text"),
    "ipv4 prefix": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nprefix = 64\nnodes = '
                    '[{name = "n1", address = "10.0.0.2", bmc = "10.0.1.2"}]\n', "64 is not between 1 and 32"),
    "shared bmc": ('[[cluster]]\nname = "c"\nfloating_ip = "10.0.0.1"\nnodes = [{name = "n1", address = "10.0.0.2", '
                   'bmc = "10.0.1.2"}, {name = "n2", address = "10.0.0.3", bmc = "10.0.1.2"}]\n',
                   "bmc: 10.0.1.2 is also the BMC of node n1"),
    "control character": ('[site]\nservice_config = "/etc/x\\npcs resource delete mdlp"\n',
                          "control characters are not allowed"),
    "ini node owner": ("[cluster a]\nfloating_ip = 10.0.0.1\n[cluster b]\nfloating_ip = 10.0.0.9\n"
                       "[node n1]\naddress = 10.0.0.2\n", "which cluster? add 'cluster = NAME'"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_ANSWERS))
def test_broken_answers_get_one_line_and_exit_2(tmp_path, case):
    text, expected = BROKEN_ANSWERS[case]
    path = tmp_path / ("answers.ini" if case.startswith("ini ") else "answers.toml")
    if text is not None:
        path.write_text(text)
    proc = tool("render", "rhcs", path)
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mdlp-cluster: %s" % path) and expected in lines[0], lines
    assert "Traceback" not in proc.stderr and "hunter2" not in proc.stderr


def test_unreadable_inputs_are_one_line_not_a_traceback(tmp_path):
    latin = tmp_path / "latin1.xml"
    latin.write_bytes(b"<clustat>\xe9</clustat>")
    for args, code in ((["status", "--from", latin], 4), (["render", "rhcs", TWO, "-o", latin], 2),
                       (["validate", latin], 1)):
        proc = tool(*args)
        assert proc.returncode == code and "Traceback" not in proc.stderr, (args, proc)
    klingon = tmp_path / "klingon.conf"
    klingon.write_text('<?xml version="1.0" encoding="klingon"?>\n<cluster/>\n')
    proc = tool("validate", klingon)
    assert proc.returncode == 1 and "malformed XML" in proc.stdout and "Traceback" not in proc.stderr, proc


def test_render_keeps_the_mode_and_makes_xml_comments_safe(tmp_path):
    out = tmp_path / "cluster.conf"
    out.write_text("")
    out.chmod(0o640)
    weird = tmp_path / "a--b.toml"
    weird.write_text((REPO / TWO).read_text())
    assert tool("render", "rhcs", weird, "-o", out).returncode == 0
    assert oct(out.stat().st_mode & 0o777) == "0o640"
    assert tool("validate", out, env={"PATH": str(BIN_DIR) + ":/bin:/usr/bin"}).stdout.count("malformed") == 0


def test_site_questions_are_errors_not_guesses():
    proc = tool("render", "rhcs", FOUR)
    assert proc.returncode == 2 and "choose one with --cluster" in proc.stderr
    proc = tool("render", "dns", TWO)
    assert proc.returncode == 2 and "dns_name is not set" in proc.stderr
    proc = tool("render", "rhcs", TWO, "--cluster", "nope")
    assert proc.returncode == 2 and "no cluster named 'nope'" in proc.stderr


def test_status_of_a_cluster_without_the_service(tmp_path):
    recording = tmp_path / "clustat.xml"
    recording.write_text((DATA / "clustat-started.xml").read_text().replace("service:mdlp", "service:other"))
    proc = tool("status", "--from", recording, "--cluster-conf", tmp_path / "none.conf")
    assert proc.returncode == 3 and proc.stdout.startswith("mdlp: not configured"), proc
    recording.write_text('<clustat version="4.1.1"><cluster name="c"/><quorum quorate="1"/></clustat>')
    proc = tool("status", "--from", recording, "--cluster-conf", tmp_path / "none.conf")
    assert proc.returncode == 4 and proc.stdout.startswith("mdlp: unknown"), proc   # rgmanager not answering


@pytest.mark.parametrize("recording,state,exit_code,owner", [
    ("clustat-started.xml", "started", 0, "node2"),
    ("clustat-failed.xml", "failed", 1, None),
    ("clustat-disabled.xml", "disabled", 3, None),
])
def test_status_from_recorded_clustat(recording, state, exit_code, owner):
    conf = GOLDEN / "2node-rhcs.conf"
    proc = tool("status", "--from", DATA / recording, "--cluster-conf", conf, "--json")
    assert proc.returncode == exit_code, proc
    status = json.loads(proc.stdout)
    assert (status["stack"], status["state"], status["active_node"]) == ("rgmanager", state, owner)
    assert status["floating_ip"] == "10.0.32.201" and status["cluster"] == "mobile-cs"
    line = tool("status", "--from", DATA / recording, "--cluster-conf", conf)
    assert line.returncode == exit_code and len(line.stdout.splitlines()) == 1
    assert line.stdout.startswith("mdlp: %s" % state)
    table = tool("status", "--from", DATA / recording, "--cluster-conf", conf, "--table")
    assert "floating IP  10.0.32.201" in table.stdout


def test_status_without_a_cluster_stack_is_unknown(tmp_path):
    proc = tool("status", env={"PATH": str(tmp_path)})
    assert proc.returncode == 4
    assert proc.stderr.strip().splitlines() == [
        "mdlp-cluster: no cluster manager here: neither crm_mon (Pacemaker) nor clustat (rgmanager) is installed"]
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("<clustat><nodes>")
    proc = tool("status", "--from", garbage)
    assert proc.returncode == 4 and proc.stderr.startswith("mdlp-cluster: clustat -x: not XML")


def test_status_where_pacemaker_is_installed_but_not_running(tmp_path):
    """crm_mon answers with an error document, not a cluster: unknown (4), one line, not 'not configured'."""
    probe = subprocess.run(["crm_mon", "-1"], capture_output=True, text=True, timeout=30)
    if probe.returncode == 0:
        pytest.skip("a cluster runs on this host itself (tools/bootstrap test keeps it off under systemd)")
    proc = tool("status")
    assert proc.returncode == 4, proc
    assert proc.stdout == ""
    assert proc.stderr.startswith("mdlp-cluster: crm_mon: Not connected (") and len(proc.stderr.splitlines()) == 1


def test_help_and_version():
    assert tool("--help").returncode == 0
    assert "render" in tool("--help").stdout and "validate" in tool("--help").stdout
    assert tool("--version").stdout.startswith("mdlp-cluster, version ")
    proc = tool("render", "nosuchthing", TWO)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_every_tool_prints_the_real_version_on_this_platform():
    """One home for the version (mdlp_agents/__init__.py), read back on every Python: 3.6 has no
    importlib.metadata, and "unknown" there was a bug."""
    version = re.search(r'^__version__ = "(.+)"$', (REPO / "mdlp_agents/__init__.py").read_text(), re.M).group(1)
    for prog, flag in (("mdlp-cluster", "--version"), ("mdlp_rhcs", "--version"), ("fence_mdlp", "-V")):
        proc = subprocess.run([str(BIN_DIR / prog), flag], capture_output=True, text=True, timeout=60)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "%s, version %s\n" % (prog, version), ""), prog
    meta = subprocess.run([str(BIN_DIR / "mdlp_rhcs"), "meta-data"], capture_output=True, text=True, timeout=60)
    assert '<resource-agent name="mdlp" version="%s">' % version in meta.stdout, meta


def test_ssh_and_noop_backends(tmp_path):
    answers = tmp_path / "ssh.toml"
    answers.write_text('[site]\nfence_backend = "ssh"\nfence_username = "root"\n'
                       'fence_identity_file = "/root/.ssh/fence_key"\n'
                       '[[cluster]]\nname = "c"\nfloating_ip = "10.1.0.100"\n'
                       'nodes = [{name = "a", address = "10.1.0.1"}, {name = "b", address = "10.1.0.2"}]\n')
    conf = tool("render", "rhcs", answers)
    assert conf.returncode == 0, conf
    assert ('<fencedevice agent="fence_mdlp" name="MdlpFencing" backend="ssh" login="root" vip="10.1.0.100" '
            'identity_file="/root/.ssh/fence_key" />') in conf.stdout
    assert '<device name="MdlpFencing" ipaddr="10.1.0.2" />' in conf.stdout      # the victim itself
    pcs = tool("render", "pacemaker", answers).stdout
    assert ("pcs stonith create fence-a fence_mdlp backend=ssh ip=10.1.0.1 username=root vip=10.1.0.100 "
            "identity_file=/root/.ssh/fence_key pcmk_host_list=a pcmk_delay_base=5s") in pcs
    noop = tmp_path / "noop.ini"
    noop.write_text("[site]\nfence_backend = noop\n[cluster c]\nfloating_ip = 10.1.0.100\n"
                    "[node a]\naddress = 10.1.0.1\n")
    cib = tool("render", "pacemaker", "-f", "cib", noop)
    assert cib.returncode == 0 and 'name="backend" value="noop"' in cib.stdout
    assert "two_node" not in cib.stdout and "avoids" not in cib.stdout     # one node: nothing to avoid


def test_pcs_script_runs_and_passes_each_value_as_one_word(tmp_path):
    """pcs needs pcsd and systemd (not here): a stand-in records the argv the script gives it."""
    answers = tmp_path / "odd.toml"
    answers.write_text((REPO / TWO).read_text().replace('service_config = "/etc/mdlp_agents/mdlp_rhcs.conf"',
                                                        'service_config = "/etc/mdlp_agents/mdlp rhcs\'s.conf"')
                       .replace("[site]", '[site]\nfence_identity_file = "/root/.ssh/id"'))
    proc = tool("render", "pacemaker", answers)
    assert proc.returncode == 2 and "not an absolute path without spaces" in proc.stderr   # refused, not quoted
    script = tmp_path / "pcs.sh"
    script.write_text(tool("render", "pacemaker", TWO).stdout)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "pcs").write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\036" "$a"; done >> "$PCS_LOG"\n'
                                'echo >> "$PCS_LOG"\n')
    (bindir / "pcs").chmod(0o755)
    (bindir / "cibadmin").write_text('#!/bin/sh\nprintf "cibadmin\\036" >> "$PCS_LOG"\n'
                                     'for a in "$@"; do printf "%s\\036" "$a"; done >> "$PCS_LOG"\n'
                                     'echo >> "$PCS_LOG"\n')
    (bindir / "cibadmin").chmod(0o755)
    log = tmp_path / "pcs.log"

    def run_with(version):
        (bindir / "pacemakerd").write_text('#!/bin/sh\necho "%s"\necho "Written by ..."\n' % version)
        (bindir / "pacemakerd").chmod(0o755)
        return subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True, timeout=30,
                              env={"PATH": "%s:/bin:/usr/bin" % bindir, "PCS_LOG": str(log)})

    # before priority-fencing-delay (EL8.0-8.2): nothing is changed, one line says why
    for version in ("Pacemaker 2.0.3", "pacemakerd: command not found"):
        old = run_with(version)
        assert old.returncode == 1 and not log.exists(), old
        assert old.stderr.count("\n") == 1 and "priority-fencing-delay needs 2.0.4 or later" in old.stderr, old
    run = run_with("Pacemaker 2.0.4-6.el8_3.1")
    assert run.returncode == 0, run
    # (splitlines would split at \x1e)
    calls = [line.rstrip("\x1e").split("\x1e") for line in log.read_text().split("\n") if line]
    assert calls[0] == ["cluster", "setup", "mobile-cs", "node1", "addr=10.0.32.11", "node2", "addr=10.0.32.12",
                        "--start", "--enable", "--wait"]
    assert ["stonith", "create", "fence-node1", "fence_mdlp", "backend=ipmi", "ip=10.0.33.11", "username=admin",
            "lanplus=1", "cipher=3", "pcmk_host_list=node1", "pcmk_delay_base=5s", "op", "monitor",
            "interval=60s"] in calls
    assert ["resource", "meta", "mdlp", "migration-threshold=1", "priority=10"] in calls
    # pcs takes whole seconds: the agent's monitor is created every 1s, then set to 500ms by its id
    create = next(c for c in calls if c[:3] == ["resource", "create", "mdlp-rhcs"])
    assert "interval=1s" in create
    assert ["cibadmin", "--modify", "--scope", "resources", "--xml-text",
            '<op id="mdlp-rhcs-monitor-interval-1s" name="monitor" interval="500ms"/>'] in calls
    assert calls.index(create) < calls.index(next(c for c in calls if c[0] == "cibadmin"))
    assert len(calls) == len([line for line in script.read_text().splitlines()
                              if line.startswith(("pcs ", "cibadmin "))])
