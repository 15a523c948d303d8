"""The look-alike rules and traffic figures of the blast radius, on plain data."""

from datetime import UTC, datetime, timedelta

import pytest

from cases.enforcement import blast_radius as radius

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def facts(account_id="a", *, days=10, plan="free", org="", exchanges=10, others=()):
    return radius.AccountFacts(
        account_id=account_id,
        created_at=NOW - timedelta(days=days),
        plan=plan,
        org_id=org,
        exchanges=exchanges,
        other_open_cases=list(others),
    )


@pytest.mark.parametrize(
    ("days", "plan", "warned"),
    [
        (181, "pro", True),
        (181, "Enterprise", True),
        (180, "pro", False),  # not more than 180 days
        (400, "free", False),
        (400, "trial", False),
        (400, "", False),
    ],
)
def test_old_paying_rule(days, plan, warned):
    found = radius.lookalike_warnings(
        facts(days=days, plan=plan), org_sizes={}, org_in_proposal={}, now=NOW
    )
    assert ("old_paying" in {w["code"] for w in found}) is warned


@pytest.mark.parametrize(("size", "warned"), [(2, False), (3, True), (40, True)])
def test_shared_org_rule(size, warned):
    found = radius.lookalike_warnings(
        facts(org="acme"), org_sizes={"acme": size}, org_in_proposal={"acme": 1}, now=NOW
    )
    assert ("shared_org" in {w["code"] for w in found}) is warned
    if warned:
        assert f"{size - 1} of them not in this proposal" in found[0]["text"]


def test_compute_totals_shares_and_other_cases():
    accounts = [
        facts("a", exchanges=300, others=[7]),
        facts("b", exchanges=100, others=[7, 9]),
        facts("c", exchanges=0, org="acme", plan="team", days=365),
    ]
    blast = radius.compute(accounts, org_sizes={"acme": 5}, total_exchanges=4000, now=NOW)
    assert blast["account_count"] == 3
    assert blast["exchange_count"] == 400
    assert blast["traffic_share"] == 0.1
    assert [a["account_id"] for a in blast["accounts"]] == ["a", "b", "c"]
    assert blast["accounts"][0]["share"] == 0.075
    assert blast["accounts_in_other_cases"] == 2
    assert blast["other_open_cases"] == [
        {"case_id": 7, "accounts": 2},
        {"case_id": 9, "accounts": 1},
    ]
    assert blast["lookalike_count"] == 1 and blast["warning_count"] == 2
    assert blast["accounts"][2]["warnings"] == ["shared_org", "old_paying"]
    assert blast["rules"]["old_account_days"] == 180


def test_compute_without_a_detection_total_has_no_share():
    blast = radius.compute([facts()], org_sizes={}, total_exchanges=None, now=NOW)
    assert blast["traffic_share"] is None and blast["accounts"][0]["share"] is None


def test_top_accounts_and_warnings_are_capped():
    many = [facts(f"x{i:05d}", exchanges=i, org="big") for i in range(radius.MAX_WARNINGS + 20)]
    blast = radius.compute(many, org_sizes={"big": len(many)}, total_exchanges=10**6, now=NOW)
    assert len(blast["accounts"]) == radius.TOP_ACCOUNTS
    assert blast["accounts"][0]["account_id"] == f"x{len(many) - 1:05d}"
    assert len(blast["warnings"]) == radius.MAX_WARNINGS
    assert blast["warning_count"] == len(many)
