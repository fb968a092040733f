"""The steps on the service: kill-SERVICE, hang-SERVICE (the failure detected, counted, recovered;
the service moved back where the cluster took it), switchover (moved and back, nobody fenced)."""

import time

from ..stacks import NotAnswering, Refused
from . import budget as budgets
from .errors import StepFailed


class ServiceSteps:
    """Drill's steps on the service (mixed into execute.Drill, whose plumbing they use)."""

    # -- kill-SERVICE, hang-SERVICE ----------------------------------------------------------------------
    def _kill(self, step, active, passive, bounds, result, undo, sig="KILL"):
        if not bounds:
            raise StepFailed("the service has no recurring monitor: nothing would notice")
        predicted = self.stack.predict_failure(active)
        result["expected"] = {"serving_on": predicted["where"], "fenced": predicted["fenced"]}
        if not predicted["where"]:
            raise StepFailed("the cluster's own prediction (%s) leaves the service stopped" % "; ".join(
                predicted.get("actions") or ["none"]))
        counted = self.stack.failure_mark(active)
        undo.append(lambda: self._restore(step, active))
        if sig == "STOP":
            undo.append(lambda: self._resume(active, step.service))
        fault = self.clock()
        sent = self.pair.signal(active, step.service, sig)
        self.record.event(step.name, "fault", node=active, signal=sig, processes=sent)
        if not sent:
            raise StepFailed("no process named %s runs on %s" % (step.service, active))
        _, seen = self.wait(step.name, "the failure counted",
                            lambda: self.stack.failure_counted(counted, self.stack.failure_mark(active)),
                            fault, bounds["detected"])
        self.timing(result["timings"], "detected", seen, fault, bounds["detected"])
        if sig == "STOP":               # recovery done or not, the hung processes go on
            self._resume(active, step.service)
        where = predicted["where"]
        _, seen = self.wait(step.name, "the service started on %s" % where, self.serving_on(where), fault,
                            bounds["serving again"])
        self.timing(result["timings"], "started", seen, fault, bounds["serving again"])
        _, seen = self.wait(step.name, "the floating IP answering", lambda: self._answers_now(), fault,
                            bounds["serving again"])
        self.timing(result["timings"], "serving again", seen, fault, bounds["serving again"])
        outage, _, samples = self.prober.outage(fault, seen)
        result["timings"]["outage"] = {"seconds": None if outage is None else round(outage, 3), "samples": samples}

    def _hang(self, step, active, passive, bounds, result, undo):
        self._kill(step, active, passive, bounds, result, undo, sig="STOP")

    def _resume(self, node, service):
        sent = self.pair.signal(node, service, "CONT")
        return "SIGCONT to %d %s process%s on %s" % (sent, service, "" if sent == 1 else "es", node) if sent else None

    def _restore(self, step, node):
        """The pair as the step found it: the service on NODE (the cluster may have moved it, or given
        up on it), its failures forgotten (the guard wants none left).  While the cluster forgets them it
        may start the service on NODE only (a ban of the other node, cleared after): a partner that
        cannot run it must not fail again and leave a new failure behind."""
        view = self.view()
        if view.get("active_node") == node and view.get("state") == "started" and not view.get("failures"):
            return None
        b = budgets.bounds(self.facts, self.boot_time)
        requested = self.clock()
        try:
            said = self.stack.restore_on(node)
            found, _ = self.wait(step.name, "the service back on %s" % node, self.serving_on(node), requested,
                                 b["stop"] + b["start"])
        finally:
            self._clear_move(tries=5)
        if not found:
            raise Refused("the service did not come back to %s" % node)
        return "the service on %s again%s" % (node, ": " + said if said else "")

    def _answers_now(self):
        recent = self.prober.since(self.clock() - 0.5)
        return bool(recent) and all(answered for _, answered in recent[-2:])

    # -- switchover ------------------------------------------------------------------------------------------
    def _switchover(self, step, active, passive, bounds, result, undo):
        fenced_before = self._fence_events()
        boots_before = {node: self.pair.boot_id(node) for node in (active, passive)}
        undo.append(self._clear_move)
        undo.append(lambda: self._restore(step, active))    # a move that failed half-way: put it back
        for name, target in (("moved", passive), ("moved back", active)):
            requested = self.clock()
            said = self.stack.move(target)
            self.record.event(step.name, "move", to=target, said=said)
            _, seen = self.wait(step.name, "the service started on %s" % target, self.serving_on(target), requested,
                                bounds[name])
            self.timing(result["timings"], name, seen, requested, bounds[name])
            _, answered = self.wait(step.name, "the floating IP answering", self._answers_now, requested, bounds[name])
            self.timing(result["timings"], name + ": serving", answered, requested, bounds[name])
            outage, _, samples = self.prober.outage(requested, answered)
            result["timings"][name + ": outage"] = {"seconds": round(outage or 0, 3), "samples": samples}
            self._clear_move()
        if self._fence_events() != fenced_before:
            raise StepFailed("a node was fenced during a planned switchover")
        rebooted = [n for n, boot in sorted(boots_before.items()) if boot and self.pair.boot_id(n) not in (boot, None)]
        if rebooted:
            raise StepFailed("%s rebooted during a planned switchover (a new boot id)" % ", ".join(rebooted))

    def _clear_move(self, tries=1):
        """The move's or ban's constraint gone (asked again, a second apart, while the cluster does not
        answer: a ban left behind would keep the service off a node)."""
        for attempt in range(tries):
            try:
                return self.stack.clear_move()
            except (NotAnswering, Refused):
                if attempt == tries - 1:
                    raise
                time.sleep(1.0)

    def _fence_events(self):
        found = []
        if not self.stack.fence_history_kept:
            return found
        for node in (self.pair.me, self.pair.peer):
            try:
                found += [(e["target"], e["when"], e["state"]) for e in self.stack.fence_history(node)]
            except Refused:
                pass
        return sorted(found, key=str)

    def _fenced_since(self, node, wall):
        return [e for e in self.stack.fence_history(node) if e["state"] == "success" and (e["when"] or 0) >= wall - 1]

