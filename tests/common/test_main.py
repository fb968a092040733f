"""common/main.py: whatever a tool's body does, one line and a documented code, never a traceback."""

import pytest

from mdlp_agents.common.errors import AgentError
from mdlp_agents.common.main import outcome

pytestmark = pytest.mark.inprocess


class Reported(list):
    def __call__(self, message):
        self.append(message)


def _raise(exc):
    def body():
        raise exc
    return body


def test_the_body_code_is_the_exit_code():
    reported = Reported()
    assert outcome(lambda: 3, reported, 4) == 3 and reported == []


def test_an_agent_error_is_one_line_with_its_own_code():
    reported = Reported()
    assert outcome(_raise(AgentError("bad input", 6)), reported, 1) == 6
    assert reported == ["bad input"]
    assert outcome(_raise(AgentError("plain")), reported, 4) == 1   # AgentError's default code


def test_subclasses_carry_their_codes():
    from mdlp_agents.cluster.live.status import StatusError
    from mdlp_agents.cluster.site.answers import AnswerError
    from mdlp_agents.fence.backends import FenceError
    from mdlp_agents.fence.options import FenceInputError
    from mdlp_agents.rhcs.config import ConfigError, ConfigMissing
    codes = {cls: outcome(_raise(cls("x")), Reported(), 99) for cls in
             (AnswerError, StatusError, FenceError, FenceInputError, ConfigError, ConfigMissing)}
    assert codes == {AnswerError: 2, StatusError: 4, FenceError: 1, FenceInputError: 1, ConfigError: 6,
                     ConfigMissing: 5}


@pytest.mark.parametrize("code,expected", [(None, 0), (0, 0), (7, 7), ("message", 1)])
def test_sys_exit_keeps_its_code(code, expected):
    assert outcome(_raise(SystemExit(code)), Reported(), 4) == expected


def test_anything_else_is_an_internal_error_with_the_tool_s_code():
    reported = Reported()
    assert outcome(_raise(KeyError("boom")), reported, 4) == 4
    assert reported == ["internal error: KeyError: 'boom'"]
    assert outcome(_raise(KeyboardInterrupt()), reported, 1) == 1 and len(reported) == 1
