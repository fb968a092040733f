"""Is the pair fit for a drill?  Asked before the run (a problem refuses it) and after every step
(a problem stops the run: the pair is left unhealthy).  Each problem is one line saying what is
wrong; no problem, no line."""

CLOCK_SKEW = 1.0                # seconds the two clocks may differ: the timings come from one clock
DOCTOR_CHECKS = ("peer", "service", "validate-all", "status", "fencing")


def cluster_problems(view, stack_name):
    """What the cluster itself says is unfit (VIEW: Stack.drill_view())."""
    found = []
    nodes = [n["name"] for n in view.get("nodes", [])]
    if len(nodes) != 2:
        found.append("the cluster has %d node%s (%s): a drill needs a pair" % (
            len(nodes), "" if len(nodes) == 1 else "s", ", ".join(nodes) or "none"))
    for node, flags in sorted((view.get("node_flags") or {}).items()):
        if flags:
            found.append("node %s is %s" % (node, " and ".join(flags)))
    if not view.get("quorate"):
        found.append("the cluster has no quorum")
    if view.get("maintenance"):
        found.append("the service is in maintenance (%s): `mdlp-cluster maintenance off` first"
                     % (view["maintenance"].get("how") or "on"))
    if view.get("frozen"):
        found.append("the service %s is frozen (clusvcadm -U to unfreeze)" % view.get("service"))
    if view.get("state") != "started" or not view.get("active_node"):
        found.append("the service %s is %s, not started on one node" % (view.get("service"), view.get("state")))
    if not view.get("fencing_enabled", True):
        found.append("fencing is disabled (stonith-enabled=false): a drill would prove nothing")
    for node in nodes:
        devices = (view.get("devices") or {}).get(node)
        if devices is None:
            continue
        if not devices:
            found.append("no fence device fences %s" % node)
        elif stack_name == "pacemaker" and not any(where for _, where in devices):
            found.append("no fence device for %s is started (%s)" % (node, ", ".join(d for d, _ in devices)))
    for failure in view.get("failures") or []:
        found.append("failed action %s on %s (%s): `crm_resource --cleanup` once understood" % (
            failure["op"], failure["node"], failure["reason"] or "rc %s" % failure["rc"]))
    for constraint in view.get("leftovers") or []:
        found.append("a move or ban left constraint %s: `crm_resource --clear`" % constraint)
    for event in view.get("pending_fencing") or []:
        found.append("a fencing of %s is pending" % event.get("target"))
    return found


def doctor_problems(checks):
    """The failed checks of the doctor's that a drill needs: the partner answers, both nodes'
    mdlp_rhcs, each node's fence device asked for status from the other node."""
    return ["%s: %s" % (c.name, c.seen) for c in checks if c.name in DOCTOR_CHECKS and c.status == "FAIL"]


def clock_problem(offset, uncertainty, peer):
    if abs(offset) - uncertainty > CLOCK_SKEW:
        return "%s's clock is %+.1f s from this node's (more than %g s): run chronyd/ntpd on both" % (
            peer, offset, CLOCK_SKEW)
    return None
