"""Fixtures that start real things: processes under the services' names, a real
Apache httpd on a loopback port, a syslog socket that receives the agent's lines.

PID 1 on these machines does not reap orphans, so the test process makes itself
a child subreaper: daemons that start commands leave behind are reparented to
it and reaped after each test.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from clusterlab import EMU, LAN_CONF, TIMINGS, one_pair, pair_lab, single_node  # noqa: F401  (the last three: fixtures)
from platform_under_test import BIN_DIR, PLATFORM, PYTHON  # noqa: F401
from rhcs_harness import rgmanager_env

REPO = Path(__file__).resolve().parent.parent
AGENT = BIN_DIR / "mdlp_rhcs"
PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@pytest.fixture(autouse=True)
def _reap():
    yield
    reap_orphans()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Result:
    def __init__(self, proc, elapsed):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    def __repr__(self):
        return "<rc=%s %.2fs out=%r err=%r>" % (self.returncode, self.elapsed, self.stdout, self.stderr)


def run_agent(*args, config=None, env=None, ocf_link=None, timeout=60, rgmanager=False):
    """Run the installed agent as the cluster would: a real process, stdout to a pipe.

    CONFIG goes where the caller's kind would put it: $OCF_RESKEY_config through an
    OCF link, $MDLP_RHCS_CONF otherwise (so `status` keeps its single argument)."""
    if rgmanager:  # rgmanager's script wrapper: a bare PATH, C locale, its OCF_* variables
        environ = rgmanager_env(AGENT)
    else:
        environ = dict(os.environ)
    environ.pop("MDLP_RHCS_CONF", None)
    if config is not None:
        environ["OCF_RESKEY_config" if ocf_link else "MDLP_RHCS_CONF"] = str(config)
    if env:
        environ.update(env)
    cmd = [str(ocf_link or AGENT)] + list(args)
    started = time.monotonic()
    proc = subprocess.run(cmd, env=environ, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    return Result(proc, time.monotonic() - started)


@pytest.fixture
def ocf_link(tmp_path):
    """The agent reached as Pacemaker reaches it: OCF_ROOT/resource.d/websense/mdlp."""
    link = tmp_path / "ocf" / "resource.d" / "websense" / "mdlp"
    link.parent.mkdir(parents=True)
    link.symlink_to(AGENT)
    return link


class FakeServices:
    """Real processes named httpd / PolicyEngine / RProxyWD (sleep under another name)."""

    def __init__(self, root):
        self.root = Path(root)
        self.bindir = self.root / "bin"
        self.bindir.mkdir(parents=True, exist_ok=True)
        self.procs = {}

    def program(self, name, target="/bin/sleep"):
        path = self.bindir / name
        if not path.exists():
            path.symlink_to(target)
        return path

    def pidfile(self, name):
        return self.root / ("%s.pid" % name)

    def start(self, name, pidfile=True, target="/bin/sleep", args=("1000",)):
        proc = subprocess.Popen([str(self.program(name, target))] + list(args),
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.setdefault(name, []).append(proc)
        if pidfile:
            self.pidfile(name).write_text("%d\n" % proc.pid)
        wait_for(lambda: _comm(proc.pid) == name[:15], timeout=5)
        return proc

    def kill(self, name, sig=signal.SIGKILL):
        for proc in self.procs.get(name, []):
            if proc.poll() is None:
                os.kill(proc.pid, sig)
                if sig == signal.SIGKILL:
                    proc.wait()

    def cleanup(self):
        """Kill what we started and whatever start commands launched from our bindir."""
        import psutil
        prefix = str(self.bindir) + "/"
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = proc.info["cmdline"] or [""]
            if cmdline[0].startswith(prefix) and proc.pid != os.getpid():
                try:
                    proc.resume()
                    proc.kill()
                except psutil.Error:
                    pass
        for procs in self.procs.values():
            for proc in procs:
                if proc.poll() is None:
                    try:
                        os.kill(proc.pid, signal.SIGCONT)
                        os.kill(proc.pid, signal.SIGKILL)
                    except OSError:
                        pass
                    proc.wait()
        reap_orphans()


def _comm(pid):
    try:
        return Path("/proc/%d/comm" % pid).read_text().strip()
    except OSError:
        return None


@pytest.fixture
def fake(tmp_path):
    services = FakeServices(tmp_path / "svc")
    yield services
    services.cleanup()


def write_config(tmp_path, body, agent=""):
    """A config whose state and syslog live in the test's own directory."""
    state = tmp_path / "state"
    path = tmp_path / "mdlp_rhcs.conf"
    path.write_text("[agent]\nstate_dir = %s\nsyslog_socket = %s\n%s\n%s"
                    % (state, tmp_path / "syslog.sock", agent, body))
    return path


@pytest.fixture
def three_services(tmp_path, fake):
    """The guide's three services, running, each with process + pidfile probes."""
    for name in ("httpd", "PolicyEngine", "RProxyWD"):
        fake.start(name)
    body = "".join("[service %s]\nprocess = %s\npidfile = %s\ntimeout = 1\n\n" % (n, n, fake.pidfile(n))
                   for n in ("httpd", "PolicyEngine", "RProxyWD"))
    return write_config(tmp_path, body, agent="deadline = 4\n")


NAMES = ("httpd", "PolicyEngine", "RProxyWD")


@pytest.fixture
def managed(tmp_path, fake):
    """Config whose start/stop commands really launch and kill the fake services,
    and record the order they ran in."""
    order = tmp_path / "order.log"

    def make(stop_policy="leave", stop_cmd=None, extra_agent=""):
        body = ""
        for name in NAMES:
            program = fake.program(name)
            pidfile = fake.pidfile(name)
            start = ("echo start %s >> %s; %s 1000 </dev/null >/dev/null 2>&1 & echo $! > %s"
                     % (name, order, program, pidfile))
            stop = stop_cmd or "echo stop %s >> %s; kill $(cat %s)" % (name, order, pidfile)
            body += ("[service %s]\nprocess = %s\npidfile = %s\nstart = %s\nstop = %s\ntimeout = 1\n\n"
                     % (name, name, pidfile, start, stop))
        return write_config(tmp_path, body, agent="deadline = 3\nstop_policy = %s\nstart_timeout = 5\n"
                            "stop_timeout = 8\n%s" % (stop_policy, extra_agent))

    make.order = lambda: order.read_text().splitlines() if order.exists() else []
    return make


def service_pid(fake, name):
    path = fake.pidfile(name)
    return int(path.read_text()) if path.exists() else None


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


class SyslogReceiver:
    """A real unix datagram socket where the agent's syslog lines arrive."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)

    def lines(self):
        got = []
        while True:
            try:
                got.append(self.sock.recv(65536).decode())
            except BlockingIOError:
                return got

    def close(self):
        self.sock.close()
        os.unlink(self.path)


@pytest.fixture
def syslog(tmp_path):
    receiver = SyslogReceiver(tmp_path / "syslog.sock")
    yield receiver
    receiver.close()


APACHE_CONF = """
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule cgi_module /usr/lib/apache2/modules/mod_cgi.so
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
DefaultRuntimeDir {root}
Mutex file:{root} default
ErrorLog {root}/error.log
LogLevel warn
User www-data
Group www-data
StartServers 2
MinSpareServers 1
MaxSpareServers 3
MaxRequestWorkers 8
DocumentRoot {root}/htdocs
<Directory {root}>
    Require all granted
</Directory>
ScriptAlias /slow {root}/cgi/slow
ScriptAlias /broken {root}/cgi/broken
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
Listen 127.0.0.1:{tls_port}
SSLSessionCache shmcb:{root}/ssl_scache(512000)
<VirtualHost 127.0.0.1:{tls_port}>
    SSLEngine on
    SSLCertificateFile {root}/cert.pem
    SSLCertificateKeyFile {root}/key.pem
</VirtualHost>
"""


class Apache:
    """Debian's apache2 binary, started as `httpd` (a symlink) on a loopback port."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="mdlp-apache-"))
        os.chmod(self.root, 0o755)
        self.port = free_port()
        self.tls_port = free_port()
        # a self-signed certificate, as the appliance serves on 443
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=mdlp-test", "-keyout", str(self.root / "key.pem"),
                        "-out", str(self.root / "cert.pem")], check=True, capture_output=True)
        (self.root / "htdocs").mkdir()
        (self.root / "htdocs" / "index.html").write_text("mdlp test\n")
        cgi = self.root / "cgi"
        cgi.mkdir()
        (cgi / "slow").write_text("#!/bin/sh\nsleep 6\nprintf 'Content-Type: text/plain\\n\\nslow\\n'\n")
        (cgi / "broken").write_text("#!/bin/sh\nprintf 'Status: 503 Service Unavailable\\n"
                                    "Content-Type: text/plain\\n\\nbroken\\n'\n")
        for script in cgi.iterdir():
            script.chmod(0o755)
        (self.root / "httpd.conf").write_text(APACHE_CONF.format(port=self.port, tls_port=self.tls_port,
                                                                 root=self.root))
        self.binary = self.root / "httpd"
        self.binary.symlink_to("/usr/sbin/apache2")
        self.pidfile = self.root / "httpd.pid"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([str(self.binary), "-f", str(self.root / "httpd.conf"), "-DFOREGROUND"],
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        def ready():  # both ports answer and the pidfile is complete (Apache writes it in steps)
            try:
                written = self.pidfile.read_text().strip() == str(self.proc.pid)
            except OSError:
                written = False
            return written and port_open(self.port) and port_open(self.tls_port)

        if not wait_for(ready, timeout=15):
            self.stop()
            raise RuntimeError("apache did not start: %s" % (self.root / "error.log").read_text())
        return self

    def url(self, path="/", tls=False):
        if tls:
            return "https://127.0.0.1:%d%s" % (self.tls_port, path)
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def signal_all(self, sig):
        os.killpg(self.proc.pid, sig)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGCONT)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        reap_orphans()

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def apache():
    if not os.path.exists("/usr/sbin/apache2"):
        pytest.fail("apache2 is not installed: run sh tools/bootstrap test")
    server = Apache().start()
    yield server
    server.remove()


FENCE = BIN_DIR / "fence_mdlp"

CHASSIS_SCRIPT = """#!/bin/sh
# ipmi_sim's chassis_control program: the simulated node's power, in a file
state=%(root)s/power
[ -f "$state" ] || echo 1 > "$state"
echo "$*" >> %(root)s/chassis.log
case "$1 $2" in
  "get power") echo "power:$(cat "$state")" ;;
  "set power") echo "$3" > "$state" ;;
esac
exit 0
"""
def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class IpmiSim:
    """OpenIPMI's ipmi_sim as a node's BMC on a loopback UDP port; power in a file."""

    PASSWORD = "bmc-s3cret"

    def __init__(self, root, name="node1", address="127.0.0.1", port=None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.address = address
        self.port = port or free_udp_port()
        (self.root / "chassis.sh").write_text(CHASSIS_SCRIPT % {"root": self.root})
        (self.root / "chassis.sh").chmod(0o755)
        (self.root / "lan.conf").write_text(LAN_CONF % {"name": name, "address": address, "port": self.port,
                                                        "chassis": self.root / "chassis.sh",
                                                        "password": self.PASSWORD})
        (self.root / "node.emu").write_text(EMU)
        (self.root / "state").mkdir(exist_ok=True)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["ipmi_sim", "-c", str(self.root / "lan.conf"), "-f",
                                      str(self.root / "node.emu"), "-s", str(self.root / "state"), "-n"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_for(lambda: self.ipmitool("chassis", "power", "status").returncode == 0, timeout=10):
            self.stop()
            raise RuntimeError("ipmi_sim did not answer on port %d" % self.port)
        (self.root / "chassis.log").write_text("")
        return self

    def ipmitool(self, *command):
        return subprocess.run(["ipmitool", "-I", "lanplus", "-C", "3", "-H", self.address, "-p", str(self.port),
                               "-U", "admin", "-E"] + list(command), capture_output=True, text=True,
                              env=dict(os.environ, IPMI_PASSWORD=self.PASSWORD), timeout=20)

    @property
    def power(self):
        path = self.root / "power"
        return {"1": "on", "0": "off"}[path.read_text().strip()] if path.exists() else "on"

    def set_power(self, state):
        (self.root / "power").write_text("1\n" if state == "on" else "0\n")

    def log(self):
        return (self.root / "chassis.log").read_text().splitlines()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def bmc(tmp_path):
    if not shutil.which("ipmi_sim"):
        pytest.fail("ipmi_sim (openipmi) is not installed: run sh tools/bootstrap test")
    sim = IpmiSim(tmp_path / "bmc").start()
    yield sim
    sim.stop()


def run_fence(*args, stdin=None, env=None, conf=None, timeout=120):
    """Run the installed fence_mdlp as fenced does: stdout and stderr on pipes."""
    environ = dict(os.environ)
    environ.pop("MDLP_FENCE_CONF", None)
    if conf is not None:
        environ["MDLP_FENCE_CONF"] = str(conf)
    if env:
        environ.update(env)
    started = time.monotonic()
    proc = subprocess.run([str(FENCE)] + list(args), input=stdin, env=environ, capture_output=True,
                          text=True, timeout=timeout)
    return Result(proc, time.monotonic() - started)


def c_locale():
    """The environment as rgmanager gives it: LC_ALL=C, no Python I/O settings of ours."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LC_", "PYTHONIOENCODING",
                                                                                     "PYTHONUNBUFFERED"))}
    env.update(LC_ALL="C", LANG="C")
    return env


def fence_conf(tmp_path, fence="", agent=""):
    """A site fence_mdlp.conf whose syslog and locks live in the test's own directory."""
    path = tmp_path / "fence_mdlp.conf"
    path.write_text("[agent]\nsyslog_socket = %s\nstate_dir = %s\n%s\n[fence]\n%s"
                    % (tmp_path / "syslog.sock", tmp_path / "state", agent, fence))
    path.chmod(0o600)
    return path


class Victim:
    """A cluster node of its own for the ssh backend: a network namespace joined to
    this one by a veth link, a real sshd on it, and the floating IP on its link.
    (Processes are shared with the host: the services to kill are the fakes.)"""

    PORT = 2222
    # candidate /24s for the link; the first that no address or route of this host
    # touches is used (this machine's own eth0 may well sit in TEST-NET-1)
    SUBNETS = ("198.18.77", "198.19.77", "100.64.77", "169.254.77")

    @classmethod
    def free_subnet(cls):
        import ipaddress
        taken = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout.split()
        taken += subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout.split()
        networks = []
        for word in taken:
            try:
                networks.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                continue
        for prefix in cls.SUBNETS:
            candidate = ipaddress.ip_network(prefix + ".0/24")
            if not any(n.version == 4 and n.prefixlen > 0 and n.overlaps(candidate) for n in networks):
                return prefix
        raise RuntimeError("no free test subnet among %s" % (cls.SUBNETS,))

    def __init__(self, root):
        prefix = self.free_subnet()
        self.HOST_ADDR, self.NODE_ADDR, self.VIP = prefix + ".1", prefix + ".2", prefix + ".201"
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        tag = os.getpid() % 100000
        self.ns = "mdlp-victim-%d" % tag
        self.host_if, self.node_if = "mdlpv%da" % tag, "mdlpv%db" % tag
        self.sshd = None

    def sh(self, *argv, ns=False):
        cmd = (["ip", "netns", "exec", self.ns] if ns else []) + list(argv)
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    def start(self):
        self.sh("ip", "netns", "add", self.ns)
        self.sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.node_if, "netns", self.ns)
        self.sh("ip", "addr", "add", self.HOST_ADDR + "/24", "dev", self.host_if)
        self.sh("ip", "link", "set", self.host_if, "up")
        self.sh("ip", "link", "set", "lo", "up", ns=True)
        self.sh("ip", "addr", "add", self.NODE_ADDR + "/24", "dev", self.node_if, ns=True)
        self.sh("ip", "link", "set", self.node_if, "up", ns=True)
        self.add_vip()
        for key in ("host_key", "client_key", "stranger_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.root / key)], check=True)
        (self.root / "authorized_keys").write_text((self.root / "client_key.pub").read_text())
        (self.root / "known_hosts").write_text("[%s]:%d %s" % (self.NODE_ADDR, self.PORT,
                                                               (self.root / "host_key.pub").read_text()))
        (self.root / "sshd_config").write_text(
            "ListenAddress %s:%d\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "PermitRootLogin prohibit-password\n"
            % (self.NODE_ADDR, self.PORT, self.root / "host_key", self.root / "sshd.pid",
               self.root / "authorized_keys"))
        os.makedirs("/run/sshd", exist_ok=True)
        self.start_sshd()
        return self

    def start_sshd(self):
        self.sshd = subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/sbin/sshd", "-D", "-e", "-f",
                                      str(self.root / "sshd_config")], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.root / "sshd.log", "a"),
                                     start_new_session=True)
        if not wait_for(lambda: port_open(self.PORT, self.NODE_ADDR), timeout=10):
            raise RuntimeError("sshd did not start: %s" % (self.root / "sshd.log").read_text())

    def stop_sshd(self):
        if self.sshd and self.sshd.poll() is None:
            os.killpg(self.sshd.pid, signal.SIGKILL)
            self.sshd.wait()

    def add_vip(self):
        self.sh("ip", "addr", "add", self.VIP + "/32", "dev", self.node_if, ns=True)

    def has_vip(self):
        return (" %s/" % self.VIP) in self.sh("ip", "-o", "addr", "show", ns=True)

    def ssh_lines(self, key="client_key", known_hosts="known_hosts"):
        return ["backend=ssh", "ip=%s" % self.NODE_ADDR, "ipport=%d" % self.PORT, "username=root",
                "identity_file=%s" % (self.root / key), "vip=%s" % self.VIP,
                "ssh_options=-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null "
                "-o StrictHostKeyChecking=yes" % (self.root / known_hosts)]

    def remove(self):
        self.stop_sshd()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        reap_orphans()


@pytest.fixture
def victim(tmp_path):
    node = Victim(tmp_path / "victim")
    try:
        node.start()
    except Exception:
        node.remove()
        raise
    yield node
    node.remove()


# --- real clusters (tests marked `cluster`): fixtures live in clusterlab.py --------------


def pytest_terminal_summary(terminalreporter):
    """The seconds each cluster scenario took, even under -q: admins want these numbers."""
    if TIMINGS:
        terminalreporter.section("cluster timings")
        for label, seconds, target in TIMINGS:
            terminalreporter.write_line("%-68s %6.2f s%s" % (label, seconds,
                                                              "  (target <= %g s)" % target if target else ""))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed cluster test carries the tail of every node's Pacemaker and corosync logs."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            logs = getattr(getattr(value, "lab", None), "logs", None)
            if logs:
                report.sections.append(("Pacemaker and corosync logs (%s)" % value.lab.root, logs()))
                break
