"""What the drill asks of rgmanager, mixed into rgmanager.Rgmanager (whose clustat and cluster.conf
readers it uses): plan, check, and the steps on the service and the passive node -- clustat to watch,
clusvcadm to move and put back, fence_node to fence.  rgmanager keeps no fencing history a drill
could read (fenced logs it), so the steps that judge who was fenced in a split or a crash are
Pacemaker's only."""

import time

from ...common.convert import whole_number
from . import cluster_conf
from .base import NotAnswering, Refused, wait
from .runner import last_line

NO_HISTORY = ("rgmanager keeps no fencing history to judge who was fenced (fenced only logs it): this step "
              "drives Pacemaker pairs only")

AGENT_ACTION = 60.0             # mdlp_rhcs's start_timeout and stop_timeout defaults
MOVE_TIMEOUT = 2 * AGENT_ACTION + 10    # a clusvcadm that returns once the service stopped and started
SETTLED = ("started", "stopped", "failed", "disabled")     # not starting, stopping, recovering, migrating...


class RgmanagerDrill:
    fence_history_kept = False      # fence_node's exit status is the one word on a fencing
    drill_unsupported = {"partition": NO_HISTORY, "crash-active": NO_HISTORY}
    drill_undo = {"kill": "a failed service disabled (clusvcadm -d); the service started again where it was "
                          "(clusvcadm -r / -e -m NODE) if rgmanager moved it",
                  "hang": "SIGCONT to the stopped processes, whatever happens; the service started again where "
                          "it was if rgmanager moved it",
                  "switchover": "moved back (clusvcadm -r)"}

    def local_node(self):
        name = next((n["name"] for n in self.status()["nodes"] if n.get("local")), None)
        if not name:
            raise NotAnswering("clustat -x names no local node")
        return name

    def cluster_name(self):
        name = self.status().get("cluster") or (self.conf.get("name") if self.conf is not None else None)
        if not name:
            raise NotAnswering("neither clustat nor %s names the cluster" % self.conf_path)
        return name

    def drill_view(self, full=True):
        """status()'s shape and what the drill's guard asks: rgmanager has no failed-action history
        or move constraints (a failed service is its state), its fence devices are cluster.conf's."""
        view = self.status()
        names = [n["name"] for n in view["nodes"]]
        view.update(node_flags={n["name"]: [] if n["online"] else ["offline"] for n in view["nodes"]},
                    frozen=bool(view.get("maintenance")), fencing_enabled=True, failures=[], leftovers=[],
                    pending_fencing=[], members=[self.service],
                    devices={n: [(d, None) for d, _, _ in self.fence_devices(n)] for n in names})
        if view.get("maintenance"):
            view["maintenance"] = None      # said once, as frozen
        return view

    def membership(self):
        """cman's totem token (cluster.conf <totem token>, cman's default 10 s) and consensus
        (corosync's 1.2 x token where none is set)."""
        totem = self.conf.find("totem") if self.conf is not None else None
        try:
            token = whole_number((totem.get("token") if totem is not None else None) or "10000") / 1000.0
        except ValueError:
            token = 10.0
        try:
            consensus = whole_number((totem.get("consensus") if totem is not None else None) or "") / 1000.0
        except ValueError:
            consensus = token * 1.2
        return {"token": token, "consensus": consensus}

    def timeouts(self):
        """rgmanager's bounds: the script's start/stop (rgmanager gives a script no timeout unless
        __enforce_timeouts; the agent's own defaults, 60 s each, bound it), detection, race, membership."""
        conf = cluster_conf.read(self.conf_path)
        nodes = cluster_conf.node_names(conf)
        return {"start": AGENT_ACTION, "stop": AGENT_ACTION, "detection": self.detection(), "race": self.race(),
                "membership": self.membership(), "devices": {n: [] for n in nodes}}

    def _recovery(self):
        service = None
        if self.conf is not None:
            service = next((s for s in self.conf.iter("service") if s.get("name") == self.service), None)
        return (service.get("recovery") if service is not None else None) or "restart"

    def predict_failure(self, node):
        """rgmanager's answer: recovery="restart" (its default) restarts it in place, "relocate" moves it,
        "disable" (and "restart-disable", once its restarts are spent) leave it stopped."""
        others = [n["name"] for n in self.status()["nodes"] if n["name"] != node]
        recovery = self._recovery()
        where = others[0] if recovery == "relocate" and others else None if recovery == "disable" else node
        return {"where": where, "fenced": [], "actions": ["%s on %s" % (recovery, where or "no node")]}

    def predict_node_loss(self, node):
        others = [n["name"] for n in self.status()["nodes"] if n["name"] != node]
        return {"where": others[0] if others else None, "fenced": [node], "actions": ["fence %s" % node]}

    @staticmethod
    def start_command():
        return ["/bin/sh", "-c", "service cman start && service rgmanager start"]

    # -- acting ---------------------------------------------------------------------------------------
    def failure_mark(self, node):
        """What clustat says of the service now (state, owner, restarts, last transition): rgmanager
        acted on a failure when any of it changed (failure_counted)."""
        view = self.status()
        return (view.get("state"), view.get("active_node"), view.get("restarts"), view.get("last_transition"))

    @staticmethod
    def failure_counted(before, now):
        return now != before

    def restore_on(self, node):
        """The service started on NODE again: a failed one disabled first (rgmanager starts no failed
        service), then enabled there or relocated there.  What was done, or None."""
        done = []
        view = self._settled()
        _, group = self.clustat()
        if view.get("state") == "failed":
            self._clusvcadm("-d", group, timeout=MOVE_TIMEOUT)
            done.append("the failed service disabled (clusvcadm -d)")
            view = self.status()
        if view.get("active_node") == node and view.get("state") == "started":
            return "; ".join(done) or None
        if view.get("state") == "started":
            self._clusvcadm("-r", group, "-m", node, timeout=MOVE_TIMEOUT)
            done.append("relocated to %s (clusvcadm -r)" % node)
        else:
            self._clusvcadm("-e", group, "-m", node, timeout=MOVE_TIMEOUT)
            done.append("enabled on %s (clusvcadm -e)" % node)
        return "; ".join(done)

    def _settled(self, steady=2.0):
        """The status once rgmanager is done acting (its own recovery is waited for, not fought): the
        same settled state and owner for STEADY seconds; Refused after MOVE_TIMEOUT."""
        seen = {}

        def steady_view():
            view = self.status()
            key = (view.get("state"), view.get("active_node"))
            if key[0] not in SETTLED or seen.get("key") != key:
                seen.update(key=key, since=time.monotonic())
                return None
            return view if time.monotonic() - seen["since"] >= steady else None
        view = wait(steady_view, MOVE_TIMEOUT, 0.5)
        if not view:
            raise Refused("the service %s is still %s after %d s: not touched" % (self.service, seen["key"][0],
                                                                                MOVE_TIMEOUT))
        return view

    @staticmethod
    def clear_move():
        """rgmanager's moves leave no constraint behind: nothing to clear."""
        return None

    def fence(self, node, timeout):
        """Fence NODE through the cluster (cman's fence_node: the devices cluster.conf gives it, in
        order; exit 0 once one confirmed): its word, or Refused."""
        proc = self.runner(["fence_node", node], timeout + 10, Refused)
        if proc.returncode != 0:
            raise Refused("fence_node %s: %s" % (node, last_line(proc, stdout=True)))
        return last_line(proc, stdout=True, default="fenced")
