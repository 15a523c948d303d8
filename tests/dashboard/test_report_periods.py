"""The report's periods and trends, and the words signals and notes are given in: pure."""

from datetime import date, timedelta

import pytest

from cases.templatetags.cases_extras import in_words, note_plain_text
from dashboard.reports.selectors import Trend, last_full, previous
from dashboard.selectors import Period
from detection.config import SignalWeights, signal_label


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        (date(2026, 12, 6), date(2026, 11, 23), date(2026, 11, 29)),  # a Sunday
        (date(2026, 11, 30), date(2026, 11, 23), date(2026, 11, 29)),  # a Monday
        (date(2026, 1, 1), date(2025, 12, 22), date(2025, 12, 28)),
    ],
)
def test_last_full_week_is_monday_to_sunday_before_today(today, start, end):
    assert last_full("week", today) == Period(start, end)


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        (date(2026, 12, 6), date(2026, 11, 1), date(2026, 11, 30)),
        (date(2026, 1, 31), date(2025, 12, 1), date(2025, 12, 31)),
        (date(2024, 3, 1), date(2024, 2, 1), date(2024, 2, 29)),
    ],
)
def test_last_full_month(today, start, end):
    assert last_full("month", today) == Period(start, end)


def test_previous_period_has_the_same_length_just_before():
    period = Period(date(2026, 11, 1), date(2026, 11, 30))
    before = previous(period)
    assert before == Period(date(2026, 10, 2), date(2026, 10, 31))
    assert before.days == period.days and before.end + timedelta(days=1) == period.start


def test_trend_change_and_share():
    assert Trend("k", "K", "", 12, 8).change == 4
    assert Trend("k", "K", "", 12, 8).change_share == pytest.approx(0.5)
    assert Trend("k", "K", "", 3, 0).change_share is None
    assert Trend("k", "K", "", None, 2.5).change is None
    assert Trend("k", "K", "", 3.5, 2.25).change == 1.2


def test_every_signal_is_described_in_words():
    described = SignalWeights.described()
    assert set(described) == set(SignalWeights.names())
    for name, (label, meaning) in described.items():
        assert "_" not in label and label[0].isupper()
        assert meaning, name
    assert signal_label("some_future_signal") == "Some future signal"


def test_reasons_and_notes_in_words():
    assert in_words("shared_payment: 5 accounts; x_y") == "shared payment: 5 accounts; x y"
    text = note_plain_text("# Title\n\n**Bold**, `code` and [a link](http://x.test)\n\n1. one")
    assert text == "Title\nBold, code and a link\n• one"
