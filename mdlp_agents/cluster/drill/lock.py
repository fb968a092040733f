"""One drill at a time on a pair: a lock on each node (drill.lock in the agents' state directory,
a POSIX record lock: the holder's PID can be named).  The partner's is held by `mdlp-cluster drill
hold-lock` there, over one ssh session the drill keeps open: when the drill ends -- or dies -- ssh
closes, and the partner's lock goes with it."""

import os
import select
import shlex
import subprocess
import sys
import time

from ...common.files import hold_record_lock, open_lock, record_lock_holder, state_dir
from ...common.paths import STATE_DIR

NAME = "drill.lock"
HOLD_LIMIT = 6 * 3600       # hold-lock gives up after this long, whatever its ssh does


def take_here():
    """(descriptor holding this node's drill lock, None) or (None, why not)."""
    directory = state_dir(STATE_DIR)
    if directory is None:
        return None, "no private state directory (%s)" % STATE_DIR
    try:
        fd = open_lock(directory, NAME)
    except OSError as exc:
        return None, str(exc)
    if hold_record_lock(fd):
        return fd, None
    holder = record_lock_holder(fd)
    os.close(fd)
    return None, "another drill is running on this node (pid %d)" % holder if holder else "the drill lock is busy"


def hold_here(stdin=None, out=None):
    """`drill hold-lock` (run by the drill over ssh): take this node's lock, say "held" (or "busy:
    why"), keep it until stdin closes (or HOLD_LIMIT).  Exit 0 held, 1 busy."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    fd, why = take_here()
    if fd is None:
        out.write("busy: %s\n" % why)
        out.flush()
        return 1
    out.write("held %d\n" % os.getpid())
    out.flush()
    end = time.monotonic() + HOLD_LIMIT
    while time.monotonic() < end:
        ready, _, _ = select.select([stdin], [], [], 60)
        if ready and not os.read(stdin.fileno(), 4096):
            break
    os.close(fd)
    return 0


class RemoteLock:
    """The partner's lock, held through `ssh TARGET PROGRAM drill hold-lock` kept open."""

    def __init__(self, ssh, target, program, timeout):
        self.proc = None
        self.why = self.stderr = None
        try:
            self.proc = subprocess.Popen([ssh, "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % max(1, int(timeout)),
                                          "-T", "--", target, "%s drill hold-lock" % shlex.quote(program)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         start_new_session=True)
        except OSError as exc:
            self.why = "cannot run ssh: %s" % (exc.strerror or exc)
            return
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline(200).decode("utf-8", "replace").strip() if ready else ""
        if line.startswith("held "):
            return
        self.release()
        if line.startswith("busy: "):
            self.why = "%s: %s" % (target, line[6:])
        else:
            err = (self.stderr or "").strip().splitlines()
            self.why = "no answer from `%s drill hold-lock` on %s%s" % (program, target, ": " + err[-1] if err else "")

    @property
    def held(self):
        return self.proc is not None and self.why is None and self.proc.poll() is None

    def release(self):
        if self.proc is None:
            return
        for step in (self.proc.stdin.close, lambda: self.proc.wait(timeout=5)):
            try:
                step()
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.stderr is None and self.proc.stderr is not None:
            self.stderr = self.proc.stderr.read(2000).decode("utf-8", "replace")
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
