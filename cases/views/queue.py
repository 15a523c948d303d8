"""The queue: filters, saved views, the sortable table, bulk actions."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from cases.filters import SAVED_VIEWS, CaseFilter
from cases.forms import BulkForm
from cases.labels.models import Outcome
from cases.models import Case, SavedView
from cases.paging import CURSOR_PARAMS, seek_conditions, sort_keys
from cases.selectors import (
    cases_visible_to,
    queue_choice_names,
    queue_reason_choices,
    queue_rows,
    saved_views_for,
)
from cases.services.bulk import cases_bulk_apply
from cases.tables import CaseTable, paginate
from cases.views.common import action_done, render_action
from common.htmx import is_fragment, vary_on_fragment

CLOSED_VIEWS = {"closed", "any", Case.Status.ACTIONED, Case.Status.DISMISSED}


def _saved_views(request: HttpRequest) -> list[dict]:
    base = reverse("cases:case_queue")
    position = ("page", "per_page", *CURSOR_PARAMS)
    current = {k: v for k, v in request.GET.items() if k not in position}
    return [
        {
            "key": key,
            "label": label,
            "url": f"{base}?{urlencode(params)}",
            "active": current == params,
        }
        for key, label, params in SAVED_VIEWS
    ]


def _own_views(request: HttpRequest) -> tuple[list[SavedView], list[SavedView]]:
    """The user's saved views and the team's shared ones, the one matching the filter marked."""
    current = sorted(SavedView.clean_query(request.GET.urlencode()).split("&"))
    mine, team = saved_views_for(request.user)
    for view in (*mine, *team):
        view.active = sorted(view.query.split("&")) == current
    return mine, team


def _queue_filter(request: HttpRequest, params, workers, tags) -> CaseFilter:
    return CaseFilter(
        params, queryset=queue_rows(request.user), user=request.user, workers=workers, tags=tags
    )


def _choice_names():
    """Names only, for the filter bar and the bulk toolbar, read (from the cache, mostly) only
    if drawn: the fragment draws neither."""
    names = SimpleLazyObject(queue_choice_names)
    return SimpleLazyObject(lambda: names[0]), SimpleLazyObject(lambda: names[1])


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_queue(request: HttpRequest) -> HttpResponse:
    workers, tags = _choice_names()
    filterset = _queue_filter(request, request.GET, workers, tags)
    rows = filterset.qs if not filterset.errors else filterset.queryset.none()
    can_work = request.user.has_perm("cases.work_case")
    exclude = []
    if filterset.status_value not in CLOSED_VIEWS:
        exclude.append("closed")
    if not can_work:
        exclude.append("select")
    table = CaseTable(rows, exclude=exclude)
    paginate(request, table)
    table.hx_target = "#queue-results"
    table.push_url = True
    table.base_url = reverse("cases:case_queue")
    my_views, team_views = ([], []) if is_fragment(request) else _own_views(request)
    context = {
        "filter": filterset,
        "table": table,
        "saved_views": _saved_views(request),
        "my_views": my_views,
        "team_views": team_views,
        "can_work": can_work,
        "workers": workers,
        "tags": tags,
        "bulk_actions": BulkForm.ACTION_CHOICES,
        "priorities": Case.Priority.choices,
        "bulk_statuses": BulkForm.base_fields["status"].choices[1:],
        "resolutions": BulkForm.base_fields["resolution"].choices[1:],
        "outcomes": Outcome.choices,
        "reason_codes": SimpleLazyObject(queue_reason_choices) if can_work else (),
        "sort": request.GET.get("sort", ""),
    }
    template = "cases/case_queue.html"
    if is_fragment(request):
        template += "#results"
    return render(request, template, context)


@require_POST
@permission_required("cases.work_case", raise_exception=True)
def case_bulk(request: HttpRequest) -> HttpResponse:
    """Bulk action on the selected cases: first a confirmation, then one change per case."""
    form = BulkForm(request.POST, user=request.user)
    action_url = reverse("cases:case_bulk")
    if not form.is_valid():
        return render_action(
            request,
            case=None,
            form=form,
            title="Bulk action",
            action_url=action_url,
            submit="Apply",
            extra={"bulk": True},
        )
    cases = list(form.cleaned_data["cases"])
    if not form.cleaned_data.get("confirm"):
        return render_action(
            request,
            case=None,
            form=form,
            title="Confirm bulk action",
            action_url=action_url,
            submit=f"Yes, {form.describe()} for {len(cases)} case{'s' if len(cases) != 1 else ''}",
            intro=f"{form.describe().capitalize()}: {len(cases)} selected case(s).",
            extra={"bulk": True, "bulk_cases": cases, "confirming": True},
        )
    result = cases_bulk_apply(
        cases=cases,
        action=form.cleaned_data["action"],
        by=request.user,
        value=form.cleaned_data["value"],
        reason=form.cleaned_data.get("reason") or "",
        resolution=form.cleaned_data.get("resolution") or "",
        outcome=form.cleaned_data.get("outcome") or "",
        reason_code=form.cleaned_data.get("reason_code") or "",
    )
    message = f"{form.describe().capitalize()}: {result.summary}."
    if result.skipped:
        message += " Skipped: " + "; ".join(
            f"#{pk} ({why})" for pk, why in sorted(result.skipped.items())
        )
    return action_done(request, None, message, to=request.POST.get("next") or "")


@require_GET
@permission_required("cases.view_case", raise_exception=True)
def case_step(request: HttpRequest, pk: int) -> HttpResponse:
    """The case after case ``pk`` in the queue (``?dir=prev``: before it), under the queue's
    filter and sort given in the rest of the query string: the j and k keys of the case page.

    The neighbour is found from case ``pk``'s own sort key, as the queue's Next link finds its
    page, so it works on any page of the queue and after the case has left the filter (a case
    just dismissed steps on to the next open one). At either end, back to the case, saying so.
    """
    params = request.GET.copy()
    forward = params.pop("dir", ["next"])[-1] != "prev"
    for name in ("page", "per_page", *CURSOR_PARAMS):
        params.pop(name, None)
    here = reverse("cases:case_detail", args=[pk])
    filterset = _queue_filter(request, params, *_choice_names())
    table = CaseTable(filterset.qs if not filterset.errors else filterset.queryset.none())
    if params.get("sort"):
        table.order_by = params["sort"]
    rows = table.data.data
    keys = sort_keys(rows)
    current = cases_visible_to(request.user).filter(pk=pk)
    values = current.values_list(*[key.path for key in keys]).first() if keys else None
    if values is None:
        messages.info(request, "This case is not in the queue's order; open the queue to step.")
        return redirect(here)
    nulls_largest = connections[rows.db].features.nulls_order_largest
    ordered = rows if forward else rows.reverse()
    for condition in seek_conditions(
        keys, list(values), forward=forward, nulls_largest=nulls_largest
    ):
        found = ordered.filter(condition).values_list("pk", flat=True)[:1]
        if found:
            return redirect("cases:case_detail", found[0])
    where = "last" if forward else "first"
    messages.info(request, f"Case #{pk} is the {where} case in the queue as filtered.")
    return redirect(here)
