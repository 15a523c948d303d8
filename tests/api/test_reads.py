"""Reading cases, campaigns, accounts and evidence: filters, keyset paging, one query count
whatever the page size."""

from cases.evidence.models import Evidence, EvidenceSnapshot
from cases.models import Case, Tag
from tests.cases.conftest import HOSTILE
from tests.factories import AccountFactory, AccountScoreFactory, CampaignFactory, CaseFactory

CASES = "/api/v1/cases/"


def test_cases_page_by_key_without_gaps_or_repeats(read_client, db):
    made = [CaseFactory(risk_score=0.5 + (n % 3) / 10) for n in range(7)]
    seen, cursor = [], ""
    while True:
        page = read_client.get(CASES, {"cursor": cursor, "limit": 3}).json()
        seen += [c["id"] for c in page["results"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
        CaseFactory(risk_score=0.99)  # a new case above the cursor is not read into the rest
    expected = sorted(made, key=lambda c: (-c.risk_score, -c.pk))
    assert seen == [c.pk for c in expected]


def test_case_filters_and_orderings(read_client, db):
    campaign = CampaignFactory()
    hot = CaseFactory(risk_score=0.95, campaign=campaign, status=Case.Status.TRIAGE)
    hot.tags.add(Tag.objects.create(name="reasoning"))
    CaseFactory(risk_score=0.4, status=Case.Status.DISMISSED)

    def ids(**query):
        response = read_client.get(CASES, query)
        assert response.status_code == 200, response.json()
        return [c["id"] for c in response.json()["results"]]

    assert ids(status="triage") == [hot.pk]
    assert ids(campaign=campaign.pk) == [hot.pk]
    assert ids(risk_min=0.9) == [hot.pk]
    assert ids(tag="reasoning") == [hot.pk]
    assert len(ids(ordering="id")) == 2 and ids(ordering="id")[0] < ids(ordering="id")[1]
    assert read_client.get(CASES, {"status": "nope"}).status_code == 400
    assert read_client.get(CASES, {"opened_after": "yesterday"}).status_code == 400
    assert read_client.get(CASES, {"ordering": "title"}).status_code == 400


def test_a_case_with_its_accounts_and_evidence_figures(read_client, make_case):
    case = make_case(accounts=2)
    detail = read_client.get(f"{CASES}{case.pk}/").json()
    assert detail["explanation"]["summary"] == "Fleet of look-alike accounts"
    assert detail["campaign"] == case.campaign_id
    accounts = read_client.get(f"{CASES}{case.pk}/accounts/").json()["results"]
    assert len(accounts) == 2
    assert read_client.get(f"{CASES}{case.pk}/evidence/").status_code == 404

    snapshot = EvidenceSnapshot.objects.create(case=case, account_count=2)
    Evidence.objects.create(
        snapshot=snapshot,
        kind="templates",
        source="telemetry",
        data={"with_prompt": 40, "share": 0.5, "samples": [{"text": "secret prompt"}]},
    )
    EvidenceSnapshot.objects.filter(pk=snapshot.pk).update(status="done")
    evidence = read_client.get(f"{CASES}{case.pk}/evidence/").json()
    assert evidence["sections"] == [
        {"kind": "templates", "source": "telemetry", "figures": {"with_prompt": 40, "share": 0.5}}
    ]
    assert read_client.get(f"{CASES}999999/").status_code == 404


def test_accounts_by_id_with_latest_score_signals_and_cases(read_client, make_case):
    case = make_case(accounts=1, explanation={})
    account = case.case_accounts.get().account
    AccountFactory(account_id="a/b?c", org_id=HOSTILE)
    listed = read_client.get("/api/v1/accounts/", {"org_id": HOSTILE}).json()["results"]
    assert [a["account_id"] for a in listed] == ["a/b?c"]
    assert listed[0]["org_id"] == HOSTILE and listed[0]["risk_score"] is None
    flagged = read_client.get("/api/v1/accounts/", {"flagged": "true"}).json()["results"]
    assert [a["account_id"] for a in flagged] == [account.account_id]

    detail = read_client.get(f"/api/v1/accounts/{account.account_id}/").json()
    assert detail["flagged"] is True and detail["cases"] == [case.pk]
    assert detail["signals"][0]["name"] == "reasoning_elicitation"
    assert read_client.get("/api/v1/accounts/a/b%3Fc/").json()["account_id"] == "a/b?c"
    assert read_client.get("/api/v1/accounts/nobody/").status_code == 404


def test_campaigns(read_client, db):
    active = CampaignFactory(is_active=True)
    CampaignFactory(is_active=False)
    listed = read_client.get("/api/v1/campaigns/", {"is_active": "true"}).json()["results"]
    assert [c["id"] for c in listed] == [active.pk]
    assert read_client.get(f"/api/v1/campaigns/{active.pk}/").json()["label"] == active.label


def test_lists_take_a_fixed_number_of_queries(read_client, db, django_assert_max_num_queries):
    for _ in range(30):
        case = CaseFactory()
        case.tags.add(Tag.objects.get_or_create(name="t")[0])
        AccountScoreFactory()
    with django_assert_max_num_queries(5):
        assert len(read_client.get(CASES, {"limit": 30}).json()["results"]) == 30
    with django_assert_max_num_queries(4):
        assert len(read_client.get("/api/v1/accounts/", {"limit": 30}).json()["results"]) == 30


def test_times_far_from_utc_and_made_up_cursors_are_answered_not_crashed(read_client, db):
    CaseFactory()
    # ISO 8601 allows offsets PostgreSQL refuses (past 15:59): read in UTC instead.
    far = read_client.get(CASES, {"opened_after": "0069-11-19T23:19:20-17:47"})
    assert far.status_code == 200 and len(far.json()["results"]) == 1
    edge = read_client.get(CASES, {"opened_after": "0001-01-01T00:00:00+01:00"})
    assert edge.status_code == 400
    made_up = read_client.get(
        CASES, {"ordering": "-opened_at", "cursor": "0069-01-01T00:00-17:47~5"}
    )
    assert made_up.status_code == 200
    assert read_client.get(CASES, {"statsu": "triage"}).status_code == 400
    assert read_client.get("/api/v1/nowhere\n").json() == {"detail": "no such endpoint"}
