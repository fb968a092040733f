"""mdlp-cluster validate: what in an existing /etc/cluster/cluster.conf breaks the guide's rules
or will fail at run time, each with its line number."""

import os

from ...common.convert import whole_number
from ...common.files import find_program
from ...common.paths import SBIN_FIRST_PATH
from ..stacks.cib import agent_monitor, fencing_budget_problem, race_settings
from ..stacks.cluster_conf import Malformed, parse


def agent_installed(agent):
    if "/" in agent:
        return os.access(agent, os.X_OK)
    return bool(find_program(agent) or find_program(agent, SBIN_FIRST_PATH))


class Findings(list):
    """[(line, message)], added to by element."""

    def add(self, element, message):
        self.append((element.line if element is not None else 1, message))


def check(data):
    """[(line, message)] for cluster.conf text DATA (bytes or str); empty when clean."""
    try:
        root = parse(data)
    except Malformed as exc:
        return [(exc.line, str(exc))]
    found = Findings()
    if root.tag in ("cib", "configuration"):        # Pacemaker's: render pacemaker -f cib, cibadmin --query
        _check_split(root, found)
        _check_detection(root, found)
        return sorted(found)
    if root.tag != "cluster":
        found.add(root, "the root element is <%s>, not <cluster> (or a CIB)" % root.tag)
        return found
    _check_cluster(root, found)
    devices = _check_fence_devices(root, found)
    names = _check_nodes(root, devices, found)
    _check_quorum(root, len(list(root.iter("clusternode"))), found)
    rm = root.find("rm")
    _check_services(root, rm, names, found)
    _check_scripts(rm, found)
    return sorted(found)


def _check_cluster(root, found):
    if not root.get("name"):
        found.add(root, "<cluster> has no name")
    try:
        whole_number(root.get("config_version") or "")
    except ValueError:
        found.add(root, "<cluster> has no numeric config_version (ccs_tool/cman refuse to load it)")


def _check_fence_devices(root, found):
    """{name: <fencedevice>}, after checking each device's agent."""
    devices = {}
    for device in root.iter("fencedevice"):
        name = device.get("name")
        agent = device.get("agent") or ""
        if name in devices:
            found.add(device, "fence device %r is defined twice" % name)
        devices[name] = device
        if not agent:
            found.add(device, "fence device %r has no agent" % name)
        elif agent == "fence_manual":
            found.add(device, "fence device %r uses fence_manual: a node is never really fenced and recovery waits "
                              "for fence_ack_manual; use fence_mdlp" % name)
        elif not agent_installed(agent):
            found.add(device, "fence device %r: agent %s is not installed on this node" % (name, agent))
    return devices


def _check_nodes(root, devices, found):
    """{name: <clusternode>}, after checking names, ids and each node's fence level."""
    names, ids = {}, {}
    for node in root.iter("clusternode"):
        name = node.get("name")
        if not name:
            found.add(node, "a <clusternode> has no name")
        elif name in names:
            found.add(node, "node name %r is used twice (first on line %d)" % (name, names[name].line))
        else:
            names[name] = node
        nodeid = node.get("nodeid")
        if nodeid and nodeid in ids:
            found.add(node, "nodeid %s is used twice (first on line %d)" % (nodeid, ids[nodeid].line))
        elif nodeid:
            ids[nodeid] = node
        methods = [m for f in node.find_all("fence") for m in f.find_all("method")]
        used = [d for m in methods for d in m.find_all("device")]
        if not used:
            found.add(node, "node %r has no fence level (no <fence><method><device>): it can never be fenced" % name)
        for device in used:
            if device.get("name") not in devices:
                found.add(device, "node %r uses fence device %r, which <fencedevices> does not define"
                          % (name, device.get("name")))
    return names


def _check_quorum(root, node_count, found):
    cman = root.find("cman")
    if node_count == 2 and (cman is None or cman.get("two_node") != "1"):
        found.add(cman if cman is not None else root,
                  "two nodes without <cman two_node=\"1\" expected_votes=\"1\">: the survivor of a failure "
                  "loses quorum and stops the service")
    elif cman is not None and cman.get("two_node") == "1" and cman.get("expected_votes") != "1":
        found.add(cman, "two_node=\"1\" needs expected_votes=\"1\"")


def _scripts(rm):
    """{name: <script file=...>} of the resource manager's scripts."""
    return {s.get("name"): s for s in (rm.iter("script") if rm is not None else []) if s.get("file")}


def _check_services(root, rm, names, found):
    services = list(rm.iter("service")) if rm is not None else []
    if not services:
        found.add(rm if rm is not None else root, "no <service> under <rm>: nothing is managed")
    domains = {d.get("name"): d for d in root.iter("failoverdomain")}
    scripts = _scripts(rm)
    addresses = {i.get("address") for i in (rm.iter("ip") if rm is not None else []) if i.get("address")}
    for service in services:
        sname = service.get("name")
        if service.get("autostart", "1") not in ("1", "yes"):
            found.add(service, "service %r has autostart=\"%s\": it does not start with the cluster"
                      % (sname, service.get("autostart")))
        if service.get("recovery", "restart") != "relocate":
            found.add(service, "service %r has recovery=\"%s\"; the guide uses \"relocate\" (a failure moves the "
                      "service to the other node)" % (sname, service.get("recovery", "restart")))
        if service.get("exclusive") != "1":
            found.add(service, "service %r is not exclusive=\"1\": it may start on a node running another service"
                      % sname)
        domain_name = service.get("domain")
        if not domain_name:
            found.add(service, "service %r has no failover domain: it may start on any node" % sname)
        elif domain_name not in domains:
            found.add(service, "service %r uses failover domain %r, which is not defined" % (sname, domain_name))
        else:
            _check_domain(domains[domain_name], names, found)
        for ref in service.iter("ip"):
            if ref.get("ref") and ref.get("ref") not in addresses:
                found.add(ref, "service %r refers to IP %r, which <resources> does not define"
                          % (sname, ref.get("ref")))
        for ref in service.iter("script"):
            script = scripts.get(ref.get("ref")) if ref.get("ref") else ref
            if script is None:
                found.add(ref, "service %r refers to script %r, which <resources> does not define"
                          % (sname, ref.get("ref")))


def _check_domain(domain, names, found):
    name = domain.get("name")
    if domain.get("restricted") != "1":
        found.add(domain, "failover domain %r is not restricted=\"1\": the service may run outside it" % name)
    if domain.get("ordered") != "1":
        found.add(domain, "failover domain %r is not ordered=\"1\": the preferred node is not honoured" % name)
    if not domain.find_all("failoverdomainnode"):
        found.add(domain, "failover domain %r has no nodes: the service can run nowhere" % name)
    for member in domain.find_all("failoverdomainnode"):
        if member.get("name") not in names:
            found.add(member, "failover domain %r names node %r, which is not a cluster node"
                      % (name, member.get("name")))


def _check_scripts(rm, found):
    for script in _scripts(rm).values():
        path = script.get("file")
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            found.add(script, "script %r: %s is not an executable file on this node" % (script.get("name"), path))


def _check_split(root, found):
    """A CIB's settings for a split of the pair: delays the fencer's timeout leaves time for, a
    static delay the priority delay outweighs, and a priority-fencing-delay that protects a resource."""
    race = race_settings(root)
    timeout, priority_delay = race["stonith_timeout"], race["priority_fencing_delay"]
    properties = {p.get("name"): p for p in root.iter("nvpair") if p.parent.tag == "cluster_property_set"}
    where = properties.get("priority-fencing-delay") or properties.get("stonith-timeout") or root
    primitives = {}
    for element in root.iter("primitive"):
        primitives.setdefault(element.get("id") or "(no id)", element)
    short = fencing_budget_problem(timeout, priority_delay)
    if short:
        found.add(where, "priority-fencing-delay %g s: %s" % (priority_delay, short))
    for device, delay in sorted(race["delays"].items()):
        own = race["timeouts"].get(device)
        problem = fencing_budget_problem(own if own is not None else timeout, delay + priority_delay,
                                         "its pcmk_reboot_timeout" if own is not None else "stonith-timeout")
        if delay and problem and (own is not None or not short):
            found.add(primitives.get(device, root), "%s: its delay (pcmk_delay_base/max, delay) %g s%s: %s" % (
                device, delay, " + priority-fencing-delay %g s" % priority_delay if priority_delay else "", problem))
        elif priority_delay and delay * 2 > priority_delay:
            found.add(primitives.get(device, root), "%s: its delay (pcmk_delay_base/max, delay) %g s is more than "
                      "half of priority-fencing-delay %g s: the node running the service may lose a split"
                      % (device, delay, priority_delay))
    if priority_delay and not race["priorities"]:
        found.add(where, "priority-fencing-delay %g s, but no resource has a priority (meta priority): it protects "
                  "nobody" % priority_delay)



SLOW_MONITOR = 5.0      # seconds: beyond this the agent's monitor is a detection problem


def _check_detection(root, found):
    """The agent's recurring monitor: there, and frequent (the OCF front answers it from the watcher's
    verdict: every 500 ms costs well under 1 % of a core)."""
    monitor = agent_monitor(root)
    primitive = next((p for p in root.iter("primitive") if p.get("id") == monitor["resource"]), None)
    if primitive is None:
        return
    if monitor["interval"] is None:
        found.add(primitive, "%s has no recurring monitor (op monitor with an interval): Pacemaker never notices a "
                  "dead service" % monitor["resource"])
    elif monitor["interval"] > SLOW_MONITOR:
        op = next((o for o in primitive.iter("op") if o.get("name") == "monitor"), primitive)
        found.add(op, "%s is monitored every %g s: a dead service goes unnoticed that long (render pacemaker: "
                  "500ms, answered by the OCF front without starting Python)" % (monitor["resource"],
                                                                                  monitor["interval"]))
