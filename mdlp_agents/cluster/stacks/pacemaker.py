"""Pacemaker: the only code that runs its tools (crm_mon, cibadmin, crm_resource, stonith_admin).

Maintenance is our meta_attributes block <UNIT>-mdlp-maintenance-<TAG> (score INFINITY: it wins
over the resource's own) on the service's group or lone resource, holding maintenance=true: the
resource is unmanaged and its recurring monitors pause, so a service restarted meanwhile records
no failure that would relocate it afterwards (is-managed=false alone keeps monitoring and counting
failures).  The whole cluster: the cluster_property_set mdlp-maintenance-<TAG> with
maintenance-mode=true.  A rule with a date_expression (operation lt, end UNTIL) makes a block
apply until then: Pacemaker ends it by itself (measured on 2.1.5 with the default 15-minute
cluster-recheck-interval: on time to the second).  Ending it checks health first through
Pacemaker's own probes (crm_resource --refresh: probes run even in maintenance)."""

import os
import secrets
import xml.etree.ElementTree as ET

from ...common import maintenance_record as record
from ...common.files import read_regular
from ...common.paths import COROSYNC_CONF
from . import cib
from .base import NotAnswering, Refused, Stack, empty_status, said, wait
from .pacemaker_drill import PacemakerDrill
from .runner import last_line

OCF_NAMES = {"0": "running", "1": "error", "2": "invalid argument", "3": "unimplemented",
             "4": "insufficient privileges", "5": "not installed", "6": "not configured", "7": "not running"}


class Pacemaker(PacemakerDrill, Stack):
    name = "pacemaker"

    # -- asking ------------------------------------------------------------------------------
    def mon_text(self, says="Pacemaker is not answering here: crm_mon"):
        """crm_mon's XML, as printed; NotAnswering ("SAYS: its last line") when Pacemaker does not
        answer here."""
        proc = self.run(["crm_mon", "--output-as=xml"], NotAnswering)
        if not proc.stdout.lstrip().startswith("<"):
            raise NotAnswering("%s: %s" % (says, last_line(proc)))
        return proc.stdout

    def mon(self):
        """crm_mon's view, parsed; NotAnswering when Pacemaker does not answer here."""
        return cib.crm_mon_root(self.mon_text(), NotAnswering)

    def answers(self):
        """Does Pacemaker answer here (crm_mon prints its XML and exits 0)?"""
        proc = self.run(["crm_mon", "--output-as=xml"], NotAnswering)
        return proc.returncode == 0 and proc.stdout.lstrip().startswith("<")

    def query(self, scope, local=False):
        """A section of the CIB (cibadmin --query), parsed; Refused when cibadmin fails."""
        proc = self.run(["cibadmin", "--query"] + (["--local"] if local else []) + ["--scope", scope])
        if proc.returncode != 0:
            raise Refused("cibadmin --query: %s" % last_line(proc))
        return cib.xml(proc.stdout, "cibadmin --query", Refused)

    def configuration_text(self):
        """The CIB's configuration as this node holds it (cibadmin --query --local); Refused, with
        cibadmin's word, when it cannot be read."""
        proc = self.run(["cibadmin", "--query", "--local", "--scope", "configuration"], NotAnswering)
        if proc.returncode != 0 or not proc.stdout.lstrip().startswith("<"):
            raise Refused("Pacemaker is not running here: cibadmin: %s" % last_line(proc))
        return proc.stdout

    def unit(self, root):
        unit = cib.our_unit(root, self.service)
        if unit is None:
            if self.service:
                raise NotAnswering("no group or resource %r in the CIB" % self.service)
            raise NotAnswering("no mdlp service in the CIB (no group or resource runs %s); name it with --resource"
                               % cib.OUR_AGENT)
        return unit

    def status(self):
        return self.status_of(cib.crm_mon_root(self.mon_text(says="crm_mon")))

    def status_of(self, root, details=True):
        """status() of crm_mon's parsed ROOT; DETAILS: what else is asked (who set maintenance, the
        floating IP)."""
        found = cib.status_of_root(root, self.service, empty_status(self.name))
        if found["maintenance"] and details:
            try:    # who, why and until: a detail -- without it the line still says MAINTENANCE
                proc = self.run(["cibadmin", "--query", "--scope", "configuration"], NotAnswering)
                info = cib.maintenance_info(proc.stdout, found["service"]) if proc.returncode == 0 else None
                if info:
                    found["maintenance"]["info"] = info
            except NotAnswering:
                pass
        rid = found.get("ip_resource")
        if rid and details:
            ip = self.run(["crm_resource", "--resource", rid, "--get-parameter", "ip"], NotAnswering)
            if ip.returncode == 0 and ip.stdout.strip():
                found["floating_ip"] = ip.stdout.strip().splitlines()[-1]
        return found

    # -- maintenance -------------------------------------------------------------------------
    def now_unmanaged(self):
        return cib.unmanaged(self.unit(self.mon()))

    def ours(self, unit_id):
        """Our blocks in the CIB that concern UNIT_ID: [(scope, unit, info, id)]."""
        return [b for b in record.blocks_in(self.query("configuration")) if b[1] in (None, unit_id)]

    def _cib(self, *argv):
        proc = self.run(["cibadmin"] + list(argv))
        if proc.returncode != 0:
            raise Refused("cibadmin %s: %s" % (argv[0], last_line(proc)))

    def _delete(self, scope, bid):
        tag = "cluster_property_set" if scope == "cluster" else "meta_attributes"
        self._cib("--delete", "--xml-text", ET.tostring(ET.Element(tag, id=bid), encoding="unicode"))

    def maintenance_on(self, request, whole_cluster=False):
        unit = self.unit(self.mon())
        uid = unit.get("id")
        scope = "cluster" if whole_cluster else "resource"
        before = [b for b in self.ours(uid) if b[0] == scope]
        bid = record.block_id(None if whole_cluster else uid, secrets.token_hex(3))
        # the new block first, then the old ones go: a renewal is never a moment without maintenance
        if whole_cluster:
            element = record.cib_block("cluster_property_set", bid, "maintenance-mode", request.info(), request.until)
            self._cib("--create", "--scope", "crm_config", "--xml-text", ET.tostring(element, encoding="unicode"))
            what = "the whole cluster (maintenance-mode; %s included)" % uid
        else:
            holder = ET.Element("group" if unit.tag == "group" else "primitive", id=uid)
            holder.append(record.cib_block("meta_attributes", bid, "maintenance", request.info(), request.until))
            self._cib("--modify", "--xml-text", ET.tostring(holder, encoding="unicode"))
            what = "%s %s" % (unit.tag if unit.tag == "group" else "resource", uid)
        for old_scope, _, _, old_id in before:
            self._delete(old_scope, old_id)
        if not wait(self.now_unmanaged, self.timeout):
            raise Refused("the CIB holds the maintenance, but Pacemaker still manages %s after %gs"
                          % (uid, self.timeout))
        return [said("maintenance ON for %s: Pacemaker does not act on its health (nothing stopped), %s"
                 % (what, record.describe(request.info(), request.since)), "notice")]

    def maintenance_state(self):
        root = self.mon()
        unit = self.unit(root)
        return self._state(root, unit, self.ours(unit.get("id")))

    def _state(self, root, unit, blocks):
        result = {"stack": self.name, "service": unit.get("id"), "on": cib.unmanaged(unit),
                  "cluster_wide": cib.cluster_mode(root), "set_by_us": False, "info": None, "last": None}
        for scope, _, info, _ in blocks:
            if record.in_force(info):
                result.update(set_by_us=True, info=info, scope=scope)
            else:
                result["last"] = info
        return result

    def maintenance_off(self, force=False, expired=None):
        root = self.mon()
        unit = self.unit(root)
        uid = unit.get("id")
        blocks = self.ours(uid)
        state = self._state(root, unit, blocks)
        if not state["on"]:
            return [said("maintenance is not on for %s: nothing to do%s" % (
                uid, " (the last one: %s)" % record.describe(state["last"]) if state["last"] else ""), None)]
        if not state["set_by_us"]:
            raise Refused("%s is unmanaged, but not by mdlp-cluster (%s): left as it is" % (
                uid, "the cluster's maintenance-mode" if state["cluster_wide"]
                else "is-managed or maintenance set by hand"))
        if not force:
            self.check(root, unit)
        for scope, _, _, bid in blocks:
            self._delete(scope, bid)
        if not wait(lambda: not self.now_unmanaged(), self.timeout):
            raise Refused("%s is still unmanaged: is-managed, maintenance or maintenance-mode is set outside "
                          "mdlp-cluster (see crm_mon and the CIB)" % uid)
        return [said("maintenance OFF for %s: Pacemaker acts on its health again%s"
                 % (uid, " (forced: no health check)" if force else " (health check passed)"), "notice")]

    # -- the health check: Pacemaker's own probes ----------------------------------------------
    def fresh_probes(self, uid, members, nodes):
        """crm_resource --refresh of UID, then {(node, member): (call, rc, reason)} once every online
        node has reported on every member since; None if they did not within the timeout."""
        before = cib.last_operations(self.query("status"), members)
        proc = self.run(["crm_resource", "--refresh", "--resource", uid])
        if proc.returncode != 0:
            raise Refused("health check: crm_resource --refresh: %s (--force skips the check)" % last_line(proc))

        def fresh():
            now = cib.last_operations(self.query("status"), members)
            if all(key in now and now[key][0] > before.get(key, (-1,))[0] and now[key][1] != cib.PROBE_PENDING
                   for key in [(n, m) for n in nodes for m in members]):
                return now
            return None

        return wait(fresh, self.timeout, interval=0.2)

    def check(self, root, unit):
        """Refused unless every member runs on one node and nowhere else, by fresh probes."""
        uid = unit.get("id")
        members = [m.get("id") for m in cib.members(unit)]
        results = self.fresh_probes(uid, members, cib.online_nodes(root))
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
            raise Refused("maintenance stays ON for %s: the service is not healthy: %s -- fix it, or end maintenance "
                          "anyway with --force" % (uid, "; ".join(problems)))

    def asked(self, member, node):
        """Why MEMBER failed on NODE when its probe recorded no reason: what mdlp_rhcs says here
        (MEMBER runs our agent, NODE is this node), else where to ask."""
        hint = "no reason recorded: run 'mdlp_rhcs status' on %s" % node
        if node != os.uname().nodename:
            return hint
        element = cib.primitive(self.query("configuration"), member)
        if element is None or cib.agent_of(element) != cib.OUR_AGENT:
            return hint
        from ...rhcs import config as agent_config
        from ...rhcs import report
        from ...rhcs.health import check_services
        try:
            config = agent_config.load(agent_config.resolve_path(cib.params(element).get("config"), {}, ocf=True),
                                       use_cache=False)
        except agent_config.ConfigError as exc:
            return "mdlp_rhcs here: %s" % exc
        down = [report.down(s) for s in check_services(config) if not s.ok]
        return record.printable("mdlp_rhcs here: %s" % ("; ".join(down) or "every service running now"), 400)

    # -- fencing and moves -----------------------------------------------------------------------
    def fence_devices(self, node):
        return cib.fence_devices(self.query("resources", local=True), node)

    def race(self):
        return dict(cib.race_settings(self.query("configuration", local=True)), stack=self.name)

    def detection(self):
        return dict(cib.agent_monitor(self.query("configuration", local=True)), stack=self.name)

    def fence_history(self, node):
        proc = self.run(["stonith_admin", "--history", node, "--verbose", "--output-as=xml"])
        if proc.returncode != 0 or not proc.stdout.lstrip().startswith("<"):
            raise Refused("stonith_admin --history %s: %s" % (node, last_line(proc, stdout=True)))
        return cib.fence_events(cib.xml(proc.stdout, "stonith_admin --history", Refused))

    def move(self, node):
        unit = self.unit(self.mon())
        proc = self.run(["crm_resource", "--move", "--resource", unit.get("id"), "--node", node])
        if proc.returncode != 0:
            raise Refused("crm_resource --move %s to %s: %s" % (unit.get("id"), node, last_line(proc)))
        return last_line(proc, stdout=True, default="moved")

    def clear_move(self):
        """Remove the constraints a move or ban left (crm_resource --clear): what was done."""
        unit = self.unit(self.mon())
        proc = self.run(["crm_resource", "--clear", "--resource", unit.get("id")])
        if proc.returncode != 0:
            raise Refused("crm_resource --clear %s: %s" % (unit.get("id"), last_line(proc)))
        return "move constraint cleared (crm_resource --clear)"


def corosync_node_names(path=COROSYNC_CONF):
    """The names in corosync.conf's nodelist (name: lines after `nodelist`; not cluster_name), or []."""
    import re
    try:
        text = read_regular(path).decode("utf-8", "replace")
    except OSError:
        return []
    return re.findall(r"^\s*name\s*:\s*(\S+)", text.split("nodelist", 1)[-1], re.M)
