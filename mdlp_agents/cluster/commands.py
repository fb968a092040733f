"""The cluster's own tools (crm_mon, cibadmin, crm_resource, clustat, clusvcadm, at, ssh) run with
a deadline: each in a session of its own, killed with everything it started when the time is up,
so that a wedged cluster or a black-holed peer costs the caller its timeout and no more."""

import os
import signal
import subprocess


def run(argv, timeout, error, input=None, env=None):
    """ARGV's CompletedProcess (text); ERROR (an AgentError class) when it cannot be started or
    has not finished within TIMEOUT seconds."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                start_new_session=True, env=env)
    except OSError as exc:
        raise error("cannot run %s: %s" % (argv[0], exc.strerror or exc)) from None
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except OSError as exc:
        proc.kill()
        raise error("cannot run %s: %s" % (argv[0], exc.strerror or exc)) from None
    except subprocess.TimeoutExpired:
        if proc.pid > 0:   # its whole session: a child it started may hold the pipes open
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        proc.kill()
        try:
            proc.communicate(timeout=2)
        except subprocess.TimeoutExpired:   # a grandchild that left the session: stop reading
            pass
        raise error("%s did not answer within %gs" % (os.path.basename(argv[0]), timeout)) from None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def last_line(proc, stdout=False, default="no output"):
    """The last line a command printed on stderr (or, with STDOUT, on stdout if stderr is empty):
    what it said went wrong, unprintable characters shown as '?'."""
    for text in (proc.stderr, proc.stdout if stdout else None):
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if lines:
            return "".join(c if c.isprintable() else "?" for c in lines[-1][:300])
    return default
