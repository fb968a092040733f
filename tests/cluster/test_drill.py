"""The drill's parts that need no cluster: steps, budgets, the guard's reading of a view, the
prober's outage arithmetic, the record and the table (the lab proves the rest: test_drill_lab.py)."""

import json
import os
import signal
import time

import pytest

from mdlp_agents.cluster.drill import budget, guard, plan, report, session
from mdlp_agents.cluster.drill.prober import Prober
from mdlp_agents.cluster.drill.record import Record
from mdlp_agents.cluster.drill.steps import DrillError, select

pytestmark = pytest.mark.inprocess

# what Stack.timeouts() says of the rendered pair: 500 ms monitor, the group's priority and a 6 s
# priority-fencing-delay (static 2 s on the device that fences node1), corosync 3's token
FACTS = {"start": 40.0, "stop": 40.0, "detection": {"resource": "mdlp-rhcs", "interval": 0.5, "timeout": 20.0},
         "race": {"priority_fencing_delay": 6.0, "stonith_timeout": 60.0, "delays": {"fence-node1": 2.0,
                                                                                      "fence-node2": 0.0},
                  "timeouts": {}, "priorities": {"mdlp": 10}},
         "membership": {"token": 3.0, "consensus": 3.6},
         "devices": {"node1": ["fence-node1"], "node2": ["fence-node2"]}}


def test_steps_run_least_disruptive_first_and_crash_only_when_named():
    names = [s.name for s in select(())]
    assert names[:3] == ["kill-httpd", "kill-PolicyEngine", "kill-RProxyWD"]
    assert names[-3:] == ["switchover", "fence-passive", "partition"] and "crash-active" not in names
    assert [s.name for s in select(["partition", "kill-httpd", "crash-active"])] == [
        "kill-httpd", "partition", "crash-active"]


@pytest.mark.parametrize("name", ["kill-sshd", "reboot", "", "kill-httpd;reboot"])
def test_an_unknown_step_is_bad_input(name):
    with pytest.raises(DrillError, match="unknown step") as caught:
        select([name])
    assert caught.value.exit_code == 2


def test_budgets_come_from_the_configuration():
    steps = {s.name: s for s in select(["kill-httpd", "switchover", "fence-passive", "partition", "crash-active"])}
    assert budget.for_step(steps["kill-httpd"], FACTS, "node1", "node2") == {"detected": 20.5,
                                                                              "serving again": 100.5}
    assert budget.for_step(steps["switchover"], FACTS, "node1", "node2") == {"moved": 80.0, "moved back": 80.0}
    assert budget.for_step(steps["fence-passive"], FACTS, "node1", "node2", 120) == {"fenced": 60.0,
                                                                                      "rejoined": 180.0}
    # a split: 6.6 s to lose the peer, node1 fenced at the earliest after 2 + 6 s, node2 at once
    assert budget.for_step(steps["partition"], FACTS, "node1", "node2", 120) == pytest.approx(
        {"fenced": 6.6 + 8 + 60, "outage": 6.6, "rejoined": 6.6 + 8 + 60 + 120})
    assert budget.for_step(steps["crash-active"], FACTS, "node1", "node2", 120)["fenced"] == pytest.approx(74.6)


def test_the_protected_node_is_the_one_fenced_later():
    assert plan.survivor(FACTS, "node1", "node2") == "node1"
    assert plan.survivor(FACTS, "node2", "node1") == "node2"     # the priority delay follows the service
    flat = dict(FACTS, race=dict(FACTS["race"], priority_fencing_delay=0, delays={}))
    assert plan.survivor(flat, "node1", "node2") is None          # nothing protects either: a coin toss


HEALTHY = {"nodes": [{"name": "node1"}, {"name": "node2"}], "node_flags": {"node1": [], "node2": []},
           "quorate": True, "maintenance": None, "state": "started", "active_node": "node1", "service": "mdlp",
           "fencing_enabled": True, "devices": {"node1": [("fence-node1", "node2")],
                                                "node2": [("fence-node2", "node1")]},
           "failures": [], "leftovers": [], "pending_fencing": []}


def test_a_healthy_view_has_no_problem():
    assert guard.cluster_problems(HEALTHY, "pacemaker") == []


@pytest.mark.parametrize("change,problem", [
    ({"nodes": [{"name": "node1"}], "node_flags": {"node1": []}},
     "the cluster has 1 node (node1): a drill needs a pair"),
    ({"node_flags": {"node1": [], "node2": ["standby"]}}, "node node2 is standby"),
    ({"node_flags": {"node1": [], "node2": ["offline"]}}, "node node2 is offline"),
    ({"quorate": False}, "the cluster has no quorum"),
    ({"maintenance": {"on": True, "how": "unmanaged"}}, "the service is in maintenance (unmanaged)"),
    ({"state": "failed", "active_node": None}, "the service mdlp is failed, not started on one node"),
    ({"fencing_enabled": False}, "fencing is disabled"),
    ({"devices": {"node1": [("fence-node1", None)], "node2": [("fence-node2", "node1")]}},
     "no fence device for node1 is started (fence-node1)"),
    ({"devices": {"node1": [], "node2": [("fence-node2", "node1")]}}, "no fence device fences node1"),
    ({"failures": [{"op": "mdlp-rhcs_monitor_500", "node": "node1", "reason": "httpd DOWN", "rc": "1"}]},
     "failed action mdlp-rhcs_monitor_500 on node1 (httpd DOWN)"),
    ({"leftovers": ["cli-prefer-mdlp"]}, "a move or ban left constraint cli-prefer-mdlp"),
    ({"pending_fencing": [{"target": "node2"}]}, "a fencing of node2 is pending"),
])
def test_each_unfit_state_is_one_problem_line(change, problem):
    found = guard.cluster_problems(dict(HEALTHY, **change), "pacemaker")
    assert len(found) == 1 and found[0].startswith(problem), found


def test_clock_skew_beyond_a_second_is_a_problem():
    assert guard.clock_problem(0.4, 0.01, "node2") is None
    assert guard.clock_problem(-1.5, 0.01, "node2").startswith("node2's clock is -1.5 s")
    assert guard.clock_problem(1.2, 0.3, "node2") is None       # within what one ssh round trip can tell


def test_outage_is_the_longest_run_without_an_answer():
    prober = Prober("192.0.2.1", lambda: 0.0)
    prober.samples = [(t / 10, ok) for t, ok in [(0, True), (1, True), (2, False), (3, False), (4, False),
                                                 (5, True), (6, False), (7, True), (8, True)]]
    assert prober.outage(0.0) == (pytest.approx(0.3), 0.7, 9)
    assert prober.answering(0.0) == 0.7
    prober.samples.append((0.9, False))
    assert prober.outage(0.0, 1.5)[0] == pytest.approx(0.6)     # still down at the end: counted to the end
    assert prober.outage(5.0) == (None, None, 0)


def test_the_record_is_whole_after_every_event(tmp_path):
    path = tmp_path / "drill.json"
    ticks = iter(range(100))
    record = Record(str(path), "pairA", "node1", "node2", lambda: next(ticks))
    record.event("kill-httpd", "fault", node="node1")
    first = json.loads(path.read_text())
    assert first["events"] == [{"t": 0, "at": first["events"][0]["at"], "step": "kill-httpd", "event": "fault",
                                "node": "node1"}]
    assert first["verdict"] is None
    record.finish("all steps passed; the pair is healthy", 0)
    assert json.loads(path.read_text())["exit"] == 0


def test_the_table_names_each_step_its_timings_and_why():
    results = [{"step": "kill-httpd", "verdict": "PASS", "why": None,
                "timings": {"detected": {"seconds": 0.42, "budget": 20.5}, "outage": {"seconds": 1.9}}},
               {"step": "fence-passive", "verdict": "FAIL", "timings": {"fenced": {"seconds": 1.2, "budget": 60}},
                "why": "node2 did not reboot (its boot id is the same)"}]
    assert report.table(results, report.STEP_FAILED) == [
        "PASS kill-httpd         detected 0.4 s (<= 20), outage 1.9 s",
        "FAIL fence-passive      fenced 1.2 s (<= 60) -- node2 did not reboot (its boot id is the same)",
        "a step FAILED; the pair was restored"]


def test_sigint_ends_a_drill_even_where_ignored_and_nohup_is_kept():
    """A script's background job comes in with SIGINT ignored: the drill takes it back (its fault
    must be undoable); `nohup` ignores SIGHUP on purpose: that stays."""
    names = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    saved = {sig: signal.getsignal(sig) for sig in names}
    harmless = lambda signum, frame: None     # noqa: E731  (a drill that did not take the signal: no raise)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, harmless)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        session.interrupt_on_signals()
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        for sig in (signal.SIGINT, signal.SIGTERM):
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), sig)
                time.sleep(2)
        signal.signal(signal.SIGHUP, harmless)
        session.interrupt_on_signals()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(2)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
