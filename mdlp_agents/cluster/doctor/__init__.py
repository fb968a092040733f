"""mdlp-cluster doctor: the guide's checklist, checked on a node and its partner before the first
real failure does it -- one line per check, OK / WARN / FAIL / SKIPPED, what was seen, and the fix.

The partner's facts come over the admin's own OpenSSH (peer.py), from `mdlp-cluster doctor --facts`
there (facts.py), gathered in parallel with this node's; checks.py judges them.  A check that
could not be made is SKIPPED with the reason, never OK; exit 0 when nothing FAILs, 1 otherwise
(2: bad input, as mdlp-cluster's other commands)."""

import json
import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from ...common.paths import MDLP_RHCS_CONF
from . import detection
from . import facts as node_facts
from .checks import (
    FAIL,
    OK,
    SKIPPED,
    WARN,
    Check,
    check_fencing,
    check_names,
    check_service,
    check_settings,
    check_split,
    check_time,
    check_traffic,
    check_unread,
)
from .pair import pair_from
from .peer import peer_facts


def run(site=None, peer=None, timeout=10.0, tls_port=443, service_config=None, program=None):
    """The checks, in order: names, traffic, time, service, settings, fencing; and the seconds taken."""
    started = time.time()
    hostname = os.uname().nodename
    pair = pair_from(site, peer, hostname)
    service_config = service_config or getattr(site, "service_config", None) or MDLP_RHCS_CONF
    # the partner's facts must be complete before ssh's deadline: they get 70% of it less a second
    # for ssh itself; this node's facts the same
    facts_total = max(1.0, timeout * 0.7 - 1)
    key = secrets.token_hex(16)
    target = peer if peer and not site else (pair.expected.get(pair.partner) or pair.partner)
    options = {"remote_timeout": facts_total, "tls_port": tls_port, "service_config": service_config, "key": key,
               "me_address": pair.expected.get(pair.me)}
    program = program or os.path.abspath(sys.argv[0])
    checks = []
    if pair.problem:
        checks.append(Check("peer" if pair.expected or not site else "names", FAIL, pair.problem,
                            "name the partner with --peer (a node of the same cluster)"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs_job = pool.submit(peer_facts, pair, target, program, options, timeout) if pair.partner else None
        partner_address = pair.expected.get(pair.partner) if pair.partner else None
        if pair.partner and not partner_address:
            partner_address = node_facts.address_of(pair.partner, min(4.0, facts_total / 2))
        mine = node_facts.collect(pair.names, pair.partner, partner_address, node_facts.cluster_ports(), tls_port,
                                  service_config, key, total=facts_total, step=min(4.0, facts_total / 2))
        theirs, peer_error = theirs_job.result() if theirs_job else (None, "no partner")
    check_names(pair, mine, theirs, checks)
    check_traffic(pair, mine, theirs, peer_error, target, checks)
    if pair.partner:
        check_time(mine, theirs, checks)
    check_service(mine, theirs, checks, started)
    if pair.partner:
        check_settings(mine, theirs, checks)
    check_fencing(mine, theirs, checks)
    check_split(mine, checks)
    detection.check(mine, checks)
    check_unread(theirs, checks)
    return checks, time.time() - started


def report(checks, elapsed, as_json=False):
    """(the report's text, exit code): 0 when nothing FAILed."""
    failed = sum(1 for c in checks if c.status == FAIL)
    counts = {s: sum(1 for c in checks if c.status == s) for s in (OK, WARN, FAIL, SKIPPED)}
    if as_json:
        text = json.dumps({"checks": [c.as_dict() for c in checks], "counts": counts,
                           "seconds": round(elapsed, 2)}, sort_keys=True)
    else:
        text = "\n".join([check.line() for check in checks] + [
            "%d OK, %d WARN, %d FAIL, %d SKIPPED in %.1f s" % (counts[OK], counts[WARN], counts[FAIL],
                                                               counts[SKIPPED], elapsed)])
    return text, 1 if failed else 0
