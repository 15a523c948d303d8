"""The signal-quality page: each signal's precision against the labels over a period."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.labels.selectors import signal_quality
from cases.labels.services import labels_record
from tests.factories import AccountFactory, AccountScoreFactory, DetectionRunFactory

pytestmark = pytest.mark.django_db
URL = reverse("signal_quality")


def _sig(name, contribution=0.3):
    return {"name": name, "value": 1, "threshold": 0.5, "norm": 0, "contribution": contribution}


@pytest.fixture
def scored(admin_user):
    """Two runs; the latest score of each labelled account is the one that counts."""
    now = timezone.now()
    old = DetectionRunFactory(finished_at=now - timedelta(days=2))
    new = DetectionRunFactory(finished_at=now - timedelta(hours=1))
    accounts = {name: AccountFactory(account_id=name) for name in ("f1", "f2", "l1", "l2", "u1")}
    # tool_use fired on both legitimate accounts and one confirmed: it stands out.
    plan = {
        "f1": [_sig("reasoning_elicitation"), _sig("tool_use")],
        "f2": [_sig("reasoning_elicitation"), _sig("shared_ip", 0)],
        "l1": [_sig("tool_use")],
        "l2": [_sig("tool_use"), _sig("reasoning_elicitation")],
        "u1": [_sig("tool_use")],
    }
    for name, signals in plan.items():
        AccountScoreFactory(run=new, account=accounts[name], signals=signals)
    # An older score of l1 that fired reasoning counts for nothing: the newer one wins.
    AccountScoreFactory(run=old, account=accounts["l1"], signals=[_sig("reasoning_elicitation")])
    for names, outcome, code in (
        (["f1", "f2"], "confirmed", "shared-infrastructure"),
        (["l1", "l2"], "legitimate", "known-customer"),
        (["u1"], "unsure", "insufficient-evidence"),
    ):
        labels_record(
            account_ids=[accounts[n].pk for n in names],
            outcome=outcome,
            reason_code=code,
            source="case_closed",
            by=admin_user,
        )
    return now


def test_precision_per_signal_by_hand(scored):
    rows = {r["name"]: r for r in signal_quality(scored - timedelta(days=7), scored)}
    assert set(rows) == {"reasoning_elicitation", "tool_use"}  # shared_ip never fired
    tool = rows["tool_use"]
    assert (tool["confirmed"], tool["legitimate"], tool["unsure"]) == (1, 2, 1)
    assert tool["precision"] == pytest.approx(1 / 3) and tool["noisy"]
    reasoning = rows["reasoning_elicitation"]
    assert (reasoning["confirmed"], reasoning["legitimate"]) == (2, 1)
    assert reasoning["precision"] == pytest.approx(2 / 3) and not reasoning["noisy"]
    assert reasoning["confirmed_examples"] == ["f1", "f2"]
    # Only runs in the period count: two days ago, only l1's older score fired anything.
    (older,) = signal_quality(scored - timedelta(days=7), scored - timedelta(days=1))
    assert (older["name"], older["legitimate"], older["confirmed"]) == (
        "reasoning_elicitation",
        1,
        0,
    )


def test_the_page_shows_the_noisy_signal_first_with_examples(scored, manager_client):
    page = manager_client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert body.index('data-signal="tool_use"') < body.index('data-signal="reasoning_elicitation"')
    assert "fires mostly on legitimate accounts" in body and "33.3%" in body
    assert reverse("accounts:account_detail", args=["l1"]) in body


def test_the_page_is_for_managers_and_admins(
    scored, admin_client_, analyst_client, outsider_client
):
    assert admin_client_.get(URL).status_code == 200
    assert analyst_client.get(URL).status_code == 403
    assert outsider_client.get(URL).status_code == 403


def test_a_bad_period_says_so_and_shows_the_default(manager_client):
    page = manager_client.get(URL, {"start": "2026-05-01", "end": "2026-01-01"})
    assert page.status_code == 200 and "start date is after the end date" in page.content.decode()


def _order(body: str) -> list[str]:
    return re.findall(r'data-signal="([^"]+)"', body)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["reasoning_elicitation", "tool_use"]),
        ("-name", ["tool_use", "reasoning_elicitation"]),
        ("precision", ["tool_use", "reasoning_elicitation"]),
        ("-precision", ["reasoning_elicitation", "tool_use"]),
        ("confirmed", ["tool_use", "reasoning_elicitation"]),
        ("-confirmed", ["reasoning_elicitation", "tool_use"]),
        ("legitimate", ["reasoning_elicitation", "tool_use"]),
        ("-legitimate", ["tool_use", "reasoning_elicitation"]),
        ("unsure", ["reasoning_elicitation", "tool_use"]),
        ("-unsure", ["tool_use", "reasoning_elicitation"]),
    ],
)
def test_every_orderable_column_sorts(scored, manager_client, sort, expected):
    body = manager_client.get(URL, {"sort": sort}).content.decode()
    assert _order(body) == expected


def test_sorting_keeps_the_period_and_swaps_only_the_table(scored, manager_client):
    period = {"start": (scored - timedelta(days=7)).date().isoformat()}
    page = manager_client.get(URL, period).content.decode()
    assert f'href="{URL}?start={period["start"]}&amp;sort=name"' in page
    fragment = manager_client.get(URL, {**period, "sort": "name"}, headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert body.lstrip().startswith('<section class="card" id="signal-quality-section">')
    assert "<h1>" not in body and _order(body) == ["reasoning_elicitation", "tool_use"]
    assert "HX-Request" in fragment["Vary"]


def test_a_signal_no_decided_account_fired_on_sorts_below_every_precision(admin_client_):
    now = timezone.now()
    run = DetectionRunFactory(finished_at=now - timedelta(hours=1))
    for name, signal, outcome in (("f1", "tool_use", "confirmed"), ("u1", "asn", "unsure")):
        account = AccountFactory(account_id=name)
        AccountScoreFactory(run=run, account=account, signals=[_sig(signal)])
        code = "shared-infrastructure" if outcome == "confirmed" else "insufficient-evidence"
        labels_record(
            account_ids=[account.pk], outcome=outcome, reason_code=code, source="case_closed"
        )
    assert _order(admin_client_.get(URL, {"sort": "precision"}).content.decode()) == [
        "asn",
        "tool_use",
    ]
