"""mdlp-cluster status: which node runs the mdlp service, on which floating IP, in what state --
as the cluster manager that runs here sees it (stacks.detect), or from its recorded output.

The service is found by what it runs, whatever it is called: in Pacemaker the group holding an
ocf:websense:mdlp resource, else that resource alone; in rgmanager the service holding the
mdlp_rhcs script (cluster.conf).  A name given (--resource) wins."""

from ...common import exitcodes as ec
from ...common.errors import AgentError
from ...common.maintenance_record import describe, read_record
from ...common.paths import CLUSTER_CONF
from ...common.text import one_line
from .. import stacks
from ..stacks import cib, cluster_conf, rgmanager

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


def live(timeout=10, conf_path=CLUSTER_CONF, service=None, runner=stacks.LOCAL):
    """Ask the cluster manager that runs here."""
    try:
        stack = stacks.detect(runner, timeout, service, conf_path)
        status = stack.status()
    except AgentError as exc:
        raise StatusError(str(exc)) from None
    if status["stack"] == "rgmanager" and status["maintenance"]:
        found = read_record()
        if found and found.get("service") == status["service"]:
            status["maintenance"]["info"] = found
    return status


def from_file(text, conf_text=None, service=None):
    """Recorded output of crm_mon --output-as=xml or clustat -x, told apart by its root element."""
    try:
        if "<clustat" in text.lstrip()[:300]:
            conf = None
            if conf_text:
                try:
                    conf = cluster_conf.parse(conf_text)
                except AgentError:
                    conf = None
            return rgmanager.status(text, conf, service)
        return cib.status(text, service, stacks.empty_status("pacemaker"))
    except AgentError as exc:
        raise StatusError(str(exc)) from None


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
    return one_line(text)


def maintenance_text(maintenance):
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
    width = max(len(one_line(k)) for k, _ in rows)
    return "\n".join(one_line("%s  %s" % (one_line(k).ljust(width), v)) for k, v in rows)
