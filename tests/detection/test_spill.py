"""Rows held in partitions and read back in parts (``detection.spill``)."""

import polars as pl
import pytest

from detection.spill import Spill


def _rows(partition: int, n: int) -> pl.DataFrame:
    return pl.DataFrame({"p": [partition] * n, "v": list(range(n))})


@pytest.mark.parametrize("on_disk", [False, True])
def test_parts_are_whole_partitions_in_order_up_to_the_limit(tmp_path, on_disk):
    spill = Spill(name="t", directory=tmp_path if on_disk else None)
    # Added out of order and in pieces: partition 2 twice, 0 and 1 once.
    spill.add(pl.concat([_rows(2, 1), _rows(0, 3)]), by="p")
    spill.add(pl.concat([_rows(1, 2), _rows(2, 3)]), by="p")

    assert spill.rows == 9
    # 0 (3 rows) and 1 (2) fit in 5; 2 (4) starts a part of its own.
    assert [p.height for p in spill.parts(5)] == [5, 4]
    # A partition larger than the limit is still read whole, alone.
    assert [p.height for p in spill.parts(2)] == [3, 2, 4]
    assert [p.height for p in spill.parts(0)] == [3, 2, 4]
    assert sorted(pl.concat(spill.parts(100))["v"].to_list()) == sorted(
        [0, 1, 2] + [0, 1] + [0, 0, 1, 2]
    )
    assert "p" not in next(spill.parts(100)).columns
    assert len(list(tmp_path.glob("t-*.arrow"))) == (4 if on_disk else 0)


def test_nothing_held_reads_as_no_parts():
    spill = Spill(name="t")
    spill.put(3, _rows(3, 0))
    spill.add(_rows(1, 0), by="p")

    assert spill.rows == 0
    assert list(spill.parts(10)) == []
