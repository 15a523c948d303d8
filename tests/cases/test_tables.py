"""Every orderable column sorts, both ways, through the real view."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from cases.tables import CaseAccountTable, CaseTable
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def sort_key(value):
    # PostgreSQL puts NULLs last ascending (first descending); mirror that.
    return (value is None, value if value is not None else 0)


def rows_of(response):
    table = response.context["table"]
    return [row.record for row in table.paginated_rows], table


@pytest.fixture
def queue_data(roles):
    users = [UserFactory(username=n, roles=["analyst"]) for n in ("zed", "amy")]
    for i in range(6):
        CaseFactory(
            title=f"case {'fedcba'[i]}",
            risk_score=0.1 * (i % 4),
            campaign=CampaignFactory(label=f"camp {i % 3}") if i % 5 else None,
            account_count=(i * 7) % 5,
            exchange_count=(i * 13) % 7,
            status=["new", "triage", "investigating", "dismissed", "actioned", "new"][i],
            priority=1 + i % 4,
            assignee=users[i % 2] if i % 3 else None,
            opened_at=NOW - timedelta(days=i * 3 % 5),
            decided_at=NOW - timedelta(days=i) if i in (3, 4) else None,
        )


@pytest.mark.parametrize("column", [c.name for c in CaseTable([]).columns if c.orderable])
@pytest.mark.parametrize("descending", [False, True])
def test_every_queue_column_sorts(analyst_client, queue_data, column, descending):
    sort = f"-{column}" if descending else column
    response = analyst_client.get(f"/cases/?status=any&sort={sort}")
    assert response.status_code == 200
    records, table = rows_of(response)
    assert len(records) == 6
    order_by = table.columns[column].order_by  # e.g. ("-risk_score", "-id") when descending
    values = []
    for record in records:
        key = []
        for field in order_by:
            obj = record
            for part in field.lstrip("-").split("__"):
                obj = getattr(obj, part) if obj is not None else None
            key.append(obj)
        values.append(key)
    expected = values[:]
    for index in reversed(range(len(order_by))):
        expected.sort(
            key=lambda k, i=index: sort_key(k[i]), reverse=order_by[index].startswith("-")
        )
    assert values == expected, (column, values)


def test_the_sort_columns_cover_what_analysts_triage_by():
    orderable = {c.name for c in CaseTable([]).columns if c.orderable}
    assert {
        "risk",
        "campaign",
        "accounts",
        "exchanges",
        "status",
        "priority",
        "assignee",
        "age",
        "due",
    } <= orderable


@pytest.mark.parametrize("column", [c.name for c in CaseAccountTable([]).columns if c.orderable])
@pytest.mark.parametrize("descending", [False, True])
def test_every_account_column_sorts(analyst_client, column, descending):
    case = CaseFactory()
    for i in range(5):
        account = AccountFactory(
            account_id=f"acct-{'qwert'[i]}",
            plan=["pro", "free", "team", "api", "enterprise"][i],
            email_domain=f"{'zyxwv'[i]}.example",
            created_at=NOW - timedelta(days=(i * 3) % 5),
        )
        CaseAccountFactory(case=case, account=account, risk_score=(i * 2 % 5) / 10)
        AccountScoreFactory(account=account, exchange_count=(i * 4) % 5 * 100)
        if i % 2:
            CaseAccountFactory(account=account)
    sort = f"-{column}" if descending else column
    response = analyst_client.get(f"/cases/{case.pk}/accounts/?sort={sort}")
    records, table = rows_of(response)
    assert len(records) == 5
    order_by = table.columns[column].order_by
    values = []
    for record in records:
        key = []
        for field in order_by:
            obj = record
            for part in field.lstrip("-").split("__"):
                obj = getattr(obj, part)
            key.append(obj)
        values.append(key)
    expected = values[:]
    for index in reversed(range(len(order_by))):
        expected.sort(
            key=lambda k, i=index: sort_key(k[i]), reverse=order_by[index].startswith("-")
        )
    assert values == expected, (column, values)
    assert len({tuple(v[:1]) for v in values}) > 1  # the data really differs on this column


def test_queue_row_knows_its_case_for_the_keyboard(analyst_client):
    case = CaseFactory()
    content = analyst_client.get("/cases/").content.decode()
    assert f'data-href="/cases/{case.pk}/"' in content
    assert f'data-assign-url="/cases/{case.pk}/assign/"' in content
    assert Case.objects.count() == 1


def test_long_hostile_titles_and_labels_are_clipped_with_all_of_it_on_hover(analyst_client):
    from html import escape

    payload = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    title = (payload + " a very long case title") * 3  # 234 characters
    label = payload + " campaign label"
    case = CaseFactory(title=title, campaign=CampaignFactory(label=label))
    short = CaseFactory(title="short & plain", campaign=None)
    content = analyst_client.get("/cases/").content.decode()
    assert "<script>" not in content and "<img src=x" not in content

    cut = escape(title[:119] + "…")
    assert f'<a class="row-link" href="/cases/{case.pk}/" title="{escape(title)}">' in content
    assert f"#{case.pk} {cut}</a>" in content
    assert f' title="{escape(label)}">{escape(label[:39] + "…")}</a>' in content
    # Short text is shown whole, with no title to hover.
    assert f'<a class="row-link" href="/cases/{short.pk}/">#{short.pk} short &amp; plain</a>' in (
        content
    )
