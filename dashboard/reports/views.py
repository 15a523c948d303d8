"""The period report: a page with charts, its PDF and workbook, and report subscriptions.

Every figure comes from ``dashboard.reports.selectors.period_report`` and links to the queue
filtered to the cases behind it (``figure_links``). Reading the report needs the read
permission on cases; exporting it, ``cases.export_cases``; an export is a POST, audited as
``export.created`` with the scope ``report``, like every other export.
"""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.selectors import cases_visible_to
from common.htmx import is_fragment, vary_on_fragment
from dashboard import charts
from dashboard.reports import exports, services
from dashboard.reports.models import ReportSubscription
from dashboard.reports.selectors import MONTH, WEEK, PeriodReport, last_full, period_report
from dashboard.selectors import Period
from dashboard.views import PeriodForm, chart_entry, queue_url

EARLIEST = date(2000, 1, 1)
RANGES = [(WEEK, "Last full week"), (MONTH, "Last full month"), ("custom", "Chosen dates")]


class ReportForm(PeriodForm):
    # The page's dates are "custom"; its two buttons are links to the presets.
    range = forms.ChoiceField(choices=RANGES, required=False, widget=forms.HiddenInput)

    def clean(self):
        kind = self.data.get("range") or (
            "custom" if self.data.get("start") or self.data.get("end") else MONTH
        )
        if kind in (WEEK, MONTH):
            self.cleaned_data["period"] = last_full(kind, self.today)
            return self.cleaned_data
        data = super().clean()
        period = data["period"]
        # The previous period lies before the chosen one: both must be dates a calendar has.
        if period.start < EARLIEST or period.end > self.today + timedelta(days=366):
            raise forms.ValidationError("Choose dates from the year 2000 to a year from now.")
        return data


def _period(request: HttpRequest, today: date) -> tuple[ReportForm, Period]:
    period = last_full(MONTH, today)
    form = ReportForm(
        request.GET or None,
        today=today,
        initial={"range": MONTH, "start": period.start, "end": period.end},
    )
    if form.is_bound and form.is_valid():
        period = form.cleaned_data["period"]
    return form, period


def figure_links(period: Period) -> dict[str, str]:
    """Per figure, the queue showing exactly the cases it counts."""
    opened = {"opened_after": period.start, "opened_before": period.end}
    enforced = {"enforced_after": period.start, "enforced_before": period.end}
    reversal = {"reversal_after": period.start, "reversal_before": period.end}
    decided = {"decided_after": period.start, "decided_before": period.end}
    return {
        "campaigns_found": queue_url(status="any", kind="campaign", **opened),
        "campaigns_stopped": queue_url(status="any", kind="campaign", **enforced),
        "cases_opened": queue_url(status="any", **opened),
        "cases_closed": queue_url(status="any", **decided),
        "cases_actioned": queue_url(status="any", **enforced),
        "accounts_actioned": queue_url(status="any", **enforced),
        "exchanges_before_action": queue_url(status="any", **enforced),
        "output_tokens_before_action": queue_url(status="any", **enforced),
        "to_detection_days": queue_url(status="any", **opened),
        "to_action_days": queue_url(status="any", **enforced),
        "reversal_requests": queue_url(status="any", **reversal),
        "reversals_done": queue_url(status="any", **reversal),
    }


def _report_context(report: PeriodReport) -> dict:
    links = figure_links(report.period)
    label = exports.period_label(report)
    counts = [(k, lbl) for k, lbl in exports.CHART_COUNTS]
    trends = {t.key: t for t in report.trends}
    figures = {
        "comparison": charts.period_against_previous(
            [lbl for _, lbl in counts],
            [trends[k].now for k, _ in counts],
            [trends[k].before for k, _ in counts],
            [links[k] for k, _ in counts],
            period="this period",
            previous="previous period",
        )
    }
    if report.campaigns:
        figures["campaigns"] = charts.campaign_requests(
            [c.name for c in report.campaigns],
            [c.case.exchange_count for c in report.campaigns],
            [c.case.get_absolute_url() for c in report.campaigns],
        )  # fmt: skip
    return {
        "report": report,
        "label": label,
        "rows": [{"trend": t, "url": links[t.key]} for t in report.trends],
        "figures": report.figures,
        "links": links,
        "chart_map": {key: chart_entry(key, fig) for key, fig in figures.items()},
        "workload": [
            {"w": w, "url": queue_url(status="open", assignee=w.username)} for w in report.workload
        ],
    }


def _errors(form: forms.Form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _build(request: HttpRequest) -> tuple[ReportForm, PeriodReport]:
    now = timezone.now()
    form, period = _period(request, timezone.localdate(now))
    return form, period_report(cases_visible_to(request.user), period, now=now)


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def report_page(request: HttpRequest) -> HttpResponse:
    """The period report; for htmx (the period form), just its body."""
    form, report = _build(request)
    period = report.period
    context = {
        # The date fields show the period shown, whichever way it was chosen.
        "form": ReportForm(today=form.today, initial={"start": period.start, "end": period.end}),
        "period_errors": _errors(form) if form.is_bound and not form.is_valid() else "",
        "query": urlencode({"start": report.period.start, "end": report.period.end}),
        "subscription": ReportSubscription.objects.filter(user=request.user).first(),
        **_report_context(report),
    }
    template = "dashboard/report.html"
    if is_fragment(request):
        template += "#body"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@permission_required("cases.export_cases", raise_exception=True)
def report_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The report for the period in the query string, as PDF or XLSX (made by a POST)."""
    if fmt not in ("pdf", "xlsx"):
        raise Http404("No such export format")
    form, report = _build(request)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest(f"Invalid period, nothing exported: {_errors(form)}")
    label = exports.period_label(report)
    if request.method == "GET":
        context = {
            "what": f"the period report for {label}",
            "fmt": fmt.upper(),
            "action": request.get_full_path(),
        }
        return render(request, "cases/export_start.html", context)
    return exports.file_response(
        request,
        fmt=fmt,
        pdf=lambda: exports.report_pdf(report, generated_by=request.user.get_username()),
        xlsx=lambda buffer: exports.report_xlsx(report, buffer),
        scope="report",
        period=report.period,
        rows=len(report.trends),
        name="report",
    )


class SubscriptionForm(forms.Form):
    frequency = forms.ChoiceField(choices=ReportSubscription.Frequency.choices)


@require_POST
@permission_required("cases.export_cases", raise_exception=True)
def report_subscribe(request: HttpRequest) -> HttpResponse:
    """Subscribe to (or change) the scheduled report, or stop it (``frequency=none``); back
    to the report as it was shown."""
    back = request.POST.get("next", "")
    if not back.startswith(reverse("reports:report_page")) or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        back = reverse("reports:report_page")
    if request.POST.get("frequency") == "none":
        services.subscription_stop(user=request.user)
        messages.success(request, "You will no longer receive the report by email.")
        return redirect(back)
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose weekly or monthly.")
        return redirect(back)
    if not request.user.email:
        messages.error(request, "Your account has no email address: ask an administrator.")
        return redirect(back)
    sub = services.subscription_set(user=request.user, frequency=form.cleaned_data["frequency"])
    messages.success(
        request,
        f"The {sub.get_frequency_display().lower()} report will be emailed to {sub.user.email}.",
    )
    return redirect(back)
