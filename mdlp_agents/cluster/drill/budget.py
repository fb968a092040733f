"""Each step's time budget, from the cluster's own settings (Stack.timeouts()):

    detect      the monitor's interval + its timeout (rgmanager: + the scan of due checks)
    recover     detect + the service's stop and start timeouts (its members, one after the other)
    move        stop + start timeouts (a planned switchover, each way)
    fence(X)    the delay before X is fenced (static delays of X's devices; Pacemaker's
                priority-fencing-delay when X runs the service) + the fencing timeout
    membership  corosync's token + consensus: how long a silent node takes to be declared lost
    boot        how long a fenced node may take to boot and rejoin (--boot-time: not in any
                configuration)

A budget is a bound the configuration promises, not a target: a step that takes longer FAILS."""

BOOT_TIME = 600.0


def fence_delay(facts, node, runs_service):
    """Seconds before NODE is fenced: the static delays of its devices, and Pacemaker's
    priority-fencing-delay when it runs the service (RUNS_SERVICE)."""
    race = facts.get("race") or {}
    devices = facts.get("devices", {}).get(node, [])
    delays = race.get("delays") or {}
    static = max([delays.get(d, 0) for d in devices] + [delays.get(node, 0)] + [0])
    # Pacemaker adds priority-fencing-delay to the fencing of the node whose resources have the
    # higher priority: the one running the service, where the service has one
    priority = race.get("priority_fencing_delay") or 0 if runs_service and race.get("priorities") else 0
    return static + priority


def _fence_timeout(facts, node):
    race = facts.get("race") or {}
    own = [race.get("timeouts", {}).get(d) for d in facts.get("devices", {}).get(node, [])]
    own = [t for t in own if t]
    return max(own) if own else (race.get("stonith_timeout") or facts.get("fence_timeout") or 60.0)


def bounds(facts, boot_time=BOOT_TIME):
    """{name: seconds} of the pair's bounds (see the module's text), from FACTS (Stack.timeouts())."""
    detection = facts.get("detection") or {}
    interval = detection.get("interval")
    monitor = (interval or 0) + (detection.get("timeout") or 20) + (detection.get("scan") or 0)
    membership = facts.get("membership") or {}
    lost = (membership.get("token") or 0) + (membership.get("consensus") or 0)
    return {"detect": monitor if interval else None, "stop": facts.get("stop") or 0, "start": facts.get("start") or 0,
            "membership": lost, "boot": boot_time}


def for_step(step, facts, active, passive, boot_time=BOOT_TIME):
    """{what: seconds} the step must meet, each measured from the fault (or the request)."""
    b = bounds(facts, boot_time)
    if step.kind in ("kill", "hang"):
        if b["detect"] is None:
            return {}
        return {"detected": b["detect"], "serving again": b["detect"] + b["stop"] + b["start"]}
    if step.kind == "switchover":
        return {"moved": b["stop"] + b["start"], "moved back": b["stop"] + b["start"]}
    if step.kind == "fence-passive":
        fenced = fence_delay(facts, passive, False) + _fence_timeout(facts, passive)
        return {"fenced": fenced, "rejoined": fenced + b["boot"]}
    if step.kind == "partition":
        fenced = b["membership"] + max(fence_delay(facts, passive, False), fence_delay(facts, active, True)) \
            + _fence_timeout(facts, passive)
        return {"fenced": fenced, "outage": max(b["membership"], 1.0), "rejoined": fenced + b["boot"]}
    if step.kind == "crash-active":
        fenced = b["membership"] + fence_delay(facts, active, True) + _fence_timeout(facts, active)
        return {"fenced": fenced, "serving again": fenced + b["start"], "rejoined": fenced + b["boot"]}
    return {}
