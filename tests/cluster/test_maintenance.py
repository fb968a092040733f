"""cluster/maintenance.py and cluster/notice.py in-process: what --for and --reason accept, the CIB
block Pacemaker's own crm_verify accepts, the notices that mdlp_rhcs and mdlp-cluster print (the
real clusters: test_maintenance_lab.py; rgmanager's stand-ins: test_maintenance_rgmanager.py)."""

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from mdlp_agents.cluster import notice
from mdlp_agents.cluster.maintenance import Pacemaker, Request, duration, reason
from mdlp_agents.cluster.status import from_clustat, from_crm_mon, line

from conftest import REPO

pytestmark = pytest.mark.inprocess
NOW = 1796029800.0     # 2026-11-30T09:10:00Z


@pytest.mark.parametrize("text,seconds", [("5s", 5), ("90", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400),
                                          ("1d", 86400), (" 2H ", 7200), ("30d", 30 * 86400)])
def test_durations(text, seconds):
    assert duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "1h 30m", "-5s", "0", "0s", "31d", "1e9", "nan", "5s5s5"])
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


def test_the_block_is_valid_pacemaker_configuration(tmp_path):
    """crm_verify (Pacemaker's own schema and checks, no cluster needed) accepts a CIB holding our
    block on a group, a rule with a date expression, and the cluster-wide variant."""
    request = Request(600, 'reason with <xml> & "quotes"', now=NOW)
    group = ET.Element("group", id="mdlp")
    primitive = ET.SubElement(group, "primitive", {"id": "mdlp-ip", "class": "ocf", "provider": "heartbeat",
                                                   "type": "IPaddr2"})
    attrs = ET.SubElement(primitive, "instance_attributes", id="mdlp-ip-ia")
    ET.SubElement(attrs, "nvpair", id="mdlp-ip-ip", name="ip", value="198.18.10.101")
    group.append(Pacemaker.block("meta_attributes", notice.block_id("mdlp", "a1b2c3"), "maintenance", request))
    cib = ET.Element("cib", {"validate-with": "pacemaker-3.9", "epoch": "1", "num_updates": "0", "admin_epoch": "0"})
    configuration = ET.SubElement(cib, "configuration")
    crm_config = ET.SubElement(configuration, "crm_config")
    options = ET.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
    ET.SubElement(options, "nvpair", id="opt-stonith", name="stonith-enabled", value="false")
    crm_config.append(Pacemaker.block("cluster_property_set", notice.block_id(None, "d4e5f6"), "maintenance-mode",
                                      request))
    ET.SubElement(configuration, "nodes")
    ET.SubElement(configuration, "resources").append(group)
    ET.SubElement(configuration, "constraints")
    ET.SubElement(cib, "status")
    path = tmp_path / "cib.xml"
    path.write_text(ET.tostring(cib, encoding="unicode"))
    proc = subprocess.run(["crm_verify", "--xml-file", str(path), "-V"], capture_output=True, text=True)
    assert proc.returncode == 0 and "error" not in proc.stderr.lower(), proc
    # and what notice.py reads back from it
    found = notice.blocks_in(cib)
    assert [(scope, unit, bid) for scope, unit, _, bid in found] == [
        ("resource", "mdlp", "mdlp-mdlp-maintenance-a1b2c3"), ("cluster", None, "mdlp-maintenance-d4e5f6")]
    assert found[0][2] == {"by": request.by, "reason": 'reason with <xml> & "quotes"',
                           "since": "2026-11-30T09:10:00Z", "until": "2026-11-30T09:20:00Z"}
    assert notice.in_force(found[0][2], NOW + 599) and not notice.in_force(found[0][2], NOW + 600)


def test_describe(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    info = {"by": "alice (sudo root)@node1", "reason": "deploy", "since": "2026-11-30T09:10:00Z",
            "until": "2026-11-30T09:40:00Z"}
    assert notice.describe(info, NOW + 60) == ("by alice (sudo root)@node1, since 2026-11-30 09:10:00 UTC, "
                                               "until 2026-11-30 09:40:00 UTC (in 29 min): deploy")
    assert notice.describe(info, NOW + 3600).endswith("(ended): deploy")
    assert notice.describe({"by": "root@n"}, NOW) == "by root@n, until ended by hand"


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setattr(notice, "CIB_FILE", str(tmp_path / "cib.xml"))
    monkeypatch.setenv("MDLP_MAINTENANCE_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    return tmp_path


def _cib_file(path, until, mode=0o600):
    request = Request(None, "deploy", now=NOW)
    block = Pacemaker.block("meta_attributes", notice.block_id("web", "0a0b0c"), "maintenance", request)
    if until:
        ET.SubElement(block, "nvpair", id="x-until", name="mdlp-maintenance-until", value=until)
    path.write_text('<cib><configuration><resources><group id="web">%s</group></resources></configuration></cib>'
                    % ET.tostring(block, encoding="unicode"))
    path.chmod(mode)


def test_local_notice_from_the_cib_on_disk(files):
    assert notice.local_notice(NOW) is None                       # neither file: nothing, quietly
    _cib_file(files / "cib.xml", None)
    text = notice.local_notice(NOW)
    assert text.startswith("MAINTENANCE of web: Pacemaker does not act on its health, by ")
    assert text.endswith(": deploy")
    _cib_file(files / "cib.xml", "2026-11-30T09:00:00Z")          # ended by its rule: no notice
    assert notice.local_notice(NOW) is None
    _cib_file(files / "cib.xml", None, mode=0o620)                # a file others could write says nothing
    assert notice.local_notice(NOW) is None


def test_local_notice_from_rgmanager_s_record(files):
    record = files / "run" / "maintenance.json"
    record.write_text(json.dumps({"service": "mdlp", "by": "root@node1", "since": "2026-11-30T09:00:00Z",
                                  "until": "2026-11-30T09:05:00Z", "token": "0" * 16}))
    record.chmod(0o600)
    text = notice.local_notice(NOW)
    assert text.startswith("MAINTENANCE of mdlp (recorded on this node; rgmanager's own word: mdlp-cluster "
                           "maintenance status): rgmanager does not check or recover it, by root@node1")
    assert text.endswith("-- OVERDUE: the expiry job has not ended it")
    record.write_text("{not json")
    assert notice.local_notice(NOW) is None


def test_values_from_the_cib_are_shown_printable(files):
    _cib_file(files / "cib.xml", None)
    text = (files / "cib.xml").read_text().replace('value="deploy"', 'value="de&#155;[2Jploy&#10;x"')
    (files / "cib.xml").write_text(text)
    shown = notice.local_notice(NOW)
    assert shown.endswith(": de?[2Jploy?x") and "\x9b" not in shown and "\n" not in shown


def test_cluster_status_shows_maintenance_from_recordings():
    clustat = (REPO / "tests" / "data" / "clustat-started.xml").read_text().replace(
        'flags="0" flags_str=""', 'flags="1" flags_str="frozen"')
    status = from_clustat(clustat)
    assert status["maintenance"] == {"on": True, "how": "frozen (clusvcadm -Z)"}
    assert line(status).endswith("| MAINTENANCE: frozen (clusvcadm -Z) (not set by mdlp-cluster here)")
    crm_mon = ('<pacemaker-result><summary><current_dc present="true" with_quorum="true"/><cluster_options '
               'maintenance-mode="false"/></summary><nodes><node name="n1" online="true"/></nodes><resources>'
               '<group id="web" number_resources="1" managed="false"><resource id="w" '
               'resource_agent="ocf:websense:mdlp" role="Started" managed="false" failed="false"><node name="n1"/>'
               '</resource></group></resources></pacemaker-result>')
    status = from_crm_mon(crm_mon)
    assert (status["service"], status["state"], status["maintenance"]) == ("web", "started",
                                                                          {"on": True, "how": "unmanaged"})
    managed = from_crm_mon(crm_mon.replace('managed="false"', 'managed="true"'))
    assert managed["maintenance"] is None and "MAINTENANCE" not in line(managed)


# -- `off`'s refusal names the service down and why ------------------------------------------------
HERE = os.uname().nodename
MON = ('<pacemaker-result><nodes><node name="%s" online="true"/><node name="node2" online="true"/></nodes>'
       '<resources><group id="mdlp"><resource id="mdlp-ip" resource_agent="ocf:heartbeat:IPaddr2"/>'
       '<resource id="mdlp-rhcs" resource_agent="ocf:websense:mdlp"/></group></resources></pacemaker-result>' % HERE)


def _probes(call, rcs):
    """cibadmin --query --scope status: each (node, member) -> (rc, exit-reason) at CALL."""
    states = {}
    for (node, member), (rc, why) in rcs.items():
        states.setdefault(node, []).append(
            '<lrm_resource id="%s"><lrm_rsc_op id="%s_last_0" call-id="%d" rc-code="%s" exit-reason="%s"/>'
            '</lrm_resource>' % (member, member, call, rc, why))
    return "<status>%s</status>" % "".join('<node_state uname="%s"><lrm><lrm_resources>%s</lrm_resources></lrm>'
                                           '</node_state>' % (n, "".join(r)) for n, r in states.items())


def _refused_by(fp, tmp_path, why, config_body=None):
    config = tmp_path / "mdlp_rhcs.conf"
    config.write_text(config_body or "")
    rcs = {(HERE, "mdlp-ip"): ("0", ""), (HERE, "mdlp-rhcs"): ("1", why),
           ("node2", "mdlp-ip"): ("7", ""), ("node2", "mdlp-rhcs"): ("7", "")}
    fp.register(["cibadmin", "--query", "--scope", "status"], stdout=_probes(1, rcs))
    fp.register(["crm_resource", "--refresh", "--resource", "mdlp"])
    fp.register(["cibadmin", "--query", "--scope", "status"], stdout=_probes(2, rcs), occurrences=3)
    fp.register(["cibadmin", "--query", "--scope", "configuration"], stdout=(
        '<configuration><resources><group id="mdlp"><primitive id="mdlp-rhcs" class="ocf" provider="websense" '
        'type="mdlp"><instance_attributes id="a"><nvpair id="a-c" name="config" value="%s"/></instance_attributes>'
        '</primitive></group></resources></configuration>' % config))
    root = ET.fromstring(MON)
    pacemaker = Pacemaker(5)
    with pytest.raises(Exception) as refused:
        pacemaker.check(root, pacemaker.unit(root))
    return str(refused.value)


def test_off_refused_names_the_service_from_the_probe_s_exit_reason(fp, tmp_path):
    message = _refused_by(fp, tmp_path, "PolicyEngine STOPPED (process: no process named PolicyEngine)")
    assert message == ("maintenance stays ON for mdlp: the service is not healthy: mdlp-rhcs on %s: error "
                       "(PolicyEngine STOPPED (process: no process named PolicyEngine)) -- fix it, or end "
                       "maintenance anyway with --force" % HERE)


def test_off_refused_without_a_reason_asks_mdlp_rhcs_here(fp, tmp_path):
    """A probe that recorded no reason (an older agent): mdlp_rhcs, with the CIB's config, says it."""
    name = "mdlp-gone-%d" % os.getpid()
    message = _refused_by(fp, tmp_path, "", "[agent]\nstate_dir = %s\n[service %s]\nprocess = %s\n"
                          % (tmp_path / "state", name, name))
    assert ("mdlp-rhcs on %s: error (mdlp_rhcs here: %s STOPPED (process: no process named %s))"
            % (HERE, name, name)) in message, message
    assert message.count("\n") == 0
