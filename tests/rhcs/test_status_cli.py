"""`mdlp_rhcs status` against real processes and a real Apache httpd."""

import json
import os
import signal
import socket
import subprocess
import time

import pytest
from helpers import RUN_ID, run_agent, sigstop, write_config

NAMES = ("httpd", "PolicyEngine", "RProxyWD")


def test_all_up_exits_0_and_names_each_service(three_services):
    result = run_agent("status", config=three_services)
    assert result.returncode == 0, result
    assert result.stdout.startswith("mdlp: running (httpd, PolicyEngine, RProxyWD)")
    assert result.stderr == ""


@pytest.mark.parametrize("name", NAMES)
def test_each_service_down_exits_3(three_services, fake, name):
    fake.kill(name)
    fake.pidfile(name).unlink()
    result = run_agent("status", config=three_services)
    assert result.returncode == 3, result
    assert "%s STOPPED" % name in result.stdout
    assert result.stdout.count("STOPPED") == 1  # the other two are up and not listed


def test_killed_process_with_pidfile_left_behind_is_lsb_1(three_services, fake):
    fake.kill("PolicyEngine")
    result = run_agent("status", config=three_services)
    assert result.returncode == 1, result
    assert "PolicyEngine STALE" in result.stdout
    assert "not running (stale pidfile)" in result.stdout


@pytest.mark.parametrize("name", NAMES)
def test_sigstopped_service_is_hung(three_services, fake, name):
    fake.kill(name, signal.SIGSTOP)
    result = run_agent("status", config=three_services)
    assert result.returncode == 3, result
    assert "%s HUNG" % name in result.stdout
    assert "SIGSTOP" in result.stdout


def test_zombie_is_not_running(tmp_path, fake):
    zombie = fake.start("RProxyWD", target="/bin/true", args=())
    time.sleep(0.3)  # it exits at once; nobody waits for it yet: a zombie named RProxyWD
    assert open("/proc/%d/stat" % zombie.pid).read().split()[2] == "Z"
    config = write_config(tmp_path, "[service RProxyWD]\nprocess = RProxyWD\n")
    result = run_agent("status", config=config)
    assert result.returncode == 3, result
    assert "no process named RProxyWD (only 1 zombie)" in result.stdout


def test_zombie_in_pidfile_is_stale(tmp_path, fake):
    fake.start("RProxyWD", target="/bin/true", args=())
    time.sleep(0.3)
    config = write_config(tmp_path, "[service RProxyWD]\npidfile = %s\n" % fake.pidfile("RProxyWD"))
    result = run_agent("status", config=config)
    assert result.returncode == 1, result
    assert "is a zombie" in result.stdout


def test_pidfile_whose_pid_now_belongs_to_another_program(tmp_path, fake):
    other = fake.start("sleep", pidfile=False)
    pidfile = fake.pidfile("httpd")
    pidfile.write_text("%d\n" % other.pid)
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\npidfile = %s\n" % pidfile)
    result = run_agent("status", config=config)
    assert result.returncode == 1, result
    assert "pid %d from %s is now 'sleep', not httpd" % (other.pid, pidfile) in result.stdout


def test_pidfile_older_than_its_process_is_pid_reuse(tmp_path, fake):
    proc = fake.start("httpd")
    pidfile = fake.pidfile("httpd")
    old = time.time() - 3600
    os.utime(pidfile, (old, old))  # written an hour before this process existed
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\npidfile = %s\n" % pidfile)
    result = run_agent("status", config=config)
    assert result.returncode == 1, result
    assert "pid %d started after %s was written" % (proc.pid, pidfile) in result.stdout


def test_missing_and_garbage_pidfile(tmp_path, fake):
    fake.start("httpd", pidfile=False)
    garbage = tmp_path / "garbage.pid"
    garbage.write_text("not a pid\n")
    config = write_config(tmp_path, "[service httpd]\npidfile = %s\n" % garbage)
    result = run_agent("status", config=config)
    assert result.returncode == 1 and "holds no PID" in result.stdout, result
    config = write_config(tmp_path, "[service httpd]\npidfile = %s\n" % (tmp_path / "nope.pid"))
    result = run_agent("status", config=config)
    assert result.returncode == 3 and "does not exist" in result.stdout, result


def test_real_apache_up(tmp_path, apache):
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\npidfile = %s\ntcp = 127.0.0.1:%d\n"
                                    "http = %s\n" % (apache.pidfile, apache.port, apache.url()))
    result = run_agent("status", "--json", "--config", str(config))
    assert result.returncode == 0, result
    report = json.loads(result.stdout)
    (httpd,) = report["services"]
    assert httpd["state"] == "RUNNING"
    assert httpd["pid"] == apache.proc.pid
    assert [p["probe"] for p in httpd["probes"]] == ["pidfile", "process", "tcp", "http"]
    assert all(p["ok"] for p in httpd["probes"])


def test_https_with_a_self_signed_certificate(tmp_path, apache):
    config = write_config(tmp_path, "[service httpd]\ntcp = 127.0.0.1:%d\nhttp = %s\n"
                          % (apache.tls_port, apache.url(tls=True)))
    result = run_agent("status", config=config)
    assert result.returncode == 0, result
    # plain HTTP spoken to the TLS port is answered with 400: serving, but say TLS to get 2xx
    config = write_config(tmp_path, "[service httpd]\nhttp = %s\n" % apache.url("/broken", tls=True))
    result = run_agent("status", config=config)
    assert result.returncode == 3 and "HTTP 503" in result.stdout, result


def test_sigstopped_apache_answers_within_the_deadline(tmp_path, apache):
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = 127.0.0.1:%d\nhttp = %s\n"
                                    "timeout = 1\n" % (apache.port, apache.url()), agent="deadline = 3\n")
    apache.signal_all(signal.SIGSTOP)  # master and every worker: the port still accepts, nobody answers
    try:
        result = run_agent("status", "--json", "--config", str(config), timeout=30)
    finally:
        apache.signal_all(signal.SIGCONT)
    assert result.returncode == 3, result
    probes = {p["probe"]: p for p in json.loads(result.stdout)["services"][0]["probes"]}
    assert probes["process"]["cause"] == "hung"
    # a stopped process is down whatever its HTTP probe would say: that probe is not waited for
    assert "http" not in probes and result.elapsed < 1.0, result


def test_slow_http_beyond_the_timeout_is_hung(tmp_path, apache):
    config = write_config(tmp_path, "[service httpd]\nhttp = %s\ntimeout = 1\n" % apache.url("/slow"))
    result = run_agent("status", config=config, timeout=30)
    assert result.returncode == 3, result
    assert "httpd HUNG (http: GET %s: no answer within 1s)" % apache.url("/slow") in result.stdout
    assert result.elapsed < 3.0, result


def test_http_5xx_is_failed_and_4xx_is_serving(tmp_path, apache):
    config = write_config(tmp_path, "[service httpd]\nhttp = %s\n" % apache.url("/broken"))
    result = run_agent("status", config=config)
    assert result.returncode == 3 and "HTTP 503" in result.stdout, result
    config = write_config(tmp_path, "[service httpd]\nhttp = %s\n" % apache.url("/no-such-page"))
    result = run_agent("status", config=config)
    assert result.returncode == 0, result


@pytest.mark.parametrize("answer,expected", [
    (b"SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP answer: b'SSH-2.0-OpenSSH_9.2'"),
    (b"", "connection closed without an answer"),
    (b"HTTP/1.0 200 OK\r\n\r\n", None),
    # interim answers are skipped, the final one decides; impossible codes are not answers
    ([b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", b"HTTP/1.1 503 Busy\r\n\r\n"],
     "HTTP 503"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 502 Bad Gateway\r\n\r\n", "HTTP 502"),
    (b"HTTP/1.1 103 Early Hints\r\n\r\n", "interim HTTP 103"),
    (b"HTTP/1.1 099 Odd\r\n\r\n", "not an HTTP status: 99"),
    (b"HTTP/1.1 000 Zero\r\n\r\n", "not an HTTP status: 0"),
    (b"HTTP/1.1 600 Beyond\r\n\r\n", "not an HTTP status: 600"),
    ([b"HTTP/1.1 103 Early Hints\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n"], None),
])
def test_http_probe_reads_the_status_line(tmp_path, answer, expected):
    """ANSWER: the bytes a one-shot server sends, or a list of parts sent a moment apart."""
    import threading
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        conn.recv(4096)
        for part in answer if isinstance(answer, list) else [answer]:
            conn.sendall(part)
            time.sleep(0.05)
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    config = write_config(tmp_path, "[service httpd]\nhttp = http://127.0.0.1:%d/\n" % server.getsockname()[1])
    try:
        result = run_agent("status", config=config)
    finally:
        thread.join(5)
        server.close()
    if expected is None:
        assert result.returncode == 0, result
    else:
        assert result.returncode == 3 and expected in result.stdout, result


def test_port_held_by_a_different_process(tmp_path, fake):
    fake.start("httpd")
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(5)
    port = squatter.getsockname()[1]
    try:
        config = write_config(tmp_path, "[service httpd]\nprocess = httpd\ntcp = 127.0.0.1:%d\n" % port)
        result = run_agent("status", config=config)
    finally:
        squatter.close()
    assert result.returncode == 3, result
    assert "127.0.0.1:%d is held by pid %d" % (port, os.getpid()) in result.stdout


def test_black_hole_listener_times_out(tmp_path):
    """A listener whose accept queue is full: SYNs are dropped, connect() hangs."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue; later connects are left unanswered
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    try:
        config = write_config(tmp_path, "[service httpd]\ntcp = 127.0.0.1:%d\ntimeout = 1\n" % port,
                              agent="deadline = 2\n")
        result = run_agent("status", config=config, timeout=30)
    finally:
        for sock in fillers + [hole]:
            sock.close()
    assert result.returncode == 3, result
    assert "no answer within 1s" in result.stdout
    assert result.elapsed < 2.5, result


def test_refused_port(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(tmp_path, "[service httpd]\ntcp = 127.0.0.1:%d\n" % port)
    result = run_agent("status", config=config)
    assert result.returncode == 3 and "Connection refused" in result.stdout, result


@pytest.fixture
def init_script():
    """A real SysV init script under /etc/init.d, asked through `service NAME status`."""
    name = "mdlp-test-%d" % RUN_ID
    path = "/etc/init.d/" + name
    state = "/tmp/%s.state" % name

    def make(body):
        with open(path, "w") as handle:
            handle.write("#!/bin/sh\n%s\n" % body)
        os.chmod(path, 0o755)
        return name

    yield make
    for leftover in (path, state):
        if os.path.exists(leftover):
            os.unlink(leftover)


def test_init_probe(tmp_path, init_script):
    name = init_script('[ "$1" = status ] && exit 0; exit 1')
    config = write_config(tmp_path, "[service PolicyEngine]\ninit = %s\ntimeout = 1\n" % name)
    assert run_agent("status", config=config).returncode == 0
    # run as `service` runs it: a clean environment with the system PATH
    init_script('[ "$1" = status ] && [ -z "$LEAKED" ] && [ "$PATH" = /bin:/sbin:/usr/bin:/usr/sbin ] '
                '&& exit 0; exit 1')
    assert run_agent("status", config=config, env={"LEAKED": "x"}).returncode == 0
    init_script('[ "$1" = status ] && exit 3; exit 1')
    result = run_agent("status", config=config)
    assert result.returncode == 3 and "service %s status exited 3" % name in result.stdout, result
    init_script('sleep 30')
    result = run_agent("status", config=config, timeout=30)
    assert result.returncode == 3 and "HUNG" in result.stdout, result
    assert result.elapsed < 3, result
    # the hung script's process group was killed, not left behind
    assert subprocess.run(["pgrep", "-f", "init.d/mdlp-test"], capture_output=True).returncode == 1


def test_rgmanager_environment_gets_lsb_codes(three_services, fake):
    """The script wrapper exports OCF_* too; without the OCF link we still speak LSB."""
    assert run_agent("status", config=three_services, rgmanager=True).returncode == 0
    fake.kill("RProxyWD")
    fake.pidfile("RProxyWD").unlink()
    result = run_agent("status", config=three_services, rgmanager=True)
    assert result.returncode == 3, result
    assert run_agent("frobnicate", config=three_services, rgmanager=True).returncode == 2


def test_table_in_a_terminal(three_services, fake):
    fake.kill("RProxyWD", signal.SIGSTOP)
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["MDLP_RHCS_CONF"] = str(three_services)
        os.execv(str(run_agent.__globals__["AGENT"]), ["mdlp_rhcs", "status"])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    text = output.decode()
    lines = text.splitlines()
    assert os.waitstatus_to_exitcode(status) == 3
    assert lines[0].split()[:3] == ["httpd", "RUNNING", "pid"] and "uptime 0:00:0" in lines[0]
    assert lines[2].split()[:2] == ["RProxyWD", "HUNG"]
    assert lines[-1].startswith("mdlp: NOT RUNNING (1 of 3 services down); role: passive")


def test_remembered_processes_follow_restarts(tmp_path, fake):
    """Processes found by name are remembered between runs; a restart (new PID) or
    a death is still seen, never answered from the memory."""
    config = write_config(tmp_path, "[service PolicyEngine]\nprocess = PolicyEngine\n")
    first = fake.start("PolicyEngine", pidfile=False)
    report = json.loads(run_agent("status", "--json", "--config", str(config)).stdout)
    assert report["services"][0]["pid"] == first.pid
    assert (tmp_path / "state" / "processes").read_text().count("%d:" % first.pid) == 1
    fake.kill("PolicyEngine")
    assert run_agent("status", config=config).returncode == 3
    second = fake.start("PolicyEngine", pidfile=False)
    report = json.loads(run_agent("status", "--json", "--config", str(config)).stdout)
    assert report["exit_code"] == 0 and report["services"][0]["pid"] == second.pid
    sigstop(second.pid)
    assert "HUNG" in run_agent("status", config=config).stdout


def test_user_key_ignores_processes_of_other_users(tmp_path, fake):
    """Anybody can run a process named PolicyEngine; with `user =` only the right owner counts."""
    program = fake.program("PolicyEngine")
    impostor = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(program), "1000"],
                                start_new_session=True)
    fake.procs.setdefault("impostor", []).append(impostor)
    time.sleep(0.3)
    plain = write_config(tmp_path, "[service PolicyEngine]\nprocess = PolicyEngine\n")
    assert run_agent("status", config=plain).returncode == 0  # fooled, without `user`
    owned = write_config(tmp_path, "[service PolicyEngine]\nprocess = PolicyEngine\nuser = root\n")
    result = run_agent("status", config=owned)
    assert result.returncode == 3, result
    assert "no process named PolicyEngine owned by uid 0 (1 of another user)" in result.stdout
    fake.start("PolicyEngine")  # the real one, as root
    assert run_agent("status", config=owned).returncode == 0
    bad = write_config(tmp_path, "[service PolicyEngine]\nprocess = PolicyEngine\nuser = no-such-user\n")
    result = run_agent("status", config=bad)
    assert result.returncode == 6 and "[service PolicyEngine] user: no such user 'no-such-user'" in result.stderr
