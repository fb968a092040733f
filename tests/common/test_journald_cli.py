"""journald, for real: systemd-journald runs without systemd as PID 1, in a mount namespace of the
test's own (tmpfs on /run/systemd and /run/log), and each tool's lines are read back with
journalctl -o json: the identifier, the priority, the resource instance and the service in fields
of their own -- and no secret anywhere in the journal."""

import json
import os
import subprocess
import sys

import pytest
from helpers import AGENT, BIN_DIR, FENCE, PLATFORM, PYTHON, RUN_ID, fence_conf, write_config

JOURNALD = "/lib/systemd/systemd-journald"
SECRET = "journal-must-not-see-%d" % RUN_ID
HAS_SYSTEMD_PYTHON = subprocess.run([str(PYTHON), "-c", "import systemd.journal"],
                                    capture_output=True).returncode == 0
# The agents log to journald through systemd-python, an optional dependency: the main row has it
# (extra "journald"); a platform row without it logs to syslog only, which other tests prove.
pytestmark = pytest.mark.skipif(not HAS_SYSTEMD_PYTHON and PLATFORM != "current",
                                reason="this row's agents have no systemd-python")

SETUP = r"""
set -e
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
mkdir -p /run/systemd/journal /run/log/journal
%s & journald=$!
i=0
while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
rc=0
"$@" || rc=$?
kill $journald
wait $journald || true
exit $rc
""" % JOURNALD

# inside the namespace: run each command, then read the journal until every identifier arrived
DRIVER = r"""
import json, subprocess, sys, time
commands, out = json.load(open(sys.argv[1])), sys.argv[2]
results = [subprocess.run(c["argv"], input=c.get("stdin"), env=c["env"], capture_output=True, text=True,
                          timeout=60).returncode for c in commands]
wanted = {c["ident"] for c in commands}
end = time.monotonic() + 10
while True:
    text = subprocess.run(["journalctl", "-D", "/run/log/journal", "-o", "json", "--no-pager"],
                          capture_output=True, text=True).stdout
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    if wanted <= {e.get("SYSLOG_IDENTIFIER") for e in entries} or time.monotonic() > end:
        break
    time.sleep(0.1)
json.dump({"results": results, "entries": entries, "raw": text}, open(out, "w"))
"""


def in_journal(tmp_path, commands):
    """Run COMMANDS ({argv, env, stdin, ident}) where a journald of the test's own listens:
    ([exit codes], [journal entries], the journal's whole text)."""
    (tmp_path / "commands.json").write_text(json.dumps(commands))
    (tmp_path / "driver.py").write_text(DRIVER)
    out = tmp_path / "journal.json"
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", SETUP, "sh",
                           sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "commands.json"), str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc
    found = json.loads(out.read_text())
    return found["results"], found["entries"], found["raw"]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MDLP_", "OCF_"))}
    env.update(extra)
    return env


def test_each_tool_s_lines_reach_journald_with_their_fields(tmp_path, ocf_link):
    assert HAS_SYSTEMD_PYTHON, "the main row installs systemd-python (extra journald)"
    name = "mdlp-journal-%d" % RUN_ID
    # a site file whose syslog socket does not exist: whatever arrives came through the journal
    config = write_config(tmp_path, "[service %s]\nprocess = %s\nstart = true\n" % (name, name),
                          agent="start_timeout = 1\n")
    conf = fence_conf(tmp_path, "backend = noop\npassword = %s\n" % SECRET)
    commands = [
        {"ident": "mdlp_rhcs", "argv": [str(AGENT), "status"], "env": _env(MDLP_RHCS_CONF=str(config))},
        {"ident": "mdlp_rhcs(mdlp-rhcs)", "argv": [str(ocf_link), "start"],
         "env": _env(OCF_RESKEY_config=str(config), OCF_RESOURCE_INSTANCE="mdlp-rhcs", OCF_ROOT="/usr/lib/ocf")},
        {"ident": "fence_mdlp", "argv": [str(FENCE)], "env": _env(MDLP_FENCE_CONF=str(conf)),
         "stdin": "action=off\nnodename=node2\npasswd=%s-stdin\nlogin=admin\n" % SECRET},
        {"ident": "mdlp-cluster", "argv": [str(BIN_DIR / "mdlp-cluster"), "render", "pacemaker",
                                           str(tmp_path / "no-such-answers.ini")], "env": _env()},
    ]
    results, entries, raw = in_journal(tmp_path, commands)
    assert results == [3, 1, 0, 2], results
    ours = {}
    for entry in entries:
        ours.setdefault(entry.get("SYSLOG_IDENTIFIER"), []).append(entry)
    assert set(ours) >= {"mdlp_rhcs", "mdlp_rhcs(mdlp-rhcs)", "fence_mdlp", "mdlp-cluster"}, sorted(ours, key=str)

    down = [e for e in ours["mdlp_rhcs"] if e.get("MDLP_SERVICE") == name]
    assert len(down) == 1 and down[0]["PRIORITY"] == "4" and down[0]["MDLP_STATE"] == "STOPPED", ours["mdlp_rhcs"]
    assert down[0]["MDLP_PROBE"] == "process" and down[0]["MESSAGE"].startswith("service %s is down" % name)

    start = ours["mdlp_rhcs(mdlp-rhcs)"]
    assert all(e.get("MDLP_RESOURCE_INSTANCE") == "mdlp-rhcs" for e in start), start
    assert any(e["PRIORITY"] == "3" and e["MESSAGE"].startswith("start failed:") for e in start), start

    fence = ours["fence_mdlp"]
    assert any(e.get("MDLP_VICTIM") == "node2" and e.get("MDLP_ACTION") == "off" and e["PRIORITY"] == "5"
               and "done by noop" in e["MESSAGE"] for e in fence), fence
    assert any(e["PRIORITY"] == "4" and "NOTHING WAS FENCED" in e["MESSAGE"].upper() for e in fence), fence

    cluster = ours["mdlp-cluster"]
    assert any(e["PRIORITY"] == "3" and "no-such-answers.ini" in e["MESSAGE"] for e in cluster), cluster

    assert SECRET not in raw    # neither the site file's password nor the one on stdin
