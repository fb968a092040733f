"""Network and init-script probes, each bounded by its own timeout.

A probe function takes the service and a timeout in seconds and returns a
ProbeResult.  They are run in threads by health.py, which also bounds them from
the outside: a probe that does not answer in time is reported as hung even if
it is stuck somewhere this module's own timeouts do not reach.
"""

# The C module under `socket`: socket.py's enum set-up alone costs a fifth of the
# interpreter's start-up, and a TCP connect needs none of it (bench/status).
import _socket
import os
import time

from ..common.files import find_program
from ..common.main import CHILD_GROUPS
from ..common.paths import SYSTEM_PATH
from ..common.processes import SIGKILL, exit_code, reap_until
from . import procfacts
from .results import FAILED, HUNG, ProbeResult

# socket.timeout is TimeoutError only from Python 3.10 on (EL8 has 3.6, EL9 3.9)
_TIMEOUTS = (TimeoutError, _socket.timeout)


def _timeout_text(timeout):
    return "no answer within %gs" % timeout


def check_tcp(svc, timeout, pids=(), fresh_pids=None):
    """Connect to HOST:PORT; when PIDS are known and the port is local, the
    listener must belong to them (another program on the port is not our service).
    PIDS may come from memory (the last run's process table): FRESH_PIDS, when given,
    reads them anew before the listener is called somebody else's -- a failure is
    never answered from memory (a restarted service has a new PID)."""
    host, port = svc.tcp_addr
    where = "%s:%d" % (host, port)
    try:
        sock = _connect(host, port, timeout)
        try:
            peer, mine = sock.getpeername()[0], sock.getsockname()[0]
        finally:
            sock.close()
    except _TIMEOUTS:
        return ProbeResult(False, "tcp", HUNG, "connect to %s: %s" % (where, _timeout_text(timeout)))
    except OSError as exc:
        return ProbeResult(False, "tcp", FAILED, "connect to %s: %s" % (where, exc.strerror or exc))
    # whatever the name: the address we reached is this host's own (loopback, or the kernel
    # answered from the address we called) -> the listener on THAT address must be ours
    if pids and (_is_loopback(peer) or peer == mine):
        inodes = procfacts.listener_inodes(port, peer)
        held = _held(inodes, pids) if inodes else True
        if held == [] and fresh_pids is not None:
            pids = fresh_pids()
            held = _held(inodes, pids) if pids else []
        if held == []:  # None: we may not look (not root), so we do not claim a squatter
            owner = procfacts.owner_of(inodes)
            who = "pid %d (%s)" % owner if owner else "another process"
            return ProbeResult(False, "tcp", FAILED,
                               "%s is held by %s, not by %s" % (where, who, svc.process or svc.name))
    return ProbeResult(True, "tcp")


def _held(inodes, pids):
    """Which of PIDS, or else of their descendants, hold one of INODES ([] none, None unknown)."""
    held = procfacts.holders(inodes, pids)
    if held == []:
        held = procfacts.holders(inodes, procfacts.children(pids))
    return held


def _is_loopback(address):
    if address.startswith("::ffff:"):
        address = address[7:]
    return address.startswith("127.") or address == "::1"


def _connect(host, port, timeout):
    """socket.create_connection(), on the C module: each address in turn."""
    error = OSError("no address for %s" % host)
    try:
        name = host.encode("ascii")  # a str would be IDNA-encoded: the codec's import costs 10 ms
    except UnicodeEncodeError:
        name = host
    for family, kind, proto, _, address in _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


def check_http(svc, timeout):
    """GET the URL; an answer with a status below 500 counts as serving.  TLS is not
    verified: the appliance serves a self-signed certificate on 443.

    Only the status line is read, over a bare socket: http.client's import alone
    costs 2.7 times the interpreter's start-up (bench/status), and a probe needs
    one request and three digits."""
    scheme, host, port, path = svc.http_url
    end = time.monotonic() + timeout
    default_port = 443 if scheme == "https" else 80
    authority = "[%s]" % host if ":" in host else host
    if port != default_port:
        authority += ":%d" % port
    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mdlp_rhcs\r\nAccept: */*\r\n"
               "Connection: close\r\n\r\n" % (path, authority)).encode("latin-1")
    sock = None
    try:
        sock = _connect(host, port, timeout)
        if scheme == "https":
            sock = _tls_wrap(sock, host)
        sock.sendall(request)
        status = _read_status(sock, end)
    except _TIMEOUTS:
        return ProbeResult(False, "http", HUNG, "GET %s: %s" % (svc.http, _timeout_text(timeout)))
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return ProbeResult(False, "http", FAILED, "GET %s: %s" % (svc.http, reason))
    finally:
        if sock is not None:
            sock.close()
    if status >= 500:
        return ProbeResult(False, "http", FAILED, "GET %s: HTTP %d" % (svc.http, status))
    return ProbeResult(True, "http")


def _tls_wrap(raw, host):
    import socket

    from ..common.tls import unverified_context
    context = unverified_context()
    timeout = raw.gettimeout()
    sock = socket.socket(raw.family, raw.type, raw.proto, fileno=raw.detach())
    sock.settimeout(timeout)
    return context.wrap_socket(sock, server_hostname=host)


_MAX_HEAD = 65536    # bytes of status lines and interim headers we read before calling it garbage


def _read_status(sock, end):
    """The status code of the final answer, the whole read bounded by END.  Interim answers
    (1xx, such as 103 Early Hints) are skipped: the one that follows says whether we serve.
    A code outside 200-599 is not an answer."""
    data = b""

    def fill(marker, start):
        nonlocal data
        while data.find(marker, start) < 0:
            if len(data) >= _MAX_HEAD:
                raise ValueError("no complete HTTP answer in %d bytes" % _MAX_HEAD)
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            chunk = sock.recv(4096)
            if not chunk:
                return False
            data += chunk
        return True

    interim = None
    while True:
        complete = fill(b"\r\n", 0)
        if not data and interim:
            raise ValueError("connection closed after an interim HTTP %d" % interim)
        line = data.split(b"\r\n", 1)[0] if complete else data[:200]
        fields = line.split(None, 2)
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit() \
                or len(fields[1]) != 3:
            raise ValueError("not an HTTP answer: %r" % line[:60] if line else "connection closed without an answer")
        code = int(fields[1])
        if 200 <= code <= 599:
            return code
        if not 100 <= code <= 199:
            raise ValueError("not an HTTP status: %d" % code)
        interim = code
        if not fill(b"\r\n\r\n", 0):
            raise ValueError("connection closed after an interim HTTP %d" % code)
        data = data[data.find(b"\r\n\r\n") + 4:]


def systemd_booted():
    """sd_booted(): /run/systemd/system exists (what sd_booted() tests), confirmed by
    systemd-python when it is installed -- imported only on systemd hosts."""
    if not os.path.isdir("/run/systemd/system"):
        return False
    try:
        from systemd import daemon
    except ImportError:
        return True
    return bool(daemon.booted())


def init_command(name):
    """(argv, env) that ask the init system whether NAME runs, or None if nothing can.

    Under systemd: `systemctl is-active`.  Otherwise `service NAME status`, which on
    SysV systems is `env -i PATH=… LANG=… TERM=… /etc/init.d/NAME status`: the script
    is run that way directly when it exists (half the cost of the wrapper), and
    through `service` when only `service` knows where it is."""
    if systemd_booted():
        tool = find_program("systemctl", SYSTEM_PATH)
        return ([tool, "is-active", "--quiet", name], None) if tool else None
    script = "/etc/init.d/" + name
    if "/" not in name and os.access(script, os.X_OK):
        env = {"PATH": SYSTEM_PATH, "LANG": os.environ.get("LANG", "C")}
        if "TERM" in os.environ:
            env["TERM"] = os.environ["TERM"]
        return [script, "status"], env
    tool = find_program("service", SYSTEM_PATH)
    return ([tool, name, "status"], None) if tool else None


def run_bounded(argv, timeout, shell=False, env=None, stdout=None):
    """Run a command with /dev/null for stdin, stdout and stderr (no pipe to drain, so
    a daemon it leaves behind cannot hold us) in a session of its own; at the
    timeout, kill its whole process group.  STDOUT: a descriptor of a file (never a pipe) that
    takes its standard output instead.  Returns (exit code, or None on timeout;
    seconds).  posix_spawn and a waitpid poll, not subprocess: its import (with
    threading) costs more than the `service NAME status` it would run."""
    started = time.monotonic()
    if shell:
        argv = ["/bin/sh", "-c", argv]
    if env is None:
        env = dict(os.environ, PATH=SYSTEM_PATH + ":" + os.environ.get("PATH", ""))
    devnull = os.open(os.devnull, os.O_RDWR)
    proc = None
    try:
        if hasattr(os, "posix_spawn"):  # Python >= 3.8
            pid = os.posix_spawn(argv[0], argv, env, setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull if stdout is None or fd != 1 else stdout, fd) for fd in (0, 1, 2)])
        else:
            import subprocess
            proc = subprocess.Popen(argv, stdin=devnull, stdout=devnull if stdout is None else stdout,
                                    stderr=devnull, env=env, start_new_session=True)
            pid = proc.pid
    finally:
        os.close(devnull)
    CHILD_GROUPS.add(pid)   # setsid: its process group is its pid
    try:
        code, seconds = _reap_bounded(pid, started, started + timeout)
    finally:
        CHILD_GROUPS.discard(pid)
    if proc is not None:
        # reaped here: a Popen dropped while it looks alive joins subprocess's list of children
        # to reap, and another thread's next Popen would reap some other command of ours
        proc.returncode = -SIGKILL if code is None else code
    return code, seconds


def _reap_bounded(pid, started, end):
    status = reap_until(pid, end)
    if status is None:
        try:
            os.killpg(pid, SIGKILL)
        except OSError:
            pass
        os.waitpid(pid, 0)
        return None, time.monotonic() - started
    return exit_code(status), time.monotonic() - started


def check_init(svc, timeout):
    command = init_command(svc.init)
    if command is None:
        return ProbeResult(False, "init", FAILED, "no systemctl, service or /etc/init.d/%s to ask" % svc.init)
    argv, env = command
    what = "service %s status" % svc.init if argv[-1] == "status" else " ".join(argv)
    try:
        code, _ = run_bounded(argv, timeout, env=env)
    except OSError as exc:
        return ProbeResult(False, "init", FAILED, "%s: %s" % (argv[0], exc.strerror))
    if code is None:
        return ProbeResult(False, "init", HUNG, "%s: %s" % (what, _timeout_text(timeout)))
    if code != 0:
        return ProbeResult(False, "init", FAILED, "%s exited %d" % (what, code))
    return ProbeResult(True, "init")
