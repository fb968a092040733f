"""The steps done, waited for, judged against their budgets, and undone.

One clock: the drill's (seconds since it started, time.monotonic()).  A step records its fault (or
request), then each thing that must follow when the drill first sees it; a bound missed, or an
outcome other than the expected one, FAILs the step with the reason.  Whatever happens -- a failed
step, an exception, Ctrl-C -- the step's undo runs (SIGCONT, the partition rule removed, the move's
constraint cleared, the failures cleaned up), and the guard is asked again: a pair it finds unfit
stops the run, reported as left unhealthy."""

import sys
import time

from ..stacks import NotAnswering, Refused
from . import budget as budgets
from . import guard
from .errors import StepFailed
from .node_steps import NodeSteps
from .pair import Unreachable
from .service_steps import ServiceSteps

PASS, FAIL, SKIPPED = "PASS", "FAIL", "SKIPPED"
POLL = 0.2
SETTLE = 120.0          # seconds the pair may take to be fit again after a step's undo
GIVE_UP = 10.0          # seconds a service stopped everywhere is left before the cluster is said to give up


def grace(bound):
    """How long past its bound a wait goes on (to see whether it happens late, and to undo after)."""
    return min(max(bound, 10.0), 120.0)


class Drill(ServiceSteps, NodeSteps):
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
        """What a wait polls (the cluster's view, without the guard's extras)."""
        return self.stack.drill_view(full=False)

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

    def serving_on(self, node, give_up_after=GIVE_UP):
        """A predicate: the service started on NODE.  A service not serving, a start failed on NODE
        and nothing under way (every member Started or Stopped: no start or stop pending;
        rgmanager: stopped or failed), for GIVE_UP_AFTER seconds on end is one the cluster gave up on:
        StepFailed then, not at the end of the budget (a slow start, with no failure, is waited for)."""
        stopped_since = []

        def check():
            view = self.view()
            if view.get("state") == "started" and view.get("active_node") == node:
                return view
            roles = set((view.get("member_roles") or {}).values())
            failed_there = [f for f in view.get("failures") or [] if f.get("node") == node and "_start_" in f["op"]]
            settled = roles <= {"Started", "Stopped"} and failed_there if roles else \
                view.get("state") in ("stopped", "failed", "disabled")
            if settled:
                stopped_since[:1] = stopped_since[:1] or [self.clock()]
                if self.clock() - stopped_since[0] >= give_up_after:
                    reasons = "; ".join("%s on %s: %s" % (f["op"], f["node"], f["reason"] or "rc %s" % f["rc"])
                                        for f in view.get("failures") or [])
                    raise StepFailed("the service is not running on %s and nothing is under way: the cluster "
                                     "gave up%s" % (node, " (%s)" % reasons if reasons else ""))
            else:
                del stopped_since[:]
            return None
        return check

    # -- the guard -------------------------------------------------------------------------------------
    def guard_problems(self, with_doctor=True):
        """The guard's problems now ([] when the pair is fit)."""
        try:
            view = self.stack.drill_view()
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
