"""A failed recurring monitor is answered in a later second than the monitor's last result.

Pacemaker records a recurring monitor's result only when it changes, and with whole seconds: the
"ok" entry (INSTANCE_monitor_INTERVAL) and the failure (INSTANCE_last_failure_0) of the same op
carry the same call-id, and the scheduler orders them by last-rc-change.  A failure recorded in
the second in which the op last turned "ok" ties with it (pe__is_newer_op: "rc-change", 0), and
the scheduler may take the "ok" as the newer: it leaves the resource "Started" and never
recovers it, since later failures of that op are the same result and are not recorded again.
With a 500 ms monitor that is a service that dies within a second of its start.

So before a recurring monitor answers a failure, wait_past_last_change() reads that op's "ok"
entry from the local CIB (cibadmin, bounded) and, when it changed in this very second, waits
for the next one (at most a second).  When the CIB cannot say, it waits for the next second
too: a failure answered up to a second later is one that is not lost.
"""

import re
import tempfile
import time

from ..common.convert import whole_number
from ..common.files import find_program
from ..common.paths import SYSTEM_PATH
from . import probes, verdict

NODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")    # a host name, as Pacemaker's node names are
QUERY_TIMEOUT = 1.0
CRM_EX_NOSUCH = 105             # cibadmin: the XPath matches nothing
_LAST_CHANGE = re.compile(rb'\slast-rc-change="([0-9]{1,12})"')
_MARGIN = 0.01


def _query(xpath):
    """cibadmin's answer to XPATH: bytes (b"" when nothing matches), or None when it cannot say
    in time."""
    tool = find_program("cibadmin", SYSTEM_PATH)
    if not tool:
        return None
    with tempfile.TemporaryFile() as out:
        code, _ = probes.run_bounded([tool, "--query", "--local", "--no-children", "--xpath", xpath],
                                     QUERY_TIMEOUT, stdout=out.fileno())
        if code == CRM_EX_NOSUCH:
            return b""
        if code != 0:
            return None
        out.seek(0)
        return out.read(65536)


def last_ok_change(environ):
    """(found, seconds): whether Pacemaker's history could be read for this recurring monitor,
    and the epoch second in which it last turned "ok" (None: it never did)."""
    node = environ.get("OCF_RESKEY_CRM_meta_on_node", "")
    instance = environ.get("OCF_RESOURCE_INSTANCE", "")
    interval = environ.get("OCF_RESKEY_CRM_meta_interval", "")
    try:
        interval = whole_number(interval)
    except ValueError:
        return False, None
    if not (NODE.match(node) and verdict.INSTANCE.match(instance) and interval > 0):
        return False, None
    xpath = ("//node_state[@uname='%s']/lrm/lrm_resources/lrm_resource[@id='%s']"
             "/lrm_rsc_op[@id='%s_monitor_%s'][@rc-code='0']" % (node, instance, instance, interval))
    answer = _query(xpath)
    if answer is None:
        return False, None
    found = _LAST_CHANGE.search(answer)
    return True, int(found.group(1)) if found else None


def wait_past_last_change(environ, now=time.time, sleep=time.sleep):
    """Before a recurring monitor run by Pacemaker answers a failure: wait until the second in
    which its "ok" was recorded has passed (None; or a text saying how long, for the log)."""
    if not environ.get("OCF_RESKEY_CRM_meta_on_node"):
        return None                 # not Pacemaker's op: nothing records it
    found, changed = last_ok_change(environ)
    if found and changed is None:
        return None                 # no "ok" recorded for this op: nothing to tie with
    target = (changed if found else int(now())) + 1 + _MARGIN
    delay = target - now()
    if delay <= 0 or delay > 1 + _MARGIN:
        return None
    sleep(delay)
    why = ("its ok was recorded in the same second" if found
           else "the CIB did not say when it was last ok")
    return "failure answered %.2f s later: %s (Pacemaker orders the two by whole seconds)" % (delay, why)
