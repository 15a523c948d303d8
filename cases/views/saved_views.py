"""Saved views of the queue: save the current filter under a name, edit or delete your own.

The queue's "Save view…" and "Edit" buttons submit the filter form to these URLs (htmx
includes it), so the dialog knows the filter as it is on screen, not as the page was loaded.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cases.forms import SavedViewEditForm, SavedViewForm
from cases.models import SavedView
from cases.services.saved_views import saved_view_create, saved_view_delete, saved_view_update
from cases.views.common import add_service_error, render_action
from common.htmx import is_fragment


def _get_own_view(request: HttpRequest, pk: int) -> SavedView:
    """A view this user can see (404 otherwise) and owns (403 for a colleague's shared one)."""
    view = get_object_or_404(SavedView.objects.visible_to(request.user), pk=pk)
    if view.owner_id != request.user.pk:
        raise PermissionDenied("Only the person who saved a view can change it.")
    return view


def _current_query(request: HttpRequest) -> str:
    return SavedView.clean_query(request.GET.urlencode())


def _go(request: HttpRequest, url: str, message: str) -> HttpResponse:
    messages.success(request, message)
    if is_fragment(request):
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_http_methods(["GET", "POST"])
@permission_required("cases.view_case", raise_exception=True)
def saved_view_new(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST or None, initial={"query": _current_query(request)})
    if request.method == "POST" and form.is_valid():
        try:
            view = saved_view_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                query=form.cleaned_data["query"],
                shared=form.cleaned_data["shared"],
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return _go(request, view.get_absolute_url(), f"Saved the view “{view.name}”.")
    return render_action(
        request,
        case=None,
        form=form,
        title="Save this view",
        action_url=reverse("cases:saved_view_new"),
        submit="Save view",
        intro="The queue's filter and sort as they are now, under a name.",
    )


@require_http_methods(["GET", "POST"])
@permission_required("cases.view_case", raise_exception=True)
def saved_view_edit(request: HttpRequest, pk: int) -> HttpResponse:
    view = _get_own_view(request, pk)
    initial = {"name": view.name, "shared": view.shared, "query": _current_query(request)}
    form = SavedViewEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved_view_update(
                view=view,
                by=request.user,
                name=data["name"],
                shared=data["shared"],
                query=data["query"] if data["use_current"] else None,
            )
        except ValidationError as exc:
            add_service_error(form, exc)
        else:
            return _go(request, view.get_absolute_url(), f"Saved the view “{view.name}”.")
    return render_action(
        request,
        case=None,
        form=form,
        title=f"Edit the view “{view.name}”",
        action_url=reverse("cases:saved_view_edit", args=[view.pk]),
        submit="Save changes",
        extra={"delete_url": reverse("cases:saved_view_delete", args=[view.pk])},
    )


@require_POST
@permission_required("cases.view_case", raise_exception=True)
def saved_view_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    view = _get_own_view(request, pk)
    name = view.name
    saved_view_delete(view=view, by=request.user)
    return _go(request, reverse("cases:case_queue"), f"Deleted the view “{name}”.")
