"""What one fence run says, and where: syslog/journald (the whole story), the debug file, stderr
with --verbose, and the one line fenced's pipe and Pacemaker's log get when it fails."""

import os
import stat
import time

from ..common.exitcodes import FENCE_FAILED
from ..common.syslogging import AgentLog, LevelMethods
from ..common.text import one_line

IDENT = "fence_mdlp"


class RunLog(LevelMethods):
    """The log a run and its backends write to (error() … debug(), shout(), fail())."""

    def __init__(self, err):
        self.err = err
        self.syslog_socket = "/dev/log"   # fence_mdlp.conf's [agent] may say otherwise, before any line
        self.quiet = False
        self.verbose = False
        self.debug_fd = None
        self._syslog = None

    def emit(self, level, message, **fields):
        """A line for syslog/journald (and the debug file, and stderr with --verbose).
        `debug` lines (each command run, each successful check) skip syslog: a
        device `monitor` every minute must not fill /var/log/messages."""
        message = one_line(message)   # a node name from stdin must not forge a line of its own
        if level != "debug":
            if self._syslog is None:
                self._syslog = AgentLog(IDENT, self.syslog_socket)
            self._syslog.emit(level, message, **fields)
        if self.debug_fd is not None:
            line = "%s %s: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), level.upper(), message)
            try:
                os.write(self.debug_fd, line.encode("utf-8", "replace"))
            except OSError:
                pass
        if self.verbose and not self.quiet:
            self.err.write("%s: %s\n" % (level.upper(), message))

    def shout(self, message, **fields):
        """A warning that also goes to stderr (unless quiet): noop's "nothing was fenced"."""
        self.emit("warning", message, **fields)
        if not self.quiet and not self.verbose:
            self.err.write("%s: WARNING: %s\n" % (IDENT, one_line(message)))

    def fail(self, message):
        """The one line fenced's pipe and Pacemaker's log get; exit 1."""
        self.emit("error", message)
        if not self.quiet and not self.verbose:
            self.err.write("%s: %s\n" % (IDENT, one_line(message)))
        return FENCE_FAILED

    def open_debug_file(self, path):
        """debug_file, opened once: appended to, created private, never through a link, and only
        if it is a regular file (a FIFO there would block every line, the timeout's included)."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY
        try:
            fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            self.emit("warning", "debug_file %s: %s; not writing it" % (path, exc.strerror))
            return
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            self.emit("warning", "debug_file %s is not a regular file; not writing it" % path)
            return
        self.debug_fd = fd
