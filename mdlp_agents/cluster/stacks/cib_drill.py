"""Pacemaker's formats as the drill reads them: crm_mon's failed actions, node flags, fence devices
started, the CIB's leftover move/ban constraints and op timeouts, crm_simulate's prediction.  Pure
functions over text and ElementTree elements, as cib.py's."""

from ...common.maintenance_record import printable
from .cib import FormatError, members, our_unit, pacemaker_seconds, pacemaker_time, params, primitive, xml


def failures(root):
    """crm_mon's failed actions: [{resource, node, op, rc, reason, when (epoch of last-rc-change, or
    None)}]."""
    found = []
    for failure in root.iter("failure"):
        key = failure.get("op_key") or ""
        task = failure.get("task") or ""
        resource = key.split("_" + task + "_", 1)[0] if task and ("_%s_" % task) in key else key.rsplit("_", 2)[0]
        found.append({"resource": resource, "node": failure.get("node"), "op": key,
                      "rc": failure.get("exitcode"), "reason": printable(failure.get("exitreason") or ""),
                      "when": pacemaker_time(failure.get("last-rc-change"))})
    return found


def node_flags(root):
    """{node: [what keeps it from being an ordinary member: "offline", "standby", "maintenance",
    "unclean", "pending", "shutting down"]} of crm_mon's nodes."""
    flags = {}
    nodes = root.find("nodes")
    for node in nodes.iter("node") if nodes is not None else []:
        found = []
        if node.get("online") != "true":
            found.append("offline")
        for attr, word in (("standby", "standby"), ("maintenance", "maintenance"), ("unclean", "unclean"),
                           ("pending", "pending"), ("shutdown", "shutting down")):
            if node.get(attr) == "true":
                found.append(word)
        flags[node.get("name")] = found
    return flags


def fencing_enabled(root):
    """Does crm_mon say fencing is enabled (stonith-enabled, true unless set false)?"""
    options = root.find("summary/cluster_options")
    return options is None or options.get("stonith-enabled") != "false"


def started_devices(root):
    """{stonith resource id: node it is started on, or None}, from crm_mon."""
    found = {}
    resources = root.find("resources")
    for resource in resources.iter("resource") if resources is not None else []:
        if (resource.get("resource_agent") or "").startswith("stonith:"):
            where = [n.get("name") for n in resource.findall("node")]
            started = resource.get("role") == "Started" and resource.get("failed") != "true" and len(where) == 1
            found[resource.get("id")] = where[0] if started else None
    return found


def leftover_constraints(configuration):
    """The ids of the location constraints a move or ban left (crm_resource --move/--ban: cli-prefer-*,
    cli-ban-*), in a CIB configuration element."""
    return [c.get("id") for c in configuration.iter("rsc_location")
            if (c.get("id") or "").startswith(("cli-prefer-", "cli-ban-"))]


def op_timeouts(configuration, member_ids, default=20.0):
    """{"start", "stop"}: seconds the unit's members may take, one after the other (their op
    timeouts; an op without one has op_defaults' timeout, else Pacemaker's 20 s)."""
    for block in configuration.iter("op_defaults"):
        given = params(block, "meta_attributes")
        if given.get("timeout"):
            default = pacemaker_seconds(given["timeout"], default)
    totals = {"start": 0.0, "stop": 0.0}
    for rid in member_ids:
        element = primitive(configuration, rid)
        ops = {op.get("name"): op for op in element.iter("op")} if element is not None else {}
        for name in totals:
            op = ops.get(name)
            totals[name] += pacemaker_seconds(op.get("timeout") if op is not None else None, default)
    return totals


def simulated(text, unit_id, error=FormatError):
    """crm_simulate --simulate --output-as=xml: {"where": the node running UNIT_ID afterwards (None:
    nowhere), "fenced": [nodes the transition fences], "actions": ["recover mdlp-rhcs on node1", ...]}."""
    root = xml(text, "crm_simulate", error)
    revised = root.find("revised_cluster_status")
    where = None
    if revised is not None:
        unit = our_unit(revised, unit_id)
        if unit is not None:
            nodes = {n.get("name") for m in members(unit) if m.get("role") == "Started" for n in m.iter("node")}
            where = nodes.pop() if len(nodes) == 1 else None
    fenced = sorted({a.get("target") for a in root.iter() if a.tag in ("fencing_action", "node_action")
                     and a.get("target")})
    actions = ["%s %s on %s" % (a.get("action"), a.get("resource"), a.get("node"))
               for a in root.iter("rsc_action") if a.get("action")]
    return {"where": where, "fenced": fenced, "actions": actions}
