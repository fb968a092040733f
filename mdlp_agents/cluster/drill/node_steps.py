"""The steps on a node: fence-passive (a new boot id proves the reboot), partition (exactly one
node fenced, the protected one survives and serves, no fence loop), crash-active."""

import secrets
import time

from ..stacks.runner import last_line
from . import budget as budgets
from .errors import StepFailed
from .pair import Unreachable

# sysrq b: an immediate reboot, no sync, no unmount -- a crash as the cluster sees it.  A kernel
# built without magic SysRq has no such file: said, and nothing is done.
CRASH = ("[ -w /proc/sysrq-trigger ] || { echo 'no /proc/sysrq-trigger (a kernel without magic SysRq)' >&2; "
         "exit 3; }; echo b > /proc/sysrq-trigger")


class NodeSteps:
    """Drill's steps on a node (mixed into execute.Drill, whose plumbing they use)."""

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
        if self.stack.fence_history_kept:
            _, seen = self.wait(step.name, "the fencing of %s confirmed" % passive,
                                lambda: self._fenced_since(passive, wall), requested, bounds["fenced"], limit=5)
        else:                           # the fencing's word is the command's exit status: it returned 0
            seen = self.clock()
        self.record.event(step.name, "fenced", node=passive, said=said)
        self.timing(result["timings"], "fenced", seen, requested, bounds["fenced"])
        # a reboot confirmed means the machine was off: its old boot id never answers again
        if self.pair.boot_id(passive, timeout=5) == boot_before:
            undo.append(lambda: self._restart_stack(step, passive))
            raise StepFailed("%s did not reboot (its boot id is the same): the fence device said done and "
                             "fenced nothing" % passive)
        boot, seen = self.wait(step.name, "%s rebooted and back in the cluster" % passive,
                               self._rejoined(passive, boot_before), requested, bounds["rejoined"])
        self.timing(result["timings"], "rejoined", seen, requested, bounds["rejoined"])
        result["boot_ids"] = {"before": boot_before, "after": boot}
        view = self.view()
        if view.get("active_node") != active:
            raise StepFailed("the service moved to %s: fencing the passive node must not touch it" %
                             view.get("active_node"))
        outage, _, samples = self.prober.outage(requested, self.clock())
        result["timings"]["outage"] = {"seconds": round(outage or 0, 3), "samples": samples}

    def _restart_stack(self, step, node):
        """After a fencing that did not happen, the node's cluster stack stops itself (Pacemaker:
        "we were allegedly just fenced"): start it again there, and wait for the node to rejoin."""
        # it stops itself within a second or two of hearing of its fencing: give it 10 s to go
        gone = self.wait(step.name, "%s leaving the cluster" % node, lambda: (self.view().get("node_flags") or
                                                                              {}).get(node) not in (None, []),
                         self.clock(), 10, limit=10)[0]
        if not gone:
            return None
        proc = self.pair.run(node, self.stack.start_command(), timeout=60)
        if proc.returncode != 0:
            raise Unreachable("cannot start the cluster stack on %s again (%s)" % (node, " ".join(
                self.stack.start_command())))
        back = self.wait(step.name, "%s back in the cluster" % node, lambda: (self.view().get("node_flags") or
                                                                              {}).get(node) == [],
                         self.clock(), self.boot_time)[0]
        if not back:
            raise Unreachable("%s did not rejoin after `%s`" % (node, " ".join(self.stack.start_command())))
        return "the cluster stack on %s started again (%s): it had stopped itself after the fencing that did " \
               "not happen" % (node, " ".join(self.stack.start_command()))

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
            proc = self.pair.run(active, ["/bin/sh", "-c", CRASH], timeout=5)
        except Unreachable:
            proc = None                 # it went down with the connection: as meant
        if proc is not None:            # a kernel that reboots never answers
            raise StepFailed("%s was not crashed: %s" % (active, last_line(proc, default="the shell exited %d"
                                                                           % proc.returncode)))
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


