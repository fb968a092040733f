"""`drill plan`: for each step, what will be done and on which node, what must follow -- from the
live configuration (Pacemaker answers through crm_simulate) --, its time budget and how it is
undone.  Nothing is changed."""

from . import budget as budgets

UNDO = {"kill": "the service held on the node it ran on while its failures are cleaned up (crm_resource --ban, "
                "--cleanup, --clear): back there if the cluster moved it",
        "hang": "SIGCONT to the stopped processes, whatever happens; then as kill's",
        "switchover": "moved back; the move's constraint cleared (crm_resource --clear)",
        "fence-passive": "none needed: the node reboots and rejoins as passive",
        "partition": "the rule removes itself on that node (a timer there) or goes with its reboot; the drill "
                     "removes it once the node answers again",
        "crash-active": "none needed: the node reboots (sysrq b) and rejoins as passive"}


def undo_of(stack, step):
    return stack.drill_undo.get(step.kind) or UNDO[step.kind]


def survivor(facts, active, passive):
    """The node the configuration lets win a split (fenced later), or None when nothing protects either."""
    later = {node: budgets.fence_delay(facts, node, node == active) for node in (active, passive)}
    if later[active] == later[passive]:
        return None
    return max(later, key=later.get)


def plan(stack, steps, view, me, boot_time=budgets.BOOT_TIME):
    """[{"step", "what", "on", "expects", "outcome", "budget", "undo", "runs_from"}] for STEPS."""
    facts = stack.timeouts()
    active = view.get("active_node")
    passive = next((n["name"] for n in view.get("nodes", []) if n["name"] != active), None)
    planned = []
    for step in steps:
        entry = {"step": step.name, "what": step.what, "expects": step.expects, "undo": undo_of(stack, step),
                 "budget": {k: round(v, 1) for k, v in budgets.for_step(step, facts, active, passive,
                                                                         boot_time).items()},
                 "on": active, "outcome": None, "runs_from": None, "problem": None}
        try:
            if step.kind in ("kill", "hang"):
                predicted = stack.predict_failure(active)
                entry["outcome"] = "the service %s on %s%s" % (
                    "recovered" if predicted["where"] == active else "relocated", predicted["where"] or "no node",
                    "; fenced: " + ", ".join(predicted["fenced"]) if predicted["fenced"] else "")
                if not predicted["where"]:
                    entry["problem"] = "the cluster would leave the service stopped"
            elif step.kind == "switchover":
                entry["on"] = "%s -> %s -> %s" % (active, passive, active)
                entry["outcome"] = "the service on %s, then back on %s; nobody fenced" % (passive, active)
            elif step.kind == "fence-passive":
                entry["on"], entry["runs_from"] = passive, active
                entry["outcome"] = "%s fenced, rebooted (a new boot id), back as passive; the service stays on %s" % (
                    passive, active)
            elif step.kind == "partition":
                entry["on"] = passive
                wins = survivor(facts, active, passive)
                entry["runs_from"] = wins
                if wins is None:
                    entry["problem"] = "no fencing delay protects either node: both may be fenced (not cut)"
                else:
                    entry["outcome"] = "%s fenced, %s survives and serves; %s rejoins, no fence loop" % (
                        passive if wins == active else active, wins, passive if wins == active else active)
            elif step.kind == "crash-active":
                predicted = stack.predict_node_loss(active)
                entry["runs_from"] = passive
                entry["outcome"] = "%s fenced; the service on %s" % (", ".join(predicted["fenced"]) or "nobody",
                                                                     predicted["where"] or "no node")
        except Exception as exc:    # noqa: BLE001 -- a plan that cannot predict says so, step by step
            entry["problem"] = str(exc)
        unsupported = stack.drill_unsupported.get(step.kind)
        if unsupported:
            entry["problem"] = "; ".join(p for p in (entry["problem"], unsupported) if p)
        if entry["runs_from"] and entry["runs_from"] != me and not entry["problem"]:
            entry["problem"] = "run the drill on %s for this step (this is %s)" % (entry["runs_from"], me)
        planned.append(entry)
    return planned


def lines(planned):
    out = []
    for entry in planned:
        out.append("%s: %s (on %s)" % (entry["step"], entry["what"], entry["on"]))
        if entry["outcome"]:
            out.append("    expect:  %s" % entry["outcome"])
        if entry["budget"]:
            out.append("    budget:  %s" % ", ".join("%s %.1f s" % kv for kv in entry["budget"].items()))
        out.append("    undo:    %s" % entry["undo"])
        if entry["problem"]:
            out.append("    PROBLEM: %s" % entry["problem"])
    return out
