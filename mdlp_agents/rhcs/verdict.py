"""The watcher's verdict: one line in the state directory (tmpfs), written whole (atomic_write)
by the watcher alone and read by the OCF front (bin/mdlp_ocf, bash, no Python) and by admins.

    mdlp-verdict 1 INSTANCE BOOT_ID UPTIME_CS ok WATCHER_PID:TICKS PID:TICKS ...
    mdlp-verdict 1 INSTANCE BOOT_ID UPTIME_CS failed WATCHER_PID:TICKS REASON...

UPTIME_CS is /proc/uptime in hundredths of a second (CLOCK_BOOTTIME: it never steps, and bash
reads it without a fork); TICKS are a process's start time (field 22 of /proc/PID/stat), so a
reused PID is never the process the verdict vouched for.  The front trusts "ok" only when the
line is this boot's, at most FRESH_CS old and not from the future, and every process it names
(the watcher first) is still that process, alive and not stopped.  Anything else runs the full
check.  The grammar here and the front's regular expression are one contract: the tests hold
them together.
"""

import os
import re

from ..common.files import atomic_write, open_regular

MAGIC = "mdlp-verdict 1"
FRESH_CS = 150             # the front's bound on a verdict's age (the watcher writes every HEARTBEAT)
HEARTBEAT = 0.5            # seconds between the watcher's writes while nothing changes
MAX_LINE = 512             # the front reads no more than this
MAX_PIDS = 16
INSTANCE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")   # an XML ID (and a clone's :N): a file name part


def uptime_cs():
    """/proc/uptime's first field in hundredths of a second (what the front compares with)."""
    with open("/proc/uptime", "rb") as handle:
        whole, _, fraction = handle.read(64).split()[0].partition(b".")
    return int(whole) * 100 + int((fraction + b"00")[:2])


def boot_id():
    with open("/proc/sys/kernel/random/boot_id", "rb") as handle:
        return handle.read(64).strip().decode("ascii")


def path(directory, instance):
    """The verdict file of INSTANCE in DIRECTORY; None for a name the front would not take."""
    if not directory or not INSTANCE.match(instance or ""):
        return None
    return os.path.join(directory, "watch-%s.verdict" % instance)


def wake_path(directory, instance):
    """The FIFO on which the watcher wakes a listening front (bin/mdlp_ocf) when its verdict fails."""
    return path(directory, instance)[:-len(".verdict")] + ".wake"


def line(instance, healthy, watcher, pids=(), reason=""):
    """The verdict line: WATCHER and PIDS are (pid, ticks); REASON (failed only) is one line."""
    head = "%s %s %s %d %s %d:%d" % (MAGIC, instance, boot_id(), uptime_cs(), "ok" if healthy else "failed",
                                     watcher[0], watcher[1])
    if healthy:
        tail = "".join(" %d:%d" % pair for pair in list(pids)[:MAX_PIDS])
    else:
        tail = " " + " ".join(str(reason).split())
    text = head + tail
    if len(text) > MAX_LINE - 1:
        text = text[:MAX_LINE - 4] + "..."
    return text + "\n"


def write(file_path, text):
    atomic_write(file_path, text, mode=0o644)


_LINE = re.compile(r"^mdlp-verdict 1 (\S+) (\S+) ([0-9]{1,12}) (ok|failed) ([0-9]{1,10}):([0-9]{1,20})(.*)$")


class Verdict:
    """A verdict file as read back (for `status -v` and the doctor): None fields when unreadable."""

    __slots__ = ("instance", "boot", "stamp_cs", "healthy", "watcher", "rest")

    def __init__(self, match):
        self.instance, self.boot = match.group(1), match.group(2)
        self.stamp_cs = int(match.group(3))
        self.healthy = match.group(4) == "ok"
        self.watcher = (int(match.group(5)), int(match.group(6)))
        self.rest = match.group(7).strip()

    def age(self):
        """Seconds since it was written (negative: from the future); None if from another boot."""
        if self.boot != boot_id():
            return None
        return (uptime_cs() - self.stamp_cs) / 100.0


def read(file_path):
    """The Verdict at FILE_PATH, or None (missing, not a regular file, garbage, too long)."""
    try:
        with open_regular(file_path, follow=False) as handle:
            data = handle.read(MAX_LINE + 1)
    except OSError:
        return None
    if len(data) > MAX_LINE or not data.endswith(b"\n"):
        return None
    match = _LINE.match(data[:-1].decode("ascii", "replace"))
    return Verdict(match) if match else None
