"""Properties of text an attacker controls (docs/ingest.md, "Text that cannot be stored as
sent"): over arbitrary code points, NULs and lone surrogates included, written as JSON
escapes or as raw CSV bytes, in every text field of both files, every row loads, what is
stored is storable and within its limit, the original comes back from its escape exactly,
and a fleet that salts its text is read, and flagged, exactly like the same fleet unsalted."""

import json
import random
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detection.analysis import analyse
from detection.config import DetectionParams
from detection.contract import COUNTRY, FIELDS, TEXT
from detection.features import chunk_features
from detection.ingest.formats import Source, decode_line
from detection.ingest.parse import COUNTRIES, PARSERS
from detection.models import Account, Exchange, IngestReport
from detection.text import escape_text, storable, unescape_text
from tests.detection.cohorts import DAYS, START, Cohort
from tests.detection.test_ingest_support import account_row, exchange_row, run_ingest

TEXT_FIELDS = {
    kind: {f.name: f for f in fields if f.check in (TEXT, COUNTRY)}
    for kind, fields in FIELDS.items()
}
BASE = {"accounts": account_row(1), "exchanges": exchange_row(1)}
# Any code point, with the ones that cannot be stored as sent drawn often: NUL, lone
# surrogates of both halves (U+DC80-U+DCFF is what an undecodable byte reads as).
UNSTORABLE = st.sampled_from(["\x00", "\ud800", "\udbff", "\udc00", "\udc80", "\udcff", "\udfff"])
CHARACTERS = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x10FFFF),
    st.integers(0xD800, 0xDFFF).map(chr),
    UNSTORABLE,
)
hostile = st.text(CHARACTERS, max_size=300)


def values_for(kind: str) -> st.SearchStrategy[dict[str, str]]:
    """A value for every text field of ``kind``; a required one is never empty (an empty
    required field breaks the contract, which is not what these properties are about)."""
    return st.fixed_dictionaries(
        {
            name: st.text(CHARACTERS, min_size=1, max_size=300) if field.required else hostile
            for name, field in TEXT_FIELDS[kind].items()
        }
    )


def stored_as(kind: str, row, sent: dict[str, str]) -> None:
    """The row's text fields against what was sent: storable, within limits, and either the
    value exactly (an unmarked row) or marked with the original kept losslessly."""
    originals = json.loads(row.text_originals) if row.text_originals else {}
    assert bool(originals) is bool(row.text_flags)
    for name, field in TEXT_FIELDS[kind].items():
        stored, value = getattr(row, name), sent[name]
        assert storable(stored)
        assert field.max_length is None or len(stored) <= field.max_length
        if name in originals:
            assert unescape_text(originals[name]) == value
        elif field.check == COUNTRY:
            assert stored == value.upper() and (value == "" or stored in COUNTRIES)
        else:
            assert stored == value


@pytest.mark.parametrize("kind", ["accounts", "exchanges"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_text_field_as_json_escapes_loads_and_keeps_its_original(kind, data):
    sent = data.draw(values_for(kind))
    # ensure_ascii (the default): a NUL as \u0000, a lone surrogate as \ud800, as
    # json.dumps and JSON.stringify write them.
    line = json.dumps({**BASE[kind], **sent}).encode()
    record = decode_line(line)
    assert isinstance(record, dict), record
    # What the line says: in JSON a high and a low surrogate escape in a row are one
    # character (U+10000 and up), so that is what was sent.
    meant = {name: json.loads(json.dumps(value)) for name, value in sent.items()}
    stored_as(kind, PARSERS[kind](record, []), meant)


def csv_cells(text: str) -> bytes:
    """A value as an exporter that does not check its text writes it: every code point as
    UTF-8, lone surrogates included (raw bytes that are not UTF-8), NUL as the byte 0."""
    return text.encode("utf-8", "surrogatepass")


def write_csv(path: Path, kind: str, rows: list[dict], raw: dict[str, bytes]) -> None:
    names = list(BASE[kind])
    lines = [",".join(names).encode()]
    for row in rows:
        cells = [raw[n] if n in raw else str(row[n]).encode() for n in names]
        lines.append(b",".join(b'"' + c.replace(b'"', b'""') + b'"' for c in cells))
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")


@pytest.mark.parametrize("kind", ["accounts", "exchanges"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_text_field_as_raw_csv_bytes_loads_and_keeps_its_original(kind, data):
    sent = data.draw(values_for(kind))
    # Raw bytes as well as code points: any byte string may follow the text.
    tails = data.draw(st.fixed_dictionaries({n: st.binary(max_size=8) for n in sent}))
    raw = {n: csv_cells(v) + tails[n] for n, v in sent.items()}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{kind}.csv"
        write_csv(path, kind, [BASE[kind]], raw)
        with Source(path, kind).open() as reader:
            records = list(reader.records())
    ((_, record, _),) = records
    assert isinstance(record, dict), record
    # What the file says, as Python reads bytes that are not UTF-8 (surrogateescape).
    read = {n: b.decode("utf-8", "surrogateescape") for n, b in raw.items()}
    if any(read[n] == "" for n, f in TEXT_FIELDS[kind].items() if f.required):
        return  # an empty required cell is an absent value: the contract rejects that
    stored_as(kind, PARSERS[kind](record, []), {n: read[n] for n in sent})


def test_the_escape_is_lossless_on_any_text():
    @given(st.text(CHARACTERS))
    def check(text):
        escaped = escape_text(text)
        assert storable(escaped) and unescape_text(escaped) == text

    check()


@pytest.mark.django_db
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    accounts=st.lists(values_for("accounts"), min_size=1, max_size=6),
    exchanges=st.lists(values_for("exchanges"), min_size=1, max_size=12),
)
def test_every_hostile_row_of_both_files_loads_and_the_counts_agree(accounts, exchanges):
    prefix = uuid.uuid4().hex[:8]
    account_rows = [
        {**account_row(i), **values, "account_id": f"{prefix}-acct-{i}"}
        for i, values in enumerate(accounts)
    ]
    exchange_rows = [
        {**exchange_row(i), **values, "exchange_id": f"{prefix}-ex-{i}"}
        | {"account_id": f"{prefix}-acct-{i % len(accounts)}"}
        for i, values in enumerate(exchanges)
    ]
    with tempfile.TemporaryDirectory() as folder:
        # Accounts as CSV with raw bytes, exchanges as JSON Lines with escapes.
        accounts_csv = Path(folder) / "accounts.csv"
        names = list(BASE["accounts"])
        lines = [",".join(names).encode()]
        for row in account_rows:
            cells = [csv_cells(str(row[n])) for n in names]
            lines.append(b",".join(b'"' + c.replace(b'"', b'""') + b'"' for c in cells))
        accounts_csv.write_bytes(b"\n".join(lines) + b"\n")
        exchanges_jsonl = Path(folder) / "exchanges.jsonl"
        exchanges_jsonl.write_text("\n".join(json.dumps(r) for r in exchange_rows) + "\n")
        code, _, err = run_ingest(accounts_csv, exchanges_jsonl, "--rejects-dir", folder)

    assert code == 0, err
    assert Account.objects.filter(account_id__startswith=prefix).count() == len(account_rows)
    assert Exchange.objects.filter(exchange_id__startswith=prefix).count() == len(exchange_rows)
    reports = IngestReport.objects.filter(path__in=[str(accounts_csv), str(exchanges_jsonl)])
    assert sum(r.loaded for r in reports) == len(account_rows) + len(exchange_rows)
    assert sum(r.rejected for r in reports) == 0


# --- a salted fleet ---------------------------------------------------------------------------


def small_world() -> Cohort:
    cohort = Cohort(seed=31)
    cohort.fleet(n=12, per_account=60)
    cohort.organisation(8)
    cohort.ordinary(30)
    return cohort


def salted(cohort: Cohort, salt: list[str], rng) -> Cohort:
    """The cohort with every prompt and user agent salted at random places, written as a
    JSON Lines line and read back through ingest's parser (the rows as ingest stores them)."""
    out = Cohort()
    out.accounts, out.labels = cohort.accounts, cohort.labels
    for e in cohort.exchanges:
        record = {**e, "ts": e["ts"].isoformat()}
        for name in ("prompt", "user_agent"):
            text = record[name]
            for char in salt:
                at = rng.randint(0, len(text))
                text = text[:at] + char + text[at:]
            record[name] = text
        row = PARSERS["exchanges"](decode_line(json.dumps(record).encode()), [])
        assert row.text_flags
        values = row._asdict()
        values["ip"] = str(values["ip"])
        for name in ("prompt_hash", "text_flags", "text_originals"):
            values.pop(name)
        out.exchanges.append(values)
    return out


def flagged(cohort: Cohort) -> tuple[list[str], list[int]]:
    accounts, exchanges = cohort.to_frames()
    params = DetectionParams()
    chunk = chunk_features(exchanges, params)
    analysis = analyse(
        features=chunk.features,
        links=chunk.links,
        models=chunk.models,
        accounts=accounts,
        window_start=START,
        window_end=START + timedelta(days=DAYS),
        params=params,
    )
    ids = np.array(analysis.frame["account_id"].to_list())
    return sorted(ids[analysis.decision.flagged]), analysis.decision.campaign_of.tolist()


# Salt an attacker can use: NULs with lone high surrogates, or with lone low ones (a high
# then a low surrogate escape is a pair in JSON: one ordinary character, not salt).
SALTS = st.one_of(
    st.lists(st.sampled_from(["\x00", "\ud800", "\udbff"]), min_size=1, max_size=3),
    st.lists(st.sampled_from(["\x00", "\udc00", "\udc80", "\udfff"]), min_size=1, max_size=3),
)


@pytest.fixture(scope="module")
def world():
    cohort = small_world()
    return cohort, flagged(cohort)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(salt=SALTS, seed=st.integers(0, 2**16))
def test_a_salted_fleet_is_read_exactly_as_the_unsalted_one(world, salt, seed):
    cohort, _ = world
    again = salted(cohort, salt, random.Random(seed))
    assert again.exchanges == cohort.exchanges


def test_a_salted_fleet_is_flagged_exactly_as_the_unsalted_one(world):
    cohort, (unsalted_flags, unsalted_campaigns) = world
    assert {cohort.labels[a] for a in unsalted_flags} == {"fleet"}
    salted_flags, salted_campaigns = flagged(salted(cohort, ["\x00", "\ud800"], random.Random(7)))
    assert salted_flags == unsalted_flags
    assert salted_campaigns == unsalted_campaigns
