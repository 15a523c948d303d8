"""The spreadsheet-formula guard on its own, over any text."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from common.spreadsheets import FORMULA_STARTS, neutralise


def test_formula_starts_get_an_apostrophe():
    for value in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", " =1", "\n@x"]:
        assert neutralise(value) == "'" + value


def test_ordinary_text_and_non_text_pass_through():
    assert neutralise("Northwind fleet") == "Northwind fleet"
    assert neutralise("a=b") == "a=b"
    assert neutralise("") == ""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for value in (None, 3, -0.5, when):
        assert neutralise(value) is value


@given(st.text())
def test_no_output_starts_a_formula(value):
    out = neutralise(value)
    assert out in (value, "'" + value)
    assert not out.lstrip(" \n\x0b\x0c\u00a0").startswith(FORMULA_STARTS)
    assert not out.startswith(FORMULA_STARTS)
