"""doctor's `detection` check: how soon the cluster learns that a service died here, and whether what
makes it quick is in place -- on Pacemaker a frequent monitor answered by the OCF front
(bin/mdlp_ocf) from the watcher's verdict, on rgmanager a short status interval."""

import os

from ...common.errors import AgentError
from ...common.files import open_regular
from ...common.paths import OCF_LINK
from ...rhcs import verdict
from .. import stacks
from ..stacks.runner import LOCAL
from .checks import OK, SKIPPED, WARN, Check

QUICK = 1.0          # a monitor at most this far apart is "within a second" with the front
FIX_PCMK = "mdlp-cluster render pacemaker: the agent's monitor every 500ms, answered by the OCF front"
FIX_RHCS = "mdlp-cluster render rhcs: <action name=\"status\" interval=\"5\"/> and <rm status_poll_interval=\"1\">"


def _front():
    """(what answers ocf:websense:mdlp here: front | agent | missing | other, the front's state dir)."""
    try:
        with open_regular(OCF_LINK) as handle:
            head = handle.read(8192).decode("utf-8", "replace")
    except FileNotFoundError:
        return "missing", None
    except OSError:
        return "other", None
    if "mdlp-verdict" in head and "wait_for_word" in head:
        state = next((line.split("=", 1)[1].split()[0] for line in head.splitlines()
                      if line.startswith("state=") and len(line) > 6), None)
        return "front", state
    return ("agent" if "mdlp_agents.rhcs" in head else "other"), None


def facts(manager_name, budget):
    """{"stack", "interval", ...} (stacks' detection()), and on Pacemaker what answers the monitor
    here and this node's verdict; or {error}."""
    stack = (stacks.Pacemaker if manager_name == "pacemaker" else stacks.Rgmanager)(LOCAL, budget())
    try:
        found = stack.detection()
    except (OSError, AgentError) as exc:
        return {"error": "cannot read the cluster's configuration: %s" % (getattr(exc, "strerror", None) or exc)}
    if found.get("stack") == "pacemaker":
        found["front"], state = _front()
        found["active"] = bool(state) and os.path.exists(os.path.join(state, "active"))
        path = verdict.path(state, found.get("resource") or "") if state else None
        seen = verdict.read(path) if path else None
        found["verdict"] = {"healthy": seen.healthy, "age": seen.age()} if seen else None
    return found


def check(mine, checks):
    found = mine.get("detection")
    if not found:
        return
    if found.get("error"):
        checks.append(Check("detection", SKIPPED, found["error"]))
    elif found.get("stack") == "rgmanager":
        checks.append(_rgmanager(found))
    else:
        checks.append(_pacemaker(found))


def _rgmanager(found):
    interval, scan = found.get("interval"), found.get("scan") or 10
    if interval is None:
        return Check("detection", WARN, "no mdlp_rhcs <script> in cluster.conf: rgmanager never checks the services")
    bound = interval + scan
    text = "rgmanager runs mdlp_rhcs status every %d s and looks for due checks every %d s: a dead service is " \
           "noticed within %d s" % (interval, scan, bound)
    return Check("detection", WARN if bound > 10 else OK, text, FIX_RHCS if bound > 10 else None)


def _pacemaker(found):
    resource, interval = found.get("resource"), found.get("interval")
    if resource is None:
        return Check("detection", SKIPPED, "no ocf:websense:mdlp resource in the CIB")
    if interval is None:
        return Check("detection", WARN, "%s has no recurring monitor: Pacemaker never notices a dead service"
                     % resource, FIX_PCMK)
    front = found.get("front")
    if front != "front":
        what = {"agent": "the Python agent itself (no front: each monitor starts Python)",
                "missing": "missing", "other": "not mdlp-agents' front"}[front]
        return Check("detection", WARN, "%s is %s: a dead service is noticed at the next monitor, within %g s, "
                     "and the watcher's verdict is not used" % (OCF_LINK, what, interval),
                     "reinstall mdlp-agents (its package installs the front there)")
    if interval > QUICK:
        return Check("detection", WARN, "%s is monitored every %g s: a service that dies between two monitors "
                     "goes unnoticed up to %g s" % (resource, interval, interval), FIX_PCMK)
    seen = found.get("verdict")
    if found.get("active") and not (seen and seen.get("age") is not None and 0 <= seen["age"] <= 2):
        return Check("detection", WARN, "mdlp runs here but no watcher vouches for it (%s): every monitor runs the "
                     "full check in Python until the next healthy one starts a watcher" % (
                         "no verdict" if not seen else "its verdict is stale"), "mdlp_rhcs status -v on this node")
    where = ("its watcher says %s" % ("ok" if seen["healthy"] else "FAILED")) if found.get("active") and seen \
        else "the watcher runs where mdlp runs"
    return Check("detection", OK, "a dead service reaches Pacemaker within about a second: %s is monitored every "
                 "%g s by the OCF front, which answers from the watcher's verdict (%s)" % (resource, interval, where))
