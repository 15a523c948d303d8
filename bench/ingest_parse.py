"""Parse-only CPU cost of a JSON Lines exchanges file: ingest's in-process reader
(``detection.ingest.batches.read_batches``: decode, check, clean, fingerprint), no database.

    .venv/bin/python bench/ingest_parse.py FILE [--lines 200000] [--salt]

Takes the first ``--lines`` lines of FILE (JSON Lines, optionally gzipped; e.g. the data
``bench/ingest.py`` writes under var/bench-ingest/), with ``--salt`` every prompt salted with
a NUL and a lone surrogate (``\\u0000\\ud800``: the rows ingest must clean and mark), and
prints the best of three CPU times (``time.process_time``) a row. Nothing is asserted; the
figures go in docs/benchmarks.md ("Ingest").
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--salt", action="store_true", help="salt every prompt")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    from detection.ingest.batches import read_batches
    from detection.ingest.formats import Source

    opener = gzip.open if args.file.name.endswith(".gz") else open
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exchanges.jsonl"
        with opener(args.file, "rb") as source, path.open("wb") as out:
            for line in itertools.islice(source, args.lines):
                if args.salt:
                    line = line.replace(b'"prompt":"', b'"prompt":"\\u0000\\ud800', 1)
                out.write(line)
        best = None
        for _ in range(3):
            started = time.process_time()
            rows = rejected = cleaned = 0
            for batch in read_batches(Source(path, "exchanges"), 0, 20_000, 32 << 20):
                rows += len(batch.rows)
                rejected += batch.rejected
                cleaned += batch.cleaned
            took = time.process_time() - started
            best = took if best is None else min(best, took)
    total = max(rows + rejected, 1)
    print(
        f"{rows:,} rows, {rejected:,} rejected, {cleaned:,} cleaned; best of 3: "
        f"{best:.2f} CPU s = {best / total * 1e6:.2f} µs a row"
    )


if __name__ == "__main__":
    main()
