"""Process facts: is a service's process alive, itself, and not hung?

psutil gives the facts; this module decides what they mean for a service:
- a zombie is dead;
- a process in the stopped state (SIGSTOP, `T`, or traced `t`) is hung;
- a pidfile counts only when its PID is alive, is the named process, and was
  not started after the pidfile was written (PID reuse).
"""

import os

import psutil

from .results import FAILED, HUNG, STALE, STOPPED, ProbeResult

_HUNG_STATES = {psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP}
# A process's start time is computed from the boot time (whole seconds) and clock
# ticks, so it can look up to a second later than it was: a pidfile written at
# once by the new process may seem a little older than its process.
_START_SLACK = 2.0


def _describe_status(status):
    if status == psutil.STATUS_STOPPED:
        return "stopped (SIGSTOP): hung"
    if status == psutil.STATUS_TRACING_STOP:
        return "stopped by a tracer: hung"
    return status


def _name_matches(proc, name):
    """comm (possibly truncated to 15 characters) or the executable's basename."""
    try:
        if proc.name() == name:
            return True
        exe = proc.exe()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return bool(exe) and os.path.basename(exe) == name


def check_pidfile(path, name=None):
    """The pidfile probe (with the process-name check when NAME is given)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(64).decode("ascii", "replace")
        written = os.stat(path).st_mtime
    except FileNotFoundError:
        return ProbeResult(False, "pidfile", STOPPED, "pidfile %s does not exist" % path)
    except OSError as exc:
        return ProbeResult(False, "pidfile", FAILED, "cannot read pidfile %s: %s" % (path, exc.strerror))
    fields = text.split()
    if not fields or not fields[0].isdigit() or int(fields[0]) <= 0:
        return ProbeResult(False, "pidfile", STALE, "pidfile %s holds no PID" % path)
    pid = int(fields[0])
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            status = proc.status()
            started = proc.create_time()
            if status == psutil.STATUS_ZOMBIE:
                return ProbeResult(False, "pidfile", STALE,
                                  "pid %d from %s is a zombie (dead, not reaped)" % (pid, path))
            if name and not _name_matches(proc, name):
                return ProbeResult(False, "pidfile", STALE,
                                  "pid %d from %s is now %r, not %s (stale pidfile, PID reused)"
                                  % (pid, path, proc.name(), name))
    except psutil.NoSuchProcess:
        return ProbeResult(False, "pidfile", STALE, "pid %d from %s is not running (stale pidfile)" % (pid, path))
    except psutil.AccessDenied as exc:
        return ProbeResult(False, "pidfile", FAILED, "pid %d from %s: %s" % (pid, path, exc))
    if started > written + _START_SLACK:
        return ProbeResult(False, "pidfile", STALE,
                          "pid %d started after %s was written (stale pidfile, PID reused)" % (pid, path))
    if status in _HUNG_STATES:
        return ProbeResult(False, "pidfile", HUNG, "pid %d is %s" % (pid, _describe_status(status)),
                          pid=pid, started=started, pids=(pid,))
    return ProbeResult(True, "pidfile", pid=pid, started=started, pids=(pid,))


def find_processes(names):
    """One pass over the process table: {name: [psutil.Process, ...]} for every NAME.

    Matching is on comm first (one read of /proc/PID/stat each); the executable's
    basename is consulted in a second pass only for names that matched nothing,
    so a healthy check stays cheap on a host with thousands of processes.
    """
    wanted = {name[:15]: name for name in names}
    found = {name: [] for name in names}
    for pid in psutil.pids():
        try:
            full = wanted.get(_comm(pid))
            if full is None:
                continue
            proc = psutil.Process(pid)
        except (OSError, psutil.Error):
            continue
        if len(full) <= 15 or _name_matches(proc, full):
            found[full].append(proc)
    missing = {name for name, procs in found.items() if not procs}
    if missing:
        for pid in psutil.pids():
            try:
                exe = os.readlink("/proc/%d/exe" % pid)
                base = os.path.basename(exe[:-10] if exe.endswith(" (deleted)") else exe)
                if base in missing:
                    found[base].append(psutil.Process(pid))
            except (OSError, psutil.Error):
                continue
    return found


def _comm(pid):
    with open("/proc/%d/comm" % pid, "rb") as handle:
        return handle.read().rstrip(b"\n").decode("utf-8", "replace")


def check_process(name, procs):
    """The process probe, from the matches find_processes() gave for NAME."""
    alive, zombies, hung = [], 0, []
    for proc in procs:
        try:
            with proc.oneshot():
                status = proc.status()
                started = proc.create_time()
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            status, started = psutil.STATUS_RUNNING, 0.0
        if status == psutil.STATUS_ZOMBIE:
            zombies += 1
        else:
            alive.append((started, proc.pid))
            if status in _HUNG_STATES:
                hung.append((proc.pid, status))
    if not alive:
        detail = "no process named %s" % name
        if zombies:
            detail += " (only %d zombie%s)" % (zombies, "s" if zombies > 1 else "")
        return ProbeResult(False, "process", STOPPED, detail)
    alive.sort()
    started, pid = alive[0]  # the oldest: the master of a pre-forking daemon
    pids = tuple(p for _, p in alive)
    if hung:
        bad_pid, status = hung[0]
        return ProbeResult(False, "process", HUNG, "%s pid %d is %s" % (name, bad_pid, _describe_status(status)),
                          pid=pid, started=started, pids=pids)
    return ProbeResult(True, "process", pid=pid, started=started, pids=pids)


def listener_inodes(host, port):
    """Inodes of the TCP sockets listening on PORT that would take HOST's connections."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                next(handle, None)
                for line in handle:
                    fields = line.split()
                    if len(fields) < 10 or fields[3] != "0A":  # 0A = LISTEN
                        continue
                    if int(fields[1].rpartition(":")[2], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def holders(inodes, pids):
    """Which of PIDS (and their children) hold one of the socket INODES open."""
    targets = {"socket:[%s]" % inode for inode in inodes}
    held = []
    for pid in pids:
        fd_dir = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir + "/" + fd) in targets:
                    held.append(pid)
                    break
            except OSError:
                continue
    return held


def owner_of(inodes):
    """(pid, name) of some process holding one of INODES, for the error message."""
    for proc in psutil.process_iter():
        if holders(inodes, (proc.pid,)):
            try:
                return proc.pid, proc.name()
            except psutil.Error:
                return proc.pid, "?"
    return None


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass
