"""Fence backends: a small public API over each backend's private wire code.

A backend is a class with the methods below; `load(name)` finds it: the
built-in ones by name, any other through the entry-point group
`mdlp_agents.fence_backends` (a site adds one with a package of its own, no
change here).  Entry points are scanned only for a name that is not built in,
so the common run never pays for the scan.
"""

import importlib
import time

from ...common.errors import AgentError
from ..options import host_map

BUILTIN = {
    "noop": "mdlp_agents.fence.backends.noop:NoopBackend",
    "ipmi": "mdlp_agents.fence.backends.ipmi:IpmiBackend",
    "ssh": "mdlp_agents.fence.backends.ssh:SshBackend",
}
ENTRY_POINT_GROUP = "mdlp_agents.fence_backends"


class FenceError(AgentError):
    """The backend could not do or confirm what was asked; str() says why, in one line."""


class FenceBackend:
    """What fence_mdlp needs of a backend.

    `options` is the merged, checked parameter dict (fence_options); `log` an
    AgentLog; `runner` runs child processes bounded by the overall deadline.
    Every method raises FenceError when it cannot confirm its answer."""

    name = "?"

    def __init__(self, options, log, runner):
        self.options = options
        self.log = log
        self.runner = runner

    def validate(self):
        """Problems that make this backend unusable with these options ([] if none)."""
        return []

    #: seconds between two status reads while a power change is confirmed
    POLL = 0.5
    #: seconds to wait after a power command when power_wait is not given
    POWER_WAIT = 0
    #: read the state before acting, and leave a node already in it alone (fence-agents' way; a
    #: backend whose "off" does more than switch power -- ssh clears the active marker -- says no)
    reads_state = False

    def status(self):
        """'on' or 'off', as the device confirms it."""
        raise NotImplementedError

    def set_power(self, target):
        """Ask the device to switch the victim 'on' or 'off' (no confirming: power_on/power_off
        do that).  A backend that switches through a device supplies this and status()."""
        raise NotImplementedError

    def device(self):
        """The device's name in messages."""
        return self.name

    def power_off(self):
        """Switch the victim off and confirm it within power_timeout."""
        self.switch_and_confirm("off")

    def power_on(self):
        """Switch the victim on and confirm it within power_timeout."""
        self.switch_and_confirm("on")

    def switch_and_confirm(self, target):
        """fence-agents' confirm loop (fencing.py's fence_action): set, wait power_wait, then read
        the status until it reports TARGET; FenceError once power_timeout has passed without it."""
        self.set_power(target)
        wait = self.options.get("power_wait")
        time.sleep(float(self.POWER_WAIT if wait is None else wait))
        timeout = float(self.options.get("power_timeout", 20))
        end = time.monotonic() + timeout
        while True:
            state = self.status()
            if state == target:
                return
            if time.monotonic() >= end:
                raise FenceError("%s still reports power %s %gs after power %s" % (self.device(), state, timeout,
                                                                                   target))
            time.sleep(self.POLL)

    def monitor(self):
        """Is the fencing device reachable and answering?"""
        self.status()

    def list(self):
        """[(plug, alias)] this device can fence: the nodes of host_map."""
        return [(node, "") for node in host_map(self.options.get("host_map") or "")]

    def needs_address(self):
        """Every action but list reaches a node or its BMC; monitor may use host_map's."""
        action = self.options.get("action")
        if action == "monitor" and self.options.get("host_map"):
            return False
        return action not in ("list", "list-status")


def _resolve(spec):
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def available():
    """Every backend name: built-in and registered."""
    names = set(BUILTIN)
    names.update(ep.name for ep in _entry_points())
    return sorted(names)


class _Registered:
    """One registered backend, whichever library found it: name, 'module:attr' and load()."""

    def __init__(self, name, value, loader):
        self.name, self.value, self.load = name, value, loader


def _entry_points():
    """Backends registered in ENTRY_POINT_GROUP.  importlib.metadata (3.8+), else the
    importlib_metadata backport, else pkg_resources (setuptools: EL8's Python 3.6 has it)."""
    try:
        from importlib import metadata
    except ImportError:
        try:
            import importlib_metadata as metadata
        except ImportError:
            metadata = None
    if metadata is not None:
        eps = metadata.entry_points()
        found = eps.select(group=ENTRY_POINT_GROUP) if hasattr(eps, "select") else eps.get(ENTRY_POINT_GROUP, ())
        return [_Registered(ep.name, ep.value, ep.load) for ep in found]
    try:
        import pkg_resources
    except ImportError:
        return []
    return [_Registered(ep.name, "%s:%s" % (ep.module_name, ".".join(ep.attrs)), ep.resolve)
            for ep in pkg_resources.iter_entry_points(ENTRY_POINT_GROUP)]


def load(name):
    """The backend class called NAME; FenceError if there is none."""
    if name in BUILTIN:
        return _resolve(BUILTIN[name])
    for entry_point in _entry_points():
        if entry_point.name == name:
            try:
                return entry_point.load()
            except Exception as exc:  # noqa: BLE001 - a site plugin's bug is a clear failure, not a crash
                raise FenceError("backend %s (%s) cannot be loaded: %s: %s"
                                 % (name, entry_point.value, type(exc).__name__, exc)) from None
    raise FenceError("unknown backend %r (available: %s)" % (name, ", ".join(available())))
