"""cluster.conf (cman + rgmanager + fenced), read one way: a small tree with the line of every
element (ElementTree keeps none; `mdlp-cluster validate` names lines), and what the commands ask
of it -- our script and its service, the floating IP, the nodes, each node's fence devices.

A cluster.conf decides what root runs (its <script file=...>, its fence agents): read for that, a
file that anybody but root could have written is refused (read(path, trusted=True))."""

import os
import xml.parsers.expat

from ...common.errors import AgentError
from ...common.files import distrust, open_regular
from ...common.paths import CLUSTER_CONF, GUIDE_SCRIPT
from .base import SERVICE

MAX_BYTES = 4 << 20
MAX_DEPTH = 64          # cluster.conf is 5 levels deep; no reader of ours needs more


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

    findall = find_all          # ElementTree's spelling: cib.py's readers take either tree

    def iter(self, tag):
        """Every descendant element named TAG, in document order (no recursion: any depth)."""
        stack = list(reversed(self.children))
        while stack:
            element = stack.pop()
            if element.tag == tag:
                yield element
            stack.extend(reversed(element.children))


class Malformed(AgentError):
    def __init__(self, line, message):
        AgentError.__init__(self, message)
        self.line = line


def _refuse_dtd(*args):
    raise ValueError("a DOCTYPE (cluster.conf has none; no entity of anybody's expands here)")


def parse(data):
    """DATA (bytes or text) as a tree of Elements; Malformed (with a line) if it is not XML."""
    parser = xml.parsers.expat.ParserCreate()
    root = []
    stack = []

    def start(tag, attrib):
        if len(stack) >= MAX_DEPTH:
            raise ValueError("elements nested more than %d deep" % MAX_DEPTH)
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
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise Malformed(exc.lineno, "malformed XML: %s" % xml.parsers.expat.ErrorString(exc.code)) from None
    except (LookupError, ValueError) as exc:    # an encoding expat does not know; a DOCTYPE
        raise Malformed(parser.CurrentLineNumber or 1, "malformed XML: %s" % exc) from None
    if not root:
        raise Malformed(1, "malformed XML: no element")
    return root[0]


def read(path=CLUSTER_CONF, trusted=False):
    """The parsed cluster.conf at PATH.  OSError if it cannot be read -- or, with TRUSTED (it decides
    what root runs), if anybody but root (or us) owns it or could write it; Malformed if it is not XML."""
    with open_regular(path) as handle:
        info = os.fstat(handle.fileno())
        if trusted and distrust(info):
            raise PermissionError(1, "%s is not root's alone (owner uid %d, mode %o): not trusted to say what "
                                     "root runs" % (path, info.st_uid, info.st_mode & 0o7777))
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise Malformed(1, "larger than %d bytes: not a cluster.conf" % MAX_BYTES)
    return parse(data)


def our_scripts(root):
    """The <script> elements that run mdlp_rhcs."""
    return [s for s in root.iter("script") if os.path.basename(s.get("file") or "") == "mdlp_rhcs"]


def script_path(root):
    """The path of the mdlp_rhcs script rgmanager runs, else the guide's."""
    scripts = our_scripts(root) if root is not None else []
    return scripts[0].get("file") if scripts else GUIDE_SCRIPT


def service_name(root):
    """The name of the rgmanager service that runs the mdlp_rhcs script, or None."""
    if root is None:
        return None
    names = {s.get("name") for s in our_scripts(root)}
    names.discard(None)
    for element in root.iter("service"):
        for script in element.iter("script"):
            if script.get("ref") in names or os.path.basename(script.get("file") or "") == "mdlp_rhcs":
                return element.get("name")
    return None


def floating_ip(root, service=SERVICE):
    """The <ip> of SERVICE, or None."""
    for element in root.iter("service") if root is not None else ():
        if element.get("name") == service:
            for ip in element.iter("ip"):
                return ip.get("ref") or ip.get("address")
    return None


def node_names(root):
    return [n.get("name") for n in root.iter("clusternode") if n.get("name")]


def fence_devices(root, node):
    """[(device name, agent, {parameter: value})] of NODE's first fence method, the parameters as
    fenced passes them: the shared <fencedevice>'s attributes, then the node's <device>'s, nodename."""
    devices = []
    for clusternode in root.iter("clusternode"):
        if clusternode.get("name") != node:
            continue
        fence = clusternode.find("fence")
        method = fence.find("method") if fence is not None else None
        for device in (method.find_all("device") if method is not None else []):
            shared = next((d for d in root.iter("fencedevice") if d.get("name") == device.get("name")), None)
            if shared is None:
                continue
            params = {k: v for k, v in shared.attrib.items() if k not in ("name", "agent")}
            params.update({k: v for k, v in device.attrib.items() if k != "name"})
            params.setdefault("nodename", node)
            devices.append((device.get("name"), shared.get("agent"), params))
    return devices
