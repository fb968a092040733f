"""The commands a fence run starts (ipmitool, ssh, password_script): each in a session of its
own, bounded by its timeout, and killed with the whole run when the deadline passes."""

import os
import signal

from .backends import FenceError


class Runner:
    """Child processes, each in its own session, killed with the whole run at the deadline."""

    def __init__(self):
        self.children = set()

    def run(self, argv, timeout, stdin_data=None, pass_fds=(), env=None):
        """(exit code, stdout, stderr); FenceError when TIMEOUT passes."""
        import subprocess

        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                                pass_fds=pass_fds, env=env, close_fds=True)
        self.children.add(proc.pid)
        try:
            out, err = proc.communicate(stdin_data, timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            self._kill(proc.pid)
            proc.communicate()
            raise FenceError("%s timed out after %gs" % (os.path.basename(argv[0]), timeout)) from None
        finally:
            self.children.discard(proc.pid)
        return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    @staticmethod
    def _kill(pid):
        if pid <= 0:   # killpg(0) would be our own group: never, whatever a Popen says its pid is
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass

    def kill_all(self):
        for pid in list(self.children):
            self._kill(pid)
