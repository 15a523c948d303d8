"""The API against its own served schema, by schemathesis: every operation, with generated
parameters and bodies (valid and invalid), on a database with cases, accounts, decisions and a
pushed batch in it. No answer may be a 5xx or differ from what the schema says.

A bounded number of examples per operation keeps the run short in CI; raise ``EXAMPLES``
(or set ``API_FUZZ_EXAMPLES``) for a longer hunt."""

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from api import services
from cases.enforcement.services import action_decide, action_propose, outbox_deliver
from cases.evidence.models import Evidence, EvidenceSnapshot
from dashboard.wsgi import application
from tests.detection.test_ingest_support import account_row
from tests.factories import enforcement_terms

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))


# The schema as the app serves it (no database is read to serve it).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def connection_kept(db):
    # Called straight through WSGI, the app would close the test's database connection at
    # the end of each request; Django's own test client holds these signals back the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def full_token(connection_kept, make_case, analyst, approver, admin_user, settings):
    """A token with every scope, on a database where every endpoint has something to say,
    and no rate limit (the examples would otherwise end in 429s, tests/api/test_throttling.py)."""
    settings.API_THROTTLE_RATES = {}
    case = make_case(accounts=3)
    snapshot = EvidenceSnapshot.objects.create(case=case, account_count=3)
    Evidence.objects.create(
        snapshot=snapshot, kind="traffic", source="telemetry", data={"exchanges": 10}
    )
    EvidenceSnapshot.objects.filter(pk=snapshot.pk).update(status="done")
    action = action_propose(
        **enforcement_terms(), case=case, by=analyst, kind="ban", reason="fleet"
    )
    action_decide(action=action, by=approver, approve=True, comment="ok")
    outbox_deliver(message_id=action.outbox.get(backend="banlist").pk)
    token, plain = services.token_create(
        name="fuzz", scopes=["ingest", "read", "decide"], expires_at=None, by=admin_user
    )
    services.batch_push(
        token=token, kind="accounts", records=[account_row(1)], idempotency_key="", body_digest=""
    )
    return plain


def map_query(ctx, query):
    """A cursor is a value the API handed out (its ``next_cursor``), not any string: the
    generated ones are dropped (tests/api/test_feeds.py and test_reads.py page with real ones,
    and check that a made-up cursor is refused)."""
    if query:
        query.pop("cursor", None)
    return query


@schema.hooks.apply(map_query)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_schema(case, full_token):
    # Every check but one: negative_data_rejection expects any request the schema does not
    # describe to be refused, but the token is added to every request here (so a case meant
    # to go without it still carries it), and an empty filter value is ignored, as in the
    # console's own filter forms. Unknown parameters are refused (tests/api/test_reads.py).
    excluded = [schemathesis.checks.negative_data_rejection]
    if case.operation.path == "/api/v1/flags/":
        # Whether a flag can be recorded depends on what is held (the account must be known,
        # the value must read as its kind), which no schema can say: such refusals are 400s
        # the schema describes, and tests/api/test_flags.py checks each of them.
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {full_token}"}, excluded_checks=excluded
    )
