"""factory_boy factories for every model the tests build by hand."""

from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from cases.models import Case, CaseAccount, Note
from detection.models import (
    Account,
    AccountScore,
    Campaign,
    DetectionConfig,
    DetectionRun,
    Exchange,
)

BASE_TIME = datetime(2026, 10, 1, tzinfo=UTC)
PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))
        if create:
            self.save()


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    account_id = factory.Sequence(lambda n: f"acct-{n:06d}")
    created_at = factory.Sequence(lambda n: BASE_TIME - timedelta(days=30, minutes=n))
    email_domain = "example.com"
    plan = "pro"
    country = "GB"


class ExchangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exchange

    exchange_id = factory.Sequence(lambda n: f"ex-{n:09d}")
    account = factory.SubFactory(AccountFactory)
    ts = factory.Sequence(lambda n: BASE_TIME + timedelta(minutes=n))
    ip = factory.Sequence(lambda n: f"198.51.100.{n % 250 + 1}")
    asn = 64500
    user_agent = "python-requests/2.32"
    model = "model-large-2"
    prompt = factory.Sequence(lambda n: f"Prompt number {n}")
    input_tokens = 100
    output_tokens = 400
    tool_use = False


class DetectionConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DetectionConfig
        django_get_or_create = ("version",)

    version = 1
    reason = "initial"


class DetectionRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DetectionRun

    config = factory.SubFactory(DetectionConfigFactory)
    status = DetectionRun.Status.SUCCEEDED


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    label = factory.Sequence(lambda n: f"Campaign {n}")
    member_count = 10
    risk_score = 0.9


class AccountScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountScore

    run = factory.SubFactory(DetectionRunFactory)
    account = factory.SubFactory(AccountFactory)
    risk_score = 0.8
    flagged = True
    signals = factory.LazyFunction(
        lambda: [
            {
                "name": "reasoning_elicitation",
                "value": 0.62,
                "threshold": 0.25,
                "norm": 0.03,
                "contribution": 0.4,
                "reason": "62% of prompts ask for full step-by-step reasoning; typical: 3%",
            }
        ]
    )


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    title = factory.Sequence(lambda n: f"Campaign case {n}")
    subject_key = factory.Sequence(lambda n: f"campaign:{n}")
    risk_score = 0.85
    account_count = 0


class CaseAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseAccount

    case = factory.SubFactory(CaseFactory)
    account = factory.SubFactory(AccountFactory)
    risk_score = 0.8


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    case = factory.SubFactory(CaseFactory)
    author = factory.SubFactory(UserFactory)
    body = "Looks like a fleet."


def ensure_reason_codes() -> None:
    """The starting reason codes: a transactional test's flush removes the migration's rows."""
    from cases.labels.models import STARTING_REASON_CODES, ReasonCode

    for position, (code, label, outcome) in enumerate(STARTING_REASON_CODES):
        ReasonCode.objects.get_or_create(
            code=code, defaults={"label": label, "outcome": outcome, "position": position * 10}
        )


def enforcement_terms() -> dict:
    """The policy and violation category every proposal names. A migration seeds them;
    tests on a flushed database (``transaction=True``) get them back here."""
    from cases.models import Policy, ViolationCategory

    policy, _ = Policy.objects.get_or_create(
        code="usage-distillation", defaults={"name": "Usage policy: no distillation"}
    )
    category, _ = ViolationCategory.objects.get_or_create(
        code="output-harvesting", defaults={"name": "Output harvesting for distillation"}
    )
    return {"policy": policy, "category": category}


def enforcement_terms_form() -> dict:
    """The same, as the proposal form posts them (a permanent action)."""
    terms = enforcement_terms()
    return {"policy": terms["policy"].pk, "category": terms["category"].pk, "length": "permanent"}


def write_reach(run: DetectionRun, *, chunks: int = 1) -> dict:
    """Store ``run``'s reach as its finalise step does, from its window's exchanges read in
    ``chunks`` chunks of accounts (``detection.reach``)."""
    import tempfile
    from pathlib import Path

    from detection.reach import ReachParts, chunk_reach, value_reach_write
    from detection.services import load_exchanges

    with tempfile.TemporaryDirectory() as spill:
        parts = ReachParts(Path(spill), rows=Exchange.objects.count())
        if run.window_start is not None:
            accounts = sorted(
                Exchange.objects.filter(ts__gte=run.window_start, ts__lt=run.window_end)
                .values_list("account_id", flat=True)
                .distinct()
            )
            size = -(-len(accounts) // chunks) if accounts else 1
            for i in range(0, len(accounts), size):
                piece = accounts[i : i + size]
                ex = load_exchanges(piece[0], piece[-1], run.window_start, run.window_end)
                parts.add(chunk_reach(ex))
        return value_reach_write(run, parts)
