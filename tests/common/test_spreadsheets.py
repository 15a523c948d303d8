"""The spreadsheet-formula guard on its own, over any text."""

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.spreadsheets import FORMULA_STARTS, neutralise


def test_formula_starts_get_an_apostrophe():
    for value in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", " =1", "\n@x"]:
        assert neutralise(value) == "'" + value


@pytest.mark.parametrize(
    "value",
    [
        "\u3000=1+1",  # ideographic space
        "\ufeff=1+1",  # byte-order mark
        "\u200b=1+1",  # zero-width space
        "\uff1d1+1",  # full-width equals sign
        "\uff0bcmd",  # full-width plus
        "\uff0d1",  # full-width hyphen-minus
        "\uff20SUM(A1)",  # full-width commercial at
        "\x00=1+1",  # NUL
        "\u200b\u3000\ufeff\x00 \uff1dHYPERLINK()",  # all of them at once
        "\u2060@x",  # word joiner
    ],
)
def test_invisible_padding_and_full_width_signs_are_seen_through(value):
    assert neutralise(value) == "'" + value


def test_ordinary_text_and_non_text_pass_through():
    assert neutralise("Northwind fleet") == "Northwind fleet"
    assert neutralise("a=b") == "a=b"
    assert neutralise("\u3000Northwind") == "\u3000Northwind"
    assert neutralise("") == ""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    for value in (None, 3, -0.5, when):
        assert neutralise(value) is value


def _first_visible(value: str) -> str:
    for char in value:
        if not (char.isspace() or unicodedata.category(char)[0] in "CZ"):
            return unicodedata.normalize("NFKC", char)
    return ""


@given(st.text())
def test_no_output_starts_a_formula(value):
    out = neutralise(value)
    assert out in (value, "'" + value)
    assert not _first_visible(out).startswith(FORMULA_STARTS)
    assert not out.startswith(FORMULA_STARTS)
