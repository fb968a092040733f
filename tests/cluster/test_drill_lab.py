"""`mdlp-cluster drill` on a real pair: two Pacemaker nodes of the lab configured from `mdlp-cluster
render pacemaker -f cib` (what users get: the 500 ms monitor, migration-threshold=1, the
priority-fencing-delay race), each behind its own ipmi_sim, root's ssh between them, a boot id of
their own at every boot.  The drill runs on node1 as an admin runs it: check, plan, run."""

import json
import os
import signal
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
    sysrq_through_ssh,
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
        lab.watch_sysrq()       # crash-active's sysrq b: the node's power, not the host's
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
            start_sshd(node, sysrq_through_ssh(node))
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
    # no step named: all of them but crash-active, as an admin runs it
    proc = pair.drill("run", "--yes-i-know", "pairA", "--json", "/tmp/drill.json", "--boot-time", "120")
    (out).write_text(pair.nodes["node1"].path("/tmp/drill.json").read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["verdict"] == "all steps passed; the pair is healthy" and data["exit"] == 0
    verdicts = [(s["step"], s["verdict"], s["restored"]) for s in data["steps"]]
    assert verdicts == [(name, "PASS", True) for name in (
        "kill-httpd", "kill-PolicyEngine", "kill-RProxyWD", "hang-httpd", "hang-PolicyEngine", "hang-RProxyWD",
        "switchover", "fence-passive", "partition")], data["steps"]
    for step in data["steps"]:
        for name, timing in step["timings"].items():
            record("drill %s: %s" % (step["step"], name), timing["seconds"])
    assert data["steps"][7]["boot_ids"]["before"] != data["steps"][7]["boot_ids"]["after"]
    assert data["steps"][8]["fenced"] == ["node2"]
    assert pair.healthy()


def test_crash_active_run_from_the_passive_node_fences_the_crashed_node_and_serves_from_the_survivor(pair):
    """crash-active, named: node2 runs it and crashes node1 (sysrq b over ssh: in the lab a node's sysrq
    is its power -- off, then on again; node1 takes 20 s in its POST, as a machine takes its time to
    boot, so the fencing finds it still down)."""
    node1, node2 = pair.nodes["node1"], pair.nodes["node2"]
    (node1.dir / "post-seconds").write_text("20")
    plan = json.loads(pair.drill("plan", "crash-active", "--json", node="node2").stdout)["plan"]
    assert plan[0]["problem"] is None and plan[0]["outcome"] == "node1 fenced; the service on node2", plan
    proc = pair.drill("run", "crash-active", "--yes-i-know", "pairA", "--json", "/tmp/drill.json", "--boot-time",
                      "120", node="node2")
    data = json.loads(node2.path("/tmp/drill.json").read_text())
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        step = data["steps"][0]
        assert step["verdict"] == "PASS" and step["restored"] is True, step
        assert [what for _, what in node1.sysrq_seen] == ["b"], node1.sysrq_seen
        assert pair.cluster.group_on() == "node2"
        for name, timing in step["timings"].items():
            record("drill crash-active: %s" % name, timing["seconds"])
    finally:       # the next tests want the service on node1, as the other steps leave it
        (node1.dir / "post-seconds").unlink()
        pair.cluster.wait_online(timeout=120)
        if pair.cluster.group_on() != "node1":
            node2.run("crm_resource", "--move", "--resource", "mdlp", "--node", "node1", check=True)
            pair.cluster.wait_group("node1", timeout=60)
            node2.run("crm_resource", "--clear", "--resource", "mdlp", check=True)
        pair.cluster.idle()
    assert pair.healthy()


# -- what the drill exists to catch: each a FAIL with its reason, and the pair restored ----------------
def _param(pair, rid, name):
    proc = pair.nodes["node1"].run("crm_resource", "--resource", rid, "--get-parameter", name)
    return proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else None


def _set_param(pair, rid, name, value):
    node = pair.nodes["node1"]
    if value is None:
        node.run("crm_resource", "--resource", rid, "--delete-parameter", name, check=True)
    else:
        node.run("crm_resource", "--resource", rid, "--set-parameter", name, "--parameter-value", value, check=True)
    node.run("crm_resource", "--wait", "--timeout", "60", timeout=90, check=True)


def _run(pair, *steps):
    proc = pair.drill("run", *steps, "--yes-i-know", "pairA", "--json", "/tmp/drill.json", "--boot-time", "60")
    proc.record = json.loads(pair.nodes["node1"].path("/tmp/drill.json").read_text())
    return proc


def test_a_fence_device_that_fences_nothing_fails_fence_passive_and_the_pair_is_restored(pair):
    """backend=noop (the guide's /bin/true) says done: node2 never rebooted, and its Pacemaker, told
    it was fenced, stops itself; the drill says so and starts it again."""
    before = _param(pair, "fence-node2", "backend")
    _set_param(pair, "fence-node2", "backend", "noop")
    try:
        proc = _run(pair, "fence-passive")
    finally:
        _set_param(pair, "fence-node2", "backend", before)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    step = proc.record["steps"][0]
    assert step["verdict"] == "FAIL" and step["restored"] is True, step
    assert step["why"] == ("node2 did not reboot (its boot id is the same): the fence device said done and fenced "
                           "nothing"), step
    assert "FAIL fence-passive" in proc.stdout and "a step FAILED; the pair was restored" in proc.stdout
    assert pair.healthy()


def test_a_service_that_does_not_come_back_fails_the_kill(pair):
    """httpd cannot start on node2: after the kill the cluster relocates, the start fails there, and the
    service is nowhere; the drill says so, cleans the failures up and the service is back on node1."""
    broken = pair.nodes["node2"].path("/run/mdlp-test/broken-httpd")
    broken.write_text("")
    try:
        proc = _run(pair, "kill-PolicyEngine")
    finally:
        broken.unlink()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    step = proc.record["steps"][0]
    assert step["verdict"] == "FAIL" and step["restored"] is True, step
    assert step["why"].startswith("the service is not running on node2 and nothing is under way: the cluster "
                                  "gave up ("), step
    assert "mdlp-rhcs_start_0 on node2" in step["why"], step
    assert pair.healthy()


def test_a_partition_with_no_fencing_delay_is_a_fail_and_nothing_is_cut(pair):
    node = pair.nodes["node1"]
    delay = node.run("crm_attribute", "--type", "crm_config", "--name", "priority-fencing-delay", "--query",
                     "--quiet").stdout.strip()
    statics = {rid: _param(pair, rid, "pcmk_delay_base") for rid in ("fence-node1", "fence-node2")}
    node.run("crm_attribute", "--type", "crm_config", "--name", "priority-fencing-delay", "--delete", check=True)
    for rid, value in statics.items():
        if value is not None:
            _set_param(pair, rid, "pcmk_delay_base", None)
    try:
        proc = _run(pair, "partition")
    finally:
        node.run("crm_attribute", "--type", "crm_config", "--name", "priority-fencing-delay", "--update", delay,
                 check=True)
        for rid, value in statics.items():
            if value is not None:
                _set_param(pair, rid, "pcmk_delay_base", value)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    step = proc.record["steps"][0]
    assert step["verdict"] == "FAIL" and step["why"].startswith("no fencing delay protects either node"), step
    assert not [e for e in proc.record["events"] if e["event"] == "cut"]
    assert pair.healthy()


# -- Ctrl-C: undone, recorded ----------------------------------------------------------------------------
def _interrupt_after(pair, event, *steps, **popen):
    """Start a drill of STEPS on node1 (subprocess.Popen's POPEN), SIGINT it once its record holds
    EVENT; (exit code, record, output)."""
    record = pair.nodes["node1"].path("/tmp/drill-int.json")
    if record.exists():
        record.unlink()
    proc = subprocess.Popen(["nsenter", "-t", str(pair.nodes["node1"].init_pid()), "-n", "-m", "-u", "-p",
                             str(TOOL), "drill", "run", *steps, "--yes-i-know", "pairA", "--json",
                             "/tmp/drill-int.json", "--boot-time", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if any(e["event"] == event for e in json.loads(record.read_text())["events"]):
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        # the drill itself (python running mdlp-cluster), not the nsenter that started it
        drill = subprocess.run(["pgrep", "-f", r"python[^ ]* [^ ]*mdlp-cluster drill run"], capture_output=True,
                               text=True).stdout.split()
        for pid in drill:
            if pid.isdigit():
                os.kill(int(pid), signal.SIGINT)
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, json.loads(record.read_text()), out


def test_ctrl_c_in_a_hang_sends_sigcont_and_leaves_the_record(pair):
    # started as a script's background job is: SIGINT ignored (the drill takes it back)
    code, data, out = _interrupt_after(pair, "fault", "hang-RProxyWD",
                                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert code in (1, 4), out
    events = [e["event"] for e in data["events"]]
    assert "interrupted" in events and data["verdict"].startswith("interrupted in hang-RProxyWD"), data
    undone = [e["did"] for e in data["events"] if e["event"] == "undo"]
    assert any(text.startswith("SIGCONT to") for text in undone), undone
    for node in pair.nodes.values():
        for pid in node.pids("RProxyWD"):
            state = node.run("ps", "-o", "stat=", "-p", str(pid)).stdout.strip()
            assert not state.startswith("T"), (node.name, pid, state)
    _wait_healthy(pair)


def test_ctrl_c_in_a_partition_removes_the_rule_and_leaves_the_record(pair):
    code, data, out = _interrupt_after(pair, "cut", "partition")
    assert code in (1, 4), out
    assert data["verdict"].startswith("interrupted in partition"), data
    undone = [e["did"] for e in data["events"] if e["event"] == "undo"]
    assert any("partition rule mdlp-drill-" in text and "gone from node2" in text for text in undone), undone
    _wait_healthy(pair)
    rules = pair.nodes["node2"].run("iptables", "-S").stdout
    assert "mdlp-drill" not in rules, rules


def _wait_healthy(pair):
    pair.cluster.wait_online(timeout=120)
    pair.cluster.cleanup()
    pair.cluster.wait_group("node1", timeout=60)
    pair.cluster.idle()
    assert pair.healthy()


# -- bad input: one line each, nothing done ----------------------------------------------------------------
def test_a_peer_that_does_not_answer_is_refused(pair):
    check = pair.drill("check", "--peer", "198.19.1.99", "--timeout", "3")
    assert check.returncode == 1 and "NOT READY" in check.stdout, check
    run = pair.drill("run", "kill-httpd", "--peer", "198.19.1.99", "--timeout", "3", "--yes-i-know", "pairA")
    assert run.returncode == 3, run
    assert "refused: cannot hold the drill lock on node2" in run.stdout, run.stdout
    assert pair.healthy()


def test_a_pair_in_maintenance_is_refused(pair):
    node = pair.nodes["node1"]
    node.run(TOOL, "maintenance", "on", "--reason", "drill test", check=True)
    try:
        check = pair.drill("check")
        run = pair.drill("run", "kill-httpd", "--yes-i-know", "pairA")
    finally:
        node.run(TOOL, "maintenance", "off", "--force", check=True)
    assert check.returncode == 1 and "the service is in maintenance" in check.stdout, check
    assert run.returncode == 3 and "guard: the service is in maintenance" in run.stdout, run
    pair.cluster.idle()
    assert pair.healthy()
