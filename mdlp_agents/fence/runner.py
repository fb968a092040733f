"""The commands a fence run starts (ipmitool, ssh, password_script): each bounded by its timeout,
and killed with the whole run when the deadline passes.

Each child gets a session of its own, so that a timeout kills everything it started -- except
under Pacemaker's fencer, which bounds the run itself and, at its timeout, kills the agent's
process group: there the children stay in ours, or they would outlive the agent (an ipmitool
"power on" landing after the fencer has moved on).

Started with posix_spawn and read with poll where nothing goes to their stdin (ipmitool, the
password script): importing subprocess (and threading, selectors, signal's enums with it) costs
the fencer's monitor every minute more than the ipmitool call it makes.  ssh, which gets its
script on stdin, Pythons without posix_spawn (3.6, 3.7) and a C library without
POSIX_SPAWN_SETSID use subprocess."""

import os
import select
import time

from ..common.processes import SIGKILL, exit_code, reap_until, signals
from .backends import FenceError

USE_POSIX_SPAWN = hasattr(os, "posix_spawn")


class Runner:
    """Child processes, each in its own session (unless own_sessions is off), killed with the
    whole run at the deadline."""

    def __init__(self, own_sessions=True):
        self.children = set()
        self.own_sessions = own_sessions

    def run(self, argv, timeout, stdin_data=None, pass_fds=(), env=None):
        """(exit code, stdout, stderr); FenceError when TIMEOUT passes or it cannot be started."""
        global USE_POSIX_SPAWN
        timeout = max(0.1, timeout)
        try:
            if stdin_data is None and USE_POSIX_SPAWN:
                try:
                    code, out, err = self._spawn(argv, timeout, pass_fds, env)
                except NotImplementedError:   # no POSIX_SPAWN_SETSID in this C library
                    USE_POSIX_SPAWN = False
                    code, out, err = self._subprocess(argv, timeout, stdin_data, pass_fds, env)
            else:
                code, out, err = self._subprocess(argv, timeout, stdin_data, pass_fds, env)
        except OSError as exc:
            raise FenceError("cannot run %s: %s" % (argv[0], exc.strerror or exc)) from None
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _spawn(self, argv, timeout, pass_fds, env):
        end = time.monotonic() + timeout
        opened = []
        try:
            out_read, out_write = os.pipe()
            opened += [out_read, out_write]
            err_read, err_write = os.pipe()
            opened += [err_read, err_write]
            devnull = os.open(os.devnull, os.O_RDONLY)
            opened.append(devnull)
            actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, out_write, 1),
                       (os.POSIX_SPAWN_DUP2, err_write, 2)]
            # what close_fds does for subprocess: nothing the agent inherited reaches the child
            actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds() if fd not in pass_fds]
            for fd in pass_fds:
                os.set_inheritable(fd, True)
            # the deadline's handler must not find a child it does not know of yet
            blocked = signals.pthread_sigmask(signals.SIG_BLOCK, {signals.SIGALRM})
            try:
                pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=actions,
                                     setsid=self.own_sessions)
                self.children.add(pid)
            finally:
                signals.pthread_sigmask(signals.SIG_SETMASK, blocked)
                for fd in pass_fds:
                    os.set_inheritable(fd, False)
            for fd in (out_write, err_write, devnull):
                opened.remove(fd)
                os.close(fd)
            status = None
            try:
                chunks, done = self._read_until({out_read: [], err_read: []}, end)
                status = reap_until(pid, end) if done else None
            finally:
                if status is None:   # timed out, or reading failed: never left running
                    self._kill(pid)
                    os.waitpid(pid, 0)
                self.children.discard(pid)
            if status is None:
                raise FenceError("%s timed out after %gs" % (os.path.basename(argv[0]), timeout))
        finally:
            for fd in opened:
                os.close(fd)
        return exit_code(status), b"".join(chunks[out_read]), b"".join(chunks[err_read])

    @staticmethod
    def _read_until(chunks, end):
        """Read the pipes to their end, or until END: (chunks, whether they all ended in time)."""
        poller = select.poll()
        for fd in chunks:
            poller.register(fd, select.POLLIN)
        open_fds = set(chunks)
        while open_fds:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return chunks, False
            for fd, _ in poller.poll(remaining * 1000):
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    poller.unregister(fd)
                    open_fds.discard(fd)
        return chunks, True

    def _subprocess(self, argv, timeout, stdin_data, pass_fds, env):
        import subprocess

        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=self.own_sessions,
                                pass_fds=pass_fds, env=env, close_fds=True)
        self.children.add(proc.pid)
        try:
            out, err = proc.communicate(stdin_data, timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc.pid)
            proc.communicate()
            raise FenceError("%s timed out after %gs" % (os.path.basename(argv[0]), timeout)) from None
        finally:
            self.children.discard(proc.pid)
        return proc.returncode, out or b"", err or b""

    def _kill(self, pid):
        if pid <= 0:   # killpg(0) would be our own group: never, whatever a Popen says its pid is
            return
        try:
            if self.own_sessions:
                os.killpg(pid, SIGKILL)
            else:    # in our own process group: the child alone
                os.kill(pid, SIGKILL)
        except OSError:
            pass

    def kill_all(self):
        for pid in list(self.children):
            self._kill(pid)


def _inherited_fds():
    """Descriptors above 2 that a child would inherit (not close-on-exec)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    found = []
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    found.append(fd)
            except OSError:   # the listing's own descriptor, closed by now
                pass
    return found
