"""The summary card says the case in plain words, and every figure it shows is the one the
sections below show: the same values, read once."""

import re
from collections import defaultdict
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseAccount
from cases.summary import case_summary
from detection.models import Account
from tests.factories import AccountFactory, CampaignFactory

pytestmark = pytest.mark.django_db
FIGURE = re.compile(r'data-figure="([^"]+)"[^>]*>([^<]*)<')


def _signal(name, value, norm, contribution):
    return {
        "name": name,
        "value": value,
        "threshold": 0.25,
        "norm": norm,
        "contribution": contribution,
        "reason": f"{name} reason",
    }


@pytest.fixture
def case(make_case):
    campaign = CampaignFactory(
        label="Reasoning extraction via templated prompts",
        evidence={"links": {"payment": 412, "ip": 37, "template": 5, "odd": "x"}},
    )
    case = make_case(
        accounts=5,
        campaign=campaign,
        exchange_count=8030,
        traffic_share=0.0803,
        explanation={
            "summary": "5 accounts with no organisation or company domain in common linked by "
            "412 shared-card pairs",
            "signals": [
                _signal("reasoning_elicitation", 0.89, 0.0588, 0.4),
                _signal("prompt_templating", 0.93, 0.176, 0.3),
                _signal("output_harvesting", 0.5, 0.6, 0.1),  # below its norm: no harvest
                "junk",
            ],
        },
    )
    AccountFactory.create_batch(2, org_id="org-0")  # org-0 is shared: one look-alike
    old = CaseAccount.objects.get(case=case, account__org_id="org-4").account
    old.created_at, old.plan = timezone.now() - timedelta(days=365), "team"
    old.save()
    return case


def _figures(client, case) -> dict[str, set[str]]:
    """Every figure shown on the case page and its sections, with the values each shows."""
    pages = [reverse("cases:case_detail", args=[case.pk])]
    pages += [reverse(f"cases:case_{name}", args=[case.pk]) for name in ("why", "accounts")]
    seen = defaultdict(list)
    for url in pages:
        html = client.get(url, headers={"HX-Request": "true"} if url != pages[0] else {})
        for name, value in FIGURE.findall(html.content.decode()):
            seen[name].append(value.strip())
    return seen


def test_the_summary_reads_the_case_in_words(case):
    summary = case_summary(case)
    assert summary.name == "Reasoning extraction via templated prompts"
    assert summary.accounts == 5 and summary.lookalikes == 2
    assert summary.organisations == 5 and summary.without_organisation == 0
    assert [h.name for h in summary.harvests] == ["reasoning_elicitation"]
    assert [t.words for t in summary.ties] == [
        "412 shared-card pairs",
        "37 shared-address pairs",
        "5 accounts sharing prompt templates",
    ]


def test_every_figure_the_summary_shows_is_the_sections_figure(analyst_client, case):
    seen = _figures(analyst_client, case)
    for name in (
        "accounts",
        "lookalikes",
        "signal-reasoning_elicitation-value",
        "signal-reasoning_elicitation-norm",
    ):
        assert len(seen[name]) >= 2, f"{name} is shown in one place only: {seen[name]}"
    disagree = {name: values for name, values in seen.items() if len(set(values)) > 1}
    assert disagree == {}
    assert seen["accounts"][0] == "5" and seen["lookalikes"][0] == "2"
    assert seen["signal-reasoning_elicitation-norm"][0] == "0.0588"
    assert seen["traffic-share"] == ["8.03%"]


def test_the_summary_says_so_when_no_organisation_is_declared(analyst_client, case):
    Account.objects.filter(case_links__case=case).update(org_id="")
    html = analyst_client.get(
        reverse("cases:case_summary", args=[case.pk]), headers={"HX-Request": "true"}
    )
    text = html.content.decode()
    assert "none declared" in text and 'data-figure="organisations"' not in text
    assert 'id="case-summary"' in text and "<html" not in text


def test_the_summary_fragment_is_refused_to_outsiders(outsider_client, case):
    url = reverse("cases:case_summary", args=[case.pk])
    assert outsider_client.get(url).status_code == 403


def test_signal_names_are_words_on_the_page(analyst_client, case):
    html = analyst_client.get(reverse("cases:case_why", args=[case.pk])).content.decode()
    assert "Asks for step-by-step reasoning" in html
    assert ">reasoning_elicitation<" not in html


def test_the_traffic_share_is_the_one_a_proposal_would_freeze(case, analyst):
    from cases.enforcement.services import blast_radius_for
    from cases.services.accounts import case_accounts_add
    from detection.models import AccountScore, DetectionRun
    from tests.factories import AccountScoreFactory

    run = DetectionRun.objects.get(
        pk=AccountScore.objects.filter(account__case_links__case=case).first().run_id
    )
    DetectionRun.objects.filter(pk__in=AccountScore.objects.values("run_id")).update(
        counts={"exchanges": 12_345}
    )
    added = AccountFactory(account_id="widened-1")
    AccountScoreFactory(account=added, run=run, exchange_count=700)
    case_accounts_add(case=case, accounts=[added], by=analyst, reason="Shares the card")
    case.refresh_from_db()
    live = list(
        CaseAccount.objects.filter(case=case, removed_at__isnull=True).values_list(
            "account", flat=True
        )
    )
    blast = blast_radius_for(case, live)
    summary = case_summary(case)
    assert summary.accounts == 6
    assert summary.exchanges == blast["exchange_count"]
    assert summary.traffic_share == blast["traffic_share"]


def test_why_evidence_and_shares_chart_show_one_figure_per_signal(analyst_client):
    """Members on three plans (three norms): the Why row, the evidence's signal table and the
    shares chart give the same median and typical value, and the reason quoted beside them
    is a member's whose plan norm is that typical value, not another plan's."""
    from cases.evidence.services import evidence_figures, evidence_snapshot_collect
    from cases.models import EvidenceSnapshot
    from cases.summary import case_signals
    from dashboard.pipeline import campaign_explanation
    from detection.models import AccountScore
    from tests.cases.test_evidence_fixtures import make_campaign

    case, accounts, _ = make_campaign(6, days=2)
    # The members nearest the median value (0.74, 0.76) and the strongest one (the last)
    # are on plans whose norms are not the median norm (0.06).
    plan_norms = [0.06, 0.06, 0.04, 0.5, 0.06, 0.04]
    for i, account in enumerate(accounts):
        value = 0.7 + 0.02 * i
        AccountScore.objects.filter(account=account).update(
            signals=[
                {
                    "name": "reasoning_elicitation",
                    "value": value,
                    "threshold": 0.25,
                    "norm": plan_norms[i],
                    "contribution": 0.4 + 0.01 * i,
                    "reason": f"{value:.0%} ask for reasoning; typical for this plan: "
                    f"{plan_norms[i]:.0%}",
                }
            ]
        )
    scores = list(AccountScore.objects.filter(account__in=accounts))
    case.explanation = campaign_explanation(case.campaign, scores)
    case.save()
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == EvidenceSnapshot.Status.DONE

    (why,) = case_signals(case)
    assert (why.value, why.norm) == (pytest.approx(0.75), 0.06)
    assert why.reason.endswith("typical for this plan: 6%")
    section = next(
        s for s in snapshot.items.get(kind="signals").data["signals"] if s["name"] == why.name
    )
    assert (section["median"], section["norm"]) == (pytest.approx(why.value), why.norm)
    assert section["example_reason"].endswith("typical for this plan: 6%")
    shares = evidence_figures(snapshot)["shares"][1]["data"]
    case_bar, typical_bar = shares[0], shares[1]
    row = case_bar["y"].index("Asks for step-by-step reasoning")
    assert case_bar["x"][row] == pytest.approx(100 * why.value)
    assert typical_bar["x"][row] == pytest.approx(100 * why.norm)
    html = analyst_client.get(reverse("cases:case_why", args=[case.pk])).content.decode()
    assert "not above typical" not in html


def test_a_signal_not_above_its_typical_says_so(analyst_client, case):
    html = analyst_client.get(reverse("cases:case_why", args=[case.pk])).content.decode()
    rows = {row.split("</th>")[0]: row for row in html.split('<th scope="row"')[1:]}
    below = next(row for head, row in rows.items() if "Harvests output in bulk" in head)
    assert "not above typical: counts from its threshold" in below
    above = next(row for head, row in rows.items() if "step-by-step" in head)
    assert "not above typical" not in above


def test_a_table_of_the_most_common_says_of_how_many_as_the_summary_counts(analyst_client):
    """The summary counts 22 organisations; the evidence lists the 20 most common and says
    of how many, rather than look like a different count."""
    from cases.evidence.infrastructure import TOP_VALUES
    from cases.evidence.services import evidence_snapshot_collect
    from cases.models import EvidenceSnapshot
    from tests.cases.test_evidence_fixtures import make_campaign

    n = TOP_VALUES + 2
    case, accounts, _ = make_campaign(n, days=1, per_day=1)
    for i, account in enumerate(accounts):
        Account.objects.filter(pk=account.pk).update(org_id=f"org-{i:02d}")
    snapshot = EvidenceSnapshot.objects.create(case=case, reason="case_opened")
    assert evidence_snapshot_collect(snapshot.pk) == EvidenceSnapshot.Status.DONE

    assert case_summary(case).organisations == n
    body = analyst_client.get(
        reverse("cases:case_evidence", args=[case.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    orgs = body[body.index("<h4>Organisations") :].split("</h4>")[0]
    assert f"the {TOP_VALUES} most common of {n}" in orgs
    cards = body[body.index("<h4>Payment fingerprints") :].split("</h4>")[0]
    assert "most common" not in cards  # one card, all shown


def test_the_owners_detection_counted_are_beside_none_declared(analyst_client, case):
    """ "32 accounts of 23 unrelated owners" in the Why sentence is not left beside a bare
    "none declared": the card says how many owners detection grouped them into."""
    Account.objects.filter(case_links__case=case).update(org_id="")
    case.campaign.evidence = {**case.campaign.evidence, "organisations": 3}
    case.campaign.save()
    url = reverse("cases:case_summary", args=[case.pk])
    text = analyst_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "none declared" in text
    assert "3 unrelated owners by organisation, company e-mail domain or card and site" in text
    case.campaign.evidence = {**case.campaign.evidence, "organisations": 5}  # one each
    case.campaign.save()
    text = analyst_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "unrelated owner" not in text
