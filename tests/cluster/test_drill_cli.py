"""`mdlp-cluster drill`, given bad input on a machine with no cluster running: one line on stderr,
the documented exit code, nothing done (run in every platform row: click 6.7 to current)."""

import os
import subprocess

import pytest
from helpers import CLUSTER_TOOL, run_cluster


@pytest.mark.parametrize("args", [["plan", "kill-sshd"], ["run", "reboot", "--yes-i-know", "x"],
                                  ["plan", "kill-httpd;id"]])
def test_an_unknown_step_is_one_line_and_exit_2(args):
    result = run_cluster("drill", *args)
    assert result.returncode == 2, result
    assert result.stdout == "" and result.stderr.count("\n") == 1, result
    assert "unknown step" in result.stderr and "kill-PolicyEngine" in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["plan", "check", "run"])
def test_not_root_is_refused_before_anything(command):
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(CLUSTER_TOOL),
                             "drill", command], capture_output=True, text=True, cwd="/", timeout=60)
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1 and "must run as root" in result.stderr, result


def test_no_cluster_answering_is_one_line_and_exit_2():
    for command in (["plan"], ["check"], ["run", "--yes-i-know", "pairA"]):
        result = run_cluster("drill", *command, "--timeout", "5")
        assert result.returncode == 2, (command, result)
        assert result.stderr.count("\n") == 1 and result.stdout == "", (command, result)


def test_the_help_lists_the_steps_and_the_exit_codes():
    result = run_cluster("drill", "--help")
    assert result.returncode == 0
    for words in ("kill-SERVICE", "hang-SERVICE", "switchover", "fence-passive", "partition", "crash-active",
                  "3 refused by the guard", "4 the pair left unhealthy"):
        assert words in result.stdout, words
    assert os.environ.get("MDLP_FENCE_PASSWORD", "\0") not in result.stdout
