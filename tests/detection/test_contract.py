"""The ingest contract's one declaration (detection.contract) against what must agree with it:
the models, the operator's guide, detection's frames, the parser and the loaders."""

import re
from pathlib import Path

import orjson
import polars as pl
import pytest
from django.db import connection

from detection import contract
from detection.analysis import ACCOUNT_SCHEMA
from detection.contract import ACCOUNT_COLUMNS, EXCHANGE_COLUMNS, EXCHANGE_FIELDS, FIELDS
from detection.features import EXCHANGE_SCHEMA
from detection.ingest import loaders
from detection.ingest.parse import RowError, exchange_from_json, parse_account, parse_exchange
from detection.models import Account, Exchange

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "ingest.md"
# A column's PostgreSQL type as COPY sends it -> the column types Django may give it.
DB_TYPES = {
    "int2": ("smallint",),
    "text": ("varchar", "text"),
    "int8": ("bigint",),
    "timestamptz": ("timestamp with time zone",),
    "inet": ("inet",),
    "bool": ("boolean",),
}
VALID = {
    "accounts": {"account_id": "acct-1", "created_at": "2026-01-01T00:00:00Z"},
    "exchanges": {
        "exchange_id": "ex-1",
        "account_id": "acct-1",
        "ts": "2026-03-01T12:30:00Z",
        "ip": "203.0.113.7",
        "model": "atlas-large-2",
    },
}
PARSERS = {"accounts": parse_account, "exchanges": parse_exchange}


def model_fields(model) -> dict:
    return {f.column: f for f in model._meta.concrete_fields}


@pytest.mark.parametrize(
    ("model", "columns"), [(Account, ACCOUNT_COLUMNS), (Exchange, EXCHANGE_COLUMNS)]
)
def test_every_declared_column_is_a_model_column_of_the_declared_type(model, columns):
    stored = model_fields(model)
    for field in columns:
        column = stored[field.name]
        # An exchange stores its account's key; the name's limit is the account's column's.
        named = column.related_model._meta.get_field(field.name) if column.is_relation else column
        if field.max_length is not None:
            assert named.max_length == field.max_length, field.name
        if connection.vendor == "postgresql":
            db_type = column.db_type(connection)  # a foreign key: its target key's type
            assert db_type.startswith(DB_TYPES[field.postgres]), (field.name, db_type)


def test_the_exchange_table_holds_exactly_the_declared_columns():
    assert set(model_fields(Exchange)) - {"id"} == {f.name for f in EXCHANGE_COLUMNS}


def test_an_exchange_column_may_be_null_only_where_the_contract_allows_an_absent_value():
    stored = model_fields(Exchange)
    for field in EXCHANGE_COLUMNS:
        # Absent text is stored as ""; absent numbers and booleans as NULL; a row always
        # carries its marks (0 and "" when its text was stored as sent).
        never_absent = (contract.TEXT, contract.TEXT_FLAGS, contract.TEXT_ORIGINALS)
        nullable = not field.required and field.check not in never_absent
        assert stored[field.name].null is nullable, field.name


def test_rows_and_copy_types_follow_the_declared_order():
    assert contract.ExchangeRow._fields == tuple(f.name for f in EXCHANGE_COLUMNS)
    assert contract.AccountRow._fields == tuple(f.name for f in ACCOUNT_COLUMNS)
    assert contract.ExchangeRow._fields == loaders.EXCHANGE_COLUMNS
    assert tuple(f.postgres for f in EXCHANGE_COLUMNS) == loaders.STAGE_TYPES
    # prompt_hash and the text marks are computed at ingest, never read from a file.
    computed = [f.name for f in EXCHANGE_COLUMNS if f not in EXCHANGE_FIELDS]
    assert computed == ["prompt_hash", "text_flags", "text_originals"]


def test_detection_frames_use_the_declared_dtypes():
    assert {
        f.frame_column: f.polars for f in EXCHANGE_COLUMNS if f.polars is not None
    } == EXCHANGE_SCHEMA
    assert EXCHANGE_SCHEMA["account"] == pl.Int64  # the account's key, not its name
    declared = {f.name: f.polars for f in ACCOUNT_COLUMNS if f.polars is not None}
    read = {name: dtype for name, dtype in ACCOUNT_SCHEMA.items() if name != "account"}
    assert read == declared


@pytest.mark.parametrize("kind", ["accounts", "exchanges"])
def test_each_required_field_is_required_and_each_optional_field_optional(kind):
    parse, valid = PARSERS[kind], VALID[kind]
    assert set(valid) == {f.name for f in FIELDS[kind] if f.required}
    parse(valid, [])
    for name in valid:
        with pytest.raises(RowError, match=f"^{name}: missing required field"):
            parse({k: v for k, v in valid.items() if k != name}, [])


def test_the_fast_path_reads_the_declared_fields_and_nothing_else():
    line = dict(VALID["exchanges"])
    assert exchange_from_json(orjson.dumps(line)) == parse_exchange(line, [])
    for field in EXCHANGE_FIELDS:
        if not field.required:  # a value of the wrong type sends the line the careful way
            assert exchange_from_json(orjson.dumps({**line, field.name: [1]})) is None
    assert exchange_from_json(orjson.dumps({**line, "region": "eu"})) is None


def guide_rules() -> dict[str, str]:
    """docs/ingest.md's "Validation rules" table: field name -> its rule."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Validation rules", 1)[1].split("\n## ", 1)[0]
    rules: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        for name in re.findall(r"`([a-z_]+)`", cells[0]):
            assert name not in rules, f"{name} has two rows"
            rules[name] = cells[1]
    return rules


def test_the_operators_guide_has_one_rule_for_each_declared_field():
    rules = guide_rules()
    declared = {f.name: f for fields in FIELDS.values() for f in fields}
    assert set(rules) == set(declared)
    for name, field in declared.items():
        rule = rules[name]
        assert rule.startswith("required") is field.required, name
        assert rule.startswith("optional") is (not field.required), name
        if field.max_length is not None:
            assert f"at most {field.max_length} characters" in rule, name
        elif field.check == contract.TEXT:
            assert "any length" in rule, name
        if field.maximum == contract.MAX_ASN:
            assert f"{field.maximum:,}" in rule, name
        elif field.check == contract.INTEGER:
            assert "≥ 0" in rule, name
