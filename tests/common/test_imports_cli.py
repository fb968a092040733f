"""What the hot paths may not import (bench/status and bench/fence measure why): the cluster runs
`mdlp_rhcs status` every 30 s and fence_mdlp's monitor every minute.  Traced with `python -v`
(works on every Python of the matrix; -X importtime needs 3.7)."""

import re
import subprocess
import time

import pytest
from helpers import AGENT, FENCE, PYTHON, fence_conf, write_config

PYTHON_HAS_POSIX_SPAWN = subprocess.run([str(PYTHON), "-c", "import os; os.posix_spawn"]).returncode == 0
HEAVY_FOR_STATUS = {"click", "threading", "socket", "subprocess", "psutil", "http.client", "configparser"}


def _imported(argv, env=None, stdin=None, wrap=()):
    result = subprocess.run(list(wrap) + [str(PYTHON), "-v"] + [str(a) for a in argv], input=stdin,
                            capture_output=True, text=True, env=env, timeout=60)
    return result, set(re.findall(r"^import '([\w.]+)'", result.stderr, re.M))


def test_status_with_a_cached_config_imports_nothing_heavy(tmp_path, fake):
    for name in ("httpd", "PolicyEngine", "RProxyWD"):
        fake.start(name)
    config = write_config(tmp_path, "".join("[service %s]\nprocess = %s\npidfile = %s\n"
                                            % (n, n, fake.pidfile(n)) for n in ("httpd", "PolicyEngine", "RProxyWD")))
    for _ in range(2):   # the first runs parse and cache the file and log the state change
        assert subprocess.run([str(AGENT), "status", "--config", str(config)], capture_output=True).returncode == 0
    result, imported = _imported([AGENT, "status"], env={"MDLP_RHCS_CONF": str(config), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout
    assert "mdlp_agents.rhcs.cli" in imported    # the trace is real
    assert not HEAVY_FOR_STATUS & imported, sorted(HEAVY_FOR_STATUS & imported)


def _big_cib(block=""):
    """A CIB of some 56 KiB, as a Pacemaker node keeps it on disk, with BLOCK in the group mdlp."""
    primitives = "".join('<primitive id="r%d" class="ocf" provider="heartbeat" type="Dummy"><instance_attributes '
                         'id="r%d-ia">%s</instance_attributes></primitive>'
                         % (i, i, "".join('<nvpair id="r%d-p%d" name="p%d" value="v%d"/>' % (i, j, j, j)
                                          for j in range(8))) for i in range(110))
    return ('<cib epoch="5" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.9"><configuration>'
            '<crm_config/><nodes/><resources>%s<group id="mdlp">%s</group></resources><constraints/>'
            '</configuration><status/></cib>' % (primitives, block))


@pytest.mark.parametrize("block", [False, True], ids=["no-maintenance", "maintenance-block"])
def test_status_beside_a_cib_on_disk_parses_it_only_for_a_maintenance_block(tmp_path, fake, block):
    """A Pacemaker node keeps its CIB on disk: with no block of ours in it (the common case) the
    status path does not parse it; with one, the notice is shown."""
    for name in ("httpd", "PolicyEngine", "RProxyWD"):
        fake.start(name)
    config = write_config(tmp_path, "".join("[service %s]\nprocess = %s\npidfile = %s\n"
                                            % (n, n, fake.pidfile(n)) for n in ("httpd", "PolicyEngine", "RProxyWD")))
    text = _big_cib('<meta_attributes id="mdlp-mdlp-maintenance-0a0b0c"><nvpair id="m1" name="maintenance" '
                    'value="true"/><nvpair id="m2" name="mdlp-maintenance-by" value="root@node1"/>'
                    '</meta_attributes>' if block else "")
    assert len(text) > 50000
    (tmp_path / "cib.xml").write_text(text)
    for _ in range(2):
        assert subprocess.run([str(AGENT), "status", "--config", str(config)], capture_output=True).returncode == 0
    # the CIB where Pacemaker keeps it, in a mount namespace of this test's own
    script = ('mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/pacemaker/cib && '
              'cp "$1" /var/lib/pacemaker/cib/cib.xml && shift && exec "$@"')
    result, imported = _imported([AGENT, "status"],
                                 env={"MDLP_RHCS_CONF": str(config), "PATH": "/usr/bin:/bin"},
                                 wrap=["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                                       str(tmp_path / "cib.xml")])
    assert result.returncode == 0, result.stdout
    assert "mdlp_agents.common.maintenance_record" in imported    # the trace is real: the CIB was looked at
    if block:
        assert "MAINTENANCE of mdlp" in result.stdout, result.stdout
        assert "xml.etree.ElementTree" in imported
    else:
        assert "MAINTENANCE" not in result.stdout, result.stdout
        assert "xml.etree.ElementTree" not in imported


@pytest.mark.parametrize("action", ["status", "monitor"])
def test_fence_on_stdin_does_not_import_click(tmp_path, action):
    conf = fence_conf(tmp_path, "backend = noop\n")
    result, imported = _imported([FENCE], env={"MDLP_FENCE_CONF": str(conf), "PATH": "/usr/bin:/bin"},
                                 stdin="action=%s\nnodename=node2\n" % action)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mdlp_agents.fence.cli" in imported
    assert "click" not in imported


# what Pacemaker's fencer runs every minute: `monitor` of an ipmi device, on stdin; once the
# site file is remembered, nothing beyond the interpreter, ipmitool and a few modules of ours
HEAVY_FOR_FENCE_MONITOR = {"click", "configparser", "subprocess", "threading", "re", "enum", "shutil", "ast",
                           "logging", "socket"}


def test_fence_monitor_of_an_ipmi_device_imports_nothing_heavy(tmp_path, bmc):
    conf = fence_conf(tmp_path, "backend = ipmi\nusername = admin\npassword = %s\ncipher = 3\n" % bmc.PASSWORD)
    stdin = "action=monitor\nip=127.0.0.1\nipport=%d\n" % bmc.port
    env = {"MDLP_FENCE_CONF": str(conf), "PATH": "/usr/bin:/bin"}
    time.sleep(0.1)      # the cache takes a file only once it is older than a clock tick
    for _ in range(2):   # the first run parses the site file and remembers it
        result, imported = _imported([FENCE], env=env, stdin=stdin)
        assert result.returncode == 0, result.stderr[-2000:]
    assert "mdlp_agents.fence.backends.ipmi" in imported    # the trace is real
    heavy = HEAVY_FOR_FENCE_MONITOR & imported
    if PYTHON_HAS_POSIX_SPAWN:
        assert not heavy, sorted(heavy)
    else:   # Python 3.6 (EL8): no posix_spawn, ipmitool runs through subprocess
        assert not heavy - {"subprocess", "threading", "enum", "re"}, sorted(heavy)
