"""`mdlp-cluster drill` on a real pair: two Pacemaker nodes of the lab configured from `mdlp-cluster
render pacemaker -f cib` (what users get: the 500 ms monitor, migration-threshold=1, the
priority-fencing-delay race), each behind its own ipmi_sim, root's ssh between them, a boot id of
their own at every boot.  The drill runs on node1 as an admin runs it: check, plan, run."""

import json
import subprocess
import time

import pytest
from helpers import BIN_DIR

from clusterlab import (
    AGENT_CONFIG,
    CLIENT_NET,
    PASSWORD,
    Lab,
    RenderedConfig,
    _lab_root,
    pair_answers,
    record,
    require_cluster_tools,
    seed_ssh,
    start_sshd,
)

pytestmark = pytest.mark.cluster
TOOL = BIN_DIR / "mdlp-cluster"
VIP = CLIENT_NET + ".101"
RING = {"node1": "198.19.1.1", "node2": "198.19.1.2"}
FENCE_DELAY = 6
FENCE_CONF = "[fence]\npassword = %s\npower_wait = 0\npower_timeout = 10\nlogin_timeout = 2\nshell_timeout = 1\n"


class DrillPair:
    def __init__(self, lab, cluster, root):
        self.lab, self.cluster, self.root = lab, cluster, root
        self.nodes = lab.nodes

    def drill(self, *args, node="node1", timeout=900):
        started = time.monotonic()
        proc = self.nodes[node].run(TOOL, "drill", *args, timeout=timeout)
        proc.elapsed = time.monotonic() - started
        return proc

    def healthy(self):
        """The group started on node1, both nodes online, no failure left."""
        root = self.cluster.mon()
        failures = list(root.iter("failure"))
        online = self.cluster.online()
        return self.cluster.group_on() == "node1" and sorted(online) == ["node1", "node2"] and not failures


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    require_cluster_tools()
    root = _lab_root(tmp_path_factory, "drill")
    lab = Lab(root / "lab", setup=False)
    try:
        lab.setup()
        for name in ("node1", "node2"):
            lab.add_bmc(name)
        answers = root / "answers.toml"
        answers.write_text(pair_answers(VIP, bmcs=(lab.bmcs["node1"].address, lab.bmcs["node2"].address),
                                        fence_cipher="3", fence_delay=FENCE_DELAY, fence_timeout=60,
                                        service_config="/etc/mdlp_agents/mdlp_rhcs.conf"))
        render = subprocess.run([str(TOOL), "render", "pacemaker", "-f", "cib", str(answers)], capture_output=True,
                                text=True, check=True)
        cluster = lab.add_cluster("pairA", ["node1", "node2"], RenderedConfig(render.stdout.split("-->", 1)[1]))
        for node in cluster.nodes:
            etc = node.dir / "etc-upper"
            (etc / "mdlp_agents").mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text("127.0.0.1 localhost\n%s node1\n%s node2\n" % (RING["node1"], RING["node2"]))
            (etc / "mdlp_agents" / "mdlp_rhcs.conf").write_text(AGENT_CONFIG % {"lab": lab.root})
            (etc / "mdlp_agents" / "fence_mdlp.conf").write_text(FENCE_CONF % PASSWORD)
            (etc / "mdlp_agents" / "fence_mdlp.conf").chmod(0o600)
        seed_ssh(lab, root, RING)
        started = time.monotonic()
        with lab.logs_on_error():
            cluster.start(timeout=90)
            cluster.wait_group("node1", timeout=60)
        for node in cluster.nodes:
            start_sshd(node)
        record("drill pair: power on -> group started, sshd up", time.monotonic() - started)
        yield DrillPair(lab, cluster, root)
    finally:
        lab.remove()


def test_check_says_a_healthy_pair_is_ready(pair):
    proc = pair.drill("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "ready for a drill: node1 (active) and node2", proc.stdout
    record("drill check on a healthy pair", proc.elapsed, 10)
    answer = json.loads(pair.drill("check", "--json").stdout)
    assert answer == {"ready": True, "problems": []}


def test_plan_derives_outcomes_and_budgets_from_the_live_configuration(pair):
    proc = pair.drill("plan", "--json", "--boot-time", "120")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["cluster"] == "pairA" and answer["active"] == "node1"
    steps = {entry["step"]: entry for entry in answer["plan"]}
    assert list(steps) == ["kill-httpd", "kill-PolicyEngine", "kill-RProxyWD", "hang-httpd", "hang-PolicyEngine",
                           "hang-RProxyWD", "switchover", "fence-passive", "partition"]      # crash-active: named only
    # migration-threshold=1: Pacemaker (crm_simulate) relocates a failed service
    assert steps["kill-httpd"]["outcome"] == "the service relocated on node2", steps["kill-httpd"]
    # the render's 500 ms monitor, 20 s timeout
    assert steps["kill-httpd"]["budget"]["detected"] == 20.5, steps["kill-httpd"]
    # priority-fencing-delay: node1, running mdlp, wins a split
    assert steps["partition"]["outcome"].startswith("node2 fenced, node1 survives"), steps["partition"]
    assert steps["fence-passive"]["budget"]["rejoined"] > steps["fence-passive"]["budget"]["fenced"]
    assert all(entry["problem"] is None for entry in answer["plan"]), answer["plan"]


def test_run_is_confirmed_by_the_clusters_name_or_refused(pair):
    unattended = pair.drill("run", "kill-httpd")
    assert unattended.returncode == 2, unattended
    assert "--yes-i-know pairA" in unattended.stderr, unattended.stderr
    wrong = pair.drill("run", "kill-httpd", "--yes-i-know", "pairB")
    assert wrong.returncode == 3 and "this is cluster pairA" in wrong.stdout, wrong
    assert pair.healthy()


def test_a_second_drill_at_the_same_time_is_refused(pair):
    holder = subprocess.Popen(["nsenter", "-t", str(pair.nodes["node2"].init_pid()), "-n", "-m", "-u", "-p", str(TOOL),
                               "drill", "hold-lock"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().startswith("held ")
        proc = pair.drill("run", "kill-httpd", "--yes-i-know", "pairA")
        assert proc.returncode == 3, proc
        assert "refused: cannot hold the drill lock on node2: node2: another drill is running on this node" \
            in proc.stdout, proc.stdout
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    assert pair.healthy()


def test_a_run_of_every_step_passes_with_timings_and_leaves_the_pair_healthy(pair):
    out = pair.root / "drill.json"
    proc = pair.drill("run", "kill-httpd", "hang-RProxyWD", "switchover", "fence-passive", "partition",
                      "--yes-i-know", "pairA", "--json", "/tmp/drill.json", "--boot-time", "120")
    (out).write_text(pair.nodes["node1"].path("/tmp/drill.json").read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["verdict"] == "all steps passed; the pair is healthy" and data["exit"] == 0
    verdicts = {s["step"]: (s["verdict"], s["restored"]) for s in data["steps"]}
    assert verdicts == {name: ("PASS", True) for name in ("kill-httpd", "hang-RProxyWD", "switchover",
                                                           "fence-passive", "partition")}, data["steps"]
    for step in data["steps"]:
        for name, timing in step["timings"].items():
            record("drill %s: %s" % (step["step"], name), timing["seconds"])
    assert data["steps"][3]["boot_ids"]["before"] != data["steps"][3]["boot_ids"]["after"]
    assert data["steps"][4]["fenced"] == ["node2"]
    assert pair.healthy()
