"""Log lines to syslog (facility daemon, so they land in /var/log/messages as the
guide says) and to journald when it runs.

Nothing here is imported or opened unless a line is logged: a healthy, unchanged
status check logs nothing.  Logging never fails the caller: no syslog daemon,
no journald, a full socket buffer -- the line is dropped, the agent goes on.
"""

import os

from .text import one_line

JOURNAL_SOCKET = "/run/systemd/journal/socket"
JOURNAL_DEV_LOG = "/run/systemd/journal/dev-log"
_SEND_TIMEOUT = 1.0

_PRIORITIES = {"error": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}
# syslog(3) facility codes by name, as HA_LOGFACILITY names them (resource-agents' ocf_log)
FACILITIES = dict({"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
                   "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11},
                  **{"local%d" % n: 16 + n for n in range(8)})


def facility_named(name, default="daemon"):
    """The facility code HA_LOGFACILITY (or another setting) names; DEFAULT's for none or an unknown name."""
    return FACILITIES.get((name or "").strip().lower(), FACILITIES[default])


class LevelMethods:
    """error() … debug() over one emit(level, message, **fields)."""

    def error(self, message, **fields):
        self.emit("error", message, **fields)

    def warning(self, message, **fields):
        self.emit("warning", message, **fields)

    def notice(self, message, **fields):
        self.emit("notice", message, **fields)

    def info(self, message, **fields):
        self.emit("info", message, **fields)

    def debug(self, message, **fields):
        self.emit("debug", message, **fields)


class AgentLog(LevelMethods):
    """log.warning("service httpd down: ...") -> syslog + journald."""

    def __init__(self, ident, syslog_socket="/dev/log", facility=FACILITIES["daemon"], fields=None):
        self.ident = one_line(ident, 64)   # HA_LOGTAG or an instance name from outside: one word of a line
        self.syslog_socket = syslog_socket
        self.facility = facility
        self.fields = dict(fields or {})   # journal fields of every line (MDLP_<NAME>): the resource instance
        self._handler = None
        self._journal = None
        self._opened = False

    def _open(self):
        self._opened = True
        journald = os.path.exists(JOURNAL_SOCKET)
        if journald:
            try:
                from systemd import journal
                self._journal = journal
            except ImportError:
                self._journal = None
        # When journald owns /dev/log, the journal already has the line: do not send it twice.
        if self._journal is not None and os.path.realpath(self.syslog_socket) == JOURNAL_DEV_LOG:
            return
        import logging
        import logging.handlers

        class _Handler(logging.handlers.SysLogHandler):
            def _connect_unixsocket(self, address):
                super()._connect_unixsocket(address)
                self.socket.settimeout(_SEND_TIMEOUT)  # a hung syslogd must not hang us

            def handleError(self, record):  # drop the line, never print a traceback
                pass

        handler = _Handler(address=self.syslog_socket, facility=self.facility)
        handler.ident = "%s[%d]: " % (self.ident, os.getpid())
        handler.append_nul = False
        handler.priority_map = dict(handler.priority_map, NOTICE="notice")
        self._handler = handler
        self._logging = logging

    def emit(self, level, message, **fields):
        message = one_line(message)   # a newline from outside must not forge a line of its own
        if not self._opened:
            self._open()
        if self._handler is not None:
            record = self._logging.LogRecord(self.ident, 20, __file__, 0, message, None, None)
            record.levelname = level.upper()  # SysLogHandler maps the name to a priority
            self._handler.emit(record)
        if self._journal is not None:
            try:
                extra = {"MDLP_" + k.upper(): one_line(v) for k, v in dict(self.fields, **fields).items()}
                self._journal.send(message, PRIORITY=_PRIORITIES[level], SYSLOG_IDENTIFIER=self.ident,
                                   SYSLOG_FACILITY=self.facility, **extra)
            except Exception:  # noqa: BLE001 - logging must never fail the agent
                pass

