"""The known-good allow-list: scored and shown, not flagged while an entry holds, flagged
again once it expires or is revoked; each change in the list's own audit trail."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from detection.allowlist import known_good_add, known_good_change, known_good_revoke
from detection.models import Account, AccountScore, KnownGood, KnownGoodEvent
from detection.services import detection_run_create, detection_run_execute
from tests.detection.cohorts import Cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet():
    cohort = Cohort()
    members = cohort.fleet()
    cohort.ordinary(10)
    cohort.save()
    return sorted(members)


def _score(account_id: str) -> AccountScore:
    run = detection_run_execute(run=detection_run_create())
    return AccountScore.objects.get(run=run, account__account_id=account_id)


def test_an_allow_listed_account_is_scored_but_not_flagged_until_its_entry_expires(fleet):
    entry = known_good_add(
        scope="account",
        value=fleet[0],
        reason="contract customer",
        expires_at=timezone.now() + timedelta(days=7),
    )
    held = _score(fleet[0])
    assert not held.flagged and held.known_good and held.campaign is None
    assert held.risk_score > 0.35 and held.signals  # the score and why stay visible
    others = AccountScore.objects.filter(run=held.run, account__account_id__in=fleet[1:])
    assert all(s.flagged for s in others) and held.run.counts["known_good"] == 1
    # Past its expiry the entry holds no more: the next run flags the account again.
    KnownGood.objects.filter(pk=entry.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    again = _score(fleet[0])
    assert again.flagged and not again.known_good and again.campaign is not None


def test_an_organisation_entry_holds_back_its_accounts_and_revoking_ends_it(fleet):
    # Two of the fleet's accounts declare one organisation.
    Account.objects.filter(account_id__in=fleet[:2]).update(org_id="acme")
    entry = known_good_add(
        scope="org", value="acme", reason="acme", expires_at=timezone.now() + timedelta(days=1)
    )
    run = detection_run_execute(run=detection_run_create())
    held = AccountScore.objects.filter(run=run, account__account_id__in=fleet[:2])
    assert [s.flagged for s in held] == [False, False]
    known_good_revoke(entry=entry, reason="contract ended")
    assert _score(fleet[0]).flagged
    assert [e.verb for e in KnownGoodEvent.objects.filter(entry=entry)] == ["revoked", "added"]


def test_entries_need_a_reason_and_a_future_expiry_and_changes_are_recorded():
    soon = timezone.now() + timedelta(days=1)
    with pytest.raises(ValidationError, match="reason"):
        known_good_add(scope="account", value="a", reason=" ", expires_at=soon)
    with pytest.raises(ValidationError, match="future"):
        known_good_add(scope="account", value="a", reason="r", expires_at=timezone.now())
    with pytest.raises(ValidationError, match="at most"):
        known_good_add(
            scope="account", value="a", reason="r", expires_at=soon + timedelta(days=400)
        )
    entry = known_good_add(scope="account", value="a", reason="r", expires_at=soon)
    later = soon + timedelta(days=30)
    known_good_change(entry=entry, reason="r", expires_at=later)
    event = KnownGoodEvent.objects.filter(entry=entry).first()
    assert event.verb == "changed" and event.data["expires_at"][1] == later.isoformat()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


def test_the_allow_list_admin_adds_extends_and_revokes_with_its_trail(admin_client_):
    add = reverse("admin:detection_knowngood_add")
    expires = (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%d")
    data = {
        "scope": "account",
        "value": "acct-1",
        "reason": "partner",
        "expires_at_0": expires,
        "expires_at_1": "12:00:00",
    }
    past = {**data, "expires_at_0": "2020-01-01"}
    refused = admin_client_.post(add, past)
    assert refused.status_code == 200 and "must expire in the future" in refused.content.decode()
    assert admin_client_.post(add, data).status_code == 302
    entry = KnownGood.objects.get()
    change = reverse("admin:detection_knowngood_change", args=[entry.pk])
    page = admin_client_.get(change).content.decode()
    assert "partner" in page and "added" in page
    revoke = {"reason": "ended", "expires_at_0": expires, "expires_at_1": "12:00:00"}
    assert admin_client_.post(change, {**revoke, "revoke": "on"}).status_code == 302
    entry.refresh_from_db()
    assert entry.revoked_at is not None and not entry.holds()
    from cases.models import AuditEvent

    assert AuditEvent.objects.filter(target_type="detection.knowngood").count() == 2
