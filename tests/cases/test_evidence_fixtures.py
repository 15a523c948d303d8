"""A small campaign with hostile telemetry, shared by the evidence tests and the e2e journey.

Twelve accounts registered a minute apart, one card, one hosting ASN, a handful of rotating
IPs, a templated prompt carrying markup, a shift pattern, and a pivot to a new model halfway
through the window; plus one outside account that shares an IP and the card.
"""

from datetime import timedelta

from detection.models import Account, AccountScore, Exchange
from detection.text import prompt_fingerprint
from tests.factories import (
    BASE_TIME,
    AccountFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    DetectionRunFactory,
)

HOSTILE = '<img src=x onerror="alert(1)">'
HOSTILE_UA = f"evil-bot/1.0 {HOSTILE}"
HOSTILE_ORG = f"org {HOSTILE}"
HOSTILE_MODEL = f"model-new{HOSTILE}"
TEMPLATE = "Solve step by step and show all reasoning <script>alert('x')</script> task {n}"
HOSTING_ASN = 14061
WINDOW_DAYS = 10


def make_campaign(n_accounts: int = 12, *, days: int = WINDOW_DAYS, per_day: int = 6):
    run = DetectionRunFactory(window_start=BASE_TIME, window_end=BASE_TIME + timedelta(days=days))
    campaign = CampaignFactory(label=f"Fleet {HOSTILE}", last_run=run)
    case = CaseFactory(campaign=campaign, last_run=run, account_count=n_accounts)
    registered = BASE_TIME - timedelta(days=3)
    accounts = []
    for i in range(n_accounts):
        account = AccountFactory(
            account_id=f"fleet-{i:03d}{HOSTILE if i == 0 else ''}",
            created_at=registered + timedelta(minutes=i),
            payment_fingerprint="card-abc",
            org_id=HOSTILE_ORG,
            email_domain=f"mail{HOSTILE}.example",
            plan="free" if i % 3 else "pro",
        )
        accounts.append(account)
        CaseAccountFactory(case=case, account=account)
    outsider = AccountFactory(account_id="outside-1", payment_fingerprint="card-abc")
    exchanges = []
    n = 0
    for day in range(days):
        model = "model-old" if day < days // 2 else HOSTILE_MODEL
        for a_index, account in enumerate(accounts):
            for k in range(per_day):
                # The fleet works one synchronised shift: 02:00-07:59 UTC.
                ts = BASE_TIME + timedelta(days=day, hours=2 + k, minutes=a_index)
                prompt = TEMPLATE.format(n=n) if k % 2 == 0 else f"Write code {HOSTILE} #{n}"
                exchanges.append(
                    Exchange(
                        exchange_id=f"ev-{n}",
                        account=account,
                        ts=ts,
                        ip=f"203.0.113.{(a_index + k) % 5 + 1}",
                        asn=HOSTING_ASN,
                        user_agent=HOSTILE_UA,
                        model=model,
                        prompt=prompt,
                        prompt_hash=prompt_fingerprint(prompt),
                        input_tokens=50,
                        output_tokens=900,
                        tool_use=k == 5,
                    )
                )
                n += 1
    exchanges.append(
        Exchange(
            exchange_id="ev-outside",
            account=outsider,
            ts=BASE_TIME + timedelta(days=1),
            ip="203.0.113.1",
            asn=HOSTING_ASN,
            user_agent="Mozilla/5.0",
            model="model-old",
            prompt="hello",
            prompt_hash=prompt_fingerprint("hello"),
            output_tokens=10,
        )
    )
    Exchange.objects.bulk_create(exchanges)
    AccountScore.objects.bulk_create(
        AccountScore(
            run=run,
            account=account,
            campaign=campaign,
            risk_score=0.9 - i * 0.01,
            flagged=True,
            signals=[
                {
                    "name": "reasoning_elicitation",
                    "value": 0.5,
                    "threshold": 0.25,
                    "norm": 0.03,
                    "contribution": 0.4,
                    "reason": f"50% of prompts ask for step-by-step reasoning {HOSTILE}",
                },
                {
                    "name": "exchange_volume",
                    "value": 60,
                    "threshold": 40,
                    "norm": 8,
                    "contribution": 0.2,
                    "reason": "60 exchanges; typical 8",
                },
            ],
        )
        for i, account in enumerate(accounts)
    )
    return case, accounts, outsider


def all_accounts():
    return Account.objects.all()
