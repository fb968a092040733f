"""Child processes as the agents' hot paths handle them: waited for with waitpid, not through
subprocess (whose import, with threading and selectors, costs more than the command it runs), and
signalled through the C module _signal, not signal.py (whose enums cost fence_mdlp's monitor
3 ms).  `signals` has what the agents use: SIGKILL, SIGALRM, signal, setitimer, pthread_sigmask."""

import _signal as signals
import os
import time

SIGKILL = signals.SIGKILL


def exit_code(status):
    """os.waitstatus_to_exitcode (Python >= 3.9): the exit code, or minus the killing signal."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_exit(pid, timeout):
    """Sleep until PID exits or TIMEOUT passes, woken at once by a pidfd (Linux >= 5.3);
    where there is none, return at once and let the caller poll."""
    try:
        import select
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)


def reap_until(pid, end):
    """The child PID's wait status once it has exited, or None if it still runs at END
    (time.monotonic()); then it is the caller's to kill and reap."""
    wait_exit(pid, end - time.monotonic())
    delay = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        remaining = end - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
