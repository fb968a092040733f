"""The installed `mdlp-cluster doctor` where there is no cluster and no partner to ask (this test
machine): every check it cannot make is SKIPPED or FAIL with the reason, never OK, never a
traceback; bad input is one line and exit 2.  (Runs on every platform row: the INI answer file.)"""

import json
import socket
import subprocess

import pytest
from helpers import BIN_DIR, REPO

TOOL = str(BIN_DIR / "mdlp-cluster")
INI = str(REPO / "examples" / "cluster-2node.ini")


def doctor(*args, timeout=60):
    return subprocess.run([TOOL, "doctor"] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _nothing_listens(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.9", port)) != 0


def test_no_cluster_and_no_partner_here():
    assert _nothing_listens(22), "an sshd on 127.0.0.9:22 would make this test ask a real peer"
    result = doctor("--peer", "127.0.0.9", "--timeout", "5")
    assert result.returncode == 1, result
    assert "Traceback" not in result.stdout + result.stderr and result.stderr == ""
    lines = result.stdout.splitlines()
    peer = next(line for line in lines if line.split()[1] == "peer")
    assert peer.startswith("FAIL    peer             ssh 127.0.0.9: ") and "Connection refused" in peer, peer
    for check in ("time", "settings"):
        assert any(line.startswith("SKIPPED") and line.split()[1] == check for line in lines), lines
    fencing = [line for line in lines if line.split()[1] == "fencing"]
    assert fencing and all(line.startswith("SKIPPED") for line in fencing), fencing
    assert not any(line.startswith("OK") and line.split()[1] in ("peer", "time", "settings", "fencing")
                   for line in lines)
    assert lines[-1].split(",")[2].strip().startswith(str(sum(1 for x in lines if x.startswith("FAIL"))) + " FAIL")


def test_a_node_that_is_not_in_the_answer_file():
    result = doctor(INI, "--timeout", "4", "--json")
    report = json.loads(result.stdout)
    first = report["checks"][0]
    assert (first["check"], first["status"]) == ("names", "FAIL") and "is not a node of" in first["seen"], first
    assert result.returncode == 1


@pytest.mark.parametrize("args,words", [
    (["/nonexistent/answers.ini"], "/nonexistent/answers.ini"),
    (["--peer", "node1;reboot"], "is not a host name"),
    (["--timeout", "0"], "--timeout"),
    (["--facts", "--key-stdin"], "stdin holds no doctor's key"),
    (["--facts", "--partner-address", "10.0.0.300"], "is not an IP address"),
])
def test_bad_input_is_one_line_and_exit_2(args, words):
    result = doctor(*args)
    assert result.returncode == 2 and words in result.stderr, result
    assert result.stderr.count("\n") == 1 and result.stdout == "" and "Traceback" not in result.stderr


def test_facts_are_json_without_secrets(tmp_path):
    result = doctor("--facts", "--names", "localhost", "--timeout", "4", "--tls-port", "1")
    facts = json.loads(result.stdout)
    assert result.returncode == 0 and facts["hostname"] == socket.gethostname()
    assert facts["resolve"]["localhost"]["result"] == "ok" and "127.0.0.1" in facts["resolve"]["localhost"]["value"]
    assert facts["tls"]["error"].startswith("127.0.0.1:1: ")
    assert set(facts["files"]) == {"mdlp_rhcs.conf", "fence_mdlp.conf", "cluster.conf"}
