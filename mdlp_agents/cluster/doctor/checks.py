"""doctor's checks: pure functions of the two nodes' facts (facts.py: gathered here, or on the
partner and sent over ssh) and the pair (pair.py), each adding Check lines -- OK, WARN, FAIL or
SKIPPED, what was seen, and the fix.  Nothing here runs a command or reads a file."""

import ipaddress
import re
import time

from ...common.text import one_line
from ..stacks.cib import fencing_budget_problem

OK, WARN, FAIL, SKIPPED = "OK", "WARN", "FAIL", "SKIPPED"
SKEW_WARN, SKEW_FAIL = 1.0, 5.0
CERT_WARN_DAYS = 30


def malformed(checks, name, facts, key):
    """Did the partner send facts of another shape for KEY (peer.py found them so)?  Then the check
    NAME it feeds is one FAIL line saying so -- the rest of the report stands."""
    why = (facts or {}).get("_malformed", {}).get(key)
    if why:
        checks.append(Check(name, FAIL, "on %s: the facts it sent for %s are not what mdlp-cluster sends (%s)"
                            % (facts.get("hostname"), key, why), "the same mdlp-agents on both nodes"))
        facts.setdefault("_reported", set()).add(key)
    return bool(why)


def check_unread(theirs, checks):
    """A malformed fact that no check took (it feeds none of them): a FAIL of the peer's own."""
    for key in sorted(set((theirs or {}).get("_malformed", {})) - (theirs or {}).get("_reported", set())):
        malformed(checks, "peer", theirs, key)


class Check:
    def __init__(self, name, status, seen, fix=None):
        self.name, self.status, self.seen, self.fix = name, status, seen, fix

    def line(self):
        """One line, whatever the partner's facts held (its hostname and answers are text from outside)."""
        return one_line("%-7s %-16s %s%s" % (self.status, self.name, self.seen,
                                             " -- fix: %s" % self.fix if self.fix else ""))

    def as_dict(self):
        return {"check": self.name, "status": self.status, "seen": self.seen, "fix": self.fix}


def check_names(pair, mine, theirs, checks):
    malformed(checks, "names", theirs, "hostname")
    me, partner = mine["hostname"], (theirs or {}).get("hostname")
    if me in ("localhost", "localhost.localdomain") or not me:
        checks.append(Check("names", FAIL, "this node's hostname is %r" % me, "set a unique hostname (hostnamectl)"))
    elif theirs is not None and me.split(".")[0] == partner.split(".")[0]:
        checks.append(Check("names", FAIL, "both nodes are called %s" % me, "give each node its own hostname"))
    else:
        checks.append(Check("names", OK, "hostnames %s" % " and ".join(n for n in (me, partner) if n) +
                            (" (unique)" if partner else "")))
    for facts in [f for f in (mine, theirs) if f is not None and not malformed(checks, "names", f, "resolve")]:
        where = facts["hostname"]
        wrong = []
        for name in pair.names:
            got = facts.get("resolve", {}).get(name, {})
            if got.get("result") != "ok":
                wrong.append("%s does not resolve (%s)" % (name, got.get("value", "not asked")))
                continue
            addresses = got["value"]
            expected = pair.expected.get(name)
            loopback = [a for a in addresses if ipaddress.ip_address(a).is_loopback]
            if expected and expected not in addresses:
                wrong.append("%s resolves to %s, not %s" % (name, ", ".join(addresses), expected))
            elif loopback:
                wrong.append("%s resolves to %s (loopback: cluster traffic would stay on that node)"
                             % (name, ", ".join(addresses)))
        if wrong:
            checks.append(Check("names", FAIL, "on %s: %s" % (where, "; ".join(wrong)),
                                "correct /etc/hosts (or DNS) on %s: `mdlp-cluster render hosts ANSWERS`" % where))
        else:
            checks.append(Check("names", OK, "on %s: %s" % (where, ", ".join(
                "%s -> %s" % (n, ", ".join(facts["resolve"][n]["value"])) for n in pair.names))))
    if theirs is not None and not malformed(checks, "names", theirs, "nameservers"):
        if sorted(mine.get("nameservers", [])) != sorted(theirs.get("nameservers", [])):
            checks.append(Check("names", WARN, "the nodes ask different DNS servers (%s: %s; %s: %s)" % (
                mine["hostname"], ", ".join(mine.get("nameservers") or ["none"]), theirs["hostname"],
                ", ".join(theirs.get("nameservers") or ["none"])), "use the same resolv.conf on both nodes"))
    _check_subnet(pair, mine, theirs, checks)


def _address_of(pair, name, facts):
    if pair.expected.get(name):
        return pair.expected[name]
    got = (facts or {}).get("resolve", {}).get(name, {})
    return got["value"][0] if got.get("result") == "ok" and got["value"] else None


def _check_subnet(pair, mine, theirs, checks):
    if not pair.partner:
        return
    a, b = _address_of(pair, pair.me, mine), _address_of(pair, pair.partner, mine)
    if not (a and b):
        checks.append(Check("subnet", SKIPPED, "the nodes' addresses are not known"))
        return
    prefix = pair.prefix
    held = next((x for x in mine.get("addresses", []) if x["address"] == a), None)
    if held is None:
        checks.append(Check("subnet", FAIL, "%s is not an address of this node (%s)" % (a, pair.me),
                            "configure %s on this node's cluster interface, or correct the answer file" % a))
        return
    prefix = held["prefix"]
    if ipaddress.ip_address(b) in ipaddress.ip_network("%s/%d" % (a, prefix), strict=False):
        checks.append(Check("subnet", OK, "%s and %s share %s" % (
            a, b, ipaddress.ip_network("%s/%d" % (a, prefix), strict=False))))
    else:
        checks.append(Check("subnet", FAIL, "%s/%d and %s are not on one subnet" % (a, prefix, b),
                            "put both nodes' cluster interfaces on one subnet (the guide's requirement)"))


def check_traffic(pair, mine, theirs, peer_error, target, checks):
    if pair.partner and not pair.problem:
        if theirs is not None:
            checks.append(Check("peer", OK, "%s answers on %s (ssh)" % (pair.partner, target)))
        else:
            checks.append(Check("peer", FAIL, peer_error, "check that %s is up, sshd runs and root's key is "
                                "authorised there (ssh -o BatchMode=yes %s true)" % (pair.partner, target)))
    for facts, other in ((mine, pair.partner), (theirs, pair.me)):
        if facts is None or malformed(checks, "firewall", facts, "firewall"):
            continue
        checks.append(_firewall_line(facts["hostname"], facts.get("firewall") or {}, other))


def _firewall_line(where, wall, other):
    """One firewall check: FAIL when the partner's traffic is blocked for sure, WARN when a rule we
    could not evaluate might change that, or the verdict itself is unknown -- OK only when known."""
    if wall.get("error") and not wall.get("results"):
        return Check("firewall", SKIPPED, "on %s: %s" % (where, wall["error"]))
    results = wall.get("results", [])
    if not results:
        return Check("firewall", SKIPPED, "on %s: no port was evaluated" % where)
    ports = ", ".join(sorted({"%s/%d" % (r[0], r[1]) for r in results}))
    unknown = ["%s/%d (%s)" % (p, n, rule) for p, n, verdict, rule, _ in results if verdict == "UNKNOWN"]
    blocked = [(p, n, verdict, rule, doubts) for p, n, verdict, rule, doubts in results
               if verdict in ("DROP", "REJECT")]
    doubts = sorted({d for *_, found in results for d in found})
    if blocked and not any(found for *_, found in blocked):
        return Check("firewall", FAIL, "on %s, cluster traffic from %s is blocked: %s" % (
            where, other, "; ".join("%s/%d (%s: %s)" % b[:4] for b in blocked)),
            "admit it on %s: `mdlp-cluster render firewall ANSWERS`" % where)
    if blocked or unknown or doubts:
        said = []
        if blocked:
            said.append("blocks %s" % "; ".join("%s/%d (%s: %s)" % b[:4] for b in blocked))
        if unknown:
            said.append("cannot be evaluated for %s" % "; ".join(unknown))
        return Check("firewall", WARN, "on %s, %s %s for cluster traffic from %s -- unless one of these rules, "
                     "whose matches were not evaluated, decides: %s" % (
                         where, wall.get("tool"), " and ".join(said) or "admits it (%s)" % ports, other,
                         "; ".join(doubts) or "none"), "check those rules on %s by hand" % where)
    return Check("firewall", OK, "on %s, %s admits cluster traffic from %s (%s)" % (where, wall.get("tool"), other,
                                                                                   ports))


def check_time(mine, theirs, checks):
    if theirs is None:
        checks.append(Check("time", SKIPPED, "the partner's clock was not read (no answer)"))
        return
    if malformed(checks, "time", theirs, "time"):
        return
    skew = theirs["time"] - theirs["received"]
    text = "%s is %+.1f s from %s" % (theirs["hostname"], skew, mine["hostname"])
    if not abs(skew) <= SKEW_FAIL:      # NaN compares false: never OK
        checks.append(Check("time", FAIL, text + " (more than %g s)" % SKEW_FAIL, "run chronyd/ntpd on both nodes "
                            "against the same servers"))
    elif abs(skew) > SKEW_WARN:
        checks.append(Check("time", WARN, text + " (more than %g s)" % SKEW_WARN, "check NTP on both nodes"))
    else:
        checks.append(Check("time", OK, text))


def check_service(mine, theirs, checks, now):
    for facts in [f for f in (mine, theirs) if f is not None and not malformed(checks, "status", f, "agent")]:
        where = facts["hostname"]
        agent = facts.get("agent") or {}
        if agent.get("error"):
            checks.append(Check("service", FAIL, "on %s: %s" % (where, agent["error"])))
            continue
        validate = agent.get("validate", {})
        if validate.get("rc") == 0:
            checks.append(Check("validate-all", OK, "on %s: mdlp_rhcs validate-all passes" % where))
        else:
            checks.append(Check("validate-all", FAIL, "on %s: mdlp_rhcs validate-all exit %s: %s" % (
                where, validate.get("rc"), validate.get("line") or "no reason given"),
                "install what it names / correct mdlp_rhcs.conf on %s" % where))
        status = agent.get("status", {})
        role, down = status.get("role"), status.get("down") or []
        if status.get("rc") == 0:
            checks.append(Check("status", OK, "on %s: %s (role %s)" % (where, status.get("summary"), role)))
        elif role == "passive" and (status.get("rc") == 3 or status.get("rc") == 1 and set(
                status.get("states") or ["?"]) <= {"STOPPED", "STALE"}):
            # none running (a stop that left its pid files is LSB's 1): not hung, not half up
            checks.append(Check("status", OK, "on %s: services not running, role passive: the cluster starts them "
                                "here on failover" % where))
        else:
            checks.append(Check("status", FAIL, "on %s: mdlp_rhcs status exit %s: %s%s" % (
                where, status.get("rc"), status.get("summary") or status.get("line"),
                " (down: %s)" % ", ".join(down) if down else ""), "mdlp_rhcs status -v on %s" % where))
    certs = [(f["hostname"], f.get("tls") or {}) for f in (mine, theirs)
             if f is not None and not malformed(checks, "certificate", f, "tls")]
    for where, cert in certs:
        if cert.get("error"):
            checks.append(Check("certificate", FAIL, "on %s: %s" % (where, cert["error"]),
                                "httpd must serve the mobile agent's certificate on port 443"))
            continue
        if cert.get("not_after") is not None:
            days = (cert["not_after"] - now) / 86400.0
            if days < 0:
                checks.append(Check("certificate", FAIL, "on %s: %s EXPIRED %d days ago" % (
                    where, cert["subject"], -days), "renew it on both nodes (the guide's step 3f)"))
            elif days < CERT_WARN_DAYS:
                checks.append(Check("certificate", WARN, "on %s: %s expires in %d days" % (
                    where, cert["subject"], days), "renew it on both nodes (the guide's step 3f)"))
    subjects = {cert.get("subject") for _, cert in certs if not cert.get("error")}
    if len(certs) == 2 and len(subjects) == 2:
        checks.append(Check("certificate", FAIL, "different Subjects: %s" % "; ".join(
            "%s: %s" % (w, c.get("subject")) for w, c in certs),
            "install the same certificate on both nodes (the guide's step 3f)"))
    elif len(certs) == 2 and len(subjects) == 1 and all(not c.get("error") for _, c in certs):
        ends = [c["not_after"] for _, c in certs if c.get("not_after")]
        checks.append(Check("certificate", OK, "the same Subject on both nodes: %s%s" % (
            subjects.pop(), ", valid until %s" % time.strftime("%Y-%m-%d", time.localtime(min(ends))) if ends else "")))


def check_settings(mine, theirs, checks):
    if theirs is None:
        checks.append(Check("settings", SKIPPED, "the partner's files were not read (no answer)"))
        return
    a, b = mine["hostname"], theirs["hostname"]
    files_ok = not malformed(checks, "settings", theirs, "files")
    for name in ("mdlp_rhcs.conf", "fence_mdlp.conf") if files_ok else ():
        x, y = mine["files"].get(name) or {"error": "not read"}, theirs["files"].get(name) or {"error": "not read"}
        digest = "hmac" if name == "fence_mdlp.conf" else "sha256"
        if x.get("error") == "absent" and y.get("error") == "absent":
            checks.append(Check("settings", SKIPPED if name == "fence_mdlp.conf" else FAIL,
                                "%s: on neither node" % name))
        elif x.get("error") or y.get("error"):
            checks.append(Check("settings", FAIL, "%s: %s" % (name, "; ".join(
                "%s: %s" % (w, f["error"]) for w, f in ((a, x), (b, y)) if f.get("error"))),
                "copy it from the node that has it (scp -p)"))
        elif not (x.get(digest) and y.get(digest)):
            checks.append(Check("settings", SKIPPED, "%s: not compared (no digest from %s)" % (
                name, " and ".join(w for w, f in ((a, x), (b, y)) if not f.get(digest)))))
        elif x[digest] != y[digest]:
            checks.append(Check("settings", FAIL, "%s differs between the nodes (%s: changed %s; %s: changed %s)" % (
                name, a, _when(x["mtime"]), b, _when(y["mtime"])),
                "make them identical (copy the right one with scp -p)"))
        else:
            checks.append(Check("settings", OK, "%s identical on both nodes" % name))
    manager = mine.get("manager") or {}
    if malformed(checks, "cluster config", theirs, "manager"):
        return
    if not manager.get("running") or not (theirs.get("manager") or {}).get("running"):
        why = manager.get("why") if not manager.get("running") else (theirs.get("manager") or {}).get("why")
        checks.append(Check("cluster config", SKIPPED, why or "the cluster manager is not running"))
    elif manager["name"] == "pacemaker":
        if manager["configuration_sha256"] == theirs["manager"].get("configuration_sha256"):
            checks.append(Check("cluster config", OK, "the same Pacemaker CIB configuration on both nodes"))
        else:
            checks.append(Check("cluster config", FAIL, "the nodes hold different CIB configurations: are they one "
                                "cluster? (crm_mon on each)", "check corosync membership; `pcs cluster sync`"))
    elif not files_ok:
        return
    else:
        x, y = mine["files"].get("cluster.conf") or {}, theirs["files"].get("cluster.conf") or {"error": "not read"}
        if x.get("error") or y.get("error"):
            checks.append(Check("cluster config", FAIL, "cluster.conf: %s" % (x.get("error") or y.get("error"))))
        elif x.get("sha256") and x.get("sha256") == y.get("sha256"):
            checks.append(Check("cluster config", OK, "cluster.conf identical on both nodes (config_version %s)"
                                % x.get("config_version")))
        else:
            checks.append(Check("cluster config", FAIL, "cluster.conf differs (config_version %s on %s, %s on %s)" % (
                x.get("config_version"), a, y.get("config_version"), b),
                "raise config_version and push it: `cman_tool version -r`"))


def _when(epoch):
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def check_fencing(mine, theirs, checks):
    for facts in [f for f in (mine, theirs) if f is not None and not malformed(checks, "fencing", f, "manager")
                  and not malformed(checks, "fencing", f, "fence")]:
        where = facts["hostname"]
        if not (facts.get("manager") or {}).get("running"):
            checks.append(Check("fencing", SKIPPED, "from %s: %s" % (where, facts["manager"].get("why"))))
            continue
        for device in [d for d in facts.get("fence", []) if isinstance(d, dict)] or [{"error": "no fence device "
                                                                                       "checked"}]:
            label = "from %s, %s" % (where, device.get("device") or "fencing")
            what = "%s%s%s" % (device.get("agent") or "?", " %s" % device["backend"] if device.get("backend") else "",
                               " at %s" % device["address"] if device.get("address") else "")
            if device.get("error"):
                checks.append(Check("fencing", FAIL, "%s (%s): %s" % (label, what, device["error"]),
                                    "fix the device's parameters or the BMC; test with fence_mdlp -o status"))
            elif "noop" in re.split(r"[\s,]+", device.get("backend") or ""):
                checks.append(Check("fencing", WARN, "%s (%s): the noop backend FENCES NOTHING: a hung node is "
                                    "declared fenced while it may still hold the floating IP and serve" % (label, what),
                                    "configure backend ipmi (or ssh) in fence_mdlp.conf"))
            elif device.get("rc") == 0:
                checks.append(Check("fencing", OK, "%s (%s) answers status: %s (%.1f s)" % (
                    label, what, device.get("answer"), device.get("seconds", 0))))
            elif device.get("rc") == 2:    # "off" -- of a node that runs?
                alive = facts is not mine or theirs is not None
                checks.append(Check("fencing", FAIL if alive else WARN, "%s (%s) says the node it fences is OFF%s: %s"
                                    % (label, what, ", yet that node answers: the device controls another machine"
                                       if alive else "", device.get("answer")),
                                    "check which machine the BMC address (or plug) belongs to"))
            else:
                checks.append(Check("fencing", FAIL, "%s (%s) does not answer status (exit %s): %s" % (
                    label, what, device.get("rc"), device.get("answer")),
                    "check the BMC address, user and password (fence_mdlp.conf); test with fence_mdlp -o status"))


def check_split(mine, checks):
    """Who wins a split (the heartbeat lost, both nodes alive and fencing each other): the cluster's
    own settings, read on this node (they are the cluster's, the same on both)."""
    race = mine.get("race")
    if not race:
        return
    if race.get("error"):
        checks.append(Check("split", SKIPPED, race["error"]))
        return
    if race.get("stack") == "rgmanager":
        checks.append(_split_rgmanager(race.get("delays") or {}))
        return
    slowest = max([d.get("seconds") or 0 for d in mine.get("fence") or [] if isinstance(d, dict)] or [0])
    checks.append(_split_pacemaker(race, slowest))


def _split_rgmanager(delays):
    delayed = sorted(node for node, delay in delays.items() if delay > 0)
    if len(delayed) == 1:
        return Check("split", OK, "%s's fence device waits %g s: %s wins a split, wherever mdlp runs (fenced knows no "
                     "service: a split while mdlp runs on the other node moves it)" % (delayed[0], delays[delayed[0]],
                                                                                        delayed[0]))
    if not delayed or len({delays[n] for n in delayed}) == 1:
        return Check("split", WARN, "no fence device waits%s: in a split both nodes fence each other at once and both "
                     "may die" % (" longer than the other" if delayed else ""),
                     "give the preferred node's <device> a delay (mdlp-cluster render rhcs)")
    return Check("split", OK, "fence delays %s: the longest wins a split" % ", ".join(
        "%s %g s" % (n, delays[n]) for n in delayed))


def _split_pacemaker(race, slowest=0):
    """SLOWEST: the seconds the slowest fence device took to answer `status` here (0: not asked)."""
    priority_delay, timeout = race.get("priority_fencing_delay") or 0, race.get("stonith_timeout") or 60
    delays, timeouts = race.get("delays") or {}, race.get("timeouts") or {}
    static = max(delays.values()) if delays else 0
    fix = "mdlp-cluster render pacemaker: priority-fencing-delay, the group's priority, a smaller pcmk_delay_base"
    if not priority_delay and not static:
        return Check("split", WARN, "no fencing delay (neither priority-fencing-delay nor a device's "
                     "pcmk_delay_base/max or delay): in a split both nodes fence each other at once and both may die",
                     fix)
    if priority_delay and not race.get("priorities"):
        return Check("split", WARN, "priority-fencing-delay is %g s, but no resource has a priority: it protects "
                     "nobody" % priority_delay, fix)
    if priority_delay and static and priority_delay < 2 * static:
        return Check("split", WARN, "priority-fencing-delay %g s is less than twice the static delay %g s: the node "
                     "running the service may lose the race" % (priority_delay, static), fix)
    for device in sorted(delays) or [None]:     # Pacemaker waits both delays, one after the other
        own = timeouts.get(device)
        short = fencing_budget_problem(own if own is not None else timeout, priority_delay + delays.get(device, 0),
                                       "%s's pcmk_reboot_timeout" % device if own is not None else "stonith-timeout")
        if short:
            return Check("split", WARN, short, "raise stonith-timeout (fence_timeout in the answer file)")
    if not priority_delay:
        return Check("split", WARN, "only a static delay (%g s on %s): in a split that node wins wherever mdlp runs -- "
                     "a split while mdlp runs on the other node costs a failover" % (
                         static, ", ".join(d for d, v in sorted(delays.items()) if v == static)), fix)
    margin = priority_delay - static
    if slowest and margin < 2 * slowest:
        return Check("split", WARN, "the winner has %g s (priority-fencing-delay %g s less the static %g s) to power "
                     "the other node off, less than twice the %.1f s its BMC took to answer status here: it may "
                     "not be done in time" % (margin, priority_delay, static, slowest),
                     "raise fence_delay in the answer file and render again")
    return Check("split", OK, "in a split the node running mdlp wins: priority-fencing-delay %g s (priority of %s)%s, "
                 "stonith-timeout %g s; the price: a node lost while running it is fenced up to %g s later"
                 % (priority_delay, ", ".join(sorted(race["priorities"])),
                    ", static %g s where it runs nowhere" % static if static else "", timeout, priority_delay + static))
