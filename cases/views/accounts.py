"""Adding an account to a case and taking one off, each with a reason."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from cases.forms import AccountAddForm, AccountRemoveForm
from cases.models import CaseAccount
from cases.services.accounts import case_account_add, case_account_remove
from cases.views.common import action_done, add_service_error, get_case_for_user, render_action


@require_http_methods(["GET", "POST"])
@permission_required("cases.work_case", raise_exception=True)
def case_account_add_view(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request, pk)
    form = AccountAddForm(request.POST or None, initial={"account_id": request.GET.get("account")})
    if request.method == "POST" and form.is_valid():
        try:
            link = case_account_add(
                case=case,
                account_id=form.cleaned_data["account_id"],
                by=request.user,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return action_done(request, case, f"Added account {link.account.account_id}.")
    return render_action(
        request,
        case=case,
        form=form,
        title="Add an account to this case",
        action_url=reverse("cases:case_account_add", args=[case.pk]),
        submit="Add account",
    )


@require_http_methods(["GET", "POST"])
@permission_required("cases.work_case", raise_exception=True)
def case_account_remove_view(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    case = get_case_for_user(request, pk)
    link = get_object_or_404(
        CaseAccount.objects.select_related("account"),
        pk=link_pk,
        case=case,
        removed_at__isnull=True,
    )
    form = AccountRemoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            data = form.cleaned_data
            case_account_remove(
                link=link,
                by=request.user,
                reason=data["reason"],
                outcome=data.get("outcome") or "",
                reason_code=data.get("reason_code") or "",
                allow_scope=data.get("allow_scope") or "",
                allow_days=data.get("allow_days"),
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return action_done(request, case, f"Removed account {link.account.account_id}.")
    return render_action(
        request,
        case=case,
        form=form,
        title="Remove an account from this case",
        action_url=reverse("cases:case_account_remove", args=[case.pk, link.pk]),
        submit="Remove account",
        intro="The account stays in the case's history with who removed it and why. "
        "Dismissed as legitimate or unsure, it is labelled so; legitimate, it can go on the "
        "known-good allow-list for a while.",
        danger=True,
        extra={"subject": link.account.account_id},
    )
