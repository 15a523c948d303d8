"""Case exports a reader outside the team can use as they are: a plain-language summary
first, signals, statuses and audit events in words, notes rendered, and workbooks that open
with a filterable frozen header, number formats and totals."""

import io
import re
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from pypdf import PdfReader

from cases import audit
from cases.models import Case, EnforcementAction
from detection.config import SignalWeights
from tests.cases.conftest import signal
from tests.factories import AccountFactory, CaseAccountFactory, CaseFactory, NoteFactory

pytestmark = pytest.mark.django_db
OPENED = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


@pytest.fixture
def banned_case(analyst, approver):
    case = CaseFactory(
        title="Northwind reasoning fleet",
        status=Case.Status.ACTIONED,
        resolution=Case.Resolution.ACTIONED,
        account_count=3,
        exchange_count=45_000,
        traffic_share=0.04,
        risk_score=0.91,
        opened_at=OPENED,
        decided_at=OPENED + timedelta(days=2),
        explanation={
            "signals": [
                signal("reasoning_elicitation", 0.8, 0.03, 0.4),
                signal("shared_payment", 5, 0, 0.3),
                signal("coaction", 4, 0, 0.2),
                signal("round_the_clock", 0.95, 0.6, 0.1),
            ]
        },
    )
    accounts = [AccountFactory(account_id=f"nw-{i}", org_id=f"org-{i % 2}") for i in range(3)]
    for account in accounts:
        CaseAccountFactory(case=case, account=account, risk_score=0.9)
    action = EnforcementAction.objects.create(
        case=case, kind="ban", status="executed", reason="fleet", proposed_by=analyst,
        decided_by=approver, decided_at=OPENED + timedelta(days=2),
        executed_at=OPENED + timedelta(days=2, hours=1),
    )  # fmt: skip
    action.accounts.add(*accounts)
    NoteFactory(
        case=case,
        author=analyst,
        body="**Confirmed**: same card as _Octo_.\n\n- one\n- two\n\n<script>alert(1)</script>",
    )
    audit.record(
        "case.status_changed",
        actor=approver,
        case=case,
        data={"from": "pending_approval", "to": "actioned", "resolution": "actioned"},
    )
    audit.record("action.executed", case=case, data={"action": action.pk, "kind": "ban",
                                                        "accounts": 3})  # fmt: skip
    return case


def _pdf(client, case) -> str:
    response = client.post(f"/cases/{case.pk}/export/pdf/")
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_pdf_opens_with_a_summary_in_plain_language(manager_client, banned_case):
    text = _pdf(manager_client, banned_case)
    summary = text[text.index("In short") : text.index("The case")]
    assert "This case covers 3 accounts declaring 2 organisations" in summary
    assert "45,000 requests" in summary and "4.00% of all traffic" in summary
    assert "risk score of 0.91 out of 1" in summary
    # The three strongest signals in words, with what each one measures.
    assert (
        "asks for step-by-step reasoning (share of prompts asking for chain of thought" in summary
    )
    assert (
        "shared payment card (unrelated accounts paying with the same payment instrument)"
        in summary
    )
    assert "acts together with others" in summary and "round the clock" not in summary
    assert "A ban on 3 accounts, proposed by ana and approved by april, took effect on" in summary
    assert "3 October 2026" in summary


def test_pdf_has_no_snake_case_signal_name_and_no_raw_markdown(manager_client, banned_case):
    text = _pdf(manager_client, banned_case)
    for name in [n for n in SignalWeights.names() if "_" in n]:
        assert name not in text, name
    assert not SNAKE.search(text), SNAKE.search(text)
    # Notes are rendered: no Markdown marks, the hostile tag shown as text and never run.
    assert "Confirmed: same card as Octo." in text
    assert "**" not in text and "_Octo_" not in text
    assert "<script>alert(1)</script>" in text
    # Statuses and audit events in words, never their keys.
    assert "Moved from Pending approval to Actioned (action taken)" in text
    assert "Ban #" in text and "in force on 3 accounts" in text
    assert "pending_approval" not in text and "case.status_changed" not in text


def test_case_workbook_summary_sheet_and_words(manager_client, banned_case):
    response = manager_client.post(f"/cases/{banned_case.pk}/export/xlsx/")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    summary = list(workbook["Summary"].iter_rows(values_only=True))
    paragraphs = " ".join(str(r[1]) for r in summary if not r[0] and r[1])
    assert paragraphs.startswith("This case covers 3 accounts declaring 2 organisations")
    figures = {r[0]: r[1] for r in summary if r[0]}
    assert figures["Accounts"] == 3 and figures["Requests (exchanges)"] == 45_000
    assert figures["Share of traffic"] == pytest.approx(0.04)
    signals = list(workbook["Signals"].iter_rows(min_row=2, values_only=True))
    assert [s[0] for s in signals[:2]] == ["Asks for step-by-step reasoning", "Shared payment card"]
    assert signals[0][1].startswith("Share of prompts asking for chain of thought")
    assert not any(SNAKE.search(str(s[6])) for s in signals)
    note = workbook["Notes"]["C2"].value
    assert note.startswith("Confirmed: same card as Octo.\n• one\n• two")
    trail = [r[2] for r in workbook["Audit trail"].iter_rows(min_row=2, values_only=True)]
    assert "Moved from Pending approval to Actioned (action taken)" in trail


def test_queue_workbook_opens_ready(manager_client, banned_case):
    CaseFactory(title="Campus NAT", risk_score=0.4567, account_count=10, exchange_count=5)
    response = manager_client.post("/cases/export/xlsx/?status=any")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Cases", "Totals"]
    cases = workbook["Cases"]
    assert cases.freeze_panes == "A2"
    assert cases.auto_filter.ref == "A1:N3"
    assert cases["A1"].font.b
    assert cases.column_dimensions["B"].width == 48
    risk, opened = cases["G2"], cases["J2"]
    assert risk.number_format == "0.00" and isinstance(risk.value, float)
    assert opened.number_format == "yyyy-mm-dd hh:mm" and isinstance(opened.value, datetime)
    assert cases["I2"].number_format == "#,##0"
    totals = {r[0]: r[1] for r in workbook["Totals"].iter_rows(values_only=True)}
    assert totals["Cases"] == 2
    assert totals["Accounts (sum over the cases)"] == 13
    assert totals["Exchanges (sum over the cases)"] == 45_005
    assert totals["Mean risk score"] == pytest.approx((0.91 + 0.4567) / 2, abs=1e-4)
    assert totals["Actioned"] == 1 and totals["New"] == 1


@pytest.mark.parametrize(
    "value",
    ["  =1+1", "\u3000=cmd", "\uff1dHYPERLINK(1)", "\ufeff@SUM(A1)", "\u200b-2", "\uff0b1"],
)
def test_formula_guard_sees_past_whitespace_and_full_width_signs(manager_client, value):
    CaseFactory(title=value)
    response = manager_client.post("/cases/export/xlsx/")
    cell = openpyxl.load_workbook(io.BytesIO(response.content))["Cases"]["B2"]
    assert cell.data_type == "s" and cell.value == "'" + value


def test_queue_csv_shows_risk_as_the_pages_do(manager_client):
    CaseFactory(title="Precise", risk_score=0.91054)
    response = manager_client.post("/cases/export/csv/")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[1].split(",")[6] == "0.91"
