"""The drill's steps: names, least disruptive first, what each does and expects."""

from ...common.errors import AgentError

SERVICES = ("httpd", "PolicyEngine", "RProxyWD")     # the guide's three (mdlp_rhcs.conf's process names)


class DrillError(AgentError):
    """Bad input (an unknown step, an option out of range): exit 2, nothing done."""

    exit_code = 2


class Step:
    def __init__(self, name, kind, service=None, explicit=False, what="", expects=""):
        self.name, self.kind, self.service = name, kind, service
        self.explicit = explicit            # run only when named
        self.what, self.expects = what, expects

    def as_dict(self):
        return {"name": self.name, "kind": self.kind, "service": self.service}


def catalogue(services=SERVICES):
    """Every step, in the order a run takes them (least disruptive first)."""
    steps = []
    for service in services:
        steps.append(Step("kill-" + service, "kill", service, what="kill -9 every %s process on the active node"
                          % service, expects="the failure detected, counted (fail count +1) and recovered"))
    for service in services:
        steps.append(Step("hang-" + service, "hang", service, what="SIGSTOP every %s process on the active node "
                          "(SIGCONT afterwards, whatever happens)" % service,
                          expects="the hang detected within the monitor's bound and recovered"))
    steps.append(Step("switchover", "switchover", what="move the service to the passive node, then back",
                      expects="the service answers from the other node and back; nobody fenced"))
    steps.append(Step("fence-passive", "fence-passive", what="fence the passive node through the cluster",
                      expects="it really rebooted (a new boot id) and rejoins; the service never moves"))
    steps.append(Step("partition", "partition", what="drop the cluster's traffic on the passive node (a rule that "
                      "removes itself on that node)", expects="exactly one node fenced, the one the "
                      "configuration does not protect; the service answers from the survivor; no fence loop"))
    steps.append(Step("crash-active", "crash-active", explicit=True, what="crash the active node (sysrq: an "
                      "immediate reboot)", expects="the active node fenced, the service started on the other"))
    return steps


def select(names, services=SERVICES):
    """The steps NAMES ask for, in the catalogue's order (none named: all but the explicit ones);
    DrillError naming an unknown step."""
    steps = catalogue(services)
    known = {s.name: s for s in steps}
    wanted = []
    for name in names or ():
        if name not in known:
            raise DrillError("unknown step %r (steps: %s)" % (name[:40], ", ".join(known)))
        wanted.append(name)
    if not wanted:
        return [s for s in steps if not s.explicit]
    return [s for s in steps if s.name in wanted]
