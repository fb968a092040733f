"""mdlp-cluster maintenance on|off|status: the cluster stops acting on the mdlp service's health
while the guide's "Deploy the settings" restarts httpd, PolicyEngine and RProxyWD -- nothing is
stopped, nothing relocates, nobody is fenced -- and acts on it again afterwards.

What the admin asks (how long, why, who asks) is read here; how each manager does it is the
stack's (stacks/pacemaker.py: a meta_attributes block or maintenance-mode, ended by a rule;
stacks/rgmanager.py: clusvcadm -Z, ended by an at(1) job).  `off` checks the service first, unless
--force: Pacemaker re-probes it on every node, rgmanager runs its script where it runs."""

import math
import os
import re
import time

from ...common import convert
from ...common.maintenance_record import describe, iso

MIN_DURATION, MAX_DURATION = 1.0, 30 * 86400.0
REASON_MAX = 200
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def duration(text):
    """--for: 90, 90s, 30m, 2h, 1d or combined (1h30m): seconds, 1 s to 30 days (ASCII digits)."""
    value = (text or "").strip().lower()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        total = float(value)
    else:
        parts = re.findall(r"([0-9]+)([dhms])", value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ValueError("%r is not a duration (like 90s, 30m, 2h, 1h30m, 1d)" % text)
        total = float(sum(int(n) * _UNITS[u] for n, u in parts))
    try:
        seconds = convert.seconds(total, positive=True, maximum=MAX_DURATION)
    except ValueError:
        seconds = 0.0
    if seconds < MIN_DURATION:
        raise ValueError("%r: a maintenance lasts from 1 s to 30 days" % text)
    return seconds


def reason(text):
    """--reason: printable text on one line, at most 200 characters (it goes into the CIB and the log)."""
    if text is None:
        return None
    value = " ".join(text.split())
    if not value.isprintable() or len(value) > REASON_MAX:
        raise ValueError("the reason must be printable text of at most %d characters" % REASON_MAX)
    return value or None


def who():
    """The admin: the sudo user if root was reached through sudo, else this account; @host."""
    import pwd
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        user = "uid %d" % os.geteuid()
    sudo = os.environ.get("SUDO_USER") or ""
    if sudo and re.fullmatch(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,63}", sudo) and sudo != user:
        user = "%s (sudo %s)" % (sudo, user)
    return "%s@%s" % (user, os.uname().nodename)


class Request:
    """What `on` was asked: who, why, from when until when."""

    def __init__(self, for_seconds=None, why=None, now=None):
        self.since = time.time() if now is None else now
        # the CIB keeps whole seconds: round the end up, never cut the maintenance short
        self.until = float(math.ceil(self.since + for_seconds)) if for_seconds else None
        self.reason = why
        self.by = who()

    def info(self):
        info = {"by": self.by, "since": iso(self.since)}
        if self.until:
            info["until"] = iso(self.until)
        if self.reason:
            info["reason"] = self.reason
        return info


def status_lines(state):
    """`maintenance status` for a person."""
    service = state["service"]
    lines = []
    if state["on"] and state.get("info"):
        scope = "the whole cluster (maintenance-mode)" if state.get("scope") == "cluster" else service
        lines.append("maintenance: ON for %s (%s), %s" % (scope, state["stack"], describe(state["info"])))
    elif state["on"]:
        why = state.get("note") or ("the cluster's maintenance-mode is on" if state.get("cluster_wide")
                                    else "unmanaged, but not by mdlp-cluster (is-managed or maintenance set by hand)")
        lines.append("maintenance: ON for %s (%s): %s" % (service, state["stack"], why))
    else:
        lines.append("maintenance: off for %s (%s): the cluster acts on its health" % (service, state["stack"]))
        if state.get("last"):
            lines.append("last: %s" % describe(state["last"]))
    return lines
