"""rhcs/config.py in-process: every broken mdlp_rhcs.conf is one ConfigError naming the file, the
section and the key (the agent's exit codes for them: rhcs/test_config_cli.py)."""

import pytest
from helpers import REPO

from mdlp_agents.rhcs import config as cfg

from .test_config_cli import BAD_CONFIGS

pytestmark = pytest.mark.inprocess


def _write(tmp_path, body):
    path = tmp_path / "mdlp_rhcs.conf"
    path.write_text(body)
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize("body,expected", BAD_CONFIGS)
def test_broken_configs_are_one_config_error(tmp_path, body, expected):
    path = _write(tmp_path, body)
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load(path, use_cache=False)
    message = str(caught.value)
    assert message.startswith(path + ": ") and expected in message and "\n" not in message
    assert type(caught.value) is cfg.ConfigError and caught.value.exit_code == 6


@pytest.mark.parametrize("body,message", [
    ("[agent]\ndeadline = soon\n[service httpd]\nprocess = httpd\n",
     "[agent] deadline: 'soon' is not a positive number of seconds (at most 86400)"),
    ("[service httpd]\nprocess = httpd\nbogus line\n", "line 3: not a 'key = value' line"),
    ("[service httpd]\nuser = no-such-user-here\nprocess = httpd\n",
     "[service httpd] user: no such user 'no-such-user-here'"),
])
def test_exact_messages(tmp_path, body, message):
    path = _write(tmp_path, body)
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load(path, use_cache=False)
    assert str(caught.value) == "%s: %s" % (path, message)


def test_a_missing_file_is_this_node_s_problem(tmp_path):
    with pytest.raises(cfg.ConfigMissing) as caught:
        cfg.load(str(tmp_path / "absent.conf"))
    assert str(caught.value) == "%s: configuration file not found" % (tmp_path / "absent.conf")
    assert caught.value.exit_code == 5     # OCF: try another node; the LSB agent says 6 (rhcs/cli.py)


def test_the_shipped_config_reads_as_documented(tmp_path):
    config = cfg.load(_write(tmp_path, (REPO / "etc" / "mdlp_rhcs.conf").read_text()), use_cache=False)
    assert [s.name for s in config.services] == ["httpd", "PolicyEngine", "RProxyWD"]
    assert (config.deadline, config.stop_policy, config.state_dir) == (10.0, "leave", "/run/mdlp_agents")
