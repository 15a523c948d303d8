"""A small world to pivot in: a case of two fleet accounts and, outside it, accounts that
share one of their ties each, plus one that shares nothing."""

from dataclasses import dataclass, field
from datetime import timedelta

from detection.models import Account
from tests.factories import (
    BASE_TIME,
    AccountFactory,
    AccountScoreFactory,
    CaseAccountFactory,
    CaseFactory,
    DetectionRunFactory,
    ExchangeFactory,
)

CARD = "card-fp-7f3a"
ORG = "org-fleet"
DOMAIN = "fleet.example"
IP = "203.0.113.7"
ASN = 13335
TEMPLATE = -4242424242
AGENT = "fleet-bot/1.0"


@dataclass
class World:
    case: object
    members: list[Account]
    card_sharers: list[Account] = field(default_factory=list)
    ip_sharer: Account | None = None
    stranger: Account | None = None


def make_world(extra_card_sharers: int = 0) -> World:
    run = DetectionRunFactory(
        window_start=BASE_TIME - timedelta(days=1), window_end=BASE_TIME + timedelta(days=30)
    )
    case = CaseFactory(title="Fleet case", account_count=2, last_run=run)
    members = []
    for i in range(2):
        account = AccountFactory(
            account_id=f"fleet-{i:03d}",
            payment_fingerprint=CARD,
            org_id=ORG,
            email_domain=DOMAIN,
        )
        CaseAccountFactory(case=case, account=account)
        AccountScoreFactory(run=run, account=account, risk_score=0.9)
        ExchangeFactory.create_batch(
            2, account=account, ip=IP, asn=ASN, prompt_hash=TEMPLATE, user_agent=AGENT
        )
        members.append(account)
    world = World(case=case, members=members)
    for i in range(2 + extra_card_sharers):
        sharer = AccountFactory(account_id=f"outside-card-{i:03d}", payment_fingerprint=CARD)
        AccountScoreFactory(run=run, account=sharer, risk_score=0.4)
        world.card_sharers.append(sharer)
    world.ip_sharer = AccountFactory(account_id="outside-ip-000")
    ExchangeFactory(account=world.ip_sharer, ip=IP, asn=64500, user_agent="curl/8")
    world.stranger = AccountFactory(account_id="stranger-000", payment_fingerprint="other")
    ExchangeFactory(account=world.stranger, ip="192.0.2.9", asn=64501, user_agent="curl/8")
    return world
