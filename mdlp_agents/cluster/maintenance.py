"""mdlp-cluster maintenance on|off|status: the cluster stops acting on the mdlp service's health
while the guide's "Deploy the settings" restarts httpd, PolicyEngine and RProxyWD -- nothing is
stopped, nothing relocates, nobody is fenced -- and acts on it again afterwards.

Pacemaker: our meta_attributes block <UNIT>-mdlp-maintenance (score INFINITY: it wins over the
resource's own) on the service's group or lone resource, holding maintenance=true: the resource
is unmanaged and its recurring monitors pause, so a service restarted meanwhile records no
failure that would relocate it afterwards (is-managed=false alone keeps monitoring and counting
failures).  --cluster: the cluster_property_set mdlp-maintenance holding maintenance-mode=true.
--for: a rule with a date_expression (operation lt, end UNTIL) makes the block apply until then;
Pacemaker ends it by itself and schedules its next recheck at that moment (measured on 2.1.5
with the default 15-minute cluster-recheck-interval: on time to the second).  Who, why, since
and until are mdlp-maintenance-* nvpairs of the block (notice.py reads them).

rgmanager: `clusvcadm -Z` freezes the service (no status checks, no recovery), `-U` thaws it.
rgmanager has no timed freeze: --for queues an at(1) job -- atd is the system's one-shot
scheduler, not a daemon of ours -- that runs `mdlp-cluster maintenance off --expired TOKEN`
at the end; a later on/off changes the token, so a stale job does nothing.  The record (who,
why, until, token) is a file on the node that set it (notice.py).

`off` first checks the service, unless --force: Pacemaker re-probes the unit on every node
(crm_resource --refresh: probes run even in maintenance, through the cluster's own
configuration) and `off` waits for their results; rgmanager runs the script from cluster.conf
with `status` on the node that owns the service (this one, or `off` says where to run it).
"""

import contextlib
import json
import math
import os
import re
import secrets
import shlex
import sys
import time
import xml.etree.ElementTree as ET

from ..common import convert
from ..common.errors import AgentError
from ..common.files import atomic_write, find_program, open_lock, read_regular, state_dir
from ..rhcs import procfacts
from . import notice
from .commands import last_line
from .commands import run as run_command
from .status import (
    OUR_AGENT,
    SERVICE,
    crm_mon_root,
    is_frozen,
    local_node,
    our_unit,
    script_in_cluster_conf,
    service_in_cluster_conf,
)

MAX_DURATION = 30 * 86400.0
REASON_MAX = 200
PROBE_PENDING = "193"       # lrm_rsc_op rc-code of an operation still running
OCF_NAMES = {"0": "running", "1": "error", "2": "invalid argument", "3": "unimplemented",
             "4": "insufficient privileges",
             "5": "not installed", "6": "not configured", "7": "not running"}


class UsageError(AgentError):
    """Bad input, no service, no cluster stack: exit 2 (as mdlp-cluster's other errors)."""

    exit_code = 2


class Refused(AgentError):
    """The cluster did not do it, or `off` found the service down: exit 1."""

    exit_code = 1


def duration(text):
    """--for: 90, 90s, 30m, 2h, 1d or combined (1h30m): seconds, 1 s to 30 days."""
    value = (text or "").strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        total = float(value)
    else:
        parts = re.findall(r"(\d+)([dhms])", value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise ValueError("%r is not a duration (like 90s, 30m, 2h, 1h30m, 1d)" % text)
        total = float(sum(int(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u] for n, u in parts))
    try:
        return convert.seconds(total, positive=True, maximum=MAX_DURATION)
    except ValueError:
        raise ValueError("%r: a maintenance lasts from 1 s to 30 days" % text) from None


def reason(text):
    """--reason: printable text on one line, at most 200 characters (it goes into the CIB and the log)."""
    if text is None:
        return None
    value = " ".join(text.split())
    if not value.isprintable() or len(value) > REASON_MAX:
        raise ValueError("the reason must be printable text of at most %d characters" % REASON_MAX)
    return value or None


def who():
    """The admin: the sudo user if root was reached through sudo, else this account; @host."""
    import pwd
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        user = "uid %d" % os.geteuid()
    sudo = os.environ.get("SUDO_USER") or ""
    if sudo and re.fullmatch(r"[A-Za-z0-9._][A-Za-z0-9._-]{0,63}", sudo) and sudo != user:
        user = "%s (sudo %s)" % (sudo, user)
    return "%s@%s" % (user, os.uname().nodename)


class Request:
    """What `on` was asked: who, why, from when until when."""

    def __init__(self, for_seconds=None, why=None, now=None):
        self.since = time.time() if now is None else now
        # the CIB keeps whole seconds: round the end up, never cut the maintenance short
        self.until = float(math.ceil(self.since + for_seconds)) if for_seconds else None
        self.reason = why
        self.by = who()

    def info(self):
        info = {"by": self.by, "since": notice.iso(self.since)}
        if self.until:
            info["until"] = notice.iso(self.until)
        if self.reason:
            info["reason"] = self.reason
        return info


def _log(level, message):
    try:
        from ..common.syslogging import AgentLog
        AgentLog("mdlp-cluster").emit(level, message)
    except Exception:   # noqa: BLE001 -- logging never turns a done change into an error
        pass


def _warn(message):
    _log("warning", message)


def say(message, level="notice"):
    """A change (or a refusal): one line on stdout and one in syslog."""
    print(message)
    _log(level, message)


def _wait(predicate, timeout, interval=0.3):
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
class Pacemaker:
    stack = "pacemaker"

    def __init__(self, timeout, name=None):
        self.timeout = timeout
        self.name = name

    def _run(self, argv, error=Refused):
        return run_command(argv, self.timeout, error)

    def mon(self):
        proc = self._run(["crm_mon", "--output-as=xml"], UsageError)
        if not proc.stdout.lstrip().startswith("<"):
            raise UsageError("Pacemaker is not answering here: crm_mon: %s" % last_line(proc))
        try:
            return crm_mon_root(proc.stdout)
        except AgentError as exc:
            raise UsageError(str(exc)) from None

    def unit(self, root):
        unit = our_unit(root, self.name)
        if unit is None:
            if self.name:
                raise UsageError("no group or resource %r in the CIB" % self.name)
            raise UsageError("no mdlp service in the CIB (no group or resource runs %s); name it with --resource"
                             % OUR_AGENT)
        return unit

    @staticmethod
    def members(unit):
        return list(unit.iter("resource")) if unit.tag == "group" else [unit]

    @staticmethod
    def cluster_mode(root):
        options = root.find("summary/cluster_options")
        return options is not None and options.get("maintenance-mode") == "true"

    def unmanaged(self, root, unit):
        return all(m.get("managed") == "false" for m in self.members(unit))

    def now_unmanaged(self):
        root = self.mon()
        return self.unmanaged(root, self.unit(root))

    def query(self, scope):
        proc = self._run(["cibadmin", "--query", "--scope", scope])
        if proc.returncode != 0:
            raise Refused("cibadmin --query: %s" % last_line(proc))
        try:
            return ET.fromstring(proc.stdout)
        except ET.ParseError as exc:
            raise Refused("cibadmin --query: not XML (%s)" % exc) from None

    def ours(self, unit_id):
        """Our blocks in the CIB that concern UNIT_ID: [(scope, unit, info, id)]."""
        return [b for b in notice.blocks_in(self.query("configuration")) if b[1] in (None, unit_id)]

    def _cib(self, *argv):
        proc = self._run(["cibadmin"] + list(argv))
        if proc.returncode != 0:
            raise Refused("cibadmin %s: %s" % (argv[0], last_line(proc)))

    @staticmethod
    def block(tag, bid, setting, request):
        element = ET.Element(tag, id=bid, score="INFINITY")
        if request.until:
            rule = ET.SubElement(element, "rule", id=bid + "-rule")
            ET.SubElement(rule, "date_expression", id=bid + "-rule-end", operation="lt", end=notice.iso(request.until))
        ET.SubElement(element, "nvpair", id="%s-%s" % (bid, setting), name=setting, value="true")
        for key, value in sorted(request.info().items()):
            ET.SubElement(element, "nvpair", id="%s-%s" % (bid, key), name=notice.INFO_PREFIX + key, value=value)
        return element

    def _delete(self, tag, bid):
        self._cib("--delete", "--xml-text", ET.tostring(ET.Element(tag, id=bid), encoding="unicode"))

    def on(self, request, whole_cluster=False):
        root = self.mon()
        unit = self.unit(root)
        uid = unit.get("id")
        scope = "cluster" if whole_cluster else "resource"
        before = [b for b in self.ours(uid) if b[0] == scope]
        bid = notice.block_id(None if whole_cluster else uid, secrets.token_hex(3))
        # the new block first, then the old ones go: a renewal is never a moment without maintenance
        if whole_cluster:
            element = self.block("cluster_property_set", bid, "maintenance-mode", request)
            self._cib("--create", "--scope", "crm_config", "--xml-text", ET.tostring(element, encoding="unicode"))
            what = "the whole cluster (maintenance-mode; %s included)" % uid
        else:
            holder = ET.Element("group" if unit.tag == "group" else "primitive", id=uid)
            holder.append(self.block("meta_attributes", bid, "maintenance", request))
            self._cib("--modify", "--xml-text", ET.tostring(holder, encoding="unicode"))
            what = "%s %s" % (unit.tag if unit.tag == "group" else "resource", uid)
        for old_scope, _, _, old_id in before:
            self._delete("cluster_property_set" if old_scope == "cluster" else "meta_attributes", old_id)
        if not _wait(self.now_unmanaged, self.timeout):
            raise Refused("the CIB holds the maintenance, but Pacemaker still manages %s after %gs"
                          % (uid, self.timeout))
        say("maintenance ON for %s: Pacemaker does not act on its health (nothing stopped), %s"
            % (what, notice.describe(request.info(), request.since)))
        return 0

    def status(self):
        root = self.mon()
        unit = self.unit(root)
        return self._status(root, unit, self.ours(unit.get("id")))

    def _status(self, root, unit, blocks):
        uid = unit.get("id")
        result = {"stack": self.stack, "service": uid, "on": self.unmanaged(root, unit),
                  "cluster_wide": self.cluster_mode(root), "set_by_us": False, "info": None, "last": None}
        for scope, _, info, _ in blocks:
            if notice.in_force(info):
                result.update(set_by_us=True, info=info, scope=scope)
            else:
                result["last"] = info
        return result

    def off(self, force=False):
        root = self.mon()
        unit = self.unit(root)
        uid = unit.get("id")
        blocks = self.ours(uid)
        state = self._status(root, unit, blocks)
        if not state["on"]:
            print("maintenance is not on for %s: nothing to do%s"
                  % (uid, " (the last one: %s)" % notice.describe(state["last"]) if state["last"] else ""))
            return 0
        if not state["set_by_us"]:
            raise Refused("%s is unmanaged, but not by mdlp-cluster (%s): left as it is" % (
                uid, "the cluster's maintenance-mode" if state["cluster_wide"]
                else "is-managed or maintenance set by hand"))
        if not force:
            self.check(root, unit)
        for scope, _, _, bid in blocks:
            self._delete("cluster_property_set" if scope == "cluster" else "meta_attributes", bid)
        if not _wait(lambda: not self.now_unmanaged(), self.timeout):
            raise Refused("%s is still unmanaged: is-managed, maintenance or maintenance-mode is set outside "
                          "mdlp-cluster (see crm_mon and the CIB)" % uid)
        say("maintenance OFF for %s: Pacemaker acts on its health again%s"
            % (uid, " (forced: no health check)" if force else " (health check passed)"))
        return 0

    # -- the health check: Pacemaker's own probes ------------------------------------------
    def _probes(self, members):
        """{(node, member): (call-id, rc, exit-reason)} of the members' last probe or operation."""
        found = {}
        for node_state in self.query("status").iter("node_state"):
            node = node_state.get("uname")
            for resource in node_state.iter("lrm_resource"):
                if resource.get("id") not in members:
                    continue
                for op in resource.iter("lrm_rsc_op"):
                    if op.get("id") == resource.get("id") + "_last_0":
                        try:
                            call = int(op.get("call-id") or -1)
                        except ValueError:
                            call = -1
                        found[(node, resource.get("id"))] = (call, op.get("rc-code"),
                                                             notice.printable(op.get("exit-reason") or ""))
        return found

    def check(self, root, unit):
        """Refused unless every member runs on one node and nowhere else, by fresh probes."""
        uid = unit.get("id")
        members = [m.get("id") for m in self.members(unit)]
        nodes = [n.get("name") for n in root.iter("node") if n.get("online") == "true"]
        before = self._probes(members)
        proc = self._run(["crm_resource", "--refresh", "--resource", uid])
        if proc.returncode != 0:
            raise Refused("health check: crm_resource --refresh: %s (--force skips the check)" % last_line(proc))

        def fresh():
            now = self._probes(members)
            if all(key in now and now[key][0] > before.get(key, (-1,))[0] and now[key][1] != PROBE_PENDING
                   for key in [(n, m) for n in nodes for m in members]):
                return now
            return None

        results = _wait(fresh, self.timeout, interval=0.2)
        if not results:
            raise Refused("health check: Pacemaker's probes of %s did not report within %gs; maintenance stays on "
                          "(--force ends it without the check)" % (uid, self.timeout))
        problems, running = [], {}
        for (node, member), (_, rc, why) in sorted(results.items()):
            if rc == "0":
                running.setdefault(node, []).append(member)
            elif rc != "7":
                problems.append("%s on %s: %s (%s)" % (member, node, OCF_NAMES.get(rc, "rc %s" % rc),
                                                       why or self.asked(member, node)))
        if not problems:
            whole = [n for n, ms in running.items() if len(ms) == len(members)]
            if not running:
                problems.append("%s is not running on any node" % uid)
            elif len(running) > 1 or not whole:
                problems.append("%s is not whole on one node (%s)" % (
                    uid, "; ".join("%s: %s" % (n, ", ".join(ms)) for n, ms in sorted(running.items()))))
        if problems:
            message = ("maintenance stays ON for %s: the service is not healthy: %s -- fix it, or end maintenance "
                       "anyway with --force" % (uid, "; ".join(problems)))
            raise Refused(message)   # run_tool says it: stderr and syslog

    def asked(self, member, node):
        """Why MEMBER failed on NODE when its probe recorded no reason: what mdlp_rhcs says here
        (MEMBER runs our agent, NODE is this node), else where to ask."""
        hint = "no reason recorded: run 'mdlp_rhcs status' on %s" % node
        if node != os.uname().nodename:
            return hint
        primitive = next((p for p in self.query("configuration").iter("primitive") if p.get("id") == member), None)
        if primitive is None or OUR_AGENT != "%s:%s:%s" % (primitive.get("class"), primitive.get("provider"),
                                                            primitive.get("type")):
            return hint
        path = next((pair.get("value") for block in primitive.findall("instance_attributes")
                     for pair in block.findall("nvpair") if pair.get("name") == "config"), None)
        from ..rhcs import config as agent_config
        from ..rhcs import report
        from ..rhcs.health import check_services
        try:
            config = agent_config.load(agent_config.resolve_path(path, {}, ocf=True), use_cache=False)
        except agent_config.ConfigError as exc:
            return "mdlp_rhcs here: %s" % exc
        down = [report.down(s) for s in check_services(config) if not s.ok]
        return notice.printable("mdlp_rhcs here: %s" % ("; ".join(down) or "every service running now"), 400)


# ---------------------------------------------------------------------------------------------
class Rgmanager:
    stack = "rgmanager"

    def __init__(self, timeout, name=None, cluster_conf="/etc/cluster/cluster.conf", program=None):
        self.timeout = timeout
        self.cluster_conf_path = cluster_conf
        try:
            self.cluster_conf = read_regular(cluster_conf).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            self.cluster_conf = None
        self.name = name or (service_in_cluster_conf(self.cluster_conf) if self.cluster_conf else None) or SERVICE
        self.program = program

    def _run(self, argv, error=Refused, input=None):
        return run_command(argv, self.timeout, error, input=input)

    def clustat(self):
        proc = self._run(["clustat", "-x"], UsageError)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise UsageError("rgmanager is not answering here: clustat -x: %s" % last_line(proc))
        try:
            root = ET.fromstring(proc.stdout)
        except ET.ParseError as exc:
            raise UsageError("clustat -x: not XML (%s)" % exc) from None
        for group in root.iter("group"):
            if group.get("name") in ("service:" + self.name, self.name):
                return root, group
        raise UsageError("rgmanager has no service %r%s" % (
            self.name, "" if self.cluster_conf else " (and %s cannot be read)" % self.cluster_conf_path))

    def _clusvcadm(self, flag, group):
        proc = self._run(["clusvcadm", flag, group.get("name")])
        if proc.returncode != 0:
            raise Refused("clusvcadm %s %s: %s" % (flag, group.get("name"), last_line(proc, stdout=True)))

    def _write_record(self, record):
        directory = state_dir(notice.record_dir())
        if directory is None:
            raise Refused("cannot keep the maintenance record: %s is not a directory only root writes"
                          % notice.record_dir())
        atomic_write(os.path.join(directory, notice.RECORD_NAME), json.dumps(record, sort_keys=True), mode=0o600)

    def _drop_record(self, record=None):
        """The record goes, and the expiry job it names."""
        if record:
            self._cancel_job(record)
        try:
            os.unlink(notice.record_path())
        except OSError:
            pass

    @contextlib.contextmanager
    def _locked(self):
        """Changes to the record one at a time (an expiry job and an admin's `on` at the same moment)."""
        import fcntl
        directory = state_dir(notice.record_dir())
        if directory is None:
            raise Refused("cannot lock the maintenance record: %s is not a directory only root writes"
                          % notice.record_dir())
        fd = open_lock(directory, "maintenance.lock")
        end = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() > end:
                    os.close(fd)
                    raise Refused("another mdlp-cluster maintenance is changing %s: try again" % self.name) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            os.close(fd)

    def on(self, request, whole_cluster=False):
        if whole_cluster:
            raise UsageError("rgmanager has no cluster-wide maintenance mode: `maintenance on` freezes the service "
                             "(leave out --cluster)")
        at = None
        if request.until:
            at = find_program("at")
            if at is None or not procfacts.scan(["atd"])["atd"]:
                raise UsageError("--for needs at(1) and atd running on rgmanager (it has no timed freeze): %s, or "
                                 "leave out --for and end it with `mdlp-cluster maintenance off`"
                                 % ("install at and start atd" if at is None else "start atd"))
        with self._locked():
            return self._on(request, at)

    def _on(self, request, at):
        _, group = self.clustat()
        previous = notice.read_record(_warn)
        if is_frozen(group) and not (previous and previous.get("service") == self.name):
            raise Refused("%s is already frozen, but not from this node: change or end that maintenance where it "
                          "was set (or `off` here first)" % self.name)
        self._clusvcadm("-Z", group)
        if not _wait(lambda: is_frozen(self.clustat()[1]), self.timeout):
            self._thaw_after_failure(group, "clusvcadm -Z said yes, but clustat does not show it frozen")
        record = dict(request.info(), service=self.name, token=secrets.token_hex(8))
        try:
            if at:
                record["job"] = self._queue_expiry(at, request.until, record["token"])
            self._write_record(record)
        except (OSError, AgentError) as exc:
            if record.get("job"):
                self._drop_record(record)
            self._thaw_after_failure(group, getattr(exc, "strerror", None) or str(exc))
        if previous:        # a renewal: the old end's job goes (its token no longer matches anyway)
            self._cancel_job(previous)
        say("maintenance ON for rgmanager service %s: frozen, rgmanager neither checks nor recovers it "
            "(nothing stopped), %s" % (self.name, notice.describe(request.info(), request.since)))
        return 0

    def _cancel_job(self, record):
        """atrm the expiry job RECORD names; where that fails, the job finds no matching token and does nothing."""
        atrm = find_program("atrm")
        if atrm and isinstance(record.get("job"), int):
            try:
                run_command([atrm, str(record["job"])], self.timeout, Refused)
            except Refused:
                pass

    def _thaw_after_failure(self, group, problem):
        """`on` failed after the freeze: thaw (asked to end by itself and it cannot: not frozen at all)."""
        try:
            self._clusvcadm("-U", group)
        except AgentError as thaw:
            raise Refused("maintenance half set: %s, and %s; %s MAY STILL BE FROZEN: clusvcadm -U %s"
                          % (problem, thaw, self.name, group.get("name"))) from None
        raise Refused("maintenance not set: %s (%s thawed again)" % (problem, group.get("name")))

    def _queue_expiry(self, at, until, token):
        """An at(1) job for the minute of UNTIL (or now, if that minute has begun: at refuses a time
        in the past) that sleeps to UNTIL's second itself, then runs `off --expired TOKEN`; its
        job number (to cancel it), or None."""
        minute = int(until) // 60 * 60
        program = self.program or os.path.abspath(sys.argv[0])
        job = ('left=$((%d - $(date +%%s)))\n[ "$left" -gt 0 ] && sleep "$left"\n'
               "exec %s maintenance off --expired %s --resource %s --cluster-conf %s\n" % (
                   int(until), shlex.quote(program), token, shlex.quote(self.name),
                   shlex.quote(self.cluster_conf_path)))
        when = ["now"] if minute <= time.time() else ["-t", time.strftime("%Y%m%d%H%M", time.localtime(minute))]
        proc = self._run([at] + when, input=job)
        if proc.returncode != 0:
            raise Refused("at could not queue the expiry: %s" % last_line(proc, stdout=True))
        number = re.search(r"\bjob (\d+)", proc.stderr + proc.stdout)
        return int(number.group(1)) if number else None

    def status(self):
        root, group = self.clustat()
        record = notice.read_record(_warn)
        on = is_frozen(group)
        result = {"stack": self.stack, "service": self.name, "on": on, "cluster_wide": False,
                  "set_by_us": bool(record and on), "info": record if on else None, "last": None,
                  "owner": group.get("owner"), "local_node": local_node(root)}
        if on and not record:
            result["note"] = "frozen, but not from this node (or not by mdlp-cluster): who and why are not known here"
        return result

    def off(self, force=False, expired=None):
        with self._locked():
            return self._off(force, expired)

    def _off(self, force, expired):
        record = notice.read_record(_warn)
        if record and record.get("service") != self.name:
            record = None
        if expired is not None:
            if not record or record.get("token") != expired:
                _log("info", "maintenance expiry job for %s ignored: the maintenance it was for has ended or "
                             "been set anew" % self.name)
                return 0
            force = True     # as Pacemaker's rule: the end comes, healthy or not
        root, group = self.clustat()
        if not is_frozen(group):
            self._drop_record(record)
            print("maintenance is not on for %s: nothing to do%s" % (
                self.name, " (the record of this node was stale: removed)" if record else ""))
            return 0
        if not force:
            self.check(root, group)
        self._clusvcadm("-U", group)
        if not _wait(lambda: not is_frozen(self.clustat()[1]), self.timeout):
            raise Refused("clusvcadm -U said yes, but clustat still shows %s frozen" % group.get("name"))
        self._drop_record(record)
        if expired is not None:
            say("maintenance of rgmanager service %s EXPIRED (%s): thawed, rgmanager checks and recovers it again"
                % (self.name, notice.describe(record)))
        else:
            say("maintenance OFF for rgmanager service %s: thawed, rgmanager checks and recovers it again%s%s"
                % (self.name, " (forced: no health check)" if force else " (health check passed)",
                   "" if record else "; it was not set from this node (or by hand): if the other node queued an "
                   "expiry (--for), that job would still thaw a later freeze at its time -- `mdlp-cluster maintenance "
                   "off` there removes it (or atq/atrm)"))
        return 0

    def check(self, root, group):
        owner = group.get("owner")
        name = group.get("name")
        if (group.get("state_str") or "") != "started" or owner in (None, "", "none"):
            problem = "%s is %s" % (name, group.get("state_str") or "in an unknown state")
        elif owner != local_node(root):
            raise Refused("maintenance stays ON for %s: it runs on %s, and the health check runs where the service "
                          "runs: run `mdlp-cluster maintenance off` there (or --force here)" % (self.name, owner))
        else:
            script = script_in_cluster_conf(self.cluster_conf)
            proc = run_command([script, "status"], self.timeout, Refused)
            if proc.returncode == 0:
                return
            problem = "%s status: %s" % (script, last_line(proc, stdout=True))
        message = ("maintenance stays ON for %s: the service is not healthy: %s -- fix it, or end maintenance anyway "
                   "with --force" % (self.name, problem))
        raise Refused(message)


def stack(timeout, name=None, cluster_conf="/etc/cluster/cluster.conf"):
    """The cluster manager that runs here: Pacemaker (crm_mon), else rgmanager (clustat)."""
    if find_program("crm_mon"):
        if not find_program("clustat"):
            return Pacemaker(timeout, name)
        proc = run_command(["crm_mon", "--output-as=xml"], timeout, UsageError)
        if proc.stdout.lstrip().startswith("<") and proc.returncode == 0:
            return Pacemaker(timeout, name)
    if find_program("clustat"):
        return Rgmanager(timeout, name, cluster_conf)
    raise UsageError("no cluster manager here: neither crm_mon (Pacemaker) nor clustat (rgmanager) is installed")


def status_lines(state):
    """`maintenance status` for a person."""
    service = state["service"]
    lines = []
    if state["on"] and state.get("info"):
        scope = "the whole cluster (maintenance-mode)" if state.get("scope") == "cluster" else service
        lines.append("maintenance: ON for %s (%s), %s" % (scope, state["stack"], notice.describe(state["info"])))
    elif state["on"]:
        why = state.get("note") or ("the cluster's maintenance-mode is on" if state.get("cluster_wide")
                                    else "unmanaged, but not by mdlp-cluster (is-managed or maintenance set by hand)")
        lines.append("maintenance: ON for %s (%s): %s" % (service, state["stack"], why))
    else:
        lines.append("maintenance: off for %s (%s): the cluster acts on its health" % (service, state["stack"]))
        if state.get("last"):
            lines.append("last: %s" % notice.describe(state["last"]))
    return lines
