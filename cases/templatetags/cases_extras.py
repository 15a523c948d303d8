"""Template helpers for the console: safe note markdown, clipped hostile text, timeline lines."""

import functools

import markdown
import nh3
from django import template
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.html import avoid_wrapping
from django.utils.safestring import mark_safe
from django.utils.timesince import TIME_STRINGS
from django.utils.translation import get_language
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor

from cases.models import Case, EnforcementAction

register = template.Library()

# What a rendered note may contain. Raw HTML in a note is never passed through (the
# Markdown extension below turns it into text); nh3 then cleans the output as a second line.
NOTE_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h3", "h4", "h5", "h6", "span",
}  # fmt: skip
NOTE_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class"}}


class _Mention(InlineProcessor):
    def handleMatch(self, m, data):
        import xml.etree.ElementTree as ET

        el = ET.Element("span")
        el.set("class", "mention")
        el.text = "@" + m.group(1)
        return el, m.start(0), m.end(0)


class _ConsoleMarkdown(Extension):
    def extendMarkdown(self, md):
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.inlinePatterns.register(_Mention(r"(?<![\w@])@([\w.+-]*\w)", md), "mention", 65)


def render_note_markdown(text: str) -> str:
    html = markdown.markdown(text, extensions=[_ConsoleMarkdown(), "sane_lists"])
    return nh3.clean(
        html,
        tags=NOTE_TAGS,
        attributes=NOTE_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@register.filter
def note_markdown(text: str) -> str:
    # Safe to mark: the text went through Markdown without raw HTML, then nh3's allow-list.
    return mark_safe(render_note_markdown(text or ""))  # noqa: S308


@register.inclusion_tag("cases/_partials/clip.html")
def clip(value, length: int = 60) -> dict:
    """Hostile text, escaped, cut to ``length`` characters with a control to see all of it."""
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
def signal_list(value, limit: int = 3) -> list[dict]:
    """The first ``limit`` signals of a stored list, skipping anything that is not a signal:
    the column is JSON that older runs (or bad data) may have shaped differently."""
    if not isinstance(value, list):
        return []
    return [s for s in value[: int(limit)] if isinstance(s, dict)]


@register.filter
def bar_width(value, maximum=1.0) -> int:
    """0-100, for a CSS width; the value is clamped, so bad data cannot break the layout."""
    try:
        share = float(value) / float(maximum or 1)
    except (TypeError, ValueError, ZeroDivisionError):
        return 0
    return max(0, min(100, round(share * 100)))


STATUS_LABELS = dict(Case.Status.choices)
PRIORITY_LABELS = {str(k): v for k, v in Case.Priority.choices}
KIND_LABELS = dict(EnforcementAction.Kind.choices)


def _status(value) -> str:
    return STATUS_LABELS.get(value, str(value))


def describe_event(event) -> str:
    """One plain-text line for the timeline (autoescaped where it is shown)."""
    d = event.data or {}
    verb = event.verb
    if verb in ("case.status_changed", "case.reopened"):
        line = f"{'reopened' if verb == 'case.reopened' else 'moved'} from {_status(d.get('from'))}"
        line += f" to {_status(d.get('to'))}"
        if d.get("resolution"):
            line += f" ({Case.Resolution(d['resolution']).label.lower()})"
        return line
    if verb == "case.assigned":
        return f"assigned to {d['to']}" if d.get("to") else f"unassigned (was {d.get('from')})"
    if verb == "case.priority_changed":
        frm = PRIORITY_LABELS.get(str(d.get("from")), d.get("from"))
        return f"priority {frm} → {PRIORITY_LABELS.get(str(d.get('to')), d.get('to'))}"
    if verb == "case.tagged":
        return f"tagged {d.get('tag')}"
    if verb == "case.untagged":
        return f"removed tag {d.get('tag')}"
    if verb == "case.account_added":
        return f"added account {d.get('account')}"
    if verb == "case.account_removed":
        return f"removed account {d.get('account')}"
    if verb == "note.added":
        return "added a note" + (
            f", mentioning {', '.join(d['mentions'])}" if d.get("mentions") else ""
        )
    if verb == "note.edited":
        return "edited a note"
    if verb == "case.merged":
        return f"merged case #{d.get('from_case')} into this one"
    if verb == "case.merged_away":
        return f"merged into case #{d.get('into')}"
    if verb.startswith("action."):
        return _describe_action(verb, d)
    return verb.replace("_", " ").replace(".", ": ", 1)


def _describe_action(verb: str, d: dict) -> str:
    """Enforcement steps: what happened to which action, in the analyst's words."""
    action = f"#{d.get('action')}"
    kind = str(KIND_LABELS.get(d.get("kind"), d.get("kind") or "action")).lower()
    accounts = d.get("accounts")
    count = f" on {accounts} account{pluralize(accounts)}" if accounts is not None else ""
    reverses = f" of #{d['reverses']}" if d.get("reverses") else ""
    backend = f" to {d['backend']}" if d.get("backend") else ""
    lines = {
        "action.proposed": f"proposed {kind} {action}{count}"
        + (f", replacing #{d['supersedes']}" if d.get("supersedes") else ""),
        "action.superseded": f"{kind} {action} replaced by #{d.get('by_action')}",
        "action.approved": f"approved {kind} {action}",
        "action.rejected": f"rejected {kind} {action}",
        "action.reversal_requested": f"asked to reverse {kind} #{d.get('reverses')} "
        f"(reversal {action})",
        "action.reversal_approved": f"approved reversal {action}{reverses}",
        "action.reversal_rejected": f"rejected reversal {action}{reverses}",
        "action.executed": f"{kind} {action} in force{count}",
        "action.reversed": f"{kind} #{d.get('reverses')} reversed{count} (by {action})",
        "action.delivered": f"{action} delivered{backend}"
        + (f" (HTTP {d['status_code']})" if d.get("status_code") else ""),
        "action.delivery_failed": f"delivery of {action}{backend} failed"
        + (f", attempt {d['attempt']}" if d.get("attempt") else "")
        + (", will retry" if d.get("next_attempt_at") else ""),
        "action.delivery_dead_lettered": f"delivery of {action}{backend} gave up after "
        f"{d.get('attempts')} attempts",
        "action.delivery_retried": f"delivery of {action}{backend} retried by hand",
    }
    return lines.get(verb) or verb.replace("_", " ").replace(".", ": ", 1)


@register.filter
def event_line(event) -> str:
    return describe_event(event)


@register.filter
def event_reason(event) -> str:
    return (event.data or {}).get("reason") or ""


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
