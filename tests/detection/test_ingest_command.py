"""``python manage.py ingest``: every valid form, exit codes, re-ingest, placeholders.

Bad rows, the reject file and hostile text are in test_ingest_rejects.py.

Most tests run once per loader (PostgreSQL ``COPY`` and the portable path) so both are held
to the same behaviour.
"""

import gzip
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from detection.models import Account, AccountChange, Exchange, IngestReport
from detection.text import prompt_fingerprint
from tests.detection.test_ingest_support import (
    account_row,
    exchange_row,
    ingest,
    read_rejects,
    run_ingest,
    stored_exchanges,
    write_csv,
    write_jsonl,
    write_rows,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".csv", ".csv.gz"])
def test_every_format_loads_the_same_rows(tmp_path, loader, suffix):
    accounts = [account_row(n) for n in range(3)]
    exchanges = [exchange_row(n, account=n % 3) for n in range(10)]
    exchanges[3]["asn"] = None
    exchanges[4]["tool_use"] = None
    a = write_rows(tmp_path / f"accounts{suffix}", accounts)
    e = write_rows(tmp_path / f"exchanges-2026-03{suffix}", exchanges)

    code, out, err = ingest(loader, e, a)  # named in the wrong order on purpose

    assert code == 0, err
    assert err == ""
    assert out.index("accounts") < out.index("exchanges-2026-03")  # accounts went first
    assert "total: 2 file(s), 13 rows read, 13 loaded, 0 duplicates skipped" in out
    assert "0 placeholders created, 0 rejected" in out
    assert not Account.objects.filter(is_placeholder=True).exists()
    stored = stored_exchanges()
    assert set(stored) == {f"ex-{n}" for n in range(10)}
    one = stored["ex-1"]
    assert one["account__account_id"] == "acct-1"
    assert one["ts"] == datetime(2026, 3, 1, 12, 1, tzinfo=UTC)
    assert one["ip"] == "2001:db8::7"
    assert (one["asn"], one["input_tokens"], one["output_tokens"], one["tool_use"]) == (
        64501,
        11,
        301,
        True,
    )
    assert one["prompt_hash"] == prompt_fingerprint("Explain step 1 step by step.")
    assert stored["ex-3"]["asn"] is None and stored["ex-4"]["tool_use"] is None
    account = Account.objects.get(account_id="acct-2")
    assert (account.org_id, account.payment_fingerprint, account.country) == ("org-2", "pf-2", "GB")
    assert account.created_at == datetime(2026, 1, 3, 8, tzinfo=UTC)
    reports = list(IngestReport.objects.order_by("pk"))
    assert [(r.kind, r.status, r.loaded, r.loader) for r in reports] == [
        ("accounts", "done", 3, loader),
        ("exchanges", "done", 10, loader),
    ]


def test_folders_are_walked_accounts_first_and_other_files_noted(tmp_path, loader):
    root = tmp_path / "drop"
    write_rows(root / "a" / "exchanges.jsonl.gz", [exchange_row(n, account=1) for n in range(4)])
    write_rows(root / "z" / "accounts.csv", [account_row(1)])
    (root / "README.txt").write_text("not telemetry")
    write_rows(root / "labels.jsonl", [{"account_id": "acct-1"}])

    code, out, err = ingest(loader, root)

    assert code == 0
    assert "note: ignored" in err and "README.txt" in err and "labels.jsonl" in err
    assert Exchange.objects.count() == 4
    assert Account.objects.get().is_placeholder is False  # accounts loaded before exchanges
    assert "0 placeholders created" in out


def test_an_explicit_kind_reads_files_whose_names_say_none(tmp_path, loader):
    path = write_rows(tmp_path / "gateway-day1.jsonl", [exchange_row(1, account=5)])
    code, _, _ = ingest(loader, path, "--kind", "exchanges")
    assert code == 0
    assert Exchange.objects.get().account.account_id == "acct-5"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.jsonl", "no such file or folder"),
        (lambda d: write_rows(d / "day1.jsonl", [exchange_row(1)]), "cannot tell the kind"),
        (lambda d: write_rows(d / "exchanges.json", [exchange_row(1)]), "unknown format"),
        (lambda d: _write(d / "exchanges.jsonl.gz", b"not gzip at all\n"), "cannot read"),
        (
            lambda d: write_csv(d / "exchanges.csv", [exchange_row(1)], ["exchange_id", "ts"]),
            "lacks required column(s) account_id, ip, model",
        ),
    ],
)
def test_unusable_arguments_exit_2_and_load_nothing(tmp_path, loader, make, message):
    good = write_rows(tmp_path / "accounts.jsonl", [account_row(1)])
    code, _, err = ingest(loader, good, make(tmp_path))
    assert code == 2
    assert message in err
    assert not Account.objects.exists()
    assert not IngestReport.objects.exists()


def test_an_unknown_kind_option_is_refused(tmp_path):
    path = write_rows(tmp_path / "accounts.jsonl", [account_row(1)])
    code, _, err = run_ingest(path, "--kind", "sessions")
    assert code != 0
    assert "invalid choice" in err or "sessions" in err
    assert not Account.objects.exists()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_a_file_damaged_part_way_keeps_what_came_before_and_exits_2(tmp_path, loader):
    rows = [exchange_row(n, prompt=f"{n} " + "padding " * 400) for n in range(400)]
    path = write_rows(tmp_path / "exchanges.jsonl.gz", rows)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    code, _, err = ingest(loader, path)

    assert code == 2
    assert "could not read to the end" in err
    report = IngestReport.objects.get()
    assert report.status == IngestReport.Status.FAILED
    loaded = Exchange.objects.count()
    assert 0 < loaded < 400
    assert report.loaded == loaded
    last = read_rejects(report.reject_path)[-1]
    assert last["type"] == "rejected" and "unreadable from line" in last["reason"]


def test_reingest_changes_nothing(tmp_path, loader):
    write_rows(tmp_path / "accounts.jsonl", [account_row(n) for n in range(3)])
    write_rows(tmp_path / "exchanges.csv.gz", [exchange_row(n, account=4) for n in range(6)])
    first = ingest(loader, tmp_path)
    before = (stored_exchanges(), list(Account.objects.order_by("pk").values()))

    code, out, _ = ingest(loader, tmp_path)

    assert first[0] == code == 0
    assert (stored_exchanges(), list(Account.objects.order_by("pk").values())) == before
    assert "total: 2 file(s), 9 rows read, 0 loaded, 9 duplicates skipped" in out
    assert "0 placeholders created" in out
    latest = IngestReport.objects.order_by("-pk")[:2]
    assert [(r.loaded, r.duplicates) for r in latest] == [(0, 6), (0, 3)]


def test_duplicate_ids_within_a_file_are_duplicates(tmp_path, loader):
    rows = [exchange_row(1), exchange_row(2), exchange_row(1, prompt="second copy")]
    rows += [exchange_row(2, model="later")]
    accounts = [account_row(1), account_row(1, plan="enterprise")]
    write_rows(tmp_path / "accounts.jsonl", accounts)
    write_rows(tmp_path / "exchanges.jsonl", rows)

    code, out, _ = ingest(loader, tmp_path)

    assert code == 0
    assert "2 loaded, 2 duplicates skipped" in out
    assert Exchange.objects.get(exchange_id="ex-1").prompt == exchange_row(1)["prompt"]
    assert Exchange.objects.get(exchange_id="ex-2").model == "atlas-large-2"
    assert Account.objects.filter(account_id="acct-1").count() == 1


def test_unknown_accounts_become_placeholders_until_their_file_arrives(tmp_path, loader):
    rows = [exchange_row(n, account=n % 2 + 7) for n in range(5)]
    exchanges = write_rows(tmp_path / "exchanges.jsonl", rows)

    code, out, _ = ingest(loader, exchanges)

    assert code == 0
    assert "2 placeholders created" in out
    placeholders = Account.objects.filter(is_placeholder=True)
    assert sorted(placeholders.values_list("account_id", flat=True)) == ["acct-7", "acct-8"]
    report = IngestReport.objects.get()
    assert report.placeholders == 2
    notices = read_rejects(report.reject_path)
    assert {(n["type"], n["account_id"]) for n in notices} == {
        ("placeholder", "acct-7"),
        ("placeholder", "acct-8"),
    }

    accounts = write_rows(tmp_path / "accounts.jsonl", [account_row(7, plan="team")])
    code, out, _ = ingest(loader, accounts)

    assert code == 0
    assert "1 placeholders filled" in out
    filled = Account.objects.get(account_id="acct-7")
    assert (filled.is_placeholder, filled.plan, filled.payment_fingerprint) == (
        False,
        "team",
        "pf-7",
    )
    assert Account.objects.get(account_id="acct-8").is_placeholder is True
    assert Exchange.objects.filter(account=filled).count() == 3


def test_a_later_row_that_changes_a_known_account_is_applied_and_the_old_value_kept(
    tmp_path, loader
):
    older = write_rows(tmp_path / "a" / "accounts.jsonl", [account_row(1), account_row(2)])
    ingest(loader, older)
    changed = [account_row(1, payment_fingerprint="pf-new", org_id=""), account_row(2)]
    path = write_rows(tmp_path / "b" / "accounts.jsonl", changed)

    code, out, _ = ingest(loader, path)

    assert code == 0
    assert "1 loaded, 1 duplicates skipped" in out
    assert "1 changed (earlier values kept as history)" in out
    account = Account.objects.get(account_id="acct-1")
    # An empty field is absent, not "cleared": the organisation stays.
    assert (account.payment_fingerprint, account.org_id) == ("pf-new", "org-1")
    (change,) = AccountChange.objects.filter(account=account)
    assert (change.field, change.old_value, change.new_value) == (
        "payment_fingerprint",
        "pf-1",
        "pf-new",
    )
    assert change.source == f"{path}:1"
    report = IngestReport.objects.order_by("-pk").first()
    assert (report.changed, report.differing) == (1, 0)
    (notice,) = read_rejects(report.reject_path)
    assert notice["type"] == "account_changed" and notice["line"] == 1
    assert notice["fields"] == {"payment_fingerprint": ["pf-1", "pf-new"]}

    # Re-loading either file changes nothing: the newer is what is stored, the older offers
    # a value the account had before (noted, not applied).
    for again in (path, older):
        code, out, _ = ingest(loader, again)
        assert code == 0 and "0 loaded, 2 duplicates skipped" in out
    account.refresh_from_db()
    assert account.payment_fingerprint == "pf-new"
    assert AccountChange.objects.count() == 1
    assert IngestReport.objects.order_by("-pk").first().differing == 1


def test_two_rows_of_one_account_in_one_file_are_a_change(tmp_path, loader):
    rows = [account_row(1), account_row(1), account_row(1, plan="team")]
    path = write_rows(tmp_path / "accounts.jsonl", rows)

    code, out, _ = ingest(loader, path)

    assert code == 0
    assert "3 rows read, 2 loaded, 1 duplicates skipped" in out
    assert Account.objects.get().plan == "team"
    change = AccountChange.objects.get()
    assert (change.old_value, change.new_value, change.source) == ("pro", "team", f"{path}:3")


def test_the_progress_bar_stays_off_when_not_on_a_terminal(tmp_path, loader, capsys):
    path = write_rows(tmp_path / "exchanges.jsonl", [exchange_row(1)])
    code, out, err = ingest(loader, path)
    assert code == 0
    err += capsys.readouterr().err
    assert "it/s" not in err and "B/s" not in err and "%|" not in err
    assert "1 loaded" in out


def test_a_blank_line_and_a_byte_order_mark_are_not_records(tmp_path, loader):
    path = tmp_path / "accounts.jsonl.gz"
    body = "\ufeff" + '{"account_id": "a1", "created_at": "2026-01-01T00:00:00Z"}\n\n'
    path.write_bytes(gzip.compress(body.encode()))
    code, out, _ = ingest(loader, path)
    assert code == 0
    assert "1 rows read, 1 loaded" in out
    assert Account.objects.get().account_id == "a1"


def test_the_progress_bar_shows_when_asked(tmp_path, loader, capsys):
    path = write_rows(tmp_path / "exchanges.jsonl", [exchange_row(n) for n in range(3)])
    code, _, _ = ingest(loader, path, "--progress", "on")
    assert code == 0
    bar = capsys.readouterr().err  # tqdm draws on the process's stderr, a terminal in real use
    assert "exchanges.jsonl" in bar and "B/s" in bar


def _database_url(db: dict) -> str:
    """The test database as a URL for a child process (same server, user and password)."""
    credentials = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    where = (db["HOST"] or "localhost") + (f":{db['PORT']}" if db["PORT"] else "")
    return f"postgres://{credentials}{'@' if credentials else ''}{where}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_exit_statuses_seen_by_a_shell(tmp_path):
    """The real process: 0 all loaded, 1 some rejected, 2 unusable arguments."""
    if connection.vendor != "postgresql":
        pytest.skip("the child process needs a server database it can share")
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "CELERY_BROKER_URL": "",
        "DATA_DIR": str(tmp_path / "data"),
    }

    def shell(*args):
        return subprocess.run(
            [sys.executable, "manage.py", "ingest", *map(str, args)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    good = write_rows(tmp_path / "ok" / "accounts.jsonl", [account_row(1)])
    bad = write_jsonl(tmp_path / "bad" / "exchanges.jsonl", [exchange_row(1), "{nope"])

    loaded = shell(good)
    rejected = shell(bad)
    missing = shell(tmp_path / "nowhere.jsonl")
    unknown = shell(good, "--kind", "sessions")

    assert loaded.returncode == 0, loaded.stderr
    assert "1 loaded" in loaded.stdout
    assert rejected.returncode == 1
    assert "exchanges.jsonl:2: rejected: malformed JSON" in rejected.stderr
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
    assert Exchange.objects.count() == 1
    assert sorted(Account.objects.values_list("account_id", "is_placeholder")) == [
        ("acct-0", True),
        ("acct-1", False),
    ]


def test_an_interrupted_ingest_says_so_and_a_rerun_completes_it(tmp_path, monkeypatch):
    import detection.ingest.service as service

    path = write_rows(tmp_path / "exchanges.jsonl", [exchange_row(n) for n in range(5)])
    real_commit = service._commit
    calls = {"n": 0}

    def commit_then_interrupt(*args, **kwargs):
        real_commit(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(service, "_commit", commit_then_interrupt)
    # Batches of two rows, so the interrupt comes after two committed batches.
    monkeypatch.setattr(
        service.ingest_source,
        "__kwdefaults__",
        {**service.ingest_source.__kwdefaults__, "batch_rows": 2},
    )
    with pytest.raises(KeyboardInterrupt):
        run_ingest(path)
    report = IngestReport.objects.get()
    assert report.status == "failed" and "interrupted after line 4" in report.error
    assert Exchange.objects.count() == 4

    monkeypatch.setattr(service, "_commit", real_commit)
    code, out, _ = run_ingest(path)
    assert code == 0
    assert "1 loaded, 4 duplicates skipped" in out
    assert Exchange.objects.count() == 5


def test_an_ingest_stopped_by_an_error_says_where_and_a_rerun_completes_it(tmp_path, monkeypatch):
    """A database that goes away mid-file: the committed batches stay, the report says failed
    and how far it got (not the counts of the batch that rolled back), exit 2."""
    from django.db import OperationalError

    import detection.ingest.service as service

    path = write_rows(tmp_path / "exchanges.jsonl", [exchange_row(n) for n in range(5)])
    real_commit = service._commit
    calls = {"n": 0}

    def commit_then_fail(batch, kind, loader, report, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # counts added in memory, then the transaction fails
            report.loaded += 99
            report.lines_done = 99
            raise OperationalError("server closed the connection unexpectedly")
        return real_commit(batch, kind, loader, report, *args, **kwargs)

    monkeypatch.setattr(service, "_commit", commit_then_fail)
    monkeypatch.setattr(
        service.ingest_source,
        "__kwdefaults__",
        {**service.ingest_source.__kwdefaults__, "batch_rows": 2},
    )
    code, _, err = run_ingest(path)

    assert code == 2
    assert "stopped by OperationalError: server closed the connection" in err
    assert "after line 4" in err
    report = IngestReport.objects.get()
    assert report.status == "failed" and "after line 4" in report.error
    assert (report.loaded, report.lines_done) == (4, 4)
    assert Exchange.objects.count() == 4

    monkeypatch.setattr(service, "_commit", real_commit)
    code, out, _ = run_ingest(path)
    assert code == 0
    assert "1 loaded, 4 duplicates skipped" in out
