"""fence_mdlp's actions over a list of backends: each backend tried retry_on times, in order,
until one confirms; what it says to stdout is what fenced and Pacemaker read."""

import time

from ..common.exitcodes import FENCE_OK, FENCE_STATUS_OFF
from ..common.text import one_line
from . import options as fo
from .backends import FenceError


class Actions:
    """on, off, reboot, status, monitor, list, list-status: the method do_<action>(backends, victim).

    As fence-agents' fence_action: the state is read first, and a node already in the asked state
    is left alone ("Success: Already OFF"); off is one attempt (set, then confirm within
    power_timeout), on 1 + retry_on attempts, the power-on of a reboot retry_on attempts."""

    def __init__(self, options, log, runner, out, started, unlocked=None):
        self.options, self.log, self.runner, self.out, self.started = options, log, runner, out, started
        self.unlocked = unlocked    # why this run holds no lock on its node, if it holds none
        self.last_error = "no backend"

    @property
    def retry_on(self):
        return max(0, int(self.options.get("retry_on", 1)))

    def _attempts(self, backends, what, step, tries=1):
        """Try STEP(backend) with each backend, TRIES times each; the first success wins.
        The last failure's reason is kept in self.last_error."""
        self.last_error = "no backend"
        for backend in backends:
            for attempt in range(1, tries + 1):
                begun = time.monotonic()
                try:
                    result = step(backend)
                except FenceError as exc:
                    self.last_error = "%s: %s" % (backend.name, exc)
                    self.log.emit("warning", "%s via %s, attempt %d/%d failed after %.1fs: %s"
                                  % (what, backend.name, attempt, tries, time.monotonic() - begun, exc),
                                  backend=backend.name, action=what)
                    continue
                self.log.emit("notice" if self.options["action"] in ("on", "off", "reboot") else "debug",
                              "%s via %s succeeded (attempt %d, %.1fs)"
                              % (what, backend.name, attempt, time.monotonic() - begun),
                              backend=backend.name, action=what)
                return backend, result
        return None, None

    def _fence(self, backends, victim, action, step, tries=1):
        """STEP(backend) returns the answer line ("Success: ...")."""
        self.log.emit("notice", "%s of %s requested (backends: %s)"
                      % (action, victim, ",".join(b.name for b in backends)), victim=victim, action=action)
        backend, answer = self._attempts(backends, "%s of %s" % (action, victim), step, tries)
        elapsed = time.monotonic() - self.started
        if backend is None:
            return self.log.fail("%s of %s FAILED with every backend after %.1fs: NOT fenced (last: %s)"
                                 % (action, victim, elapsed, self.last_error))
        self.out.write(answer + "\n")
        self.log.emit("notice", "%s of %s done by %s in %.1fs: %s" % (action, victim, backend.name, elapsed, answer),
                      victim=victim, action=action, backend=backend.name)
        if self.unlocked:   # another fencing of the same node may have run at the same time
            self.log.shout("%s of %s was done WITHOUT its lock: %s" % (action, victim, self.unlocked),
                           victim=victim, action=action)
        return FENCE_OK

    @staticmethod
    def _state(backend):
        """The victim's power as BACKEND reads it before acting; None where it cannot be read first."""
        return backend.status() if backend.reads_state else None

    def _switch(self, backends, victim, target, tries):
        """off or on (TARGET): nothing sent to a node already there."""
        def switch(backend):
            if self._state(backend) == target:
                return "Success: Already %s" % target.upper()
            (backend.power_off if target == "off" else backend.power_on)()
            return "Success: Powered %s" % target.upper()
        return self._fence(backends, victim, target, switch, tries)

    def do_off(self, backends, victim):
        return self._switch(backends, victim, "off", tries=1)

    def do_on(self, backends, victim):
        return self._switch(backends, victim, "on", tries=1 + self.retry_on)

    def do_reboot(self, backends, victim):
        def reboot(backend):
            if self._state(backend) == "off":
                self.log.emit("info", "reboot of %s: already off; switching it on" % victim, backend=backend.name)
            else:
                backend.power_off()
            if not self.retry_on:   # fencing.py: no attempt to power on; it logs that it did not
                self.log.emit("warning", "reboot of %s: retry_on=0: confirmed off, not switched back on" % victim,
                              backend=backend.name)
            for attempt in range(1, self.retry_on + 1):
                try:
                    backend.power_on()
                    break
                except FenceError as exc:  # fenced all the same: it is off
                    self.log.emit("warning", "reboot of %s: confirmed off, but it did not come back on "
                                  "(attempt %d/%d): %s" % (victim, attempt, self.retry_on, exc), backend=backend.name)
            return "Success: Rebooted"
        return self._fence(backends, victim, "reboot", reboot)

    def do_status(self, backends, victim):
        backend, state = self._attempts(backends, "status of %s" % (victim or "device"), lambda b: b.status())
        if backend is None:
            return self.log.fail("status of %s: no backend could tell (last: %s)"
                                 % (victim or "device", self.last_error))
        self.out.write("Status: %s\n" % state.upper())
        return FENCE_OK if state == "on" else FENCE_STATUS_OFF

    def do_monitor(self, backends, victim):
        def monitor(backend):
            if backend.options.get("ip") or not self.options.get("host_map"):
                return backend.monitor()
            # a device known only through host_map: it answers if any of its nodes' addresses does
            errors = []
            for node in fo.host_map(self.options["host_map"]):
                try:
                    return self._for_node(backend, node, "monitor").monitor()
                except FenceError as exc:
                    errors.append("%s: %s" % (node, exc))
            raise FenceError("; ".join(errors) or "host_map is empty")
        backend, _ = self._attempts(backends, "monitor", monitor)
        if backend is None:
            return self.log.fail("monitor: no fencing device answers (last: %s)" % self.last_error)
        return FENCE_OK

    def do_list(self, backends, victim, with_status=False):
        backend, plugs = self._attempts(backends, "list", lambda b: b.list())
        if backend is None:
            return self.log.fail("list: no backend could list its nodes")
        for plug, alias in plugs:
            if with_status:
                self.out.write(one_line("%s,%s,%s" % (plug, alias or "", self._node_status(backend, plug))) + "\n")
            else:
                self.out.write(one_line("%s,%s" % (plug, alias or "")) + "\n")
        return FENCE_OK

    def do_list_status(self, backends, victim):
        return self.do_list(backends, victim, with_status=True)

    def _for_node(self, backend, node, action):
        """A backend like BACKEND aimed at NODE (its host_map address, else ip)."""
        address = fo.host_map(self.options.get("host_map") or "").get(node) or self.options.get("ip")
        return type(backend)(dict(self.options, victim=node, ip=address, action=action), self.log, self.runner)

    def _node_status(self, backend, node):
        """NODE's power as BACKEND sees it at NODE's host_map address; 'unknown' if it cannot tell."""
        try:
            return self._for_node(backend, node, "status").status()
        except FenceError as exc:
            self.log.emit("warning", "list-status: %s via %s: %s" % (node, backend.name, exc))
            return "unknown"
