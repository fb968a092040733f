"""The watcher: one long-running process per resource instance that knows within a tick when a
service dies, so that Pacemaker's frequent monitor can answer from its verdict without Python.

OCF `start` spawns it (spawn()), `stop` ends it (stop()); it holds the lock
watch-INSTANCE.lock in the state directory for its whole life (one per instance) and writes
watch-INSTANCE.verdict (verdict.py) every HEARTBEAT and at once on any change.  It:

- waits on a pidfd per service master (Linux >= 5.3, Python >= 3.9): woken by the exit itself;
  elsewhere (EL8: kernel 4.18) it reads each master's /proc/PID/stat every TICK;
- on a master that exited, was replaced (start time) or is stopped (SIGSTOP, a tracer), waits
  `restart_grace` (an admin's restart that already replaced it is no failure), then runs the full
  check with a fresh process scan: its result is the verdict;
- runs the full check (TCP owner, HTTP, init scripts) every `check_interval` seconds anyway;
- writes a byte to its FIFO watch-INSTANCE.wake the moment the verdict turns "failed" (and as it
  leaves): a front that listens there (a healthy monitor waits up to 3 s) hands over at once;
- leaves when its resource is no longer active here (stop cleared the marker), when the
  configuration file changes (the next monitor starts a new one on the new file), on SIGTERM.

It never reports anything to the cluster: a failed verdict only sends the next monitor to the
full check in Python, which decides afresh (a failure is never answered from memory).
"""

import os
import signal
import sys
import time

from ..common import procfs
from ..common.files import hold_record_lock, open_lock, record_lock_holder, state_dir
from . import verdict
from .health import check_services
from .runstate import RunState

TICK = 0.25                 # seconds between /proc reads where there is no pidfd
STUCK_AFTER = 5.0           # a watcher silent this long is ended and replaced by the next monitor
COMM = b"mdlp_rhcs-watch"   # the name ps and pkill see (15 characters: the kernel's limit)
_STOP_WAIT = 2.0


def _lock_name(instance):
    return "watch-%s.lock" % instance


def _holder(directory, instance):
    """(pid, ticks) of the watcher that holds INSTANCE's lock, None when nobody does.  Asked with
    F_GETLK, which takes nothing: a watcher starting at this moment gets its lock whatever we do."""
    lock_path = os.path.join(directory, _lock_name(instance))
    try:
        fd = open_lock(directory, _lock_name(instance)) if os.path.exists(lock_path) else None
    except OSError:
        return None
    if fd is None:
        return None
    try:
        pid = record_lock_holder(fd)
        if not pid:
            return None
        fields = os.pread(fd, 64, 0).split()
        if len(fields) == 2 and fields[0] == str(pid).encode() and fields[1].isdigit():
            return pid, int(fields[1])
        # it holds the lock but has not written itself yet: its start time from /proc
        return pid, procfs.ProcStat(pid).ticks
    except (OSError, ValueError, IndexError):
        return None
    finally:
        os.close(fd)


def running(directory, instance):
    """(pid, ticks) of INSTANCE's live watcher, or None."""
    if not directory or not verdict.INSTANCE.match(instance or ""):
        return None
    return _holder(directory, instance)


def stuck(directory, instance, after=STUCK_AFTER):
    """INSTANCE's watcher runs but has written no verdict for AFTER seconds (stopped, wedged): a
    text saying so, else None.  A watcher younger than AFTER is given its time."""
    holder = running(directory, instance)
    if not holder or not holder[0]:
        return None
    try:
        age = time.time() - procfs.ProcStat(holder[0]).started
    except (OSError, ValueError, IndexError):
        return None
    found = verdict.read(verdict.path(directory, instance))
    written = found.age() if found else None
    if age > after and (written is None or not 0 <= written <= after):
        return "watcher pid %d has written no verdict for %.0f s" % (holder[0], after)
    return None


def spawn(config_path, directory, instance):
    """Start INSTANCE's watcher, detached (its own session, no inherited descriptors, stdio on
    /dev/null: Pacemaker waits for the agent's pipes to close).  The pid, or None for a name the
    verdict file cannot carry."""
    if not directory or not verdict.INSTANCE.match(instance or ""):
        return None
    import subprocess
    argv = [sys.executable, "-s", "-m", "mdlp_agents.rhcs.watcher", directory, instance, config_path]
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True, cwd="/")
    # until it holds its lock (one monitor later nobody starts a second), or gave up (another holds it)
    end = time.monotonic() + _STOP_WAIT
    while time.monotonic() < end and child.poll() is None and not _holder(directory, instance):
        time.sleep(0.01)
    if child.poll() is None:
        child.returncode = 0  # it is the watcher's own to reap (init): no ResourceWarning at exit
    return child.pid


def stop(directory, instance, timeout=_STOP_WAIT):
    """End INSTANCE's watcher (SIGTERM, then SIGKILL) and remove its verdict; a text saying what
    was done, or None when there was nothing to do.  Bounded by about twice TIMEOUT."""
    if not directory or not verdict.INSTANCE.match(instance or ""):
        return None
    said = None
    holder = _holder(directory, instance)
    if holder:
        pid, ticks = holder
        said = "watcher pid %d ended" % pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if pid and _same(pid, ticks):
                try:
                    os.kill(pid, sig)
                    os.kill(pid, signal.SIGCONT)     # a stopped watcher acts on SIGTERM only when it runs
                except OSError:
                    pass
            end = time.monotonic() + timeout
            while _holder(directory, instance) and time.monotonic() < end:
                time.sleep(0.02)
            if not _holder(directory, instance):
                break
        else:
            said = "watcher pid %d did not end" % pid
    for leftover in (verdict.path(directory, instance), verdict.wake_path(directory, instance)):
        try:
            os.unlink(leftover)
        except OSError:
            pass
    return said


def _same(pid, ticks):
    try:
        return procfs.ProcStat(pid).ticks == ticks
    except (OSError, ValueError, IndexError):
        return False


class _Memory:
    """The process table remembered between the watcher's own checks (the RunState interface
    check_services uses), in memory: healthy checks re-read a few files, failures re-scan."""

    def __init__(self):
        self.found, self.when = {}, 0.0

    def remembered_processes(self, max_age):
        return self.found if time.monotonic() - self.when <= max_age else {}

    def remember_processes(self, found, rescanned):
        self.found = found
        if rescanned or not self.when:
            self.when = time.monotonic()


def _master_ticks(pid):
    try:
        stat = procfs.ProcStat(pid)
    except (OSError, ValueError, IndexError):
        return None
    return None if stat.dead else stat.ticks


class Watcher:
    def __init__(self, config, directory, instance, log, wake_fd=None):
        self.config, self.directory, self.instance, self.log = config, directory, instance, log
        self.wake_fd = wake_fd
        self.file = verdict.path(directory, instance)
        self.me = (os.getpid(), procfs.ProcStat(os.getpid()).ticks)
        self.memory = _Memory()
        self.healthy, self.masters, self.reason = None, [], ""
        self.pidfds = {}
        self.poller = None
        self.config_stat = self._config_stat()

    def _config_stat(self):
        try:
            info = os.stat(self.config.path)
            return info.st_ino, info.st_mtime_ns, info.st_size
        except OSError:
            return None

    # -- checking -------------------------------------------------------------------------
    def check(self, fresh):
        from . import report
        statuses = check_services(self.config, runstate=None if fresh else self.memory)
        masters, down = [], []
        for status in statuses:
            if not status.ok:
                down.append(status)
            elif status.pid:
                ticks = _master_ticks(status.pid)
                if ticks is None:       # gone since the check: the next tick checks afresh
                    down.append(status)
                else:
                    masters.append((status.pid, ticks))
        healthy = not down
        reason = "; ".join(report.down(s) for s in down if not s.ok) or "a master process exited during the check"
        if healthy != self.healthy:
            if healthy:
                self.log.notice("watching %s: all services up (%s)" % (
                    self.instance, ", ".join("%s pid %s" % (s.name, s.pid) for s in statuses)))
            else:
                self.log.warning("watcher %s: %s; the next monitor checks afresh" % (self.instance, reason))
        self.healthy, self.masters, self.reason = healthy, masters, reason
        self._watch_pids()

    def _watch_pids(self):
        """pidfds for the current masters, where the kernel and Python have them."""
        import select
        wanted = {pid for pid, _ in self.masters}
        for pid in list(self.pidfds):
            if pid not in wanted:
                self.poller.unregister(self.pidfds[pid])
                os.close(self.pidfds.pop(pid))
        if not hasattr(os, "pidfd_open"):
            return
        if self.poller is None:
            self.poller = select.poll()
        for pid in wanted - set(self.pidfds):
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            self.pidfds[pid] = fd
            self.poller.register(fd, select.POLLIN)

    def suspect(self):
        """A master that is gone, replaced, a zombie or stopped: why, or None."""
        for pid, ticks in self.masters:
            try:
                stat = procfs.ProcStat(pid)
            except (OSError, ValueError, IndexError):
                return "pid %d exited" % pid
            if stat.ticks != ticks or stat.dead:
                return "pid %d exited" % pid
            if stat.state in procfs.HUNG_STATES:
                return "pid %d is %s" % (pid, procfs.HUNG_STATES[stat.state])
        return None

    def wait(self, seconds):
        """Sleep up to SECONDS; True when a watched master exited (pidfd readable)."""
        if self.poller is not None and self.pidfds:
            return bool(self.poller.poll(max(0, int(seconds * 1000))))
        time.sleep(seconds)
        return False

    # -- the loop -------------------------------------------------------------------------
    def publish(self):
        text = verdict.line(self.instance, self.healthy, self.me, self.masters, self.reason)
        try:
            verdict.write(self.file, text)
        except OSError as exc:      # a full /run: the front finds no fresh verdict, Python checks
            if not getattr(self, "_write_failed", False):
                self.log.warning("watcher %s: cannot write %s: %s" % (self.instance, self.file, exc.strerror))
            self._write_failed = True
        else:
            self._write_failed = False

    def poke(self):
        """Wake a front listening on the FIFO (never blocks: a full pipe already says it)."""
        if self.wake_fd is not None:
            try:
                os.write(self.wake_fd, b"!")
            except OSError:
                pass

    def still_wanted(self):
        if RunState(self.directory).active_since() is None:
            return "the resource is no longer active here"
        if self._config_stat() != self.config_stat:
            return "%s changed" % self.config.path
        return None

    def run(self):
        grace = self.config.restart_grace
        self.check(fresh=True)
        self.publish()
        now = time.monotonic()
        next_full, next_beat = now + self.config.check_interval, now + verdict.HEARTBEAT
        while True:
            now = time.monotonic()
            fired = self.wait(max(0.0, min(TICK, next_full - now, next_beat - now)))
            why = ("a master exited" if fired else None) or (self.suspect() if self.healthy else None)
            before = (self.healthy, self.masters)
            if why:
                time.sleep(grace)
                self.check(fresh=True)
                next_full = time.monotonic() + self.config.check_interval
            elif time.monotonic() >= next_full:
                self.check(fresh=not self.healthy)
                next_full = time.monotonic() + self.config.check_interval
            if (self.healthy, self.masters) != before or time.monotonic() >= next_beat:
                self.publish()
                if before[0] and not self.healthy:
                    self.poke()
                next_beat = time.monotonic() + verdict.HEARTBEAT
                leave = self.still_wanted()
                if leave:
                    return leave


def _set_comm():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(COMM), 0, 0, 0)   # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def main(argv):
    """python -m mdlp_agents.rhcs.watcher STATE_DIR INSTANCE CONFIG (what spawn() runs)."""
    from ..common.syslogging import AgentLog
    from . import config as cfg
    directory, instance, config_path = argv
    if not verdict.INSTANCE.match(instance) or state_dir(directory) != directory:
        return 2
    fd = open_lock(directory, _lock_name(instance))
    if not hold_record_lock(fd):
        return 0                    # another watcher has it: one per instance
    os.ftruncate(fd, 0)
    os.pwrite(fd, ("%d %d\n" % (os.getpid(), procfs.ProcStat(os.getpid()).ticks)).encode(), 0)
    _set_comm()
    config = cfg.load(config_path, use_cache=False)
    log = AgentLog("mdlp_rhcs-watch(%s)" % instance, config.syslog_socket, fields={"resource_instance": instance})
    file_path, wake = verdict.path(directory, instance), verdict.wake_path(directory, instance)
    try:
        os.unlink(wake)
    except OSError:
        pass
    os.mkfifo(wake, 0o600)
    wake_fd = os.open(wake, os.O_RDWR | os.O_NONBLOCK)     # held open: a write never blocks nor fails

    def leave(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, leave)
    watcher = Watcher(config, directory, instance, log, wake_fd)
    log.info("watcher started for %s (%s)" % (
        instance, "pidfd" if hasattr(os, "pidfd_open") else "/proc every %.2f s" % TICK))
    why = "SIGTERM"
    try:
        why = watcher.run()
    finally:
        for leftover in (file_path, wake):
            try:
                os.unlink(leftover)
            except OSError:
                pass
        watcher.poke()              # a front listening now re-reads, finds no verdict, checks afresh
        log.info("watcher for %s ended: %s" % (instance, why))
    return 0


if __name__ == "__main__":
    from ..common.main import run_tool
    run_tool(lambda: main(sys.argv[1:]), lambda message: None, 1)
