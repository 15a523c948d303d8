"""Campaigns named by what they do, and signals by plain words, on plain data."""

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
    assert naming.is_numbered("Campaign 4") and not naming.is_numbered("Campaign of 4")
