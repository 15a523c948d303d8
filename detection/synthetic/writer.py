"""Streaming writers for the ingest format (JSON Lines or CSV, gzipped).

Rows go to disk as they are made: memory holds one chunk of accounts' exchanges at a time,
never the data set. JSON Lines rows leave out optional fields that have no value; CSV rows
leave the cell empty. Booleans are ``true``/``false`` in both.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import IO

import orjson

# Quick enough for millions of rows; level 9 costs several times the CPU for a barely smaller file.
COMPRESSLEVEL = 5


class RowWriter:
    """One output file of one record kind; ``write`` takes a list of row dicts."""

    def __init__(self, path: Path, fields: list[str], fmt: str):
        self.path, self.fields, self.fmt = path, fields, fmt
        self.rows = 0
        self._fh: IO
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"unknown format {fmt!r}")
        # mtime=0: the gzip header carries no date, so a seed always gives the same bytes.
        self._raw = path.open("wb")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=COMPRESSLEVEL, mtime=0)
        if fmt == "jsonl":
            self._fh = self._gz
        else:
            self._fh = io.TextIOWrapper(self._gz, encoding="utf-8", newline="")
            self._csv = csv.writer(self._fh, lineterminator="\n")
            self._csv.writerow(fields)

    def write(self, rows: list[dict]) -> None:
        if self.fmt == "jsonl":
            dumps = orjson.dumps
            self._fh.write(b"".join(dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
        else:
            fields = self.fields
            self._csv.writerows([[_cell(r.get(f)) for f in fields] for r in rows])
        self.rows += len(rows)

    def close(self) -> None:
        self._fh.close()  # closes the gzip stream (and the wrapper around it) ...
        self._raw.close()  # ... but not a file object it was given

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cell(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def file_name(kind: str, fmt: str) -> str:
    return f"{kind}.{'jsonl' if fmt == 'jsonl' else 'csv'}.gz"
