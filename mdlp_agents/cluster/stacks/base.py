"""The seam between mdlp-cluster's commands and the cluster managers: what a command may ask of
the manager that runs here, whichever it is.  pacemaker.py and rgmanager.py are the only code that
runs a manager's tools; cib.py and cluster_conf.py (and rgmanager.py's clustat reading) the only
code that reads their formats.

Errors: NotAnswering (the manager cannot be asked here, or knows no such service: exit 2, as
mdlp-cluster's other bad input -- status turns it into "unknown"), Refused (it was asked, and
said no, or the service is not fit for what was asked: exit 1)."""

from ...common.errors import AgentError

SERVICE = "mdlp"


class NotAnswering(AgentError):
    """No manager answering here, no such service, bad input: exit 2."""

    exit_code = 2


class Refused(AgentError):
    """The manager did not do it, or the service is not healthy enough for it: exit 1."""

    exit_code = 1


def said(text, level=None, shown=True):
    """One line of what a change did: TEXT for the admin (SHOWN) and for syslog at LEVEL (None: not logged)."""
    return (text, level, shown)


def empty_status(stack):
    """The shape of a status (status() and the readers of recorded output fill it in)."""
    return {"stack": stack, "cluster": None, "quorate": None, "nodes": [], "service": SERVICE, "state": "unknown",
            "active_node": None, "floating_ip": None, "maintenance": None}


class Stack:
    """What a command may ask.  `name` is "pacemaker" or "rgmanager"; every call is bounded by the
    timeout the stack was made with, and runs its tools through the runner it was given."""

    name = None

    def __init__(self, runner, timeout, service=None):
        self.runner = runner
        self.timeout = timeout
        self.service = service            # the name an admin gave (--resource), else found

    def run(self, argv, error=Refused, input=None):
        return self.runner(argv, self.timeout, error, input=input)

    # -- where the service runs, as the cluster sees it ---------------------------------------
    def status(self):
        """A status dict (empty_status's shape): state, active node, floating IP, nodes, quorum,
        maintenance (with who/why/until where we set it)."""
        raise NotImplementedError

    # -- maintenance -------------------------------------------------------------------------
    def maintenance_on(self, request, whole_cluster=False):
        """Stop the cluster acting on the service's health (nothing stopped): [said(...)]."""
        raise NotImplementedError

    def maintenance_off(self, force=False, expired=None):
        """Let the cluster act on its health again, after a health check unless FORCE: [said(...)]."""
        raise NotImplementedError

    def maintenance_state(self):
        """{stack, service, on, cluster_wide, set_by_us, info, last, ...}."""
        raise NotImplementedError

    # -- fencing and moves (the drill's) -----------------------------------------------------
    def fence_devices(self, node):
        """[(device, agent, {parameter: value})] that fence NODE, the parameters as the fencer or
        fenced passes them."""
        raise NotImplementedError

    def race(self):
        """What decides a split of the pair: {"stack", "delays": {device or node: seconds}, and for
        Pacemaker "priority_fencing_delay", "stonith_timeout", "priorities": {resource: n}}."""
        raise NotImplementedError

    def detection(self):
        """How often the manager checks our agent: {"stack", "interval" (seconds, None: never), and for
        Pacemaker "resource", "timeout"; for rgmanager "scan" (its status_poll_interval)}."""
        raise NotImplementedError

    def fence_history(self, node):
        """[{"target", "action", "state", "when"(epoch or None), "by"}] of NODE's fencing, newest last."""
        raise NotImplementedError

    def move(self, node):
        """Move the service to NODE (planned: no fencing); the manager's own word on it."""
        raise NotImplementedError


def wait(predicate, timeout, interval=0.3):
    """PREDICATE()'s first true value within TIMEOUT seconds (asked every INTERVAL), else its last."""
    import time
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)
