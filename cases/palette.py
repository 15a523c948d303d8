"""The command palette (Ctrl-K): cases, accounts and actions that match what was typed.

Actions are the places and steps the user may take from where they are (the case page adds
that case's steps); cases match as the queue's search does, or by their campaign's name;
accounts as the top bar's search finds them (``cases.accounts.search``). Each group is capped,
so a keystroke costs a bounded number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse

from cases.accounts import selectors as account_selectors
from cases.accounts.attributes import as_stored
from cases.accounts.search import MAX_TERM, search_accounts
from cases.enforcement.models import EnforcementAction
from cases.models import Case
from cases.selectors import case_text_match, cases_visible_to, saved_views_for

SHOWN = 6
# Account lookups read indexes (and, for some kinds, the latest window): not for one letter.
ACCOUNT_MIN_CHARS = 2


@dataclass(frozen=True)
class Item:
    group: str
    label: str
    url: str
    hint: str = ""
    # A selector of an element on the current page to click instead of following ``url``:
    # it opens that action's dialog where the page offers it (the page's own key does too).
    click: str = ""


def _matches(term: str, *texts: str) -> bool:
    words = term.lower().split()
    haystack = " ".join(texts).lower()
    return all(word in haystack for word in words)


def _case_actions(user, case: Case) -> list[Item]:
    n = case.pk
    items = [
        Item(
            "Actions",
            "Next case in the queue",
            reverse("cases:case_step", args=[n]) + "?dir=next",
            "j",
            "a[data-step='next']",
        ),
        Item(
            "Actions",
            "Previous case in the queue",
            reverse("cases:case_step", args=[n]) + "?dir=prev",
            "k",
            "a[data-step='prev']",
        ),
    ]
    if user.has_perm("cases.work_case") and case.merged_into_id is None:
        status_url = reverse("cases:case_status", args=[n])
        items.append(
            Item("Actions", f"Change the status of case #{n}…", status_url, "s", "[data-key='s']")
        )
        if case.is_open:
            items.append(
                Item(
                    "Actions",
                    f"Dismiss case #{n}…",
                    status_url + "?to=dismissed",
                    "d",
                    "[data-key='d']",
                )
            )
        items.append(
            Item(
                "Actions",
                f"Write a note on case #{n}",
                case.get_absolute_url() + "#note-body",
                "n",
                "#note-body",
            )
        )
    if user.has_perm("cases.propose_action") and case.is_open and case.merged_into_id is None:
        items.append(
            Item(
                "Actions",
                f"Propose an action on case #{n}…",
                reverse("cases:action_propose", args=[n]),
                "p",
                "[data-key='p']",
            )
        )
    if user.has_perm("cases.approve_action"):
        waiting = (
            EnforcementAction.objects.awaiting_decision_by(user)
            .filter(case=case)
            .order_by("id")
            .first()
        )
        if waiting is not None:
            items.append(
                Item(
                    "Actions",
                    f"Approve or reject {waiting.verb_label} #{waiting.pk}…",
                    reverse("cases:action_decide", args=[n, waiting.pk]),
                    "Shift+A",
                    f"[data-decide='{waiting.pk}']",
                )
            )
    return items


def palette_actions(user, case: Case | None) -> list[Item]:
    """Where the user can go, and (on a case page) what they can do to the case."""
    items = []
    if case is not None:
        items += _case_actions(user, case)
    items += [
        Item("Actions", "Go to the queue", reverse("cases:case_queue"), "u"),
        Item("Actions", "Go to the overview", reverse("overview")),
        Item("Actions", "Go to notifications", reverse("cases:notification_list")),
    ]
    if user.has_perm("cases.approve_action"):
        items.append(Item("Actions", "Go to approvals", reverse("cases:approval_queue")))
    mine, team = saved_views_for(user)
    for view in (*mine, *team):
        owner = "" if view.owner_id == user.pk else f" ({view.owner.get_username()})"
        items.append(
            Item("Actions", f"Open the view “{view.name}”{owner}", view.get_absolute_url())
        )
    return items


def palette_cases(user, term: str) -> list[Item]:
    match = case_text_match(term) | Q(campaign__label__icontains=term)
    found = (
        cases_visible_to(user)
        .filter(match)
        .select_related("campaign")
        .only("title", "status", "campaign__label")
        .order_by("-risk_score", "-id")[:SHOWN]
    )
    return [
        Item(
            "Cases",
            f"#{case.pk} {case.title}",
            case.get_absolute_url(),
            " · ".join(
                p
                for p in (
                    case.get_status_display(),
                    case.campaign.label if case.campaign_id else "",
                )
                if p
            ),
        )
        for case in found
    ]


def palette_accounts(term: str) -> list[Item]:
    if len(term) < ACCOUNT_MIN_CHARS:
        return []
    items: list[Item] = []
    for match in search_accounts(term, account_selectors.pivot_window()):
        how = f"{match.kind_label} {match.label}"
        for account in match.accounts:
            if len(items) == SHOWN:
                return items
            items.append(
                Item(
                    "Accounts",
                    account.account_id,
                    reverse("accounts:account_detail", args=[account.account_id]),
                    how,
                )
            )
    return items


def palette_items(user, term: str, case: Case | None) -> list[Item]:
    # Looked up as telemetry stores text (no NUL, no lone surrogate: PostgreSQL holds neither).
    term = " ".join(as_stored(term).split())[:MAX_TERM]
    actions = [i for i in palette_actions(user, case) if _matches(term, i.label)]
    # What starts with the text typed comes first ("queue" → "Go to the queue" is not first,
    # "go" → it is); otherwise the order above.
    actions.sort(key=lambda i: not i.label.lower().startswith(term.lower()))
    if not term:
        return actions
    return actions[:SHOWN] + palette_cases(user, term) + palette_accounts(term)
