"""The managers' overview: the state of the work now, and what happened in a date range;
and the signal-quality page (each detection signal against analysts' labels).

Figures come from ``dashboard.selectors`` (a bounded number of aggregate queries), charts
from ``dashboard.charts``; every number on the page is a link to the queue filtered to the
cases it counts, using the queue's own parameters (``status``, ``priority``, ``assignee``,
``campaign``, ``overdue``, ``opened_after``/``opened_before``,
``decided_after``/``decided_before``).
"""

from __future__ import annotations

from datetime import date, timedelta

import orjson
from django import forms
from django.contrib.auth.decorators import login_not_required, permission_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET, require_http_methods
from django_tables2 import RequestConfig

from cases.labels.selectors import NOISY_SHARE
from cases.labels.selectors import signal_quality as signal_quality_rows
from cases.models import Case
from cases.selectors import cases_visible_to
from common.dates import DATE_INPUT_ATTRS, DAY_INPUT_FORMAT
from common.htmx import is_fragment, vary_on_fragment
from dashboard import charts, selectors
from dashboard.reports import exports
from dashboard.roles import MANAGER, roles_of
from dashboard.selectors import Period
from dashboard.tables import SignalQualityTable

MAX_DAYS = 3 * 366


class PeriodForm(forms.Form):
    start = forms.DateField(
        required=False, widget=forms.DateInput(attrs=DATE_INPUT_ATTRS, format=DAY_INPUT_FORMAT)
    )
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs=DATE_INPUT_ATTRS, format=DAY_INPUT_FORMAT)
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        default = Period.default(self.today)
        start, end = data.get("start") or default.start, data.get("end") or default.end
        if start > end:
            raise forms.ValidationError("The start date is after the end date.")
        if (end - start).days >= MAX_DAYS:
            raise forms.ValidationError("Choose a range of at most three years.")
        data["period"] = Period(start, end)
        return data


def queue_url(**params) -> str:
    """The queue filtered by ``params`` (``None`` values left out, dates as ISO days)."""
    query = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items()}
    query = {k: v for k, v in query.items() if v is not None}
    return f"{reverse('cases:case_queue')}?{urlencode(query)}"


def _figure(fig) -> dict:
    # Plotly's own encoder handles numpy and dates; parse back for json_script.
    return orjson.loads(fig.to_json())


def chart_entry(key: str, fig) -> dict:
    """What ``dashboard/_partials/chart.html`` draws for one figure."""
    return {
        "id": f"chart-{key}",
        "data_id": f"chart-{key}-data",
        "figure": _figure(fig),
        "caption": fig.layout.meta["caption"],
    }


def overview_context(user, period: Period, now) -> dict:
    cases = cases_visible_to(user)
    backlog = selectors.backlog(cases, now=now)
    flow = selectors.flow(cases, period)
    open_statuses = [
        (s, label) for s, label in Case.Status.choices if s not in Case.CLOSED_STATUSES
    ]
    priorities = list(Case.Priority.choices)
    matrix_urls = {
        (s, p): queue_url(status=s, priority=p) for s, _ in open_statuses for p, _ in priorities
    }
    status_rows = [
        {
            "status": s,
            "label": label,
            "url": queue_url(status=s),
            "total": sum(backlog.matrix.get((s, p), 0) for p, _ in priorities),
            "cells": [
                {"n": backlog.matrix.get((s, p), 0), "url": matrix_urls[(s, p)]}
                for p, _ in priorities
            ],
        }
        for s, label in open_statuses
    ]
    priority_totals = [
        {
            "label": label,
            "url": queue_url(status="open", priority=p),
            "n": sum(backlog.matrix.get((s, p), 0) for s, _ in open_statuses),
        }
        for p, label in priorities
    ]
    bands = [
        {
            "label": band.label,
            "n": band.count,
            "url": queue_url(
                status="open", opened_after=band.opened_after, opened_before=band.opened_before
            ),
        }
        for band in backlog.bands
    ]
    weeks = [
        {
            "week": w,
            "opened_url": queue_url(
                status="any", opened_after=w.first_day, opened_before=w.last_day
            ),
            "closed_url": queue_url(
                status="any", decided_after=w.first_day, decided_before=w.last_day
            ),
        }
        for w in flow.weeks
    ]
    decided_url = queue_url(status="any", decided_after=period.start, decided_before=period.end)
    campaigns = selectors.campaigns()
    campaign_rows = [
        {
            "campaign": c,
            "share": c.share or 0.0,
            "url": queue_url(campaign=c.pk, status="any"),
            "open_url": queue_url(campaign=c.pk, status="open"),
        }
        for c in campaigns.top
    ]
    figures = {
        "status": charts.open_by_status_priority(
            open_statuses, priorities, backlog.matrix, matrix_urls
        ),
        "age": charts.backlog_age(
            [b["label"] for b in bands], [b["n"] for b in bands], [b["url"] for b in bands]
        ),
        "flow": charts.weekly_flow(
            [f"{w['week'].start:%d %b}" for w in weeks],
            [w["week"].opened for w in weeks],
            [w["week"].closed for w in weeks],
            [w["opened_url"] for w in weeks],
            [w["closed_url"] for w in weeks],
        ),
    }
    if campaign_rows:
        figures["campaigns"] = charts.campaign_share(
            [r["campaign"].label for r in campaign_rows],
            [r["share"] for r in campaign_rows],
            [r["campaign"].member_count for r in campaign_rows],
            [r["url"] for r in campaign_rows],
        )
    return {
        "period": period,
        "backlog": backlog,
        "status_rows": status_rows,
        "priority_totals": priority_totals,
        "priorities": priorities,
        "bands": bands,
        "flow": flow,
        "weeks": weeks,
        "median_days": flow.median_to_decision / timedelta(days=1)
        if flow.median_to_decision is not None
        else None,
        "enforcement": selectors.enforcement(period),
        "campaigns": campaigns,
        "campaign_rows": campaign_rows,
        "run": selectors.detection_health(now=now),
        "telemetry": selectors.telemetry_size(),
        "chart_map": {key: chart_entry(key, fig) for key, fig in figures.items()},
        "urls": {
            "open": queue_url(status="open"),
            "unassigned": queue_url(status="open", assignee="none"),
            "overdue": queue_url(status="open", overdue=1),
            "opened": queue_url(status="any", opened_after=period.start, opened_before=period.end),
            "decided": decided_url,
            "actioned": queue_url(
                status="actioned", decided_after=period.start, decided_before=period.end
            ),
            "pending_approval": queue_url(status=Case.Status.PENDING_APPROVAL),
        },
    }


@require_GET
@vary_on_fragment
def overview(request: HttpRequest) -> HttpResponse:
    """The overview page; for htmx (the date range form), just its body."""
    now = timezone.now()
    form, period = _period_of(request, timezone.localdate(now))
    context = {
        "form": form,
        "can_view": request.user.has_perm("cases.view_case"),
        "query": urlencode({"start": period.start, "end": period.end}),
    }
    if context["can_view"]:
        context.update(overview_context(request.user, period, now))
    template = "dashboard/overview.html"
    if is_fragment(request):
        template += "#body"
    return render(request, template, context)


def _period_of(request: HttpRequest, today: date) -> tuple[PeriodForm, Period]:
    period = Period.default(today)
    form = PeriodForm(
        request.GET or None, today=today, initial={"start": period.start, "end": period.end}
    )
    if form.is_bound and form.is_valid():
        period = form.cleaned_data["period"]
    return form, period


@require_http_methods(["GET", "POST"])
@permission_required("cases.export_cases", raise_exception=True)
def overview_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The overview for the date range in the query string, as PDF or XLSX: the page's own
    figures (``overview_context``). Made by a POST and audited, like every export."""
    if fmt not in ("pdf", "xlsx"):
        raise Http404("No such export format")
    now = timezone.now()
    form, period = _period_of(request, timezone.localdate(now))
    if form.is_bound and not form.is_valid():
        errors = " ".join(str(e) for errs in form.errors.values() for e in errs)
        return HttpResponseBadRequest(f"Invalid date range, nothing exported: {errors}")
    if request.method == "GET":
        context = {"what": "the overview", "fmt": fmt.upper(), "action": request.get_full_path()}
        return render(request, "cases/export_start.html", context)
    context = overview_context(request.user, period, now)
    return exports.file_response(
        request,
        fmt=fmt,
        pdf=lambda: exports.overview_pdf(context, generated_by=request.user.get_username()),
        xlsx=lambda buffer: exports.overview_xlsx(context, buffer),
        scope="overview",
        period=period,
        rows=1,
        name="overview",
    )


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """Where logging in lands: the queue for those who work cases (analysts, approvers), the
    overview for those who only read them (managers) and for anyone else."""
    if request.user.has_perm("cases.work_case"):
        return redirect("cases:case_queue")
    return redirect("overview")


def _sees_signal_quality(user) -> bool:
    """Admins, who tune the signals, and managers, who answer for what they flag."""
    return user.is_staff or MANAGER in roles_of(user)


@require_GET
@vary_on_fragment
def signal_quality(request: HttpRequest) -> HttpResponse:
    """Each signal's precision against analysts' labels over a period, with examples."""
    if not _sees_signal_quality(request.user):
        raise PermissionDenied
    today = timezone.localdate()
    period = Period.default(today)
    form = PeriodForm(
        request.GET or None, today=today, initial={"start": period.start, "end": period.end}
    )
    if form.is_bound and form.is_valid():
        period = form.cleaned_data["period"]
    table = SignalQualityTable(signal_quality_rows(period.start_at, period.end_before))
    table.hx_target = "#signal-quality-section"
    table.push_url = True
    table.base_url = reverse("signal_quality")
    RequestConfig(request, paginate=False).configure(table)
    if is_fragment(request):
        return render(request, "dashboard/_partials/signal_quality_section.html", {"table": table})
    context = {"form": form, "period": period, "table": table, "noisy_share": NOISY_SHARE}
    return render(request, "dashboard/signal_quality.html", context)


@login_not_required
@require_GET
@cache_control(max_age=24 * 3600)
def favicon(request: HttpRequest) -> FileResponse:
    """``/favicon.ico``, which browsers ask for on any page that names no icon (the API's
    JSON, a file opened directly): the console's icon, to anyone, as a static file is."""
    path = finders.find("favicon.ico")
    if path is None:
        raise Http404("no favicon.ico in the static files")
    return FileResponse(open(path, "rb"), content_type="image/x-icon")  # FileResponse closes it
