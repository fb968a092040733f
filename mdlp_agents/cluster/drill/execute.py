"""The steps done, waited for, judged against their budgets, and undone.

One clock: the drill's (seconds since it started, time.monotonic()).  A step records its fault (or
request), then each thing that must follow when the drill first sees it; a bound missed, or an
outcome other than the expected one, FAILs the step with the reason.  Whatever happens -- a failed
step, an exception, Ctrl-C -- the step's undo runs (SIGCONT, the partition rule removed, the move's
constraint cleared, the failures cleaned up), and the guard is asked again: a pair it finds unfit
stops the run, reported as left unhealthy."""

import secrets
import sys
import time

from ..stacks import NotAnswering, Refused
from . import budget as budgets
from . import guard
from .pair import Unreachable

PASS, FAIL, SKIPPED = "PASS", "FAIL", "SKIPPED"
POLL = 0.2
SETTLE = 120.0          # seconds the pair may take to be fit again after a step's undo


class StepFailed(Exception):
    """The step's outcome is not the expected one: why."""


def grace(bound):
    """How long past its bound a wait goes on (to see whether it happens late, and to undo after)."""
    return min(max(bound, 10.0), 120.0)


class Drill:
    """STACK (Pacemaker or rgmanager), PAIR (pair.Pair), RECORD (record.Record), PROBER (prober.Prober
    on the floating IP, running), SAY(text): a line for the admin; PROGRESS(text): the waiting line."""

    def __init__(self, stack, pair, record, prober, clock, say, progress=None, boot_time=budgets.BOOT_TIME,
                 doctor=None):
        self.stack, self.pair, self.record, self.prober, self.clock = stack, pair, record, prober, clock
        self.say, self.progress = say, progress or (lambda text: None)
        self.boot_time = boot_time
        self.doctor = doctor            # () -> the doctor's checks (drill check's subset), or None
        self.facts = None

    # -- plumbing ------------------------------------------------------------------------------------
    def view(self):
        return self.stack.drill_view()

    def roles(self, view=None):
        view = view or self.view()
        active = view.get("active_node")
        return active, self.pair.other(active) if active else None

    def wait(self, step, what, predicate, since, bound, limit=None):
        """PREDICATE()'s first true value, and the drill time it was first seen -- waited for from
        SINCE (the fault) up to BOUND + grace (or LIMIT); (None, None) if it never came."""
        limit = limit if limit is not None else bound + grace(bound)
        while True:
            try:
                value = predicate()
            except (NotAnswering, Refused, Unreachable):
                value = None            # a node rebooting, a cluster electing: ask again
            now = self.clock()
            if value:
                self.record.event(step, what, elapsed=round(now - since, 3))
                self.progress("")
                return value, now
            if now - since > limit:
                self.progress("")
                return None, None
            self.progress("  %s: waiting for %s: %.1f s (budget %.1f s)" % (step, what, now - since, bound))
            time.sleep(POLL)

    def timing(self, timings, name, seen, since, bound):
        seconds = None if seen is None else round(seen - since, 3)
        timings[name] = {"seconds": seconds, "budget": round(bound, 3) if bound is not None else None}
        if seconds is None:
            raise StepFailed("%s: not seen within %.0f s" % (name, bound + grace(bound) if bound else 0))
        if bound is not None and seconds > bound:
            raise StepFailed("%s after %.1f s: more than its budget of %.1f s" % (name, seconds, bound))
        return seconds

    def serving_on(self, node):
        def check():
            view = self.view()
            return view if view.get("state") == "started" and view.get("active_node") == node else None
        return check

    # -- the guard -------------------------------------------------------------------------------------
    def guard_problems(self, with_doctor=True):
        """The guard's problems now ([] when the pair is fit)."""
        try:
            view = self.view()
        except (NotAnswering, Refused) as exc:
            return [str(exc)]
        problems = guard.cluster_problems(view, self.stack.name)
        try:
            offset, uncertainty = self.pair.clock_offset(self.pair.peer)
            problem = guard.clock_problem(offset, uncertainty, self.pair.peer)
            if problem:
                problems.append(problem)
        except Unreachable as exc:
            problems.append(str(exc))
        if self.prober and not self.prober_answers():
            problems.append("the floating IP %s does not answer HTTP" % self.prober.address)
        if with_doctor and self.doctor:
            problems += guard.doctor_problems(self.doctor())
        return problems

    def prober_answers(self):
        from .prober import fetch
        return any(fetch(self.prober.address, 1.0, self.prober.port) for _ in range(3))

    # -- a step ------------------------------------------------------------------------------------------
    def run_step(self, step):
        """Do STEP, judge it, undo it: its result {"step", "verdict", "why", "timings", "restored", ...}."""
        if self.facts is None:
            self.facts = self.stack.timeouts()
        active, passive = self.roles()
        bounds = budgets.for_step(step, self.facts, active, passive, self.boot_time)
        result = {"step": step.name, "active": active, "passive": passive, "budget": bounds, "timings": {},
                  "verdict": None, "why": None, "restored": None}
        self.record.event(step.name, "start", active=active, passive=passive)
        undo = []
        try:
            getattr(self, "_" + step.kind.replace("-", "_"))(step, active, passive, bounds, result, undo)
            result["verdict"] = PASS
        except StepFailed as exc:
            result["verdict"], result["why"] = FAIL, str(exc)
        except (NotAnswering, Refused, Unreachable) as exc:
            result["verdict"], result["why"] = FAIL, str(exc)
        except KeyboardInterrupt:
            result["verdict"], result["why"] = FAIL, "interrupted (Ctrl-C)"
            self.record.event(step.name, "interrupted")
            self._undo(step, undo, result)
            raise
        self.record.event(step.name, result["verdict"].lower(), why=result["why"])
        self._undo(step, undo, result)
        return result

    def _undo(self, step, undo, result):
        """Every undo action of the step, last first, each on its own: one that fails does not stop
        the others."""
        problems = []
        for action in reversed(undo):
            try:
                said = action()
                if said:
                    self.record.event(step.name, "undo", did=said)
            except Exception as exc:     # noqa: BLE001 -- every undo is tried; why one failed is said
                problems.append(str(exc))
        del undo[:]
        result["undo_problems"] = problems

    # -- kill-SERVICE, hang-SERVICE ----------------------------------------------------------------------
    def _kill(self, step, active, passive, bounds, result, undo, sig="KILL"):
        if not bounds:
            raise StepFailed("the service has no recurring monitor: nothing would notice")
        predicted = self.stack.predict_failure(active)
        result["expected"] = {"serving_on": predicted["where"], "fenced": predicted["fenced"]}
        if not predicted["where"]:
            raise StepFailed("the cluster's own prediction (crm_simulate) leaves the service stopped")
        counted = self.stack.fail_count(active)
        undo.append(lambda: self._move_back(step, active, bounds))
        undo.append(lambda: self._clean(step))
        if sig == "STOP":
            undo.append(lambda: self._resume(active, step.service))
        fault = self.clock()
        sent = self.pair.signal(active, step.service, sig)
        self.record.event(step.name, "fault", node=active, signal=sig, processes=sent)
        if not sent:
            raise StepFailed("no process named %s runs on %s" % (step.service, active))
        _, seen = self.wait(step.name, "the failure counted", lambda: self.stack.fail_count(active) > counted,
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

    def _clean(self, step):
        """The step's failures forgotten (the guard wants none left), once the cluster settled."""
        self.stack.cleanup()
        return "failures cleaned up (crm_resource --cleanup)" if self.stack.name == "pacemaker" else None

    def _move_back(self, step, node, bounds):
        """The service back where the step found it (the cluster may have relocated it), the move's
        constraint cleared: a drill leaves the pair as it was."""
        if self.view().get("active_node") == node:
            return None
        requested = self.clock()
        self.stack.move(node)
        try:
            b = budgets.bounds(self.facts, self.boot_time)
            found, _ = self.wait(step.name, "the service back on %s" % node, self.serving_on(node), requested,
                                 b["stop"] + b["start"])
        finally:
            self.stack.clear_move()
        if not found:
            raise Refused("the service did not come back to %s" % node)
        return "the service moved back to %s" % node

    def _answers_now(self):
        recent = self.prober.since(self.clock() - 0.5)
        return bool(recent) and all(answered for _, answered in recent[-2:])

    # -- switchover ------------------------------------------------------------------------------------------
    def _switchover(self, step, active, passive, bounds, result, undo):
        fenced_before = self._fence_events()
        undo.append(self._clear_move)
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

    def _clear_move(self):
        self.stack.clear_move()
        return "move constraint cleared"

    def _fence_events(self):
        found = []
        for node in (self.pair.me, self.pair.peer):
            try:
                found += [(e["target"], e["when"], e["state"]) for e in self.stack.fence_history(node)]
            except Refused:
                pass
        return sorted(found, key=str)

    def _fenced_since(self, node, wall):
        return [e for e in self.stack.fence_history(node) if e["state"] == "success" and (e["when"] or 0) >= wall - 1]

    # -- fence-passive -----------------------------------------------------------------------------------
    def _rejoined(self, node, boot_before):
        def check():
            view = self.view()
            flags = (view.get("node_flags") or {}).get(node)
            if flags is None or flags:
                return None
            boot = self.pair.boot_id(node, timeout=5)
            return boot if boot and boot != boot_before else None
        return check

    def _fence_passive(self, step, active, passive, bounds, result, undo):
        if self.pair.me != active:
            raise StepFailed("run the drill on the active node (%s): it must not fence the node it runs on" % active)
        boot_before = self.pair.boot_id(passive)
        if not boot_before:
            raise StepFailed("%s's boot id cannot be read over ssh: a reboot could not be proven" % passive)
        wall, requested = time.time(), self.clock()
        self.record.event(step.name, "fence", node=passive, boot_id=boot_before)
        said = self.stack.fence(passive, bounds["fenced"])
        _, seen = self.wait(step.name, "the fencing of %s confirmed" % passive,
                            lambda: self._fenced_since(passive, wall), requested, bounds["fenced"], limit=5)
        self.record.event(step.name, "fenced", node=passive, said=said)
        self.timing(result["timings"], "fenced", seen, requested, bounds["fenced"])
        boot, seen = self.wait(step.name, "%s rebooted and back in the cluster" % passive,
                               self._rejoined(passive, boot_before), requested, bounds["rejoined"])
        if boot is None and self.pair.boot_id(passive, timeout=5) == boot_before:
            raise StepFailed("%s did not reboot (its boot id is the same): the fence device said done and "
                             "fenced nothing" % passive)
        self.timing(result["timings"], "rejoined", seen, requested, bounds["rejoined"])
        result["boot_ids"] = {"before": boot_before, "after": boot}
        view = self.view()
        if view.get("active_node") != active:
            raise StepFailed("the service moved to %s: fencing the passive node must not touch it" %
                             view.get("active_node"))
        outage, _, samples = self.prober.outage(requested, self.clock())
        result["timings"]["outage"] = {"seconds": round(outage or 0, 3), "samples": samples}

    # -- partition ---------------------------------------------------------------------------------------
    def protected(self, active, passive):
        from .plan import survivor
        return survivor(self.facts, active, passive)

    def _partition(self, step, active, passive, bounds, result, undo):
        survivor = self.protected(active, passive)
        result["expected"] = {"survivor": survivor}
        if survivor is None:
            raise StepFailed("no fencing delay protects either node: in a split both fence at once and both may "
                             "be fenced; not cut (set fence_delay in the answer file and render again)")
        loser = self.pair.other(survivor)
        if self.pair.me != survivor:
            raise StepFailed("run the drill on %s, the node that must survive a split" % survivor)
        boot_before = self.pair.boot_id(loser)
        token = secrets.token_hex(4)
        undo.append(lambda: self._heal(loser, token, boot_before))
        wall, cut = time.time(), self.clock()
        self.pair.cut(passive, token, bounds["fenced"] + 60)
        self.record.event(step.name, "cut", node=passive, rule="mdlp-drill-" + token)
        _, seen = self.wait(step.name, "a fencing", lambda: self._fenced_since(loser, wall) or
                            self._fenced_since(survivor, wall), cut, bounds["fenced"])
        self.timing(result["timings"], "fenced", seen, cut, bounds["fenced"])
        # the survivor's own fencing, had it been coming, is due within the larger delay: look again then
        time.sleep(min(30.0, max(budgets.fence_delay(self.facts, survivor, survivor == active), 2.0)))
        fenced = sorted(n for n in (loser, survivor) if self._fenced_since(n, wall))
        result["fenced"] = fenced
        if fenced != [loser]:
            raise StepFailed("fenced: %s; expected %s alone" % (", ".join(fenced) or "nobody", loser))
        _, answered = self.wait(step.name, "the floating IP answering from %s" % survivor, self._answers_now, cut,
                                bounds["outage"])
        outage, _, samples = self.prober.outage(cut, self.clock())
        result["timings"]["outage"] = {"seconds": round(outage or 0, 3), "samples": samples,
                                       "budget": bounds["outage"]}
        if outage is None or outage > bounds["outage"]:
            raise StepFailed("users were cut off for %s s (budget %.1f s)" % (outage, bounds["outage"]))
        self._heal(loser, token, boot_before)
        _, seen = self.wait(step.name, "%s back in the cluster" % loser, self._rejoined(loser, boot_before), cut,
                            bounds["rejoined"])
        self.timing(result["timings"], "rejoined", seen, cut, bounds["rejoined"])
        settled = self.clock()
        time.sleep(min(30.0, 2 * max(budgets.fence_delay(self.facts, n, n == active) for n in (active, passive)) + 2))
        again = sorted(n for n in (loser, survivor) if self._fenced_since(n, wall + (settled - cut)))
        if again:
            raise StepFailed("a fence loop: %s fenced again after rejoining" % ", ".join(again))

    def _heal(self, node, token, boot_before):
        """The partition rule gone from NODE: its reboot dropped it (a timer's job otherwise); asked over
        ssh once it answers."""
        gone = self.wait("partition", "%s answering ssh" % node, lambda: self.pair.boot_id(node, timeout=5),
                         self.clock(), self.boot_time)[0]
        if gone and self.pair.heal(node, token):
            return "partition rule mdlp-drill-%s gone from %s" % (token, node)
        raise Unreachable("the partition rule mdlp-drill-%s may still be on %s: remove it (iptables -S | grep "
                          "mdlp-drill)" % (token, node))

    # -- crash-active ---------------------------------------------------------------------------------------
    def _crash_active(self, step, active, passive, bounds, result, undo):
        if self.pair.me != passive:
            raise StepFailed("run the drill on the passive node (%s) to crash the active one" % passive)
        predicted = self.stack.predict_node_loss(active)
        result["expected"] = {"serving_on": predicted["where"], "fenced": predicted["fenced"]}
        boot_before = self.pair.boot_id(active)
        wall, crash = time.time(), self.clock()
        self.record.event(step.name, "crash", node=active)
        try:
            self.pair.run(active, ["/bin/sh", "-c", "echo b > /proc/sysrq-trigger"], timeout=5)
        except Unreachable:
            pass                        # it went down with the connection: as meant
        _, seen = self.wait(step.name, "the fencing of %s" % active, lambda: self._fenced_since(active, wall), crash,
                            bounds["fenced"])
        self.timing(result["timings"], "fenced", seen, crash, bounds["fenced"])
        _, seen = self.wait(step.name, "the service started on %s" % passive, self.serving_on(passive), crash,
                            bounds["serving again"])
        self.timing(result["timings"], "started", seen, crash, bounds["serving again"])
        _, seen = self.wait(step.name, "the floating IP answering", self._answers_now, crash, bounds["serving again"])
        self.timing(result["timings"], "serving again", seen, crash, bounds["serving again"])
        outage, _, samples = self.prober.outage(crash, seen)
        result["timings"]["outage"] = {"seconds": round(outage or 0, 3), "samples": samples}
        _, seen = self.wait(step.name, "%s back in the cluster" % active, self._rejoined(active, boot_before), crash,
                            bounds["rejoined"])
        self.timing(result["timings"], "rejoined", seen, crash, bounds["rejoined"])


def stderr_progress(stream=None):
    """The waiting line: rewritten in place on a terminal, nothing otherwise (the events say it)."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return lambda text: None
    width = [0]

    def show(text):
        stream.write("\r" + text.ljust(width[0]))
        if not text:
            stream.write("\r")
        width[0] = len(text)
        stream.flush()
    return show
