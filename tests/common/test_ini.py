"""common/ini.py: the one INI set-up of mdlp_rhcs.conf, fence_mdlp.conf and INI answer files."""

import io

import pytest

from mdlp_agents.common import ini

pytestmark = pytest.mark.inprocess


def test_values_comments_and_sections():
    parser = ini.parse("# a comment\n[agent]\ndeadline = 10 ; inline\nstate_dir=/run/x # too\n; more\n", "f")
    assert parser.sections() == ["agent"]
    assert dict(parser["agent"]) == {"deadline": "10", "state_dir": "/run/x"}


def test_default_is_just_another_section():
    parser = ini.parse("[DEFAULT]\nx = 1\n[agent]\ny = 2\n", "f")
    assert parser.sections() == ["DEFAULT", "agent"]
    assert dict(parser["agent"]) == {"y": "2"}   # nothing inherited from [DEFAULT]


def test_keys_are_lower_case_unless_asked():
    assert list(ini.parse("[s]\nKey = v\n", "f")["s"]) == ["key"]
    assert list(ini.parse("[s]\nKey = v\n", "f", case_sensitive=True)["s"]) == ["Key"]


def test_no_interpolation_and_a_blank_line_ends_a_value():
    parser = ini.parse("[s]\nurl = http://h/%(x)s\ncmd = a\n  b\n\n[t]\n", "f")
    assert parser["s"]["url"] == "http://h/%(x)s" and parser["s"]["cmd"] == "a\nb"
    with pytest.raises(ini.IniError, match="line 4: not a 'key = value' line"):
        ini.parse("[s]\ncmd = a\n\n  continued\n", "f")


@pytest.mark.parametrize("text,message", [
    ("key = v\n", "line 1: text before the first [section]"),
    ("[s]\n[s]\n", "line 2: section [s] appears twice"),
    ("[s]\nk = 1\nk = 2\n", "line 3: [s] k appears twice"),
    ("[s]\nk = 1\nno equals here\n", "line 3: not a 'key = value' line"),
])
def test_errors_are_one_line_with_the_line_number(text, message):
    with pytest.raises(ini.IniError) as caught:
        ini.parse(text, "f")
    assert str(caught.value) == message


@pytest.mark.parametrize("text", ["password hunter2\n", "[s]\npassword hunter2\n",
                                  "root:$6$hunter2$x:19000:0:99999:7:::\n"])
def test_errors_never_show_the_line(text):
    """A mistyped password line, or a file of password hashes named as the config: the error (which
    an exit reason takes into the CIB) names the line, never its text."""
    with pytest.raises(ini.IniError) as caught:
        ini.parse(text, "f")
    assert "hunter2" not in str(caught.value) and str(caught.value).startswith("line 1" if text[0] != "[" else "line 2")


def test_a_file_that_is_not_text_is_one_line():
    handle = io.TextIOWrapper(io.BytesIO(b"[s]\nk = \xff\xfe\n"), encoding="utf-8")
    with pytest.raises(ini.IniError, match="^cannot read: 'utf-8' codec can't decode"):
        ini.parse(handle, "f")
