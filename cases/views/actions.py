"""Workflow actions on one case. GET returns the form (a ``<dialog>`` for htmx, a page
without JS); POST applies it through ``cases.services`` and answers 204 + ``caseChanged``."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from cases.forms import AssignForm, MergeForm, PriorityForm, StatusForm, TagForm
from cases.models import Case
from cases.services import merge, workflow
from cases.views.common import action_done, add_service_error, get_case_for_user, render_action


@require_http_methods(["GET", "POST"])
@permission_required("cases.work_case", raise_exception=True)
def case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign the case. ``assignee=me`` (the "a" key, the "Assign to me" button) needs no form."""
    case = get_case_for_user(request, pk)
    url = reverse("cases:case_assign", args=[case.pk])
    if request.method == "POST" and request.POST.get("assignee") == "me":
        workflow.case_assign(case=case, to=request.user, by=request.user)
        return action_done(request, case, f"Case #{case.pk} assigned to you.")
    form = AssignForm(
        request.POST or None,
        initial={"assignee": case.assignee.get_username() if case.assignee else None},
    )
    if request.method == "POST" and form.is_valid():
        to = form.cleaned_data["assignee"]
        try:
            workflow.case_assign(case=case, to=to, by=request.user)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            who = to.get_username() if to else "nobody"
            return action_done(request, case, f"Case #{case.pk} assigned to {who}.")
    return render_action(
        request, case=case, form=form, title="Assign case", action_url=url, submit="Assign"
    )


@require_http_methods(["GET", "POST"])
@permission_required("cases.work_case", raise_exception=True)
def case_status(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request, pk)
    form = StatusForm(
        request.POST or None,
        case=case,
        user=request.user,
        initial={"to": request.GET.get("to")},
    )
    if request.method == "POST" and form.is_valid():
        to = form.cleaned_data["to"]
        try:
            workflow.case_change_status(
                case=case,
                to=to,
                by=request.user,
                reason=form.cleaned_data.get("reason") or "",
                resolution=form.cleaned_data.get("resolution") or "",
                outcome=form.cleaned_data.get("outcome") or "",
                reason_code=form.cleaned_data.get("reason_code") or "",
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            label = Case.Status(to).label.lower()
            return action_done(request, case, f"Case #{case.pk} moved to {label}.")
    intro = ""
    if not form.fields["to"].choices:
        intro = f"A {case.get_status_display().lower()} case cannot be moved by your role here."
    return render_action(
        request,
        case=case,
        form=form,
        title="Change status",
        action_url=reverse("cases:case_status", args=[case.pk]),
        submit="Change status",
        intro=intro,
    )


@require_http_methods(["GET", "POST"])
@permission_required("cases.work_case", raise_exception=True)
def case_priority(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request, pk)
    form = PriorityForm(request.POST or None, initial={"priority": case.priority})
    if request.method == "POST" and form.is_valid():
        priority = form.cleaned_data["priority"]
        workflow.case_set_priority(case=case, priority=priority, by=request.user)
        label = Case.Priority(priority).label
        return action_done(request, case, f"Case #{case.pk} is now {label}; due date follows.")
    return render_action(
        request,
        case=case,
        form=form,
        title="Set priority",
        action_url=reverse("cases:case_priority", args=[case.pk]),
        submit="Set priority",
        intro="The due date moves with the priority, counted from when the case opened.",
    )


@require_http_methods(["GET", "POST"])
@permission_required("cases.work_case", raise_exception=True)
def case_tag_add(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request, pk)
    form = TagForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tag = workflow.case_add_tag(case=case, name=form.cleaned_data["name"], by=request.user)
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            name = form.cleaned_data["name"]
            done = f"Tagged {tag.name}." if tag else f"Already tagged {name}."
            return action_done(request, case, done)
    return render_action(
        request,
        case=case,
        form=form,
        title="Add a tag",
        action_url=reverse("cases:case_tag_add", args=[case.pk]),
        submit="Add tag",
        extra={"datalist": "tag-names"},
    )


@require_POST
@permission_required("cases.work_case", raise_exception=True)
def case_tag_remove(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    case = get_case_for_user(request, pk)
    workflow.case_remove_tag(case=case, name=name, by=request.user)
    return action_done(request, case, f"Removed tag {name}.")


@require_http_methods(["GET", "POST"])
@permission_required("cases.work_case", raise_exception=True)
def case_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge another case of the same campaign into this one (this one is kept)."""
    case = get_case_for_user(request, pk)
    form = MergeForm(request.POST or None, case=case, user=request.user)
    if request.method == "POST" and form.is_valid():
        other = form.cleaned_data["other"]
        try:
            merge.case_merge(
                source=other, target=case, by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return action_done(request, case, f"Case #{other.pk} merged into #{case.pk}.")
    return render_action(
        request,
        case=case,
        form=form,
        title="Merge a case into this one",
        action_url=reverse("cases:case_merge", args=[case.pk]),
        submit="Merge",
        intro=(
            "The other case's notes and accounts move here and its timeline shows here; it is "
            "closed as a duplicate pointing at this case."
        ),
        danger=True,
    )
