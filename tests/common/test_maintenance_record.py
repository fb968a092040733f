"""common/maintenance_record.py in-process: the CIB block Pacemaker's own crm_verify accepts and what
is read back from it, the notices that mdlp_rhcs and mdlp-cluster print (the real clusters:
cluster/test_maintenance_lab.py; rgmanager's stand-ins: cluster/test_maintenance_rgmanager_cli.py)."""

import json
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from mdlp_agents.cluster.live.maintenance import Request
from mdlp_agents.common import maintenance_record as record

pytestmark = pytest.mark.inprocess
NOW = 1796029800.0     # 2026-11-30T09:10:00Z


def _block(tag, bid, setting, request):
    return record.cib_block(tag, bid, setting, request.info(), request.until)


def test_the_block_is_valid_pacemaker_configuration(tmp_path):
    """crm_verify (Pacemaker's own schema and checks, no cluster needed) accepts a CIB holding our
    block on a group, a rule with a date expression, and the cluster-wide variant."""
    request = Request(600, 'reason with <xml> & "quotes"', now=NOW)
    group = ET.Element("group", id="mdlp")
    primitive = ET.SubElement(group, "primitive", {"id": "mdlp-ip", "class": "ocf", "provider": "heartbeat",
                                                   "type": "IPaddr2"})
    attrs = ET.SubElement(primitive, "instance_attributes", id="mdlp-ip-ia")
    ET.SubElement(attrs, "nvpair", id="mdlp-ip-ip", name="ip", value="198.18.10.101")
    group.append(_block("meta_attributes", record.block_id("mdlp", "a1b2c3"), "maintenance", request))
    cib = ET.Element("cib", {"validate-with": "pacemaker-3.9", "epoch": "1", "num_updates": "0", "admin_epoch": "0"})
    configuration = ET.SubElement(cib, "configuration")
    crm_config = ET.SubElement(configuration, "crm_config")
    options = ET.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
    ET.SubElement(options, "nvpair", id="opt-stonith", name="stonith-enabled", value="false")
    crm_config.append(_block("cluster_property_set", record.block_id(None, "d4e5f6"), "maintenance-mode",
                             request))
    ET.SubElement(configuration, "nodes")
    ET.SubElement(configuration, "resources").append(group)
    ET.SubElement(configuration, "constraints")
    ET.SubElement(cib, "status")
    path = tmp_path / "cib.xml"
    path.write_text(ET.tostring(cib, encoding="unicode"))
    proc = subprocess.run(["crm_verify", "--xml-file", str(path), "-V"], capture_output=True, text=True)
    assert proc.returncode == 0 and "error" not in proc.stderr.lower(), proc
    # and what record.py reads back from it
    found = record.blocks_in(cib)
    assert [(scope, unit, bid) for scope, unit, _, bid in found] == [
        ("resource", "mdlp", "mdlp-mdlp-maintenance-a1b2c3"), ("cluster", None, "mdlp-maintenance-d4e5f6")]
    assert found[0][2] == {"by": request.by, "reason": 'reason with <xml> & "quotes"',
                           "since": "2026-11-30T09:10:00Z", "until": "2026-11-30T09:20:00Z"}
    assert record.in_force(found[0][2], NOW + 599) and not record.in_force(found[0][2], NOW + 600)


def test_describe(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    info = {"by": "alice (sudo root)@node1", "reason": "deploy", "since": "2026-11-30T09:10:00Z",
            "until": "2026-11-30T09:40:00Z"}
    assert record.describe(info, NOW + 60) == ("by alice (sudo root)@node1, since 2026-11-30 09:10:00 UTC, "
                                               "until 2026-11-30 09:40:00 UTC (in 29 min): deploy")
    assert record.describe(info, NOW + 3600).endswith("(ended): deploy")
    assert record.describe({"by": "root@n"}, NOW) == "by root@n, until ended by hand"


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setattr(record, "CIB_FILE", str(tmp_path / "cib.xml"))
    monkeypatch.setenv("MDLP_MAINTENANCE_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    return tmp_path


def _cib_file(path, until, mode=0o600):
    request = Request(None, "deploy", now=NOW)
    block = _block("meta_attributes", record.block_id("web", "0a0b0c"), "maintenance", request)
    if until:
        ET.SubElement(block, "nvpair", id="x-until", name="mdlp-maintenance-until", value=until)
    path.write_text('<cib><configuration><resources><group id="web">%s</group></resources></configuration></cib>'
                    % ET.tostring(block, encoding="unicode"))
    path.chmod(mode)


def test_local_notice_from_the_cib_on_disk(files):
    assert record.local_notice(NOW) is None                       # neither file: nothing, quietly
    _cib_file(files / "cib.xml", None)
    text = record.local_notice(NOW)
    assert text.startswith("MAINTENANCE of web: Pacemaker does not act on its health, by ")
    assert text.endswith(": deploy")
    _cib_file(files / "cib.xml", "2026-11-30T09:00:00Z")          # ended by its rule: no notice
    assert record.local_notice(NOW) is None
    _cib_file(files / "cib.xml", None, mode=0o620)                # a file others could write says nothing
    assert record.local_notice(NOW) is None


def test_local_notice_from_rgmanager_s_record(files):
    path = files / "run" / "maintenance.json"
    path.write_text(json.dumps({"service": "mdlp", "by": "root@node1", "since": "2026-11-30T09:00:00Z",
                                "until": "2026-11-30T09:05:00Z", "token": "0" * 16}))
    path.chmod(0o600)
    text = record.local_notice(NOW)
    assert text.startswith("MAINTENANCE of mdlp (recorded on this node; rgmanager's own word: mdlp-cluster "
                           "maintenance status): rgmanager does not check or recover it, by root@node1")
    assert text.endswith("-- OVERDUE: the expiry job has not ended it")
    path.write_text("{not json")
    warned = []
    assert record.local_notice(NOW, warn=warned.append) is None
    assert warned == ["maintenance record %s ignored: not JSON (JSONDecodeError)" % path]


def test_values_from_the_cib_are_shown_printable(files):
    _cib_file(files / "cib.xml", None)
    text = (files / "cib.xml").read_text().replace('value="deploy"', 'value="de&#155;[2Jploy&#10;x"')
    (files / "cib.xml").write_text(text)
    shown = record.local_notice(NOW)
    assert shown.endswith(": de?[2Jploy x") and "\x9b" not in shown and "\n" not in shown
