"""mdlp-cluster status: which node runs the mdlp service, on which floating IP, in what state --
from rgmanager (`clustat -x`) or Pacemaker (`crm_mon --output-as=xml`).

The service is found by what it runs, whatever it is called: in Pacemaker the group holding an
ocf:websense:mdlp resource, else that resource alone; in rgmanager the service holding the
mdlp_rhcs script (cluster.conf).  A name given (--resource) wins."""

import os
import xml.etree.ElementTree as ET

from ..common import exitcodes as ec
from ..common.errors import AgentError
from ..common.files import find_program, read_regular
from .commands import last_line
from .commands import run as run_command

SERVICE = "mdlp"
GUIDE_SCRIPT = "/opt/websense/rproxy/cs/mdlp_rhcs"      # where the guide installs the health script
OUR_AGENT = "ocf:websense:mdlp"
IP_AGENTS = ("ocf:heartbeat:IPaddr2", "ocf:heartbeat:IPaddr")
# exit codes: LSB status (1: a service that should run and does not -- failed or being recovered)
RUNNING, STOPPED, UNKNOWN = ec.LSB_STATUS_RUNNING, ec.LSB_STATUS_NOT_RUNNING, ec.LSB_STATUS_UNKNOWN
FAILED = 1
STATE_EXIT = {"started": RUNNING, "stopped": STOPPED, "disabled": STOPPED, "not configured": STOPPED,
              "unknown": UNKNOWN}


class StatusError(AgentError):
    """No status could be read: one line; LSB's "unknown"."""

    exit_code = UNKNOWN


def exit_code(status):
    return STATE_EXIT.get(status["state"], FAILED)


def _empty(stack):
    return {"stack": stack, "cluster": None, "quorate": None, "nodes": [], "service": SERVICE, "state": "unknown",
            "active_node": None, "floating_ip": None, "maintenance": None}


def _xml(text, what):
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise StatusError("%s: not XML (%s)" % (what, exc)) from None


def _our_scripts(text):
    """The cluster.conf's parsed root and its <script> elements that run mdlp_rhcs; (None, []) if
    it is not XML."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None, []
    return root, [s for s in root.iter("script") if os.path.basename(s.get("file") or "") == "mdlp_rhcs"]


def script_in_cluster_conf(text):
    """The path of the mdlp_rhcs script rgmanager runs (cluster.conf), else the guide's."""
    _, scripts = _our_scripts(text) if text else (None, [])
    return scripts[0].get("file") if scripts else GUIDE_SCRIPT


def is_frozen(group):
    """A clustat -x <group> that clusvcadm -Z froze (flags bit 1, flags_str "frozen")."""
    flags = group.get("flags") or "0"
    return "frozen" in (group.get("flags_str") or "") or (flags.isdigit() and int(flags) & 1 == 1)


def local_node(clustat_root):
    """The name of the node clustat -x ran on."""
    return next((n.get("name") for n in clustat_root.iter("node") if n.get("local") == "1"), None)


def service_in_cluster_conf(text):
    """The name of the rgmanager service that runs the mdlp_rhcs script, or None."""
    root, found = _our_scripts(text)
    if root is None:
        return None
    scripts = {s.get("name") for s in found}
    scripts.discard(None)
    for element in root.iter("service"):
        for script in element.iter("script"):
            if script.get("ref") in scripts or os.path.basename(script.get("file") or "") == "mdlp_rhcs":
                return element.get("name")
    return None


def floating_ip_from_cluster_conf(text, service=SERVICE):
    """The <ip> of SERVICE in a cluster.conf, or None."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    for element in root.iter("service"):
        if element.get("name") == service:
            for ip in element.iter("ip"):
                return ip.get("ref") or ip.get("address")
    return None


def from_clustat(text, cluster_conf=None, service=None):
    root = _xml(text, "clustat -x")
    if root.tag != "clustat":
        raise StatusError("clustat -x: the root element is <%s>, not <clustat>" % root.tag)
    status = _empty("rgmanager")
    service = service or (service_in_cluster_conf(cluster_conf) if cluster_conf else None) or SERVICE
    status["service"] = service
    cluster = root.find("cluster")
    status["cluster"] = cluster.get("name") if cluster is not None else None
    quorum = root.find("quorum")
    status["quorate"] = quorum is not None and quorum.get("quorate") == "1"
    for node in root.iter("node"):
        status["nodes"].append({"name": node.get("name"), "online": node.get("state") == "1",
                                "local": node.get("local") == "1"})
    for group in root.iter("group"):
        if group.get("name") in ("service:" + service, service):
            state = group.get("state_str") or "unknown"
            status["state"] = state
            owner = group.get("owner")
            status["active_node"] = owner if state == "started" and owner not in (None, "", "none") else None
            if status["active_node"] and not any(n["name"] == owner and n["online"] for n in status["nodes"]):
                status["state"] = "recovering"   # its owner is gone: rgmanager has yet to notice
            status["last_owner"] = group.get("last_owner")
            if is_frozen(group):
                status["maintenance"] = {"on": True, "how": "frozen (clusvcadm -Z)"}
            restarts = group.get("restarts") or "0"
            status["restarts"] = int(restarts) if restarts.isdigit() else None
    if status["state"] == "unknown" and root.find("groups") is not None:
        status["state"] = "not configured"
    if cluster_conf:
        status["floating_ip"] = floating_ip_from_cluster_conf(cluster_conf, service)
    return status


def our_unit(root, name=None):
    """The group (or lone resource) that is the service: NAME's, else the one running our agent,
    else a group called mdlp; None if there is none."""
    resources = root.find("resources")
    units = [u for u in (resources if resources is not None else []) if u.tag in ("group", "resource")]
    if name:
        return next((u for u in units if u.get("id") == name), None)
    for unit in units:
        members = list(unit.iter("resource")) if unit.tag == "group" else [unit]
        if any(r.get("resource_agent") == OUR_AGENT for r in members):
            return unit
    return next((u for u in units if u.tag == "group" and u.get("id") == SERVICE), None)


def crm_mon_root(text):
    """crm_mon --output-as=xml, parsed; StatusError if it is not that, or reports an error."""
    root = _xml(text, "crm_mon --output-as=xml")
    if root.tag not in ("pacemaker-result", "crm_mon"):
        raise StatusError("crm_mon: the root element is <%s>, not <pacemaker-result>" % root.tag)
    result = root.find("status")
    if result is not None and result.get("code") not in (None, "0"):
        errors = [e.text.strip() for e in result.iter("error") if e.text and e.text.strip()]
        raise StatusError("crm_mon: %s%s" % (result.get("message") or "error %s" % result.get("code"),
                                             " (%s)" % errors[-1] if errors else ""))
    return root


def from_crm_mon(text, service=None):
    root = crm_mon_root(text)
    status = _empty("pacemaker")
    dc = root.find("summary/current_dc")
    status["quorate"] = dc is not None and dc.get("with_quorum") == "true"
    nodes = root.find("nodes")
    for node in nodes.iter("node") if nodes is not None else []:
        status["nodes"].append({"name": node.get("name"),
                                "online": node.get("online") == "true" and node.get("pending") != "true"
                                and node.get("unclean") != "true",
                                "unclean": node.get("unclean") == "true"})
    group = our_unit(root, service)
    if group is None:
        status["state"] = "not configured"
        if service:
            status["service"] = service
        return status
    status["service"] = group.get("id")
    members = list(group.iter("resource")) if group.tag == "group" else [group]
    options = root.find("summary/cluster_options")
    if options is not None and options.get("maintenance-mode") == "true":
        status["maintenance"] = {"on": True, "how": "the cluster's maintenance-mode"}
    elif members and all(m.get("managed") == "false" for m in members):
        status["maintenance"] = {"on": True, "how": "unmanaged"}
    roles = [m.get("role") for m in members]
    where = {n.get("name") for m in members for n in m.iter("node")}
    if any(m.get("failed") == "true" for m in members):
        status["state"] = "failed"
    elif roles and all(r == "Started" for r in roles) and len(where) == 1:
        node = where.pop()
        online = {n["name"] for n in status["nodes"] if n["online"]}
        # Pacemaker keeps the last known place of a node it lost (UNCLEAN, offline): that is a
        # service about to be recovered elsewhere, not one that serves
        status["state"] = "started" if node in online else "recovering"
        status["active_node"] = node
    elif all(r == "Stopped" for r in roles):
        disabled = group.get("disabled") == "true" or all((m.get("target_role") or "").lower() == "stopped"
                                                          for m in members)
        status["state"] = "disabled" if disabled else "stopped"
    else:
        status["state"] = "recovering"   # starting, stopping, or split across nodes
    status["ip_resource"] = next((m.get("id") for m in members if m.get("resource_agent") in IP_AGENTS), None)
    return status


def _run(argv, timeout):
    return run_command(argv, timeout, StatusError)


def _pacemaker(timeout, service=None):
    proc = _run(["crm_mon", "--output-as=xml"], timeout)
    if not proc.stdout.lstrip().startswith("<"):
        raise StatusError("crm_mon: %s" % last_line(proc))
    status = from_crm_mon(proc.stdout, service)
    if status["maintenance"]:
        try:    # who, why and until: a detail -- without it the line still says MAINTENANCE
            _maintenance_info(status["maintenance"], _run(["cibadmin", "--query", "--scope", "configuration"],
                                                          timeout), status["service"])
        except StatusError:
            pass
    rid = status.get("ip_resource")
    if rid:
        ip = _run(["crm_resource", "--resource", rid, "--get-parameter", "ip"], timeout)
        if ip.returncode == 0 and ip.stdout.strip():
            status["floating_ip"] = ip.stdout.strip().splitlines()[-1]
    return status


def live(timeout=10, cluster_conf_path="/etc/cluster/cluster.conf", service=None):
    """Ask the cluster stack that runs here: Pacemaker first, then rgmanager."""
    if find_program("crm_mon"):
        try:
            return _pacemaker(timeout, service)
        except StatusError:
            if not find_program("clustat"):    # both installed: the one that answers
                raise
    if find_program("clustat"):
        proc = _run(["clustat", "-x"], timeout)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise StatusError("clustat -x: %s" % last_line(proc))
        conf = None
        try:
            conf = read_regular(cluster_conf_path).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            pass    # the floating IP shows as unknown
        status = from_clustat(proc.stdout, conf, service)
        if status["maintenance"]:
            from .notice import read_record
            record = read_record()
            if record and record.get("service") == status["service"]:
                status["maintenance"]["info"] = record
        return status
    raise StatusError("no cluster stack here: neither crm_mon (Pacemaker) nor clustat (rgmanager) is installed")


def _maintenance_info(maintenance, proc, unit):
    """Who set it, why and until when: our block in the CIB, if it is ours and in force."""
    from . import notice
    if proc.returncode != 0:
        return
    try:
        configuration = ET.fromstring(proc.stdout)
    except ET.ParseError:
        return
    for _, name, info, _ in notice.blocks_in(configuration):
        if name in (None, unit) and notice.in_force(info):
            maintenance["info"] = info


def from_file(text, cluster_conf=None, service=None):
    """Recorded output of either tool, told apart by its root element."""
    stripped = text.lstrip()
    if "<clustat" in stripped[:300]:
        return from_clustat(text, cluster_conf, service)
    return from_crm_mon(text, service)


def line(status):
    nodes = ", ".join("%s %s" % (n["name"], "online" if n["online"] else ("UNCLEAN" if n.get("unclean") else "offline"))
                      for n in status["nodes"]) or "none"
    where = " on %s" % status["active_node"] if status["active_node"] else ""
    ip = status["floating_ip"] or "-"
    quorum = {True: "quorate", False: "NOT quorate", None: "quorum unknown"}[status["quorate"]]
    text = "%s: %s%s | floating IP %s | nodes: %s | %s (%s)" % (status["service"], status["state"], where, ip, nodes,
                                                              quorum, status["stack"])
    if status.get("maintenance"):
        text += " | MAINTENANCE: %s" % maintenance_text(status["maintenance"])
    return text


def maintenance_text(maintenance):
    from .notice import describe
    info = maintenance.get("info")
    return "%s, %s" % (maintenance["how"], describe(info)) if info else "%s (not set by mdlp-cluster here)" % (
        maintenance["how"])


def table(status):
    rows = [("service", status["service"]), ("state", status["state"]),
            ("active node", status["active_node"] or "-"), ("floating IP", status["floating_ip"] or "-"),
            ("stack", status["stack"]), ("cluster", status["cluster"] or "-"),
            ("quorum", {True: "yes", False: "NO", None: "-"}[status["quorate"]]),
            ("maintenance", maintenance_text(status["maintenance"]) if status.get("maintenance") else "off")]
    for node in status["nodes"]:
        rows.append(("node " + node["name"], ("online" if node["online"] else "offline")
                     + (" (active)" if node["name"] == status["active_node"] else "")))
    width = max(len(k) for k, _ in rows)
    return "\n".join("%s  %s" % (k.ljust(width), v) for k, v in rows)
