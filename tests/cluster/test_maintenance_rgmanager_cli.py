"""`mdlp-cluster maintenance` on rgmanager, whose clustat and clusvcadm are not packaged here: they
are recording stand-ins speaking clustat -x's XML (tests/data) and clusvcadm's output, and `at` is
one too.  Everything else is real: the installed mdlp-cluster, the health check through the
script cluster.conf names at /opt/websense/rproxy/cs/mdlp_rhcs (the rgmanager harness's
appliance), the fake services, and /dev/log (a socket of the test's)."""

import calendar
import json
import os
import re
import subprocess
import time

import pytest
from helpers import BIN_DIR, SyslogReceiver, comm, wait_for
from services import service_pid

from rhcs_harness import CLUSTER_CONF, SCRIPT, SYSTEM_PATH, Rgmanager, clustat_standin

# root's PATH on an EL node (sbin first): where an admin runs mdlp-cluster, and the at job runs
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"

TOOL = str(BIN_DIR / "mdlp-cluster")

CLUSTAT = clustat_standin(r"""# clustat stand-in: -x prints the cluster as rgmanager would; state in $RGM
echo "clustat $*" >> $RGM/calls
[ -e $RGM/hang ] && exec sleep 1000
[ -e $RGM/down ] && { echo "Could not connect to CMAN: No such file or directory" >&2; exit 1; }
flags=0; flags_str=""
[ -e $RGM/frozen ] && { flags=1; flags_str=frozen; }
""", service="$(cat $RGM/service)", flags="$flags", flags_str="$flags_str")

CLUSVCADM = r"""#!/bin/sh
# clusvcadm stand-in: -Z / -U GROUP freeze and thaw, as rgmanager answers
echo "clusvcadm $*" >> $RGM/calls
if [ -e $RGM/refuse ]; then echo "Local machine trying to freeze $2...Failure"; exit 1; fi
case $1 in
  -Z) echo "Local machine freezing $2...Success"; touch $RGM/frozen ;;
  -U) echo "Local machine unfreezing $2...Success"; rm -f $RGM/frozen ;;
  *) echo "usage" >&2; exit 1 ;;
esac
"""

AT = r"""#!/bin/sh
# at stand-in: records the time asked for and the job
echo "at $*" >> $RGM/calls
cat > $RGM/at.job
echo "warning: commands will be executed using /bin/sh" >&2
echo "job 7 at $2" >&2
"""

ATRM = r"""#!/bin/sh
echo "atrm $*" >> $RGM/calls
"""


class Node(Rgmanager):
    """A node whose rgmanager tools are stand-ins, atd a process by that name, /dev/log ours."""

    def __init__(self, root, service="mdlp"):
        conf = CLUSTER_CONF.format(port1=1, port2=2, deadline=20).replace('name="mdlp" recovery', 'name="%s" recovery'
                                                                           % service)
        super().__init__(root, BIN_DIR, conf)
        self.state = self.root / "rgm"
        self.state.mkdir()
        (self.state / "service").write_text(service)
        (self.state / "owner").write_text("node1")
        for name, text in (("clustat", CLUSTAT), ("clusvcadm", CLUSVCADM), ("at", AT), ("atrm", ATRM)):
            path = self.sbin / name
            path.write_text(text)
            path.chmod(0o755)
        self.records = self.root / "run"
        self.syslog = SyslogReceiver(self.root / "log.sock")

    def tool(self, *args, timeout=60):
        env = {"PATH": ROOT_PATH, "LC_ALL": "C", "RGM": str(self.state), "MDLP_MAINTENANCE_DIR": str(self.records)}
        return self._run([TOOL] + list(args), env, timeout=timeout, dev_log=self.syslog.path)

    def agent(self, *args):
        return self._run([SCRIPT] + list(args), {"PATH": SYSTEM_PATH, "LC_ALL": "C",
                                                  "MDLP_MAINTENANCE_DIR": str(self.records)})

    def calls(self):
        path = self.state / "calls"
        return [c for c in path.read_text().splitlines() if not c.startswith("clustat")] if path.exists() else []

    @property
    def frozen(self):
        return (self.state / "frozen").exists()

    def log_lines(self):
        return [line.split(": ", 1)[1] for line in self.syslog.lines()]


@pytest.fixture
def node(tmp_path, managed, fake):
    harness = Node(tmp_path / "node")
    harness.write_etc("mdlp_agents/mdlp_rhcs.conf", managed("stop").read_text())
    assert harness.call("start").returncode == 0      # the services run, as rgmanager started them
    yield harness
    harness.syslog.close()


@pytest.fixture
def atd():
    """The system's atd: root's /usr/sbin/atd, in the foreground (its queue stays empty: `at` here is
    the recording stand-in)."""
    proc = subprocess.Popen(["/usr/sbin/atd", "-f"])
    assert wait_for(lambda: "atd" in (comm(proc.pid) or ""), 5)
    yield proc
    proc.terminate()
    proc.wait()


@pytest.mark.parametrize("owner", [0, 65534], ids=["root-not-the-system-s", "another-user"])
def test_for_trusts_only_the_system_s_atd(node, fake, owner):
    """Anybody can name a process atd: a maintenance that must end by itself is refused unless root's
    /usr/sbin/atd runs."""
    program = fake.program("atd")
    prefix = [] if owner == 0 else ["setpriv", "--reuid=%d" % owner, "--regid=%d" % owner, "--clear-groups"]
    impostor = subprocess.Popen(prefix + [str(program), "1000"])
    try:
        assert wait_for(lambda: comm(impostor.pid) == "atd", 5)
        refused = node.tool("maintenance", "on", "--for", "10m")
        assert refused.returncode == 2 and "not root's /usr/sbin/atd" in refused.output, refused
        assert node.calls() == [] and not node.frozen
    finally:
        impostor.kill()
        impostor.wait()


def test_on_freezes_the_service_the_script_runs_and_every_status_shows_it(node):
    on = node.tool("maintenance", "on", "--reason", "deploy the settings")
    assert on.returncode == 0, on
    assert node.calls() == ["clusvcadm -Z service:mdlp"] and node.frozen
    assert on.output.startswith("maintenance ON for rgmanager service mdlp: frozen, rgmanager neither checks nor "
                                "recovers it (nothing stopped), by root@"), on.output
    assert node.log_lines() == [on.output.strip()]          # one syslog line per change
    record = node.records / "maintenance.json"
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    assert json.loads(record.read_text())["reason"] == "deploy the settings"

    status = node.tool("maintenance", "status")
    assert status.output.startswith("maintenance: ON for mdlp (rgmanager), by root@"), status
    assert status.output.strip().endswith(": deploy the settings")
    line = node.tool("status").output
    assert "| MAINTENANCE: frozen (clusvcadm -Z), by root@" in line, line
    agent = node.agent("status")
    assert agent.returncode == 0 and "| MAINTENANCE of mdlp (recorded on this node; rgmanager's own word: " \
        "mdlp-cluster maintenance status): rgmanager does not check or recover it, by root@" in agent.output, agent


def test_off_checks_the_service_first_and_refuses_while_it_is_down(node, fake):
    assert node.tool("maintenance", "on").returncode == 0
    os.kill(service_pid(fake, "PolicyEngine"), 9)
    refused = node.tool("maintenance", "off")
    assert refused.returncode == 1, refused
    assert refused.output.count("\n") == 1 and "maintenance stays ON for mdlp: the service is not healthy: " \
        "%s status: " % SCRIPT in refused.output and "PolicyEngine" in refused.output
    assert node.frozen and node.calls() == ["clusvcadm -Z service:mdlp"]
    assert node.call("start").returncode == 0        # the admin brings it back
    off = node.tool("maintenance", "off")
    assert off.returncode == 0 and off.output.startswith(
        "maintenance OFF for rgmanager service mdlp: thawed, rgmanager checks and recovers it again "
        "(health check passed)"), off
    assert node.calls()[-1] == "clusvcadm -U service:mdlp" and not node.frozen
    assert not (node.records / "maintenance.json").exists()
    assert "MAINTENANCE" not in node.agent("status").output
    assert node.tool("maintenance", "off").output.startswith("maintenance is not on for mdlp: nothing to do")


@pytest.mark.parametrize("owner,mode", [(65534, 0o644), (0, 0o666), (0, 0o664)])
def test_off_runs_no_script_from_a_cluster_conf_others_could_write(node, tmp_path, owner, mode):
    """--cluster-conf names the file whose <script file=...> root runs for the health check: a file
    another user owns or may write says nothing -- refused, nothing run."""
    assert node.tool("maintenance", "on").returncode == 0
    marker = tmp_path / "ran-as-root"
    (tmp_path / "evil").mkdir()
    planted = tmp_path / "evil" / "mdlp_rhcs"
    planted.write_text("#!/bin/sh\ntouch %s\nexit 0\n" % marker)
    planted.chmod(0o755)
    conf = tmp_path / "cluster.conf"
    conf.write_text(node.cluster_conf.replace(SCRIPT, str(planted)))
    os.chown(conf, owner, 0)
    conf.chmod(mode)
    os.chmod(tmp_path, 0o755)
    refused = node.tool("maintenance", "off", "--cluster-conf", str(conf))
    assert refused.returncode == 1 and "not trusted to say what root runs" in refused.output, refused
    assert refused.output.count("\n") == 1 and not marker.exists() and node.frozen
    if (owner, mode) == (0, 0o664):     # the same file, root's alone: believed, its script runs
        conf.chmod(0o644)
        assert node.tool("maintenance", "off", "--cluster-conf", str(conf)).returncode == 0 and marker.exists()


def test_off_where_the_service_runs_elsewhere_or_forced(node, fake):
    assert node.tool("maintenance", "on").returncode == 0
    (node.state / "owner").write_text("node2")
    elsewhere = node.tool("maintenance", "off")
    assert elsewhere.returncode == 1 and "it runs on node2" in elsewhere.output and node.frozen, elsewhere
    os.kill(service_pid(fake, "httpd"), 9)
    forced = node.tool("maintenance", "off", "--force")
    assert forced.returncode == 0 and "(forced: no health check)" in forced.output and not node.frozen, forced


def test_a_service_by_another_name_is_found_by_its_script(tmp_path, managed, fake):
    node = Node(tmp_path / "node", service="websense-dlp")
    try:
        node.write_etc("mdlp_agents/mdlp_rhcs.conf", managed("stop").read_text())
        assert node.tool("maintenance", "on").returncode == 0
        assert node.calls() == ["clusvcadm -Z service:websense-dlp"]
        missing = node.tool("maintenance", "on", "--resource", "mdlp")
        assert missing.returncode == 2 and "rgmanager has no service 'mdlp'" in missing.output, missing
    finally:
        node.syslog.close()


def test_for_queues_an_expiry_job_that_thaws_once(node, atd):
    on = node.tool("maintenance", "on", "--for", "90s", "--reason", "quick")
    assert on.returncode == 0, on
    at_call = node.calls()[-1]
    match = re.fullmatch(r"at -t (\d{12})", at_call)
    assert match, node.calls()
    record = json.loads((node.records / "maintenance.json").read_text())
    until = calendar.timegm(time.strptime(record["until"], "%Y-%m-%dT%H:%M:%SZ"))
    assert time.strftime("%Y%m%d%H%M", time.localtime(until // 60 * 60)) == match.group(1)
    job = (node.state / "at.job").read_text().splitlines()
    assert job[:2] == ["left=$((%d - $(date +%%s)))" % until, '[ "$left" -gt 0 ] && sleep "$left"']
    assert job[2] == "exec %s maintenance off --expired %s --resource mdlp --cluster-conf /etc/cluster/cluster.conf" % (
        TOOL, record["token"])
    # the job, run as atd would (its sleep left out): thaws without a health check, says so
    node.log_lines()
    expired = node._run(["/bin/sh", "-c", job[2]], {"PATH": ROOT_PATH, "LC_ALL": "C", "RGM": str(node.state),
                                                    "MDLP_MAINTENANCE_DIR": str(node.records)},
                        dev_log=node.syslog.path)
    assert expired.returncode == 0 and not node.frozen, expired
    assert [line.split(" (")[0] for line in node.log_lines()] == ["maintenance of rgmanager service mdlp EXPIRED"]
    # a job whose maintenance has ended (or been set anew) does nothing
    assert node.tool("maintenance", "on").returncode == 0
    stale = node._run(["/bin/sh", "-c", job[2]], {"PATH": ROOT_PATH, "LC_ALL": "C", "RGM": str(node.state),
                                                  "MDLP_MAINTENANCE_DIR": str(node.records)})
    assert stale.returncode == 0 and node.frozen, stale


def test_off_and_a_renewal_cancel_the_queued_expiry(node, atd):
    assert node.tool("maintenance", "on", "--for", "1h").returncode == 0
    assert json.loads((node.records / "maintenance.json").read_text())["job"] == 7
    renewed = node.tool("maintenance", "on", "--for", "2h", "--reason", "longer")
    assert renewed.returncode == 0 and node.calls()[-1] == "atrm 7", node.calls()
    assert node.tool("maintenance", "off").returncode == 0
    assert node.calls()[-2:] == ["clusvcadm -U service:mdlp", "atrm 7"], node.calls()


def test_a_freeze_from_elsewhere_is_not_renewed_here_but_ended_with_a_warning(node):
    (node.state / "frozen").touch()                   # frozen from the other node (or by hand)
    renew = node.tool("maintenance", "on")
    assert renew.returncode == 1 and "already frozen, but not from this node" in renew.output, renew
    off = node.tool("maintenance", "off")
    assert off.returncode == 0 and not node.frozen, off
    assert "it was not set from this node (or by hand)" in off.output


def test_a_short_for_is_queued_now_and_sleeps_to_its_second(node, atd):
    """at refuses a time in the past: an end within the current minute is queued `now`, and the
    job sleeps the rest itself (run whole here: 2 s)."""
    assert node.tool("maintenance", "on", "--for", "2s").returncode == 0
    job = (node.state / "at.job").read_text()
    if node.calls()[-1] != "at now":    # the minute turned between `on` and its end: queued for it
        assert re.fullmatch(r"at -t \d{12}", node.calls()[-1]), node.calls()
    started = time.monotonic()
    ran = node._run(["/bin/sh", "-c", job], {"PATH": ROOT_PATH, "LC_ALL": "C", "RGM": str(node.state),
                                             "MDLP_MAINTENANCE_DIR": str(node.records)})
    assert ran.returncode == 0 and not node.frozen, ran
    assert 0.5 <= time.monotonic() - started <= 4


def test_for_without_atd_freezes_nothing(node):
    refused = node.tool("maintenance", "on", "--for", "10m")
    assert refused.returncode == 2 and "--for needs at(1) and atd running" in refused.output, refused
    assert node.calls() == [] and not node.frozen


@pytest.mark.parametrize("fault,args,code,words", [
    ("refuse", ["on"], 1, "clusvcadm -Z service:mdlp: Local machine trying to freeze service:mdlp...Failure"),
    ("down", ["on"], 2, "rgmanager is not answering here: clustat -x: Could not connect to CMAN"),
    ("down", ["off"], 2, "rgmanager is not answering here"),
    ("hang", ["status", "--timeout", "1"], 2, "clustat did not answer within 1s"),
    (None, ["on", "--cluster"], 2, "rgmanager has no cluster-wide maintenance mode"),
    (None, ["on", "--for", "31d"], 2, "a maintenance lasts from 1 s to 30 days"),
    (None, ["off", "--expired", "x; reboot"], 2, "not an expiry job's token"),
])
def test_faults_are_one_line_and_change_nothing(node, fault, args, code, words):
    if fault:
        (node.state / fault).touch()
    started = time.monotonic()
    result = node.tool("maintenance", *args)
    assert time.monotonic() - started < 10
    assert result.returncode == code and words in result.output, result
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not node.frozen


# -- mdlp-cluster drill on rgmanager: plan, check, and what run refuses ---------------------------------
def test_drill_plan_reads_rgmanager_s_settings(node):
    result = node.tool("drill", "plan", "--json", "--boot-time", "120")
    assert result.returncode == 0, result
    answer = json.loads(result.output)
    assert answer["cluster"] == "mobile-cs" and answer["active"] == "node1"
    steps = {entry["step"]: entry for entry in answer["plan"]}
    # the harness's service: recovery="relocate" -> the other node; detection: the script's status
    # interval + the scan of due checks (cluster.conf) + the op's 20 s
    kill = steps["kill-httpd"]
    assert kill["outcome"] == "the service relocated on node2", kill
    assert kill["budget"]["detected"] > 20, kill
    # the harness's cluster.conf has no fencing delay: a split is a race both may lose, and the plan says so
    assert steps["partition"]["problem"].startswith("no fencing delay protects either node"), steps["partition"]
    assert node.calls() == []           # nothing was asked of clusvcadm: a plan changes nothing


def test_drill_run_on_rgmanager_refuses_what_it_cannot_judge_and_a_partner_it_cannot_reach(node):
    # a split or a crash is judged by who was fenced: rgmanager keeps no history of it
    result = node.tool("drill", "run", "partition", "--yes-i-know", "mobile-cs")
    assert result.returncode == 3, result
    assert result.output.count("\n") == 1 and "rgmanager keeps no fencing history" in result.output, result.output
    # the service steps run through clusvcadm (test_drill_rgmanager_lab.py); here node2 does not answer ssh:
    # refused after the plan, before anything is done
    result = node.tool("drill", "run", "kill-httpd", "--yes-i-know", "mobile-cs", "--timeout", "3")
    assert result.returncode == 3, result
    assert result.output.splitlines()[-1].startswith("refused: cannot hold the drill lock on node2: "), result.output
    assert node.calls() == [] and node.agent("status").returncode == 0


def test_drill_check_on_rgmanager_names_what_is_not_ready(node):
    result = node.tool("drill", "check", "--timeout", "3")
    assert result.returncode == 1, result
    lines = result.output.splitlines()
    assert lines and all(line.startswith("NOT READY: ") for line in lines), result.output
