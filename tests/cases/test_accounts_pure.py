"""Typed values become attribute values, and related accounts rank by rare ties."""

import math

import pytest

from cases.accounts.attributes import BadValue, display, exit_range, normalise, range_bounds
from cases.accounts.related import Tie, rank
from cases.accounts.search import kinds_for


@pytest.mark.parametrize(
    "kind, text, value",
    [
        ("ip", " 203.0.113.7 ", "203.0.113.7"),
        ("ip", "2001:DB8::1", "2001:db8::1"),
        ("range", "203.0.113.77", "203.0.113.0/24"),
        ("range", "203.0.113.0/26", "203.0.113.0/24"),
        ("range", "2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("asn", "AS13335", 13335),
        ("asn", "as 13335", 13335),
        ("asn", "13335", 13335),
        ("template", "-4242424242", -4242424242),
        ("card", "<b>fp</b>", "<b>fp</b>"),
    ],
)
def test_values_are_normalised(kind, text, value):
    assert normalise(kind, text) == value


@pytest.mark.parametrize(
    "kind, text",
    [
        ("ip", "203.0.113"),
        ("range", "10.0.0.0/8"),
        ("asn", "AS-13335"),
        ("template", str(2**63)),
        ("card", ""),
        ("card", "x" * 1001),
        ("colour", "red"),
    ],
)
def test_bad_values_are_refused(kind, text):
    with pytest.raises(BadValue):
        normalise(kind, text)


def test_ranges_and_display():
    assert str(exit_range("198.51.100.200")) == "198.51.100.0/24"
    assert range_bounds("198.51.100.0/24") == ("198.51.100.0", "198.51.100.255")
    assert display("asn", 13335) == "AS13335" and display("ip", "1.2.3.4") == "1.2.3.4"


@pytest.mark.parametrize(
    "term, kinds",
    [
        ("203.0.113.7", ["ip", "range"]),
        ("203.0.113.0/24", ["range"]),
        ("AS13335", ["asn", "card", "org", "domain"]),
        ("13335", ["asn", "card", "org", "domain"]),
        ("133350", ["asn", "template", "card", "org", "domain"]),
        ("-77", ["card", "org", "domain"]),
        ("-4242424242", ["template", "card", "org", "domain"]),
        ("fleet.example", ["card", "org", "domain"]),
        ("a/b", ["card", "org", "domain"]),
    ],
)
def test_a_search_term_is_tried_only_as_what_it_can_be(term, kinds):
    assert kinds_for(term) == kinds


def test_rare_ties_outrank_common_ones_and_more_ties_outrank_fewer():
    card = Tie("card", "c", 3)
    asn = Tie("asn", 13335, 50_000)
    ip = Tie("ip", "1.2.3.4", 3)
    assert card.weight == pytest.approx(1 / math.log(4))
    users = {card: {1, 2, 10}, asn: {1, 2, 10, 11, 12}, ip: {10, 12}}
    ranked = rank(users, exclude={1, 2}, limit=10)
    assert [r.account_pk for r in ranked] == [10, 12, 11]
    assert [t.kind for t in ranked[0].ties] == ["card", "ip", "asn"]
    assert ranked[0].score == pytest.approx(card.weight + ip.weight + asn.weight)
    assert len(rank(users, exclude=set(), limit=2)) == 2


def test_templates_are_named_in_hexadecimal_and_found_by_that_name():
    from cases.accounts.attributes import display, normalise, template_name

    for stored in (-8_070_450_532_247_928_832, 0, 42, 2**63 - 1, -1):
        name = template_name(stored)
        assert name.startswith("T-") and len(name) == 18 and "-" not in name[2:]
        assert normalise("template", name) == stored
        assert display("template", stored) == name
    assert normalise("template", "t-" + "f" * 16) == -1
    with pytest.raises(BadValue):
        normalise("template", "T-xyz")
    with pytest.raises(BadValue):
        normalise("template", "T-" + "1" * 17)
