"""The managers' overview: its numbers against hand-counted data, and where each one leads."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Case, EnforcementAction
from dashboard import selectors
from dashboard.selectors import Period
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    CaseFactory,
    DetectionRunFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
S = Case.Status
A = EnforcementAction.Status
K = EnforcementAction.Kind


def _action(case, kind, status, *, executed_days_ago=None, accounts=1, by=None):
    now = timezone.now()
    action = EnforcementAction.objects.create(
        case=case,
        kind=kind,
        status=status,
        reason="fleet",
        proposed_by=by or UserFactory(username="proposer"),
        executed_at=now - timedelta(days=executed_days_ago) if executed_days_ago else None,
    )
    action.accounts.add(*[AccountFactory() for _ in range(accounts)])
    return action


@pytest.fixture
def world(analyst):
    """Hand-built cases, actions, campaigns and a run; the expected numbers are in comments."""
    now = timezone.now()
    camp_a = CampaignFactory(label="Alpha", member_count=30, exchange_count=5000)
    camp_b = CampaignFactory(label="Bravo", member_count=12, exchange_count=900)
    CampaignFactory(label="Old", member_count=99, is_active=False)

    def case(title, status, priority, opened_days, *, due_hours=48, decided_days=None, **kw):
        opened = now - timedelta(days=opened_days)
        return CaseFactory(
            title=title,
            status=status,
            priority=priority,
            opened_at=opened,
            due_at=now + timedelta(hours=due_hours),
            decided_at=now - timedelta(days=decided_days) if decided_days is not None else None,
            **kw,
        )

    cases = {
        # open: 5; unassigned: 4; overdue: c1, c3; ages 3, 10, 20, 40, 1 days
        "c1": case(
            "c1",
            S.NEW,
            1,
            3,
            due_hours=-1,
            campaign=camp_a,
            traffic_share=0.05,
            account_count=7,
            exchange_count=700,
        ),
        "c2": case(
            "c2",
            S.TRIAGE,
            2,
            10,
            assignee=analyst,
            campaign=camp_a,
            traffic_share=0.02,
            account_count=3,
            exchange_count=300,
        ),
        "c3": case("c3", S.INVESTIGATING, 3, 20, due_hours=-5, campaign=camp_b, traffic_share=0.10),
        "c4": case("c4", S.PENDING_APPROVAL, 1, 40),
        "c5": case("c5", S.NEW, 3, 1),
        # closed: decided 10, 4 and 98 days after opening; c8 opened before the 12 weeks
        "c6": case("c6", S.ACTIONED, 2, 30, decided_days=20),
        "c7": case("c7", S.DISMISSED, 3, 9, decided_days=5),
        "c8": case("c8", S.DISMISSED, 4, 100, decided_days=2),
    }
    proposer = UserFactory(username="proposer")
    _action(cases["c6"], K.BAN, A.EXECUTED, executed_days_ago=20, accounts=2, by=proposer)
    _action(cases["c6"], K.BAN, A.REVERSED, executed_days_ago=19, by=proposer)
    _action(cases["c7"], K.SUSPEND, A.EXECUTED, executed_days_ago=5, by=proposer)
    _action(cases["c4"], K.BAN, A.PROPOSED, by=proposer)
    _action(cases["c8"], K.BAN, A.EXECUTED, executed_days_ago=200, by=proposer)  # before range
    _action(cases["c6"], K.REVERSE, A.EXECUTED, executed_days_ago=3, by=proposer)  # a reversal
    DetectionRunFactory(
        status="succeeded",
        started_at=now - timedelta(minutes=12),
        finished_at=now - timedelta(minutes=10),
        counts={"flagged_accounts": 42},
    )
    return cases


def test_backlog_numbers_match_the_data(world):
    now = timezone.now()
    b = selectors.backlog(Case.objects.all(), now=now)
    assert (b.open, b.unassigned, b.overdue) == (5, 4, 2)
    assert (b.accounts, b.exchanges) == (10, 1000)
    assert [band.count for band in b.bands] == [2, 1, 1, 1]
    assert b.matrix == {
        (S.NEW, 1): 1,
        (S.NEW, 3): 1,
        (S.TRIAGE, 2): 1,
        (S.INVESTIGATING, 3): 1,
        (S.PENDING_APPROVAL, 1): 1,
    }
    assert b.oldest == world["c4"].opened_at


def test_flow_counts_weeks_and_the_median_time_to_decision(world):
    today = timezone.localdate()
    period = Period.default(today)
    f = selectors.flow(Case.objects.all(), period)
    assert (f.opened, f.closed, f.decisions) == (7, 3, 3)
    assert f.median_to_decision == timedelta(days=10)
    assert sum(w.opened for w in f.weeks) == 7
    assert sum(w.closed for w in f.weeks) == 3
    assert f.weeks[0].first_day == period.start and f.weeks[-1].last_day == today
    assert all(w.start.weekday() == 0 for w in f.weeks)
    # A narrower range: only the last week.
    recent = selectors.flow(Case.objects.all(), Period(today - timedelta(days=6), today))
    assert (recent.opened, recent.closed) == (2, 2)
    assert recent.median_to_decision == timedelta(days=51)  # c7 (4 days) and c8 (98)


def test_enforcement_counts_what_went_out_in_the_range(world):
    e = selectors.enforcement(Period.default(timezone.localdate()))
    assert (e.bans, e.bans_reversed) == (2, 1)
    assert (e.other, e.other_reversed) == (1, 0)
    assert e.accounts == 3  # two on the standing ban, one suspended
    assert e.cases == 2
    assert e.pending_approval == 1


def test_campaigns_show_accounts_and_share_of_traffic(world):
    c = selectors.campaigns()
    assert (c.active, c.accounts) == (2, 42)
    assert c.traffic_share == pytest.approx(0.17)
    assert [(x.label, round(x.share, 4), x.open_cases) for x in c.top] == [
        ("Bravo", 0.10, 1),
        ("Alpha", 0.07, 2),
    ]


def test_detection_health(world):
    now = timezone.now()
    assert selectors.detection_health(now=now).state == "ok"
    assert selectors.detection_health(now=now + timedelta(days=1)).state == "stale"
    DetectionRunFactory(status="failed", error="boom")
    health = selectors.detection_health(now=now)
    assert health.state == "failed" and health.last_success.status == "succeeded"


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(9.712528, "9.7 s"), (245, "4 min 05 s"), (3720, "1 h 02 min"), (59.96, "1 min 00 s")],
)
def test_a_run_duration_reads_as_people_say_it(seconds, said):
    health = selectors.RunHealth(None, None, "ok", "", timedelta(seconds=seconds))
    assert health.took == said


def test_telemetry_size_is_an_estimate_on_postgresql(world):
    size = selectors.telemetry_size()
    if connection.vendor == "postgresql":
        assert size.estimated is True
    else:
        assert size.accounts >= 1


def _href(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*href="([^"]+)"', html) or re.search(
        rf'href="([^"]+)"[^>]*id="{element_id}"', html
    )
    assert match, element_id
    return unescape(match.group(1))


def _stat(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*><span class="n">([^<]*)</span>', html)
    assert match, element_id
    return match.group(1)


def test_the_page_shows_the_numbers_and_each_links_to_its_cases(manager_client, world):
    response = manager_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert _stat(html, "stat-open") == "5"
    assert _stat(html, "stat-unassigned") == "4"
    assert _stat(html, "stat-overdue") == "2"
    assert _stat(html, "stat-opened") == "7"
    assert _stat(html, "stat-closed") == "3"
    assert _stat(html, "stat-median") == "10.0 d"
    assert _stat(html, "stat-bans") == "2"
    assert _stat(html, "stat-reversed") == "1"
    today = timezone.localdate()
    start = Period.default(today).start
    assert _href(html, "stat-open") == "/cases/?status=open"
    assert _href(html, "stat-unassigned") == "/cases/?status=open&assignee=none"
    assert _href(html, "stat-overdue") == "/cases/?status=open&overdue=1"
    assert _href(html, "stat-opened") == (
        f"/cases/?status=any&opened_after={start.isoformat()}&opened_before={today.isoformat()}"
    )
    assert _href(html, "stat-closed") == (
        f"/cases/?status=any&decided_after={start.isoformat()}&decided_before={today.isoformat()}"
    )
    # The status x priority matrix: each cell's number and its link.
    assert 'href="/cases/?status=new&amp;priority=1">1</a>' in html
    assert 'href="/cases/?status=triage&amp;priority=2">1</a>' in html
    assert 'href="/cases/?status=triage&amp;priority=1">0</a>' in html
    assert 'href="/cases/?status=open&amp;priority=1"><strong>2</strong>' in html
    # Age bands link to open cases opened on those days.
    week_ago = today - timedelta(days=6)
    assert f'href="/cases/?status=open&amp;opened_after={week_ago.isoformat()}">2</a>' in html
    # Campaigns link to their cases.
    camp = world["c3"].campaign
    assert re.search(
        rf'href="/cases/\?campaign={camp.pk}&amp;status=any">[^<]*(<[^>]*>)?Bravo', html
    )
    assert f'href="/cases/?campaign={camp.pk}&amp;status=open">1</a>' in html
    # Charts: plotly served from our static files, each figure in a json_script with a caption.
    assert "/static/vendor/plotly-cartesian-4.1.1.min.js" in html
    for chart in ("status", "age", "flow", "campaigns"):
        assert f'data-chart="chart-{chart}-data"' in html
        assert f'<script id="chart-{chart}-data" type="application/json">' in html
    assert html.count("<figcaption") == 4


def _queue_ids(client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    return {int(pk) for pk in re.findall(r'data-href="/cases/(\d+)/"', response.content.decode())}


@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        ("stat-open", {"c1", "c2", "c3", "c4", "c5"}),
        ("stat-unassigned", {"c1", "c3", "c4", "c5"}),
        ("stat-pending", {"c4"}),
    ],
)
def test_following_a_number_shows_exactly_the_cases_it_counts(
    manager_client, world, stat, expected
):
    html = manager_client.get("/").content.decode()
    assert _queue_ids(manager_client, _href(html, stat)) == {world[k].pk for k in expected}


def _queue_understands(*params: str) -> bool:
    """Whether the queue's FilterSet declares these parameters (a date range filter named
    ``opened`` answers ``opened_after`` and ``opened_before``)."""
    from cases.filters import CaseFilter

    names = set(CaseFilter.base_filters)
    return all(p in names or p.rsplit("_", 1)[0] in names for p in params)


# The queue's overdue and date filters belong to the console work (cases/filters.py); until
# they exist these links cannot filter, and the test says so instead of passing.
DATE_FILTERS = ("overdue", "opened_after", "opened_before", "decided_after", "decided_before")


@pytest.mark.xfail(
    not _queue_understands(*DATE_FILTERS),
    reason="cases/filters.py has no overdue / opened_* / decided_* filters yet",
    strict=True,
)
@pytest.mark.parametrize(
    ("stat", "expected"),
    [
        ("stat-overdue", {"c1", "c3"}),
        ("stat-opened", {"c1", "c2", "c3", "c4", "c5", "c6", "c7"}),
        ("stat-closed", {"c6", "c7", "c8"}),
    ],
)
def test_date_and_overdue_links_filter_the_queue(manager_client, world, stat, expected):
    """Needs the queue's ``overdue`` and ``opened_*``/``decided_*`` filters (cases/filters.py)."""
    html = manager_client.get("/").content.decode()
    assert _queue_ids(manager_client, _href(html, stat)) == {world[k].pk for k in expected}


def test_the_date_range_narrows_the_flow_figures(manager_client, world, htmx_headers):
    today = timezone.localdate()
    start = today - timedelta(days=6)
    response = manager_client.get(
        "/", {"start": start.isoformat(), "end": today.isoformat()}, headers=htmx_headers
    )
    html = response.content.decode()
    assert "<html" not in html and 'id="overview-body"' in html
    assert _stat(html, "stat-opened") == "2"
    assert _stat(html, "stat-closed") == "2"
    assert _stat(html, "stat-open") == "5"  # "now" figures ignore the range
    assert "HX-Request" in response["Vary"]


def test_a_reversed_range_is_refused_and_the_default_shown(manager_client, world):
    html = manager_client.get("/", {"start": "2026-10-10", "end": "2026-10-01"}).content.decode()
    assert "The start date is after the end date." in html
    assert _stat(html, "stat-opened") == "7"
    assert manager_client.get("/", {"start": "not a date"}).status_code == 200


def test_hostile_campaign_labels_are_escaped(manager_client, world):
    CampaignFactory(label='<img src=x onerror=alert(1)>"', member_count=1)
    html = manager_client.get("/").content.decode()
    assert "<img src=x" not in html


def test_no_role_sees_no_numbers(outsider_client, world):
    html = outsider_client.get("/").content.decode()
    assert "no role yet" in html and "stat-open" not in html and "plotly" not in html


def test_the_query_count_does_not_grow_with_the_data(manager_client, world):
    manager_client.get("/")  # warm the session and permission caches alike
    with CaptureQueriesContext(connection) as small:
        manager_client.get("/")
    for i in range(15):
        camp = CampaignFactory(label=f"More {i}")
        CaseFactory(campaign=camp, traffic_share=0.01, status=S.TRIAGE, priority=1 + i % 4)
        _action(
            CaseFactory(status=S.ACTIONED, decided_at=timezone.now()),
            K.BAN,
            A.EXECUTED,
            executed_days_ago=1,
        )
    with CaptureQueriesContext(connection) as large:
        manager_client.get("/")
    assert len(large) == len(small)
    assert len(small) <= 20
