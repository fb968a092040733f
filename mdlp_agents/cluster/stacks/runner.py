"""How the cluster's own tools are run (crm_mon, cibadmin, crm_resource, stonith_admin, clustat,
clusvcadm, at, fence agents; mdlp-cluster itself on the partner): with a deadline, each in a
session of its own, killed with everything it started when the time is up, so that a wedged
cluster or a black-holed peer costs the caller its timeout and no more.

A runner is passed to what needs one (the stacks, doctor's facts), never imported by it: LOCAL
runs here, SshRunner(TARGET) runs the same argv on TARGET through the admin's own OpenSSH."""

import os
import shlex
import signal
import subprocess

from ...common.text import one_line


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
    what it said went wrong, one printable line."""
    for text in (proc.stderr, proc.stdout if stdout else None):
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if lines:
            return one_line(lines[-1][:300])
    return default


class LocalRunner:
    """Commands on this node."""

    where = None

    def __call__(self, argv, timeout, error, input=None, env=None):
        return run(argv, timeout, error, input=input, env=env)


class SshRunner:
    """Commands on TARGET (a checked host name or address) through `ssh -o BatchMode=yes -T`: never a
    prompt, the admin's keys, known_hosts and ssh_config; the remote command is one quoted line.
    SSH is found once: None when it is not installed."""

    def __init__(self, target, ssh, connect_timeout):
        self.where = target
        self.ssh = ssh
        self.connect_timeout = max(1, int(connect_timeout))

    def __call__(self, argv, timeout, error, input=None, env=None):
        remote = " ".join(shlex.quote(str(word)) for word in argv)
        return run([self.ssh, "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % self.connect_timeout, "-T", "--",
                    self.where, remote], timeout, error, input=input, env=env)


LOCAL = LocalRunner()
