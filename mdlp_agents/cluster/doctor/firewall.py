"""What this node's firewall does to the partner's cluster traffic: iptables-save evaluated for
each port, or firewalld's zone for the partner's source or the cluster interface."""

import re

from ...common.errors import AgentError
from ...common.files import find_program
from ..stacks.runner import LOCAL, last_line


class FactError(AgentError):
    exit_code = 2


def _ports(spec):
    ports = set()
    for part in spec.split(","):
        if ":" in part:
            low, high = part.split(":", 1)
            ports.update(range(int(low), int(high) + 1))
        elif part:
            ports.add(int(part))
    return ports


UNKNOWN = None


def _matches(words, source, proto, port):
    """True, False, or UNKNOWN (a match we do not model: -d, -m set, marks...) for one rule's words."""
    i = 2
    unknown = False
    while i < len(words):
        negate = words[i] == "!"
        if negate:
            i += 1
        word = words[i] if i < len(words) else ""
        value = words[i + 1] if i + 1 < len(words) else ""
        if word in ("-j", "-g"):
            break
        if word in ("-s", "--source"):
            import ipaddress
            try:
                hit = ipaddress.ip_address(source) in ipaddress.ip_network(value, strict=False)
            except ValueError:
                hit = UNKNOWN
        elif word in ("-p", "--protocol"):
            hit = value in (proto, "all")
        elif word in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            hit = port in _ports(value)
        elif word in ("-i", "--in-interface"):
            hit = False if value == "lo" else UNKNOWN    # the partner's traffic never comes in on lo
        elif word == "-m":
            i += 2
            continue
        elif word in ("--state", "--ctstate"):
            hit = "NEW" in value.split(",")
        elif word == "--comment":
            hit = True
        else:
            hit = UNKNOWN
        if hit is UNKNOWN:
            unknown = True
        elif hit == negate:
            return False
        i += 2
    return UNKNOWN if unknown else True


def evaluate(saved, source, proto, port):
    """What an iptables-save text does to a new PROTO packet from SOURCE to PORT in INPUT:
    (verdict ACCEPT|DROP|REJECT, the deciding rule or policy, [rules passed over that might
    have decided otherwise: they match on what we do not model])."""
    import shlex
    chains, policies = {}, {}
    table = None
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif table == "filter" and line.startswith(":"):
            name, policy = line[1:].split()[:2]
            chains.setdefault(name, [])
            policies[name] = policy
        elif table == "filter" and line.startswith("-A "):
            try:
                words = shlex.split(line)       # comments come quoted: --comment "mdlp cluster"
            except ValueError:
                words = line.split()
            chains.setdefault(words[1], []).append((line, words))
    doubts = []

    def walk(chain, depth):
        for line, words in chains.get(chain, []):
            hit = _matches(words, source, proto, port)
            target = words[words.index("-j") + 1] if "-j" in words[:-1] else None
            if hit is UNKNOWN:
                if target in ("ACCEPT", "DROP", "REJECT") or target in chains:
                    doubts.append(line)
                continue
            if not hit:
                continue
            if target in ("ACCEPT", "DROP", "REJECT"):
                return target, line
            if target == "RETURN":
                return "RETURN", line
            if target in chains and depth < 8:
                found = walk(target, depth + 1)
                if found and found[0] != "RETURN":
                    return found
        return None

    found = walk("INPUT", 0)
    verdict, rule = found if found and found[0] != "RETURN" else (policies.get("INPUT", "ACCEPT"), "policy of INPUT")
    return verdict, rule, doubts


def _firewalld(firewall_cmd, source, interface, ports, budget):
    """firewalld's answer: the high-availability service in the zone of the cluster interface (or the
    source's zone), or a rich rule admitting SOURCE to it."""
    zone = None
    for query in (["--get-zone-of-source=%s" % source], ["--get-zone-of-interface=%s" % interface] if interface
                  else None, ["--get-default-zone"]):
        if query:
            proc = LOCAL([firewall_cmd] + query, budget(), FactError)
            if proc.returncode == 0 and proc.stdout.strip():
                zone = proc.stdout.strip().split()[0]
                break
    if not zone or not re.fullmatch(r"[\w.-]+", zone):
        return {"error": "firewalld runs, but no zone applies to %s" % source}
    service = LOCAL([firewall_cmd, "--zone=%s" % zone, "--query-service=high-availability"], budget(),
                          FactError).returncode == 0
    rich = LOCAL([firewall_cmd, "--zone=%s" % zone, "--list-rich-rules"], budget(), FactError).stdout
    admitted = service or any('source address="%s"' % source in r and "high-availability" in r and r.endswith("accept")
                              for r in rich.splitlines())
    where = "firewalld zone %s: %s" % (zone, "service high-availability" if service else
                                       "a rich rule for %s" % source if admitted else "no high-availability service")
    return {"tool": "firewalld", "results": [[p, n, "ACCEPT" if admitted else "DROP", where, []] for p, n in ports]}


def firewall(source, ports, budget, interface=None):
    """For each (proto, port) the partner's cluster traffic uses: what this node's firewall does to it."""
    if not source:
        return {"error": "the partner's address is not known"}
    try:
        firewall_cmd = find_program("firewall-cmd")
        if firewall_cmd and LOCAL([firewall_cmd, "--state"], budget(), FactError).returncode == 0:
            return _firewalld(firewall_cmd, source, interface, ports, budget)
        saver = find_program("iptables-save")
        if not saver:
            return {"tool": None, "results": [], "error": "neither firewalld nor iptables here: not checked"}
        proc = LOCAL([saver], budget(), FactError)
    except FactError as exc:
        return {"error": str(exc)}
    if proc.returncode != 0:
        return {"error": "iptables-save: %s" % last_line(proc)}
    return {"tool": "iptables", "results": [[p, n] + list(evaluate(proc.stdout, source, p, n)) for p, n in ports]}
