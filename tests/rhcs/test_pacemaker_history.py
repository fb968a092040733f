"""rhcs/pacemaker_history.py: a recurring monitor's failure is answered in a later second than
the one in which Pacemaker recorded that monitor's "ok" (the lab proves the tie it avoids:
tests/cluster/test_cluster_single_lab.py)."""

import pytest

from mdlp_agents.rhcs import pacemaker_history

pytestmark = pytest.mark.inprocess

PACEMAKER = {"OCF_RESKEY_CRM_meta_on_node": "node1", "OCF_RESOURCE_INSTANCE": "mdlp-rhcs",
             "OCF_RESKEY_CRM_meta_interval": "500"}
OK_ENTRY = (b'<lrm_rsc_op id="mdlp-rhcs_monitor_500" operation="monitor" call-id="19" rc-code="0" '
            b'interval="500" last-rc-change="1796513420" exec-time="31"/>\n')


class Clock:
    def __init__(self, now):
        self.now, self.slept = now, []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def cib(monkeypatch):
    """What cibadmin answers; the XPaths asked."""
    asked = []
    state = {"answer": OK_ENTRY}

    def query(xpath):
        asked.append(xpath)
        return state["answer"]
    monkeypatch.setattr(pacemaker_history, "_query", query)
    state["asked"] = asked
    return state


def test_failure_in_the_second_of_the_ok_waits_for_the_next_second(cib):
    clock = Clock(1796513420.3)
    said = pacemaker_history.wait_past_last_change(PACEMAKER, clock.time, clock.sleep)
    assert clock.now >= 1796513421.0 and clock.slept == [pytest.approx(0.71)]
    assert "same second" in said
    assert cib["asked"] == ["//node_state[@uname='node1']/lrm/lrm_resources/lrm_resource[@id='mdlp-rhcs']"
                            "/lrm_rsc_op[@id='mdlp-rhcs_monitor_500'][@rc-code='0']"]


@pytest.mark.parametrize("now", [1796513421.02, 1796513425.9])
def test_failure_in_a_later_second_is_answered_at_once(cib, now):
    clock = Clock(now)
    assert pacemaker_history.wait_past_last_change(PACEMAKER, clock.time, clock.sleep) is None
    assert clock.slept == []


def test_no_ok_recorded_nothing_to_tie_with(cib):
    cib["answer"] = b""         # cibadmin: nothing matches (exit 105)
    clock = Clock(1796513420.3)
    assert pacemaker_history.wait_past_last_change(PACEMAKER, clock.time, clock.sleep) is None


def test_a_cib_that_cannot_say_costs_at_most_the_rest_of_this_second(cib):
    cib["answer"] = None        # no cibadmin, no CIB, no answer in time
    clock = Clock(1796513420.9)
    said = pacemaker_history.wait_past_last_change(PACEMAKER, clock.time, clock.sleep)
    assert clock.slept == [pytest.approx(0.11)] and "did not say" in said


def test_an_ok_recorded_in_the_future_is_not_waited_for(cib):
    clock = Clock(1796513410.0)     # the clock stepped back: never wait more than a second
    assert pacemaker_history.wait_past_last_change(PACEMAKER, clock.time, clock.sleep) is None


def test_not_run_by_pacemaker_nothing_asked(cib):
    clock = Clock(1796513420.3)
    environ = dict(PACEMAKER)
    del environ["OCF_RESKEY_CRM_meta_on_node"]
    assert pacemaker_history.wait_past_last_change(environ, clock.time, clock.sleep) is None
    assert cib["asked"] == []


@pytest.mark.parametrize("key,value", [("OCF_RESKEY_CRM_meta_on_node", "node1']|//*[@x='"),
                                       ("OCF_RESOURCE_INSTANCE", "a b"),
                                       ("OCF_RESKEY_CRM_meta_interval", "5²"),
                                       ("OCF_RESKEY_CRM_meta_interval", "0")])
def test_hostile_names_never_reach_the_xpath(cib, key, value):
    clock = Clock(1796513420.3)
    environ = dict(PACEMAKER, **{key: value})
    pacemaker_history.wait_past_last_change(environ, clock.time, clock.sleep)
    assert cib["asked"] == []
    assert sum(clock.slept) <= 1.0      # not knowing, it waits for the next second at most
