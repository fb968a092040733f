"""mdlp_rhcs through its OCF link speaks resource-agents' dialect: the exit reason Pacemaker
records (ocf-exit-reason:, as ocf_exit_reason writes it), quiet probes, and ocf_log's tag and
facility.  Read back by a real Pacemaker: cluster/test_cluster_single_lab.py."""

import os
import re

from helpers import run_agent, sigstop, write_config
from services import NAMES, service_pid

INTERVAL = {"OCF_RESKEY_CRM_meta_interval": "10000"}   # a recurring monitor, not a probe


def test_a_failed_monitor_says_why_as_an_exit_reason(managed, fake, ocf_link):
    config = managed("leave")
    for name in NAMES:
        fake.start(name)
    assert run_agent("start", config=config, ocf_link=ocf_link).returncode == 0
    sigstop(service_pid(fake, "RProxyWD"))
    result = run_agent("monitor", config=config, ocf_link=ocf_link, env=INTERVAL)
    assert result.returncode == 1, result
    assert re.match(r"^ocf-exit-reason:RProxyWD HUNG \(\w+: .*stopped \(SIGSTOP\): hung\)\n$", result.stderr), result
    # Pacemaker sets the prefix itself; ocf_exit_reason uses what it is given
    custom = run_agent("monitor", config=config, ocf_link=ocf_link, env=dict(INTERVAL, OCF_EXIT_REASON_PREFIX="why:"))
    assert custom.stderr.startswith("why:RProxyWD HUNG"), custom
    # a probe (interval 0) that finds the resource FAILED says why too (maintenance off and crm_mon show it)
    probe = run_agent("monitor", config=config, ocf_link=ocf_link, env={"OCF_RESKEY_CRM_meta_interval": "0"})
    assert probe.returncode == 1 and probe.stderr.startswith("ocf-exit-reason:RProxyWD HUNG ("), probe
    # the admin's view stays as it was: no prefix outside the OCF link
    lsb = run_agent("status", config=config)
    assert lsb.returncode == 3 and "ocf-exit-reason" not in lsb.stdout + lsb.stderr


def test_a_monitor_that_finds_everything_gone_says_which_services(managed, fake, ocf_link):
    """7 (not running) from a recurring monitor is a failure to Pacemaker: crm_mon shows its reason.
    Only a probe that finds the resource cleanly stopped stays quiet."""
    config = managed("leave")
    for name in NAMES:
        fake.start(name)
    assert run_agent("start", config=config, ocf_link=ocf_link).returncode == 0
    for name in NAMES:
        fake.kill(name)
    result = run_agent("monitor", config=config, ocf_link=ocf_link, env=INTERVAL)
    assert result.returncode == 7, result
    assert result.stderr.startswith("ocf-exit-reason:httpd STALE (pidfile: ") and "; PolicyEngine STALE (" in \
        result.stderr and "; RProxyWD STALE (" in result.stderr and result.stderr.count("\n") == 1, result
    probe = run_agent("monitor", config=config, ocf_link=ocf_link, env={"OCF_RESKEY_CRM_meta_interval": "0"})
    assert (probe.returncode, probe.stderr) == (7, ""), probe
    # a recurring monitor on a node that has no start on record (rebooted, state gone): 7, and why
    assert run_agent("stop", config=config, ocf_link=ocf_link).returncode == 0
    gone = run_agent("monitor", config=config, ocf_link=ocf_link, env=INTERVAL)
    assert gone.returncode == 7 and gone.stderr.startswith("ocf-exit-reason:not active on this node"), gone
    probe = run_agent("monitor", config=config, ocf_link=ocf_link, env={"OCF_RESKEY_CRM_meta_interval": "0"})
    assert (probe.returncode, probe.stderr) == (7, ""), probe


def test_a_failed_start_gives_its_reason(tmp_path, ocf_link):
    name = "PolicyEngine%d" % (os.getpid() % 1000)
    config = write_config(tmp_path, "[service %s]\nprocess = %s\nstart = true\n" % (name, name),
                          agent="start_timeout = 1\n")
    result = run_agent("start", config=config, ocf_link=ocf_link)
    assert result.returncode == 1, result
    assert result.stderr == ("ocf-exit-reason:start failed: service %s did not become healthy within 1s: process: "
                             "no process named %s\n" % (name, name)), result


def test_a_probe_where_the_resource_never_ran_is_quiet(tmp_path, ocf_link, syslog):
    bad = tmp_path / "bad.conf"
    bad.write_text("[service x]\n")
    result = run_agent("monitor", config=bad, ocf_link=ocf_link, env={"OCF_RESKEY_CRM_meta_interval": "0"})
    assert (result.returncode, result.stderr) == (7, ""), result
    assert not [line for line in syslog.lines() if line.startswith("<27>")]   # daemon.err


def test_log_lines_carry_ocf_log_s_tag_and_facility(tmp_path, ocf_link, syslog):
    name = "PolicyEngine%d" % (os.getpid() % 1000)
    config = write_config(tmp_path, "[service %s]\nprocess = %s\nstart = true\n" % (name, name),
                          agent="start_timeout = 1\n")
    env = {"OCF_RESOURCE_INSTANCE": "mdlp-rhcs", "HA_LOGFACILITY": "local3"}
    assert run_agent("start", config=config, ocf_link=ocf_link, env=env).returncode == 1
    lines = syslog.lines()
    # local3 (19) * 8 + err (3) = 155; the tag as ocf-shellfuncs builds it: NAME(INSTANCE)[PID]
    assert any(re.match(r"^<155>mdlp_rhcs\(mdlp-rhcs\)\[\d+\]: start failed: ", line) for line in lines), lines
    # HA_LOGTAG wins; "none" or an unknown facility is the default, daemon (3)
    env = {"OCF_RESOURCE_INSTANCE": "mdlp-rhcs", "HA_LOGFACILITY": "none", "HA_LOGTAG": "custom"}
    assert run_agent("start", config=config, ocf_link=ocf_link, env=env).returncode == 1
    assert any(re.match(r"^<27>custom\[\d+\]: start failed: ", line) for line in syslog.lines())
