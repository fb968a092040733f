"""cluster/live/maintenance.py and status in-process: what --for and --reason accept, the request's
times, maintenance as mdlp-cluster status shows it from recorded output."""

import pytest
from helpers import REPO

from mdlp_agents.cluster.live.maintenance import Request, duration, reason
from mdlp_agents.cluster.live.status import from_file, line

pytestmark = pytest.mark.inprocess
NOW = 1796029800.0     # 2026-11-30T09:10:00Z


@pytest.mark.parametrize("text,seconds", [("5s", 5), ("90", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400),
                                          ("1d", 86400), (" 2H ", 7200), ("30d", 30 * 86400)])
def test_durations(text, seconds):
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "1h 30m", "-5s", "0", "0s", "31d", "1e9", "nan", "5s5s5",
                                  "0.5", "0.999", "\u0665s", "\u0661\u0662"])   # under 1 s; not ASCII digits
def test_bad_durations(text):
    with pytest.raises(ValueError):
        duration(text)


def test_reasons():
    assert reason("  deploy\tthe   settings ") == "deploy the settings"
    assert reason(None) is None and reason("   ") is None
    for bad in ("a\x1b[2Jb", "x" * 201, "bell\x07"):
        with pytest.raises(ValueError):
            reason(bad)


def test_until_is_rounded_up_to_the_cib_s_whole_seconds():
    request = Request(5, "quick", now=NOW + 0.25)
    assert request.until == NOW + 6 and request.info()["until"] == "2026-11-30T09:10:06Z"
    assert Request(None, None, now=NOW).until is None and "until" not in Request(None, None, now=NOW).info()


def test_cluster_status_shows_maintenance_from_recordings():
    clustat = (REPO / "tests" / "data" / "clustat-started.xml").read_text().replace(
        'flags="0" flags_str=""', 'flags="1" flags_str="frozen"')
    status = from_file(clustat)
    assert status["maintenance"] == {"on": True, "how": "frozen (clusvcadm -Z)"}
    assert line(status).endswith("| MAINTENANCE: frozen (clusvcadm -Z) (not set by mdlp-cluster here)")
    crm_mon = ('<pacemaker-result><summary><current_dc present="true" with_quorum="true"/><cluster_options '
               'maintenance-mode="false"/></summary><nodes><node name="n1" online="true"/></nodes><resources>'
               '<group id="web" number_resources="1" managed="false"><resource id="w" '
               'resource_agent="ocf:websense:mdlp" role="Started" managed="false" failed="false"><node name="n1"/>'
               '</resource></group></resources></pacemaker-result>')
    status = from_file(crm_mon)
    assert (status["service"], status["state"], status["maintenance"]) == ("web", "started",
                                                                          {"on": True, "how": "unmanaged"})
    managed = from_file(crm_mon.replace('managed="false"', 'managed="true"'))
    assert managed["maintenance"] is None and "MAINTENANCE" not in line(managed)
