"""``rv.sql`` and ``to_arrow_reader`` keep a full scan's memory bounded,
checked in child processes.

A 1 GiB file of 40-byte records (eight fields, two of them big-endian) is
summed by fresh Python processes that report their peak resident set size
(``VmHWM`` from ``/proc/self/status``):

- ``rv.sql("select sum(price) ...")`` streams the view through DuckDB and
  stays under 256 MiB of peak RSS, and adds less than 128 MiB to what the
  child had after its imports (duckdb, pyarrow and numpy alone take about
  130 MiB; the scan adds about 55 MiB, whatever the file size);
- ``to_arrow_reader`` read batch by batch stays under the same bound;
- ``np.memmap(...)["price"].sum()`` over the same file grows past 900 MiB:
  every page of the mapping is touched and counts in RSS. This shows the bound
  is the streaming's work, not a file that was never read.

Each child also checks its sum against the exact value (the prices are
multiples of 0.25, so every sum is exact in float64). The file is deleted when
the test ends. The 3 GiB figures are in ``benchmarks/bench_sql.py`` and
``docs/sql.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.integration._child import json_of_child

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="VmHWM needs Linux /proc"
)

MIB = 1 << 20
FILE_NBYTES = 1024 * MIB
LIMIT = 256 * MIB
GROWTH_LIMIT = 128 * MIB
MEMMAP_FLOOR = 900 * MIB
DTYPE_SPEC = [
    ["ts", "<u8"],
    ["price", "<f8"],
    ["qty", "<u4"],
    ["side", "u1"],
    ["venue", "S3"],
    ["seq", ">u8"],
    ["bid", ">f4"],
    ["ask", "<f4"],
]
DTYPE = np.dtype([tuple(f) for f in DTYPE_SPEC])
BLOCK_RECORDS = (32 * MIB) // DTYPE.itemsize

CHILD = r"""
import json, sys
import numpy as np

def peak_rss():
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
    return int(status["VmHWM"].split()[0]) * 1024

path, how = sys.argv[1], sys.argv[2]
dtype = np.dtype([tuple(field) for field in json.loads(sys.argv[3])])
if how != "memmap":
    import duckdb, pyarrow.compute, pyarrow.dataset
    import recview as rv
    from recview.sql import sql, to_arrow_reader
base = peak_rss()  # the libraries alone
if how == "memmap":
    total = float(np.memmap(path, dtype=dtype, mode="r")["price"].sum())
elif how == "sql":
    with rv.open(path, dtype) as view:
        table = sql("select sum(price) as s, count(*) as n from t", t=view)
        total = table.column("s")[0].as_py()
        assert table.column("n")[0].as_py() == len(view)
else:
    total = 0.0
    with rv.open(path, dtype) as view:
        for batch in to_arrow_reader(view, columns=["price", "seq"]):
            total += pyarrow.compute.sum(batch.column(0)).as_py()
print(json.dumps({"total": total, "peak_rss": peak_rss(), "base_rss": base}))
"""


def _block() -> np.ndarray:
    recs = np.zeros(BLOCK_RECORDS, DTYPE)
    i = np.arange(BLOCK_RECORDS)
    recs["ts"] = i
    recs["price"] = (i % 1000) * 0.25
    recs["qty"] = 1
    recs["venue"] = b"XN"
    recs["seq"] = i
    recs["bid"] = 1.5
    return recs


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, float]]:
    path = tmp_path_factory.mktemp("sql_rss") / "trades.bin"
    block = _block()
    blocks = FILE_NBYTES // block.nbytes
    try:
        with open(path, "wb") as f:
            for _ in range(blocks):
                block.tofile(f)
        yield path, float(block["price"].sum()) * blocks
    finally:
        path.unlink(missing_ok=True)


def _child(path: Path, how: str) -> dict[str, float]:
    return json_of_child(CHILD, str(path), how, json.dumps(DTYPE_SPEC))


@pytest.mark.parametrize("how", ["sql", "reader"])
def test_streamed_sum_stays_bounded(big_file: tuple[Path, float], how: str) -> None:
    path, expected = big_file
    got = _child(path, how)
    assert got["total"] == expected
    peak, base = got["peak_rss"] / MIB, got["base_rss"] / MIB
    assert got["peak_rss"] < LIMIT, f"{how}: peak RSS {peak:.0f} MiB (imports: {base:.0f} MiB)"
    # What the scan itself added: a few windows and DuckDB's buffers.
    assert got["peak_rss"] - got["base_rss"] < GROWTH_LIMIT, f"{how}: {base:.0f} -> {peak:.0f} MiB"


def test_memmap_sum_grows_to_the_file_size(big_file: tuple[Path, float]) -> None:
    path, expected = big_file
    got = _child(path, "memmap")
    assert got["total"] == expected
    assert got["peak_rss"] > MEMMAP_FLOOR, f"memmap: peak RSS {got['peak_rss'] / MIB:.0f} MiB"
