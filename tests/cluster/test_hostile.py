"""mdlp-cluster, given hostile and careless input: one class of hole per test, each against the real
programs: a lie (healthy when not, fenced when not), a hang past the deadline, a leak (a process
or a file left behind), an injection.  Grow this file with every new class found."""

import os
import stat
import subprocess
import time
import xml.parsers.expat

import pytest

from conftest import BIN_DIR, REPO

TOOL = BIN_DIR / "mdlp-cluster"


# -- mdlp-cluster: nothing from the answer file runs, nothing is written where it should not be
def tool(*args, cwd=REPO, env=None):
    environ = dict(os.environ, **(env or {}))
    return subprocess.run([str(TOOL)] + [str(a) for a in args], capture_output=True, cwd=str(cwd), env=environ,
                          timeout=60)


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
