"""fence_mdlp, given hostile and careless input: one class of hole per test, each against the real
programs: a lie (healthy when not, fenced when not), a hang past the deadline, a leak (a process
or a file left behind), an injection.  Grow this file with every new class found."""

import os
import subprocess

import pytest
from helpers import FENCE, c_locale, fence_conf, run_fence


def test_fence_answers_reach_a_pipe_under_the_c_locale(tmp_path):
    """Block-buffered stdout and stderr on a pipe (no PYTHONUNBUFFERED), C locale, options given:
    the answer line is written before the agent leaves."""
    conf = fence_conf(tmp_path)
    result = subprocess.run([str(FENCE), "-o", "status", "-n", "n\u00f6de2", "--backend", "noop"], env=dict(
        c_locale(), MDLP_FENCE_CONF=str(conf)), capture_output=True, timeout=30)
    assert result.returncode == 0 and result.stdout == b"Status: ON\n", result
    assert b"NOTHING WAS FENCED" in result.stderr, result


# -- fence_mdlp: bounded from the first moment, and never "done" without proof -------------
def test_stdin_deadline_bounds_a_hanging_password_script(tmp_path):
    conf = fence_conf(tmp_path)
    stdin = "backend=noop\nnodename=node2\naction=status\ndeadline=1\npassword_script=sleep 20; echo pw\n"
    result = run_fence(stdin=stdin, conf=conf, timeout=30)
    assert result.returncode == 1 and "timed out after 1s" in result.stderr, result
    assert result.elapsed < 3, result


@pytest.mark.parametrize("value", ["0", "1e300", "inf", "nan", "-5", "soon"])
def test_site_deadline_is_checked_before_it_bounds_anything(tmp_path, value):
    conf = fence_conf(tmp_path, "backend = noop\ndeadline = %s\n" % value)
    meta = run_fence("-o", "metadata", conf=conf, timeout=30)
    assert meta.returncode == 0 and "<resource-agent" in meta.stdout, meta   # metadata always answers
    for result in (run_fence("-o", "status", "-n", "node2", conf=conf, timeout=30),
                   run_fence(stdin="action=status\nnodename=node2\n", conf=conf, timeout=30)):
        assert result.returncode == 1 and "deadline" in result.stderr, result
        assert "internal error" not in result.stderr and "timed out" not in result.stderr, result
        assert result.stderr.count("\n") == 1, result


@pytest.mark.parametrize("value", ["1e300", "86401"])
def test_huge_stdin_seconds_are_one_line(tmp_path, value):
    for key in ("deadline", "delay", "power_timeout"):
        result = run_fence(stdin="backend=noop\nnodename=node2\naction=status\n%s=%s\n" % (key, value),
                           conf=fence_conf(tmp_path), timeout=30)
        assert result.returncode == 1 and key in result.stderr and "internal error" not in result.stderr, result


def test_debug_file_that_blocks_cannot_block_the_timeout(tmp_path):
    fifo = tmp_path / "debug.fifo"
    os.mkfifo(fifo)
    conf = fence_conf(tmp_path)
    stdin = "backend=noop\nnodename=node2\naction=status\ndeadline=1\ndebug_file=%s\n" \
            "password_script=sleep 20; echo pw\n" % fifo
    result = run_fence(stdin=stdin, conf=conf, timeout=30)
    assert result.returncode == 1 and "timed out after 1s" in result.stderr, result
    assert result.elapsed < 3, result


def test_site_file_that_is_a_fifo_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "fence.fifo"
    os.mkfifo(fifo)
    result = run_fence("-o", "status", "-n", "node2", "--backend", "noop", conf=fifo, timeout=30)
    assert result.returncode == 1 and "not a regular file" in result.stderr and result.elapsed < 5, result


@pytest.mark.parametrize("kill", ["", ",", " , "])
def test_ssh_backend_with_nothing_to_do_refuses(tmp_path, kill):
    conf = fence_conf(tmp_path)
    for action in ("off", "status", "validate-all"):
        result = run_fence(stdin="backend=ssh\nnodename=node2\naction=%s\nkill_processes=%s\n" % (action, kill),
                           conf=conf, timeout=30)
        assert result.returncode == 1 and "nothing to fence" in result.stderr, (action, result)


FORGED = "node2\nOK fencing node1: done\x1b[2J\x1b]0;owned\x07\u2028x"


def test_a_node_name_cannot_forge_lines(tmp_path, syslog):
    """A node name from argv (stdin cannot carry a newline in a value) with a newline, escape
    sequences and a Unicode line separator: every line fence_mdlp writes -- stderr, syslog, the
    debug file -- stays one line, printable."""
    conf = fence_conf(tmp_path, "backend = noop\n")
    for args in (("-o", "off", "-n", FORGED), ("-o", "off", "-n", FORGED, "--verbose"),
                 ("-o", "reboot", "-n", FORGED, "--debug-file", str(tmp_path / "debug.log")),
                 ("-o", "explode", "-n", FORGED)):
        result = run_fence(*args, conf=conf, timeout=30)
        for line in (result.stdout + result.stderr).splitlines():
            assert line.startswith(("fence_mdlp: ", "Success: ", "WARNING: ", "NOTICE: ", "INFO: ", "ERROR: ",
                                    "DEBUG: ")), (args, line)
        assert "\x1b" not in result.stdout + result.stderr and "\u2028" not in result.stderr, (args, result)
    lines = syslog.lines()
    assert lines and all("\n" not in line and "\x1b" not in line and "\u2028" not in line for line in lines), lines
    debug = (tmp_path / "debug.log").read_text()
    assert all(line[:4].isdigit() for line in debug.splitlines()) and "\x1b" not in debug, debug
