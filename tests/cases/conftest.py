"""Data builders shared by the case console tests."""

import pytest

from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    NoteFactory,
)

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
# Markup that breaks out of an element and out of a quoted attribute.
PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


def signal(name="reasoning_elicitation", value=0.62, norm=0.03, contribution=0.4):
    return {
        "name": name,
        "value": value,
        "threshold": 0.25,
        "norm": norm,
        "contribution": contribution,
        "reason": f"{name}: {value} against a typical {norm}",
    }


@pytest.fixture
def make_case():
    """A case with ``accounts`` accounts (each with a score), a campaign and a note."""

    def _make(accounts: int = 2, notes: int = 1, author=None, **fields):
        fields.setdefault("campaign", CampaignFactory())
        fields.setdefault(
            "explanation",
            {"summary": "Fleet of look-alike accounts", "signals": [signal(), signal("tool_use")]},
        )
        case = CaseFactory(account_count=accounts, **fields)
        for i in range(accounts):
            account = AccountFactory(email_domain=f"d{i}.example", org_id=f"org-{i}")
            CaseAccountFactory(case=case, account=account, risk_score=0.5 + i / 1000)
            AccountScoreFactory(account=account, exchange_count=100 + i)
        for _ in range(notes):
            if author is not None:
                NoteFactory(case=case, author=author)
        return case

    return _make
