"""Telemetry pruning: the service, the command and the beat task."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from detection.models import Account, Exchange
from detection.retention import telemetry_prune
from detection.tasks import prune_telemetry_task
from tests.factories import AccountFactory, ExchangeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic():
    """Three exchanges an hour apart at each of 8 ages (1 to 400 days), gaps between."""
    now = timezone.now()
    account = AccountFactory()
    ages = [1, 10, 100, 179, 181, 200, 365, 400]
    for age in ages:
        for hour in range(3):
            # Half an hour off the day, so no exchange sits exactly on a cutoff.
            ExchangeFactory(account=account, ts=now - timedelta(days=age, minutes=30 + 60 * hour))
    return now, account


def ages_left(now):
    return sorted({(now - ts).days for ts in Exchange.objects.values_list("ts", flat=True)})


def test_the_default_retention_deletes_only_older_exchanges(settings, traffic):
    now, account = traffic
    settings.TELEMETRY_RETENTION_DAYS = 180

    result = telemetry_prune(now=now)

    assert result.deleted == 12
    assert ages_left(now) == [1, 10, 100, 179]
    assert Account.objects.filter(pk=account.pk).exists()  # accounts are kept


def test_small_batches_walk_through_gaps_and_delete_the_same(traffic):
    now, _ = traffic
    result = telemetry_prune(older_than_days=50, batch_size=1, now=now)
    assert result.deleted == 18
    assert result.batches > 1
    assert ages_left(now) == [1, 10]
    assert telemetry_prune(older_than_days=50, now=now).deleted == 0  # idempotent


def test_a_dry_run_counts_and_deletes_nothing(traffic):
    now, _ = traffic
    result = telemetry_prune(older_than_days=150, dry_run=True, now=now)
    assert (result.deleted, result.dry_run) == (15, True)
    assert Exchange.objects.count() == 24


def test_the_command_reports_what_it_did(traffic):
    out = io.StringIO()
    call_command("prune_telemetry", "--older-than-days", "300", "--dry-run", stdout=out)
    assert "dry run: 6 exchanges older than" in out.getvalue()
    assert Exchange.objects.count() == 24
    call_command("prune_telemetry", "--older-than-days", "300", stdout=out)
    assert "deleted 6 exchanges older than" in out.getvalue()
    assert Exchange.objects.count() == 18


def test_the_command_refuses_a_negative_period(traffic):
    from django.core.management import CommandError

    with pytest.raises(CommandError) as caught:
        call_command("prune_telemetry", "--older-than-days", "-1")
    assert caught.value.returncode == 2
    assert Exchange.objects.count() == 24


def test_the_beat_task_prunes_with_the_setting(settings, traffic):
    settings.TELEMETRY_RETENTION_DAYS = 366
    assert prune_telemetry_task() == 3
    assert Exchange.objects.count() == 21
    assert "detection.tasks.prune_telemetry_task" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
