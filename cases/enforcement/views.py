"""Enforcement on the case page: the section, proposal, decision and reversal modals,
delivery retry, the approvals queue and the ban list download.

Forms are ``<dialog>``s for htmx (204 + ``caseChanged`` when saved, the form again with 200
when not) and pages of their own without JS. Four eyes is enforced by the services; these
views also refuse the proposer the decision form itself (403), so the check holds for a
fragment URL requested directly.
"""

import hmac
from itertools import chain

from django.conf import settings
from django.contrib.auth.decorators import login_not_required, permission_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from cases.enforcement import banlist, selectors, services
from cases.enforcement.forms import DecisionForm, ProposeForm, ReversalForm
from cases.enforcement.models import EnforcementAction, OutboxMessage
from cases.models import EvidenceSnapshot
from cases.selectors import case_lookalikes
from cases.views.common import action_done, add_service_error, get_case_for_user
from common.auth import mark_authenticated, password_confirms, recently_authenticated
from common.htmx import is_fragment, vary_on_fragment

SECTION = "cases/enforcement/_partials/body.html"
SECTION_PAGE = "cases/case_section.html"
FORM_PAGE = "cases/enforcement/action_form.html"


def _get_action_for_user(request: HttpRequest, pk: int, action_pk: int):
    case = get_case_for_user(request, pk)
    try:
        return case, selectors.action_of_case(case, action_pk)
    except EnforcementAction.DoesNotExist:
        raise Http404("No such action on this case") from None


def _form(request: HttpRequest, context: dict) -> HttpResponse:
    template = FORM_PAGE + "#dialog" if is_fragment(request) else FORM_PAGE
    return render(request, template, context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_enforcement(request: HttpRequest, pk: int) -> HttpResponse:
    """The Enforcement section: every proposal, decision, delivery and reversal."""
    case = get_case_for_user(request, pk)
    actions = selectors.actions_of_case(case)
    context = {
        "case": case,
        "section_title": "Enforcement",
        "actions": actions,
        "polling": selectors.has_delivery_in_flight(actions),
        "can_propose": request.user.has_perm("cases.propose_action")
        and case.is_open
        and case.merged_into_id is None,
        "can_approve": request.user.has_perm("cases.approve_action"),
        "latest_snapshot": EvidenceSnapshot.objects.filter(case=case).done().first(),
    }
    if is_fragment(request):
        response = render(request, SECTION, context)
        if request.GET.get("polling") and not context["polling"]:
            # Delivery finished while the page watched: refresh the header and timeline too.
            trigger_client_event(response, "caseChanged", {"case": case.pk}, after="swap")
        return response
    return render(request, SECTION_PAGE, {**context, "section_template": SECTION})


@require_http_methods(["GET", "POST"])
@permission_required("cases.propose_action", raise_exception=True)
def action_propose(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request, pk)
    accounts = list(selectors.live_accounts_of(case).values_list("pk", "account_id"))
    lookalikes = frozenset(case_lookalikes(case).values_list("account_id", flat=True))
    form = ProposeForm(request.POST or None, accounts=accounts, lookalikes=lookalikes)
    if request.method == "POST" and form.is_valid():
        try:
            action = services.action_propose(
                case=case,
                by=request.user,
                kind=form.cleaned_data["kind"],
                reason=form.cleaned_data["reason"],
                policy=form.cleaned_data["policy"],
                category=form.cleaned_data["category"],
                duration_days=form.cleaned_data["duration_days"],
                account_ids=form.cleaned_data["account_ids"],
                lookalike_reason=form.cleaned_data["lookalike_reason"],
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            n = action.blast_radius.get("account_count", 0)
            message = f"{action.get_kind_display()} of {n} account(s) proposed; awaiting approval."
            return action_done(request, case, message)
    preview = services.blast_radius_for(case, [pk for pk, _ in accounts]) if accounts else None
    return _form(
        request,
        {
            "case": case,
            "form": form,
            "title": "Propose an action",
            "action_url": reverse("cases:action_propose", args=[case.pk]),
            "submit": "Propose",
            "preview": preview,
            "snapshot": EvidenceSnapshot.objects.filter(case=case).done().first(),
            "proposing": True,
            "lookalike_total": len(form.lookalikes),
            "open_proposal": case.actions.open_proposals()
            .exclude(kind=EnforcementAction.Kind.REVERSE)
            .first(),
        },
    )


def _reauthenticated(request: HttpRequest, form: DecisionForm) -> bool:
    """An approval asked for the password (the form has the field): check it, and count the
    session as freshly authenticated if it is right. A rejection needs no password."""
    if "password" not in form.fields or form.cleaned_data["decision"] != "approve":
        return True
    if password_confirms(request, form.cleaned_data["password"]):
        mark_authenticated(request)
        return True
    form.add_error("password", "That is not your password.")
    return False


@require_http_methods(["GET", "POST"])
@permission_required("cases.approve_action", raise_exception=True)
def action_decide(request: HttpRequest, pk: int, action_pk: int) -> HttpResponse:
    case, action = _get_action_for_user(request, pk, action_pk)
    if action.proposed_by_id == request.user.pk:
        raise PermissionDenied("You proposed this; another approver must decide.")
    stale = not recently_authenticated(request)
    elsewhere = stale and settings.OIDC_ENABLED and not request.user.has_usable_password()
    form = DecisionForm(
        request.POST or None,
        ask_password=stale and not elsewhere,
        reauth_elsewhere=elsewhere,
        reversal=action.is_reversal,
    )
    if request.method == "POST" and form.is_valid() and _reauthenticated(request, form):
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.action_decide(
                action=action,
                by=request.user,
                approve=approve,
                comment=form.cleaned_data["comment"],
                outcome=form.cleaned_data.get("outcome") or "",
                reason_code=form.cleaned_data.get("reason_code") or "",
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            what = action.verb_label.capitalize()
            done = "approved; delivery under way" if approve else "rejected"
            return action_done(request, case, f"{what} {done}.")
    title = "Decide on a reversal" if action.is_reversal else "Decide on a proposal"
    return _form(
        request,
        {
            "case": case,
            "form": form,
            "title": title,
            "action": action,
            "action_url": reverse("cases:action_decide", args=[case.pk, action.pk]),
            "submit": "Record decision",
            "open": action.is_open,
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required("cases.propose_action", raise_exception=True)
def action_reverse(request: HttpRequest, pk: int, action_pk: int) -> HttpResponse:
    case, action = _get_action_for_user(request, pk, action_pk)
    accounts = services.reversible_accounts(action)
    form = ReversalForm(request.POST or None, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        try:
            reversal = services.action_request_reversal(
                action=action,
                by=request.user,
                reason=form.cleaned_data["reason"],
                account_ids=form.cleaned_data["account_ids"],
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            n = reversal.blast_radius.get("account_count", 0)
            return action_done(
                request,
                case,
                f"Reversal of the {action.verb_label} for {n} account(s) requested; "
                "awaiting approval.",
            )
    return _form(
        request,
        {
            "case": case,
            "form": form,
            "title": f"Request a reversal of the {action.verb_label}",
            "action": action,
            "action_url": reverse("cases:action_reverse", args=[case.pk, action.pk]),
            "submit": "Request reversal",
            "danger": True,
            "reversing": True,
            "reversible": len(accounts),
        },
    )


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def action_detail(request: HttpRequest, pk: int, action_pk: int) -> HttpResponse:
    """One proposal on a page of its own: the frozen blast radius, evidence, deliveries."""
    case, action = _get_action_for_user(request, pk, action_pk)
    return render(
        request,
        "cases/enforcement/action_detail.html",
        {
            "case": case,
            "action": action,
            "can_approve": request.user.has_perm("cases.approve_action"),
            "can_propose": request.user.has_perm("cases.propose_action"),
        },
    )


@require_POST
@permission_required("cases.approve_action", raise_exception=True)
def outbox_retry(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    case = get_case_for_user(request, pk)
    message = get_object_or_404(
        OutboxMessage.objects.select_related("action"), pk=message_pk, action__case=case
    )
    back = request.POST.get("next", "")  # the approvals page sends its own URL
    try:
        services.outbox_retry(message=message, by=request.user)
    except ValidationError as exc:
        return action_done(request, case, " ".join(exc.messages), to=back)
    return action_done(
        request, case, f"Delivery to the {message.get_backend_display()} retried.", to=back
    )


@require_GET
@permission_required("cases.approve_action", raise_exception=True)
def approval_queue(request: HttpRequest) -> HttpResponse:
    """What waits for this approver: others' proposals, their own, deliveries that failed."""
    return render(
        request,
        "cases/enforcement/approval_queue.html",
        {
            "awaiting": list(selectors.actions_awaiting(request.user)),
            "mine": list(selectors.actions_proposed_by(request.user)),
            "dead": list(selectors.dead_letters()),
        },
    )


def _bearer_ok(request: HttpRequest) -> bool:
    token = settings.ENFORCEMENT_BANLIST_TOKEN
    header = request.headers.get("Authorization", "")
    return (
        bool(token)
        and header.startswith("Bearer ")
        and hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode())
    )


@login_not_required
def ban_list(request: HttpRequest, fmt: str) -> HttpResponse:
    """The accounts currently enforced, as CSV or JSON. Logged-in users with read access to
    enforcement, or the account platform with ``Authorization: Bearer <token>``.

    Authentication comes first, so an anonymous request learns nothing (not even which
    formats exist) before it is sent to log in."""
    if not _bearer_ok(request):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.has_perm("cases.view_enforcementaction"):
            raise PermissionDenied("your role cannot read the ban list")
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if fmt not in ("csv", "json"):
        raise Http404("CSV or JSON")
    now = timezone.now()
    rows = banlist.current_rows(now)
    stamp = now.strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        response = StreamingHttpResponse(
            chain(["\ufeff"], banlist.csv_chunks(rows)), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            banlist.json_chunks(rows, generated_at=now.isoformat()),
            content_type="application/json",
        )
    response["Content-Disposition"] = f'attachment; filename="ban-list-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


__all__ = [
    "action_decide",
    "action_detail",
    "action_propose",
    "action_reverse",
    "approval_queue",
    "ban_list",
    "case_enforcement",
    "outbox_retry",
]
