"""What this node's firewall does to the partner's cluster traffic, port by port: iptables-save
evaluated (iptables.py), or firewalld's zone for the partner's source (else the cluster interface,
else the default zone) read from `firewall-cmd --list-all` and its rich rules parsed by their
grammar.  Whatever cannot be evaluated -- within the budget too -- is UNKNOWN or a doubt naming the
rule: a WARN, never OK."""

import re
import time

from ...common.errors import AgentError
from ...common.files import find_program
from ...common.text import one_line
from ..stacks.runner import LOCAL, last_line
from . import iptables

ACCEPT, DROP, UNKNOWN = iptables.ACCEPT, iptables.DROP, iptables.UNKNOWN
SERVICE = "high-availability"
# the ports firewalld's high-availability service opens (firewalld's services/high-availability.xml)
SERVICE_PORTS = {"tcp": ((2224, 2224), (3121, 3121), (5403, 5403), (21064, 21064), (9929, 9929)),
                 "udp": ((5404, 5405), (9929, 9929))}


class FirewallError(AgentError):
    exit_code = 2


def firewall(source, ports, budget, interface=None):
    """{tool, results: [[proto, port, verdict, rule, [doubts]]]} or {error}: for each (proto, port)
    of the partner's cluster traffic, what this node's firewall does to it."""
    if not source:
        return {"error": "the partner's address is not known"}
    try:
        firewall_cmd = find_program("firewall-cmd")
        if firewall_cmd and LOCAL([firewall_cmd, "--state"], budget(), FirewallError).returncode == 0:
            return firewalld(firewall_cmd, source, interface, ports, budget)
        saver = find_program("iptables-save")
        if not saver:
            return {"tool": None, "results": [], "error": "neither firewalld nor iptables here: not checked"}
        proc = LOCAL([saver], budget(), FirewallError)
    except FirewallError as exc:
        return {"error": str(exc)}
    if proc.returncode != 0:
        return {"error": "iptables-save: %s" % last_line(proc)}
    return {"tool": "iptables", "results": evaluate_all(proc.stdout, source, ports, interface, budget())}


def evaluate_all(saved, source, ports, interface=None, seconds=10.0):
    """iptables' verdict for each port, parsed once, all within SECONDS."""
    deadline = time.monotonic() + seconds
    parsed = iptables.parse(saved)
    results = []
    for proto, port in ports:
        try:
            verdict, rule, doubts = iptables.evaluate(parsed, source, proto, port, interface, deadline)
        except iptables.Exhausted:
            verdict, rule, doubts = UNKNOWN, "not evaluated within %gs (%d rules)" % (
                seconds, sum(len(rules) for rules in parsed[0].values())), []
        results.append([proto, port, verdict, one_line(rule, 300), [one_line(d, 300) for d in doubts[:10]]])
    return results


# -- firewalld ----------------------------------------------------------------------------------
def _zone(firewall_cmd, source, interface, budget):
    for query in (["--get-zone-of-source=%s" % source], ["--get-zone-of-interface=%s" % interface] if interface
                  else None, ["--get-default-zone"]):
        if query:
            proc = LOCAL([firewall_cmd] + query, budget(), FirewallError)
            if proc.returncode == 0 and proc.stdout.strip():
                zone = proc.stdout.strip().split()[0]
                return zone if re.fullmatch(r"[\w.-]+", zone) else None
    return None


def list_all(text):
    """`firewall-cmd --zone=Z --list-all` as {key: value} ("rich rules": [lines])."""
    found, rich = {}, []
    in_rich = False
    for line in text.splitlines():
        if in_rich and line.startswith(("\t", "        ")) and line.strip():
            rich.append(line.strip())
            continue
        key, sep, value = line.strip().partition(":")
        if sep:
            in_rich = key == "rich rules"
            found[key] = value.strip()
    found["rich rules"] = rich
    return found


_RICH_TOKEN = re.compile(r'\s*(?:([A-Za-z][\w-]*)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))|(\S+))')
_RICH_BLOCKS = ("source", "destination", "service", "port", "protocol", "icmp-block", "icmp-type", "masquerade",
                "forward-port", "source-port", "log", "nflog", "audit", "limit", "accept", "reject", "drop", "mark")
_RICH_ELEMENTS = ("service", "port", "protocol", "icmp-block", "icmp-type", "masquerade", "forward-port",
                  "source-port")


def rich_rule(text):
    """A rich rule's parts by its grammar (firewalld.richlanguage(5)): {"family", "source": (address,
    negated) or None, "destination", "element", "action", "values": {(block, key): value}}; None
    for a text the grammar has no place for.  A log prefix naming the service is a log prefix."""
    words, at, text = [], 0, text.strip()
    while at < len(text):
        found = _RICH_TOKEN.match(text, at)
        if not found or found.end() == at:
            return None
        key, quoted, bare, word = found.groups()
        words.append(("=", key, quoted if quoted is not None else bare) if key else (word, None, None))
        at = found.end()
    if not words or words[0][0] != "rule":
        return None
    parts = {"action": None, "element": None, "source": None, "destination": False, "values": {}}
    block, negated = None, set()
    for word, key, value in words[1:]:
        if word == "=":
            parts["values"][(block, key)] = value
        elif word == "not":
            negated.add(block)
        elif word in _RICH_BLOCKS:
            block = word
            if word in ("accept", "reject", "drop", "mark"):
                parts["action"] = word
            elif word in _RICH_ELEMENTS:
                parts["element"] = word
            elif word == "destination":
                parts["destination"] = True
        else:
            return None
    values = parts["values"]
    parts["family"] = values.get((None, "family"))
    if ("source", "address") in values:
        parts["source"] = (values[("source", "address")], "source" in negated)
    elif any(k[0] == "source" for k in values):
        parts["source"] = ("?", False)          # an ipset or a MAC: not known here
    return parts


def _rich_applies(rule, source, proto, port):
    """True, False or None (cannot tell) for a parsed rich RULE and the partner's packet."""
    if rule["family"] not in (None, "ipv4" if ":" not in source else "ipv6") or rule["destination"]:
        return None if rule["destination"] else False
    if rule["source"]:
        address, negated = rule["source"]
        hit = iptables.source_hit(address, source) if address != "?" else None
        if hit is None:
            return None
        if hit == negated:
            return False
    element, values = rule["element"], rule["values"]
    if element is None:
        return True                             # the source alone: all its traffic
    if element == "service":
        return values.get(("service", "name")) == SERVICE and _in_service(proto, port)
    if element == "port":
        spec = values.get(("port", "port"), "").replace("-", ":")
        return values.get(("port", "protocol")) == proto and bool(iptables.in_ranges(spec, port, proto))
    if element == "protocol":
        return values.get(("protocol", "value")) == proto
    return None                                 # another element: not the cluster's traffic, or not known


def _in_service(proto, port):
    return any(low <= port <= high for low, high in SERVICE_PORTS.get(proto, ()))


def _zone_verdict(zone, settings, source, proto, port):
    """(verdict, where, [doubts]) of firewalld's ZONE (--list-all SETTINGS) for one port: rich rules
    that deny first (firewalld orders deny before allow), then the zone's target, service, ports and
    protocols, then rich rules that accept."""
    doubts = []
    rules = [(text, rich_rule(text)) for text in settings.get("rich rules", [])]
    for text, rule in rules:
        if rule is None:
            doubts.append(text)
        elif rule["action"] in ("reject", "drop"):
            hit = _rich_applies(rule, source, proto, port)
            if hit:
                return DROP, "firewalld zone %s: a rich rule denies it: %s" % (zone, text), []
            if hit is None:
                doubts.append(text)
    admitted_by = None
    if settings.get("target", "default").upper() == "ACCEPT":
        admitted_by = "target ACCEPT"
    elif SERVICE in settings.get("services", "").split() and _in_service(proto, port):
        admitted_by = "service high-availability"
    elif any(_port_entry(entry, proto, port) for entry in settings.get("ports", "").split()):
        admitted_by = "port %d/%s" % (port, proto)
    elif proto in settings.get("protocols", "").split():
        admitted_by = "protocol %s" % proto
    for text, rule in rules:
        if admitted_by:
            break
        if rule is not None and rule["action"] == "accept":
            hit = _rich_applies(rule, source, proto, port)
            if hit:
                admitted_by = "a rich rule for %s" % source
            elif hit is None:
                doubts.append(text)
    if admitted_by:
        return ACCEPT, "firewalld zone %s: %s" % (zone, admitted_by), doubts
    return DROP, "firewalld zone %s: no high-availability service" % zone, doubts


def _port_entry(entry, proto, port):
    spec, _, entry_proto = entry.partition("/")
    return entry_proto == proto and bool(iptables.in_ranges(spec.replace("-", ":"), port, proto))


def firewalld(firewall_cmd, source, interface, ports, budget):
    """firewalld's answer for each port: the zone of the partner's source, else of the cluster
    interface, else the default zone."""
    zone = _zone(firewall_cmd, source, interface, budget)
    if not zone:
        return {"error": "firewalld runs, but no zone applies to %s" % source}
    proc = LOCAL([firewall_cmd, "--zone=%s" % zone, "--list-all"], budget(), FirewallError)
    if proc.returncode != 0:
        return {"error": "firewall-cmd --zone=%s --list-all: %s" % (zone, last_line(proc))}
    settings = list_all(proc.stdout)
    results = []
    for proto, port in ports:
        verdict, where, doubts = _zone_verdict(zone, settings, source, proto, port)
        results.append([proto, port, verdict, one_line(where, 300), [one_line(d, 300) for d in doubts[:10]]])
    return {"tool": "firewalld", "results": results}
