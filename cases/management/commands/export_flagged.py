"""``python manage.py export_flagged [--format jsonl|csv] [-o FILE]`` (a public contract).

One row per account flagged by the latest successful detection run: account_id, risk_score,
campaign_id, case_id, top signals, and the account's label if analysts decided it
(label_outcome, label_reason: ``cases.labels``). Account ids and signal reasons come from
the accounts we investigate, so CSV cells that a spreadsheet could read as a formula are
neutralised.

It lives in ``cases`` because it reads detection's scores together with the cases they are
on: ``cases`` is the lowest app that may import both (detection knows nothing of cases).
"""

import csv

import orjson
from django.core.management.base import BaseCommand, CommandError
from django.db.models import OuterRef, Subquery

from cases.models import AccountLabel, CaseAccount
from common.spreadsheets import neutralise
from detection.models import AccountScore, DetectionRun

FIELDS = [
    "account_id",
    "risk_score",
    "campaign_id",
    "case_id",
    "top_signals",
    "label_outcome",
    "label_reason",
]
TOP = 3


def flagged_rows():
    """The latest succeeded run's flagged accounts, strongest first, with their live case."""
    run = DetectionRun.objects.filter(status=DetectionRun.Status.SUCCEEDED).order_by("-pk").first()
    if run is None:
        return
    scores = AccountScore.objects.filter(run=run, flagged=True).order_by("-risk_score", "pk")
    live = CaseAccount.objects.filter(
        account=OuterRef("account"), removed_at=None, case__merged_into=None
    ).order_by("-case__opened_at")
    label = AccountLabel.objects.filter(account=OuterRef("account"))
    scores = scores.annotate(
        case_id=Subquery(live.values("case_id")[:1]),
        label_outcome=Subquery(label.values("outcome")[:1]),
        label_reason=Subquery(label.values("reason__code")[:1]),
    )
    values = [
        "account__account_id",
        "risk_score",
        "campaign_id",
        "signals",
        "case_id",
        "label_outcome",
        "label_reason",
    ]
    for row in scores.values(*values).iterator(chunk_size=2000):
        yield {
            "account_id": row["account__account_id"],
            "risk_score": row["risk_score"],
            "campaign_id": row["campaign_id"],
            "case_id": row["case_id"],
            "top_signals": [
                {"name": s.get("name"), "value": s.get("value"), "reason": s.get("reason")}
                for s in (row["signals"] or [])[:TOP]
            ],
            "label_outcome": row["label_outcome"] or "",
            "label_reason": row["label_reason"] or "",
        }


class Stdout:
    """The command's stdout as a plain text stream (no line endings added)."""

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")


def open_output(path: str | None, stdout):
    """The file at ``path`` (UTF-8, for ``csv``), or the command's stdout without one."""
    if not path:
        return Stdout(stdout)
    try:
        return open(path, "w", newline="", encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc}") from exc


class Command(BaseCommand):
    help = "Export the accounts the latest detection run flagged (JSON Lines or CSV)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        parser.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")

    def handle(self, *args, **options):
        out = open_output(options["output"], self.stdout)
        count = 0
        try:
            if options["format"] == "jsonl":
                for row in flagged_rows():
                    out.write(orjson.dumps(row).decode() + "\n")
                    count += 1
            else:
                writer = csv.writer(out)
                writer.writerow(FIELDS)
                for row in flagged_rows():
                    signals = "; ".join(f"{s['name']}={s['value']}" for s in row["top_signals"])
                    writer.writerow(
                        [
                            neutralise(row["account_id"]),
                            row["risk_score"],
                            row["campaign_id"] if row["campaign_id"] is not None else "",
                            row["case_id"] if row["case_id"] is not None else "",
                            neutralise(signals),
                            row["label_outcome"],
                            row["label_reason"],
                        ]
                    )
                    count += 1
        finally:
            if options["output"]:
                out.close()
        if options["output"]:
            self.stderr.write(f"{count} flagged accounts written to {options['output']}")
