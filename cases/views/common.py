"""What every case view shares: fetch-and-authorise, fragment-or-page, modal responses."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from cases.models import Case
from cases.selectors import cases_visible_to
from common.htmx import is_fragment

ACTION_TEMPLATE = "cases/case_action.html"


def get_case_for_user(request: HttpRequest, pk: int, *, related=("assignee", "campaign")) -> Case:
    """The case if this user may see it, else 404 (the 403 for roleless users comes first,
    from the permission decorator on every view)."""
    return get_object_or_404(cases_visible_to(request.user).select_related(*related), pk=pk)


def add_service_error(form, exc: ValidationError) -> None:
    for message in exc.messages:
        form.add_error(None, message)


def render_action(
    request: HttpRequest,
    *,
    case: Case | None,
    form,
    title: str,
    action_url: str,
    submit: str,
    intro: str = "",
    danger: bool = False,
    extra: dict | None = None,
) -> HttpResponse:
    """A form that is a modal ``<dialog>`` for htmx and a page of its own without JS.

    Invalid forms come back the same way with status 200 (htmx 2 does not swap 4xx).
    """
    context = {
        "case": case,
        "form": form,
        "title": title,
        "action_url": action_url,
        "submit": submit,
        "intro": intro,
        "danger": danger,
        **(extra or {}),
    }
    template = ACTION_TEMPLATE + "#dialog" if is_fragment(request) else ACTION_TEMPLATE
    return render(request, template, context)


def action_done(
    request: HttpRequest, case: Case | None, message: str, *, to: str = ""
) -> HttpResponse:
    """After a saved modal: 204 with ``caseChanged`` for htmx, a redirect otherwise."""
    if is_fragment(request):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = json.dumps(
            {
                "caseChanged": {"case": case.pk if case else None},
                "closeModal": True,
                "showMessage": message,
            }
        )
        return response
    messages.success(request, message)
    safe = to and url_has_allowed_host_and_scheme(
        to, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(to if safe else (case.get_absolute_url() if case else "cases:case_queue"))
