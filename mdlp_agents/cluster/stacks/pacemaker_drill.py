"""What the drill asks of Pacemaker, mixed into pacemaker.Pacemaker (whose crm_mon and cibadmin
readers it uses): the pair's view, the settings its budgets are made of, Pacemaker's own prediction
of a failure (crm_simulate), fail counts, cleanup, a ban while the service is put back, fencing."""

from . import cib, cib_drill
from .base import NotAnswering, Refused
from .runner import last_line


class PacemakerDrill:
    fence_history_kept = True       # stonith_admin --history: who was fenced, when, by whom
    drill_unsupported = {}
    drill_undo = {}

    def local_node(self):
        """This node's name in the cluster (crm_node --name)."""
        proc = self.run(["crm_node", "--name"], NotAnswering)
        name = proc.stdout.strip()
        if proc.returncode != 0 or not name or len(name.split()) != 1:
            raise NotAnswering("crm_node --name: %s" % last_line(proc, stdout=True))
        return name

    @staticmethod
    def start_command():
        """What starts this manager on a node (its cluster stack: corosync comes with it)."""
        return ["systemctl", "start", "pacemaker"]

    def cluster_name(self):
        """The cluster's name (corosync's totem.cluster_name)."""
        proc = self.run(["corosync-cmapctl", "-g", "totem.cluster_name"], NotAnswering)
        name = proc.stdout.rpartition("=")[2].strip()
        if proc.returncode != 0 or not name:
            raise NotAnswering("corosync-cmapctl -g totem.cluster_name: %s" % last_line(proc, stdout=True))
        return name

    def drill_view(self, full=True):
        """What the drill asks, read now from one crm_mon: a status (status()'s shape), "failures",
        "node_flags", "fencing_enabled", "members", "member_roles"; FULL (the guard's) adds "devices"
        ({node: [(device, node it is started on or None)]}), "leftovers" (move/ban constraints),
        "pending_fencing" and the status's details.  Not FULL: what a wait polls, one crm_mon."""
        root = cib.crm_mon_root(self.mon_text(), NotAnswering)     # crm_mon saying it is not connected too
        view = self.status_of(root, details=full)
        view["failures"] = cib_drill.failures(root)
        view["node_flags"] = cib_drill.node_flags(root)
        view["fencing_enabled"] = cib_drill.fencing_enabled(root)
        unit = cib.our_unit(root, self.service)
        view["members"] = [m.get("id") for m in cib.members(unit)] if unit is not None else []
        view["member_roles"] = {m.get("id"): m.get("role") for m in cib.members(unit)} if unit is not None else {}
        if full:
            configuration = self.query("configuration", local=True)
            started = cib_drill.started_devices(root)
            names = [n["name"] for n in view["nodes"]]
            view["devices"] = {node: [(d, started.get(d)) for d, _, _ in cib.fence_devices(configuration, node)]
                               for node in names}
            view["leftovers"] = cib_drill.leftover_constraints(configuration)
            view["pending_fencing"] = [e for node in names for e in self.fence_history(node)
                                       if e["state"] == "pending"]
        return view

    def membership(self):
        """{"token", "consensus"}: seconds corosync takes to declare a silent node lost (its runtime
        values: corosync-cmapctl)."""
        found = {}
        for key in ("token", "consensus"):
            proc = self.run(["corosync-cmapctl", "-g", "runtime.config.totem." + key], NotAnswering)
            value = proc.stdout.rpartition("=")[2].strip()
            if proc.returncode != 0 or not value.isdigit() or len(value) > 9:
                raise NotAnswering("corosync-cmapctl -g runtime.config.totem.%s: %s"
                                   % (key, last_line(proc, stdout=True)))
            found[key] = int(value) / 1000.0
        return found

    def timeouts(self):
        """What the drill's budgets are made of: {"start", "stop" (the service's op timeouts),
        "detection", "race", "membership", "devices" ({node: [device ids]})}."""
        configuration = self.query("configuration", local=True)
        root = self.mon()
        unit = self.unit(root)
        found = cib_drill.op_timeouts(configuration, [m.get("id") for m in cib.members(unit)])
        nodes = [n.get("name") for n in root.findall("nodes/node") if n.get("name")]
        found.update(detection=cib.agent_monitor(configuration), race=cib.race_settings(configuration),
                     membership=self.membership(),
                     devices={n: [d for d, _, _ in cib.fence_devices(configuration, n)] for n in nodes})
        return found

    def _simulate(self, *argv):
        unit = self.unit(self.mon())
        proc = self.run(["crm_simulate", "--live-check", "--simulate", "--output-as=xml"] + list(argv), NotAnswering)
        if proc.returncode != 0 or not proc.stdout.lstrip().startswith("<"):
            raise NotAnswering("crm_simulate %s: %s" % (" ".join(argv), last_line(proc, stdout=True)))
        return cib_drill.simulated(proc.stdout, unit.get("id"), NotAnswering)

    def _monitored(self):
        """Our agent's recurring monitor ({"resource", "interval", "timeout"}): read once."""
        if getattr(self, "_monitor", None) is None:
            self._monitor = cib.agent_monitor(self.query("configuration", local=True))
        return self._monitor

    def predict_failure(self, node):
        """Pacemaker's own answer to "our agent's monitor fails on NODE": {"where", "fenced", "actions"}."""
        monitor = cib.agent_monitor(self.query("configuration", local=True))
        if not monitor["resource"] or not monitor["interval"]:
            raise NotAnswering("no recurring monitor of %s in the CIB: nothing would notice a failure"
                               % cib.OUR_AGENT)
        self._monitor = monitor
        spec = "%s_monitor_%d@%s=1" % (monitor["resource"], round(monitor["interval"] * 1000), node)
        return self._simulate("--op-inject", spec)

    def predict_node_loss(self, node):
        """Pacemaker's own answer to "NODE is lost": {"where", "fenced", "actions"}."""
        return self._simulate("--node-fail", node)

    def failure_mark(self, node):
        """Our agent's fail count on NODE (crm_failcount; INFINITY is a big number): a failure counted
        is a mark that grew (failure_counted)."""
        proc = self.run(["crm_failcount", "--query", "--resource", self._monitored()["resource"] or "",
                         "--node", node])
        value = proc.stdout.rpartition("value=")[2].strip().lower()
        if proc.returncode != 0 or not value:
            raise Refused("crm_failcount: %s" % last_line(proc, stdout=True))
        if value == "infinity":
            return 1000000
        return int(value) if value.isdigit() and len(value) < 9 else 0

    @staticmethod
    def failure_counted(before, now):
        return now > before

    def cleanup(self):
        """Forget the service's failures (crm_resource --cleanup: Pacemaker probes it again)."""
        unit = self.unit(self.mon())
        proc = self.run(["crm_resource", "--cleanup", "--resource", unit.get("id")])
        if proc.returncode != 0:
            raise Refused("crm_resource --cleanup %s: %s" % (unit.get("id"), last_line(proc)))

    def restore_on(self, node):
        """The service kept off every node but NODE (crm_resource --ban, until clear_move()), then its
        failures forgotten: Pacemaker starts it on NODE alone, whatever else is still broken.  What was done."""
        root = self.mon()
        unit = self.unit(root)
        for other in [n.get("name") for n in root.findall("nodes/node") if n.get("name") not in (None, node)]:
            proc = self.run(["crm_resource", "--ban", "--resource", unit.get("id"), "--node", other])
            if proc.returncode != 0:
                raise Refused("crm_resource --ban %s from %s: %s" % (unit.get("id"), other, last_line(proc)))
        self.cleanup()
        return "failures cleaned up (crm_resource --cleanup) with the service held on %s" % node

    def fence(self, node, timeout):
        """Fence NODE through the cluster (stonith_admin --reboot): its word, or Refused."""
        proc = self.runner(["stonith_admin", "--reboot", node, "--timeout", "%d" % max(1, int(timeout))],
                           timeout + 10, Refused)
        if proc.returncode != 0:
            raise Refused("stonith_admin --reboot %s: %s" % (node, last_line(proc)))
        return last_line(proc, stdout=True, default="fenced")
