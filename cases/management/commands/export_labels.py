"""``python manage.py export_labels [--format jsonl|csv] [-o FILE] [--history] [--since DATE]``

Analysts' decisions for offline evaluation: one row per labelled account (its current
label), or with ``--history`` one row per revision, oldest first. Each row carries what the
latest successful detection run made of the account (risk_score, flagged, known_good and
the signals that fired), so a label set can be scored against the detector without the
database. Account ids, notes and signal reasons come from the accounts we investigate, so
CSV cells that a spreadsheet could read as a formula are neutralised.
"""

import csv
from datetime import datetime, time

import orjson
from django.core.management.base import BaseCommand, CommandError
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cases.labels.models import AccountLabel, AccountLabelRevision
from cases.management.commands.export_flagged import open_output
from common.spreadsheets import neutralise
from detection.models import AccountScore, DetectionRun

FIELDS = [
    "account_id",
    "outcome",
    "reason_code",
    "source",
    "case_id",
    "action_id",
    "decided_by",
    "decided_at",
    "note",
    "risk_score",
    "flagged",
    "known_good",
    "signals",
]


def label_rows(*, history: bool = False, since: datetime | None = None):
    rows = AccountLabelRevision.objects if history else AccountLabel.objects
    rows = rows.order_by("decided_at", "pk")
    if since is not None:
        rows = rows.filter(decided_at__gte=since)
    run = DetectionRun.objects.filter(status=DetectionRun.Status.SUCCEEDED).order_by("-pk").first()
    score = AccountScore.objects.filter(run=run, account=OuterRef("account"))
    rows = rows.annotate(
        risk_score=Subquery(score.values("risk_score")[:1]),
        flagged=Subquery(score.values("flagged")[:1]),
        known_good=Subquery(score.values("known_good")[:1]),
        signals=Subquery(score.values("signals")[:1]),
    )
    values = rows.values(
        "account__account_id",
        "outcome",
        "reason__code",
        "source",
        "case_id",
        "action_id",
        "decided_by__username",
        "decided_at",
        "note",
        "risk_score",
        "flagged",
        "known_good",
        "signals",
    )
    for row in values.iterator(chunk_size=2000):
        yield {
            "account_id": row["account__account_id"],
            "outcome": row["outcome"],
            "reason_code": row["reason__code"],
            "source": row["source"],
            "case_id": row["case_id"],
            "action_id": row["action_id"],
            "decided_by": row["decided_by__username"] or "",
            "decided_at": row["decided_at"].isoformat(),
            "note": row["note"],
            "risk_score": row["risk_score"],
            "flagged": row["flagged"],
            "known_good": row["known_good"],
            "signals": [
                s.get("name") for s in (row["signals"] or []) if (s.get("contribution") or 0) > 0
            ],
        }


def _since(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r}: give a date (2026-01-31) or a time")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.UTC)
    return moment


def _cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    return value


class Command(BaseCommand):
    help = "Export analysts' labels with the latest run's scores, for offline evaluation."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        parser.add_argument("-o", "--output", metavar="FILE", help="write here (default stdout)")
        parser.add_argument(
            "--history", action="store_true", help="every revision, not only the current label"
        )
        parser.add_argument("--since", help="only labels decided from this date or time on")

    def handle(self, *args, **options):
        since = _since(options["since"]) if options["since"] else None
        out = open_output(options["output"], self.stdout)
        count = 0
        rows = label_rows(history=options["history"], since=since)
        try:
            if options["format"] == "jsonl":
                for row in rows:
                    out.write(orjson.dumps(row).decode() + "\n")
                    count += 1
            else:
                writer = csv.writer(out)
                writer.writerow(FIELDS)
                for row in rows:
                    row["signals"] = " ".join(row["signals"])
                    writer.writerow([_cell(row[f]) for f in FIELDS])
                    count += 1
        finally:
            if options["output"]:
                out.close()
        if options["output"]:
            self.stderr.write(f"{count} labels written to {options['output']}")
