"""Logging: one syslog line per state change, none for repeated healthy checks,
and no failure when no syslog or journald runs."""

import os
import re
import signal

from helpers import RUN_ID, run_agent

# facility daemon (3): <3*8 + severity>
WARNING, NOTICE, INFO, ERROR = "<28>", "<29>", "<30>", "<27>"


def _state_lines(lines):
    return [line for line in lines if "service " in line and (" is down: " in line or " is back up " in line)]


def test_one_line_per_state_change(three_services, fake, syslog):
    assert run_agent("status", config=three_services).returncode == 0
    assert run_agent("status", config=three_services).returncode == 0
    assert syslog.lines() == []  # healthy and unchanged: silence

    fake.kill("PolicyEngine", signal.SIGSTOP)
    for _ in range(3):
        assert run_agent("status", config=three_services).returncode == 3
    lines = syslog.lines()
    assert len(lines) == 1, lines
    assert re.match(r"^<28>mdlp_rhcs\[\d+\]: service PolicyEngine is down: HUNG: pidfile: pid \d+ is "
                    r"stopped \(SIGSTOP\): hung$", lines[0]), lines

    fake.kill("PolicyEngine", signal.SIGCONT)
    for _ in range(3):
        assert run_agent("status", config=three_services).returncode == 0
    lines = syslog.lines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(NOTICE + "mdlp_rhcs[")
    assert "service PolicyEngine is back up (pid %d), was HUNG" % fake.procs["PolicyEngine"][0].pid in lines[0]

    # HUNG -> killed is a change too (the cause changed), then nothing more
    fake.kill("PolicyEngine")
    run_agent("status", config=three_services)
    run_agent("status", config=three_services)
    lines = syslog.lines()
    assert len(lines) == 1 and "service PolicyEngine is down: STALE" in lines[0], lines


def test_actions_and_errors_are_logged(tmp_path, syslog):
    bad = tmp_path / "mdlp_rhcs.conf"
    bad.write_text("[agent]\nsyslog_socket = %s\n[service x]\n" % syslog.path)
    # a broken config cannot tell us its syslog socket: the default one is used, so
    # here nothing arrives -- but the one line is still on stderr
    result = run_agent("status", config=bad)
    assert result.returncode == 6 and len(result.stderr.splitlines()) == 1
    good = tmp_path / "good.conf"
    good.write_text("[agent]\nsyslog_socket = %s\nstate_dir = %s\nstart_timeout = 1\n"
                    "[service PolicyEngine]\nprocess = PolicyEngine\nstart = true\n"
                    % (syslog.path, tmp_path / "state"))
    assert run_agent("start", config=good).returncode == 1
    lines = syslog.lines()
    assert any(line.startswith(INFO) and "start requested" in line for line in lines), lines
    assert any(line.startswith(ERROR) and "start failed: service PolicyEngine did not become healthy" in line
               for line in lines), lines


def test_no_syslog_no_journald_is_not_a_failure(three_services, fake):
    # syslog.sock does not exist (no receiver fixture): every line is dropped quietly
    fake.kill("RProxyWD")
    result = run_agent("status", config=three_services)
    assert result.returncode == 1, result
    assert result.stderr == ""


def test_state_dir_falls_back_for_other_users_only(tmp_path):
    """`nobody` (as ocf-tester runs us) cannot write /run/mdlp_agents: a per-user temp dir keeps
    its state.  Root never falls back, and never uses a state directory someone else owns."""
    import shutil
    import subprocess
    import tempfile
    name = "mdlp-fb-%d" % RUN_ID
    public = tempfile.mkdtemp(prefix="mdlp-public-")
    try:
        os.chmod(public, 0o755)
        config = os.path.join(public, "public.conf")
        with open(config, "w") as handle:
            handle.write("[agent]\nstate_dir = /run/mdlp-not-for-nobody\n[service %s]\nprocess = %s\n"
                         % (name, name))
        os.chmod(config, 0o644)
        from helpers import AGENT
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(AGENT),
                                 "status", "--config", config], capture_output=True, text=True, timeout=60)
        assert result.returncode == 3, result
        fallback = os.path.join(tempfile.gettempdir(), "mdlp_agents-65534", "last-status")
        with open(fallback) as handle:
            assert name + "\tSTOPPED\t" in handle.read()
        # root, with a state_dir that belongs to somebody else: not used at all
        foreign = os.path.join(public, "foreign-state")
        os.mkdir(foreign)
        os.chown(foreign, 65534, 65534)
        with open(config, "w") as handle:
            handle.write("[agent]\nstate_dir = %s\n[service %s]\nprocess = %s\n" % (foreign, name, name))
        assert run_agent("status", config=config).returncode == 3
        assert os.listdir(foreign) == []
    finally:
        shutil.rmtree(public)
