"""Notes: the list with its form, edit your own (with history), and notifications."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.forms import NoteForm
from cases.models import Note
from cases.selectors import notes_of_case, notifications_for
from cases.services.notes import note_add, note_edit, notifications_mark_read
from cases.views.case import _section
from cases.views.common import action_done, add_service_error, get_case_for_user
from common.htmx import is_fragment, vary_on_fragment


@require_http_methods(["GET", "POST"])
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_notes(request: HttpRequest, pk: int) -> HttpResponse:
    """The notes of a case, newest first, with the form to add one (POST adds)."""
    case = get_case_for_user(request, pk)
    can_work = request.user.has_perm("cases.work_case")
    form = NoteForm()
    if request.method == "POST":
        if not can_work:
            raise PermissionDenied("your role cannot write notes")
        form = NoteForm(request.POST)
        if form.is_valid():
            try:
                note_add(case=case, author=request.user, body=form.cleaned_data["body"])
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                if not is_fragment(request):
                    return redirect(reverse("cases:case_detail", args=[case.pk]) + "#case-notes")
                response = _section(
                    request,
                    case,
                    "notes",
                    "Notes",
                    {"notes": notes_of_case(case), "form": NoteForm(), "can_work": can_work},
                )
                response["HX-Trigger"] = "notesChanged"
                return response
    return _section(
        request,
        case,
        "notes",
        "Notes",
        {"notes": notes_of_case(case), "form": form, "can_work": can_work},
    )


@require_http_methods(["GET", "POST"])
@permission_required("cases.work_case", raise_exception=True)
@vary_on_fragment
def note_edit_view(request: HttpRequest, pk: int, note_pk: int) -> HttpResponse:
    """Edit your own note in place; the earlier text is kept as a revision."""
    case = get_case_for_user(request, pk)
    note = get_object_or_404(Note.objects.select_related("author"), pk=note_pk, case=case)
    if note.author_id != request.user.pk:
        raise PermissionDenied("only the author can edit a note")
    form = NoteForm(request.POST or None, initial={"body": note.body})
    if request.method == "POST" and form.is_valid():
        try:
            note_edit(note=note, by=request.user, body=form.cleaned_data["body"])
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            if is_fragment(request):  # inline edit saved: 200 with the updated note
                note = notes_of_case(case).get(pk=note.pk)
                context = {"case": case, "note": note, "can_work": True}
                response = render(request, "cases/_partials/note_item.html", context)
                response["HX-Trigger"] = "notesChanged"
                return response
            return action_done(request, case, "Note saved.", to=case.get_absolute_url())
    context = {"case": case, "note": note, "form": form}
    if is_fragment(request):
        return render(request, "cases/note_edit.html#form", context)
    return render(request, "cases/note_edit.html", context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def note_history(request: HttpRequest, pk: int, note_pk: int) -> HttpResponse:
    case = get_case_for_user(request, pk)
    note = get_object_or_404(Note.objects.select_related("author"), pk=note_pk, case=case)
    context = {"case": case, "note": note, "revisions": note.revisions.all()}
    template = "cases/note_history.html"
    if is_fragment(request):
        template += "#dialog"
    return render(request, template, context)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = list(notifications_for(request.user)[:200])
    return render(request, "cases/notification_list.html", {"notifications": notifications})


@require_POST
@permission_required("cases.view_case", raise_exception=True)
def notification_mark_read(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()] or None
    notifications_mark_read(user=request.user, ids=ids)
    target = request.POST.get("open")
    if target and ids and len(ids) == 1:
        notification = notifications_for(request.user).filter(pk=ids[0]).first()
        if notification and notification.case_id:
            return redirect(reverse("cases:case_detail", args=[notification.case_id]))
    return redirect("cases:notification_list")
