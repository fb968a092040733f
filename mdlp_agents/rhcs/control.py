"""Starting and stopping the services: in order, bounded, verified."""

import signal
import time

from . import probes, procfacts
from .health import check_services

_POLL = 0.25


def _run_command(command, timeout, log, what):
    """Run an admin-configured command line through /bin/sh, bounded.  False on failure."""
    log.info("%s: running %r" % (what, command))
    try:
        code, seconds = probes.run_bounded(command, max(0.1, timeout), shell=True)
    except OSError as exc:
        log.error("%s: cannot run %r: %s" % (what, command, exc.strerror))
        return False
    if code is None:
        log.error("%s: %r did not finish within %.1fs, killed" % (what, command, timeout))
        return False
    if code != 0:
        log.warning("%s: %r exited %d after %.1fs" % (what, command, code, seconds))
        return False
    return True


def _wait(config, svc, end, done):
    """Poll SVC until done(status) or END; return the last status."""
    while True:
        remaining = end - time.monotonic()
        status = check_services(config, [svc], deadline=max(0.05, min(config.deadline, remaining)))[0]
        if done(status) or time.monotonic() + _POLL >= end:
            return status
        time.sleep(_POLL)


def _pids(status):
    pids = set()
    for result in status.results:
        pids.update(result.pids)
    return pids


def start(config, log, timeout):
    """Start every service that is down, in config order, each healthy before the next.
    Returns (ok, message)."""
    end = time.monotonic() + timeout
    for svc in config.services:
        status = check_services(config, [svc])[0]
        if status.ok:
            continue
        failure = status.failure
        log.notice("service %s is %s (%s: %s): starting it"
                   % (svc.name, status.state, failure.probe, failure.detail), service=svc.name)
        if not svc.start:
            return False, "service %s is down and has no start command" % svc.name
        _run_command(svc.start, end - time.monotonic(), log, "start %s" % svc.name)
        status = _wait(config, svc, end, lambda s: s.ok)
        if not status.ok:
            failure = status.failure
            return False, ("service %s did not become healthy within %gs: %s: %s"
                           % (svc.name, timeout, failure.probe, failure.detail))
        log.notice("service %s started (pid %s)" % (svc.name, status.pid), service=svc.name)
    return True, "all services running"


def stop(config, log, timeout):
    """Stop the services in reverse order and verify that no process is left:
    the stop command first, then SIGTERM, then SIGKILL.  Returns (ok, message)."""
    end = time.monotonic() + timeout
    for svc in reversed(config.services):
        status = check_services(config, [svc])[0]
        if status.cleanly_stopped:
            continue
        if svc.stop:
            grace = min(10.0, (end - time.monotonic()) / 2)
            # a SIGSTOPped (hung) process must run to see the stop command's signal, or the whole
            # grace is lost -- also when the command itself waits for the process to exit; and, as
            # systemd does after its SIGTERM, once more afterwards
            procfacts.signal_all(_pids(status), signal.SIGCONT)
            _run_command(svc.stop, grace, log, "stop %s" % svc.name)
            procfacts.signal_all(_pids(check_services(config, [svc])[0]), signal.SIGCONT)
            status = _wait(config, svc, time.monotonic() + grace, lambda s: s.cleanly_stopped)
        for sig, share in ((signal.SIGTERM, 3), (signal.SIGKILL, 1)):
            if status.cleanly_stopped:
                break
            pids = _pids(status)
            if not pids:
                break
            log.warning("service %s still running (pids %s): sending %s"
                        % (svc.name, " ".join(map(str, sorted(pids))), sig.name), service=svc.name)
            procfacts.signal_all(pids, sig)
            procfacts.signal_all(pids, signal.SIGCONT)  # a SIGSTOPped process must see the SIGTERM
            grace = max(0.5, min(5.0, (end - time.monotonic()) / share))
            status = _wait(config, svc, time.monotonic() + grace, lambda s: s.cleanly_stopped)
        if not status.cleanly_stopped:
            return False, _still_running(svc, status)
        log.notice("service %s stopped" % svc.name, service=svc.name)
    # a supervisor may start a killed service again at once: one more look after a moment
    time.sleep(max(0.0, min(0.3, end - time.monotonic())))
    for svc, status in zip(config.services, check_services(config)):   # all at once, one scan
        if not status.cleanly_stopped:
            return False, _still_running(svc, status) + "; something starts it again"
    return True, "all services stopped"


def _still_running(svc, status):
    failure = status.failure
    why = "%s: %s" % (failure.probe, failure.detail) if failure else "its probes still pass"
    return "service %s is still running after stop (%s)" % (svc.name, why)
