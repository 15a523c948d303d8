"""The account page, the accounts sharing an attribute (a pivot), the bulk forms that act on
the accounts selected there, and a case's related accounts."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from cases.accounts import selectors
from cases.accounts.attributes import ATTRIBUTES, BadValue, as_stored, display, normalise
from cases.accounts.forms import AddToCaseForm, OpenCaseForm
from cases.accounts.related import TOP_TIES, related_accounts
from cases.accounts.search import MAX_TERM, search_accounts, search_cases
from cases.accounts.tables import AccountTable, RelatedTable
from cases.enforcement.blast_radius import AccountFacts, lookalike_warnings
from cases.intel.selectors import account_intel
from cases.models import Case
from cases.selectors import cases_visible_to
from cases.services.accounts import case_accounts_add
from cases.services.opening import case_open_manual
from cases.tables import paginate
from cases.views.common import get_case_for_user
from common.htmx import is_fragment, vary_on_fragment
from detection.allowlist import known_good_entries
from detection.models import Account

SCOPES = {"all": "All", "outside": "Outside", "inside": "Inside"}
CASE_CHOICES = 30  # open cases offered in the "add to case" list (and the one you came from)


def _context_case(request: HttpRequest) -> Case | None:
    """The case the user came from (``?case=``), if they may see it: pivots then say which
    accounts are on it and offer it first to add to."""
    raw = request.GET.get("case", "")
    if not raw.isdigit() or len(raw) > 18:
        return None
    return cases_visible_to(request.user).only("title", "status").filter(pk=int(raw)).first()


def _case_choices(request: HttpRequest, case: Case | None) -> list[Case]:
    choices = list(selectors.open_cases_for_adding(request.user)[:CASE_CHOICES])
    if case is not None and case.is_open:
        choices = [case, *(c for c in choices if c.pk != case.pk)]
    return choices


def _back(request: HttpRequest, fallback: str) -> str:
    to = request.POST.get("next") or ""
    safe = to and url_has_allowed_host_and_scheme(
        to, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return to if safe else fallback


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def account_detail(request: HttpRequest, account_id: str) -> HttpResponse:
    """One account: its attributes, the accounts sharing each, its cases and decisions, and
    its signals per detection run."""
    account = get_object_or_404(Account, account_id=account_id)
    case = _context_case(request)
    window = selectors.pivot_window()
    values = selectors.account_exchange_values(account, window)
    shared_counts = selectors.account_shared_counts(account)
    facts = AccountFacts(
        account_id=account.account_id,
        created_at=account.created_at,
        plan=account.plan,
        org_id=account.org_id,
        exchanges=0,
    )
    context = {
        "account": account,
        "case": case,
        "shared_counts": shared_counts,
        "lookalike": lookalike_warnings(
            facts,
            org_sizes={account.org_id: shared_counts.get("org", 0)},
            org_in_proposal=None,
            now=timezone.now(),
        ),
        "exchange_values": [
            (kind, ATTRIBUTES[kind].label, values[kind])
            for kind in ("ip", "range", "asn", "template", "agent")
        ],
        "window": window,
        "memberships": list(selectors.account_memberships(account)),
        "actions": selectors.account_actions(account),
        "scores": selectors.account_scores(account),
        "changes": selectors.account_changes(account),
        "intel": account_intel(account),
        "decisions": selectors.account_decisions(account),
        "known_good": known_good_entries([account.account_id], [account.org_id]),
    }
    return render(request, "cases/accounts/account_detail.html", context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def account_pivot(request: HttpRequest, kind: str) -> HttpResponse:
    """The accounts sharing one value of one attribute, inside and outside a case."""
    if kind not in ATTRIBUTES:
        raise Http404("No such attribute")
    try:
        value = normalise(kind, request.GET.get("value", ""))
    except BadValue:
        raise Http404("Not a value of this attribute") from None
    case = _context_case(request)
    scope = request.GET.get("scope", "all")
    scope = scope if scope in SCOPES else "all"
    window = None if ATTRIBUTES[kind].on_account else selectors.pivot_window()
    sharing = selectors.accounts_sharing(kind, value, window)
    can_work = request.user.has_perm("cases.work_case")
    table = AccountTable(
        selectors.account_rows(selectors.pivot_scope(sharing, scope, case=case), case=case),
        case=case,
        exclude=[name for name, hide in (("select", not can_work), ("in_case", not case)) if hide],
    )
    paginate(request, table)
    table.hx_target = "#pivot-results"
    table.push_url = True
    table.base_url = reverse("accounts:pivot", args=[kind])
    context = {
        "kind": kind,
        "attribute": ATTRIBUTES[kind],
        "value": value,
        "label": display(kind, value),
        "case": case,
        "scope": scope,
        "scopes": SCOPES,
        "window": window,
        "table": table,
        "can_work": can_work,
    }
    template = "cases/accounts/account_pivot.html"
    if is_fragment(request):
        return render(request, template + "#results", context)
    context["counts"] = selectors.pivot_counts(sharing, case=case)
    if can_work:
        context["case_choices"] = _case_choices(request, case)
        name = f"{ATTRIBUTES[kind].label.lower()} {display(kind, value)}"
        context["default_reason"] = f"Shares {name}"[:200]
        context["default_title"] = f"Accounts sharing {name}"[:120]
    return render(request, template, context)


@require_POST
@permission_required("cases.work_case", raise_exception=True)
def accounts_add_to_case(request: HttpRequest) -> HttpResponse:
    """Add the selected accounts to an open case, one audit event each."""
    form = AddToCaseForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return redirect(_back(request, reverse("cases:case_queue")))
    case = form.cleaned_data["case"]
    try:
        added = case_accounts_add(
            case=case,
            accounts=list(form.cleaned_data["accounts"]),
            by=request.user,
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_back(request, case.get_absolute_url()))
    skipped = len(form.cleaned_data["accounts"]) - len(added)
    message = f"Added {len(added)} account{'s' if len(added) != 1 else ''} to case #{case.pk}."
    if skipped:
        message += f" {skipped} already on it."
    messages.success(request, message)
    return redirect(case.get_absolute_url())


@require_POST
@permission_required("cases.work_case", raise_exception=True)
def accounts_open_case(request: HttpRequest) -> HttpResponse:
    """Open a new case on the selected accounts."""
    form = OpenCaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return redirect(_back(request, reverse("cases:case_queue")))
    try:
        case = case_open_manual(
            title=form.cleaned_data["title"],
            accounts=list(form.cleaned_data["accounts"]),
            by=request.user,
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_back(request, reverse("cases:case_queue")))
    messages.success(request, f"Opened case #{case.pk} on {case.account_count} accounts.")
    return redirect(case.get_absolute_url())


def _errors(form) -> str:
    return " ".join(" ".join(errors) for errors in form.errors.values())


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_related(request: HttpRequest, pk: int) -> HttpResponse:
    """Accounts outside the case that share its strongest ties, best first."""
    case = get_case_for_user(request, pk, related=())
    result = related_accounts(case, selectors.pivot_window())
    rows = {
        a.pk: a
        for a in selectors.account_rows(
            Account.objects.filter(pk__in=[r.account_pk for r in result.rows]), case=None
        )
    }
    items = [
        {"pk": r.account_pk, "account": rows[r.account_pk], "score": r.score, "ties": r.ties}
        for r in result.rows
        if r.account_pk in rows
    ]
    can_work = request.user.has_perm("cases.work_case") and case.is_open
    table = RelatedTable(items, case=case, exclude=() if can_work else ("select",))
    context = {
        "case": case,
        "table": table,
        "result": result,
        "can_work": can_work,
        "default_reason": f"Shares ties with case #{case.pk}",
        "top_ties": TOP_TIES,
    }
    return render(request, "cases/accounts/case_related.html", context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def search(request: HttpRequest) -> HttpResponse:
    """The top bar's search: accounts by id prefix or attribute, and cases."""
    term = as_stored(request.GET.get("q", "")).strip()[:MAX_TERM]
    window = selectors.pivot_window() if term else None
    context = {
        "term": term,
        "matches": search_accounts(term, window),
        "cases": search_cases(request.user, term),
    }
    return render(request, "cases/accounts/search.html", context)
