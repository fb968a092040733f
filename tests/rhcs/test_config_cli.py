"""Bad configuration and bad input: one clear line, the documented exit code, no traceback."""

import subprocess
import time

import pytest
from click.testing import CliRunner
from helpers import AGENT, PYTHON, REPO, run_agent, write_config

from mdlp_agents.rhcs.cli import build_command

GOOD_SERVICE = "[service httpd]\nprocess = httpd\n"

# (config body, text the one-line error must contain)
BAD_CONFIGS = [
    ("[agent]\ndeadline = soon\n" + GOOD_SERVICE, "[agent] deadline: 'soon' is not a positive number"),
    ("[agent]\ndeadline = -1\n" + GOOD_SERVICE, "[agent] deadline: '-1' is not a positive number"),
    ("[agent]\nstop_policy = maybe\n" + GOOD_SERVICE, "[agent] stop_policy: 'maybe' is not one of leave | stop"),
    ("[agent]\ncolour = blue\n" + GOOD_SERVICE, "[agent] colour: unknown key"),
    ("[agnet]\n" + GOOD_SERVICE, "[agnet]: unknown section"),
    ("[DEFAULT]\nx = 1\n" + GOOD_SERVICE, "[DEFAULT]: unknown section"),
    ("[service httpd]\nprocess = httpd\nport = 443\n", "[service httpd] port: unknown key"),
    ("[service httpd]\ntimeout = 2\n", "[service httpd]: no probe"),
    ("[service httpd]\ntcp = 127.0.0.1\n", "[service httpd] tcp: '127.0.0.1': expected HOST:PORT"),
    ("[service httpd]\ntcp = 127.0.0.1:99999\n", "expected HOST:PORT"),
    ("[service httpd]\ntcp = ::1:443\n", "IPv6 address must be in brackets"),
    ("[service httpd]\nhttp = ftp://127.0.0.1/\n", "[service httpd] http: 'ftp://127.0.0.1/': expected an http"),
    ("[service httpd]\npidfile = run/httpd.pid\n", "[service httpd] pidfile: 'run/httpd.pid' is not an absolute path"),
    ("[service httpd]\nprocess = /usr/sbin/httpd\n", "is not a process name"),
    ("[service httpd]\nprocess = httpd\ntimeout = 0\n", "[service httpd] timeout: '0' is not a positive number"),
    ("[service httpd]\nprocess =\n", "[service httpd] process: empty value"),
    ("[service httpd]\nprocess = httpd\nprocess = apache2\n", "[service httpd] process appears twice"),
    ("[service httpd]\nprocess = httpd\n[service httpd]\nprocess = x\n", "section [service httpd] appears twice"),
    ("process = httpd\n", "text before the first [section]"),
    ("[service httpd]\nprocess = httpd\nthis is not a key value line\n", "not a 'key = value' line"),
    ("[agent]\ndeadline = 5\n", "no [service NAME] section"),
    ("[service]\nprocess = httpd\n", "[service]: unknown section"),
]


def _raw_config(tmp_path, body):
    path = tmp_path / "bad.conf"
    path.write_text(body)
    return path


@pytest.mark.parametrize("body,expected", BAD_CONFIGS)
@pytest.mark.parametrize("action", ["status", "start", "validate-all"])
def test_bad_config_is_one_line_and_exit_6(tmp_path, body, expected, action):
    path = _raw_config(tmp_path, body)
    result = run_agent(action, config=path)
    assert result.returncode == 6, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("mdlp_rhcs: %s: " % path)
    assert expected in lines[0]


def test_missing_config_file(tmp_path):
    result = run_agent("status", config=tmp_path / "nowhere.conf")
    assert result.returncode == 6
    assert result.stderr == "mdlp_rhcs: %s: configuration file not found\n" % (tmp_path / "nowhere.conf")


def test_unreadable_config_file(tmp_path):
    result = run_agent("status", config=tmp_path)  # a directory
    assert result.returncode == 6
    assert "cannot read configuration" in result.stderr and "Traceback" not in result.stderr


def test_binary_garbage_config(tmp_path):
    path = tmp_path / "garbage.conf"
    path.write_bytes(b"\xff\xfe\x00garbage\x00\x01")
    result = run_agent("status", config=path)
    assert result.returncode == 6 and len(result.stderr.splitlines()) == 1, result


def test_config_path_precedence(tmp_path, fake):
    fake.start("httpd")
    good = write_config(tmp_path, "[service httpd]\nprocess = httpd\n")
    bad = _raw_config(tmp_path, "[nonsense]\n")
    # --config beats $MDLP_RHCS_CONF
    assert run_agent("status", "--config", str(good), config=bad).returncode == 0
    assert run_agent("status", config=bad).returncode == 6
    # with neither, the default path is used
    result = run_agent("status", env={"MDLP_RHCS_CONF": ""})
    assert result.returncode == 6 and "/etc/mdlp_agents/mdlp_rhcs.conf" in result.stderr


def test_unknown_action_lsb_and_ocf(tmp_path, ocf_link):
    config = write_config(tmp_path, GOOD_SERVICE)
    result = run_agent("frobnicate", config=config)
    assert result.returncode == 2 and "unknown action 'frobnicate'" in result.stderr
    assert run_agent("reload", config=config).returncode == 3
    assert run_agent("frobnicate", config=config, ocf_link=ocf_link).returncode == 3
    for verb in ("notify", "promote", "demote", "reload"):
        assert run_agent(verb, config=config, ocf_link=ocf_link).returncode == 3


def test_no_arguments_and_bad_options_are_usage_errors():
    result = run_agent()
    assert result.returncode == 2, result
    assert result.stderr == "mdlp_rhcs: Missing argument 'ACTION'. (see mdlp_rhcs --help)\n"
    result = run_agent("status", "--bogus")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result
    assert "--bogus" in result.stderr
    result = run_agent("--help")
    assert result.returncode == 0 and "ACTION is one of" in result.stdout


@pytest.mark.inprocess
def test_help_and_version_with_click_runner():
    runner = CliRunner()
    result = runner.invoke(build_command(), ["--help"])
    assert result.exit_code == 0
    for action in ("start", "stop", "status", "monitor", "restart", "meta-data", "validate-all"):
        assert action in result.output
    result = runner.invoke(build_command(), ["--version"])
    assert result.exit_code == 0 and "0." in result.output


@pytest.mark.inprocess
def test_click_runner_status_json(three_services):
    result = CliRunner().invoke(build_command(), ["status", "--json", "--config", str(three_services)])
    assert result.exit_code == 0, result.output
    assert '"state": "RUNNING"' in result.output


def test_validate_all_reports_missing_programs(tmp_path, ocf_link):
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\nstart = /nonexistent/httpd -k start\n")
    result = run_agent("validate-all", config=config)
    assert result.returncode == 5, result
    assert "start: program /nonexistent/httpd is not installed" in result.stderr
    assert run_agent("validate-all", config=config, ocf_link=ocf_link).returncode == 5
    config = write_config(tmp_path, "[service httpd]\nprocess = httpd\nstart = sleep 1\n")
    assert run_agent("validate-all", config=config).returncode == 0


def test_shipped_configs_are_valid():
    for path in (REPO / "etc" / "mdlp_rhcs.conf", REPO / "examples" / "debian.conf"):
        result = subprocess.run([str(AGENT), "validate-all", "--config", str(path)],
                                capture_output=True, text=True)
        # 0, or 5 where this machine lacks the appliance's programs: never a config error
        assert result.returncode in (0, 5), (path, result.stderr)
        assert "not configured" not in result.stderr and "unknown" not in result.stderr


def _cache_hit(path):
    """Would the installed agent take PATH's configuration from its cache?  (Asked of the
    installed package, run outside the checkout: the cache is tied to the agent's own code.)"""
    code = ("import os, sys; from mdlp_agents.rhcs import config as c; "
            "print(c.ParsedCache(sys.argv[1], os.stat(sys.argv[1])).get() is not None)")
    result = subprocess.run([str(PYTHON), "-c", code, str(path)], cwd="/", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "True"


@pytest.mark.inprocess
def test_parsed_config_cache_follows_edits_and_trusts_only_root(tmp_path, fake):
    import os

    from mdlp_agents.rhcs import config as cfg
    fake.start("httpd")
    path = write_config(tmp_path, "[service httpd]\nprocess = httpd\n")
    settle = lambda: time.sleep(0.1)   # noqa: E731 - the cache takes files older than a clock tick
    settle()
    assert not _cache_hit(path)
    assert run_agent("status", config=path).returncode == 0
    assert _cache_hit(path)  # remembered after a valid parse
    # an edit of the same size is still seen
    path.write_text(path.read_text().replace("process = httpd", "process = httpX"))
    settle()
    assert not _cache_hit(path)
    assert run_agent("status", config=path).returncode == 3
    # and a broken edit is reported, not hidden by the cache
    path.write_text(path.read_text() + "[bogus]\n")
    assert run_agent("status", config=path).returncode == 6
    # a cache file others could have written is ignored
    path.write_text(path.read_text().replace("[bogus]\n", ""))
    settle()
    assert run_agent("status", config=path).returncode == 3
    assert _cache_hit(path)
    cache_file = cfg.ParsedCache(str(path), path.stat()).file
    os.chmod(cache_file, 0o666)
    try:
        assert not _cache_hit(path)
    finally:
        os.unlink(cache_file)
