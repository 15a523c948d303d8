"""The account details evidence: an account that moves onto a flagged fleet's card is shown
with the change and scored on it; exchanges whose text ingest cleaned are counted.

End to end: telemetry goes in through the ingest command, detection runs, evidence is
collected and the case page shows it."""

from datetime import timedelta

import orjson
import pytest

from cases.evidence.services import evidence_snapshot_collect
from cases.models import EvidenceSnapshot
from detection import services
from detection.models import Account, AccountChange, AccountScore
from tests.detection.cohorts import START, Cohort
from tests.detection.test_ingest_support import exchange_row, run_ingest, write_rows
from tests.factories import CaseAccountFactory, CaseFactory

pytestmark = pytest.mark.django_db


def _run():
    return services.detection_run_execute(run=services.detection_run_create())


def _score(run, account: Account) -> AccountScore:
    return AccountScore.objects.get(run=run, account=account)


def test_an_account_that_moves_onto_a_fleets_card_is_shown_and_scored_on_it(
    tmp_path, analyst_client, htmx_headers
):
    cohort = Cohort(seed=5)
    cohort.fleet(n=10)
    cohort.ordinary(20)
    cohort.save()
    first = _run()
    member = AccountScore.objects.filter(run=first, flagged=True, campaign__isnull=False).first()
    card = member.account.payment_fingerprint
    mover = Account.objects.get(
        account_id=next(a for a, c in cohort.labels.items() if c == "ordinary")
    )
    old_card = mover.payment_fingerprint
    assert not _score(first, mover).flagged

    # A later accounts row moves it onto the fleet's card; one of its prompts is salted.
    row = next(a for a in cohort.accounts if a["account_id"] == mover.account_id)
    accounts = write_rows(tmp_path / "accounts.jsonl", [{**row, "payment_fingerprint": card}])
    salted = exchange_row(
        1,
        account=0,
        account_id=mover.account_id,
        prompt="hi\x00 there",
        ts=START + timedelta(days=3),
    )
    exchanges = tmp_path / "exchanges.jsonl"
    exchanges.write_bytes(orjson.dumps(salted) + b"\n")
    code, out, err = run_ingest(accounts, exchanges, "--rejects-dir", tmp_path)
    assert code == 0, err
    assert "1 changed (earlier values kept as history)" in out
    assert AccountChange.objects.get(account=mover).old_value == old_card

    second = _run()
    before, after = _score(first, mover), _score(second, mover)
    moves = {s["name"]: s for s in after.signals}["fleet_move"]
    assert moves["value"] == 1 and moves["contribution"] > 0
    assert "moved onto the card or organisation of a flagged fleet" in moves["reason"]
    assert after.risk_score > before.risk_score

    case = CaseFactory()
    CaseAccountFactory(case=case, account=mover)
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == EvidenceSnapshot.Status.DONE
    html = analyst_client.get(f"/cases/{case.pk}/evidence/", headers=htmx_headers).content.decode()
    assert "Account details" in html
    changes = html.split('class="table compact account-changes"', 1)[1].split("</table>", 1)[0]
    assert mover.account_id in changes and "payment fingerprint" in changes
    assert old_card in changes and card in changes
    assert (
        "1 exchange carried text that could not be stored as sent (1 with NUL characters)" in html
    )


def test_registrations_fit_the_burst_and_count_the_old_accounts_apart():
    from datetime import UTC, datetime, timedelta

    from cases.evidence.registrations import core_range

    burst = [datetime(2026, 9, 28, 0, tzinfo=UTC) + timedelta(minutes=i) for i in range(30)]
    old = [datetime(2025, 1, 4, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)]
    first, last = core_range(burst + old)
    assert (first, last) == (burst[0], burst[-1])
    assert core_range(burst[:1]) == (burst[0], burst[0])
