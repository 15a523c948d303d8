"""A campaign's indicators as a file to share: STIX 2.1 or CSV, under a chosen TLP.

The export is audited like every other (``export.created``, with the format, the TLP and
the number of indicators), in the transaction that builds it.
"""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases import audit
from cases.intel.selectors import campaign_indicators
from cases.models import Case
from common.spreadsheets import neutralise
from detection.indicators import stix
from detection.models import Tlp

FORMATS = ("stix", "csv")
CSV_COLUMNS = ["indicator_type", "indicator_value", "comment", "tlp"]


def _campaign_name(case: Case) -> str:
    label = case.campaign.label if case.campaign_id else case.title
    return f"Case {case.pk}: {label}"[:200]


def indicators_csv(rows, *, tlp: str) -> str:
    """Meta's three columns (and the TLP in a fourth, which readers of the three ignore);
    every cell neutralised, since the values came from the accounts investigated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    label = Tlp(tlp).label
    for kind, value, description in rows:
        writer.writerow([neutralise(kind), neutralise(value), neutralise(description), label])
    return buffer.getvalue()


@transaction.atomic
def case_indicators_export(*, case: Case, user, fmt: str, tlp: str) -> tuple[str, str, str]:
    """(file name, content type, text) of the case's campaign indicators."""
    if fmt not in FORMATS:
        raise ValueError(f"no export format {fmt!r}")
    tlp = Tlp(tlp)
    rows = campaign_indicators(case)
    stamp = timezone.now()
    name = f"case-{case.pk}-indicators-{tlp.value.replace('+', '-')}-{stamp:%Y%m%d-%H%M}"
    if fmt == "stix":
        text = stix.build_bundle(
            rows,
            tlp=tlp,
            identity_name=settings.INDICATOR_SHARING_IDENTITY,
            name=_campaign_name(case),
            created=stamp,
        )
        result = (f"{name}.stix.json", "application/stix+json;version=2.1", text)
    else:
        result = (f"{name}.csv", "text/csv; charset=utf-8", indicators_csv(rows, tlp=tlp))
    audit.record(
        "export.created",
        actor=user,
        case=case,
        target=case,
        data={"format": fmt, "scope": "case_indicators", "rows": len(rows), "tlp": tlp.label},
    )
    return result
