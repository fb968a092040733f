"""fence/options.py: fence-agents' parameters as fenced and Pacemaker send them, in-process (the
agent reading them from a pipe: fence/test_fence_cli.py)."""

import pytest

from mdlp_agents.fence import options as fo
from mdlp_agents.fence.cli import parse_argv
from mdlp_agents.fence.options import FenceInputError

pytestmark = pytest.mark.inprocess


def test_stdin_old_and_new_names_quotes_comments():
    values, unknown = fo.parse_stdin("# fenced\nagent=fence_mdlp\nnodename=node2\nipaddr=10.0.0.1\n"
                                     "login='admin'\npasswd=\"p w\"\nport = node2 \noption=off\nlan-plus=1\n")
    assert values == {"agent": "fence_mdlp", "nodename": "node2", "ip": "10.0.0.1", "username": "admin",
                      "password": "p w", "plug": "node2", "action": "off"}
    assert unknown == ["lan-plus"]


def test_the_last_occurrence_wins_and_dashes_are_underscores():
    values, _ = fo.parse_stdin("action=on\naction=off\npower-timeout=5\n")
    assert values == {"action": "off", "power_timeout": "5"}


@pytest.mark.parametrize("text,message", [
    ("backend=noop\npasswd hunter2\n", "stdin line 2 is not key=value (14 characters, no '=')"),
])
def test_a_line_without_equals_is_refused_without_echo(text, message):
    with pytest.raises(FenceInputError) as caught:
        fo.parse_stdin(text)
    assert str(caught.value) == message and caught.value.exit_code == 1


def test_normalize_converts_by_kind():
    values = fo.defaults()
    values.update(action="Meta-Data", lanplus="", verbose="yes", power_timeout="2.5", retry_on="3", privlvl="USER")
    result = fo.normalize(values)
    assert result["action"] == "metadata" and result["lanplus"] is True and result["verbose"] is True
    assert result["power_timeout"] == 2.5 and result["retry_on"] == 3 and result["privlvl"] == "user"
    assert result["deadline"] == 50.0 and result["ssh_path"] == "/usr/bin/ssh"


@pytest.mark.parametrize("values,message", [
    ({"action": "explode"}, "Failed: Unrecognised action 'explode' (use one of: on, off, reboot, status, "
                            "monitor, list, list-status, metadata, manpage, validate-all)"),
    ({"lanplus": "maybe"}, "lanplus='maybe' is not a boolean (1/0, yes/no, on/off, true/false)"),
    ({"power_timeout": "soon"}, "power_timeout='soon' is not a valid time in seconds"),
    ({"retry_on": "1.5"}, "retry_on='1.5' is not a valid number"),
    ({"delay": "-1"}, "delay=-1.0 must be a finite number, not negative"),
    ({"delay": "nan"}, "delay=nan must be a finite number, not negative"),
    ({"deadline": "0"}, "deadline=0.0: the run must be bounded (fenced waits forever)"),
    ({"power_wait": "86401"}, "power_wait=86401.0: more than 86400 seconds is not a bound"),
    ({"privlvl": "root"}, "privlvl='root': use one of callback, user, operator, administrator"),
])
def test_normalize_refuses_in_one_line(values, message):
    with pytest.raises(FenceInputError) as caught:
        fo.normalize(values)
    assert str(caught.value) == message


def test_victim_and_host_map():
    assert fo.victim({"plug": "n1", "nodename": "n2"}) == "n1" and fo.victim({"nodename": "n2"}) == "n2"
    assert fo.host_map("node1:10.0.0.1;node2:10.0.0.2") == {"node1": "10.0.0.1", "node2": "10.0.0.2"}
    assert fo.host_map(" node1=10.0.0.1 , node2:fe80::2 ;") == {"node1": "10.0.0.1", "node2": "fe80::2"}
    # Pacemaker's pcmk_host_map reading: whitespace apart, the first ':' or '=' cuts
    assert fo.host_map("node1=fe80::1\tnode2:10.0.0.2 node3:a=b") == {"node1": "fe80::1", "node2": "10.0.0.2",
                                                                       "node3": "a=b"}
    with pytest.raises(FenceInputError, match="host_map entry 'node3' is not node:address"):
        fo.host_map("node1:10.0.0.1;node3")


def test_command_line_options_are_fence_agents():
    given = parse_argv(["-o", "status", "-n", "node2", "-a", "127.0.0.1", "-l", "admin", "-p", "pw", "-P",
                        "--backend", "ipmi", "-vv", "--power-timeout", "5"])
    assert given == {"action": "status", "plug": "node2", "ip": "127.0.0.1", "username": "admin", "password": "pw",
                     "lanplus": "1", "backend": "ipmi", "verbose": "1", "power_timeout": "5"}


def test_a_bad_command_line_is_one_line_and_exit_1():
    with pytest.raises(FenceInputError) as caught:
        parse_argv(["--bogus"])
    assert "--bogus" in str(caught.value) and str(caught.value).endswith("(see fence_mdlp --help)")
    assert caught.value.exit_code == 1    # click would say 2; fence agents know 0, 1 and 2 (status off)


def test_metadata_lists_every_parameter_and_its_old_name():
    xml = fo.metadata_xml()
    for param in fo.PARAMS:
        assert '<parameter name="%s"' % param.name in xml
        if param.obsoletes:
            assert '<parameter name="%s" unique="0" required="0" deprecated="1">' % param.obsoletes in xml \
                or '<parameter name="%s" unique="0" required="1" deprecated="1">' % param.obsoletes in xml
