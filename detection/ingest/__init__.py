"""Telemetry ingest: the contract in DESIGN.md ("Ingest format"), files to Account/Exchange.

- :mod:`detection.ingest.parse`: validation of one record (pure).
- :mod:`detection.ingest.formats`: finding files and streaming records out of them.
- :mod:`detection.ingest.loaders`: writing batches (PostgreSQL ``COPY`` or portable).
- :mod:`detection.ingest.service`: one file end to end, with its IngestReport.

The operator's guide is docs/ingest.md.
"""

from detection.ingest.formats import Source, SourceError, resolve
from detection.ingest.service import ingest_source, report_for

__all__ = ["Source", "SourceError", "ingest_source", "report_for", "resolve"]
