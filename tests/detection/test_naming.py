"""Campaigns named by what they do, and signals by plain words, on plain data."""

import pytest

from detection import naming


def _evidence(**shares):
    return {"signals": [{"name": k, "share_of_members": v} for k, v in shares.items()]}


def test_a_campaign_is_named_by_what_it_harvests_and_how():
    evidence = _evidence(reasoning_elicitation=0.9, prompt_templating=0.95, shared_payment=0.6)
    assert naming.campaign_name(evidence) == "Reasoning extraction via templated prompts"
    title = naming.campaign_title(naming.campaign_name(evidence), 32)
    assert title == "Reasoning extraction via templated prompts, 32 accounts"


def test_signals_few_members_show_do_not_name_the_campaign():
    evidence = _evidence(capability_targeting=0.3, coaction=0.4, output_harvesting=0.7)
    assert naming.campaign_name(evidence) == "Bulk output harvesting"
    assert naming.campaign_name({}) == naming.FALLBACK
    assert naming.campaign_name({"signals": ["junk", {"name": 3}]}) == naming.FALLBACK


def test_the_name_is_stable_whatever_order_the_signals_come_in():
    a = _evidence(coaction=0.8, shared_payment=0.8, capability_targeting=0.8)
    b = {"signals": list(reversed(a["signals"]))}
    assert naming.campaign_name(a) == naming.campaign_name(b)
    assert naming.campaign_name(a) == "Capability harvesting via lockstep accounts"


def test_signal_labels_are_words():
    assert naming.signal_label("reasoning_elicitation") == "Asks for step-by-step reasoning"
    assert naming.signal_label("some_new_signal") == "Some new signal"
    from detection.config import SignalWeights

    for name in SignalWeights.__struct_fields__:  # every declared signal has its own words
        assert name in naming.SIGNAL_LABELS, name
    assert naming.is_numbered("Campaign 4") and not naming.is_numbered("Campaign of 4")


@pytest.mark.django_db
def test_numbered_campaigns_and_their_case_titles_take_the_new_name():
    from importlib import import_module

    from django.apps import apps

    from tests.factories import CampaignFactory, CaseFactory

    evidence = _evidence(reasoning_elicitation=0.9, prompt_templating=0.9)
    old = CampaignFactory(label="Campaign 4", evidence=evidence)
    twin = CampaignFactory(label="Campaign 5", evidence=evidence)
    kept = CampaignFactory(label="Named by hand", evidence=evidence)
    case = CaseFactory(title="Campaign 4: 32 linked accounts", campaign=old)
    edited = CaseFactory(title="Campaign 4: the card ring", campaign=old)

    import_module("detection.migrations.0010_campaigns_named_by_what_they_do").name_campaigns(
        apps, None
    )
    import_module("cases.migrations.0011_campaign_case_titles").retitle(apps, None)

    for row in (old, twin, kept, case, edited):
        row.refresh_from_db()
    assert old.label == "Reasoning extraction via templated prompts"
    assert twin.label == f"Reasoning extraction via templated prompts (campaign {twin.pk})"
    assert kept.label == "Named by hand"
    assert case.title == "Reasoning extraction via templated prompts, 32 accounts"
    assert edited.title == "Campaign 4: the card ring"
