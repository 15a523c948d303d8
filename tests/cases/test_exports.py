"""Exports opened back: CSV parsed, XLSX read with openpyxl, PDF text extracted with pypdf."""

import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import openpyxl
import pytest
from django.conf import settings
from django.utils import timezone
from pypdf import PdfReader

from cases.models import AuditEvent, Case, EnforcementAction, Evidence, EvidenceSnapshot, Export
from cases.services.exports import export_build
from tests.cases.conftest import signal
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    DetectionRunFactory,
    NoteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
S = Case.Status


def post_export(client, url: str, params: dict | None = None):
    """Make an export as the page's button does: a POST to the URL with the queue's query."""
    return client.post(f"{url}?{urlencode(params or {}, doseq=True)}")


OPENED = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
HEADER = [
    "id", "title", "campaign", "status", "priority", "assignee", "risk", "accounts",
    "exchanges", "opened (UTC)", "decided (UTC)", "decision", "approver", "link",
]  # fmt: skip
HOSTILE = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1:A2)", "\tcmd", "\r=1"]


@pytest.fixture
def cases(analyst, approver):
    camp = CampaignFactory(label="Northwind fleet")
    p1 = CaseFactory(
        title="Reasoning harvest",
        campaign=camp,
        status=S.INVESTIGATING,
        priority=1,
        assignee=analyst,
        risk_score=0.93,
        account_count=120,
        exchange_count=45000,
        opened_at=OPENED,
    )
    done = CaseFactory(
        title="Coding agents",
        status=S.ACTIONED,
        priority=2,
        resolution=Case.Resolution.ACTIONED,
        risk_score=0.81,
        account_count=8,
        exchange_count=900,
        opened_at=OPENED,
        decided_at=OPENED + timedelta(days=3),
    )
    action = EnforcementAction.objects.create(
        case=done, kind="ban", status="executed", reason="fleet", proposed_by=analyst,
        decided_by=approver, decided_at=OPENED + timedelta(days=2),
    )  # fmt: skip
    action.accounts.add(AccountFactory())
    low = CaseFactory(title="Campus NAT", priority=4, risk_score=0.4, opened_at=OPENED)
    return {"p1": p1, "done": done, "low": low}


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def _xlsx(content: bytes, sheet: str | None = None):
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    return workbook[sheet] if sheet else workbook.worksheets[0]


def test_queue_csv_holds_the_filtered_cases_in_the_queues_order(manager_client, cases, analyst):
    response = post_export(manager_client, "/cases/export/csv/", {"status": "any", "sort": "-risk"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="cases-')
    rows = _csv(response)
    assert rows[0] == HEADER
    assert [r[1] for r in rows[1:]] == ["Reasoning harvest", "Coding agents", "Campus NAT"]
    p1 = dict(zip(HEADER, rows[1], strict=True))
    assert p1 == {
        "id": str(cases["p1"].pk),
        "title": "Reasoning harvest",
        "campaign": "Northwind fleet",
        "status": "Investigating",
        "priority": "P1 critical",
        "assignee": analyst.username,
        "risk": "0.93",
        "accounts": "120",
        "exchanges": "45000",
        "opened (UTC)": "2026-10-01 09:30:00",
        "decided (UTC)": "",
        "decision": "",
        "approver": "",
        "link": f"{settings.SITE_URL}/cases/{cases['p1'].pk}/",
    }
    done = dict(zip(HEADER, rows[2], strict=True))
    assert done["decided (UTC)"] == "2026-10-04 09:30:00"
    assert done["decision"] == "Action taken (Ban executed)"
    assert done["approver"] == "april"


def test_queue_csv_follows_the_filter(manager_client, cases):
    rows = _csv(post_export(manager_client, "/cases/export/csv/", {"priority": "1"}))
    assert [r[0] for r in rows[1:]] == [str(cases["p1"].pk)]
    rows = _csv(post_export(manager_client, "/cases/export/csv/", {"status": "closed"}))
    assert [r[1] for r in rows[1:]] == ["Coding agents"]
    rows = _csv(
        post_export(manager_client, "/cases/export/csv/", {"status": "any", "sort": "title"})
    )
    assert [r[1] for r in rows[1:]] == ["Campus NAT", "Coding agents", "Reasoning harvest"]


def test_an_invalid_filter_exports_nothing(manager_client, cases):
    response = post_export(manager_client, "/cases/export/csv/", {"priority": "9"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(verb="export.created").exists()


def test_queue_xlsx_opens_with_typed_cells(manager_client, cases):
    response = post_export(manager_client, "/cases/export/xlsx/", {"status": "any"})
    assert response.status_code == 200
    sheet = _xlsx(response.content)
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert len(rows) == 4
    first = dict(zip(HEADER, rows[1], strict=True))
    assert first["title"] == "Reasoning harvest"
    assert first["risk"] == 0.93 and first["accounts"] == 120 and first["exchanges"] == 45000
    assert first["opened (UTC)"] == datetime(2026, 10, 1, 9, 30)
    assert first["link"].startswith(settings.SITE_URL)


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_text_is_inert_in_csv_and_xlsx(manager_client, value):
    camp = CampaignFactory(label=value)
    CaseFactory(title=value, campaign=camp)
    rows = _csv(post_export(manager_client, "/cases/export/csv/"))
    title, campaign = rows[1][1], rows[1][2]
    for cell in (title, campaign):
        assert cell == "'" + value
    sheet = _xlsx(post_export(manager_client, "/cases/export/xlsx/").content)
    cells = next(sheet.iter_rows(min_row=2, max_row=2))
    for cell in cells[1:3]:
        assert cell.data_type == "s"
        # XML parsers read a stored CR back as LF; what matters is the leading apostrophe.
        assert cell.value == "'" + value.replace("\r", "\n")


def test_case_workbook_neutralises_org_names_and_notes(manager_client, analyst):
    case = CaseFactory(title="@fleet")
    account = AccountFactory(account_id="-acct-1", org_id="=cmd|' /C calc'!A0", email_domain="x.io")
    CaseAccountFactory(case=case, account=account, risk_score=0.7)
    NoteFactory(case=case, author=analyst, body="+ban them all")
    response = post_export(manager_client, f"/cases/{case.pk}/export/xlsx/")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Summary",
        f"Case {case.pk}",
        "Signals",
        "Accounts",
        "Notes",
        "Audit trail",
    ]
    summary, accounts, notes = workbook[f"Case {case.pk}"], workbook["Accounts"], workbook["Notes"]
    assert workbook["Summary"]["A1"].value == f"Case #{case.pk}: @fleet"
    assert summary["B2"].value == "'@fleet"
    assert accounts["A2"].value == "'-acct-1"
    assert accounts["C2"].value == "'=cmd|' /C calc'!A0" and accounts["C2"].data_type == "s"
    assert notes["C2"].value == "'+ban them all"
    rows = _csv(post_export(manager_client, f"/cases/{case.pk}/export/csv/"))
    assert rows[0] == HEADER and rows[1][1] == "'@fleet"


@pytest.fixture
def full_case(analyst, approver):
    run = DetectionRunFactory()
    case = CaseFactory(
        title="Northwind reasoning fleet",
        campaign=CampaignFactory(label="=Northwind"),
        account_count=2,
        risk_score=0.91,
        last_run=run,
        explanation={
            "summary": "120 accounts sharing one prompt template",
            "signals": [signal(), signal("shift_synchrony", 0.8, 0.1, 0.3)],
        },
    )
    for i in range(2):
        account = AccountFactory(account_id=f"acct-nw-{i}", org_id=f"@northwind-{i}")
        CaseAccountFactory(case=case, account=account, risk_score=0.9 - i / 10)
        AccountScoreFactory(run=run, account=account)
    NoteFactory(case=case, author=analyst, body="Same template as the Octo campaign.")
    snapshot = EvidenceSnapshot.objects.create(
        case=case,
        status="done",
        finished_at=timezone.now(),
        window_start=OPENED,
        window_end=OPENED + timedelta(days=2),
        account_count=2,
        sources=["telemetry"],
    )
    Evidence.objects.create(
        snapshot=snapshot,
        source="telemetry",
        kind="templates",
        data={
            "exchanges": 500,
            "with_prompt": 500,
            "distinct_templates": 1,
            "top_share": 1.0,
            "templates": [
                {
                    "hash": "1",
                    "exchanges": 500,
                    "accounts": 2,
                    "outside_accounts": 0,
                    "samples": [{"account_id": "acct-nw-0", "text": "Think step by step about"}],
                }
            ],
        },
    )
    Evidence.objects.create(
        snapshot=snapshot,
        source="telemetry",
        kind="traffic",
        data={
            "totals": {"exchanges": 500, "active_accounts": 2, "output_tokens": 9000},
            "bucket": "day",
            "bucket_starts": [OPENED.isoformat(), (OPENED + timedelta(days=1)).isoformat()],
            "exchanges_by_model": {"model-large-2": [200, 300]},
            "models": [{"model": "model-large-2", "exchanges": 500, "accounts": 2}],
        },
    )
    action = EnforcementAction.objects.create(
        case=case, kind="ban", status="rejected", reason="Ban the fleet", proposed_by=analyst,
        decided_by=approver, decided_at=timezone.now(), decision_comment="Needs the ASN check",
    )  # fmt: skip
    action.accounts.add(*[link.account for link in case.case_accounts.all()])
    from cases import audit

    audit.record("case.status_changed", actor=analyst, case=case, data={"to": "investigating"})
    return case


def _pdf_text(content: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_case_pdf_report_has_every_section(approver_client, full_case):
    response = post_export(approver_client, f"/cases/{full_case.pk}/export/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text, pages = _pdf_text(response.content)
    assert pages >= 2
    flat = " ".join(text.split())
    for expected in [
        f"Case #{full_case.pk}: Northwind reasoning fleet",
        "In short",
        "=Northwind",
        "Why flagged",
        "120 accounts sharing one prompt template",
        "Shift synchrony",
        "Contribution of each signal",
        "acct-nw-0",
        "@northwind-0",
        "Evidence highlights",
        "Think step by step about",
        "model-large-2",
        "Exchanges over time",
        "Enforcement decisions",
        "Needs the ASN check",
        "Same template as the Octo campaign.",
        "Audit trail",
        "Moved from",
    ]:
        assert expected in flat, expected


def test_case_pdf_without_explanation_uses_account_scores(manager_client):
    run = DetectionRunFactory()
    case = CaseFactory(title="Lone account", last_run=run, explanation={})
    account = AccountFactory()
    CaseAccountFactory(case=case, account=account)
    AccountScoreFactory(run=run, account=account, signals=[signal("prompt_template_share")])
    text, _ = _pdf_text(post_export(manager_client, f"/cases/{case.pk}/export/pdf/").content)
    assert "Prompt template share" in text and "prompt_template_share" not in text
    assert "No evidence snapshot" in " ".join(text.split())


def test_every_export_is_audited(manager_client, full_case):
    post_export(manager_client, "/cases/export/csv/", {"status": "open", "priority": "3"})
    post_export(manager_client, "/cases/export/xlsx/")
    post_export(manager_client, f"/cases/{full_case.pk}/export/pdf/")
    events = list(AuditEvent.objects.filter(verb="export.created").order_by("id"))
    assert [(e.data["format"], e.data["scope"]) for e in events] == [
        ("csv", "queue"),
        ("xlsx", "queue"),
        ("pdf", "case"),
    ]
    assert all(e.actor.username == "mona" for e in events)
    assert events[0].data["filters"] == {"priority": ["3"], "status": ["open"]}
    assert events[0].data["rows"] == 1
    assert events[2].case_id == full_case.pk


URLS = ["/cases/export/csv/", "/cases/export/xlsx/", "/cases/{pk}/export/csv/",
        "/cases/{pk}/export/xlsx/", "/cases/{pk}/export/pdf/"]  # fmt: skip


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    ("who", "status"),
    [("manager_client", 200), ("approver_client", 200), ("analyst_client", 403),
     ("outsider_client", 403)],
)  # fmt: skip
def test_only_managers_and_approvers_export(request, url, who, status):
    case = CaseFactory()
    client = request.getfixturevalue(who)
    assert post_export(client, url.format(pk=case.pk)).status_code == status
    audited = AuditEvent.objects.filter(verb="export.created").exists()
    assert audited is (status == 200)


def test_unknown_format_and_missing_case_are_404(manager_client):
    assert post_export(manager_client, "/cases/export/pdf/").status_code == 404
    assert manager_client.get("/cases/999999/export/pdf/").status_code == 404


def test_export_buttons_show_only_to_those_who_may_export(manager_client, analyst_client):
    case = CaseFactory()
    page = manager_client.get("/cases/", {"priority": "3"}).content.decode()
    assert 'formaction="/cases/export/csv/?priority=3"' in page
    assert (
        f'formaction="/cases/{case.pk}/export/pdf/"'
        in manager_client.get(f"/cases/{case.pk}/").content.decode()
    )
    assert "/export/" not in analyst_client.get("/cases/").content.decode()
    assert "/export/" not in analyst_client.get(f"/cases/{case.pk}/").content.decode()


@pytest.fixture
def exports_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.EXPORT_SYNC_MAX_ROWS = 2
    return tmp_path


def test_a_long_spreadsheet_runs_as_a_task_with_a_download_link(
    manager_client, manager, cases, exports_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_export(manager_client, "/cases/export/xlsx/", {"status": "any"})
    assert response.status_code == 302
    export = Export.objects.get()
    assert response["Location"] == f"/cases/exports/{export.pk}/"
    assert len(callbacks) == 1  # the build task, enqueued after commit
    assert (export.status, export.total, export.created_by) == ("pending", 3, manager)
    assert AuditEvent.objects.get(verb="export.created").data["export"] == export.pk
    page = manager_client.get(f"/cases/exports/{export.pk}/").content.decode()
    assert "Waiting for a worker" in page and 'hx-trigger="every 2s"' in page

    # Asking again while it is queued gives the same export, not a second one.
    with django_capture_on_commit_callbacks(execute=False) as again:
        post_export(manager_client, "/cases/export/xlsx/", {"status": "any", "page": "2"})
    assert Export.objects.count() == 1 and not again

    assert export_build(export.pk) == "done"
    assert export_build(export.pk) == "not pending"  # a redelivered task does nothing
    export.refresh_from_db()
    assert export.status == "done" and export.rows == 3 and export.path.exists()
    fragment = manager_client.get(f"/cases/exports/{export.pk}/", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b"export-download" in fragment.content
    assert b"every 2s" not in fragment.content
    download = manager_client.get(f"/cases/exports/{export.pk}/download/")
    assert download.status_code == 200
    rows = list(_xlsx(b"".join(download.streaming_content)).iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == ["Reasoning harvest", "Coding agents", "Campus NAT"]


def test_nobody_else_downloads_your_export(manager, approver_client, exports_dir, cases):
    export = Export.objects.create(created_by=manager, format="xlsx", query="status=any", total=3)
    export_build(export.pk)
    assert approver_client.get(f"/cases/exports/{export.pk}/").status_code == 404
    assert approver_client.get(f"/cases/exports/{export.pk}/download/").status_code == 404


@pytest.mark.parametrize("suffix", ["", "download/"])
@pytest.mark.parametrize("htmx", [False, True])
def test_no_role_means_403_even_on_ones_own_export(
    manager, manager_client, exports_dir, cases, suffix, htmx
):
    export = Export.objects.create(created_by=manager, format="csv", query="status=any", total=3)
    assert export_build(export.pk) == "done"
    assert manager_client.get(f"/cases/exports/{export.pk}/{suffix}").status_code == 200
    manager.groups.clear()  # the manager has since lost every role
    headers = {"HX-Request": "true"} if htmx else {}
    response = manager_client.get(f"/cases/exports/{export.pk}/{suffix}", headers=headers)
    assert response.status_code == 403


def test_a_build_for_someone_who_lost_the_role_fails_cleanly(exports_dir, cases):
    user = UserFactory(username="former")
    export = Export.objects.create(created_by=user, format="xlsx", query="", total=3)
    assert export_build(export.pk) == "failed"
    export.refresh_from_db()
    assert export.status == "failed" and "no longer export" in export.error
    assert not export.path.exists()
