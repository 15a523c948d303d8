"""How values are shown on every page: hostile text clipped, fractions as percents, signal
values as numbers, bar widths clamped, ages in the largest unit, dates in the one format of
``common.dates``. No app's models here; a template that needs them loads ``{% load display %}``."""

import functools
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import avoid_wrapping
from django.utils.timesince import TIME_STRINGS
from django.utils.translation import get_language

from common.dates import DAY_FORMAT, WHEN_FORMAT

register = template.Library()


@register.filter(expects_localtime=True)
def day(value) -> str:
    """``2026-12-04``"""
    return date_format(value, DAY_FORMAT) if value else ""


@register.filter(expects_localtime=True)
def when(value) -> str:
    """``2026-12-04 14:05 UTC`` (a date alone: ``2026-12-04``)"""
    if not value:
        return ""
    return date_format(value, WHEN_FORMAT if isinstance(value, datetime) else DAY_FORMAT)


@register.inclusion_tag("_partials/clip.html")
def clip(value, length: int = 60) -> dict:
    """Hostile text, escaped by the template, cut to ``length`` characters with a control to
    see all of it."""
    text = "" if value is None else str(value)
    short = text[: length - 1] + "…" if len(text) > length else ""
    return {"text": text, "short": short, "length": len(text)}


@register.filter
def percent(value, digits: int = 1) -> str:
    try:
        return f"{float(value) * 100:.{int(digits)}f}%"
    except (TypeError, ValueError):
        return "—"


@register.filter
def number(value) -> str:
    """A signal's value: small fractions with three figures, big ones with separators."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


@register.filter
def bar_width(value, maximum=1.0) -> int:
    """0-100, for a CSS width; the value is clamped, so bad data cannot break the layout."""
    try:
        share = float(value) / float(maximum or 1)
    except (TypeError, ValueError, ZeroDivisionError):
        return 0
    return max(0, min(100, round(share * 100)))


@register.filter
def age(value, now=None) -> str:
    """How long ago (or until), in the largest unit: "3 days", "5 hours".

    What ``timesince(value, now, depth=1)`` (or ``timeuntil``) says, with calendar months and
    years as Django counts them, but without building the lazy translated strings each time:
    the queue shows two ages a row.
    """
    if not value:
        return ""
    return age_text(value, now or timezone.now(), get_language())


def age_text(value, now, language: str) -> str:
    """``age(value, now)`` in ``language``, for a caller that looks the language up once
    for many values (the queue's rows)."""
    start, end = (value, now) if value <= now else (now, value)
    return _age_text(*_largest_unit(start, end.astimezone(start.tzinfo)), language)


def _largest_unit(start, end) -> tuple[str, int]:
    since = (end - start).days * 86400 + (end - start).seconds
    if since <= 0:
        return "minute", 0
    months = (end.year - start.year) * 12 + end.month - start.month
    if start.day > end.day or (start.day == end.day and start.time() > end.time()):
        months -= 1
    if months >= 12:
        return "year", months // 12
    if months:
        return "month", months
    for unit, seconds in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if since >= seconds:
            return unit, since // seconds
    return "minute", 0


@functools.lru_cache(maxsize=1024)
def _age_text(unit: str, count: int, language: str) -> str:
    return avoid_wrapping(TIME_STRINGS[unit] % {"num": count})
