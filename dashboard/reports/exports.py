"""The period report as a PDF and as a workbook, from one ``PeriodReport`` (the selector's).

Both print the selector's figures as they are: nothing is recomputed here, so the page, the
PDF, the workbook and the email agree. The PDF is HTML through WeasyPrint with the case
report's locked-down renderer (``cases.exports.report.render_pdf``) and server-drawn SVG
charts (``cases.exports.svg``, which says why not Plotly's image export).
"""

from __future__ import annotations

from typing import IO

from django.conf import settings

from cases.exports import svg
from cases.exports.report import render_pdf
from common import spreadsheets as sheets
from dashboard.reports.selectors import PeriodReport

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
