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
    if ":" in source:
        return {"error": "the partner's address %s is IPv6: ip6tables and firewalld's IPv6 rules are not "
                         "checked" % source}
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
    saved = _native_nftables(proc.stdout, budget) + proc.stdout
    return {"tool": "iptables", "results": evaluate_all(saved, source, ports, interface, budget())}


_TABLE = re.compile(r"^table\s+(\S+)\s+(\S+)\s*\{")


def _native_nftables(saved, budget):
    """nftables tables that iptables-save does not show, with a chain on a hook the partner's packets
    pass before they are delivered (ingress, prerouting, input), may drop them whatever the tables
    we read say: a warning line for parse(), so the verdict is a doubt.  iptables-nft's own tables
    (family ip, each shown as *NAME when iptables-save is nft's) are read, not doubted; ip6 tables
    do not see IPv4.  No nft program: no such tables can have been written by hand here."""
    nft = find_program("nft")
    if not nft:
        return ""
    try:
        proc = LOCAL([nft, "list", "ruleset"], budget(), FirewallError)
    except FirewallError as exc:
        return "# Warning: nftables not read (%s): rules iptables-save cannot show may filter input\n" % exc
    if proc.returncode != 0:
        return "# Warning: nft list ruleset: %s: rules iptables-save cannot show may filter input\n" % last_line(proc)
    shown = set()
    if "(nf_tables)" in saved:          # else the tables iptables-save showed are not nft's
        shown = {line[1:].strip() for line in saved.splitlines() if line.startswith("*")}
    table = None
    for line in proc.stdout.splitlines():
        found = _TABLE.match(line.strip())
        if found:
            table = found.groups()
        elif table is not None and _HOOK.search(line) and table[0] != "ip6" and not (
                table[0] == "ip" and table[1] in shown):
            return ("# Warning: nftables table %s %s hooks %s: incompatible with iptables-save, not evaluated\n"
                    % (one_line(table[0]), one_line(table[1]), _HOOK.search(line).group(1)))
    return ""


_HOOK = re.compile(r"\bhook\s+(ingress|prerouting|input)\b")


def evaluate_all(saved, source, ports, interface=None, seconds=10.0):
    """iptables' verdict for each port, parsed once, parsing and walking all within SECONDS."""
    deadline = time.monotonic() + seconds
    try:
        parsed = iptables.parse(saved, deadline)
    except iptables.Exhausted:
        return [[proto, port, UNKNOWN, "not read within %gs (%d lines)" % (seconds, saved.count("\n")), []]
                for proto, port in ports]
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
    """The zone that judges the partner's packets, as firewalld picks it: a zone holding its source
    (the address, or a network containing it), else the zone of the cluster interface, else the
    default zone."""
    proc = LOCAL([firewall_cmd, "--get-zone-of-source=%s" % source], budget(), FirewallError)
    if proc.returncode == 0 and proc.stdout.strip():
        return _zone_name(proc.stdout)
    proc = LOCAL([firewall_cmd, "--get-active-zones"], budget(), FirewallError)
    if proc.returncode == 0:
        holding = _zones_holding(proc.stdout, source)
        if holding:
            return holding
    for query in (["--get-zone-of-interface=%s" % interface] if interface else None, ["--get-default-zone"]):
        if query:
            proc = LOCAL([firewall_cmd] + query, budget(), FirewallError)
            if proc.returncode == 0 and proc.stdout.strip():
                return _zone_name(proc.stdout)
    return None


def _zone_name(text):
    zone = text.strip().split()[0]
    return zone if re.fullmatch(r"[\w.-]+", zone) else None


def _zones_holding(active, source):
    """The active zone whose sources hold SOURCE (the longest network wins), from --get-active-zones."""
    import ipaddress
    best, zone = None, None
    for line in active.splitlines():
        if line and not line[0].isspace():
            zone = _zone_name(line)
        elif zone and line.strip().startswith("sources:"):
            for entry in line.split(":", 1)[1].split():
                try:
                    network = ipaddress.ip_network(entry, strict=False)
                    if ipaddress.ip_address(source) in network and (best is None or network.prefixlen > best[0]):
                        best = (network.prefixlen, zone)
                except ValueError:
                    continue
    return best[1] if best else None


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
        hit = True                              # the source alone: all its traffic
    elif element == "service":
        name = values.get(("service", "name"))
        hit = _in_service(proto, port) if name == SERVICE else None   # another service: its ports unknown here
    elif element == "port":
        spec = values.get(("port", "port"), "").replace("-", ":")
        hit = values.get(("port", "protocol")) == proto and bool(iptables.in_ranges(spec, port, proto))
    elif element == "protocol":
        hit = values.get(("protocol", "value")) == proto
    else:
        hit = None                              # another element: not known here
    if hit and any(block == "limit" for block, _ in values):
        return None                             # rate limited: it applies to some packets only
    return hit


def _in_service(proto, port):
    return any(low <= port <= high for low, high in SERVICE_PORTS.get(proto, ()))


def _zone_verdict(zone, settings, source, proto, port):
    """(verdict, where, [doubts]) of firewalld's ZONE (--list-all SETTINGS) for one port, in firewalld's
    order: rich rules of negative priority; of priority 0 those that deny, then the zone's own target,
    service, ports and protocols with the rich rules that accept; rich rules of positive priority --
    the first that applies decides; else the zone rejects."""
    doubts, rules = [], []
    for text in settings.get("rich rules", []):
        rule = rich_rule(text)
        try:
            priority = int(rule["values"].get((None, "priority"), "0")) if rule else None
        except ValueError:
            priority = None
        if priority is None:
            doubts.append(text)
        elif rule["action"] in ("accept", "reject", "drop"):     # log, audit, mark decide nothing
            rules.append((priority, rule["action"] == "accept", text, rule))
    rules.sort(key=lambda item: item[:2])
    stages = [[r for r in rules if r[0] < 0], [r for r in rules if r[0] == 0 and not r[1]], "zone",
              [r for r in rules if r[0] == 0 and r[1]], [r for r in rules if r[0] > 0]]
    for stage in stages:
        if stage == "zone":
            admitted_by = _zone_admits(settings, proto, port)
            if admitted_by:
                return ACCEPT, "firewalld zone %s: %s" % (zone, admitted_by), doubts
            continue
        for _, allow, text, rule in stage:
            hit = _rich_applies(rule, source, proto, port)
            if hit is None:
                doubts.append(text)
            elif hit:
                return (ACCEPT, "firewalld zone %s: a rich rule for %s" % (zone, source), doubts) if allow else \
                    (DROP, "firewalld zone %s: a rich rule denies it: %s" % (zone, text), doubts)
    return DROP, "firewalld zone %s: no high-availability service" % zone, doubts


def _zone_admits(settings, proto, port):
    """What in the zone itself admits the port (target ACCEPT, the service, a port, a protocol), or None."""
    if settings.get("target", "default").upper() == "ACCEPT":
        return "target ACCEPT"
    if SERVICE in settings.get("services", "").split() and _in_service(proto, port):
        return "service high-availability"
    if any(_port_entry(entry, proto, port) for entry in settings.get("ports", "").split()):
        return "port %d/%s" % (port, proto)
    if proto in settings.get("protocols", "").split():
        return "protocol %s" % proto
    return None


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
