"""The services under the agent: real processes named httpd / PolicyEngine / RProxyWD (any
program under those names), and Debian's apache2 as a real httpd on loopback ports."""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from helpers import comm, free_port, port_open, reap_orphans, sigstop, wait_for, write_config

NAMES = ("httpd", "PolicyEngine", "RProxyWD")


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
        wait_for(lambda: comm(proc.pid) == name[:15], timeout=5)
        return proc

    def kill(self, name, sig=signal.SIGKILL):
        for proc in self.procs.get(name, []):
            if proc.poll() is None:
                if sig == signal.SIGSTOP:
                    sigstop(proc.pid)
                    continue
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


def service_pid(fake, name):
    path = fake.pidfile(name)
    return int(path.read_text()) if path.exists() else None


def make_managed(tmp_path, fake):
    """A config whose start/stop commands really launch and kill the fake services, and record the
    order they ran in (the `managed` fixture)."""
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
ScriptAlias /flip {root}/cgi/flip
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
        # 500 while the file broken-now exists: a service that starts failing while it runs
        (cgi / "flip").write_text("#!/bin/sh\nif [ -e %s/broken-now ]; then\n"
                                  "    printf 'Status: 500 Internal Server Error\\n'\nfi\n"
                                  "printf 'Content-Type: text/plain\\n\\nflip\\n'\n" % self.root)
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
