"""A case's first activity (``Case.first_activity_at``): the first request of any of its live
accounts, or their first registration when none has traffic. Every service that changes who
is on a case writes it, and the migration writes it for the cases that existed before."""

import importlib
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps

from cases.models import Case
from cases.services.accounts import case_account_add, case_account_remove, case_accounts_add
from cases.services.merge import case_merge
from cases.services.opening import FlaggedSubject, RunRef, case_open_manual, cases_open_for_subjects
from tests.factories import (
    BASE_TIME,
    AccountFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    DetectionRunFactory,
    ExchangeFactory,
)

pytestmark = pytest.mark.django_db


def day(n: int, hours: int = 0):
    return BASE_TIME + timedelta(days=n, hours=hours)


def _subject(campaign, accounts) -> FlaggedSubject:
    return FlaggedSubject(
        key=f"campaign:{campaign.pk}",
        kind=Case.Kind.CAMPAIGN,
        title="A fleet",
        risk=0.8,
        accounts={a.pk: 0.8 for a in accounts},
        exchanges=100,
        explanation={"summary": "shared proxies", "signals": []},
        campaign_id=campaign.pk,
    )


def _sync(campaign, accounts) -> Case:
    run = DetectionRunFactory()
    cases_open_for_subjects(subjects=[_subject(campaign, accounts)], run=RunRef(run.pk, 1000))
    return Case.objects.get(subject_key=f"campaign:{campaign.pk}")


def test_detection_writes_it_when_it_opens_a_case_and_moves_it_earlier_later():
    campaign = CampaignFactory()
    first, second, late = AccountFactory.create_batch(3)
    ExchangeFactory(account=first, ts=day(3))
    ExchangeFactory(account=first, ts=day(5))
    ExchangeFactory(account=second, ts=day(4))
    case = _sync(campaign, [first, second])
    assert case.first_activity_at == day(3)

    # A later run adds an account whose traffic started earlier.
    ExchangeFactory(account=late, ts=day(1))
    case = _sync(campaign, [first, second, late])
    assert case.first_activity_at == day(1)

    # Traffic ingested late, older than anything known, moves it on the next run too.
    ExchangeFactory(account=second, ts=day(-2))
    case = _sync(campaign, [first, second, late])
    assert case.first_activity_at == day(-2)


def test_a_case_with_no_traffic_starts_at_its_first_registration():
    campaign = CampaignFactory()
    older = AccountFactory(created_at=day(-9))
    newer = AccountFactory(created_at=day(-4))
    unknown = AccountFactory(created_at=None, is_placeholder=True)
    case = _sync(campaign, [older, newer, unknown])
    assert case.first_activity_at == day(-9)
    # Once any of them has traffic, that is its first activity, even after the registration.
    ExchangeFactory(account=newer, ts=day(2))
    case = _sync(campaign, [older, newer, unknown])
    assert case.first_activity_at == day(2)


def test_a_case_with_nothing_known_has_no_first_activity():
    case = CaseFactory()
    case.refresh_first_activity()
    assert case.first_activity_at is None
    CaseAccountFactory(case=case, account=AccountFactory(created_at=None))
    case.refresh_first_activity()
    assert case.first_activity_at is None


def test_adding_an_account_moves_it_earlier_and_removing_it_moves_it_back(analyst):
    case = CaseFactory()
    member = AccountFactory(account_id="member")
    CaseAccountFactory(case=case, account=member)
    ExchangeFactory(account=member, ts=day(6))
    early = AccountFactory(account_id="early")
    ExchangeFactory(account=early, ts=day(2))
    case.refresh_first_activity()
    assert case.first_activity_at == day(6)

    link = case_account_add(case=case, account_id="early", by=analyst, reason="same card")
    assert Case.objects.get(pk=case.pk).first_activity_at == day(2)
    case_account_remove(link=link, by=analyst, reason="a customer")
    assert Case.objects.get(pk=case.pk).first_activity_at == day(6)

    earlier = AccountFactory()
    ExchangeFactory(account=earlier, ts=day(-1))
    case_accounts_add(case=case, accounts=[earlier, early], by=analyst, reason="same card")
    assert Case.objects.get(pk=case.pk).first_activity_at == day(-1)


def test_a_merge_keeps_the_earlier_of_the_two(analyst):
    campaign = CampaignFactory()
    keep = CaseFactory(campaign=campaign)
    gone = CaseFactory(campaign=campaign)
    kept_member, gone_member = AccountFactory(), AccountFactory()
    CaseAccountFactory(case=keep, account=kept_member)
    CaseAccountFactory(case=gone, account=gone_member)
    ExchangeFactory(account=kept_member, ts=day(5))
    ExchangeFactory(account=gone_member, ts=day(1, hours=7))
    Case.objects.all().refresh_first_activity()

    case_merge(source=gone, target=keep, by=analyst, reason="same fleet")
    assert Case.objects.get(pk=keep.pk).first_activity_at == day(1, hours=7)


def test_a_case_opened_by_hand_has_it_from_the_start(analyst):
    quiet = AccountFactory(created_at=day(-3))
    busy = AccountFactory(created_at=day(-30))
    ExchangeFactory(account=busy, ts=day(0, hours=9))
    case = case_open_manual(title="Card ring", accounts=[quiet, busy], by=analyst, reason="card")
    assert case.first_activity_at == day(0, hours=9)
    assert Case.objects.get(pk=case.pk).first_activity_at == day(0, hours=9)


def _backfill():
    return importlib.import_module("cases.migrations.0013_case_first_activity_backfill")


def test_the_backfill_writes_every_case_in_batches(monkeypatch):
    """The migration's own function, on PostgreSQL, with batches of two cases."""
    cases = []
    for i in range(5):
        case = CaseFactory()
        account = AccountFactory(created_at=day(-20))
        CaseAccountFactory(case=case, account=account)
        ExchangeFactory(account=account, ts=day(i))
        cases.append(case)
    gone = AccountFactory()
    CaseAccountFactory(case=cases[0], account=gone, removed_at=day(9))
    ExchangeFactory(account=gone, ts=day(-50))
    quiet = CaseFactory()
    CaseAccountFactory(case=quiet, account=AccountFactory(created_at=day(-7)))
    Case.objects.update(first_activity_at=None)

    migration = _backfill()
    monkeypatch.setattr(migration, "BATCH", 2)
    migration.backfill(apps, None)
    firsts = dict(Case.objects.values_list("pk", "first_activity_at"))
    assert [firsts[c.pk] for c in cases] == [day(i) for i in range(5)]
    assert firsts[quiet.pk] == day(-7)


SQLITE_PROBE = """
import django
django.setup()
from datetime import datetime, UTC
from django.core.management import call_command
from cases.models import Case, CaseAccount
from detection.models import Account, Exchange
call_command("migrate", verbosity=0)
call_command("migrate", "cases", "0012", verbosity=0)
ts, registered = datetime(2026, 3, 4, 5, 6, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
opened = datetime(2026, 3, 10, tzinfo=UTC)
for i in range(3):
    case = Case.objects.create(title=f"c{i}", subject_key=f"campaign:{i}", opened_at=opened)
    account = Account.objects.create(account_id=f"a{i}", created_at=registered)
    CaseAccount.objects.create(case=case, account=account)
    if i:
        Exchange.objects.create(exchange_id=f"e{i}", account=account, ts=ts, ip="192.0.2.1",
                                model="m")
print("before:", list(Case.objects.order_by("pk").values_list("first_activity_at", flat=True)))
call_command("migrate", "cases", verbosity=0)
for first in Case.objects.order_by("pk").values_list("first_activity_at", flat=True):
    print("after:", first.isoformat())
from datetime import date
from dashboard.reports.selectors import figures
from dashboard.selectors import Period
march = figures(Case.objects.all(), Period(date(2026, 3, 1), date(2026, 3, 31)))
print("median:", march.to_detection)
"""


def test_the_migration_backfills_on_sqlite(tmp_path):
    """The embedded default (a SQLite file) runs the same migration: unapplied, then applied
    over cases that had none; and the period report's median reads it there too."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_PROBE],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "before: [None, None, None]" in lines
    assert [line for line in lines if line.startswith("after:")] == [
        "after: 2025-01-01T00:00:00+00:00",
        "after: 2026-03-04T05:06:00+00:00",
        "after: 2026-03-04T05:06:00+00:00",
    ]
    # Opened on 10 March: 433 days after the first registration, twice 5 days 18:54 after
    # the first request; the middle one.
    assert "median: 5 days, 18:54:00" in lines
