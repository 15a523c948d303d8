"""The period report as a PDF and as a workbook, from one ``PeriodReport`` (the selector's).

Both print the selector's figures as they are: nothing is recomputed here, so the page, the
PDF, the workbook and the email agree. The PDF is HTML through WeasyPrint with the case
report's locked-down renderer (``cases.exports.report.render_pdf``) and server-drawn SVG
charts (``cases.exports.svg``, which says why not Plotly's image export).
"""

from __future__ import annotations

import io
from typing import IO

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse

from cases import audit
from cases.exports import svg
from cases.exports.report import render_pdf
from common import spreadsheets as sheets
from dashboard.reports.selectors import PeriodReport

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHART_COUNTS = [
    ("campaigns_found", "found"),
    ("campaigns_stopped", "stopped"),
    ("cases_opened", "opened"),
    ("cases_closed", "closed"),
    ("cases_actioned", "actioned"),
    ("reversal_requests", "reversals"),
]


def period_label(report: PeriodReport) -> str:
    p = report.period
    return f"{p.start:%-d %b %Y} to {p.end:%-d %b %Y}"


def report_charts(report: PeriodReport) -> list[dict]:
    trends = {t.key: t for t in report.trends}
    charts = [
        {
            "src": svg.data_uri(
                svg.columns(
                    [label for _, label in CHART_COUNTS],
                    {
                        "previous period": [trends[k].before or 0 for k, _ in CHART_COUNTS],
                        "this period": [trends[k].now or 0 for k, _ in CHART_COUNTS],
                    },
                    title="This period against the previous one",
                    every=1,
                )
            ),
            "caption": "Campaigns found and stopped, cases opened, closed and actioned, and "
            "reversals asked for, against the same number of days before.",
        }
    ]
    if report.campaigns:
        charts.append(
            {
                "src": svg.data_uri(
                    svg.horizontal_bars(
                        [c.name for c in report.campaigns],
                        [c.case.exchange_count for c in report.campaigns],
                        title="Largest campaigns by requests",
                    )
                ),
                "caption": "Requests (exchanges) detection counted on each campaign's case.",
            }
        )  # fmt: skip
    return charts


def report_pdf(report: PeriodReport, *, generated_by: str) -> bytes:
    return render_pdf(
        {
            "report": report,
            "label": period_label(report),
            "charts": report_charts(report),
            "generated_by": generated_by,
            "site_url": settings.SITE_URL,
        },
        template="dashboard/report_pdf.html",
    )


FIGURE_COLUMNS = [
    sheets.Column("figure", 46),
    sheets.Column("this period", 14),
    sheets.Column("previous period", 16),
    sheets.Column("change", 12),
    sheets.Column("change (%)", 12, "+0.0%;-0.0%;0.0%"),
    sheets.Column("what it counts", 60),
]
CAMPAIGN_COLUMNS = [
    sheets.Column("case", 8, sheets.IDENTIFIER),
    sheets.Column("title", 36),
    sheets.Column("campaign", 24),
    sheets.Column("accounts", 10, sheets.INTEGER),
    sheets.Column("organisations", 13, sheets.INTEGER),
    sheets.Column("requests", 12, sheets.INTEGER),
    sheets.Column("status", 14),
    sheets.Column("opened (UTC)", 18, sheets.DATETIME),
    sheets.Column("in plain language", 100),
    sheets.Column("link", 40),
]
WORKLOAD_COLUMNS = [
    sheets.Column("person", 18),
    sheets.Column("open cases now", 15, sheets.INTEGER),
    sheets.Column("cases worked", 13, sheets.INTEGER),
    sheets.Column("notes", 9, sheets.INTEGER),
    sheets.Column("status changes", 15, sheets.INTEGER),
    sheets.Column("proposals", 11, sheets.INTEGER),
    sheets.Column("decisions", 11, sheets.INTEGER),
]


def report_xlsx(report: PeriodReport, target: str | IO[bytes]) -> None:
    site = settings.SITE_URL.rstrip("/")
    workbook = sheets.new_workbook()
    sheets.append_facts(
        workbook,
        "Report",
        [
            ("Period report", None),
            ("Period", period_label(report)),
            ("Days", report.period.days, sheets.INTEGER),
            ("From", report.period.start),
            ("To", report.period.end),
            ("Compared with", f"{report.previous_period.start} to {report.previous_period.end}"),
            ("Generated (UTC)", report.generated_at),
        ],
    )
    sheets.append_table(
        workbook,
        "Figures",
        FIGURE_COLUMNS,
        ([t.label, t.now, t.before, t.change, t.change_share, t.meaning] for t in report.trends),
    )
    sheets.append_table(
        workbook,
        "Largest campaigns",
        CAMPAIGN_COLUMNS,
        (
            [c.case.pk, c.case.title, c.case.campaign.label if c.case.campaign else "",
             c.case.account_count, c.organisations, c.case.exchange_count,
             c.case.get_status_display(), c.case.opened_at, " ".join(c.paragraphs),
             f"{site}{c.case.get_absolute_url()}"]
            for c in report.campaigns
        ),
    )  # fmt: skip
    sheets.append_table(
        workbook,
        "Workload",
        WORKLOAD_COLUMNS,
        (
            [w.username, w.open_now, w.cases_worked, w.notes, w.status_changes, w.proposals,
             w.decisions]
            for w in report.workload
        ),
    )  # fmt: skip
    workbook.save(target)


# ------------------------------------------------------------------------- the overview
# The overview's exports print the figures of the page's own context
# (``dashboard.views.overview_context``), so the file and the page agree.


def overview_charts(context: dict) -> list[dict]:
    weeks = context["weeks"]
    charts = [
        {
            "src": svg.data_uri(
                svg.columns(
                    [row["label"] for row in context["status_rows"]],
                    {"open cases": [row["total"] for row in context["status_rows"]]},
                    title="Open cases by status",
                    every=1,
                    height=180,
                )
            ),
            "caption": "Where the open work sits now.",
        },
        {
            "src": svg.data_uri(
                svg.columns(
                    [f"{w['week'].start:%d %b}" for w in weeks],
                    {
                        "opened": [w["week"].opened for w in weeks],
                        "closed": [w["week"].closed for w in weeks],
                    },
                    title="Cases opened and closed per week",
                )
            ),
            "caption": "Opened above closed week after week means the backlog is growing.",
        },
    ]
    if context["campaign_rows"]:
        charts.append(
            {
                "src": svg.data_uri(
                    svg.horizontal_bars(
                        [r["campaign"].label for r in context["campaign_rows"]],
                        [round(r["share"] * 100, 2) for r in context["campaign_rows"]],
                        title="Active campaigns by share of traffic (%)",
                    )
                ),
                "caption": "The share of all exchanges in the detection window.",
            }
        )
    return charts


def overview_pdf(context: dict, *, generated_by: str) -> bytes:
    return render_pdf(
        {
            **context,
            "charts": overview_charts(context),
            "generated_by": generated_by,
            "site_url": settings.SITE_URL,
        },
        template="dashboard/overview_pdf.html",
    )


def overview_xlsx(context: dict, target: str | IO[bytes]) -> None:
    backlog, flow, enforcement = context["backlog"], context["flow"], context["enforcement"]
    period, campaigns = context["period"], context["campaigns"]
    workbook = sheets.new_workbook()
    sheets.append_facts(
        workbook,
        "Overview",
        [
            ("Now", None),
            ("Open cases", backlog.open, sheets.INTEGER),
            ("Unassigned", backlog.unassigned, sheets.INTEGER),
            ("Overdue", backlog.overdue, sheets.INTEGER),
            ("Accounts in open cases", backlog.accounts, sheets.INTEGER),
            ("Exchanges in open cases", backlog.exchanges, sheets.INTEGER),
            (f"In the range {period.start} to {period.end}", None),
            ("Cases opened", flow.opened, sheets.INTEGER),
            ("Cases closed", flow.closed, sheets.INTEGER),
            ("Median days to decision", context["median_days"] if context["median_days"]
             is not None else "—", sheets.DECIMAL),
            ("Bans executed", enforcement.bans, sheets.INTEGER),
            ("Of them reversed", enforcement.bans_reversed, sheets.INTEGER),
            ("Suspensions and rate limits", enforcement.other, sheets.INTEGER),
            ("Accounts actioned", enforcement.accounts, sheets.INTEGER),
            ("Actions awaiting approval", enforcement.pending_approval, sheets.INTEGER),
            ("Campaigns", None),
            ("Active campaigns", campaigns.active, sheets.INTEGER),
            ("Accounts in active campaigns", campaigns.accounts, sheets.INTEGER),
            ("Share of traffic", campaigns.traffic_share, sheets.SHARE),
        ],
    )  # fmt: skip
    priorities = [label for _, label in context["priorities"]]
    sheets.append_table(
        workbook,
        "Open by status",
        [sheets.Column("status", 20)]
        + [sheets.Column(p, 12, sheets.INTEGER) for p in priorities]
        + [sheets.Column("all", 10, sheets.INTEGER)],
        ([row["label"], *[c["n"] for c in row["cells"]], row["total"]]
         for row in context["status_rows"]),
    )  # fmt: skip
    sheets.append_table(
        workbook,
        "Backlog age",
        [sheets.Column("opened", 20), sheets.Column("open cases", 12, sheets.INTEGER)],
        ([f"{band['label']} ago", band["n"]] for band in context["bands"]),
    )
    sheets.append_table(
        workbook,
        "Weeks",
        [sheets.Column("week starting", 14, sheets.DAY), sheets.Column("opened", 10,
         sheets.INTEGER), sheets.Column("closed", 10, sheets.INTEGER)],
        ([w["week"].start, w["week"].opened, w["week"].closed] for w in context["weeks"]),
    )  # fmt: skip
    sheets.append_table(
        workbook,
        "Campaigns",
        [sheets.Column("campaign", 32), sheets.Column("accounts", 10, sheets.INTEGER),
         sheets.Column("exchanges", 12, sheets.INTEGER),
         sheets.Column("share of traffic", 16, "0.00%"),
         sheets.Column("open cases", 11, sheets.INTEGER)],
        ([r["campaign"].label, r["campaign"].member_count, r["campaign"].exchange_count,
          r["share"], r["campaign"].open_cases] for r in context["campaign_rows"]),
    )  # fmt: skip
    workbook.save(target)


def file_response(
    request, *, fmt: str, pdf, xlsx, scope: str, period, rows: int, name: str
) -> HttpResponse:
    """A PDF or workbook made by ``pdf()`` or ``xlsx(buffer)``, audited as ``export.created``
    (``scope`` and ``period`` say what of) and sent as an attachment nothing caches."""
    if fmt == "pdf":
        content, content_type = pdf(), "application/pdf"
    else:
        buffer = io.BytesIO()
        xlsx(buffer)
        content, content_type = buffer.getvalue(), XLSX_TYPE
    with transaction.atomic():
        audit.record(
            "export.created",
            actor=request.user,
            data={
                "format": fmt,
                "scope": scope,
                "period": [period.start.isoformat(), period.end.isoformat()],
                "rows": rows,
            },
        )
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="{name}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{fmt}"'
    )
    response["Cache-Control"] = "no-store"
    return response
