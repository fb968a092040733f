"""A planned maintenance, written down: the one place that reads and writes its record, and the
one-line notice of it that `mdlp_rhcs status`, `mdlp-cluster status` and `mdlp-cluster
maintenance status` show.  Light on imports: mdlp_rhcs reads it on the path rgmanager calls every
30 seconds: two opens that fail when no maintenance is on (and, beside a CIB, a search for our
marker in its bytes; no XML parser unless it is there).

- Pacemaker keeps it in the CIB (cluster-wide): our meta_attributes block <UNIT>-mdlp-maintenance
  on the service's group or resource, or the cluster_property_set mdlp-maintenance, with
  maintenance=true (maintenance-mode=true) and mdlp-maintenance-by/-reason/-since/-until nvpairs.
  Each node keeps the CIB's configuration on disk: mdlp_rhcs reads that copy (no daemon asked).
- rgmanager keeps no notes on a frozen service: the record is a file of this node's, in
  /run/mdlp_agents (gone at boot, as rgmanager's freeze is), written by the node that set it.
"""

import contextlib
import os
import time

from .files import atomic_write, distrust, open_lock, open_regular, state_dir
from .paths import CIB_FILE, STATE_DIR
from .text import one_line

RECORD_NAME = "maintenance.json"
# our blocks: <UNIT>-mdlp-maintenance-<TAG> (meta_attributes) and mdlp-maintenance-<TAG>
# (cluster_property_set); each `on` writes a block with a new TAG before it removes the old one,
# so a renewal never leaves a moment without maintenance
BLOCK_MARK = "mdlp-maintenance"
INFO_KEYS = ("by", "reason", "since", "until")
INFO_PREFIX = "mdlp-maintenance-"
INFO_MAX = 200


class RecordError(OSError):
    """The record cannot be kept: no private directory, another change holds its lock."""


def block_id(unit, tag):
    """The id of our block for UNIT (None: the cluster-wide one), this TAG."""
    return "%s-%s" % ("%s-%s" % (unit, BLOCK_MARK) if unit else BLOCK_MARK, tag)


def _ours(bid, unit):
    """Is BID one of our block ids for UNIT (None: cluster-wide)?  (The id without the tag too:
    what the first release wrote.)"""
    base = "%s-%s" % (unit, BLOCK_MARK) if unit else BLOCK_MARK
    return bid == base or (bid.startswith(base + "-") and bid[len(base) + 1:].isalnum())


def printable(text, limit=INFO_MAX):
    """TEXT from a file others may have written (the CIB: the haclient group writes it), fit for a
    terminal and a log line."""
    return one_line(text, limit)


def record_dir():
    """Where rgmanager's maintenance record lives ($MDLP_MAINTENANCE_DIR for tests)."""
    return os.environ.get("MDLP_MAINTENANCE_DIR") or STATE_DIR


def record_path():
    return os.path.join(record_dir(), RECORD_NAME)


def iso(epoch):
    """EPOCH as the CIB's ISO 8601 (UTC): 2026-11-30T09:11:39Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def from_iso(text):
    """The epoch of an ISO 8601 UTC time we wrote, or None."""
    import calendar
    if not isinstance(text, str) and text is not None:
        return None
    try:
        return calendar.timegm(time.strptime(text or "", "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def local(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))


def read_trusted(path, owner=None, marker=None):
    """The bytes of PATH if it is a regular file root, we or OWNER (a user name) wrote and nobody
    else can write; None if it is absent or untrustworthy (a notice from a file others could
    have written would be a lie) -- or, with MARKER, if MARKER is not in it (the common case
    costs one read: no user lookup, no parser)."""
    try:
        with open_regular(path) as handle:
            data = handle.read(16 << 20)
            if marker is not None and marker not in data:
                return None
            info = os.fstat(handle.fileno())
            if distrust(info) and not (owner and _owned_by(info, owner) and not info.st_mode & 0o022):
                return None
            return data
    except OSError:
        return None


def _owned_by(info, user):
    import pwd
    try:
        return info.st_uid == pwd.getpwnam(user).pw_uid
    except KeyError:
        return False


# the record's fields: what each must be (write_record writes what `on` asks)
RECORD_TEXT = ("by", "reason", "service", "token")
RECORD_TIMES = ("since", "until")
RECORD_REQUIRED = ("by", "since", "service", "token")


def read_record(warn=None):
    """rgmanager's record on this node (a dict of checked fields), or None.  A record that is not
    what `on` writes -- not JSON, a field of the wrong type, a time that is not one -- is no record:
    WARN (a function, when given) is told why, in one line; the caller goes on (a status check must
    never fail on it)."""
    data = read_trusted(record_path())
    if not data:
        return None
    import json
    try:
        record = json.loads(data.decode("utf-8"))
        problem = _record_problem(record)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        problem = "not JSON (%s)" % type(exc).__name__
    if problem:
        if warn is not None:
            warn("maintenance record %s ignored: %s" % (record_path(), problem))
        return None
    checked = {k: printable(record[k]) for k in RECORD_TEXT + RECORD_TIMES if k in record}
    if "job" in record:
        checked["job"] = record["job"]
    return checked


def _record_problem(record):
    if not isinstance(record, dict):
        return "not a JSON object"
    for key in RECORD_REQUIRED:
        if key not in record:
            return "no %s" % key
    for key in RECORD_TEXT + RECORD_TIMES:
        if key in record and (not isinstance(record[key], str) or len(record[key]) > 4 * INFO_MAX):
            return "%s is not text" % key
    for key in RECORD_TIMES:
        if key in record and from_iso(record[key]) is None:
            return "%s is not a time (YYYY-MM-DDTHH:MM:SSZ)" % key
    job = record.get("job")
    if job is not None and (type(job) is not int or not 0 < job < 2 ** 31):
        return "job is not an at(1) job number"
    return None


def write_record(record):
    """RECORD (by, since, service, token; reason, until, job) as this node's, readable by root alone."""
    directory = state_dir(record_dir())
    if directory is None:
        raise RecordError("cannot keep the maintenance record: %s is not a directory only root writes" % record_dir())
    import json
    atomic_write(os.path.join(directory, RECORD_NAME), json.dumps(record, sort_keys=True), mode=0o600)


def drop_record():
    try:
        os.unlink(record_path())
    except OSError:
        pass


@contextlib.contextmanager
def record_locked(timeout, what):
    """Changes to the record one at a time (an expiry job and an admin's `on` at the same moment);
    RecordError when another change (of WHAT: the service) holds it for TIMEOUT seconds."""
    import fcntl
    directory = state_dir(record_dir())
    if directory is None:
        raise RecordError("cannot lock the maintenance record: %s is not a directory only root writes"
                          % record_dir())
    fd = open_lock(directory, "maintenance.lock")
    end = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > end:
                    raise RecordError("another mdlp-cluster maintenance is changing %s: try again" % what) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


# -- Pacemaker's: our blocks in the CIB ---------------------------------------------------------
def cib_block(tag, bid, setting, info, until=None):
    """Our block: TAG (meta_attributes or cluster_property_set) of id BID, score INFINITY (it wins
    over the resource's own), SETTING=true, INFO as mdlp-maintenance-* nvpairs; with UNTIL (the
    epoch), a date_expression rule that Pacemaker ends by itself."""
    import xml.etree.ElementTree as ET
    element = ET.Element(tag, id=bid, score="INFINITY")
    if until:
        rule = ET.SubElement(element, "rule", id=bid + "-rule")
        ET.SubElement(rule, "date_expression", id=bid + "-rule-end", operation="lt", end=iso(until))
    ET.SubElement(element, "nvpair", id="%s-%s" % (bid, setting), name=setting, value="true")
    for key, value in sorted(info.items()):
        ET.SubElement(element, "nvpair", id="%s-%s" % (bid, key), name=INFO_PREFIX + key, value=value)
    return element


def from_nvpairs(block):
    """Our info nvpairs of a CIB block (an ElementTree element): {by, reason, since, until}."""
    info = {}
    for pair in block.findall("nvpair"):
        name = pair.get("name") or ""
        if name.startswith(INFO_PREFIX) and name[len(INFO_PREFIX):] in INFO_KEYS:
            info[name[len(INFO_PREFIX):]] = printable(pair.get("value") or "")
    return info


def blocks_in(configuration):
    """Our maintenance blocks in a CIB <configuration> (or <cib>): [(scope, unit or None, info, id)]."""
    found = []
    for holder in configuration.iter():
        if holder.tag not in ("group", "primitive", "clone"):
            continue
        for block in holder.findall("meta_attributes"):
            if _ours(block.get("id") or "", holder.get("id")):
                found.append(("resource", holder.get("id"), from_nvpairs(block), block.get("id")))
    for block in configuration.iter("cluster_property_set"):
        if _ours(block.get("id") or "", None):
            found.append(("cluster", None, from_nvpairs(block), block.get("id")))
    return found


def in_force(info, now=None):
    """Has this maintenance not yet ended by itself (no --for, or its end still ahead)?"""
    until = from_iso(info.get("until"))
    return until is None or until > (time.time() if now is None else now)


def describe(info, now=None):
    """by root@node1, since ..., until ... (in 12 min): reason."""
    now = time.time() if now is None else now
    parts = []
    if info.get("by"):
        parts.append("by %s" % info["by"])
    since = from_iso(info.get("since"))
    if since:
        parts.append("since %s" % local(since))
    until = from_iso(info.get("until"))
    if until:
        left = until - now
        parts.append("until %s (%s)" % (local(until), "in %s" % span(left) if left > 0 else "ended"))
    else:
        parts.append("until ended by hand")
    text = ", ".join(parts)
    if info.get("reason"):
        text += ": %s" % info["reason"]
    return text


def span(seconds):
    seconds = int(seconds)
    if seconds < 120:
        return "%d s" % seconds
    if seconds < 7200:
        return "%d min" % (seconds // 60)
    return "%d h %02d min" % (seconds // 3600, seconds % 3600 // 60)


def local_notice(now=None, warn=None):
    """For `mdlp_rhcs status` on this node: one line if a maintenance is in force here, else None.
    Pacemaker's from the CIB on disk (cluster-wide), else rgmanager's record of this node (WARN:
    see read_record)."""
    now = time.time() if now is None else now
    # the CIB's owner: Pacemaker writes it; no block of ours in it (the common case): no XML parser
    data = read_trusted(CIB_FILE, owner="hacluster", marker=BLOCK_MARK.encode())
    if data:
        import xml.etree.ElementTree as ET
        try:
            root = ET.fromstring(data)
        except ET.ParseError:
            root = None
        if root is not None:
            for scope, unit, info, _ in blocks_in(root):
                if in_force(info, now):
                    what = "the whole cluster (maintenance-mode)" if scope == "cluster" else unit
                    return "MAINTENANCE of %s: Pacemaker does not act on its health, %s" % (what, describe(info, now))
    record = read_record(warn)
    if record:   # the expiry job removes it when it thaws: one past its end is overdue
        return ("MAINTENANCE of %s (recorded on this node; rgmanager's own word: mdlp-cluster maintenance "
                "status): rgmanager does not check or recover it, %s%s"
                % (record.get("service"), describe(record, now),
                   "" if in_force(record, now) else " -- OVERDUE: the expiry job has not ended it"))
    return None
