"""mdlp-cluster's answer file: one small file describing a site -- one or more 2-node
clusters (the guide's pairs), their nodes, floating IPs, fencing and the service.

TOML (Python 3.11+ reads it with the standard library) or INI (any Python 3):

    [site]                                  [site]
    dns_name = "mobile.example.com"         dns_name = mobile.example.com
    fence_backend = "ipmi"                  fence_backend = ipmi
    fence_username = "admin"                fence_username = admin

    [[cluster]]                             [cluster mobile-cs]
    name = "mobile-cs"                      floating_ip = 10.0.32.201
    floating_ip = "10.0.32.201"             failover_order = node1, node2
    nodes = [                               [node node1]
      {name = "node1", address = "...",     cluster = mobile-cs
       bmc = "..."},                        address = 10.0.32.11
    ]                                       bmc = 10.0.33.11

Secrets are never accepted here: the BMC or SSH password stays in
/etc/mdlp_agents/fence_mdlp.conf on each node, where fence_mdlp reads it.
"""

import ipaddress
import re

from ..common import ini
from ..common.convert import boolean
from ..common.errors import AgentError
from ..common.files import read_regular

FENCE_BACKENDS = ("ipmi", "ssh", "noop")
SITE_KEYS = {
    "dns_name": None, "dns_ttl": 60, "fence_backend": "ipmi", "fence_username": "admin",
    "fence_lanplus": True, "fence_cipher": "3", "fence_delay": 15, "fence_identity_file": None,
    "service_config": "/etc/mdlp_agents/mdlp_rhcs.conf", "script": "/opt/websense/rproxy/cs/mdlp_rhcs",
    "monitor_interval": 30, "ip_monitor_interval": 10, "stickiness": 100,
}
CLUSTER_KEYS = ("name", "floating_ip", "prefix", "interface", "failover_order", "nodes", "fence_backend",
                "fence_username")
NODE_KEYS = ("name", "address", "bmc", "nodeid", "cluster")
SECRET = re.compile(r"pass(wd|word|phrase)?$|secret|_key$", re.I)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")
SECRET_HOME = "/etc/mdlp_agents/fence_mdlp.conf ([fence] password = ...)"


class AnswerError(AgentError):
    """A broken answer file: one line naming the file and the place; mdlp-cluster exits 2."""

    exit_code = 2


class Node:
    def __init__(self, name, address, bmc=None, nodeid=1):
        self.name, self.address, self.bmc, self.nodeid = name, address, bmc, nodeid


class Cluster:
    def __init__(self, name, floating_ip, prefix, interface, nodes, failover_order, fence_backend,
                 fence_username):
        self.name = name
        self.floating_ip = floating_ip
        self.prefix = prefix
        self.interface = interface
        self.nodes = nodes
        self.failover_order = failover_order
        self.fence_backend = fence_backend
        self.fence_username = fence_username

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)


class Site:
    def __init__(self, path, options, clusters):
        self.path = path
        self.clusters = clusters
        for key, value in options.items():
            setattr(self, key, value)

    @property
    def nodes(self):
        return [node for cluster in self.clusters for node in cluster.nodes]

    def cluster(self, name=None):
        if name is None:
            if len(self.clusters) > 1:
                raise AnswerError("%s: %d clusters (%s): choose one with --cluster"
                                  % (self.path, len(self.clusters), ", ".join(c.name for c in self.clusters)))
            return self.clusters[0]
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise AnswerError("%s: no cluster named %r (there are: %s)"
                          % (self.path, name, ", ".join(c.name for c in self.clusters)))


def load(path):
    """Read and check an answer file; AnswerError (one line) when it cannot be used."""
    try:
        data = read_regular(path)
    except OSError as exc:
        raise AnswerError("%s: cannot read: %s" % (path, exc.strerror)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AnswerError("%s: not UTF-8 text" % path) from None
    try:
        raw = _parse_toml(path, text) if path.endswith(".toml") else _parse_ini(path, text)
        return _check(path, raw)
    except RecursionError:
        raise AnswerError("%s: nested too deeply to be an answer file" % path) from None


def _toml_module():
    """tomllib (Python 3.11+), else the tomli backport where it is installed (EL9: python3-tomli)."""
    try:
        import tomllib
        return tomllib
    except ImportError:
        pass
    try:
        import tomli
        return tomli
    except ImportError:
        return None


def _parse_toml(path, text):
    toml = _toml_module()
    if toml is None:
        raise AnswerError("%s: reading TOML needs Python 3.11 or the tomli module (EL9: dnf install "
                          "python3-tomli; EL8: pip3 install tomli); or write the answer file as INI "
                          "(see the examples)" % path)
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise AnswerError("%s: not valid TOML: %s" % (path, exc)) from None


def _parse_ini(path, text):
    try:   # a line is not echoed: secrets are refused here, and an error line must not show one
        parser = ini.parse(text, path, case_sensitive=True, echo=False)
    except ini.IniError as exc:
        raise AnswerError("%s: not a valid INI file: %s" % (path, exc)) from None
    raw = {"site": {}, "cluster": []}
    clusters = {}
    nodes = []
    for section in parser.sections():
        values = dict(parser.items(section))
        kind, _, name = section.partition(" ")
        name = name.strip()
        if section == "site":
            raw["site"] = values
        elif kind == "cluster" and name:
            values["name"] = name
            if "failover_order" in values:
                values["failover_order"] = [v.strip() for v in values["failover_order"].split(",") if v.strip()]
            clusters[name] = values
            values["nodes"] = []
            raw["cluster"].append(values)
        elif kind == "node" and name:
            values["name"] = name
            nodes.append(values)
        else:
            raise AnswerError("%s: [%s]: unknown section (use [site], [cluster NAME], [node NAME])"
                              % (path, section))
    for node in nodes:
        owner = node.pop("cluster", None)
        if owner is None and len(clusters) == 1:
            owner = next(iter(clusters))
        if owner is None:
            raise AnswerError("%s: [node %s]: which cluster? add 'cluster = NAME' (there are %d)"
                              % (path, node["name"], len(clusters)))
        if owner not in clusters:
            raise AnswerError("%s: [node %s]: 'cluster = %s' names no [cluster] section"
                              % (path, node["name"], owner))
        clusters[owner]["nodes"].append(node)
    return raw


def _refuse_secrets(path, where, table):
    """Anywhere in TABLE, however deeply nested: a key that names a secret is refused (and its
    value never echoed)."""
    items = table.items() if isinstance(table, dict) else enumerate(table) if isinstance(table, list) else ()
    for key, value in items:
        if isinstance(key, str) and SECRET.search(key) and key != "fence_identity_file":
            raise AnswerError("%s: %s %s: secrets do not belong in the answer file; put them in %s"
                              % (path, where, key, SECRET_HOME))
        if isinstance(value, (dict, list)):
            _refuse_secrets(path, where, value)


def _scalar(path, where, key, value, kinds=(str,)):
    """VALUE must be a single value (no table, list or control character): it ends up in XML
    attributes, shell words and crm lines."""
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise AnswerError("%s: %s %s: expected %s, not a %s" % (path, where, key, " or ".join(
            {str: "text", int: "a whole number", bool: "yes/no"}[k] for k in kinds), type(value).__name__))
    if isinstance(value, str) and CONTROL.search(value):
        raise AnswerError("%s: %s %s: control characters are not allowed" % (path, where, key))
    return value.strip() if isinstance(value, str) else value


def _unknown(path, where, table, allowed):
    for key in table:
        if key not in allowed:
            raise AnswerError("%s: %s: unknown key %r (known: %s)" % (path, where, key, ", ".join(sorted(allowed))))


def _address(path, where, value, key):
    value = _scalar(path, where, key, value)
    if "%" in value:   # Python 3.9+ takes any text after % as a scope: it would reach shell lines
        raise AnswerError("%s: %s %s: %r has a scope id: give an address without %%..." % (path, where, key, value))
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise AnswerError("%s: %s %s: %r is not an IP address" % (path, where, key, value)) from None


def _integer(path, where, key, value, low, high):
    value = _scalar(path, where, key, value, (int, str))
    try:
        number = int(value)
    except ValueError:
        raise AnswerError("%s: %s %s: %r is not a whole number" % (path, where, key, value)) from None
    if not low <= number <= high:
        raise AnswerError("%s: %s %s: %d is not between %d and %d" % (path, where, key, number, low, high))
    return number


def _backend(path, where, value):
    value = _scalar(path, where, "fence_backend", value)
    if value not in FENCE_BACKENDS:
        raise AnswerError("%s: %s fence_backend: %r is not one of %s" % (path, where, value, ", ".join(FENCE_BACKENDS)))
    return value


def _boolean(path, where, key, value):
    value = _scalar(path, where, key, value, (bool, str))
    if isinstance(value, bool):
        return value
    try:
        return boolean(value)
    except ValueError:
        raise AnswerError("%s: %s %s: %r is not yes/no" % (path, where, key, value)) from None


def _name(path, where, key, value):
    value = _scalar(path, where, key, value)
    if not NAME.match(value):
        raise AnswerError("%s: %s %s: %r is not a valid name (letters, digits, '.', '-')" % (path, where, key, value))
    return value


def _check(path, raw):
    unknown_top = set(raw) - {"site", "cluster"}
    if unknown_top:
        raise AnswerError("%s: unknown table(s) %s (use [site] and [[cluster]])"
                          % (path, ", ".join(sorted(unknown_top))))
    site_raw = raw.get("site") or {}
    if not isinstance(site_raw, dict):
        raise AnswerError("%s: [site] must be a table" % path)
    _refuse_secrets(path, "[site]", site_raw)
    _unknown(path, "[site]", site_raw, SITE_KEYS)
    site = dict(SITE_KEYS)
    site.update(site_raw)
    where = "[site]"
    site["fence_backend"] = _backend(path, where, site["fence_backend"])
    site["dns_ttl"] = _integer(path, where, "dns_ttl", site["dns_ttl"], 1, 86400)
    site["fence_delay"] = _integer(path, where, "fence_delay", site["fence_delay"], 0, 300)
    site["monitor_interval"] = _integer(path, where, "monitor_interval", site["monitor_interval"], 1, 3600)
    site["ip_monitor_interval"] = _integer(path, where, "ip_monitor_interval", site["ip_monitor_interval"], 1, 3600)
    site["stickiness"] = _integer(path, where, "stickiness", site["stickiness"], 0, 1000000)
    site["fence_lanplus"] = _boolean(path, where, "fence_lanplus", site["fence_lanplus"])
    site["fence_cipher"] = str(_scalar(path, where, "fence_cipher", site["fence_cipher"], (str, int)))
    site["fence_username"] = _name(path, where, "fence_username", site["fence_username"])
    for key in ("service_config", "script", "fence_identity_file"):
        if site[key] is None:
            continue
        site[key] = _scalar(path, where, key, site[key])
        if not site[key].startswith("/") or " " in site[key]:
            raise AnswerError("%s: [site] %s: %r is not an absolute path without spaces" % (path, key, site[key]))
    if site["dns_name"] is not None:
        site["dns_name"] = _scalar(path, where, "dns_name", site["dns_name"]).rstrip(".")
        if not all(NAME.match(label) for label in site["dns_name"].split(".")):
            raise AnswerError("%s: [site] dns_name: %r is not a host name" % (path, site["dns_name"]))

    clusters_raw = raw.get("cluster") or []
    if not isinstance(clusters_raw, list) or not clusters_raw:
        raise AnswerError("%s: no cluster: add a [[cluster]] table (TOML) or a [cluster NAME] section (INI)" % path)
    clusters, seen_nodes, seen_ips, seen_clusters = [], set(), {}, set()
    for index, table in enumerate(clusters_raw, 1):
        if not isinstance(table, dict):
            raise AnswerError("%s: cluster %d must be a table" % (path, index))
        where = "cluster %s" % (table.get("name") if isinstance(table.get("name"), str) else index)
        _refuse_secrets(path, where, table)
        _unknown(path, where, table, CLUSTER_KEYS)
        for key in ("name", "floating_ip", "nodes"):
            if key not in table or table[key] in ("", []):
                raise AnswerError("%s: %s: missing %r" % (path, where, key))
        name = _name(path, where, "name", table["name"])
        if name in seen_clusters:
            raise AnswerError("%s: %s: the cluster name is used twice" % (path, where))
        seen_clusters.add(name)
        vip = _address(path, where, table["floating_ip"], "floating_ip")
        if vip in seen_ips:
            raise AnswerError("%s: %s floating_ip: %s is also %s" % (path, where, vip, seen_ips[vip]))
        seen_ips[vip] = "the floating IP of cluster %s" % name
        prefix = _integer(path, where, "prefix", table.get("prefix", 24), 1,
                          32 if ipaddress.ip_address(vip).version == 4 else 128)
        interface = _name(path, where, "interface", table.get("interface", "eth0"))
        backend = _backend(path, where, table.get("fence_backend", site["fence_backend"]))
        nodes = []
        if not isinstance(table["nodes"], list):
            raise AnswerError("%s: %s nodes: must be a list of tables" % (path, where))
        for number, node_raw in enumerate(table["nodes"], 1):
            node_where = "%s node %s" % (where, node_raw.get("name", number) if isinstance(node_raw, dict)
                                          and isinstance(node_raw.get("name", number), (str, int)) else number)
            if not isinstance(node_raw, dict):
                raise AnswerError("%s: %s: must be a table with name and address" % (path, node_where))
            _refuse_secrets(path, node_where, node_raw)
            _unknown(path, node_where, node_raw, NODE_KEYS)
            for key in ("name", "address"):
                if not node_raw.get(key):
                    raise AnswerError("%s: %s: missing %r" % (path, node_where, key))
            node_name = _name(path, node_where, "name", node_raw["name"])
            if node_name in seen_nodes:
                raise AnswerError("%s: %s: node name %s is used twice" % (path, node_where, node_name))
            seen_nodes.add(node_name)
            address = _address(path, node_where, node_raw["address"], "address")
            if address in seen_ips:
                raise AnswerError("%s: %s address: %s is also %s" % (path, node_where, address, seen_ips[address]))
            seen_ips[address] = "the address of node %s" % node_name
            bmc = node_raw.get("bmc")
            if backend == "ipmi" and not bmc:
                raise AnswerError("%s: %s: missing 'bmc' (the address of its IPMI BMC; fence_backend is ipmi)"
                                  % (path, node_where))
            if bmc:
                bmc = _address(path, node_where, bmc, "bmc")
                if bmc in seen_ips:   # one BMC for two nodes: fencing one would cut the other's power
                    raise AnswerError("%s: %s bmc: %s is also %s" % (path, node_where, bmc, seen_ips[bmc]))
                seen_ips[bmc] = "the BMC of node %s" % node_name
            nodeid = _integer(path, node_where, "nodeid", node_raw.get("nodeid", number), 1, 2 ** 31 - 1)
            if nodeid in (n.nodeid for n in nodes):
                raise AnswerError("%s: %s nodeid: %d is used twice" % (path, node_where, nodeid))
            nodes.append(Node(node_name, address, bmc, nodeid))
        if len(nodes) > 2:
            raise AnswerError("%s: %s: %d nodes; the guide's clusters are pairs (1 or 2 nodes), "
                              "scale out with more clusters" % (path, where, len(nodes)))
        order = table.get("failover_order") or [n.name for n in nodes]
        if not isinstance(order, list) or not all(isinstance(item, str) for item in order):
            raise AnswerError("%s: %s failover_order: expected a list of node names" % (path, where))
        if sorted(order) != sorted(n.name for n in nodes):
            raise AnswerError("%s: %s failover_order: %s must list each node of the cluster once"
                              % (path, where, ", ".join(order)))
        username = _name(path, where, "fence_username", table.get("fence_username", site["fence_username"]))
        clusters.append(Cluster(name, vip, prefix, interface, nodes, list(order), backend, username))
    return Site(path, site, clusters)

