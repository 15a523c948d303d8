"""The selectors that join, aggregate or annotate: each answers what the plain path (a model's
own relations, ``cases_mergeable_into``) answers, and the queue's reads use its indexes."""

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from cases.models import Case, Tag
from cases.selectors import (
    case_accounts_table_rows,
    case_for_accounts,
    case_for_page,
    cases_mergeable_into,
    queue_rows,
)
from tests.factories import (
    AccountFactory,
    AccountScoreFactory,
    CampaignFactory,
    CaseAccountFactory,
    CaseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_the_open_cases_index_is_the_queue_s_open_filter():
    (index,) = [i for i in Case._meta.indexes if i.name == "case_open_risk_id_idx"]
    assert index.condition == ~Q(status__in=Case.CLOSED_STATUSES)
    assert connection.vendor == "postgresql"
    # A queue as it ages: most cases closed, and statistics to plan by (on an empty table
    # never analysed, the planner may take either index of the same columns).
    statuses = [Case.Status.DISMISSED] * 8 + [Case.Status.ACTIONED, Case.Status.TRIAGE]
    Case.objects.bulk_create(
        CaseFactory.build(status=statuses[i % 10], subject_key=f"bulk:{i}") for i in range(1000)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Case._meta.db_table}")
    query = Case.objects.open().order_by("-risk_score", "-id").values_list("risk_score", "id")
    sql, params = query[49:50].query.sql_with_params()
    with connection.cursor() as cursor:
        # The planner may prefer the table for a handful of rows; without that choice, the
        # typed page's key read must be able to use the index (its condition implied).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "case_open_risk_id_idx" in plan


def test_my_open_cases_read_the_assignee_s_open_cases_index(analyst):
    (index,) = [i for i in Case._meta.indexes if i.name == "case_assignee_open_risk_idx"]
    assert index.condition == ~Q(status__in=Case.CLOSED_STATUSES)
    assert connection.vendor == "postgresql"
    # A team's queue: twenty analysts, most of their cases closed, and statistics to plan by.
    users = [analyst, *UserFactory.create_batch(19)]
    statuses = [Case.Status.DISMISSED] * 8 + [Case.Status.ACTIONED, Case.Status.TRIAGE]
    Case.objects.bulk_create(
        CaseFactory.build(assignee=user, status=statuses[i // 20 % 10], subject_key=f"bulk:{i}")
        for i, user in enumerate(users * 50)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Case._meta.db_table}")

    def plan_of(query) -> str:
        sql, params = (
            query.order_by("-risk_score", "-id").values_list("id")[:51].query.sql_with_params()
        )
        with connection.cursor() as cursor:
            # No table scans and no sorts: which index gives the page in the queue's order.
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                cursor.execute(f"SET LOCAL {setting} = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())

    # Down the open cases' index, with no status left to test.
    plan = plan_of(Case.objects.open().assigned_to(analyst))
    assert "case_assignee_open_risk_idx" in plan and "status" not in plan and "Sort" not in plan
    # Any status: the whole assignee index, still in order.
    plan = plan_of(Case.objects.assigned_to(analyst))
    assert "case_assignee_risk_idx" in plan and "Sort" not in plan


def test_case_for_page_reads_tags_in_name_order_and_the_merge_check(analyst):
    campaign = CampaignFactory()
    case = CaseFactory(campaign=campaign)
    for name in ("zeta", "alpha", "mid-fleet", "b_2"):
        case.tags.add(Tag.objects.get_or_create(name=name)[0])
    CaseFactory(campaign=campaign).tags.add(Tag.objects.get_or_create(name="other")[0])
    page = case_for_page(analyst, case.pk)
    assert page.tag_names == list(case.tags.order_by("name").values_list("name", flat=True))
    assert page.assignee_id is None and page.campaign.label == campaign.label
    assert case_for_page(analyst, CaseFactory().pk).tag_names == []


def test_case_for_page_says_what_cases_mergeable_into_says(analyst):
    campaign = CampaignFactory()
    alone = CaseFactory(campaign=CampaignFactory())
    keep = CaseFactory(campaign=campaign)
    sibling = CaseFactory(campaign=campaign)
    merged = CaseFactory(campaign=campaign, merged_into=keep)
    no_campaign = CaseFactory(campaign=None)
    other_no_campaign = CaseFactory(campaign=None)
    for case in (alone, keep, sibling, merged, no_campaign, other_no_campaign):
        expected = cases_mergeable_into(case, analyst).exists()
        assert case_for_page(analyst, case.pk).has_mergeable is expected, case
    assert case_for_page(analyst, keep.pk).has_mergeable
    assert not case_for_page(analyst, alone.pk).has_mergeable
    assert not case_for_page(analyst, no_campaign.pk).has_mergeable


def test_case_selectors_refuse_users_who_may_not_see_cases(roles):
    outsider = UserFactory()
    case = CaseFactory()
    with pytest.raises(Case.DoesNotExist):
        case_for_page(outsider, case.pk)
    with pytest.raises(Case.DoesNotExist):
        case_for_accounts(outsider, case.pk)


def test_the_accounts_rows_read_what_the_orm_would(analyst, analyst2):
    case = CaseFactory(account_count=3)
    elsewhere = CaseFactory()
    gone = CaseFactory()
    merged = CaseFactory(merged_into=elsewhere)
    links = []
    for i in range(3):
        account = AccountFactory(email_domain=f"d{i}.example")
        links.append(CaseAccountFactory(case=case, account=account, risk_score=0.5 + i / 10))
        AccountScoreFactory(account=account, exchange_count=99, signals=[{"name": "older"}])
        AccountScoreFactory(account=account, exchange_count=10 + i, signals=[{"name": f"s{i}"}])
    # The latest score is the one of the latest run.
    newest = AccountScoreFactory(account=links[0].account, exchange_count=1234)
    # Other live cases count; removed links and merged cases do not.
    CaseAccountFactory(case=elsewhere, account=links[0].account)
    CaseAccountFactory(case=merged, account=links[0].account)
    CaseAccountFactory(case=gone, account=links[0].account, removed_at=timezone.now())
    links[1].added_by = analyst
    links[1].save()
    links[2].removed_at, links[2].removed_by, links[2].removed_reason = (
        timezone.now(),
        analyst2,
        "a customer",
    )
    links[2].save()
    current = {row.pk: row for row in case_accounts_table_rows(case)}
    assert set(current) == {links[0].pk, links[1].pk}
    first = current[links[0].pk]
    assert first.volume == 1234 and first.signals == newest.signals and first.other_cases == 1
    assert current[links[1].pk].volume == 11 and current[links[1].pk].other_cases == 0
    assert current[links[1].pk].added_by_name == "ana" and first.added_by_name is None
    (removed,) = case_accounts_table_rows(case, removed=True)
    assert removed.pk == links[2].pk and removed.removed_by_name == "alex"
    assert removed.account.email_domain == "d2.example"
    # Sorted by what the table sorts by, annotations included.
    by_volume = [row.pk for row in case_accounts_table_rows(case).order_by("-volume", "id")]
    assert by_volume == [links[0].pk, links[1].pk]
    page = case_for_accounts(analyst, case.pk)
    assert page.removed_account_count == 1 and page.account_count == 3
    assert case_for_accounts(analyst, elsewhere.pk).removed_account_count == 0


def test_the_queue_rows_read_what_a_row_shows_and_not_the_explanation(analyst):
    campaign = CampaignFactory(label="fleet")
    CaseFactory(campaign=campaign, assignee=analyst, explanation={"summary": "big"})
    (row,) = queue_rows(analyst)
    assert row.get_deferred_fields() >= {"explanation"}
    assert row.campaign.label == "fleet" and row.assignee.username == analyst.username
    assert queue_rows(UserFactory()).count() == 0
