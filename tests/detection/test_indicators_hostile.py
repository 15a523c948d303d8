"""Indicator files are hostile: whatever the bytes, a reader refuses the file with a reason
or yields rows and rejects; it never raises anything else (pure, no database)."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from detection.indicators.parse import Candidate, IndicatorFileError, Reject, parse_csv
from detection.indicators.stix import parse_bundle

HEADER = b"indicator_type,indicator_value,comment\n"
TYPES = ["ip", "cidr", "asn", "domain", "email", "payment", "prompt", "account_id", "url", ""]


def _drain(reader, data):
    try:
        items = list(reader(data))
    except IndicatorFileError as exc:
        assert str(exc)
        return []
    assert all(isinstance(i, Candidate | Reject) for i in items)
    return items


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_as_csv(data):
    _drain(parse_csv, data)
    _drain(parse_csv, HEADER + data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TYPES), st.text(max_size=80), st.text(max_size=40))))
def test_any_rows_of_text(rows):
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    items = _drain(parse_csv, HEADER + buffer.getvalue().encode("utf-8", "surrogatepass"))
    for item in items:
        if isinstance(item, Candidate):
            assert item.value and "\x00" not in item.value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
indicator = st.fixed_dictionaries(
    {"type": st.just("indicator")},
    optional={
        "spec_version": st.sampled_from(["2.1", "2.0", 7]),
        "id": st.sampled_from(["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "x", 1]),
        "created": st.sampled_from(["2026-09-01T10:00:00Z", "yesterday"]),
        "modified": st.sampled_from(["2026-09-01T10:00:00Z"]),
        "pattern": st.one_of(
            st.sampled_from(["[ipv4-addr:value = '1.2.3.4']", "[x:y = 1]", "[", "[a:b = 'c'] AND"]),
            json_values,
        ),
        "pattern_type": st.one_of(st.just("stix"), json_values),
        "valid_from": st.sampled_from(["2026-09-01T10:00:00Z", 3]),
        "valid_until": json_values,
        "object_marking_refs": json_values,
        "created_by_ref": json_values,
        "name": json_values,
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(indicator, json_values), max_size=6))
def test_any_bundle_objects(objects):
    _drain(parse_bundle, json.dumps({"type": "bundle", "objects": objects}).encode())
