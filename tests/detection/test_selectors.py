"""detection.selectors: reads across a run's tables."""

import pytest

from detection.models import AccountChange
from detection.selectors import fleet_moves
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    DetectionRunFactory,
)

pytestmark = pytest.mark.django_db


def change(account, field, old, new):
    AccountChange.objects.create(account=account, field=field, old_value=old, new_value=new)


def test_fleet_moves_counts_moves_onto_a_flagged_fleets_card_or_organisation():
    last = DetectionRunFactory()
    fleet = CampaignFactory()
    for _ in range(2):
        AccountScoreFactory(
            run=last,
            campaign=fleet,
            account=AccountFactory(payment_fingerprint="card-fleet", org_id="org-fleet"),
        )
    AccountScoreFactory(  # flagged outside any campaign: its card is no fleet's
        run=last, campaign=None, account=AccountFactory(payment_fingerprint="card-lone")
    )
    both = AccountFactory(payment_fingerprint="card-fleet", org_id="org-fleet")
    change(both, AccountChange.Field.PAYMENT_FINGERPRINT, "card-own", "card-fleet")
    change(both, AccountChange.Field.ORG_ID, "", "org-fleet")
    elsewhere = AccountFactory(payment_fingerprint="card-lone")
    change(elsewhere, AccountChange.Field.PAYMENT_FINGERPRINT, "card-own", "card-lone")
    cleared = AccountFactory()
    change(cleared, AccountChange.Field.ORG_ID, "org-fleet", "")
    outside = AccountFactory(payment_fingerprint="card-fleet")  # not among the run's accounts
    change(outside, AccountChange.Field.PAYMENT_FINGERPRINT, "card-own", "card-fleet")
    country = AccountFactory()
    change(country, AccountChange.Field.COUNTRY, "card-own", "card-fleet")

    run = DetectionRunFactory()
    scored = [both.pk, elsewhere.pk, cleared.pk, country.pk]
    assert fleet_moves(scored, before=run) == {both.pk: 2}


def test_fleet_moves_reads_the_last_successful_run_before_this_one():
    run = DetectionRunFactory()
    mover = AccountFactory()
    change(mover, AccountChange.Field.PAYMENT_FINGERPRINT, "a", "b")
    assert fleet_moves([mover.pk], before=run) == {}
    assert fleet_moves([], before=run) == {}
