"""Template helpers about cases: safe note markdown and timeline lines. Tags any page uses
(clipped text, numbers, ages) are in ``common.templatetags.display``."""

import re
from html import unescape

import markdown
import nh3
from django import template
from django.template.defaultfilters import pluralize
from django.utils.safestring import mark_safe
from markdown.extensions import Extension
from markdown.inlinepatterns import InlineProcessor

from cases.labels.models import Outcome
from cases.models import Case, EnforcementAction
from detection.config import SignalWeights
from detection.naming import signal_label as _signal_label

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


def note_plain_text(text: str) -> str:
    """A note as a reader sees it once rendered, without markup: for a spreadsheet cell,
    where ``**bold**`` would otherwise arrive as asterisks."""
    html = render_note_markdown(text or "")
    html = re.sub(r"</(p|li|h[3-6]|pre|blockquote)>|<br ?/?>", "\n", html).replace("<li>", "• ")
    text = unescape(nh3.clean(html, tags=set()))
    return re.sub(r"\n{2,}", "\n", text).strip()


@register.filter
def note_markdown(text: str) -> str:
    # Safe to mark: the text went through Markdown without raw HTML, then nh3's allow-list.
    return mark_safe(render_note_markdown(text or ""))  # noqa: S308


@register.filter
def signal_list(value, limit: int = 3) -> list[dict]:
    """The first ``limit`` signals of a stored list, skipping anything that is not a signal:
    the column is JSON that older runs (or bad data) may have shaped differently."""
    if not isinstance(value, list):
        return []
    return [s for s in value[: int(limit)] if isinstance(s, dict)]


@register.filter
def signal_label(name) -> str:
    """A detection signal's name in words, never ``snake_case`` (the stored name stays in the
    admin's weights)."""
    return _signal_label(name)


@register.filter
def signal_meaning(name) -> str:
    """What a signal measures, in one sentence (empty for a signal this version does not
    declare)."""
    return SignalWeights.described().get(str(name), ("", ""))[1]


_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


@register.filter
def in_words(text) -> str:
    """Text written for the team (a signal's reason) with any ``snake_case`` name in it as
    words, for readers outside the team."""
    return _SNAKE.sub(lambda m: m.group(0).replace("_", " "), str(text or ""))


STATUS_LABELS = dict(Case.Status.choices)
PRIORITY_LABELS = {str(k): v for k, v in Case.Priority.choices}
KIND_LABELS = dict(EnforcementAction.Kind.choices)
OUTCOME_LABELS = dict(Outcome.choices)


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
    if verb == "label.recorded":
        n = d.get("accounts") or 0
        outcome = OUTCOME_LABELS.get(d.get("outcome"), d.get("outcome"))
        return f"labelled {n} account{pluralize(n)} {str(outcome).lower()} ({d.get('reason_code')})"
    if verb == "allowlist.added":
        until = (d.get("expires_at") or "")[:10]
        what = "organisation" if d.get("scope") == "org" else "account"
        return f"allow-listed {what} {d.get('value')} until {until}"
    if verb.startswith("action."):
        return _describe_action(verb, d)
    return OTHER_EVENTS.get(verb) or _describe_other(verb, d)


# Events whose line needs nothing from their data.
OTHER_EVENTS = {
    "case.opened": "opened the case",
    "case.detection_updated": "detection updated the case's accounts and figures",
    "evidence.requested": "asked for a new evidence snapshot",
    "evidence.retried": "retried collecting evidence",
    "prompt.viewed": "viewed prompt text",
}


def _describe_other(verb: str, d: dict) -> str:
    if verb == "export.created":
        fmt = str(d.get("format") or "").upper()
        return f"exported the {d.get('scope') or 'case'} as {fmt}".strip()
    if verb.startswith("admin."):
        return f"changed in the admin ({verb.split('.', 1)[1].replace('_', ' ')})"
    # An event this version does not know (a newer writer's): its name, as words.
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
        + (
            f"for {accounts} account{pluralize(accounts)} "
            if d.get("all_accounts") is False
            else ""
        )
        + f"(reversal {action})",
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
