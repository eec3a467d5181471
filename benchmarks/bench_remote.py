"""Remote reads over HTTP on loopback: recview.remote against fsspec's cat_file, and read-ahead.

Run from the repository root (not collected by pytest)::

    python benchmarks/bench_remote.py                  # 64 MiB object, 5 runs, ~30 s
    python benchmarks/bench_remote.py --mib 256 --runs 7 --latency-ms 5

The object is served from memory by the test suite's HTTP Range server
(``tests/remote_servers.py``) on 127.0.0.1, so the numbers measure the client
side (request overhead, copies, threads) and, with ``--latency-ms``, how much
of a per-request delay read-ahead hides. Every number is the median of
interleaved runs (``_util.median_times``); ratios are taken within the run.

1. **Scan throughput**: the sum of one field over every record, by
   ``RemoteRecords.batches()`` (8 MiB batches, with and without read-ahead),
   against the same ranges fetched with ``fs.cat_file(path, start, end)`` and
   summed (the baseline: fsspec with nothing of recview's). Target >= 0.6x.
2. **Latency hidden by read-ahead**: the server waits ``--latency-ms`` before
   each answer and the consumer computes about as long per batch (1 MiB
   batches); read-ahead overlaps the two, so its scan should take about half.
3. **Random records**: ``records[i]`` through the block cache (a warm and a
   cold cache) against one ``cat_file`` per record.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import _util
from _util import MIB

import recview as rv
from recview.remote import RemoteRecords, RemoteSource
from tests.remote_servers import RangeServer

SCHEMA = rv.Schema.from_dtype([("ts", "<u8"), ("px", "<f8"), ("qty", "<u4"), ("pad", "V12")])


def make_records(nbytes: int) -> bytes:
    n = nbytes // SCHEMA.itemsize
    recs = np.zeros(n, SCHEMA.dtype)
    recs["ts"] = np.arange(n)
    recs["px"] = np.arange(n) % 1000 / 8
    return recs.tobytes()


def scan(url: str, runs: int) -> list[list[str]]:
    remote = RemoteRecords(RemoteSource(url), SCHEMA)
    fs, path = remote.source._fs, remote.source._path
    spans = remote.ranges()
    want = float(np.frombuffer(make_records(remote.nbytes), SCHEMA.dtype)["px"].sum())

    def baseline() -> float:
        total = 0.0
        for a, n in spans:
            total += float(np.frombuffer(fs.cat_file(path, a, a + n), SCHEMA.dtype)["px"].sum())
        return total

    def batches(readahead: int) -> float:
        return float(sum(b["px"].sum() for b in remote.batches(readahead=readahead)))

    for fn in (baseline, lambda: batches(0), lambda: batches(2)):
        got = fn()
        assert abs(got - want) <= 1e-6 * abs(want), (got, want)
    times = _util.median_times(
        {
            "fsspec cat_file": baseline,
            "batches(readahead=0)": lambda: batches(0),
            "batches(readahead=2)": lambda: batches(2),
        },
        runs=runs,
    )
    base = times["fsspec cat_file"].median
    return [
        [
            name,
            f"{remote.nbytes / t.median / MIB:.0f} MiB/s",
            _util.fmt_time(t.median),
            f"{t.spread():.0%}",
            _util.fmt_ratio(base / t.median),
        ]
        for name, t in times.items()
    ]


def latency(server: RangeServer, url: str, runs: int, latency_ms: float) -> list[list[str]]:
    remote = RemoteRecords(RemoteSource(url), SCHEMA)
    records = MIB // SCHEMA.itemsize
    delay = latency_ms / 1000

    def consume(readahead: int) -> None:
        for b in remote.batches(records, readahead=readahead):
            b["px"].sum()
            time.sleep(delay)  # the caller's computation on the batch

    server.latency = delay
    try:
        times = _util.median_times(
            {f"readahead={k}": (lambda k=k: consume(k)) for k in (0, 1, 2)}, runs=runs
        )
    finally:
        server.latency = 0.0
    base = times["readahead=0"].median
    n = len(remote.ranges(records))
    return [
        [name, _util.fmt_time(t.median), f"{t.spread():.0%}", _util.fmt_ratio(base / t.median)]
        for name, t in times.items()
    ] + [["(floor)", _util.fmt_time(n * delay), f"{n} batches x {latency_ms:g} ms", ""]]


def random_records(url: str, runs: int, k: int = 300) -> list[list[str]]:
    remote = RemoteRecords(RemoteSource(url), SCHEMA)
    fs, path = remote.source._fs, remote.source._path
    rng = np.random.default_rng(0)
    idx = [int(i) for i in rng.integers(0, len(remote), k)]
    local = [int(i) for i in rng.integers(0, min(len(remote), 8000), k)]  # within a few blocks
    size = SCHEMA.itemsize

    def cat_file() -> None:
        for i in idx:
            fs.cat_file(path, i * size, (i + 1) * size)

    def cold() -> None:
        r = RemoteRecords(RemoteSource(url), SCHEMA)
        for i in idx:
            r[i]

    def warm() -> None:
        for i in local:
            remote[i]

    times = _util.median_times(
        {"cat_file per record": cat_file, "records[i], cold cache": cold, "records[i], hot": warm},
        runs=runs,
    )
    base = times["cat_file per record"].median
    return [
        [name, _util.fmt_time(t.median / k), _util.fmt_ratio(base / t.median)]
        for name, t in times.items()
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=int, default=64, help="object size in MiB (default 64)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    p.add_argument(
        "--latency-ms", type=float, default=5.0, help="server delay per request (default 5)"
    )
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = p.parse_args(argv)
    print(_util.machine())
    with RangeServer() as server:
        server.objects["big.bin"] = make_records(args.mib * MIB)
        server.objects["lat.bin"] = make_records(min(args.mib, 32) * MIB)
        print(f"\n1. scan of {args.mib} MiB over HTTP on loopback (8 MiB batches)")
        _util.print_table(
            ["reader", "throughput", "time", "spread", "vs cat_file"],
            scan(server.url("big.bin"), args.runs),
            markdown=args.markdown,
        )
        print(f"\n2. {args.latency_ms:g} ms per request and per batch of compute (1 MiB batches)")
        _util.print_table(
            ["batches()", "time", "spread", "speed-up"],
            latency(server, server.url("lat.bin"), max(3, args.runs // 2), args.latency_ms),
            markdown=args.markdown,
        )
        print(f"\n3. random records ({SCHEMA.itemsize} bytes each), per record")
        _util.print_table(
            ["read", "per record", "vs cat_file"],
            random_records(server.url("big.bin"), args.runs),
            markdown=args.markdown,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
