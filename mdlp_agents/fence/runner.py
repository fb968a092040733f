"""The commands a fence run starts (ipmitool, ssh, password_script): each in a session of its
own, bounded by its timeout, and killed with the whole run when the deadline passes.

Started with posix_spawn and read with poll where nothing goes to their stdin (ipmitool, the
password script): importing subprocess (and threading, selectors, signal's enums with it) costs
the fencer's monitor every minute more than the ipmitool call it makes.  ssh, which gets its
script on stdin, and Pythons without posix_spawn (3.6, 3.7) use subprocess."""

import os
import select
import time

from .backends import FenceError

SIGKILL = 9
USE_POSIX_SPAWN = hasattr(os, "posix_spawn")


class Runner:
    """Child processes, each in its own session, killed with the whole run at the deadline."""

    def __init__(self):
        self.children = set()

    def run(self, argv, timeout, stdin_data=None, pass_fds=(), env=None):
        """(exit code, stdout, stderr); FenceError when TIMEOUT passes."""
        timeout = max(0.1, timeout)
        if stdin_data is None and USE_POSIX_SPAWN:
            code, out, err = self._spawn(argv, timeout, pass_fds, env)
        else:
            code, out, err = self._subprocess(argv, timeout, stdin_data, pass_fds, env)
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _spawn(self, argv, timeout, pass_fds, env):
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, out_write, 1),
                   (os.POSIX_SPAWN_DUP2, err_write, 2)]
        for fd in pass_fds:       # only these are inherited: every other descriptor is close-on-exec
            os.set_inheritable(fd, True)
        try:
            pid = os.posix_spawn(argv[0], argv, os.environ if env is None else env, file_actions=actions,
                                 setsid=True)
        finally:
            for fd in pass_fds:
                os.set_inheritable(fd, False)
            for fd in (out_write, err_write, devnull):
                os.close(fd)
        self.children.add(pid)
        try:
            chunks, done = self._read_until(pid, {out_read: [], err_read: []}, time.monotonic() + timeout)
        finally:
            os.close(out_read)
            os.close(err_read)
        if not done:
            self._kill(pid)
            os.waitpid(pid, 0)
            self.children.discard(pid)
            raise FenceError("%s timed out after %gs" % (os.path.basename(argv[0]), timeout))
        _, status = os.waitpid(pid, 0)
        self.children.discard(pid)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return code, b"".join(chunks[out_read]), b"".join(chunks[err_read])

    @staticmethod
    def _read_until(pid, chunks, end):
        """Read both pipes to their end, or until END: (chunks, whether both ended in time)."""
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
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
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

    @staticmethod
    def _kill(pid):
        if pid <= 0:   # killpg(0) would be our own group: never, whatever a Popen says its pid is
            return
        try:
            os.killpg(pid, SIGKILL)
        except OSError:
            pass

    def kill_all(self):
        for pid in list(self.children):
            self._kill(pid)
