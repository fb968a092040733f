"""mdlp-cluster validate: what in an existing /etc/cluster/cluster.conf breaks the guide's rules
or will fail at run time, each with its line number."""

import os
import shutil
import xml.parsers.expat

SEARCH = ("/sbin", "/usr/sbin", "/bin", "/usr/bin")


class Element:
    __slots__ = ("tag", "attrib", "line", "children", "parent")

    def __init__(self, tag, attrib, line, parent):
        self.tag, self.attrib, self.line, self.parent = tag, attrib, line, parent
        self.children = []

    def get(self, key, default=None):
        return self.attrib.get(key, default)

    def find_all(self, tag):
        return [c for c in self.children if c.tag == tag]

    def find(self, tag):
        found = self.find_all(tag)
        return found[0] if found else None

    def iter(self, tag):
        for child in self.children:
            if child.tag == tag:
                yield child
            yield from child.iter(tag)


class Malformed(Exception):
    def __init__(self, line, message):
        Exception.__init__(self, message)
        self.line = line


def parse(data):
    """A small tree with the line of every element (ElementTree keeps none)."""
    parser = xml.parsers.expat.ParserCreate()
    root = []
    stack = []

    def start(tag, attrib):
        element = Element(tag, attrib, parser.CurrentLineNumber, stack[-1] if stack else None)
        if stack:
            stack[-1].children.append(element)
        else:
            root.append(element)
        stack.append(element)

    def end(tag):
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise Malformed(exc.lineno, "malformed XML: %s" % xml.parsers.expat.ErrorString(exc.code)) from None
    except (LookupError, ValueError) as exc:    # e.g. an encoding expat does not know
        raise Malformed(parser.CurrentLineNumber or 1, "malformed XML: %s" % exc) from None
    if not root:
        raise Malformed(1, "malformed XML: no element")
    return root[0]


def agent_installed(agent):
    if "/" in agent:
        return os.access(agent, os.X_OK)
    if shutil.which(agent):
        return True
    return any(os.access(os.path.join(d, agent), os.X_OK) for d in SEARCH)


def check(data):
    """[(line, message)] for cluster.conf text DATA (bytes or str); empty when clean."""
    try:
        root = parse(data)
    except Malformed as exc:
        return [(exc.line, str(exc))]
    problems = []

    def problem(element, message):
        problems.append((element.line if element is not None else 1, message))

    if root.tag != "cluster":
        problem(root, "the root element is <%s>, not <cluster>" % root.tag)
        return problems
    if not root.get("name"):
        problem(root, "<cluster> has no name")
    if not (root.get("config_version") or "").isdigit():
        problem(root, "<cluster> has no numeric config_version (ccs_tool/cman refuse to load it)")

    devices = {}
    for device in root.iter("fencedevice"):
        name = device.get("name")
        agent = device.get("agent") or ""
        if name in devices:
            problem(device, "fence device %r is defined twice" % name)
        devices[name] = device
        if not agent:
            problem(device, "fence device %r has no agent" % name)
        elif agent == "fence_manual":
            problem(device, "fence device %r uses fence_manual: a node is never really fenced and recovery waits "
                            "for fence_ack_manual; use fence_mdlp" % name)
        elif not agent_installed(agent):
            problem(device, "fence device %r: agent %s is not installed on this node" % (name, agent))

    nodes = list(root.iter("clusternode"))
    names, ids = {}, {}
    for node in nodes:
        name = node.get("name")
        if not name:
            problem(node, "a <clusternode> has no name")
        elif name in names:
            problem(node, "node name %r is used twice (first on line %d)" % (name, names[name].line))
        else:
            names[name] = node
        nodeid = node.get("nodeid")
        if nodeid and nodeid in ids:
            problem(node, "nodeid %s is used twice (first on line %d)" % (nodeid, ids[nodeid].line))
        elif nodeid:
            ids[nodeid] = node
        methods = [m for f in node.find_all("fence") for m in f.find_all("method")]
        used = [d for m in methods for d in m.find_all("device")]
        if not used:
            problem(node, "node %r has no fence level (no <fence><method><device>): it can never be fenced" % name)
        for device in used:
            if device.get("name") not in devices:
                problem(device, "node %r uses fence device %r, which <fencedevices> does not define"
                        % (name, device.get("name")))

    cman = root.find("cman")
    if len(nodes) == 2 and (cman is None or cman.get("two_node") != "1"):
        problem(cman if cman is not None else root,
                "two nodes without <cman two_node=\"1\" expected_votes=\"1\">: the survivor of a failure "
                "loses quorum and stops the service")
    elif cman is not None and cman.get("two_node") == "1" and cman.get("expected_votes") != "1":
        problem(cman, "two_node=\"1\" needs expected_votes=\"1\"")

    rm = root.find("rm")
    services = list(rm.iter("service")) if rm is not None else []
    if not services:
        problem(rm if rm is not None else root, "no <service> under <rm>: nothing is managed")
    domains = {d.get("name"): d for d in root.iter("failoverdomain")}
    scripts = {s.get("name"): s for s in (rm.iter("script") if rm is not None else []) if s.get("file")}
    for service in services:
        sname = service.get("name")
        if service.get("autostart", "1") not in ("1", "yes"):
            problem(service, "service %r has autostart=\"%s\": it does not start with the cluster"
                    % (sname, service.get("autostart")))
        if service.get("recovery", "restart") != "relocate":
            problem(service, "service %r has recovery=\"%s\"; the guide uses \"relocate\" (a failure moves the "
                    "service to the other node)" % (sname, service.get("recovery", "restart")))
        if service.get("exclusive") != "1":
            problem(service, "service %r is not exclusive=\"1\": it may start on a node running another service"
                    % sname)
        domain_name = service.get("domain")
        if not domain_name:
            problem(service, "service %r has no failover domain: it may start on any node" % sname)
        elif domain_name not in domains:
            problem(service, "service %r uses failover domain %r, which is not defined" % (sname, domain_name))
        else:
            domain = domains[domain_name]
            if domain.get("restricted") != "1":
                problem(domain, "failover domain %r is not restricted=\"1\": the service may run outside it"
                        % domain_name)
            if domain.get("ordered") != "1":
                problem(domain, "failover domain %r is not ordered=\"1\": the preferred node is not honoured"
                        % domain_name)
            if not domain.find_all("failoverdomainnode"):
                problem(domain, "failover domain %r has no nodes: the service can run nowhere" % domain_name)
            for member in domain.find_all("failoverdomainnode"):
                if member.get("name") not in names:
                    problem(member, "failover domain %r names node %r, which is not a cluster node"
                            % (domain_name, member.get("name")))
        addresses = {i.get("address") for i in (rm.iter("ip") if rm is not None else []) if i.get("address")}
        for ref in service.iter("ip"):
            if ref.get("ref") and ref.get("ref") not in addresses:
                problem(ref, "service %r refers to IP %r, which <resources> does not define" % (sname, ref.get("ref")))
        for ref in service.iter("script"):
            script = scripts.get(ref.get("ref")) if ref.get("ref") else ref
            if script is None:
                problem(ref, "service %r refers to script %r, which <resources> does not define"
                        % (sname, ref.get("ref")))
    for script in scripts.values():
        path = script.get("file")
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            problem(script, "script %r: %s is not an executable file on this node" % (script.get("name"), path))
    return sorted(problems)
