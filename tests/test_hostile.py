"""Hostile and careless input, one class of hole per test, each against the real programs:
a lie (healthy when not, fenced when not), a hang past the deadline, a leak (a process or a
file left behind), an injection.  Grow this file with every new class found."""

import os
import socket
import stat
import subprocess
import sys
import time
import xml.parsers.expat
from pathlib import Path

import pytest

from conftest import BIN_DIR, FENCE, REPO, fence_conf, run_agent, run_fence, write_config

TOOL = BIN_DIR / "mdlp-cluster"
LISTENER = "import socket, sys, time\ns = socket.socket()\ns.bind((sys.argv[1], int(sys.argv[2])))\n" \
           "s.listen(5)\ntime.sleep(1000)\n"


def _listening(address, port):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = subprocess.run(["ss", "-Hltn", "src", "%s:%d" % (address, port)], capture_output=True,
                             text=True).stdout
        if out.strip():
            return True
        time.sleep(0.05)
    return False


def _free_port(address):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


# -- mdlp_rhcs: "healthy" must mean healthy ------------------------------------------------
@pytest.mark.parametrize("probed", ["127.0.0.1:%d", "[::ffff:127.0.0.1]:%d"])
def test_squatter_on_the_probed_address_is_not_the_service(tmp_path, fake, probed):
    """The service listens on 127.0.0.2:P, another program on 127.0.0.1:P: a probe of
    127.0.0.1:P reaches the squatter, whatever spelling of the address is configured."""
    port = _free_port("127.0.0.1")
    fake.start("httpd", target=sys.executable, args=("-c", LISTENER, "127.0.0.2", str(port)))
    squatter = subprocess.Popen([sys.executable, "-c", LISTENER, "127.0.0.1", str(port)])
    try:
        assert _listening("127.0.0.2", port) and _listening("127.0.0.1", port)
        config = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = %s\n" % (probed % port))
        result = run_agent("status", config=config)
        assert result.returncode == 3, result
        assert "is held by pid %d" % squatter.pid in result.stdout, result
        # the service's own address is fine
        good = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = 127.0.0.2:%d\n" % port)
        assert run_agent("status", config=good).returncode == 0
    finally:
        squatter.kill()
        squatter.wait()


def test_squatter_on_an_own_non_loopback_address_is_caught(tmp_path, fake):
    """A probe of the node's own address (not loopback) is checked too: in a network namespace
    of the test's own, 198.18.99.1 is this host's; the service listens on 127.0.0.1:P, a squatter
    on 198.18.99.1:P."""
    port = 18800 + os.getpid() % 1000
    httpd = fake.program("httpd", target=sys.executable)
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = 198.18.99.1:%d\n" % port)
    script = ('ip link set lo up && ip addr add 198.18.99.1/32 dev lo && '
              '"$1" -c "$2" 127.0.0.1 "$3" & service=$!; '
              '"$4" -c "$2" 198.18.99.1 "$3" & squatter=$!; '
              'for i in $(seq 100); do ss -Hltn | grep -q "198.18.99.1:$3" && ss -Hltn | grep -q "127.0.0.1:$3" '
              '&& break; sleep 0.05; done; '
              'MDLP_RHCS_CONF="$5" "$6" status; echo "rc=$? squatter=$squatter"; kill -9 $service $squatter')
    result = subprocess.run(["unshare", "--net", "sh", "-c", script, "sh", str(httpd), LISTENER, str(port),
                             sys.executable, str(config), str(BIN_DIR / "mdlp_rhcs")],
                            capture_output=True, text=True, timeout=60)
    rc, squatter = result.stdout.strip().splitlines()[-1].split()
    assert rc == "rc=3", result
    assert "198.18.99.1:%d is held by pid %s" % (port, squatter.split("=")[1]) in result.stdout, result


# HTTP interim answers and impossible status codes: test_status.py, test_http_probe_reads_the_status_line


@pytest.mark.parametrize("owner,mode", [(65534, 0o644), (0, 0o666), (0, 0o620)])
def test_config_others_could_write_runs_nothing(tmp_path, owner, mode):
    """Its start= commands would run as root: refused, one line, exit 6, nothing run."""
    ran = tmp_path / "ran"
    config = write_config(tmp_path, "[service httpd]\nprocess = mdlp-never-%d\nstart = touch %s\n" % (os.getpid(), ran))
    os.chown(config, owner, 0)
    config.chmod(mode)
    for action in ("start", "status", "validate-all"):
        result = run_agent(action, config=config, timeout=30)
        assert result.returncode == 6, (action, result)
        assert result.stderr.count("\n") == 1 and "refused" in result.stderr, result
    assert not ran.exists()


def test_fifo_as_config_answers_at_once(tmp_path):
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    result = run_agent("status", config=fifo, timeout=30)
    assert result.returncode == 6 and "not a regular file" in result.stderr, result
    assert result.stderr.count("\n") == 1 and result.elapsed < 5, result


def test_fifo_as_pidfile_is_failed_not_hung(tmp_path, fake):
    fifo = tmp_path / "httpd.pid"
    os.mkfifo(fifo)
    config = write_config(tmp_path, "[service httpd]\npidfile = %s\n" % fifo)
    result = run_agent("status", config=config, timeout=30)
    assert result.returncode == 3 and "not a regular file" in result.stdout and result.elapsed < 3, result


def test_init_script_slower_than_the_deadline_is_not_left_running(tmp_path):
    """timeout >= deadline: the script is killed before the check ends, every time."""
    name = "mdlp-hang-%d" % os.getpid()
    marker = "sleep %d" % (3000 + os.getpid() % 1000)
    script = Path("/etc/init.d") / name
    script.write_text("#!/bin/sh\nexec %s\n" % marker)
    script.chmod(0o755)
    try:
        config = write_config(tmp_path, "[service PolicyEngine]\ninit = %s\ntimeout = 5\n" % name,
                              agent="deadline = 1\n")
        for _ in range(4):
            result = run_agent("status", config=config, timeout=30)
            assert result.returncode == 3 and result.elapsed < 3, result
        time.sleep(0.2)
        left = subprocess.run(["pgrep", "-f", "^%s$" % marker], capture_output=True, text=True).stdout.split()
        assert left == [], left
    finally:
        subprocess.run(["pkill", "-9", "-f", "^%s$" % marker])
        script.unlink()


def test_fast_init_scripts_are_reaped_by_the_agent_itself(tmp_path):
    """Commands that exit at once, several per check, many checks: each is reaped by the probe
    that ran it (on Python < 3.8 a dropped Popen object reaped them first: "No child processes")."""
    names = []
    for index in range(3):
        name = "mdlp-fast-%d-%d" % (os.getpid(), index)
        script = Path("/etc/init.d") / name
        script.write_text('#!/bin/sh\n[ "$1" = status ] && exit 0; exit 1\n')
        script.chmod(0o755)
        names.append(name)
    try:
        config = write_config(tmp_path, "".join("[service svc%d]\ninit = %s\ntimeout = 2\n" % (i, n)
                                                for i, n in enumerate(names)))
        for _ in range(8):
            result = run_agent("status", config=config, timeout=30)
            assert result.returncode == 0, result
    finally:
        for name in names:
            (Path("/etc/init.d") / name).unlink()


def _c_locale():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LC_", "PYTHONIOENCODING",
                                                                                     "PYTHONUNBUFFERED"))}
    env.update(LC_ALL="C", LANG="C")
    return env


def test_non_ascii_under_the_c_locale_is_escaped_not_a_traceback(tmp_path):
    """rgmanager runs us with LC_ALL=C: Python 3.6 then writes ASCII only to stdout.  A name
    from outside with other characters is escaped; the answer stays the real one."""
    config = write_config(tmp_path, "[service httpd]\npidfile = %s\n" % (tmp_path / "h\u00f6ttpd.pid"))
    result = run_agent("status", config=config, env=_c_locale(), timeout=30)
    assert result.returncode == 3 and "does not exist" in result.stdout, result
    assert "internal error" not in result.stderr and result.stderr == "", result


def test_fence_answers_reach_a_pipe_under_the_c_locale(tmp_path):
    """Block-buffered stdout and stderr on a pipe (no PYTHONUNBUFFERED), C locale, options given:
    the answer line is written before the agent leaves."""
    conf = fence_conf(tmp_path)
    result = subprocess.run([str(FENCE), "-o", "status", "-n", "n\u00f6de2", "--backend", "noop"], env=dict(
        _c_locale(), MDLP_FENCE_CONF=str(conf)), capture_output=True, timeout=30)
    assert result.returncode == 0 and result.stdout == b"Status: ON\n", result
    assert b"NOTHING WAS FENCED" in result.stderr, result


@pytest.mark.parametrize("body,key", [
    ("[agent]\nstart_timeout = 1e300\n", "start_timeout"),
    ("[agent]\ndeadline = 1e12\n", "deadline"),
    ("[agent]\nstop_timeout = inf\n", "stop_timeout"),
])
def test_huge_seconds_are_refused_as_config_errors(tmp_path, body, key):
    config = tmp_path / "huge.conf"
    config.write_text(body + "[service httpd]\nprocess = httpd\n")
    for action in ("validate-all", "start"):
        result = run_agent(action, config=config, timeout=30)
        assert result.returncode == 6 and key in result.stderr and "internal error" not in result.stderr, result


def test_a_full_state_dir_leaves_no_temporary_files(tmp_path):
    """A full tmpfs (private mount namespace): every status run fails to save its state,
    and leaves nothing behind."""
    state = tmp_path / "full"
    state.mkdir(mode=0o755)
    config = tmp_path / "full.conf"
    config.write_text("[agent]\nstate_dir = %s\nsyslog_socket = %s\n[service mdlp-nothing]\nprocess = mdlp-nothing\n"
                      % (state, tmp_path / "syslog"))
    script = ('mount -t tmpfs -o size=16k,mode=0755 none "$1" && (dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; '
              'true) && for i in 1 2 3; do "$2" status --config "$3" >/dev/null; done; ls -a "$1"')
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                             str(state), str(BIN_DIR / "mdlp_rhcs"), str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result
    assert sorted(result.stdout.split()) == [".", "..", "fill"], result.stdout


# -- fence_mdlp: bounded from the first moment, and never "done" without proof -------------
def test_stdin_deadline_bounds_a_hanging_password_script(tmp_path):
    conf = fence_conf(tmp_path)
    stdin = "backend=noop\nnodename=node2\naction=status\ndeadline=1\npassword_script=sleep 20; echo pw\n"
    result = run_fence(stdin=stdin, conf=conf, timeout=30)
    assert result.returncode == 1 and "timed out after 1s" in result.stderr, result
    assert result.elapsed < 3, result


@pytest.mark.parametrize("value", ["0", "1e300", "inf", "nan", "-5", "soon"])
def test_site_deadline_is_checked_before_it_bounds_anything(tmp_path, value):
    conf = fence_conf(tmp_path, "backend = noop\ndeadline = %s\n" % value)
    meta = run_fence("-o", "metadata", conf=conf, timeout=30)
    assert meta.returncode == 0 and "<resource-agent" in meta.stdout, meta   # metadata always answers
    for result in (run_fence("-o", "status", "-n", "node2", conf=conf, timeout=30),
                   run_fence(stdin="action=status\nnodename=node2\n", conf=conf, timeout=30)):
        assert result.returncode == 1 and "deadline" in result.stderr, result
        assert "internal error" not in result.stderr and "timed out" not in result.stderr, result
        assert result.stderr.count("\n") == 1, result


@pytest.mark.parametrize("value", ["1e300", "86401"])
def test_huge_stdin_seconds_are_one_line(tmp_path, value):
    for key in ("deadline", "delay", "power_timeout"):
        result = run_fence(stdin="backend=noop\nnodename=node2\naction=status\n%s=%s\n" % (key, value),
                           conf=fence_conf(tmp_path), timeout=30)
        assert result.returncode == 1 and key in result.stderr and "internal error" not in result.stderr, result


def test_debug_file_that_blocks_cannot_block_the_timeout(tmp_path):
    fifo = tmp_path / "debug.fifo"
    os.mkfifo(fifo)
    conf = fence_conf(tmp_path)
    stdin = "backend=noop\nnodename=node2\naction=status\ndeadline=1\ndebug_file=%s\n" \
            "password_script=sleep 20; echo pw\n" % fifo
    result = run_fence(stdin=stdin, conf=conf, timeout=30)
    assert result.returncode == 1 and "timed out after 1s" in result.stderr, result
    assert result.elapsed < 3, result


def test_site_file_that_is_a_fifo_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "fence.fifo"
    os.mkfifo(fifo)
    result = run_fence("-o", "status", "-n", "node2", "--backend", "noop", conf=fifo, timeout=30)
    assert result.returncode == 1 and "not a regular file" in result.stderr and result.elapsed < 5, result


@pytest.mark.parametrize("kill", ["", ",", " , "])
def test_ssh_backend_with_nothing_to_do_refuses(tmp_path, kill):
    conf = fence_conf(tmp_path)
    for action in ("off", "status", "validate-all"):
        result = run_fence(stdin="backend=ssh\nnodename=node2\naction=%s\nkill_processes=%s\n" % (action, kill),
                           conf=conf, timeout=30)
        assert result.returncode == 1 and "nothing to fence" in result.stderr, (action, result)


@pytest.fixture
def lying_ipmitool(tmp_path):
    """An ipmitool that prints what a BMC would say when all is well, and exits 1."""
    tool = tmp_path / "ipmitool"
    tool.write_text("#!/bin/sh\necho 'Chassis Power is off'\necho \"$*\" >> %s\nexit 1\n" % (tmp_path / "calls"))
    tool.chmod(0o755)
    return tool


def test_ipmitool_exit_code_voids_its_output(tmp_path, lying_ipmitool):
    conf = fence_conf(tmp_path, "ipmitool_path = %s\n" % lying_ipmitool)
    common = "backend=ipmi\nip=127.0.0.1\nusername=admin\npassword=pw\nnodename=node2\n"
    status = run_fence(stdin=common + "action=status\n", conf=conf, timeout=30)
    assert status.returncode == 1 and "cannot read power status (ipmitool exit 1)" in status.stderr, status
    off = run_fence(stdin=common + "action=off\n", conf=conf, timeout=30)
    assert off.returncode == 1 and "Success" not in off.stdout, off


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
