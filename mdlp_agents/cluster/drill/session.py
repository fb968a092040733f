"""A drill from start to end, as `mdlp-cluster drill check|run` do it: the pair found, locked on
both nodes, guarded, confirmed, stepped through, guarded after every step, released."""

import os
import signal
import sys
import time

from ...common.files import find_program
from ..stacks import NotAnswering, Refused
from . import report
from .execute import FAIL, Drill, stderr_progress
from .lock import RemoteLock, take_here
from .pair import Pair, Unreachable
from .prober import Prober
from .record import Record
from .steps import DrillError


class Refusal(Exception):
    """The guard (or the admin) said no: exit 3, nothing done."""


def require_root():
    if os.geteuid() != 0:
        raise DrillError("the drill must run as root (it reads fence_mdlp.conf and acts on both nodes)")


def find_pair(stack, peer_target=None, timeout=10.0):
    """(Pair, the cluster's view) -- Refusal when the cluster is not a pair."""
    view = stack.drill_view()
    me = stack.local_node()
    others = [n["name"] for n in view.get("nodes", []) if n["name"] != me]
    if len(others) != 1 or len(view.get("nodes", [])) != 2:
        raise Refusal("the cluster has %d node%s (%s): a drill needs a pair" % (
            len(view.get("nodes", [])), "" if len(view.get("nodes", [])) == 1 else "s",
            ", ".join(n["name"] for n in view.get("nodes", [])) or "none"))
    return Pair(me, others[0], peer_target, timeout), view


def doctor_checks(pair, timeout):
    from ..doctor import run as doctor_run

    def checks():
        found, _ = doctor_run(None, pair.target, timeout)
        return found
    return checks


class Session:
    def __init__(self, stack, peer_target=None, timeout=10.0, program=None, clock=None):
        self.stack, self.timeout = stack, timeout
        self.program = program or os.path.abspath(sys.argv[0])
        self.started = time.monotonic()
        self.clock = clock or (lambda: time.monotonic() - self.started)
        self.pair, self.view = find_pair(stack, peer_target, timeout)
        self.local_lock = self.remote_lock = None
        self.prober = None

    # -- one drill at a time ---------------------------------------------------------------------------
    def lock(self):
        fd, why = take_here()
        if fd is None:
            raise Refusal(why)
        self.local_lock = fd
        ssh = find_program("ssh")
        if not ssh:
            raise Refusal("ssh is not installed here: the partner cannot be reached")
        self.remote_lock = RemoteLock(ssh, self.pair.target, self.program, self.timeout)
        if not self.remote_lock.held:
            raise Refusal("cannot hold the drill lock on %s: %s" % (self.pair.peer, self.remote_lock.why))

    def relock(self):
        """After a step that rebooted the partner: its lock again (its reboot ended the old one)."""
        if self.remote_lock is not None and not self.remote_lock.held:
            self.remote_lock.release()
            self.remote_lock = RemoteLock(find_program("ssh"), self.pair.target, self.program, self.timeout)
            if not self.remote_lock.held:
                return "cannot hold the drill lock on %s again: %s" % (self.pair.peer, self.remote_lock.why)
        return None

    def release(self):
        if self.prober:
            self.prober.stop()
        if self.remote_lock:
            self.remote_lock.release()
        if self.local_lock is not None:
            os.close(self.local_lock)
            self.local_lock = None

    # -- the parts -------------------------------------------------------------------------------------
    def drill(self, record, say, progress=None, boot_time=None):
        address = self.view.get("floating_ip")
        if not address:
            raise Refusal("the service has no floating IP the drill can fetch (no IPaddr2 resource with ip=)")
        self.prober = Prober(address, self.clock).start()
        kwargs = {"boot_time": boot_time} if boot_time else {}
        return Drill(self.stack, self.pair, record, self.prober, self.clock, say, progress,
                     doctor=doctor_checks(self.pair, self.timeout), **kwargs)

    def settle(self, drill, limit=120.0):
        """The guard's problems once the pair had LIMIT seconds to be fit again ([] when it is)."""
        end = time.monotonic() + limit
        problems = drill.guard_problems(with_doctor=False)
        while problems and time.monotonic() < end:
            time.sleep(1.0)
            problems = drill.guard_problems(with_doctor=False)
        if not problems:
            problems = drill.guard_problems(with_doctor=True)
        return problems


def check(stack, peer_target, timeout):
    """`drill check`: (problems, the drill's view of the pair) -- non-destructive."""
    session = Session(stack, peer_target, timeout)
    try:
        fd, why = take_here()
        problems = [why] if fd is None else []
        if fd is not None:
            os.close(fd)
        ssh = find_program("ssh")
        if ssh:     # the partner's lock: free too (taken and given back at once)
            remote = RemoteLock(ssh, session.pair.target, session.program, timeout)
            if not remote.held:
                problems.append("the drill lock on %s: %s" % (session.pair.peer, remote.why))
            remote.release()
        address = session.view.get("floating_ip")
        session.prober = Prober(address, session.clock) if address else None
        drill = Drill(stack, session.pair, Record(None, None, None, None, session.clock), session.prober,
                      session.clock, lambda text: None, doctor=doctor_checks(session.pair, timeout))
        if not address:
            problems.append("the service has no floating IP the drill can fetch")
        problems += drill.guard_problems(with_doctor=True)
        return problems, session
    finally:
        session.prober = None
        session.release()


def interrupt_on_signals():
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP (the admin's session gone) end a drill: undone, recorded.
    SIGINT even when it came in ignored (a script's background job): a drill that cannot be
    stopped would leave its fault in place.  SIGHUP stays ignored under `nohup` (asked for)."""
    def stop(signum, frame):
        raise KeyboardInterrupt()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if sig != signal.SIGHUP or signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, stop)


def run(session, steps, record, say, confirm, boot_time=None):
    """The run; its exit code (report.*)."""
    results = []
    try:
        session.lock()
        drill = session.drill(record, say, stderr_progress(), boot_time)
        problems = drill.guard_problems(with_doctor=True)
        if problems:
            for problem in problems:
                say("guard: " + problem)
            record.finish("refused by the guard: " + "; ".join(problems), report.REFUSED)
            return report.REFUSED
        if not confirm():
            record.finish("not confirmed", report.REFUSED)
            return report.REFUSED
        record.event(None, "confirmed")
        for step in steps:
            say("%s: %s" % (step.name, step.what))
            try:
                result = drill.run_step(step)
            except KeyboardInterrupt:
                say("interrupted: %s undone" % step.name)
                problems = drill.guard_problems(with_doctor=False)
                record.finish("interrupted in %s%s" % (step.name, "; left unhealthy: " + "; ".join(problems)
                                                       if problems else ""),
                              report.UNHEALTHY if problems else report.STEP_FAILED)
                return report.UNHEALTHY if problems else report.STEP_FAILED
            relock = session.relock()
            problems = session.settle(drill) + ([relock] if relock else []) + result.get("undo_problems", [])
            result["restored"] = not problems
            results.append(result)
            record.step(result)
            say(report.step_line(result))
            if problems:
                for problem in problems:
                    say("guard after %s: %s" % (step.name, problem))
                record.finish("left unhealthy after %s: %s" % (step.name, "; ".join(problems)), report.UNHEALTHY)
                for line in report.table(results, report.UNHEALTHY):
                    say(line)
                return report.UNHEALTHY
        code = report.STEP_FAILED if any(r["verdict"] == FAIL for r in results) else report.PASSED
        record.finish(report.VERDICTS[code], code)
        for line in report.table(results, code):
            say(line)
        return code
    except Refusal as exc:
        say("refused: %s" % exc)
        record.finish("refused: %s" % exc, report.REFUSED)
        return report.REFUSED
    except (NotAnswering, Refused, Unreachable) as exc:
        say("refused: %s" % exc)
        record.finish("refused: %s" % exc, report.REFUSED if not results else report.UNHEALTHY)
        return report.REFUSED if not results else report.UNHEALTHY
    finally:
        session.release()
