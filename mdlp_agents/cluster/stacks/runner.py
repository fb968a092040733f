"""How the cluster's own tools are run (crm_mon, cibadmin, crm_resource, stonith_admin, clustat,
clusvcadm, at, fence agents; mdlp-cluster itself on the partner): with a deadline, each in a
session of its own, killed with everything it started when the time is up, so that a wedged
cluster or a black-holed peer costs the caller its timeout and no more.

A runner is passed to what needs one (the stacks, doctor's facts), never imported by it: LOCAL
runs here, SshRunner(TARGET) runs the same argv on TARGET through the admin's own OpenSSH."""

import os
import shlex
import signal
import subprocess
import time

from ...common.text import one_line

# what a tool may print before we stop reading: a partner (or a tool) answering hundreds of MB
# must not cost this process their size in memory
DEFAULT_LIMIT = 64 << 20


def run(argv, timeout, error, input=None, env=None, limit=DEFAULT_LIMIT):
    """ARGV's CompletedProcess (text); ERROR (an AgentError class) when it cannot be started, has not
    finished within TIMEOUT seconds, or prints more than LIMIT bytes (it is killed then)."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env)
    except OSError as exc:
        raise error("cannot run %s: %s" % (argv[0], exc.strerror or exc)) from None
    name = os.path.basename(argv[0])
    end = time.monotonic() + timeout
    try:
        out, err = _collect(proc, input, end, limit)
        _wait(proc, end)    # a program that closed its output may still be running
    except TimeoutError:    # an OSError too: first
        _kill(proc)
        raise error("%s did not answer within %gs" % (name, timeout)) from None
    except OSError as exc:
        _kill(proc)
        raise error("cannot run %s: %s" % (argv[0], exc.strerror or exc)) from None
    except OverflowError:
        _kill(proc)
        raise error("%s printed more than %d bytes: not read" % (name, limit)) from None
    return subprocess.CompletedProcess(argv, proc.returncode, _text(out), _text(err))


def _wait(proc, end):
    try:
        proc.wait(timeout=max(0.0, end - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise TimeoutError() from None


def _text(data):
    """Bytes as text mode reads them (universal newlines), undecodable bytes replaced."""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


def _collect(proc, data, end, limit):
    """(stdout, stderr) bytes of PROC until both close; TimeoutError at END, OverflowError past LIMIT."""
    import selectors
    try:
        proc.stdout.fileno()
    except (AttributeError, ValueError, OSError):    # a Popen of pytest-subprocess: no pipes to select
        return _communicate(proc, data, end, limit)
    if data is not None:
        try:
            proc.stdin.write(data.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
    chunks = {proc.stdout: [], proc.stderr: []}
    total = 0
    with selectors.DefaultSelector() as selector:
        for stream in chunks:
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                total += len(chunk)
                if total > limit:
                    raise OverflowError()
                chunks[key.fileobj].append(chunk)
    for stream in chunks:
        stream.close()
    return b"".join(chunks[proc.stdout]), b"".join(chunks[proc.stderr])


def _communicate(proc, data, end, limit):
    try:
        out, err = proc.communicate(data.encode() if data is not None else None,
                                    timeout=max(0.0, end - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise TimeoutError() from None
    if len(out or b"") + len(err or b"") > limit:
        raise OverflowError()
    return out or b"", err or b""


def _our_session(pid):
    """Is PID a child of ours leading its own session?  Never killpg anything else: a stand-in Popen
    (pytest-subprocess) says 0, 1, 2 ... -- killpg(1) would be the whole machine."""
    if not isinstance(pid, int) or pid <= 1:
        return False
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return int(fields[1]) == os.getpid() and os.getpgid(pid) == pid
    except (OSError, ValueError, IndexError):
        return False


def _kill(proc):
    """PROC's whole session (a child it started may hold the pipes open), then PROC; no waiting on
    a grandchild that left the session.  Whatever fails here fails quietly: the caller is already
    reporting why it gave up."""
    if _our_session(proc.pid):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    for step in (proc.kill, lambda: proc.wait(timeout=2)):
        try:
            step()
        except (OSError, subprocess.TimeoutExpired):
            pass
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass


def last_line(proc, stdout=False, default="no output"):
    """The last line a command printed on stderr (or, with STDOUT, on stdout if stderr is empty):
    what it said went wrong, one printable line."""
    for text in (proc.stderr, proc.stdout if stdout else None):
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if lines:
            return one_line(lines[-1][:300])
    return default


class LocalRunner:
    """Commands on this node."""

    where = None

    def __call__(self, argv, timeout, error, input=None, env=None, limit=DEFAULT_LIMIT):
        return run(argv, timeout, error, input=input, env=env, limit=limit)


class SshRunner:
    """Commands on TARGET (a checked host name or address) through `ssh -o BatchMode=yes -T`: never a
    prompt, the admin's keys, known_hosts and ssh_config; the remote command is one quoted line.
    SSH is found once: None when it is not installed."""

    def __init__(self, target, ssh, connect_timeout):
        self.where = target
        self.ssh = ssh
        self.connect_timeout = max(1, int(connect_timeout))

    def __call__(self, argv, timeout, error, input=None, env=None, limit=DEFAULT_LIMIT):
        remote = " ".join(shlex.quote(str(word)) for word in argv)
        return run([self.ssh, "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % self.connect_timeout, "-T", "--",
                    self.where, remote], timeout, error, input=input, env=env, limit=limit)


LOCAL = LocalRunner()
