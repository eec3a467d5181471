"""Benchmarks of ``rv.sql``: memory and time of a streamed scan, and what
projection pushdown saves.

Run from the repository root (not collected by pytest)::

    python benchmarks/bench_sql.py              # 3 GiB file, about two minutes
    python benchmarks/bench_sql.py --quick      # 512 MiB, fewer runs
    python benchmarks/bench_sql.py sum          # one part: sum | projection

1. **sum**: ``rv.sql("select sum(price) from t", t=view)`` against
   ``np.memmap(path, dtype)["price"].sum()`` over the same file (page cache
   warm), each in a fresh child process that reports the scan's wall time and
   its peak RSS (``VmHWM``), plus its RSS after imports. Runs are
   interleaved; medians. The memmap sum touches every page of the mapping, so
   its peak grows to the file size; the streamed scan's should not.
2. **projection**: in this process, on the first ``--projection-nbytes`` of
   the file, a query reading 2 of the record's 8 fields through ``rv.sql``
   (only those 2 are converted), the same query over a plain
   ``to_arrow_reader(view)`` registered in DuckDB (DuckDB cannot push the
   projection into a reader, so all 8 are converted), and a query reading all
   8 fields through ``rv.sql``.

The file (40-byte records: two big-endian fields, a ``char[3]``) goes to
``$TMPDIR`` and is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util

import recview as rv
from recview.sql import sql, to_arrow_reader

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
BLOCK_RECORDS = (64 * _util.MIB) // DTYPE.itemsize

TWO = "select side, sum(price) as s from t group by side"
EIGHT = (
    "select side, sum(price), sum(qty), max(ts), max(seq), avg(bid), avg(ask), "
    "count(distinct venue) from t group by side"
)

CHILD = r"""
import json, sys, time
import numpy as np
import _util

path, how = sys.argv[1], sys.argv[2]
dtype = np.dtype([tuple(field) for field in json.loads(sys.argv[3])])
if how == "sql":
    import duckdb, pyarrow, pyarrow.dataset
    import recview as rv
    from recview.sql import sql
base = _util.memory_status()["peak_rss"]
t0 = time.perf_counter()
if how == "sql":
    with rv.open(path, dtype) as view:
        total = sql("select sum(price) as s from t", t=view).column("s")[0].as_py()
else:
    total = float(np.memmap(path, dtype=dtype, mode="r")["price"].sum())
seconds = time.perf_counter() - t0
print(json.dumps({"total": total, "seconds": seconds, "base_rss": base,
                  **_util.memory_status()}))
"""


def make_file(path: Path, nbytes: int) -> float:
    """Write about *nbytes* of records; return the exact sum of ``price``."""
    recs = np.zeros(BLOCK_RECORDS, DTYPE)
    i = np.arange(BLOCK_RECORDS)
    recs["ts"] = i
    recs["price"] = (i % 1000) * 0.25
    recs["qty"] = i % 13
    recs["side"] = i % 3
    recs["venue"] = np.where(i % 2 == 0, b"XN", b"ARC")
    recs["seq"] = i
    recs["bid"] = (i % 50) * 0.5
    recs["ask"] = (i % 50) * 0.5 + 1
    blocks = max(1, nbytes // recs.nbytes)
    with open(path, "wb") as f:
        for _ in range(blocks):
            recs.tofile(f)
    return float(recs["price"].sum()) * blocks


def bench_sum(path: Path, expected: float, runs: int) -> None:
    print(f"\n## sum over {_util.fmt_bytes(path.stat().st_size)} (child processes)\n")
    _util.warm(str(path))
    results: dict[str, list[dict[str, float]]] = {"rv.sql": [], "np.memmap": []}
    for _ in range(runs):
        for name, how in (("rv.sql", "sql"), ("np.memmap", "memmap")):
            got = _util.run_child(CHILD, str(path), how, json.dumps(DTYPE_SPEC))
            assert got["total"] == expected, (name, got["total"], expected)
            results[name].append(got)

    def med(name: str, key: str) -> float:
        return float(np.median([r[key] for r in results[name]]))

    base = med("np.memmap", "seconds")
    rows = [
        [
            name,
            _util.fmt_time(med(name, "seconds")),
            _util.fmt_ratio(med(name, "seconds") / base),
            _util.fmt_bytes(med(name, "peak_rss")),
            _util.fmt_bytes(med(name, "base_rss")),
        ]
        for name in results
    ]
    _util.print_table(
        ["scan", "time (median)", "vs memmap", "peak RSS", "RSS after imports"],
        rows,
        markdown=True,
    )


def bench_projection(path: Path, nbytes: int, runs: int) -> None:
    import duckdb

    count = min(nbytes, path.stat().st_size) // DTYPE.itemsize
    with rv.open(path, DTYPE, count=count) as view:
        scanned = view.nbytes
        print(f"\n## projection over {_util.fmt_bytes(view.nbytes)} (in process)\n")
        _util.warm(str(path))

        def plain_reader() -> Any:
            con = duckdb.connect()
            con.execute("SET python_enable_replacements = false")
            con.register("t", to_arrow_reader(view))
            try:
                return con.sql(TWO).to_arrow_table()
            finally:
                con.close()

        cases = {
            "2 of 8 fields, rv.sql": lambda: sql(TWO, t=view),
            "2 of 8 fields, plain reader": plain_reader,
            "8 of 8 fields, rv.sql": lambda: sql(EIGHT, t=view),
        }
        # Both sources give the same answer; only the work differs.
        pushed = sql(TWO, t=view).sort_by("side")
        plain = plain_reader().sort_by("side")
        assert pushed.equals(plain), (pushed, plain)
        timings = _util.median_times(cases, runs=runs, warmup=1)
    base = timings["2 of 8 fields, rv.sql"].median
    rows = [
        [
            name,
            _util.fmt_time(t.median),
            _util.fmt_ratio(t.median / base),
            _util.fmt_bytes(scanned / t.median) + "/s",
        ]
        for name, t in timings.items()
    ]
    _util.print_table(
        ["query", "time (median)", "vs 2 of 8", "file throughput"], rows, markdown=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["sum", "projection"], help="run one part")
    parser.add_argument("--quick", action="store_true", help="512 MiB, fewer runs")
    parser.add_argument("--nbytes", type=int, default=3 * _util.GIB, help="file size in bytes")
    parser.add_argument(
        "--projection-nbytes", type=int, default=_util.GIB, help="bytes the projection part reads"
    )
    args = parser.parse_args()
    nbytes = 512 * _util.MIB if args.quick else args.nbytes
    runs = 2 if args.quick else 3
    print(_util.machine())
    tmp = Path(tempfile.mkdtemp(prefix="bench_sql_", dir=os.environ.get("TMPDIR")))
    try:
        path = tmp / "trades.bin"
        expected = make_file(path, nbytes)
        if args.part in (None, "sum"):
            bench_sum(path, expected, runs)
        if args.part in (None, "projection"):
            bench_projection(path, min(args.projection_nbytes, nbytes), runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
