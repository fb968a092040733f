"""What an iptables-save text does to a new packet of the partner's cluster traffic on its way in
(raw and mangle PREROUTING, mangle INPUT, then filter INPUT: a DROP anywhere is final), read from a
real parse of its grammar -- never from substrings of its lines.

- A line is tokenized as iptables-save quotes it: a quoted value ("mdlp -j ACCEPT", a comment or a
  log prefix) is one value, never an option; `!` negates the option after it.
- Options are read by their arity: a target (-j) or goto (-g) and its own options end the matches.
- Matches we model: -s, -p, -i (lo never carries the partner's traffic; an interface we know),
  --dport(s) and ranges as ranges (never expanded), --state/--ctstate, -f, comments.  Anything
  else (-d, sets, marks, rates, an option we do not know, a line we cannot tokenize) makes the
  rule UNKNOWN: a rule that could change the verdict is named as a doubt, never silently passed.
- -j CHAIN returns to the rule after it; -g CHAIN does not (its RETURN ends the calling chain too);
  RETURN, the built-in chain's policy.  Each chain is walked once per packet (memoised: fan-out
  costs nothing twice), a circle is UNKNOWN, and the whole walk is bounded by a deadline.
"""

import socket
import time

ACCEPT, DROP, REJECT, UNKNOWN = "ACCEPT", "DROP", "REJECT", "UNKNOWN"
DECISIVE = {"ACCEPT": ACCEPT, "DROP": DROP, "REJECT": REJECT, "TARPIT": DROP}
# targets that only look (log, mark, count): the packet goes on to the next rule
PASSING = {"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE", "AUDIT", "SET", "CLASSIFY",
           "DSCP", "TOS", "TTL", "HL", "CHECKSUM", "TCPMSS", "CONNSECMARK", "SECMARK", "LED", "IDLETIMER",
           "SYNPROXY", "HMARK", "RATEEST", "TEE"}
NO_VALUE = {"-f", "--fragment", "--syn", "--rsource", "--rdest", "--rcheck", "--update", "--set", "--remove",
            "--log-uid", "--log-tcp-sequence", "--log-tcp-options", "--log-ip-options", "--reap", "--nodst"}
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp", "132": "sctp"}
MAX_LINE = 65536


class Exhausted(Exception):
    """The deadline came before the verdict."""


class Rule:
    __slots__ = ("chain", "matches", "target", "goto", "text", "parsed")

    def __init__(self, chain, text):
        self.chain, self.text = chain, text
        self.matches, self.target, self.goto, self.parsed = [], None, False, True


def tokens(line):
    """[(word, quoted)] of LINE as iptables-save writes it (double quotes, backslash escapes inside);
    ValueError if a quote is not closed."""
    found, i, n = [], 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        if line[i] == '"':
            word, i = [], i + 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                word.append(line[i])
                i += 1
            if i >= n:
                raise ValueError("a quote is not closed")
            found.append(("".join(word), True))
            i += 1
        else:
            start = i
            while i < n and line[i] not in " \t":
                i += 1
            found.append((line[start:i], False))
    return found


# what a packet from the partner meets before the filter table's INPUT: (table, chain) in order
EARLIER = (("raw", "PREROUTING"), ("mangle", "PREROUTING"), ("mangle", "INPUT"))
READ_TABLES = {"filter": "", "raw": "raw:", "mangle": "mangle:"}


def parse(saved, deadline=None):
    """({chain: [Rule]}, {built-in chain: policy}, [why the verdict cannot be trusted]) of SAVED:
    the filter table's chains by their names, raw's and mangle's (which see the packet first and
    may drop it) as "raw:NAME", "mangle:NAME".  iptables-save saying the rules live elsewhere (an
    nft table it cannot show, the legacy tables) is a reason.  No table at all is an empty one
    (firewall.py asks nft whether tables of its own stand in the way).  Exhausted when DEADLINE
    (monotonic) passes first."""
    chains, policies, prefix, unsure = {}, {}, None, []
    for number, raw in enumerate(saved.splitlines()):
        if deadline is not None and number % 1024 == 0 and time.monotonic() > deadline:
            raise Exhausted()
        line = raw.strip()
        if line.startswith("#") and ("incompatible" in line or line.startswith("# Warning")):
            unsure.append(line.lstrip("# "))
        if line.startswith("*"):
            prefix = READ_TABLES.get(line[1:].strip())
        elif prefix is None or not line or line.startswith("#"):
            continue
        elif line.startswith(":"):
            fields = line[1:].split()
            if fields:
                chains.setdefault(prefix + fields[0], [])
                if len(fields) > 1 and fields[1] != "-":
                    policies[prefix + fields[0]] = fields[1]
        elif line.startswith("-A ") or line.startswith("--append "):
            rule = _rule(line)
            rule.chain = prefix + rule.chain
            chains.setdefault(rule.chain, []).append(rule)
    return chains, policies, unsure


TWO_VALUES = {"--match-set", "--tcp-flags", "--set-mark", "--hashlimit-name", "--sport-set", "--dport-set"}


def _rule(line):
    """A Rule: its matches read by arity up to the target.  A rule whose matches cannot be read is
    not parsed (UNKNOWN), but keeps the target after its last -j/-g (what it would do, as a doubt)."""
    try:
        words = tokens(line[:MAX_LINE]) if len(line) <= MAX_LINE else None
    except ValueError:
        words = None
    if not words or len(words) < 2:
        rule = Rule(line.split()[1] if len(line.split()) > 1 else "?", line)
        rule.parsed = False
        return rule
    rule = Rule(words[1][0], line)
    i, negate = 2, False
    while i < len(words):
        word, quoted = words[i]
        if word == "!" and not quoted:
            negate, i = True, i + 1
            continue
        if quoted or not word.startswith("-"):
            rule.parsed = False         # a value where an option belongs: the matches are not known
            break
        if word in ("-j", "--jump", "-g", "--goto"):
            rule.target = words[i + 1][0] if i + 1 < len(words) else None
            rule.goto = word in ("-g", "--goto")
            return rule
        arity = 0 if word in NO_VALUE else 2 if word in TWO_VALUES else 1
        if arity == 1 and word not in KNOWN and _is_option(words, i + 1):
            arity = 0                   # an option we do not know, followed by an option: a flag
        values = [w for w, _ in words[i + 1:i + 1 + arity]]
        rule.matches.append((negate, word, values[0] if arity == 1 and values else (values or None)))
        i += 1 + arity
        negate = False
    rule.parsed = False
    for at in range(len(words) - 2, 1, -1):        # the target after the last unquoted -j/-g
        if words[at][0] in ("-j", "--jump", "-g", "--goto") and not words[at][1]:
            rule.target, rule.goto = words[at + 1][0], words[at][0] in ("-g", "--goto")
            break
    return rule


def _is_option(words, at):
    return at < len(words) and not words[at][1] and words[at][0].startswith("-") and \
        not words[at][0][1:2].isdigit()


# options whose one value we know (the rest: a value if one follows, else a flag)
KNOWN = {"-s", "--source", "--src", "-d", "--destination", "--dst", "-p", "--protocol", "-i", "--in-interface",
         "-o", "--out-interface", "-m", "--match", "--dport", "--destination-port", "--dports",
         "--destination-ports", "--sport", "--source-port", "--sports", "--source-ports", "--state", "--ctstate",
         "--comment", "--mark", "--limit", "--limit-burst", "--icmp-type", "--uid-owner", "--src-range",
         "--dst-range", "--dst-type", "--src-type", "--ctstatus", "--reject-with", "--log-prefix", "--log-level"}


def in_ranges(spec, port, proto):
    """Is PORT in SPEC (80, 80:90, :90, 80:, ssh, 80,443,1000:2000)?  None if a part cannot be read."""
    for part in spec.split(","):
        low, sep, high = part.partition(":")
        try:
            low_n = _port_number(low, proto) if low else 0
            high_n = (_port_number(high, proto) if high else 65535) if sep else low_n
        except ValueError:
            return None
        if low_n <= port <= high_n:
            return True
    return False


def _port_number(text, proto):
    if text and len(text) <= 19 and all("0" <= c <= "9" for c in text):
        return int(text)                # compared, never expanded: a huge end is just a bound
    try:
        return socket.getservbyname(text, proto)    # /etc/services: iptables-save prints numbers, people names
    except (OSError, UnicodeError):
        raise ValueError(text) from None


def source_hit(value, source):
    import ipaddress
    try:
        address = ipaddress.ip_address(source)
        return any(address in ipaddress.ip_network(part, strict=False) for part in value.split(","))
    except ValueError:
        return None


def _interface_hit(value, interface):
    if value == "lo":
        return False                    # the partner's traffic never comes in on lo
    if interface is None:
        return None
    return interface.startswith(value[:-1]) if value.endswith("+") else interface == value


def _match(option, value, packet):
    """True, False or None (not modelled) for one match of a rule, for PACKET."""
    source, proto, port, interface = packet
    if value is None and option not in NO_VALUE:
        return None
    if option in ("-s", "--source", "--src"):
        return source_hit(value, source)
    if option in ("-p", "--protocol"):
        name = PROTOCOLS.get(value, value.lower())
        return True if name in ("all", "0") else name == proto
    if option in ("--dport", "--destination-port", "--dports", "--destination-ports"):
        return in_ranges(value, port, proto)
    if option in ("-i", "--in-interface"):
        return _interface_hit(value, interface)
    if option in ("--state", "--ctstate"):
        return "NEW" in value.upper().split(",")
    if option in ("-f", "--fragment"):
        return False
    if option == "--syn":
        return proto == "tcp"
    if option == "--comment":
        return True
    if option in ("-m", "--match"):
        return True if value in ("tcp", "udp", "multiport", "comment", "state", "conntrack") else None
    return None


def matches(rule, packet):
    """True, False or None (UNKNOWN: a match not modelled, or a rule not parsed) for PACKET."""
    if not rule.parsed:
        return None
    unknown = False
    for negate, option, value in rule.matches:
        hit = _match(option, value, packet)
        if hit is None:
            unknown = True
        elif hit == negate:
            return False                # a known mismatch settles it, whatever else is unknown
    return None if unknown else True


class Walk:
    """One packet through one table's parsed rules: verdict, deciding rule, doubts.  PREFIX names
    the table in CHAINS' keys ("" the filter table, "raw:", "mangle:")."""

    def __init__(self, chains, policies, packet, deadline, prefix=""):
        self.chains, self.policies, self.packet, self.deadline = chains, policies, packet, deadline
        self.prefix = prefix
        self.memo, self.active, self.doubts, self.steps = {}, set(), [], 0

    def chain(self, name):
        """(verdict or None for 'fell through/RETURN', rule) of chain NAME, once per walk."""
        if name in self.memo:
            return self.memo[name]
        if name in self.active:         # a circle (iptables refuses them; a hostile text need not)
            return UNKNOWN, "a circle of chains through %s" % name
        self.active.add(name)
        try:
            result = self._walk(name)
        finally:
            self.active.discard(name)
        self.memo[name] = result
        return result

    def _walk(self, name):
        for rule in self.chains.get(self.prefix + name, []):
            self.steps += 1
            if self.steps % 256 == 0 and time.monotonic() > self.deadline:
                raise Exhausted()
            hit = matches(rule, self.packet)
            if hit is False:
                continue
            kind, value, decider = self._target(rule)
            if hit is None:             # it may or may not apply: what it would do, for evaluate()
                if kind != "pass" or not rule.parsed:
                    self.doubts.append((rule.text, value if kind == "verdict" else kind.upper()))
                continue
            if kind == "verdict":
                return value, decider
            if kind == "return":
                return None, rule.text
        return None, None

    def _target(self, rule):
        """What a matching RULE does, and the rule that decides: ("verdict", V, rule),
        ("return", None, None) or ("pass", None, None)."""
        target = rule.target
        if target in DECISIVE:
            return "verdict", DECISIVE[target], rule.text
        if target == "RETURN":
            return "return", None, None
        if target is not None and self.prefix + target in self.chains:
            verdict, decider = self.chain(target)
            if verdict is not None:
                return "verdict", verdict, decider
            return ("return", None, None) if rule.goto else ("pass", None, None)
        if target is None or target in PASSING:
            return "pass", None, None
        return "verdict", UNKNOWN, rule.text     # QUEUE, NFQUEUE, a target we do not know


def evaluate(parsed, source, proto, port, interface=None, deadline=None):
    """(verdict ACCEPT|DROP|REJECT|UNKNOWN, the deciding rule or policy, [rules passed over whose
    matches we could not evaluate and that could have decided otherwise]) for a new PROTO packet
    from SOURCE to PORT coming in on INTERFACE (None: not known).  PARSED: parse()'s result.
    Exhausted when DEADLINE (monotonic) passes first."""
    chains, policies, unsure = parsed
    if unsure:
        return UNKNOWN, "; ".join(unsure), []
    packet, deadline = (source, proto, port, interface), deadline or float("inf")
    early_doubts = []
    try:
        for table, name in EARLIER:     # raw and mangle first: a DROP there is final, ACCEPT goes on
            prefix = READ_TABLES[table]
            if prefix + name not in chains and prefix + name not in policies:
                continue
            walk = Walk(chains, policies, packet, deadline, prefix)
            verdict, rule = walk.chain(name)
            if verdict is None:
                verdict, rule = policies.get(prefix + name, ACCEPT), "policy of %s in %s" % (name, table)
            early_doubts += [text for text, would in walk.doubts if would not in (ACCEPT, "PASS")]
            if verdict != ACCEPT:
                return (verdict if verdict in (DROP, REJECT) else UNKNOWN), rule, []
        walk = Walk(chains, policies, packet, deadline)
        verdict, rule = walk.chain("INPUT")
    except RecursionError:
        return UNKNOWN, "chains nested deeper than can be followed", []
    if verdict is None:
        verdict, rule = policies.get("INPUT", ACCEPT), "policy of INPUT"
    if verdict not in (ACCEPT, DROP, REJECT, UNKNOWN):
        verdict = UNKNOWN
    blocked = verdict in (DROP, REJECT)
    doubts = [text for text, would in walk.doubts if would != verdict and not (blocked and would in (DROP, REJECT))]
    return verdict, rule, (early_doubts if not blocked else []) + doubts
