"""fence/runner.py in-process, with real child processes: every command bounded, nothing left
running, nothing of ours leaking into a child, and under Pacemaker's fencer the children in the
agent's own process group (the fencer kills that group at its timeout)."""

import os
import time

import pytest

from mdlp_agents.fence import runner as runner_module
from mdlp_agents.fence.backends import FenceError
from mdlp_agents.fence.runner import Runner

pytestmark = pytest.mark.inprocess


@pytest.fixture(autouse=True, params=["posix_spawn", "subprocess"])
def start_with(request, monkeypatch):
    """Each test on both paths: posix_spawn (Python 3.8+), subprocess (3.6 and 3.7)."""
    monkeypatch.setattr(runner_module, "USE_POSIX_SPAWN", request.param == "posix_spawn")


def test_output_and_exit_code():
    assert Runner().run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], 5) == (3, "out\n", "err\n")


def test_a_program_that_cannot_start_is_a_fence_error():
    with pytest.raises(FenceError, match="^cannot run /nonexistent/ipmitool: No such file or directory$"):
        Runner().run(["/nonexistent/ipmitool"], 5)


@pytest.mark.parametrize("script", ["sleep 30", "exec >&- 2>&-; sleep 30"])
def test_a_child_past_its_timeout_is_killed_even_with_its_pipes_closed(script):
    runner = Runner()
    started = time.monotonic()
    with pytest.raises(FenceError, match="timed out after 0.5s"):
        runner.run(["/bin/sh", "-c", script], 0.5)
    assert time.monotonic() - started < 3 and not runner.children


def test_only_the_descriptors_given_reach_the_child():
    leaked = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(leaked, True)
    given_read, given_write = os.pipe()
    try:
        code, out, _ = Runner().run(["/bin/sh", "-c", "ls /proc/self/fd"], 5, pass_fds=(given_read,))
    finally:
        for fd in (leaked, given_read, given_write):
            os.close(fd)
    fds = {int(name) for name in out.split()}
    assert code == 0 and given_read in fds and leaked not in fds, out


@pytest.mark.parametrize("own_sessions", [True, False])
def test_sessions_of_their_own_except_under_the_fencer(own_sessions):
    code, out, _ = Runner(own_sessions=own_sessions).run(["/bin/sh", "-c", "ps -o pgid= -p $$"], 5)
    child_group = int(out.strip())
    assert code == 0 and (child_group != os.getpgrp()) == own_sessions
