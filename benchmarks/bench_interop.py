"""Benchmarks of recview's interop: Dask scale-out and Parquet export.

Run from the repository root (not collected by pytest)::

    python benchmarks/bench_interop.py             # everything, a few minutes
    python benchmarks/bench_interop.py --quick     # smaller sizes, fewer runs
    python benchmarks/bench_interop.py dask        # one part: dask | parquet | memory

1. **dask**: a CPU-bound per-record computation (rounds of ``sin``/``cos`` on
   every record's fields) over several record files with headers, read with
   ``recview.dask.read`` on a ``dask.distributed.LocalCluster`` of 2 worker
   processes and on one of 1 worker process (1 thread each, both clusters
   started and warmed up before timing, runs interleaved). Target: speed-up
   (1 worker / 2 workers) >= 1.6x.
2. **parquet**: ``recview.interop.to_parquet(view, ...)`` straight from the
   mapped file (strided fields copied, a big-endian field swapped, ``char[8]``
   decoded, in batches) against ``pyarrow.parquet.write_table`` of the same
   columns already in memory as an Arrow table (the floor: encoding and
   compression only), same codec and row groups. Target: throughput ratio
   (pyarrow time / recview time) >= 0.8.
3. **memory**: peak RSS of a fresh process exporting a file, above its RSS
   after imports, for two file sizes 4-8x apart: it should not grow with the
   file (bounded by a couple of row groups plus allocator slack).

Files go to ``$TMPDIR`` and are removed afterwards.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util

import recview as rv
from recview import interop

SCHEMA = rv.Schema.from_dtype(
    [
        ("ts", "<u8"),
        ("price", ">f8"),
        ("qty", "<i4"),
        ("side", "u1"),
        ("sym", "S8"),
        ("hdr", [("seq", "<u4"), ("flags", "<u2")]),
        ("pos", "<f4", (2,)),
    ]
)
HEADER = 64  # bytes before the records of each file
ROUNDS = 96  # sin/cos rounds per record in the Dask computation


def write_files(root: Path, n_files: int, records: int) -> list[str]:
    rng = np.random.default_rng(7)
    paths = []
    for i in range(n_files):
        recs = np.zeros(records, dtype=SCHEMA.dtype)
        recs["ts"] = np.arange(records) + i * records
        recs["price"] = rng.uniform(1, 100, records)
        recs["qty"] = rng.integers(-1000, 1000, records)
        recs["side"] = rng.integers(1, 3, records)
        recs["sym"] = np.array([b"AAPL", b"MSFT", b"GOOG", b"BRK.A"])[rng.integers(0, 4, records)]
        recs["hdr"]["seq"] = np.arange(records)
        recs["pos"] = rng.standard_normal((records, 2))
        path = root / f"ticks{i:02d}.bin"
        with open(path, "wb") as f:
            f.write(b"\0" * HEADER)
            recs.tofile(f)
        paths.append(str(path))
    return paths


def heavy(part: Any, run: int = 0) -> Any:
    """The per-record work: ROUNDS of transcendental math on every record.

    Written without temporaries: dask's worker processes run with
    ``MALLOC_TRIM_THRESHOLD_=65536``, so a loop that allocates a fresh array
    per operation page-faults its memory in again and again there, which
    would measure the allocator rather than the scale-out. *run* only makes
    each run's task keys new, so that no result is reused from the last run.
    """
    import pandas as pd

    x = part["price"].to_numpy(dtype=np.float64, copy=True)
    q = part["qty"].to_numpy(dtype=np.float64) * 1e-3
    tmp = np.empty_like(x)
    for _ in range(ROUNDS):
        np.add(q, x, out=tmp)
        np.cos(tmp, out=tmp)
        np.sin(x, out=x)
        x += tmp
    return pd.Series([float(x.sum()), float(len(part))])


def _worker_cpu() -> float:
    return time.process_time()


def bench_dask(root: Path, *, quick: bool) -> list[list[str]]:
    import distributed

    import recview.dask as rvd

    n_files, records = (4, 250_000) if quick else (4, 500_000)
    paths = write_files(root, n_files, records)
    for p in paths:
        _util.warm(p)
    blocksize = -(-records // 3) * SCHEMA.itemsize  # 3 partitions a file, 12 in all
    df = rvd.read(paths, SCHEMA, offset=HEADER, blocksize=blocksize, columns=["price", "qty"])
    parts = rvd.partitions(paths, SCHEMA, offset=HEADER, blocksize=blocksize)

    def serial() -> None:  # the same work in this process, without dask
        for part in parts:
            with part.open() as view:
                heavy(interop.to_pandas(view[part.start : part.stop], columns=["price", "qty"]))

    clusters = {}
    clients = {}
    wall: dict[str, list[float]] = {"serial": [], "1 worker": [], "2 workers": []}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    busiest: dict[str, list[float]] = {name: [] for name in wall}
    load_before = os.getloadavg()[0]
    try:
        for workers in (1, 2):
            clusters[workers] = distributed.LocalCluster(
                n_workers=workers,
                processes=True,
                threads_per_worker=1,
                dashboard_address=":0",  # a free port: 8787 may be taken (UserWarning)
                worker_dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            clients[workers] = distributed.Client(clusters[workers], set_as_default=False)
        results = {}
        for k in range(1 + (3 if quick else 5)):  # one warm-up round, then interleaved runs
            for name, client in (
                ("serial", None),
                ("1 worker", clients[1]),
                ("2 workers", clients[2]),
            ):
                c0 = client.run(_worker_cpu) if client else {"": time.process_time()}
                t0 = time.perf_counter()
                if client is None:
                    serial()
                else:
                    work = df.map_partitions(heavy, k, meta=(None, "f8"))
                    results[name] = client.compute(work).result()
                t1 = time.perf_counter()
                c1 = client.run(_worker_cpu) if client else {"": time.process_time()}
                if k:
                    wall[name].append(t1 - t0)
                    per_worker = [c1[w] - c0[w] for w in c0]
                    cpu[name].append(sum(per_worker))
                    busiest[name].append(max(per_worker))
        got1, got2 = results["1 worker"].to_numpy(), results["2 workers"].to_numpy()
        assert np.allclose(got1, got2)
        assert got1[1::2].sum() == n_files * records
    finally:
        for c in clients.values():
            c.close()
        for cl in clusters.values():
            cl.close()
    load_after = os.getloadavg()[0]
    t = {name: _util.Timing(tuple(v)) for name, v in wall.items()}
    c = {name: _util.Timing(tuple(v)) for name, v in cpu.items()}
    b = {name: _util.Timing(tuple(v)) for name, v in busiest.items()}
    speedup = t["1 worker"].median / t["2 workers"].median
    # What the speed-up would be if nothing else ran: the 1-worker CPU time
    # over the busiest of the 2 workers' CPU times (the critical path).
    cpu_speedup = b["1 worker"].median / b["2 workers"].median
    mib = n_files * records * SCHEMA.itemsize / _util.MIB
    print(
        f"dask: {n_files} files x {records:,} records ({mib:.0f} MiB), "
        f"{df.npartitions} partitions, {ROUNDS} sin/cos rounds per record; "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
    )

    def row(name: str, label: str, extra: str = "") -> list[str]:
        busy = c[name].median / t[name].median  # cores kept busy on average
        return [
            label,
            f"{_util.fmt_time(t[name].median)} (CPU {_util.fmt_time(c[name].median)})",
            f"{t[name].spread():.0%}",
            f"{busy:.2f} cores busy{extra}",
        ]

    return [
        row("serial", "same work in one process, no dask"),
        row("1 worker", "dask, 1 worker process"),
        row(
            "2 workers",
            "dask, 2 worker processes",
            f"; speed-up {speedup:.2f}x wall, {cpu_speedup:.2f}x by worker CPU (target >= 1.6x)",
        ),
    ]


def timed(cases: dict[str, Any], runs: int) -> dict[str, tuple[_util.Timing, _util.Timing]]:
    """Wall and process-CPU seconds of each case, interleaved, after one warm-up.

    CPU time is reported too because the machine is shared: when other jobs
    hold the cores, wall time measures them as much as us.
    """
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for k in range(runs + 1):
        for name, fn in cases.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            if k:
                wall[name].append(time.perf_counter() - w0)
                cpu[name].append(time.process_time() - c0)
    return {n: (_util.Timing(tuple(wall[n])), _util.Timing(tuple(cpu[n]))) for n in cases}


def bench_parquet(root: Path, *, quick: bool) -> list[list[str]]:
    import pyarrow.parquet as pq

    records = 1_000_000 if quick else 4_000_000
    (path,) = write_files(root, 1, records)
    _util.warm(path)
    row_group = 1 << 18
    out_rv, out_pa = str(root / "rv.parquet"), str(root / "pa.parquet")
    with rv.open(path, SCHEMA, offset=HEADER) as view:
        table = interop.to_arrow(view.columns())  # the same columns, in memory

        def export() -> None:
            interop.to_parquet(view, out_rv, row_group_records=row_group)

        def baseline() -> None:
            pq.write_table(table, out_pa, row_group_size=row_group, compression="snappy")

        got = timed({"recview": export, "pyarrow": baseline}, runs=3 if quick else 5)
    back = pq.read_table(out_rv)
    assert back.equals(pq.read_table(out_pa).replace_schema_metadata(back.schema.metadata))
    nbytes = records * SCHEMA.itemsize
    (w_rv, c_rv), (w_pa, c_pa) = got["recview"], got["pyarrow"]
    print(
        f"parquet: {records:,} records of {SCHEMA.itemsize} bytes ({nbytes / _util.MIB:.0f} MiB), "
        f"row groups of {row_group:,} records, snappy"
    )

    def row(name: str, wall: _util.Timing, cpu: _util.Timing, extra: str) -> list[str]:
        return [
            name,
            f"{_util.fmt_time(wall.median)} (CPU {_util.fmt_time(cpu.median)})",
            f"{wall.spread():.0%}",
            f"{nbytes / wall.median / _util.MIB:.0f} MiB/s of records{extra}",
        ]

    ratio = (
        f", ratio {_util.fmt_ratio(w_pa.median / w_rv.median)} wall, "
        f"{_util.fmt_ratio(c_pa.median / c_rv.median)} CPU (target >= 0.8x)"
    )
    return [
        row("pyarrow write_table, columns in memory", w_pa, c_pa, ""),
        row("recview to_parquet(view)", w_rv, c_rv, ratio),
    ]


MEMORY_CHILD = """
import json, sys
import numpy as np, pyarrow, pyarrow.parquet, pandas
import _util, recview as rv
from recview import interop
schema = rv.Schema.from_json(sys.argv[3])
# Warm up on 10 records: lazy imports (pyarrow.compute) and one-time setup
# are not what this measures.
with rv.open(sys.argv[1], schema, offset=int(sys.argv[4]), count=10) as view:
    interop.to_parquet(view, sys.argv[2])
before = _util.memory_status()["rss"]
with rv.open(sys.argv[1], schema, offset=int(sys.argv[4])) as view:
    interop.to_parquet(view, sys.argv[2], row_group_records=int(sys.argv[5]))
print(json.dumps({"before": before, **_util.memory_status()}))
"""


def bench_memory(root: Path, *, quick: bool) -> list[list[str]]:
    row_group = 1 << 17
    rows = []
    for records in (500_000, 2_000_000) if quick else (1_000_000, 8_000_000):
        sub = root / f"mem{records}"
        sub.mkdir()
        (path,) = write_files(sub, 1, records)
        got = _util.run_child(
            MEMORY_CHILD,
            path,
            str(sub / "m.parquet"),
            SCHEMA.to_json(),
            str(HEADER),
            str(row_group),
        )
        shutil.rmtree(sub)
        nbytes = records * SCHEMA.itemsize
        detail = (
            f"file of {_util.fmt_bytes(nbytes)}; row groups of {row_group:,} records "
            f"({_util.fmt_bytes(row_group * SCHEMA.itemsize)} of records)"
        )
        growth = _util.fmt_bytes(got["peak_rss"] - got["before"])
        rows.append([f"to_parquet peak RSS growth, {records:,} records", growth, "", detail])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", help="dask, parquet and/or memory (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs")
    args = parser.parse_args(argv)
    parts = args.parts or ["dask", "parquet", "memory"]
    if set(parts) - {"dask", "parquet", "memory"}:
        parser.error(f"unknown part(s): {sorted(set(parts) - {'dask', 'parquet', 'memory'})}")
    print(_util.machine())
    rows: list[list[str]] = []
    root = Path(tempfile.mkdtemp(prefix="bench_interop_"))
    try:
        if "dask" in parts:
            rows += bench_dask(root, quick=args.quick)
        if "parquet" in parts:
            rows += bench_parquet(root, quick=args.quick)
        if "memory" in parts:
            rows += bench_memory(root, quick=args.quick)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    _util.print_table(["case", "median", "spread", "result"], rows, markdown=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
