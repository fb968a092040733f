"""rgmanager (cman + rgmanager + fenced): the only code that runs its tools (clustat, clusvcadm,
at/atrm for timed maintenance, fence_node) and reads clustat's XML.

Maintenance is `clusvcadm -Z` (frozen: no status checks, no recovery) and `-U`.  rgmanager has no
timed freeze: --for queues an at(1) job -- atd is the system's one-shot scheduler, not a daemon of
ours -- that runs `mdlp-cluster maintenance off --expired TOKEN` at the end; a later on/off changes
the token, so a stale job does nothing.  The record (who, why, until, token, job) is this node's
(common/maintenance_record.py).  Ending it runs the script cluster.conf names with `status` on the
node that owns the service, first."""

import os
import re
import secrets
import shlex
import sys
import time

from ...common import maintenance_record as record
from ...common.convert import whole_number
from ...common.errors import AgentError
from ...common.files import find_program
from ...common.paths import CLUSTER_CONF
from ...common.procfs import scan
from . import cluster_conf
from .base import SERVICE, NotAnswering, Refused, Stack, empty_status, said, wait
from .cib import xml
from .rgmanager_drill import MOVE_TIMEOUT, RgmanagerDrill
from .runner import last_line

ATD = "/usr/sbin/atd"
RGMANAGER_SCRIPT_STATUS = 30    # script.sh's status interval, where cluster.conf gives none
RGMANAGER_SCAN = 10             # <rm status_poll_interval>'s default: how often due checks are looked for


# -- clustat -x, read ------------------------------------------------------------------------------
def is_frozen(group):
    """A clustat -x <group> that clusvcadm -Z froze (flags bit 1, flags_str "frozen")."""
    try:
        flags = whole_number(group.get("flags") or "0")
    except ValueError:
        flags = 0
    return "frozen" in (group.get("flags_str") or "") or flags & 1 == 1


def local_node(root):
    """The name of the node clustat -x ran on."""
    return next((n.get("name") for n in root.iter("node") if n.get("local") == "1"), None)


def clustat_root(text, error):
    root = xml(text, "clustat -x", error)
    if root.tag != "clustat":
        raise error("clustat -x: the root element is <%s>, not <clustat>" % root.tag)
    return root


def status(text, conf_root=None, service=None):
    """What clustat -x TEXT says of the service (its name and floating IP from cluster.conf)."""
    root = clustat_root(text, NotAnswering)
    found = empty_status("rgmanager")
    service = service or cluster_conf.service_name(conf_root) or SERVICE
    found["service"] = service
    cluster = root.find("cluster")
    found["cluster"] = cluster.get("name") if cluster is not None else None
    quorum = root.find("quorum")
    found["quorate"] = quorum is not None and quorum.get("quorate") == "1"
    for node in root.iter("node"):
        found["nodes"].append({"name": node.get("name"), "online": node.get("state") == "1",
                               "local": node.get("local") == "1"})
    for group in root.iter("group"):
        if group.get("name") in ("service:" + service, service):
            _group_state(found, group)
    if found["state"] == "unknown" and root.find("groups") is not None:
        found["state"] = "not configured"
    if conf_root is not None:
        found["floating_ip"] = cluster_conf.floating_ip(conf_root, service)
    return found


def _group_state(found, group):
    state = group.get("state_str") or "unknown"
    found["state"] = state
    owner = group.get("owner")
    found["active_node"] = owner if state == "started" and owner not in (None, "", "none") else None
    if found["active_node"] and not any(n["name"] == owner and n["online"] for n in found["nodes"]):
        found["state"] = "recovering"   # its owner is gone: rgmanager has yet to notice
    found["last_owner"] = group.get("last_owner")
    found["last_transition"] = group.get("last_transition")
    if is_frozen(group):
        found["maintenance"] = {"on": True, "how": "frozen (clusvcadm -Z)"}
    try:
        found["restarts"] = whole_number(group.get("restarts") or "0")
    except ValueError:
        found["restarts"] = None


def read_conf(path, trusted=False):
    """cluster.conf's tree, or None where it cannot be read (the floating IP shows as unknown)."""
    try:
        return cluster_conf.read(path, trusted)
    except (OSError, AgentError):
        return None


# -- the stack ----------------------------------------------------------------------------------------
class Rgmanager(RgmanagerDrill, Stack):
    name = "rgmanager"

    def __init__(self, runner, timeout, service=None, conf_path=CLUSTER_CONF, program=None):
        Stack.__init__(self, runner, timeout, service)
        self.conf_path = conf_path
        self.conf = read_conf(conf_path)
        self.service = service or cluster_conf.service_name(self.conf) or SERVICE
        self.given = service
        self.program = program            # mdlp-cluster, for the expiry job (default: this one)

    def answering(self):
        """Refused (clustat's word) unless rgmanager answers here."""
        proc = self.run(["clustat", "-x"], NotAnswering)
        if proc.returncode != 0 or "<clustat" not in proc.stdout:
            raise Refused("rgmanager is not running here: clustat: %s" % last_line(proc))

    def clustat_text(self, error=NotAnswering):
        proc = self.run(["clustat", "-x"], error)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise error("clustat -x: %s" % last_line(proc))
        return proc.stdout

    def status(self):
        return status(self.clustat_text(), self.conf, self.given)

    def clustat(self):
        """(clustat's root, the service's group)."""
        proc = self.run(["clustat", "-x"], NotAnswering)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise NotAnswering("rgmanager is not answering here: clustat -x: %s" % last_line(proc))
        root = xml(proc.stdout, "clustat -x", NotAnswering)
        for group in root.iter("group"):
            if group.get("name") in ("service:" + self.service, self.service):
                return root, group
        raise NotAnswering("rgmanager has no service %r%s" % (
            self.service, "" if self.conf is not None else " (and %s cannot be read)" % self.conf_path))

    def _clusvcadm(self, flag, group, *more, timeout=None):
        """clusvcadm FLAG GROUP MORE...: TIMEOUT for one that waits for the service to stop and start
        (-r, -e, -d return when rgmanager is done)."""
        argv = ["clusvcadm", flag, group.get("name")] + list(more)
        proc = self.runner(argv, timeout, Refused) if timeout else self.run(argv)
        if proc.returncode != 0:
            raise Refused("clusvcadm %s %s: %s" % (flag, group.get("name"), last_line(proc, stdout=True)))
        return proc

    def _locked(self):
        return _Locked(self.timeout, self.service)

    # -- maintenance -------------------------------------------------------------------------
    def maintenance_on(self, request, whole_cluster=False):
        if whole_cluster:
            raise NotAnswering("rgmanager has no cluster-wide maintenance mode: `maintenance on` freezes the "
                               "service (leave out --cluster)")
        at = None
        if request.until:
            at = find_program("at")
            problem = "install at and start atd" if at is None else atd_problem()
            if problem:
                raise NotAnswering("--for needs at(1) and atd running on rgmanager (it has no timed freeze): %s, or "
                                   "leave out --for and end it with `mdlp-cluster maintenance off`" % problem)
        with self._locked():
            return self._on(request, at)

    def _on(self, request, at):
        _, group = self.clustat()
        previous = record.read_record(_warn)
        if is_frozen(group) and not (previous and previous.get("service") == self.service):
            raise Refused("%s is already frozen, but not from this node: change or end that maintenance where it "
                          "was set (or `off` here first)" % self.service)
        self._clusvcadm("-Z", group)
        if not wait(lambda: is_frozen(self.clustat()[1]), self.timeout):
            self._thaw_after_failure(group, "clusvcadm -Z said yes, but clustat does not show it frozen")
        written = dict(request.info(), service=self.service, token=secrets.token_hex(8))
        try:
            if at:
                written["job"] = self._queue_expiry(at, request.until, written["token"])
            record.write_record(written)
        except (OSError, AgentError) as exc:
            if written.get("job"):
                self._cancel_job(written)
                record.drop_record()
            self._thaw_after_failure(group, getattr(exc, "strerror", None) or str(exc))
        if previous:        # a renewal: the old end's job goes (its token no longer matches anyway)
            self._cancel_job(previous)
        return [said("maintenance ON for rgmanager service %s: frozen, rgmanager neither checks nor recovers it "
                 "(nothing stopped), %s" % (self.service, record.describe(request.info(), request.since)), "notice")]

    def _cancel_job(self, written):
        """atrm the expiry job WRITTEN names; where that fails, the job finds no matching token and does nothing."""
        atrm = find_program("atrm")
        if atrm and isinstance(written.get("job"), int):
            try:
                self.run([atrm, str(written["job"])])
            except Refused:
                pass

    def _drop(self, written):
        """The record goes, and the expiry job it names."""
        if written:
            self._cancel_job(written)
        record.drop_record()

    def _thaw_after_failure(self, group, problem):
        """`on` failed after the freeze: thaw (asked to end by itself and it cannot: not frozen at all)."""
        try:
            self._clusvcadm("-U", group)
        except AgentError as thaw:
            raise Refused("maintenance half set: %s, and %s; %s MAY STILL BE FROZEN: clusvcadm -U %s"
                          % (problem, thaw, self.service, group.get("name"))) from None
        raise Refused("maintenance not set: %s (%s thawed again)" % (problem, group.get("name")))

    def _queue_expiry(self, at, until, token):
        """An at(1) job for the minute of UNTIL (or now, if that minute has begun: at refuses a time
        in the past) that sleeps to UNTIL's second itself, then runs `off --expired TOKEN`; its
        job number (to cancel it), or None."""
        minute = int(until) // 60 * 60
        program = self.program or os.path.abspath(sys.argv[0])
        job = ('left=$((%d - $(date +%%s)))\n[ "$left" -gt 0 ] && sleep "$left"\n'
               "exec %s maintenance off --expired %s --resource %s --cluster-conf %s\n" % (
                   int(until), shlex.quote(program), token, shlex.quote(self.service), shlex.quote(self.conf_path)))
        when = ["now"] if minute <= time.time() else ["-t", time.strftime("%Y%m%d%H%M", time.localtime(minute))]
        proc = self.run([at] + when, input=job)
        if proc.returncode != 0:
            raise Refused("at could not queue the expiry: %s" % last_line(proc, stdout=True))
        number = re.search(r"\bjob (\d+)", proc.stderr + proc.stdout)
        return int(number.group(1)) if number else None

    def maintenance_state(self):
        root, group = self.clustat()
        written = record.read_record(_warn)
        on = is_frozen(group)
        result = {"stack": self.name, "service": self.service, "on": on, "cluster_wide": False,
                  "set_by_us": bool(written and on), "info": written if on else None, "last": None,
                  "owner": group.get("owner"), "local_node": local_node(root)}
        if on and not written:
            result["note"] = "frozen, but not from this node (or not by mdlp-cluster): who and why are not known here"
        return result

    def maintenance_off(self, force=False, expired=None):
        with self._locked():
            return self._off(force, expired)

    def _off(self, force, expired):
        written = record.read_record(_warn)
        if written and written.get("service") != self.service:
            written = None
        if expired is not None:
            if not written or written.get("token") != expired:
                return [said("maintenance expiry job for %s ignored: the maintenance it was for has ended or been set "
                         "anew" % self.service, "info", shown=False)]
            force = True     # as Pacemaker's rule: the end comes, healthy or not
        root, group = self.clustat()
        if not is_frozen(group):
            self._drop(written)
            return [said("maintenance is not on for %s: nothing to do%s" % (
                self.service, " (the record of this node was stale: removed)" if written else ""), None)]
        if not force:
            self.check(root, group)
        self._clusvcadm("-U", group)
        if not wait(lambda: not is_frozen(self.clustat()[1]), self.timeout):
            raise Refused("clusvcadm -U said yes, but clustat still shows %s frozen" % group.get("name"))
        self._drop(written)
        if expired is not None:
            return [said("maintenance of rgmanager service %s EXPIRED (%s): thawed, rgmanager checks and recovers it "
                     "again" % (self.service, record.describe(written)), "notice")]
        return [said("maintenance OFF for rgmanager service %s: thawed, rgmanager checks and recovers it again%s%s"
                 % (self.service, " (forced: no health check)" if force else " (health check passed)",
                    "" if written else "; it was not set from this node (or by hand): if the other node queued an "
                    "expiry (--for), that job would still thaw a later freeze at its time -- `mdlp-cluster maintenance "
                    "off` there removes it (or atq/atrm)"), "notice")]

    def check(self, root, group):
        """Refused unless the service runs here and the script cluster.conf names says it is healthy."""
        owner = group.get("owner")
        name = group.get("name")
        if (group.get("state_str") or "") != "started" or owner in (None, "", "none"):
            problem = "%s is %s" % (name, group.get("state_str") or "in an unknown state")
        elif owner != local_node(root):
            raise Refused("maintenance stays ON for %s: it runs on %s, and the health check runs where the service "
                          "runs: run `mdlp-cluster maintenance off` there (or --force here)" % (self.service, owner))
        else:
            problem = self._script_problem()
            if problem is None:
                return
        raise Refused("maintenance stays ON for %s: the service is not healthy: %s -- fix it, or end maintenance "
                      "anyway with --force" % (self.service, problem))

    def _script_problem(self):
        """None if the script cluster.conf names says `status` is fine, else what is wrong.  The
        script runs as root: cluster.conf must be root's alone to be believed."""
        try:
            conf = cluster_conf.read(self.conf_path, trusted=True)
        except (OSError, AgentError) as exc:
            raise Refused("health check: %s: %s (--force ends it without the check)" % (
                self.conf_path, getattr(exc, "strerror", None) or exc)) from None
        script = cluster_conf.script_path(conf)
        proc = self.run([script, "status"])
        if proc.returncode == 0:
            return None
        return "%s status: %s" % (script, last_line(proc, stdout=True))

    # -- fencing and moves -----------------------------------------------------------------------
    def fence_devices(self, node):
        conf = cluster_conf.read(self.conf_path, trusted=True)
        return cluster_conf.fence_devices(conf, node)

    def race(self):
        conf = cluster_conf.read(self.conf_path)
        delays = {}
        for node in cluster_conf.node_names(conf):
            for _, _, params in cluster_conf.fence_devices(conf, node):
                try:
                    delays[node] = max(delays.get(node, 0), whole_number(params.get("delay") or "0"))
                except ValueError:
                    delays[node] = delays.get(node, 0)
        return {"stack": self.name, "delays": delays}

    def detection(self):
        """The mdlp_rhcs script's status interval (rgmanager's default for a script: 30 s) and how
        often rgmanager looks for checks that are due (status_poll_interval, default 10 s)."""
        conf = cluster_conf.read(self.conf_path)
        rm, scripts = conf.find("rm"), cluster_conf.our_scripts(conf)
        interval = RGMANAGER_SCRIPT_STATUS if scripts else None
        for script in scripts:
            for action in script.find_all("action"):
                if action.get("name") == "status":
                    try:
                        interval = whole_number(action.get("interval") or "")
                    except ValueError:
                        continue
        try:
            scan = whole_number((rm.get("status_poll_interval") if rm is not None else None) or "")
        except ValueError:
            scan = RGMANAGER_SCAN
        return {"stack": self.name, "interval": interval, "scan": scan}

    def fence_history(self, node):
        raise Refused("rgmanager keeps no fence history to ask: see fenced's log (/var/log/cluster/fenced.log)")

    def move(self, node):
        """clusvcadm -r: done when the service stopped here and started there (the script's stop and
        start, each bounded by the agent's own timeouts)."""
        _, group = self.clustat()
        return last_line(self._clusvcadm("-r", group, "-m", node, timeout=MOVE_TIMEOUT), stdout=True,
                         default="relocated")


class _Locked:
    """The record's lock (record_locked), its failure a refusal."""

    def __init__(self, timeout, what):
        self.context = record.record_locked(timeout, what)

    def __enter__(self):
        try:
            return self.context.__enter__()
        except record.RecordError as exc:
            raise Refused(str(exc)) from None

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)


def _warn(message):
    from ...common.syslogging import AgentLog
    try:
        AgentLog("mdlp-cluster").warning(message)
    except Exception:   # noqa: BLE001 -- logging never turns a done change into an error
        pass


def atd_problem():
    """None if the system's atd runs (/usr/sbin/atd started by root -- it runs as daemon, its real uid
    stays root's -- neither stopped nor a zombie): anybody can name a process atd; else what to do."""
    running = [p for p in scan(["atd"])["atd"] if not p.dead and p.state not in ("T", "t")]
    if not running:
        return "start atd"
    system = {os.path.realpath(ATD), os.path.realpath("/usr/bin/atd")}
    for proc in running:
        try:
            exe = os.path.realpath(os.readlink("/proc/%d/exe" % proc.pid))
            with open("/proc/%d/status" % proc.pid) as handle:
                real_uid = next(int(line.split()[1]) for line in handle if line.startswith("Uid:"))
        except (OSError, ValueError, IndexError, StopIteration):
            continue
        if real_uid == 0 and exe in system:
            return None
    return "atd runs, but not root's %s (another user's process named atd does not end maintenance)" % ATD
