"""What a probe found: the one shape every probe returns."""

# Causes of a failed probe.
STOPPED = "stopped"    # no such process
STALE = "stale"        # pidfile exists, its process does not (LSB status 1)
HUNG = "hung"          # there, but cannot serve: SIGSTOPped, or no answer in time
FAILED = "failed"      # any other failure (refused, HTTP 5xx, init script says no)


class ProbeResult:
    __slots__ = ("ok", "probe", "cause", "detail", "pid", "started", "pids")

    def __init__(self, ok, probe, cause=None, detail="", pid=None, started=None, pids=()):
        self.ok = ok
        self.probe = probe
        self.cause = cause
        self.detail = detail
        self.pid = pid
        self.started = started
        self.pids = pids

    def __repr__(self):
        return "ProbeResult(%r, %r, %r, %r)" % (self.ok, self.probe, self.cause, self.detail)
