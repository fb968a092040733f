"""What the agent remembers between runs, under /run/mdlp_agents (tmpfs: gone at boot).

- `active`: this node runs the cluster resource (written by a successful `start`,
  removed by `stop`).  OCF `monitor` answers "not running" without it, because the
  services themselves run on both nodes and only the floating IP moves.
- `last-status`: each service's last state, so that only changes are logged.
"""

import os
import time

from ..common.files import atomic_write


class RunState:
    def __init__(self, directory):
        self.directory = directory
        self._scanned_at = None

    def _path(self, name):
        return os.path.join(self.directory, name) if self.directory else None

    # -- the "active on this node" marker -------------------------------------
    def active_since(self):
        """Seconds since the epoch at which `start` made this node active, or None."""
        path = self._path("active")
        try:
            return os.stat(path).st_mtime if path else None
        except OSError:
            return None

    def set_active(self, instance=""):
        path = self._path("active")
        if path is None:
            raise OSError("no writable state directory")
        atomic_write(path, "%s %s\n" % (int(time.time()), instance))

    def clear_active(self):
        path = self._path("active")
        try:
            if path:
                os.unlink(path)
        except FileNotFoundError:
            pass

    # -- last known state of each service --------------------------------------
    def last_states(self):
        """{service: (state, detail)} from the previous check; {} if none."""
        path = self._path("last-status")
        states = {}
        try:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    fields = line.rstrip("\n").split("\t")
                    if len(fields) == 3:
                        states[fields[0]] = (fields[1], fields[2])
        except (OSError, TypeError):
            pass
        return states

    def save_states(self, states):
        path = self._path("last-status")
        if path is None:
            return
        text = "".join("%s\t%s\t%s\n" % (name, state, detail.replace("\t", " ").replace("\n", " "))
                       for name, (state, detail) in states.items())
        try:
            atomic_write(path, text)
        except OSError:
            pass

    # -- processes found by name, so that a healthy check need not scan /proc ----------
    def remembered_processes(self, max_age):
        """{name: [(pid, start ticks)]} from a scan at most MAX_AGE seconds old; {} if none."""
        path = self._path("processes")
        found = {}
        try:
            with open(path, encoding="utf-8") as handle:
                scanned = float(handle.readline())
                self._scanned_at = scanned
                if not 0 <= time.time() - scanned <= max_age:
                    return {}
                for line in handle:
                    name, _, pairs = line.rstrip("\n").partition("\t")
                    found[name] = [tuple(int(x) for x in pair.split(":")) for pair in pairs.split()]
        except (OSError, TypeError, ValueError):
            return {}
        return found

    def remember_processes(self, found, rescanned):
        path = self._path("processes")
        if path is None:
            return
        # keep the age of the scan these PIDs came from (read by remembered_processes)
        scanned = time.time() if rescanned else (self._scanned_at or time.time())
        text = "%f\n" % scanned + "".join(
            "%s\t%s\n" % (name, " ".join("%d:%d" % pair for pair in pairs)) for name, pairs in found.items())
        try:
            atomic_write(path, text)
        except OSError:
            pass
