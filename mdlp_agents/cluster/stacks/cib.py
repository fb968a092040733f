"""Pacemaker's formats, read: crm_mon --output-as=xml (what runs where) and the CIB (configuration:
our service, its fence devices, our maintenance blocks; status: the resources' last operations).
Pure functions over text and ElementTree elements; pacemaker.py runs the tools that print them."""

import re
import xml.etree.ElementTree as ET

from ...common.convert import whole_number
from ...common.errors import AgentError
from ...common.maintenance_record import blocks_in, in_force, printable
from ...fence.options import BY_NAME as FENCE_OPTIONS
from ...fence.options import host_map

OUR_AGENT = "ocf:websense:mdlp"
IP_AGENTS = ("ocf:heartbeat:IPaddr2", "ocf:heartbeat:IPaddr")
SERVICE = "mdlp"
PROBE_PENDING = "193"       # lrm_rsc_op rc-code of an operation still running


class FormatError(AgentError):
    """What a Pacemaker tool printed is not what it prints."""


def xml(text, what, error=FormatError):
    """TEXT parsed (a document with a DOCTYPE is refused: no entity of anybody's expands here)."""
    if "<!DOCTYPE" in text[:4096] or "<!ENTITY" in text:
        raise error("%s: not XML we read (a DOCTYPE)" % what)
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise error("%s: not XML (%s)" % (what, exc)) from None


def crm_mon_root(text, error=FormatError):
    """crm_mon --output-as=xml, parsed; ERROR if it is not that, or reports an error."""
    root = xml(text, "crm_mon --output-as=xml", error)
    if root.tag not in ("pacemaker-result", "crm_mon"):
        raise error("crm_mon: the root element is <%s>, not <pacemaker-result>" % root.tag)
    result = root.find("status")
    if result is not None and result.get("code") not in (None, "0"):
        errors = [e.text.strip() for e in result.iter("error") if e.text and e.text.strip()]
        raise error("crm_mon: %s%s" % (result.get("message") or "error %s" % result.get("code"),
                                       " (%s)" % errors[-1] if errors else ""))
    return root


def our_unit(root, name=None):
    """The group (or lone resource) of crm_mon's ROOT that is the service: NAME's, else the one
    running our agent, else a group called mdlp; None if there is none."""
    resources = root.find("resources")
    units = [u for u in (resources if resources is not None else []) if u.tag in ("group", "resource")]
    if name:
        return next((u for u in units if u.get("id") == name), None)
    for unit in units:
        if any(r.get("resource_agent") == OUR_AGENT for r in members(unit)):
            return unit
    return next((u for u in units if u.tag == "group" and u.get("id") == SERVICE), None)


def members(unit):
    return list(unit.iter("resource")) if unit.tag == "group" else [unit]


def cluster_mode(root):
    """Is the cluster's maintenance-mode on (crm_mon)?"""
    options = root.find("summary/cluster_options")
    return options is not None and options.get("maintenance-mode") == "true"


def unmanaged(unit):
    return all(m.get("managed") == "false" for m in members(unit))


def online_nodes(root):
    return [n.get("name") for n in root.iter("node") if n.get("online") == "true"]


def _nodes(root):
    found = []
    nodes = root.find("nodes")
    for node in nodes.iter("node") if nodes is not None else []:
        found.append({"name": node.get("name"),
                      "online": node.get("online") == "true" and node.get("pending") != "true"
                      and node.get("unclean") != "true",
                      "unclean": node.get("unclean") == "true"})
    return found


def status(text, service=None, empty=None):
    """What crm_mon TEXT says of the service (a status dict, EMPTY's shape: see live/status.py)."""
    return status_of_root(crm_mon_root(text), service, empty)


def status_of_root(root, service=None, empty=None):
    """status() of crm_mon's parsed ROOT."""
    found = dict(empty)
    dc = root.find("summary/current_dc")
    found["quorate"] = dc is not None and dc.get("with_quorum") == "true"
    found["nodes"] = _nodes(root)
    group = our_unit(root, service)
    if group is None:
        found["state"] = "not configured"
        if service:
            found["service"] = service
        return found
    found["service"] = group.get("id")
    parts = members(group)
    if cluster_mode(root):
        found["maintenance"] = {"on": True, "how": "the cluster's maintenance-mode"}
    elif parts and unmanaged(group):
        found["maintenance"] = {"on": True, "how": "unmanaged"}
    found["state"], found["active_node"] = _state(group, parts, found["nodes"])
    found["ip_resource"] = next((m.get("id") for m in parts if m.get("resource_agent") in IP_AGENTS), None)
    return found


def _state(group, parts, nodes):
    """(state, active node) of GROUP whose members are PARTS."""
    roles = [m.get("role") for m in parts]
    where = {n.get("name") for m in parts for n in m.iter("node")}
    if any(m.get("failed") == "true" for m in parts):
        return "failed", None
    if roles and all(r == "Started" for r in roles) and len(where) == 1:
        node = where.pop()
        online = {n["name"] for n in nodes if n["online"]}
        # Pacemaker keeps the last known place of a node it lost (UNCLEAN, offline): that is a
        # service about to be recovered elsewhere, not one that serves
        return ("started" if node in online else "recovering"), node
    if all(r == "Stopped" for r in roles):
        disabled = group.get("disabled") == "true" or all((m.get("target_role") or "").lower() == "stopped"
                                                          for m in parts)
        return ("disabled" if disabled else "stopped"), None
    return "recovering", None   # starting, stopping, or split across nodes


def maintenance_info(configuration_text, unit):
    """Who set the maintenance of UNIT, why and until when: our block in force in the CIB
    configuration, or None."""
    try:
        configuration = xml(configuration_text, "cibadmin --query")
    except FormatError:
        return None
    found = None
    for _, name, info, _ in blocks_in(configuration):
        if name in (None, unit) and in_force(info):
            found = info
    return found


def last_operations(status_root, ids):
    """{(node, resource id): (call-id, rc-code, exit-reason)} of the last operation (a probe
    included) of each resource in IDS, from the CIB's status section."""
    found = {}
    for node_state in status_root.iter("node_state"):
        node = node_state.get("uname")
        for resource in node_state.iter("lrm_resource"):
            if resource.get("id") not in ids:
                continue
            for op in resource.iter("lrm_rsc_op"):
                if op.get("id") == resource.get("id") + "_last_0":
                    try:
                        call = int(op.get("call-id") or -1)
                    except ValueError:
                        call = -1
                    found[(node, resource.get("id"))] = (call, op.get("rc-code"),
                                                         printable(op.get("exit-reason") or ""))
    return found


def primitive(configuration, rid):
    """The <primitive> of id RID in a CIB configuration element, or None."""
    return next((p for p in configuration.iter("primitive") if p.get("id") == rid), None)


def params(element, block="instance_attributes"):
    """{name: value} of an element's nvpairs in its BLOCK sections."""
    found = {}
    for section in element.findall(block):
        for pair in section.findall("nvpair"):
            found[pair.get("name")] = pair.get("value") or ""
    return found


def agent_of(element):
    return "%s:%s:%s" % (element.get("class"), element.get("provider"), element.get("type"))


def fence_devices(configuration, node):
    """[(device id, agent, {parameter: value})] of the stonith devices that fence NODE, the
    parameters as the fencer passes them: no pcmk_* keys, port= from pcmk_host_map (read as the
    fencer reads it: node:port or node=port), else the node's name; a configured port/plug kept."""
    devices = []
    for element in configuration.iter("primitive"):
        if element.get("class") != "stonith":
            continue
        given = params(element)
        hosts = [h for h in given.get("pcmk_host_list", "").replace(",", " ").replace(";", " ").split() if h]
        try:
            mapped = host_map(given.get("pcmk_host_map") or "")
        except AgentError:
            mapped = {}
        if node in hosts or node in mapped or not (hosts or mapped):
            passed = {k: v for k, v in given.items() if not k.startswith("pcmk_")}
            passed.setdefault("nodename", node)
            if "port" not in passed and "plug" not in passed:
                passed["port"] = mapped.get(node, node)
            devices.append((element.get("id"), element.get("type"), passed))
    return devices


def fence_events(root):
    """stonith_admin --history NODE --verbose --output-as=xml: [{target, action, state (success,
    failed, pending), when (epoch of completion, or None), by (the node that fenced), reason}] as
    listed (the fencer lists the newest first)."""
    events = []
    for event in root.iter("fence_event"):
        events.append({"target": event.get("target"), "action": event.get("action"), "state": event.get("status"),
                       "when": pacemaker_time(event.get("completed")),
                       "by": event.get("delegate") or event.get("origin"),
                       "reason": printable(event.get("exit-reason") or "")})
    return events


def pacemaker_time(text):
    """The epoch of a time as Pacemaker's tools print it ("2026-12-05 10:15:02Z", "... +01:00"), or None."""
    import calendar
    import time
    text = (text or "").strip()
    if len(text) < 19:
        return None
    try:
        epoch = calendar.timegm(time.strptime(text[:19].replace("T", " "), "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None
    zone = text[19:].strip()
    if zone in ("", "Z"):
        return epoch
    if len(zone) == 6 and zone[0] in "+-" and zone[1:3].isdigit() and zone[3] == ":" and zone[4:].isdigit():
        offset = int(zone[1:3]) * 3600 + int(zone[4:]) * 60
        return epoch - offset if zone[0] == "+" else epoch + offset
    return None


_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "msec": 0.001, "us": 1e-6, "usec": 1e-6, "m": 60.0,
          "min": 60.0, "h": 3600.0, "hr": 3600.0}
_ISO = re.compile(r"^p(?:(\d{1,6})d)?(?:t(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,9})s)?)?$")
# fence_mdlp's own bound of one run (its `deadline` default): login, off, the wait for it, on
AGENT_SECONDS = float(FENCE_OPTIONS["deadline"].default)


def pacemaker_seconds(text, default=None):
    """Seconds of a Pacemaker duration as Pacemaker reads it ("15s", "15", "500ms", "2min", "1h",
    ISO 8601 "PT15S"; "1.5s" is 1 s), or DEFAULT."""
    text = (text or "").strip().lower()
    iso = _ISO.match(text) if text.startswith("p") else None
    if iso:
        days, hours, minutes, seconds = (int(part or 0) for part in iso.groups())
        return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds) if text != "p" else default
    number = text[:len(text) - len(text.lstrip("0123456789"))]
    rest = text[len(number):]
    if rest.startswith("."):                # Pacemaker reads the whole number and drops the fraction
        rest = rest[1:].lstrip("0123456789")
    factor = _UNITS.get(rest.strip())
    if not number or factor is None or len(number) > 9:
        return default
    return int(number) * factor


def _static_delay(given):
    """Seconds a fence device waits before it fences: the largest of pcmk_delay_base (a duration, or
    Pacemaker 2.1's per-node map "node1:5s;node2:0s"), pcmk_delay_max and the agent's own `delay`
    (fence-agents' option, which fence_mdlp honours: it sleeps inside its run)."""
    values = [given.get("pcmk_delay_max"), given.get("delay")]
    values += [part.rpartition(":")[2] for part in (given.get("pcmk_delay_base") or "").split(";")]
    return max(pacemaker_seconds(value, 0) for value in values)


def race_settings(configuration):
    """What decides a split of the pair, from a CIB configuration: {"priority_fencing_delay",
    "stonith_timeout" (seconds; Pacemaker's defaults 0 and 60; Pacemaker 3's name fencing-timeout
    too), "delays": {device: seconds it waits (_static_delay)}, "timeouts": {device: its own
    pcmk_reboot_timeout, where it has one}, "priorities": {resource: priority}}.  As Pacemaker
    reads them: the first property set that names a property wins; an element without an id is
    "(no id)"."""
    properties = {}
    for block in configuration.iter("cluster_property_set"):
        for pair in block.findall("nvpair"):
            properties.setdefault(pair.get("name"), pair.get("value"))
    delays, timeouts, priorities = {}, {}, {}
    for element in configuration.iter("primitive"):
        if element.get("class") == "stonith":
            given = params(element)
            name = element.get("id") or "(no id)"
            delays[name] = _static_delay(given)
            own = pacemaker_seconds(given.get("pcmk_reboot_timeout"))
            if own is not None:
                timeouts[name] = own
    for tag in ("primitive", "group", "clone"):
        for element in configuration.iter(tag):
            try:
                priorities[element.get("id") or "(no id)"] = whole_number(
                    params(element, "meta_attributes").get("priority"))
            except ValueError:
                continue
    timeout = properties.get("stonith-timeout", properties.get("fencing-timeout"))
    return {"priority_fencing_delay": pacemaker_seconds(properties.get("priority-fencing-delay"), 0),
            "stonith_timeout": pacemaker_seconds(timeout, 60), "delays": delays, "timeouts": timeouts,
            "priorities": {k: v for k, v in priorities.items() if v > 0}}


def agent_monitor(configuration):
    """Our agent's recurring monitor in a CIB configuration: {"resource", "interval", "timeout"}, in
    seconds as Pacemaker reads them ("500ms" is 0.5); interval None when it has none (or only a
    disabled one); resource None when no ocf:websense:mdlp primitive is there."""
    for element in configuration.iter("primitive"):
        if agent_of(element) != "ocf:websense:mdlp":
            continue
        found = {"resource": element.get("id") or "(no id)", "interval": None, "timeout": None}
        for op in element.iter("op"):
            interval = pacemaker_seconds(op.get("interval"), 0)
            enabled = (op.get("enabled") or "true").strip().lower() not in ("false", "no", "off", "0", "n")
            if op.get("name") == "monitor" and interval and enabled and (
                    found["interval"] is None or interval < found["interval"]):
                found.update(interval=interval, timeout=pacemaker_seconds(op.get("timeout"), 20))
        return found
    return {"resource": None, "interval": None, "timeout": None}


def fencing_budget_problem(timeout, delays, timeout_name="stonith-timeout"):
    """None, or why TIMEOUT (seconds) is too short for a fencing that first waits DELAYS seconds:
    Pacemaker before 2.1.6 (EL8.3-8.8, EL9.0-9.2) spends the delays from the timeout, later ones
    add them to it; the fence agent itself may need AGENT_SECONDS (fence_mdlp's bound of a run:
    login, off, the wait for it, on)."""
    if not delays or timeout - delays >= AGENT_SECONDS:
        return None
    return ("fencing delays of %g s leave the fence agent %g s of %s %g s, and it may need %g s (Pacemaker "
            "before 2.1.6 spends the delays from the timeout)" % (delays, max(0, timeout - delays), timeout_name,
                                                                  timeout, AGENT_SECONDS))
