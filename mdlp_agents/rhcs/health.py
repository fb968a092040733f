"""Is each service really serving?  All probes of all services run at once,
under one deadline.

A service is up only if every one of its probes passes.  Probes run in threads;
whatever has not answered when its own timeout (or the whole check's deadline)
is reached counts as hung, so a check always answers in time, even when a
process is SIGSTOPped, a port black-holes or an init script hangs (the CLI then
exits without waiting for the stuck thread).

Threads come from `_thread`, the documented low-level API: `threading` and its
imports cost a third of the interpreter's own start-up (bench/status), and a
lock released by the worker is all the joining with a timeout that we need.
"""

import _thread
import time

from ..common import exitcodes as ec
from ..common import procfs
from . import probes, procfacts
from .results import FAILED, HUNG, STALE, STOPPED, ProbeResult

RUNNING = "RUNNING"
# Service state labels, by the cause of the first failed probe.
STATE_OF_CAUSE = {STOPPED: "STOPPED", STALE: "STALE", HUNG: "HUNG", FAILED: "FAILED"}
# A small allowance for the local facts (reading /proc) on top of a probe timeout.
_LOCAL_ALLOWANCE = 0.5
# what a command killed at its timeout needs to be reaped before the whole check gives up on it
_KILL_MARGIN = 0.2


class ServiceStatus:
    __slots__ = ("name", "results", "pid", "started")

    def __init__(self, name, results):
        self.name = name
        self.results = results
        self.pid = next((r.pid for r in results if r.pid), None)
        self.started = next((r.started for r in results if r.started), None)

    @property
    def ok(self):
        return all(r.ok for r in self.results)

    @property
    def failure(self):
        return next((r for r in self.results if not r.ok), None)

    @property
    def cause(self):
        failure = self.failure
        return failure.cause if failure else None

    @property
    def state(self):
        failure = self.failure
        return STATE_OF_CAUSE[failure.cause] if failure else RUNNING

    @property
    def cleanly_stopped(self):
        """Nothing of the service is left: no process (a stale pidfile at most), or,
        for a service watched only through the network, every probe refused."""
        local = [r for r in self.results if r.probe in ("process", "pidfile")]
        if local:
            return all(not r.ok and r.cause in (STOPPED, STALE) for r in local)
        return all(not r.ok and r.cause == FAILED for r in self.results)


def verdict(statuses, monitor):
    """(exit code, summary line) for the services' STATUSES: LSB status codes for rgmanager
    and admins (0 running, 1 down with a stale pidfile, 3 not running); OCF monitor codes
    through the OCF link (MONITOR: 0 running, 7 cleanly stopped, 1 failed)."""
    down = [s for s in statuses if not s.ok]
    if not down:
        return ec.OCF_SUCCESS, "mdlp: running"
    if monitor:
        if all(s.cleanly_stopped for s in statuses):
            return ec.OCF_NOT_RUNNING, "mdlp: not running"
        return ec.OCF_ERR_GENERIC, "mdlp: FAILED"
    stale = any(s.cause == STALE for s in down)
    return (ec.LSB_STATUS_DEAD_PIDFILE if stale else ec.LSB_STATUS_NOT_RUNNING,
            "mdlp: NOT RUNNING (%d of %d services down)" % (len(down), len(statuses)))


class _ProcessTable:
    """The processes of the services known by name: remembered from the last run
    and re-checked one by one, or found by one scan of the process table shared
    by every service that needs it."""

    def __init__(self, names, remembered):
        self._names = names
        self._remembered = remembered
        self._lock = _thread.allocate_lock()
        self._scanned = None
        self.used = {}

    def get(self, name, fresh=False):
        """([ProcStat] named NAME, whether they come from a scan made in this run)."""
        with self._lock:
            still = None if fresh else procfs.revalidate(name, self._remembered.get(name, ()))
            scanned = not still
            if scanned:
                if self._scanned is None:
                    self._scanned = procfs.scan(self._names)
                still = self._scanned[name]
            self.used[name] = [(stat.pid, stat.ticks) for stat in still if not stat.dead]
            return still, scanned

    @property
    def rescanned(self):
        return self._scanned is not None


def _local_chain(svc, table, out):
    """pidfile, process, then tcp (which needs the PIDs): appended to OUT as they finish.
    Every failure rests on facts read now: a process table from memory is read again first."""
    pid_result = None
    remembered = False
    if svc.pidfile:
        pid_result = procfacts.check_pidfile(svc.pidfile, svc.process, svc.uid)
        out.append(pid_result)
    if svc.process:
        if pid_result is not None and pid_result.ok:
            # the pidfile's process is alive, running and is svc.process: no scan needed
            out.append(ProbeResult(True, "process", pid=pid_result.pid, started=pid_result.started,
                                   pids=pid_result.pids))
        else:
            stats, scanned = table.get(svc.process)
            result = procfacts.check_process(svc.process, stats, svc.uid)
            if not result.ok and not scanned:  # a failure is never answered from memory
                stats, scanned = table.get(svc.process, fresh=True)
                result = procfacts.check_process(svc.process, stats, svc.uid)
            remembered = not scanned
            out.append(result)
    if svc.tcp:
        pids = ()
        for result in out:
            pids = pids or result.pids

        def fresh_pids():   # the remembered PIDs may be a restarted service's old ones
            return procfacts.check_process(svc.process, table.get(svc.process, fresh=True)[0], svc.uid).pids

        out.append(probes.check_tcp(svc, svc.timeout, pids, fresh_pids if remembered else None))


def _planned(svc):
    return [k for k in ("pidfile", "process", "tcp") if getattr(svc, k)]


def _run_into(done, out, func, *args):
    try:
        func(*args)
    except Exception as exc:  # noqa: BLE001 - a probe bug must read as a failed probe, not a crash
        out.append(ProbeResult(False, "internal", FAILED, "%s: %s" % (type(exc).__name__, exc)))
    finally:
        done.release()


class _Job:
    """One probe thread: what it plans to report, what it reported, when it must be done."""

    __slots__ = ("index", "planned", "out", "done", "end")

    def __init__(self, index, planned, end, func, args):
        self.index, self.planned, self.end = index, planned, end
        self.out = []
        self.done = _thread.allocate_lock()
        self.done.acquire()
        _thread.start_new_thread(_run_into, (self.done, self.out, func) + args + (self.out,))

    def wait(self):
        """True if the probe finished before its end time."""
        return self.done.acquire(timeout=max(0.0, self.end - time.monotonic()))


def _single(func, svc, timeout, out):
    out.append(func(svc, timeout))


def check_services(config, services=None, deadline=None, runstate=None):
    """Check SERVICES (default: all) of CONFIG; return [ServiceStatus] in config order.
    With RUNSTATE, the processes found by name are remembered for the next run."""
    services = config.services if services is None else services
    start = time.monotonic()
    overall_end = start + (config.deadline if deadline is None else deadline)
    remembered = runstate.remembered_processes(procfacts.SCAN_MAX_AGE) if runstate else {}
    table = _ProcessTable([s.process for s in services if s.process], remembered)
    # a probe's own timeout ends before the whole check does: an init script is killed at its
    # timeout, before we stop waiting for it (and exit_now kills what is left regardless)
    timeout = {id(svc): max(0.05, min(svc.timeout, overall_end - time.monotonic() - _KILL_MARGIN))
               for svc in services}
    planned_jobs = []
    for index, svc in enumerate(services):
        if svc.init:  # the slowest (a process to start): first
            planned_jobs.insert(0, (index, svc, ["init"], _single, (probes.check_init, svc, timeout[id(svc)])))
        if svc.http:
            planned_jobs.append((index, svc, ["http"], _single, (probes.check_http, svc, timeout[id(svc)])))
        if _planned(svc):
            planned_jobs.append((index, svc, _planned(svc), _local_chain, (svc, table)))
    jobs = []
    for index, svc, planned, func, args in planned_jobs:
        end = min(overall_end, time.monotonic() + timeout[id(svc)] + _LOCAL_ALLOWANCE)
        jobs.append(_Job(index, planned, end, func, args))
    collected = [[] for _ in services]
    # the local facts first: a service whose process is gone or stopped is down whatever its HTTP
    # probe would say, so that probe is not waited for (a SIGSTOPped httpd fails at once, not
    # after the HTTP timeout); every probe of a service that looks healthy is waited for
    jobs.sort(key=lambda job: job.planned[0] in ("init", "http"))
    for job in jobs:
        if job.planned[0] in ("init", "http") and any(not r.ok for r in collected[job.index]):
            if not job.done.acquire(timeout=0):
                continue
            job.done.release()
        finished = job.wait()
        done = list(job.out)
        if not finished:
            waited = job.end - start
            missing = job.planned[len(done)] if len(done) < len(job.planned) else job.planned[-1]
            done.append(ProbeResult(False, missing, HUNG, "%s: no answer within %.1fs" % (missing, waited)))
        collected[job.index].extend(done)
    if runstate is not None and (table.rescanned or table.used != remembered):
        runstate.remember_processes(table.used, rescanned=table.rescanned)
    order = {name: i for i, name in enumerate(("pidfile", "process", "tcp", "http", "init", "internal"))}
    return [ServiceStatus(svc.name, sorted(results, key=lambda r: order[r.probe]))
            for svc, results in zip(services, collected)]
