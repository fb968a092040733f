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

from ...common import convert, ini
from ...common.convert import boolean
from ...common.errors import AgentError
from ...common.files import read_utf8
from ...common.paths import GUIDE_SCRIPT, MDLP_RHCS_CONF
from ..stacks.cib import AGENT_SECONDS, fencing_budget_problem

FENCE_BACKENDS = ("ipmi", "ssh", "noop")
MIN_FENCE_DELAY = 5     # the winner has two thirds of fence_delay to power the loser off: seconds for a BMC
SITE_KEYS = {
    "dns_name": None, "dns_ttl": 60, "fence_backend": "ipmi", "fence_username": "admin",
    "fence_lanplus": True, "fence_cipher": "3", "fence_delay": 15, "fence_timeout": 90, "fence_identity_file": None,
    "service_config": MDLP_RHCS_CONF, "script": GUIDE_SCRIPT,
    "monitor_interval": 0.5, "ip_monitor_interval": 10, "stickiness": 100,
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
    text = read_utf8(path, AnswerError)
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
        parser = ini.parse(text, path, case_sensitive=True)
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


# -- converters: each takes a value and returns it checked, or raises ValueError saying what is
#    wrong; Place adds the file, the table and the key -------------------------------------------
KIND_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "yes/no"}


def scalar(value, kinds=(str,)):
    """VALUE must be a single value (no table, list or control character): it ends up in XML
    attributes, shell words and crm lines."""
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        raise ValueError("expected %s, not a %s" % (" or ".join(KIND_NAMES[k] for k in kinds), type(value).__name__))
    if isinstance(value, str) and CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value.strip() if isinstance(value, str) else value


def address(value):
    return convert.ip_address(scalar(value))


def integer(value, low, high):
    value = scalar(value, (int, str))
    try:
        number = int(value)
    except ValueError:
        raise ValueError("%r is not a whole number" % value) from None
    if not low <= number <= high:
        raise ValueError("%d is not between %d and %d" % (number, low, high))
    return number


def backend(value):
    value = scalar(value)
    if value not in FENCE_BACKENDS:
        raise ValueError("%r is not one of %s" % (value, ", ".join(FENCE_BACKENDS)))
    return value


def yes_no(value):
    value = scalar(value, (bool, str))
    if isinstance(value, bool):
        return value
    try:
        return boolean(value)
    except ValueError:
        raise ValueError("%r is not yes/no" % value) from None


def name(value):
    value = scalar(value)
    if not NAME.match(value):
        raise ValueError("%r is not a valid name (letters, digits, '.', '-')" % value)
    return value


def absolute_path(value):
    value = scalar(value)
    if not value.startswith("/") or " " in value:
        raise ValueError("%r is not an absolute path without spaces" % value)
    return value


def host_name(value):
    return convert.host_name(scalar(value))


class Place:
    """A table of the answer file ("[site]", "cluster mobile-cs node node1"): its errors name the
    file, the table and the key."""

    def __init__(self, path, where):
        self.path, self.where = path, where

    def error(self, message, key=None):
        return AnswerError("%s: %s%s: %s" % (self.path, self.where, " " + key if key else "", message))

    def value(self, key, raw, convert, *args):
        try:
            return convert(raw, *args)
        except ValueError as exc:
            raise self.error(str(exc), key) from None

    def known_keys(self, table, allowed):
        for key in table:
            if key not in allowed:
                raise self.error("unknown key %r (known: %s)" % (key, ", ".join(sorted(allowed))))

    def no_secrets(self, table):
        """Anywhere in TABLE, however deeply nested: a key that names a secret is refused (and its
        value never echoed)."""
        items = table.items() if isinstance(table, dict) else enumerate(table) if isinstance(table, list) else ()
        for key, value in items:
            if isinstance(key, str) and SECRET.search(key) and key != "fence_identity_file":
                raise self.error("secrets do not belong in the answer file; put them in %s" % SECRET_HOME, key)
            if isinstance(value, (dict, list)):
                self.no_secrets(value)

    def required(self, table, keys):
        for key in keys:
            if key not in table or table[key] in ("", []):
                raise self.error("missing %r" % key)


class Claimed:
    """Names and addresses already given in the file: each may appear once."""

    def __init__(self):
        self.clusters, self.nodes, self.addresses = set(), set(), {}

    def address(self, place, key, value, what):
        if value in self.addresses:
            raise place.error("%s is also %s" % (value, self.addresses[value]), key)
        self.addresses[value] = what


# -- the file, table by table -------------------------------------------------------------------
def _check(path, raw):
    unknown_top = set(raw) - {"site", "cluster"}
    if unknown_top:
        raise AnswerError("%s: unknown table(s) %s (use [site] and [[cluster]])"
                          % (path, ", ".join(sorted(unknown_top))))
    site = _check_site(Place(path, "[site]"), raw.get("site") or {})
    clusters_raw = raw.get("cluster") or []
    if not isinstance(clusters_raw, list) or not clusters_raw:
        raise AnswerError("%s: no cluster: add a [[cluster]] table (TOML) or a [cluster NAME] section (INI)" % path)
    claimed = Claimed()
    clusters = [_check_cluster(path, index, table, site, claimed) for index, table in enumerate(clusters_raw, 1)]
    return Site(path, site, clusters)


def _check_site(place, site_raw):
    if not isinstance(site_raw, dict):
        raise AnswerError("%s: [site] must be a table" % place.path)
    place.no_secrets(site_raw)
    place.known_keys(site_raw, SITE_KEYS)
    site = dict(SITE_KEYS)
    site.update(site_raw)
    site["fence_backend"] = place.value("fence_backend", site["fence_backend"], backend)
    for key, low, high in (("dns_ttl", 1, 86400), ("fence_delay", 0, 300), ("fence_timeout", int(AGENT_SECONDS), 3600),
                           ("ip_monitor_interval", 1, 3600), ("stickiness", 0, 1000000)):
        site[key] = place.value(key, site[key], integer, low, high)
    site["monitor_interval"] = place.value("monitor_interval", site["monitor_interval"],     # 0.5: the OCF front's
                                           lambda v: convert.milliseconds_step(scalar(v, (int, float, str)), 0.5, 3600))
    if 0 < site["fence_delay"] < MIN_FENCE_DELAY:
        raise place.error("%d s cannot decide a split: 0 for none, or %d..300 (the winner's BMC must power the "
                          "other node off within two thirds of it)" % (site["fence_delay"], MIN_FENCE_DELAY),
                          "fence_delay")
    short = fencing_budget_problem(site["fence_timeout"], site["fence_delay"] + site["fence_delay"] // 3)
    if short:
        raise place.error("%d is too short: with fence_delay = %d, %s" % (site["fence_timeout"], site["fence_delay"],
                                                                         short),
                          "fence_timeout")
    site["fence_lanplus"] = place.value("fence_lanplus", site["fence_lanplus"], yes_no)
    site["fence_cipher"] = str(place.value("fence_cipher", site["fence_cipher"], scalar, (str, int)))
    site["fence_username"] = place.value("fence_username", site["fence_username"], name)
    for key in ("service_config", "script", "fence_identity_file"):
        if site[key] is not None:
            site[key] = place.value(key, site[key], absolute_path)
    if site["dns_name"] is not None:
        site["dns_name"] = place.value("dns_name", site["dns_name"], host_name)
    return site


def _check_cluster(path, index, table, site, claimed):
    if not isinstance(table, dict):
        raise AnswerError("%s: cluster %d must be a table" % (path, index))
    place = Place(path, "cluster %s" % (table.get("name") if isinstance(table.get("name"), str) else index))
    place.no_secrets(table)
    place.known_keys(table, CLUSTER_KEYS)
    place.required(table, ("name", "floating_ip", "nodes"))
    cluster_name = place.value("name", table["name"], name)
    if cluster_name in claimed.clusters:
        raise place.error("the cluster name is used twice")
    claimed.clusters.add(cluster_name)
    vip = place.value("floating_ip", table["floating_ip"], address)
    claimed.address(place, "floating_ip", vip, "the floating IP of cluster %s" % cluster_name)
    prefix = place.value("prefix", table.get("prefix", 24), integer, 1,
                         32 if ipaddress.ip_address(vip).version == 4 else 128)
    interface = place.value("interface", table.get("interface", "eth0"), name)
    fencing = place.value("fence_backend", table.get("fence_backend", site["fence_backend"]), backend)
    if not isinstance(table["nodes"], list):
        raise place.error("must be a list of tables", "nodes")
    nodes = []
    for number, node_raw in enumerate(table["nodes"], 1):
        nodes.append(_check_node(place, number, node_raw, fencing, claimed, nodes))
    if len(nodes) > 2:
        raise place.error("%d nodes; the guide's clusters are pairs (1 or 2 nodes), scale out with more clusters"
                          % len(nodes))
    order = table.get("failover_order") or [n.name for n in nodes]
    if not isinstance(order, list) or not all(isinstance(item, str) for item in order):
        raise place.error("expected a list of node names", "failover_order")
    if sorted(order) != sorted(n.name for n in nodes):
        raise place.error("%s must list each node of the cluster once" % ", ".join(order), "failover_order")
    username = place.value("fence_username", table.get("fence_username", site["fence_username"]), name)
    return Cluster(cluster_name, vip, prefix, interface, nodes, list(order), fencing, username)


def _check_node(cluster_place, number, node_raw, fencing, claimed, siblings):
    label = node_raw.get("name", number) if isinstance(node_raw, dict) else number
    place = Place(cluster_place.path, "%s node %s" % (cluster_place.where,
                                                      label if isinstance(label, (str, int)) else number))
    if not isinstance(node_raw, dict):
        raise place.error("must be a table with name and address")
    place.no_secrets(node_raw)
    place.known_keys(node_raw, NODE_KEYS)
    for key in ("name", "address"):
        if not node_raw.get(key):
            raise place.error("missing %r" % key)
    node_name = place.value("name", node_raw["name"], name)
    if node_name in claimed.nodes:
        raise place.error("node name %s is used twice" % node_name)
    claimed.nodes.add(node_name)
    node_address = place.value("address", node_raw["address"], address)
    claimed.address(place, "address", node_address, "the address of node %s" % node_name)
    bmc = node_raw.get("bmc")
    if fencing == "ipmi" and not bmc:
        raise place.error("missing 'bmc' (the address of its IPMI BMC; fence_backend is ipmi)")
    if bmc:   # one BMC for two nodes: fencing one would cut the other's power
        bmc = place.value("bmc", bmc, address)
        claimed.address(place, "bmc", bmc, "the BMC of node %s" % node_name)
    nodeid = place.value("nodeid", node_raw.get("nodeid", number), integer, 1, 2 ** 31 - 1)
    if nodeid in (n.nodeid for n in siblings):
        raise place.error("%d is used twice" % nodeid, "nodeid")
    return Node(node_name, node_address, bmc, nodeid)
