"""Exports for managers and approvers: the queue as CSV/XLSX, a case as CSV/XLSX/PDF.

Every view requires ``cases.export_cases`` (403 otherwise, whatever the template showed)
and scopes cases through ``cases_visible_to``. The queue exports take the queue's own query
string, so the file holds exactly the cases the filter shows, in the same order.

An export is created (and audited) by a POST with its CSRF token: a link, an image or a
prefetch on another site cannot make one. A GET of the same URL shows the button that does.
"""

import io

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from cases.exports import report
from cases.exports.spreadsheets import csv_lines, write_xlsx
from cases.models import Export
from cases.services.exports import (
    ExportFilterError,
    case_workbook,
    clean_query,
    export_queue_start,
    export_record,
    exports_of,
    one_case_summary,
    queue_cases,
    summary_rows,
    sync_max_rows,
)
from cases.views.common import get_case_for_user
from common.htmx import is_fragment, vary_on_fragment

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"
FORMATS = ("csv", "xlsx")


def _stamp() -> str:
    return f"{timezone.now():%Y%m%d-%H%M}"


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _confirm(request: HttpRequest, what: str, fmt: str) -> HttpResponse:
    """The GET of an export URL: what it would export, and the button that does (a POST)."""
    context = {"what": what, "fmt": fmt.upper(), "action": request.get_full_path()}
    return render(request, "cases/export_start.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("cases.export_cases", raise_exception=True)
def queue_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The queue's current filter as CSV (streamed) or XLSX (direct, or a task when long).
    The filter is the URL's query string, as on the queue."""
    if fmt not in FORMATS:
        raise Http404("No such export format")
    if request.method == "GET":
        return _confirm(request, "the cases matching this queue filter", fmt)
    query = clean_query(request.GET)
    try:
        cases = queue_cases(request.user, query)
    except ExportFilterError as exc:
        return HttpResponseBadRequest(f"Invalid queue filter, nothing exported: {exc}")
    total = cases.count()
    if fmt == "xlsx" and total > sync_max_rows():
        export = export_queue_start(user=request.user, query=query, fmt=fmt, total=total)
        return redirect(export)
    with transaction.atomic():
        export_record(user=request.user, fmt=fmt, scope="queue", rows=total, query=query)
    filename = f"cases-{_stamp()}.{fmt}"
    if fmt == "csv":
        # Streamed: rows are fetched in chunks and written as they go, whatever the size.
        response = StreamingHttpResponse(csv_lines(summary_rows(cases)), content_type=CSV_TYPE)
        return _attachment(response, filename)
    buffer = io.BytesIO()
    write_xlsx(summary_rows(cases), buffer)
    return _attachment(HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE), filename)


@require_http_methods(["GET", "POST"])
@permission_required("cases.export_cases", raise_exception=True)
def case_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """One case: its summary row as CSV or XLSX, or the full PDF report."""
    if fmt not in (*FORMATS, "pdf"):
        raise Http404("No such export format")
    case = get_case_for_user(request, pk, related=("assignee", "campaign", "last_run"))
    if request.method == "GET":
        return _confirm(request, f"case #{case.pk}", fmt)
    filename = f"case-{case.pk}-{_stamp()}.{fmt}"
    if fmt == "pdf":
        context = report.case_report_data(case)
        context.update(
            generated_at=timezone.now(),
            generated_by=request.user.get_username(),
            case_link=one_case_summary(case).link,
        )
        content = report.render_pdf(context)
        response = HttpResponse(content, content_type=PDF_TYPE)
    else:
        row = one_case_summary(case)
        if fmt == "csv":
            response = HttpResponse("".join(csv_lines([row])), content_type=CSV_TYPE)
        else:
            buffer = io.BytesIO()
            case_workbook(case, buffer)
            response = HttpResponse(buffer.getvalue(), content_type=XLSX_TYPE)
    with transaction.atomic():
        export_record(user=request.user, fmt=fmt, scope="case", rows=1, case=case)
    return _attachment(response, filename)


@require_GET
@permission_required("cases.export_cases", raise_exception=True)
@vary_on_fragment
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A background export's progress (polled by htmx), then its download link."""
    export = get_object_or_404(exports_of(request.user), pk=pk)
    return _export_page(request, export)


def _export_page(request: HttpRequest, export: Export, status: int = 200) -> HttpResponse:
    context = {
        "export": export,
        "recent": exports_of(request.user)[:10],
        "retention_days": settings.EXPORT_RETENTION_DAYS,
    }
    template = "cases/export_detail.html"
    if is_fragment(request):
        template += "#status"
    return render(request, template, context, status=status)


@require_GET
@permission_required("cases.export_cases", raise_exception=True)
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The finished file, to the person who asked for it only."""
    export = get_object_or_404(exports_of(request.user), pk=pk, status=Export.Status.DONE)
    if export.is_expired:
        # 410 Gone, with the page that says so and links to the queue to make it again.
        return _export_page(request, export, status=410)
    content_type = XLSX_TYPE if export.format == "xlsx" else CSV_TYPE
    response = FileResponse(
        export.path.open("rb"),
        as_attachment=True,
        filename=export.file_name or export.path.name,
        content_type=content_type,
    )
    response["Cache-Control"] = "no-store"
    return response
