"""Text an attacker controls cannot drop a row: NULs, lone surrogates, bytes that are not
UTF-8, overlong values and non-codes are stored cleaned, marked and kept escaped
(docs/ingest.md, "Text that cannot be stored as sent"); and exchanges dated in the future
are stored but quarantined ("Quarantine")."""

import json
from datetime import UTC, datetime

import orjson
import pytest

from detection.models import Account, Exchange, IngestReport
from detection.text import (
    TEXT_INVALID,
    TEXT_NOT_A_CODE,
    TEXT_NUL,
    TEXT_OVERLONG,
    prompt_fingerprint,
    unescape_text,
)
from tests.detection.test_ingest_support import (
    account_row,
    exchange_row,
    ingest,
    write_jsonl,
    write_rows,
)

pytestmark = pytest.mark.django_db(transaction=False)


def originals(row) -> dict:
    return {k: unescape_text(v) for k, v in json.loads(row.text_originals or "{}").items()}


def test_json_escapes_and_raw_bytes_in_every_exchange_text_field_load_marked(tmp_path, loader):
    lines = [
        # json.dumps writes a lone surrogate and a NUL as the escapes \ud800 and \u0000.
        json.dumps(exchange_row(1, prompt="salt\ud800ed", user_agent="ua\x00/1")),
        json.dumps(exchange_row(2, model="m\udfff", prompt="x" * 10)),
        # Raw bytes that are not UTF-8 inside JSON strings.
        orjson.dumps(exchange_row(3, prompt="PLACEHOLDER")).replace(b"PLACEHOLDER", b"caf\xe9"),
        json.dumps(exchange_row(4, model="m" * 300)),
        json.dumps(exchange_row(5)),
    ]
    path = write_jsonl(tmp_path / "exchanges.jsonl", lines)

    code, out, err = ingest(loader, path)

    assert code == 0, err
    stored = {e.exchange_id: e for e in Exchange.objects.all()}
    assert sorted(stored) == ["ex-1", "ex-2", "ex-3", "ex-4", "ex-5"]
    one, two, three, four, five = (stored[f"ex-{n}"] for n in range(1, 6))
    assert (one.prompt, one.user_agent, one.text_flags) == (
        "salted",
        "ua/1",
        TEXT_NUL | TEXT_INVALID,
    )
    assert originals(one) == {"prompt": "salt\ud800ed", "user_agent": "ua\x00/1"}
    assert (two.model, two.text_flags, originals(two)) == ("m", TEXT_INVALID, {"model": "m\udfff"})
    assert three.prompt == "caf" and three.text_flags == TEXT_INVALID
    assert originals(three)["prompt"].encode("utf-8", "surrogateescape") == b"caf\xe9"
    assert four.model == "m" * 255 and four.text_flags == TEXT_OVERLONG
    assert originals(four) == {"model": "m" * 300}
    assert (five.text_flags, five.text_originals) == (0, "")
    # A salted prompt fingerprints like the unsalted one.
    assert one.prompt_hash == prompt_fingerprint("salted")
    report = IngestReport.objects.get()
    assert (report.loaded, report.rejected, report.cleaned) == (5, 0, 4)
    assert "4 with text cleaned and marked" in out


def test_raw_csv_bytes_and_nuls_in_every_account_text_field_load_marked(tmp_path, loader):
    fields = list(account_row(0))
    rows = [
        account_row(1, email_domain="exa\x00mple.com", org_id="org-\udcff", plan="p" * 70),
        account_row(2, payment_fingerprint="pf-\ud83d", country="ZZ"),
        account_row(3),
    ]
    header = ",".join(fields).encode()
    body = [
        b",".join(b'"' + str(r[f]).encode("utf-8", "surrogatepass") + b'"' for f in fields)
        for r in rows
    ]
    # org-\udcff as the raw byte 0xff, which is what a CSV exporter writes.
    data = b"\n".join([header, *body]).replace(b"org-\xed\xb3\xbf", b"org-\xff") + b"\n"
    path = tmp_path / "accounts.csv"
    path.write_bytes(data)

    code, _, err = ingest(loader, path)

    assert code == 0, err
    stored = {a.account_id: a for a in Account.objects.all()}
    one, two, three = stored["acct-1"], stored["acct-2"], stored["acct-3"]
    assert (one.email_domain, one.org_id, one.plan) == ("example.com", "org-", "p" * 64)
    assert one.text_flags == TEXT_NUL | TEXT_INVALID | TEXT_OVERLONG
    assert originals(one)["email_domain"] == "exa\x00mple.com"
    assert originals(one)["org_id"].encode("utf-8", "surrogateescape") == b"org-\xff"
    assert originals(one)["plan"] == "p" * 70
    assert (two.payment_fingerprint, two.country) == ("pf-", "")
    # The lone surrogate, written as raw (CESU) bytes, reads as three undecodable bytes.
    assert originals(two)["payment_fingerprint"].encode("utf-8", "surrogateescape") == (
        "pf-\ud83d".encode("utf-8", "surrogatepass")
    )
    assert two.text_flags == TEXT_INVALID | TEXT_NOT_A_CODE and originals(two)["country"] == "ZZ"
    assert three.text_flags == 0
    assert IngestReport.objects.get().cleaned == 2


def test_a_row_without_a_usable_identifier_is_still_rejected(tmp_path, loader):
    lines = [
        json.dumps(exchange_row(1, exchange_id="ex-\ud800")),
        json.dumps(exchange_row(2, account_id="acct\x00")),
        json.dumps(exchange_row(3)),
    ]
    code, _, err = ingest(loader, write_jsonl(tmp_path / "exchanges.jsonl", lines))

    assert code == 1
    assert list(Exchange.objects.values_list("exchange_id", flat=True)) == ["ex-3"]
    assert "exchange_id: holds a NUL, a lone surrogate" in err
    assert "account_id: holds a NUL, a lone surrogate" in err


def test_reloading_a_file_of_salted_rows_is_a_no_op(tmp_path, loader):
    lines = [json.dumps(exchange_row(n, prompt=f"p\x00{n}")) for n in range(4)]
    path = write_jsonl(tmp_path / "exchanges.jsonl", lines)
    ingest(loader, path)
    before = list(Exchange.objects.order_by("exchange_id").values())

    code, out, _ = ingest(loader, path)

    assert code == 0 and "0 loaded, 4 duplicates skipped" in out
    assert list(Exchange.objects.order_by("exchange_id").values()) == before


def test_an_exchange_dated_in_the_future_is_stored_counted_and_quarantined(
    tmp_path, loader, settings, admin_client
):
    settings.TELEMETRY_CLOCK_SKEW_MINUTES = 30
    rows = [exchange_row(1), exchange_row(2, ts="2099-01-01T00:00:00Z")]
    path = write_rows(tmp_path / "exchanges.jsonl", rows)

    code, out, _ = ingest(loader, path)

    assert code == 0
    assert Exchange.objects.count() == 2
    assert list(Exchange.objects.quarantined().values_list("exchange_id", flat=True)) == ["ex-2"]
    assert list(Exchange.objects.plausible().values_list("exchange_id", flat=True)) == ["ex-1"]
    assert IngestReport.objects.get().future == 1
    assert "1 dated in the future (stored, quarantined)" in out
    # Admins find them in the exchanges list.
    page = admin_client.get("/admin/detection/exchange/", {"marked": "future"})
    assert page.status_code == 200
    listed = page.content.decode()
    assert "ex-2" in listed and "ex-1" not in listed
    # The horizon moves with the clock: in 2099 the row is plausible.
    assert Exchange.objects.plausible(now=datetime(2099, 1, 2, tzinfo=UTC)).count() == 2
