"""Helpers for the ingest tests (no tests here): telemetry files in every format, the command."""

import csv
import gzip
import io
from pathlib import Path

import orjson
from django.core.management import CommandError, call_command

from detection.contract import ACCOUNT_FIELDS, EXCHANGE_FIELDS, names


def account_row(n: int, **changes) -> dict:
    return {
        "account_id": f"acct-{n}",
        "created_at": f"2026-01-{n % 28 + 1:02d}T08:00:00Z",
        "email_domain": "example.com",
        "org_id": f"org-{n % 3}",
        "payment_fingerprint": f"pf-{n}",
        "country": "GB",
        "plan": "pro",
        **changes,
    }


def exchange_row(n: int, account: int = 0, **changes) -> dict:
    return {
        "exchange_id": f"ex-{n}",
        "account_id": f"acct-{account}",
        "ts": f"2026-03-01T12:{n % 60:02d}:00+00:00",
        "ip": "2001:db8::7" if n % 2 else "203.0.113.7",
        "asn": 64500 + n,
        "user_agent": "curl/8.5.0",
        "model": "atlas-large-2",
        "prompt": f"Explain step {n} step by step.",
        "input_tokens": 10 + n,
        "output_tokens": 300 + n,
        "tool_use": bool(n % 2),
        **changes,
    }


def _open(path: Path, mode: str):
    if path.name.endswith(".gz"):
        return gzip.open(path, mode + "t" if "b" not in mode else mode, newline="")
    return path.open(mode, newline="", encoding="utf-8")


def write_jsonl(path: Path, rows: list) -> Path:
    """Rows may be dicts (written as JSON) or bytes/str (written as they are, one a line)."""
    lines = []
    for row in rows:
        if isinstance(row, dict | list | int):
            lines.append(orjson.dumps(row))
        else:
            lines.append(row.encode() if isinstance(row, str) else row)
    data = b"\n".join(lines) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([csv_cell(row.get(f)) for f in fields])
    data = buffer.getvalue().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_rows(path: Path, rows: list[dict]) -> Path:
    """JSON Lines or CSV by the file name; the kind (for the CSV header) from its start."""
    if ".csv" in path.name:
        fields = ACCOUNT_FIELDS if path.name.startswith("accounts") else EXCHANGE_FIELDS
        return write_csv(path, rows, list(names(fields)))
    return write_jsonl(path, rows)


def run_ingest(*args) -> tuple[int, str, str]:
    """The command as a shell would see it: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("ingest", *[str(a) for a in args], stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:
        code = exc.returncode
        err.write(f"CommandError: {exc}\n")
    return code, out.getvalue(), err.getvalue()


def read_rejects(path: str | Path) -> list[dict]:
    return [orjson.loads(line) for line in Path(path).read_bytes().splitlines()]


def ingest(loader: str, *args):
    """Run the ingest command with the given loader (see the ``loader`` fixture)."""
    return run_ingest(*args, "--loader", loader)


def stored_exchanges() -> dict[str, dict]:
    """Every stored exchange's contract fields, by exchange_id."""
    from detection.models import Exchange

    return {
        e["exchange_id"]: e
        for e in Exchange.objects.values(
            "exchange_id",
            "account__account_id",
            "ts",
            "ip",
            "asn",
            "user_agent",
            "model",
            "prompt",
            "prompt_hash",
            "input_tokens",
            "output_tokens",
            "tool_use",
        )
    }
