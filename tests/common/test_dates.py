"""One date format on every page and in every date field."""

from datetime import UTC, date, datetime

from django.template import Context, Template

from cases.filters import CaseFilter
from common.templatetags.display import day, when


def test_a_day_and_a_moment_read_the_same_everywhere(settings):
    settings.TIME_ZONE = "UTC"
    moment = datetime(2026, 12, 4, 14, 5, 59, tzinfo=UTC)
    assert day(moment) == "2026-12-04"
    assert when(moment) == "2026-12-04 14:05 UTC"
    assert when(date(2026, 12, 4)) == "2026-12-04"
    assert day(None) == when(None) == ""


def test_a_moment_is_shown_in_the_consoles_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    html = Template("{% load display %}{{ t|when }}").render(
        Context({"t": datetime(2026, 12, 4, 14, 5, tzinfo=UTC)})
    )
    assert html == "2026-12-04 15:05 CET"


def test_the_queues_date_fields_take_and_ask_for_the_same_format(db):
    form = CaseFilter({"opened_after": "2026-12-04"}).form
    html = str(form["opened"])
    assert 'type="date"' not in html  # a browser would draw its own locale's format
    assert 'placeholder="YYYY-MM-DD"' in html
    assert form.is_valid()
    assert form.cleaned_data["opened"].start.date() == date(2026, 12, 4)
