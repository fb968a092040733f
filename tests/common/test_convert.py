"""common/convert.py: converters raise ValueError saying what is wrong; callers name the place."""

import math

import pytest

from mdlp_agents.common.convert import MAX_SECONDS, boolean, seconds

pytestmark = pytest.mark.inprocess


@pytest.mark.parametrize("text,expected", [("0", 0.0), ("2.5", 2.5), (" 10 ", 10.0), ("86400", 86400.0)])
def test_seconds_accepts_finite_numbers_up_to_a_day(text, expected):
    assert seconds(text) == expected


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "1e300", "86401", "soon", "", None])
def test_seconds_refuses_what_is_not_a_bound(text):
    with pytest.raises(ValueError, match="is not a number of seconds"):
        seconds(text)


def test_seconds_positive_and_maximum():
    with pytest.raises(ValueError, match="positive"):
        seconds("0", positive=True)
    assert seconds("5", maximum=5) == 5.0
    with pytest.raises(ValueError, match="at most 5"):
        seconds("5.01", maximum=5)
    assert not math.isinf(MAX_SECONDS)


@pytest.mark.parametrize("text,expected", [("1", True), ("YES", True), (" on ", True), ("True", True),
                                           ("0", False), ("no", False), ("Off", False), ("false", False)])
def test_boolean_words(text, expected):
    assert boolean(text) is expected


@pytest.mark.parametrize("text", ["", "2", "y", "enabled", "nope"])
def test_boolean_refuses_other_words(text):
    with pytest.raises(ValueError, match="is not a boolean"):
        boolean(text)
