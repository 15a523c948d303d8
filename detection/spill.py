"""Rows a run holds in numbered partitions, in memory or spilled to disk, read back in parts.

A run's finalise step reads its chunks one at a time; what it keeps of each for a count over
the whole window (co-action cells by day, template bands by their key's bucket) is put in
the partition everything that count needs together lies in, and read back a few
consecutive partitions at a time, so that a part is counted whole and only one part is in
memory at once. Given a ``directory`` (a temporary one the step removes), each partition's
rows are written there as Arrow IPC files as they come; without one they stay in memory (a
test's or a backtest's frames).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import polars as pl


class Spill:
    """Frames under integer partitions; their files are named ``{name}-{partition}-{n}``."""

    def __init__(self, *, name: str, directory: Path | None = None) -> None:
        self.name = name
        self.directory = directory
        self._held: dict[int, list[pl.DataFrame | Path]] = defaultdict(list)
        self._rows: Counter[int] = Counter()

    def add(self, rows: pl.DataFrame, *, by: str) -> None:
        """``rows``, each in the partition its column ``by`` names (the column is dropped)."""
        for (partition,), part in rows.partition_by(by, as_dict=True).items():
            self.put(int(partition), part.drop(by))

    def put(self, partition: int, rows: pl.DataFrame) -> None:
        if rows.is_empty():
            return
        self._rows[partition] += rows.height
        if self.directory is None:
            self._held[partition].append(rows)
            return
        path = self.directory / f"{self.name}-{partition}-{len(self._held[partition])}.arrow"
        rows.write_ipc(path)
        self._held[partition].append(path)

    @property
    def rows(self) -> int:
        return sum(self._rows.values())

    def parts(self, limit: int) -> Iterator[pl.DataFrame]:
        """The rows a part at a time: consecutive partitions in their order, at most ``limit``
        rows in a part unless one partition alone has more (so ``limit`` 0 reads each
        partition alone); nothing when there are no rows."""
        part: list[pl.DataFrame | Path] = []
        held = 0
        for partition in sorted(self._held):
            if part and held + self._rows[partition] > limit:
                yield _read(part)
                part, held = [], 0
            part.extend(self._held[partition])
            held += self._rows[partition]
        if part:
            yield _read(part)


def _read(sources: list[pl.DataFrame | Path]) -> pl.DataFrame:
    return pl.concat([s if isinstance(s, pl.DataFrame) else pl.read_ipc(s) for s in sources])
