"""cluster/cli.py in-process with click's CliRunner: every golden render, and errors raised with
their exit code (the process around it -- one line on stderr, syslog, the code: test_cluster_tool_cli.py)."""

import json

import pytest
from click.testing import CliRunner
from helpers import REPO

from mdlp_agents.cluster.cli import ToolError, main
from mdlp_agents.cluster.live.status import StatusError
from mdlp_agents.cluster.site.answers import AnswerError

from .test_cluster_tool_cli import RENDERS

pytestmark = pytest.mark.inprocess
GOLDEN = REPO / "tests" / "golden"


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.chdir(REPO)    # the renders name the answer file as given: examples/...

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args], prog_name="mdlp-cluster")
    return run


@pytest.mark.parametrize("name,args", RENDERS, ids=[r[0] for r in RENDERS])
def test_render_matches_golden(invoke, name, args):
    result = invoke(*args)
    assert result.exit_code == 0 and result.exception is None, result.output
    assert result.output == (GOLDEN / name).read_text()


def test_render_to_a_file_counts_config_versions(invoke, tmp_path):
    out = tmp_path / "cluster.conf"
    for expected in ("1", "2"):
        assert invoke("render", "rhcs", "examples/cluster-2node.toml", "-o", out).exit_code == 0
        assert 'config_version="%s"' % expected in out.read_text()


@pytest.mark.parametrize("args,error,code", [
    (["render", "hosts", "/nonexistent.toml"], AnswerError, 2),
    (["render", "rhcs", "examples/cluster-4node.toml"], AnswerError, 2),            # which cluster?
    (["render", "rhcs", "-c", "nope", "examples/cluster-2node.toml"], AnswerError, 2),
    (["render", "dns", "examples/cluster-2node.toml"], AnswerError, 2),             # no dns_name
    (["render", "hosts", "examples/cluster-2node.toml", "-o", "/nonexistent/dir/out"], ToolError, 2),
    (["validate", "/nonexistent.conf"], ToolError, 2),
    (["status", "--from", "/nonexistent.xml"], StatusError, 4),
])
def test_errors_carry_their_exit_code(invoke, args, error, code):
    result = invoke(*args)
    assert isinstance(result.exception, error), result.output
    assert result.exception.exit_code == code and "\n" not in str(result.exception)


def test_usage_errors_are_click_s(invoke):
    result = invoke("render", "pacemaker", "--format", "yaml", "examples/cluster-2node.toml")
    assert result.exit_code == 2 and "'yaml' is not one of" in result.output.replace('"', "'")


def test_status_from_a_recording(invoke):
    result = invoke("status", "--json", "--from", "tests/data/clustat-started.xml",
                    "--cluster-conf", "tests/golden/2node-rhcs.conf")
    assert result.exit_code == 0
    status = json.loads(result.output)
    assert (status["state"], status["active_node"], status["floating_ip"]) == ("started", "node2", "10.0.32.201")
    table = invoke("status", "--table", "--from", "tests/data/clustat-failed.xml")
    assert table.exit_code == 1 and table.output.splitlines()[1].split() == ["state", "failed"]


def test_status_of_a_service_by_another_name(invoke, tmp_path):
    recording = tmp_path / "clustat.xml"
    recording.write_text((REPO / "tests" / "data" / "clustat-started.xml").read_text()
                         .replace("service:mdlp", "service:websense"))
    result = invoke("status", "--json", "--from", recording, "--resource", "websense")
    assert result.exit_code == 0 and json.loads(result.output)["service"] == "websense", result.output
    assert invoke("status", "--from", recording).exit_code == 3      # mdlp: not configured


def test_validate(invoke, tmp_path):
    conf = tmp_path / "cluster.conf"
    conf.write_text((GOLDEN / "2node-rhcs.conf").read_text().replace("/opt/websense/rproxy/cs", str(tmp_path)))
    result = invoke("validate", conf)
    assert result.exit_code == 1, result.output
    assert "%s:34: script 'mdlp_rhcs': %s/mdlp_rhcs is not an executable file on this node" % (conf, tmp_path) \
        in result.output.splitlines()
