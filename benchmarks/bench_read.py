"""The read path against its limits, side by side in one run (issue 11).

One command prints every figure of the issue's table, each as a ratio of two
timings taken in the same run, median over interleaved runs::

    python benchmarks/bench_read.py                 # 1 GiB file, 7 runs
    python benchmarks/bench_read.py --mib 256 --runs 5

The anchors are what a careful user would write without recview:

- **scan**: ``view.batches()`` summing one field per batch, against a full
  ``np.memmap`` scan of the same field (fresh map each run), and against a
  hand-written loop over one ``mmap.mmap`` in 16 MiB windows, each summed
  through ``np.frombuffer`` and released with ``MADV_DONTNEED`` (the
  bounded-memory way to scan without recview);
- **random access**: ``view[i]`` against ``np.memmap``'s ``mm[i]`` and a bare
  ndarray over a mapping (``arr[i]``), the same random indices;
- **columns**: ``view.columns()`` (every field into its own contiguous array)
  against one ``memcpy`` of the same bytes out of a fresh mapping into fresh
  memory (the limit: columns() reads and writes every byte once, as memcpy
  does), and against ``np.memmap`` + one copy per field;
- **field sum**: ``view["price"].sum()`` against ``np.memmap``'s;
- **stream**: ``rv.stream`` through a pipe against a bare ``readinto`` loop
  over the same pipe.

Every file is written under ``--dir`` (default ``$TMPDIR`` or ``/tmp``),
synced and read once into the page cache, so the timings are of a warm cache:
recview's overhead, mapping faults and memory bandwidth, not the disk. The
file is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import mmap
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import recview as rv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util
from _util import MIB
from bench_core import TICK  # the 32-byte trade tick of the core benchmarks

WINDOW = 16 * MIB  # the hand-written loop's window
LOOKUPS = 200_000

#: The issue's table: (figure, today, target text, test on the ratio).
TARGETS: dict[str, tuple[str, str, Callable[[float], bool]]] = {
    "batches / np.memmap scan": ("1.19-1.31", "<= 1.10", lambda r: r <= 1.10),
    "batches / hand 16 MiB windows": ("1.25", "<= 1.05", lambda r: r <= 1.05),
    "batches(8 MiB) / hand 8 MiB windows": ("-", "(reference)", lambda r: True),
    "batches(8 MiB) / np.memmap scan": ("(the old default)", "(reference)", lambda r: True),
    "view[i] / mm[i]": ("0.70-0.83", "<= 0.50", lambda r: r <= 0.50),
    "arr[i] / mm[i] (bare ndarray)": ("0.36", "(reference)", lambda r: True),
    "memcpy time / columns() time": ("0.55-0.60", ">= 0.80", lambda r: r >= 0.80),
    "memcpy (touched dest) / columns()": ("-", "(reference)", lambda r: True),
    "columns() / memmap + copy per field": ("(1.9-2.2x faster)", "(reference)", lambda r: True),
    "view field sum / np.memmap": ("0.92", "no regression (<= 1.0)", lambda r: r <= 1.0),
    "stream / bare readinto loop": ("1.01", "no regression (<= ~1.05)", lambda r: r <= 1.05),
}


def write_file(path: str, nbytes: int) -> int:
    n = nbytes // TICK.itemsize
    rng = np.random.default_rng(0)
    chunk = 1 << 20
    with open(path, "wb") as f:
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            r = np.zeros(b - a, TICK)
            r["ts"] = np.arange(a, b)
            r["price"] = rng.random(b - a)
            r["qty"] = rng.integers(0, 1000, b - a)
            r["seq"] = np.arange(a, b)
            f.write(r.tobytes())
        f.flush()
        os.fsync(f.fileno())
    return n


# -- scan ------------------------------------------------------------------------


def scan_batches(path: str, nbytes: int | None = None) -> float:
    with rv.open(path, TICK) as view:
        return float(sum(b["price"].sum() for b in view.batches(nbytes=nbytes)))


def scan_memmap(path: str) -> float:
    mm = np.memmap(path, TICK, mode="r")
    total = float(mm["price"].sum())
    del mm
    return total


def scan_hand(path: str, window: int = WINDOW) -> float:
    total = 0.0
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        m = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
        step = window - window % TICK.itemsize
        try:
            for a in range(0, size, step):
                n = min(step, size - a) // TICK.itemsize
                arr = np.frombuffer(m, TICK, count=n, offset=a)
                total += float(arr["price"].sum())
                del arr
                m.madvise(mmap.MADV_DONTNEED, a, min(step, size - a))
        finally:
            m.close()
    return total


# -- random access ----------------------------------------------------------------


def lookups(path: str, n: int) -> tuple[Callable[[], Any], Callable[[], Any], Callable[[], Any]]:
    idx = [random.Random(1).randrange(n) for _ in range(LOOKUPS)]
    view = rv.open(path, TICK)
    mm = np.memmap(path, TICK, mode="r")
    arr = np.asarray(mm)  # a bare ndarray over the same mapping
    for i in idx[:1000]:  # fault the pages in for all three
        view[i], mm[i], arr[i]

    def v() -> Any:
        for i in idx:
            view[i]

    def m() -> Any:
        for i in idx:
            mm[i]

    def a() -> Any:
        for i in idx:
            arr[i]

    return v, m, a


# -- columns ---------------------------------------------------------------------------


def columns_recview(path: str) -> Any:
    with rv.open(path, TICK) as view:
        return view.columns()


_DEST: dict[int, np.ndarray[Any, Any]] = {}


def memcpy(path: str, *, touched: bool = False) -> Any:
    """One copy of the file's bytes out of a fresh mapping: into fresh memory
    (np.empty: its pages are faulted in by the copy, as columns() outputs
    are), or with ``touched`` into one buffer reused across runs."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        m = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ)
    if touched:
        out = _DEST.get(size)
        if out is None:
            out = _DEST[size] = np.ones(size, np.uint8)
    else:
        out = np.empty(size, np.uint8)
    src = np.frombuffer(m, np.uint8)
    np.copyto(out, src)
    del src
    m.close()
    return out


def columns_memmap(path: str) -> Any:
    mm = np.memmap(path, TICK, mode="r")
    cols = {name: np.array(mm[name]) for name in TICK.names or ()}
    del mm
    return cols


# -- field sum ----------------------------------------------------------------------


def sum_view(path: str) -> float:
    with rv.open(path, TICK) as view:
        return float(view["price"].sum())


# -- stream -----------------------------------------------------------------------------


def _cat(path: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["cat", path], stdout=subprocess.PIPE, bufsize=0)


def stream_recview(path: str) -> float:
    proc = _cat(path)
    assert proc.stdout is not None
    total = float(sum(b["price"].sum() for b in rv.stream(proc.stdout, TICK)))
    proc.wait()
    return total


def stream_readinto(path: str) -> float:
    proc = _cat(path)
    assert proc.stdout is not None
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    have = 0
    total = 0.0
    while True:
        got = proc.stdout.readinto(mv[have:])
        if not got:
            break
        have += got
        n = have // TICK.itemsize
        if n:
            total += float(np.frombuffer(buf, TICK, count=n)["price"].sum())
            rest = have - n * TICK.itemsize
            mv[:rest] = mv[n * TICK.itemsize : have]
            have = rest
    proc.wait()
    return total


# -- driver ------------------------------------------------------------------------------


CLOCK = {"value": time.process_time}


def interleaved(
    fns: dict[str, Callable[[], Any]],
    runs: int,
    usage: dict[str, list[tuple[float, float, int]]] | None = None,
) -> dict[str, list[float]]:
    """Seconds of each function, ``runs`` rounds after one untimed round, in a
    shuffled order per round. Process CPU time by default (``--wall`` for the
    wall clock): on a shared machine the wall clock also counts the time other
    processes held the CPU; CPU time still counts the page faults and copies
    (kernel time), which is what the scans differ in. With ``usage``, also
    each run's (user s, system s, minor page faults) from ``getrusage``."""
    clock = CLOCK["value"]
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    rng = random.Random(2)
    for k in order:
        fns[k]()
    for _ in range(runs):
        rng.shuffle(order)
        for k in order:
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = clock()
            fns[k]()
            times[k].append(clock() - t0)
            if usage is not None:
                r1 = resource.getrusage(resource.RUSAGE_SELF)
                usage.setdefault(k, []).append(
                    (
                        r1.ru_utime - r0.ru_utime,
                        r1.ru_stime - r0.ru_stime,
                        r1.ru_minflt - r0.ru_minflt,
                    )
                )
    return times


def show_usage(what: str, usage: dict[str, list[tuple[float, float, int]]]) -> None:
    """Medians of user and system CPU time and of minor page faults: where
    the time of each case went (system time is mostly page faults)."""
    parts = []
    for k, runs in usage.items():
        user, sys_, faults = (float(np.median([r[i] for r in runs])) for i in range(3))
        parts.append(f"{k} {user * 1e3:.1f} + {sys_ * 1e3:.1f} ms, {faults:,.0f} faults")
    print(f"{what} user + system, minor faults: {'; '.join(parts)}", flush=True)


def show(what: str, times: dict[str, list[float]], scale: float, unit: str) -> None:
    """One line of medians, so that the ratios can be read against times."""
    medians = ", ".join(f"{k} {np.median(x) * scale:.1f} {unit}" for k, x in times.items())
    print(f"{what} medians: {medians}", flush=True)


def ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median over the runs of time(a) / time(b), the two from the same round."""
    return float(np.median([x / y for x, y in zip(times[a], times[b], strict=True)]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mib", type=int, default=1024, help="file size (default 1024)")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--dir", default=os.environ.get("TMPDIR", tempfile.gettempdir()))
    p.add_argument("--keep", action="store_true")
    p.add_argument("--wall", action="store_true", help="time the wall clock, not CPU time")
    p.add_argument("--only", help="comma-separated: scan,index,columns,sum,stream")
    args = p.parse_args(argv)
    if args.wall:
        CLOCK["value"] = time.perf_counter
    only = set(args.only.split(",")) if args.only else {"scan", "index", "columns", "sum", "stream"}
    path = os.path.join(args.dir, f"recview_bench_read_{args.mib}.bin")
    if not (os.path.exists(path) and os.path.getsize(path) == args.mib * MIB):
        write_file(path, args.mib * MIB)
    n = os.path.getsize(path) // TICK.itemsize
    _util.warm(path)
    results: dict[str, float] = {}
    try:
        if "scan" in only:
            if not np.isclose(scan_batches(path), scan_memmap(path)) or not np.isclose(
                scan_hand(path), scan_memmap(path)
            ):
                raise AssertionError("scans disagree")
            t = interleaved(
                {
                    "batches": lambda: scan_batches(path),
                    "memmap": lambda: scan_memmap(path),
                    "hand": lambda: scan_hand(path),
                    # like for like at the old default window
                    "batches8": lambda: scan_batches(path, 8 * MIB),
                    "hand8": lambda: scan_hand(path, 8 * MIB),
                },
                args.runs,
            )
            results["batches / np.memmap scan"] = ratio(t, "batches", "memmap")
            results["batches / hand 16 MiB windows"] = ratio(t, "batches", "hand")
            results["batches(8 MiB) / hand 8 MiB windows"] = ratio(t, "batches8", "hand8")
            results["batches(8 MiB) / np.memmap scan"] = ratio(t, "batches8", "memmap")
            show("scan", t, 1e3, "ms")
        if "index" in only:
            v, m, a = lookups(path, n)
            t = interleaved({"view": v, "mm": m, "arr": a}, args.runs)
            results["view[i] / mm[i]"] = ratio(t, "view", "mm")
            results["arr[i] / mm[i] (bare ndarray)"] = ratio(t, "arr", "mm")
            show("lookup", t, 1e9 / LOOKUPS, "ns")
        if "columns" in only:
            usage: dict[str, list[tuple[float, float, int]]] = {}
            t = interleaved(
                {
                    "columns": lambda: columns_recview(path),
                    "memcpy": lambda: memcpy(path),
                    "memcpy_touched": lambda: memcpy(path, touched=True),
                    "memmap": lambda: columns_memmap(path),
                },
                args.runs,
                usage,
            )
            results["memcpy time / columns() time"] = ratio(t, "memcpy", "columns")
            results["memcpy (touched dest) / columns()"] = ratio(t, "memcpy_touched", "columns")
            _DEST.clear()
            results["columns() / memmap + copy per field"] = ratio(t, "columns", "memmap")
            show("columns", t, 1e3, "ms")
            show_usage("columns", usage)
        if "sum" in only:
            t = interleaved(
                {"view": lambda: sum_view(path), "memmap": lambda: scan_memmap(path)}, args.runs
            )
            results["view field sum / np.memmap"] = ratio(t, "view", "memmap")
        if "stream" in only:
            if not np.isclose(stream_recview(path), stream_readinto(path)):
                raise AssertionError("streams disagree")
            t = interleaved(
                {"stream": lambda: stream_recview(path), "readinto": lambda: stream_readinto(path)},
                args.runs,
            )
            results["stream / bare readinto loop"] = ratio(t, "stream", "readinto")
    finally:
        if not args.keep:
            os.unlink(path)
    print()
    print(f"{args.mib} MiB file, {args.runs} interleaved runs, median of per-run ratios")
    print(f"{'figure':40} {'today':>18} {'now':>7}  target")
    for name, r in results.items():
        today, target, ok = TARGETS[name]
        print(f"{name:40} {today:>18} {r:7.3f}  {target} {'ok' if ok(r) else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
