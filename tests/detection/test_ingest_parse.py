"""The record parser on its own: every rule of the ingest contract, no database."""

import ipaddress
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detection.contract import ExchangeRow
from detection.ingest.batches import read_batches
from detection.ingest.formats import Source, decode_line
from detection.ingest.lines import REJECT_RAW_BYTES, bounded_chunks, overlong_head, split_lines
from detection.ingest.parse import (
    RowError,
    csv_record,
    exchange_from_json,
    parse_account,
    parse_exchange,
    parse_timestamp,
)
from detection.text import prompt_fingerprint

EXCHANGE = {
    "exchange_id": "ex-1",
    "account_id": "acct-1",
    "ts": "2026-03-01T12:30:00Z",
    "ip": "203.0.113.7",
    "asn": 64500,
    "user_agent": "curl/8.5.0",
    "model": "atlas-large-2",
    "prompt": "Explain step by step.",
    "input_tokens": 12,
    "output_tokens": 340,
    "tool_use": True,
}
ACCOUNT = {
    "account_id": "acct-1",
    "created_at": "2026-01-01T00:00:00+01:00",
    "email_domain": "example.com",
    "org_id": "org-9",
    "payment_fingerprint": "pf-abc",
    "country": "GB",
    "plan": "pro",
}


def exchange(**changes):
    record = {**EXCHANGE, **changes}
    return {k: v for k, v in record.items() if v is not ...}


def account(**changes):
    record = {**ACCOUNT, **changes}
    return {k: v for k, v in record.items() if v is not ...}


def reason(parser, record) -> str:
    with pytest.raises(RowError) as caught:
        parser(record, [])
    return str(caught.value)


def test_a_valid_exchange_becomes_a_typed_row():
    row = parse_exchange(exchange(), [])
    assert row == ExchangeRow(
        exchange_id="ex-1",
        account_id="acct-1",
        ts=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
        ip=ipaddress.ip_address("203.0.113.7"),
        asn=64500,
        user_agent="curl/8.5.0",
        model="atlas-large-2",
        prompt="Explain step by step.",
        prompt_hash=prompt_fingerprint("Explain step by step."),
        input_tokens=12,
        output_tokens=340,
        tool_use=True,
    )
    assert type(row) is ExchangeRow
    assert type(exchange_from_json(orjson.dumps(exchange()))) is ExchangeRow


def test_optional_exchange_fields_may_be_absent_or_null():
    record = exchange(asn=..., user_agent=None, prompt=..., input_tokens=None, tool_use=...)
    row = parse_exchange(record, [])
    assert row.asn is None and row.user_agent == "" and row.prompt == ""
    assert row.prompt_hash is None and row.input_tokens is None and row.tool_use is None


def test_unknown_extra_fields_are_ignored():
    assert parse_exchange(exchange(region="eu", extra={"a": 1}), []) == parse_exchange(
        exchange(), []
    )


def test_a_valid_account_becomes_a_typed_row():
    row = parse_account(account(country="gb"), [])
    assert row.account_id == "acct-1"
    assert row.created_at == datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert row.country == "GB"


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-01T12:30:00Z",
        "2026-03-01t12:30:00z",
        "2026-03-01 12:30:00+05:30",
        "2026-03-01T12:30:00.123456789-08:00",
    ],
)
def test_rfc3339_forms_are_accepted(value):
    assert parse_timestamp(value, "ts").tzinfo is not None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"ts": "2026-03-01T12:30:00"}, "ts: timestamp has no time zone"),
        ({"ts": "2026-03-01 12:30"}, "ts: timestamp has no time zone"),
        ({"ts": "yesterday"}, "ts: not an RFC 3339 timestamp"),
        ({"ts": "2026-02-30T00:00:00Z"}, "ts: impossible date or time"),
        ({"ts": 1767225600}, "ts: must be an RFC 3339 timestamp string"),
        ({"ts": ...}, "ts: missing required field"),
        ({"ip": "300.1.2.3"}, "ip: not an IPv4 or IPv6 address"),
        ({"ip": "example.com"}, "ip: not an IPv4 or IPv6 address"),
        ({"ip": 2130706433}, "ip: must be a string"),
        ({"ip": ...}, "ip: missing required field"),
        ({"input_tokens": -1}, "input_tokens: must be 0 or more"),
        ({"output_tokens": 1.5}, "output_tokens: must be an integer"),
        ({"output_tokens": 2.0}, "output_tokens: must be an integer"),
        ({"input_tokens": "12"}, "input_tokens: must be an integer"),
        ({"input_tokens": True}, "input_tokens: must be an integer"),
        ({"input_tokens": 2**63}, "input_tokens: too large"),
        ({"asn": -5}, "asn: must be 0 or more"),
        ({"asn": "AS64500"}, "asn: must be an integer"),
        ({"tool_use": "yes"}, "tool_use: must be true or false"),
        ({"tool_use": 1}, "tool_use: must be true or false"),
        ({"exchange_id": ...}, "exchange_id: missing required field"),
        ({"exchange_id": ""}, "exchange_id: empty"),
        ({"exchange_id": 17}, "exchange_id: must be a string"),
        ({"exchange_id": "x" * 256}, "exchange_id: longer than 255 characters"),
        ({"account_id": ...}, "account_id: missing required field"),
        ({"account_id": "a" * 300}, "account_id: longer than 255 characters"),
        ({"model": ...}, "model: missing required field"),
        ({"model": ""}, "model: empty"),
        ({"prompt": ["a", "list"]}, "prompt: must be a string"),
        ({"exchange_id": "ex\x001"}, "exchange_id: holds a NUL"),
        ({"account_id": "acct\ud800"}, "account_id: holds a NUL, a lone surrogate"),
    ],
)
def test_each_broken_exchange_field_has_its_reason(changes, expected):
    assert reason(parse_exchange, exchange(**changes)).startswith(expected)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"created_at": "2026-01-01T00:00:00"}, "created_at: timestamp has no time zone"),
        ({"created_at": ...}, "created_at: missing required field"),
        ({"account_id": ""}, "account_id: empty"),
        ({"country": 44}, "country: must be a string"),
    ],
)
def test_each_broken_account_field_has_its_reason(changes, expected):
    assert reason(parse_account, account(**changes)).startswith(expected)


def test_csv_cells_convert_to_the_json_types():
    cells = {**{k: str(v) for k, v in EXCHANGE.items()}, "tool_use": "1", "asn": "", "prompt": ""}
    row = parse_exchange(csv_record(cells), [])
    assert row.asn is None and row.prompt == "" and row.input_tokens == 12 and row.tool_use
    for cell, expected in [("true", True), ("FALSE", False), ("0", False), ("", None)]:
        assert parse_exchange(csv_record({**cells, "tool_use": cell}), []).tool_use is expected


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"input_tokens": "1.5"}, "input_tokens: must be an integer"),
        ({"input_tokens": "-3"}, "input_tokens: must be 0 or more"),
        ({"output_tokens": "1e3"}, "output_tokens: must be an integer"),
        ({"tool_use": "yes"}, "tool_use: must be true or false"),
        ({"ts": ""}, "ts: missing required field"),
        ({"model": ""}, "model: missing required field"),
    ],
)
def test_bad_csv_cells_are_rejected_with_the_json_reasons(cells, expected):
    record = csv_record({**{k: str(v) for k, v in EXCHANGE.items()}, **cells})
    assert reason(parse_exchange, record).startswith(expected)


HOSTILE = [
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "Объясни шаг за шагом 解释一下 اشرح خطوة بخطوة 🧪",
    'line one\r\nline two\ttabbed \\ backslash "quoted"',
    "x" * 200_000,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_but_valid_text_is_kept_exactly(text):
    row = parse_exchange(exchange(prompt=text, user_agent=text[:1000]), [])
    assert row.prompt == text
    assert row.user_agent == text[:1000]


# --- properties -----------------------------------------------------------------------------

identifiers = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=255,
)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
timestamps = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)
addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))
counts = st.none() | st.integers(min_value=0, max_value=2**63 - 1)


# Every field of a valid exchange, for @given(**VALID_EXCHANGE).
VALID_EXCHANGE = {
    "exchange_id": identifiers,
    "account_id": identifiers,
    "ts": timestamps,
    "ip": addresses,
    "asn": st.none() | st.integers(min_value=0, max_value=2**32 - 1),
    "user_agent": texts,
    "model": identifiers,
    "prompt": texts,
    "input_tokens": counts,
    "output_tokens": counts,
    "tool_use": st.none() | st.booleans(),
}


@settings(max_examples=300, deadline=None)
@given(**VALID_EXCHANGE)
def test_valid_exchanges_round_trip_through_json(**fields):
    record = {**fields, "ts": fields["ts"].isoformat(), "ip": str(fields["ip"])}
    row = parse_exchange(orjson.loads(orjson.dumps(record)), [])
    expected = {**fields, "prompt_hash": prompt_fingerprint(fields["prompt"])}
    assert row._asdict() == {**expected, "text_flags": 0, "text_originals": ""}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
field_names = st.sampled_from(list(EXCHANGE) + ["created_at", "country", "plan", "other"])


@settings(max_examples=400, deadline=None)
@given(record=st.dictionaries(field_names, json_values | st.text()))
def test_arbitrary_records_parse_or_give_a_reason(record):
    for parser in (parse_exchange, parse_account):
        try:
            parser(record, [])
        except RowError as exc:
            assert str(exc)


@settings(max_examples=300, deadline=None)
@given(cells=st.dictionaries(field_names, st.text()))
def test_arbitrary_csv_cells_parse_or_give_a_reason(cells):
    for parser in (parse_exchange, parse_account):
        try:
            parser(csv_record(cells), [])
        except RowError as exc:
            assert str(exc)


@settings(max_examples=300, deadline=None)
@given(value=st.text())
def test_arbitrary_timestamps_parse_with_a_zone_or_give_a_reason(value):
    try:
        parsed = parse_timestamp(value, "ts")
    except RowError as exc:
        assert str(exc).startswith("ts: ")
    else:
        assert parsed.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.binary(max_size=200) | st.text(max_size=200).map(str.encode), max_size=8))
def test_arbitrary_bytes_in_a_jsonl_file_read_as_records_or_reasons(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("fuzz") / "exchanges.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    with Source(path, "exchanges").open() as reader:
        reader.header()
        for line, record, _raw in reader.records():
            assert line >= 1
            if isinstance(record, dict):
                try:
                    parse_exchange(record, [])
                except RowError as exc:
                    assert str(exc)
            else:
                assert isinstance(record, RowError) and str(record)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "exchange_id": identifiers,
                "account_id": identifiers,
                "ts": timestamps,
                "ip": addresses,
                "user_agent": texts,
                "model": identifiers,
                "prompt": texts,
                "input_tokens": counts,
                "tool_use": st.none() | st.booleans(),
            }
        ),
        min_size=1,
        max_size=5,
    )
)
def test_valid_rows_read_the_same_from_csv_as_from_json(tmp_path_factory, rows):
    """Quoting, newlines, commas and any script survive the CSV path unchanged."""
    from tests.detection.test_ingest_support import write_csv, write_jsonl

    records = [{**r, "ts": r["ts"].isoformat(), "ip": str(r["ip"])} for r in rows]
    folder = tmp_path_factory.mktemp("roundtrip")
    fields = list(records[0])
    parsed = {}
    for path in (
        write_csv(folder / "exchanges.csv.gz", records, fields),
        write_jsonl(folder / "exchanges.jsonl", records),
    ):
        with Source(path, "exchanges").open() as reader:
            reader.header()
            parsed[path.suffix] = [parse_exchange(rec, []) for _, rec, _ in reader.records()]
    assert parsed[".gz"] == parsed[".jsonl"]
    assert [row.prompt for row in parsed[".jsonl"]] == [r["prompt"] for r in rows]


# --- the JSON Lines fast path ----------------------------------------------------------------


def full_checks(raw: bytes):
    """What the careful path makes of a line: its row, or the reason it is rejected."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "malformed"
    if type(record) is not dict:
        return "not an object"
    try:
        return parse_exchange(record, [])
    except RowError as exc:
        return str(exc)


def test_the_fast_path_takes_a_valid_line_whole():
    raw = orjson.dumps(EXCHANGE)
    assert exchange_from_json(raw) == parse_exchange(EXCHANGE, [])
    assert exchange_from_json(raw + b"\r") == parse_exchange(EXCHANGE, [])


@pytest.mark.parametrize(
    "changes",
    [
        {"exchange_id": "ex\x001"},
        {"ts": "2026-03-01T12:30:00"},
        {"ts": "2026-02-30T00:00:00Z"},
        {"ts": 1767225600},
        {"ip": "300.1.2.3"},
        {"ip": "fe80::1%eth0"},
        {"input_tokens": 2.0},
        {"input_tokens": True},
        {"input_tokens": "12"},
        {"input_tokens": 2**63},
        {"asn": 2**32},
        {"tool_use": 1},
        {"model": ""},
        {"model": None},
        {"exchange_id": "x" * 256},
        {"exchange_id": 17},
        {"prompt": ["a", "list"]},
    ],
)
def test_the_fast_path_leaves_every_broken_line_to_the_full_checks(changes):
    """The fast path never rejects: the full checks name the problem."""
    raw = orjson.dumps(exchange(**changes))
    assert exchange_from_json(raw) is None
    assert isinstance(full_checks(raw), str)


@pytest.mark.parametrize(
    "ts",
    [
        "2026-03-01T12:30:00.1234569Z",  # truncated to microseconds, not rounded
        "2026-03-01t12:30:00z",
        "2026-03-01T12:30:00+0530",  # not RFC 3339 (no colon): rejected
        "2026-03-01T12:30:00.5z",
    ],
)
def test_rarer_time_forms_go_the_careful_way_and_mean_the_same(ts):
    """The fast path takes the usual form only; the others load (or not) exactly as the
    full checks say."""
    raw = orjson.dumps(exchange(ts=ts))
    assert exchange_from_json(raw) is None
    expected = {
        "2026-03-01T12:30:00.1234569Z": datetime(2026, 3, 1, 12, 30, 0, 123456, tzinfo=UTC),
        "2026-03-01t12:30:00z": datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
        "2026-03-01T12:30:00.5z": datetime(2026, 3, 1, 12, 30, 0, 500000, tzinfo=UTC),
    }
    result = full_checks(raw)
    if ts in expected:
        assert result[2] == expected[ts]
    else:
        assert result == "ts: not an RFC 3339 timestamp: '2026-03-01T12:30:00+0530'"


@pytest.mark.parametrize(
    "changes",
    [
        {"ts": "2026-03-01T12:30:00.123456Z"},
        {"ts": "2026-03-01T12:30:00.5-01:00"},
        {"ts": "2026-03-01 12:30:00+05:30"},
        {"ip": "2001:DB8::1"},
        {"prompt": "écrire \u2028 ١٢٣ 12 345", "user_agent": None, "asn": None},
        {"prompt": "x" * 200_000},
    ],
)
def test_the_fast_path_makes_the_same_row_as_the_full_checks(changes):
    raw = orjson.dumps(exchange(**changes))
    fast = exchange_from_json(raw)
    assert fast is not None
    assert fast == full_checks(raw)


@pytest.mark.parametrize(
    "raw",
    [
        # An escaped key names the same field, and the last of two equal keys wins.
        b'{"exch\\u0061nge_id":"b","account_id":"a","ts":"2026-03-01T12:30:00Z",'
        b'"ip":"192.0.2.1","model":"m"}',
        b'{"exchange_id":"a","exch\\u0061nge_id":"b","account_id":"a",'
        b'"ts":"2026-03-01T12:30:00Z","ip":"192.0.2.1","model":"m"}',
        b'{"exchange_id":"a","account_id":"a","ts":"2026-03-01T12:30:00Z","ip":"192.0.2.1",'
        b'"model":"m","prompt":"say \\"hi\\"\\n\\\\u0000"}',  # a backslash, then u0000
    ],
)
def test_the_fast_path_reads_escapes_as_the_full_checks_do(raw):
    fast = exchange_from_json(raw)
    assert fast is None or fast == full_checks(raw)
    assert not isinstance(full_checks(raw), str)


@settings(max_examples=300, deadline=None)
@given(**VALID_EXCHANGE)
def test_the_fast_path_takes_every_valid_exchange(**fields):
    raw = orjson.dumps({**fields, "ts": fields["ts"].isoformat(), "ip": str(fields["ip"])})
    fast = exchange_from_json(raw)
    assert fast is not None
    assert fast == full_checks(raw)


@settings(max_examples=500, deadline=None)
@given(record=st.dictionaries(field_names, json_values | st.text()), ascii_only=st.booleans())
def test_the_fast_path_agrees_with_the_full_checks_on_arbitrary_records(record, ascii_only):
    import json

    # The standard library writes integers of any size, and \\u escapes when ascii_only.
    raw = json.dumps({**EXCHANGE, **record}, ensure_ascii=ascii_only).encode()
    fast = exchange_from_json(raw)
    assert fast is None or fast == full_checks(raw)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_the_fast_path_agrees_with_the_full_checks_on_arbitrary_bytes(raw):
    fast = exchange_from_json(raw)
    assert fast is None or fast == full_checks(raw)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"b", b"\n", b"\r"]), max_size=60).map(b"".join),
    block=st.integers(1, 8),
)
def test_lines_are_split_on_newlines_across_read_blocks(data, block):
    import io

    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()  # a final newline ends the last line; it does not start another
    assert list(split_lines(bounded_chunks(io.BytesIO(data), 1 << 20, block))) == expected


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"bb", b"\n", b"x" * 9]), max_size=60).map(b"".join),
    block=st.integers(1, 12),
    limit=st.integers(1, 12),
)
def test_a_line_past_the_limit_comes_out_as_a_stand_in_with_its_length(data, block, limit):
    """Every line within the limit comes out as it is; a longer one as its stand-in, which
    the reader rejects naming the line's length, and whose head is the line's start."""
    import io

    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()
    lines = list(split_lines(bounded_chunks(io.BytesIO(data), limit, block)))
    assert len(lines) == len(expected)
    for line, original in zip(lines, expected, strict=True):
        if len(original) <= limit:
            assert line == original
        else:
            assert overlong_head(line) == original[: min(REJECT_RAW_BYTES, limit)]
            reason = str(decode_line(line))
            assert f"line of {len(original)} bytes, longer than the {limit} bytes" in reason


# msgspec skips the value of a field it does not know without the checks orjson makes on every
# value (valid UTF-8, a number a double can hold) and recurses on nesting until Python's
# recursion limit: a line with a field outside the contract goes the careful way.

LINE = (
    b'{"exchange_id":"ex-1","account_id":"acct-1","ts":"2026-03-01T12:30:00Z",'
    b'"ip":"203.0.113.7","model":"m"'
)


def with_extra(extra: bytes) -> bytes:
    return LINE + b',"extra":' + extra + b"}"


def test_a_field_outside_the_contract_goes_the_careful_way_and_still_loads():
    raw = with_extra(b'{"nested": [1, 2.5, null]}')
    assert exchange_from_json(raw) is None
    assert full_checks(raw) == exchange_from_json(LINE + b"}")


@pytest.mark.parametrize(
    "extra",
    [
        b'"\xff"',  # not UTF-8
        b'"\xed\xa0\x80"',  # a UTF-8-encoded surrogate
        b'{"a":"\xc0\xaf"}',  # an overlong encoding, one level down
        b"1e400",  # infinity as a double
        b"[-2e308]",
    ],
)
def test_an_unknown_field_the_full_checks_reject_is_not_taken(extra):
    raw = with_extra(extra)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert exchange_from_json(raw) is None


def test_an_unknown_key_that_is_not_utf8_is_not_taken():
    raw = LINE + b',"\xff":1}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert exchange_from_json(raw) is None


@pytest.mark.parametrize("depth", [1000, 2000])
def test_deep_nesting_in_an_unknown_field_does_not_raise(depth):
    """orjson takes 1,000 levels and refuses 2,000 ("depth limit exceeded"); either way the
    fast path answers (a row or None) rather than raising RecursionError."""
    raw = with_extra(b"[" * depth + b"]" * depth)
    fast = exchange_from_json(raw)
    assert fast is None or fast == parse_exchange(orjson.loads(raw), [])


def test_deep_nesting_rejects_its_line_and_the_rest_of_the_file_reads(tmp_path):
    path = tmp_path / "exchanges.jsonl"
    lines = [
        LINE + b"}",
        with_extra(b"[" * 2000 + b"]" * 2000).replace(b"ex-1", b"ex-2"),
        LINE.replace(b"ex-1", b"ex-3") + b"}",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    batches = list(read_batches(Source(path, "exchanges"), 0, 100, 1 << 30))
    assert [row.exchange_id for batch in batches for row in batch.rows] == ["ex-1", "ex-3"]
    assert sum(batch.rejected for batch in batches) == 1
    assert sum(batch.rows_read for batch in batches) == 3


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_a_line_with_a_non_json_constant_is_malformed_even_beside_a_lone_surrogate(constant):
    # The lenient reader (for lone surrogates) must not let in what JSON does not define.
    raw = b'{"exchange_id": "e\\ud800", "input_tokens": ' + constant + b"}"
    record = decode_line(raw)
    assert isinstance(record, RowError) and "malformed JSON" in str(record)
