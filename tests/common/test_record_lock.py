"""common/files.py record locks: who holds one is asked without taking it."""

import os
import subprocess
import sys
import textwrap

import pytest

from mdlp_agents.common.files import hold_record_lock, open_lock, record_lock_holder

pytestmark = pytest.mark.inprocess

HOLD = textwrap.dedent("""\
    import sys, time
    from mdlp_agents.common.files import hold_record_lock, open_lock
    fd = open_lock(sys.argv[1], "x.lock")
    print(hold_record_lock(fd), flush=True)
    time.sleep(30)
    """)

# takes and drops the lock ROUNDS times; prints how often it was refused
CHURN = textwrap.dedent("""\
    import os, sys
    from mdlp_agents.common.files import hold_record_lock, open_lock
    refused = 0
    for _ in range(int(sys.argv[2])):
        fd = open_lock(sys.argv[1], "x.lock")
        refused += not hold_record_lock(fd)
        os.close(fd)
    print(refused)
    """)


def _private_dir(tmp_path):
    tmp_path.chmod(0o700)
    return str(tmp_path)


def test_a_free_lock_has_no_holder_and_a_held_one_names_its_process(tmp_path):
    directory = _private_dir(tmp_path)
    fd = open_lock(directory, "x.lock")
    try:
        assert record_lock_holder(fd) == 0
        child = subprocess.Popen([sys.executable, "-c", HOLD, directory], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "True"
            assert record_lock_holder(fd) == child.pid
            assert hold_record_lock(fd) is False         # another process holds it
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
        assert record_lock_holder(fd) == 0               # released with its holder
        assert hold_record_lock(fd) is True
    finally:
        os.close(fd)


def test_looking_at_the_lock_never_makes_a_taker_fail(tmp_path):
    """A look that took the lock for a moment (flock LOCK_NB, then unlock) refuses a process
    taking it at that moment; F_GETLK takes nothing, so a taker racing with a busy looker
    is never refused."""
    directory = _private_dir(tmp_path)
    fd = open_lock(directory, "x.lock")
    churn = subprocess.Popen([sys.executable, "-c", CHURN, directory, "3000"], stdout=subprocess.PIPE,
                             text=True)
    looks = 0
    try:
        while churn.poll() is None:
            record_lock_holder(fd)
            looks += 1
        refused = int(churn.stdout.read())
    finally:
        churn.stdout.close()
        os.close(fd)
    assert churn.returncode == 0
    assert looks > 100, looks        # the two really ran side by side
    assert refused == 0, refused
