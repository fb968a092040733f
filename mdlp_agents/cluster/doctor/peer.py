"""The partner's facts, over the admin's own OpenSSH: `ssh -o BatchMode=yes -T PARTNER mdlp-cluster
doctor --facts ...` (no prompt ever; the admin's keys, known_hosts and ssh_config), this run's key
for comparing fence_mdlp.conf on ssh's stdin (an argv is anybody's to read in ps).

What comes back is text from another machine: at most MAX_BYTES of it is read, and every fact is
checked against the shape facts.py gives it -- types, ranges, finite numbers, addresses that are
addresses.  A fact of another shape is marked (facts["_malformed"][key] = why) and replaced by an
empty one: the check it feeds says FAIL, the rest of the report stands."""

import json
import math
import time

from ...common.convert import host_name, ip_address
from ...common.errors import AgentError
from ...common.files import find_program
from ..stacks.runner import SshRunner, last_line

MAX_BYTES = 4 << 20


class PeerError(AgentError):
    exit_code = 2


class Bad(ValueError):
    """A fact of another shape: why."""


def peer_facts(pair, target, program, options, timeout):
    """(facts, None) from the partner over ssh, or (None, why)."""
    ssh = find_program("ssh")
    if not ssh:
        return None, "ssh is not installed here"
    remote = [program, "doctor", "--facts", "--names", ",".join(pair.names), "--partner", pair.me,
              "--timeout", "%g" % options["remote_timeout"], "--tls-port", str(options["tls_port"]),
              "--service-config", options["service_config"], "--key-stdin"]
    if options.get("me_address"):
        remote += ["--partner-address", options["me_address"]]
    runner = SshRunner(target, ssh, timeout / 2)
    try:
        proc = runner(remote, timeout, PeerError, input=options["key"] + "\n", limit=MAX_BYTES)
    except PeerError as exc:
        return None, "ssh %s: %s" % (target, exc)
    received = time.time()
    if proc.returncode == 255:
        return None, "ssh %s: %s" % (target, last_line(proc))
    try:
        facts = json.loads(proc.stdout)
    except (ValueError, RecursionError):
        return None, "%s on %s did not answer with its facts (exit %d): %s" % (
            program, target, proc.returncode, last_line(proc, stdout=True))
    if not isinstance(facts, dict):
        return None, "%s on %s answered facts of another shape (not an object): the same mdlp-agents on both " \
                     "nodes?" % (program, target)
    checked = checked_facts(facts, pair.partner)
    checked["received"] = received
    return checked, None


# -- the shape of each fact ------------------------------------------------------------------------
def text(limit=1000):
    def check(value):
        if not isinstance(value, str) or len(value) > limit:
            raise Bad("not text of at most %d characters" % limit)
        return value
    return check


def number(low, high):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or isinstance(value, float) and not math.isfinite(value) or not low <= value <= high:
            raise Bad("%r is not a number from %g to %g" % (str(value)[:40], low, high))
        return value
    return check


def integer(low, high):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Bad("%r is not a whole number from %d to %d" % (str(value)[:40], low, high))
        return value
    return check


def optional(inner):
    return lambda value: None if value is None else inner(value)


def one_of(*choices):
    def check(value):
        if value not in choices:
            raise Bad("%r is none of %s" % (str(value)[:40], ", ".join(map(str, choices))))
        return value
    return check


def address(value):
    try:
        return ip_address(text(64)(value))
    except ValueError as exc:
        raise Bad(str(exc)) from None


def items(inner, limit):
    def check(value):
        if not isinstance(value, list) or len(value) > limit:
            raise Bad("not a list of at most %d" % limit)
        return [inner(v) for v in value]
    return check


def record(fields, required=()):
    """An object with at most FIELDS (name: check), REQUIRED among them; other names are dropped."""
    def check(value):
        if not isinstance(value, dict):
            raise Bad("not an object")
        for name in required:
            if name not in value:
                raise Bad("no %s" % name)
        checked = {}
        for name, item in value.items():
            if name in fields:
                try:
                    checked[name] = fields[name](item)
                except Bad as exc:
                    raise Bad("%s: %s" % (name, exc)) from None
        return checked
    return check


def mapping(key, inner, limit):
    def check(value):
        if not isinstance(value, dict) or len(value) > limit:
            raise Bad("not an object of at most %d entries" % limit)
        return {key(k): inner(v) for k, v in value.items()}
    return check


def either(key, inner):
    """An object holding KEY (text: what went wrong; only that is kept), else one INNER accepts."""
    def check(value):
        if isinstance(value, dict) and key in value:
            return {key: LINE(value[key])}
        return inner(value)
    return check


def resolution(value):
    value = record({"result": one_of("ok", "error"), "value": lambda v: v}, ("result", "value"))(value)
    value["value"] = items(address, 64)(value["value"]) if value["result"] == "ok" else text(300)(value["value"])
    return value


def firewall_result(value):
    if not isinstance(value, list) or len(value) != 5:
        raise Bad("a firewall result is [proto, port, verdict, rule, doubts]")
    return [one_of("tcp", "udp")(value[0]), integer(1, 65535)(value[1]),
            one_of("ACCEPT", "DROP", "REJECT", "UNKNOWN")(value[2]), text(2000)(value[3]),
            items(text(2000), 20)(value[4])]


EPOCH = number(-2 ** 31, 253402300799)     # to the end of 9999: time.localtime takes it
WORD, LINE = text(200), text(2000)
HEX = text(128)
SHAPE = {
    "hostname": lambda v: host_name(text(253)(v)),
    "time": EPOCH,
    "nameservers": items(text(100), 64),
    "resolve": mapping(text(253), resolution, 16),
    "addresses": items(record({"interface": text(64), "address": address, "prefix": integer(0, 128)},
                              ("interface", "address", "prefix")), 65536),
    "files": mapping(text(64), record({"sha256": HEX, "hmac": HEX, "size": integer(0, 2 ** 50), "mtime": EPOCH,
                                       "error": LINE, "config_version": optional(WORD), "name": optional(WORD),
                                       "parse_error": LINE}), 8),
    "manager": record({"name": one_of(None, "pacemaker", "rgmanager"), "running": one_of(True, False), "why": LINE,
                       "configuration_sha256": HEX}, ("name", "running")),
    "agent": record({"program": LINE, "error": LINE,
                     "validate": record({"rc": optional(integer(-255, 255)), "line": LINE}),
                     "status": record({"rc": optional(integer(-255, 255)), "role": optional(WORD),
                                       "summary": optional(LINE), "down": items(WORD, 1024),
                                       "states": items(WORD, 16), "line": LINE})}),
    "tls": either("error", record({"subject": LINE, "not_after": optional(EPOCH)}, ("subject",))),
    "firewall": either("error", record({"tool": optional(WORD), "results": items(firewall_result, 256)},
                                       ("results",))),
    "fence": items(record({"device": optional(WORD), "agent": optional(WORD), "backend": optional(WORD),
                           "address": optional(WORD), "rc": optional(integer(-255, 255)), "answer": LINE,
                           "seconds": number(0, 86400), "error": LINE}), 64),
}
EMPTY = {"nameservers": [], "resolve": {}, "addresses": [], "files": {}, "agent": {}, "tls": {}, "firewall": {},
         "fence": [], "manager": {"name": None, "running": False, "why": "its facts were not read"}}
FILES_NEED = ("mtime",)


def checked_facts(facts, partner):
    """FACTS with each fact checked against SHAPE: a fact of another shape is EMPTY's (and marked)."""
    checked, bad = {}, {}
    for key, check in SHAPE.items():
        if key not in facts:
            bad[key] = "missing"
            continue
        try:
            checked[key] = check(facts[key])
        except (Bad, ValueError, TypeError, OverflowError, RecursionError) as exc:
            bad[key] = str(exc)[:200] or type(exc).__name__
    for name, fact in (checked.get("files") or {}).items():
        if "error" not in fact and not all(k in fact for k in FILES_NEED):
            bad.setdefault("files", "%s: no mtime" % name)
    for key in bad:
        checked[key] = EMPTY.get(key)
    if "hostname" in bad:
        checked["hostname"] = partner or "the partner"
    if bad:
        checked["_malformed"] = bad
    return checked
