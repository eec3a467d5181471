"""Core benchmarks of recview: scans, column decoding, random access, open, batches.

One command runs everything and prints one table of medians and ratios::

    python benchmarks/bench_core.py            # 1 GiB scan file, 2 GiB batches file
    python benchmarks/bench_core.py --big      # 8 GiB batches file (the issue's size)

Every file is written under ``--dir`` (default ``$TMPDIR`` or ``/tmp``), synced
to disk (so that write-back does not run during the timings), read once into
the page cache, and deleted at the end (``--keep`` keeps them for a re-run).
All timings are of a warm page cache: they measure recview's own overhead,
mapping faults and memory bandwidth, not the disk. Each number is the median
of ``--runs`` interleaved runs (the machine is shared and noisy), and each
comparison is a ratio measured in the same run.

Measured (the targets of issue 2):

1. whole-file sum of one field: ``view["price"].sum()`` vs ``np.memmap`` with
   the same dtype (time ratio <= 1.05), and vs the contiguous-read limit (the
   same bytes summed as ``uint64``);
2. decoding every record into per-field columns, records/s: ``view.columns()``
   vs ``np.memmap`` + one copy per field (>= 0.9x, aim 1.5x), vs
   ``struct.iter_unpack`` and ``construct`` (run on a sample of the same file
   and extrapolated per record);
3. random access to one record: ``view[i]`` vs ``np.memmap``'s ``mm[i]``
   (time ratio <= 1) vs a plain ndarray over the mapping, ``arr[i]``;
4. open time of an 8 GiB (sparse) file vs a 1 MiB file (ratio <= 2);
5. ``batches()`` scan vs a full-map scan, each in a child process: peak RSS
   (``VmHWM``) <= 1% of the file size, throughput >= 0.9x.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

import recview as rv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util
from _util import GIB, MIB, fmt_bytes, fmt_ratio, fmt_time

#: A 32-byte little-endian trade tick, as a C program would write it.
TICK = np.dtype(
    [
        ("ts", "<u8"),  # nanoseconds since the epoch
        ("price", "<f8"),
        ("qty", "<u4"),
        ("venue", "<u2"),
        ("side", "u1"),
        ("flags", "u1"),
        ("seq", "<u8"),
    ]
)
SCHEMA = rv.Schema.from_dtype(TICK)
NAMES: tuple[str, ...] = SCHEMA.names
#: The same record for the struct module.
STRUCT_FMT = "<QdIHBBQ"
assert struct.calcsize(STRUCT_FMT) == TICK.itemsize


def construct_struct() -> Any:
    """The same record written by hand with construct, as its users would."""
    import construct as c

    return c.Struct(
        "ts" / c.Int64ul,
        "price" / c.Float64l,
        "qty" / c.Int32ul,
        "venue" / c.Int16ul,
        "side" / c.Int8ul,
        "flags" / c.Int8ul,
        "seq" / c.Int64ul,
    )


# -- files ----------------------------------------------------------------------


def write_ticks(path: str, nbytes: int, *, seed: int = 0) -> int:
    """Write ``nbytes // 32`` realistic ticks to ``path``, fsync; return the count."""
    n = nbytes // TICK.itemsize
    block = 1 << 20
    rng = np.random.default_rng(seed)
    base = np.empty(block, TICK)
    base["ts"] = 1_700_000_000_000_000_000 + np.cumsum(rng.integers(1, 2_000, block))
    base["price"] = 100.0 + np.cumsum(rng.normal(0.0, 0.01, block))
    base["qty"] = rng.integers(1, 10_000, block)
    base["venue"] = rng.integers(0, 16, block)
    base["side"] = rng.integers(0, 2, block)
    base["flags"] = rng.integers(0, 256, block)
    base["seq"] = np.arange(block)
    span = int(base["ts"][-1] - base["ts"][0]) + 1
    with open(path, "wb") as f:
        done = 0
        while done < n:
            k = min(block, n - done)
            chunk = base[:k].copy()
            chunk["ts"] += np.uint64(span * (done // block))
            chunk["seq"] += np.uint64(done)
            chunk.tofile(f)
            done += k
        f.flush()
        # Write-back of dirty pages during the timings would be noise.
        os.fsync(f.fileno())
    return n


@contextlib.contextmanager
def data_file(
    directory: str, name: str, nbytes: int, *, keep: bool, sparse: bool = False
) -> Iterator[str]:
    """A tick file of ``nbytes`` under ``directory``, in the page cache; removed after."""
    path = os.path.join(directory, name)
    try:
        st = os.stat(path)
        reuse = keep and st.st_size == nbytes
    except FileNotFoundError:
        reuse = False
    if not reuse:
        what = "making a sparse file of" if sparse else "writing"
        print(f"# {what} {fmt_bytes(nbytes)}: {path}", file=sys.stderr, flush=True)
        if sparse:
            with open(path, "wb") as f:
                f.truncate(nbytes)
        else:
            write_ticks(path, nbytes)
    if not sparse:
        _util.warm(path)
    try:
        yield path
    finally:
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


# -- results -----------------------------------------------------------------------


@dataclass
class Row:
    section: str
    case: str
    time: str
    rate: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


def ratio_text(wall: float, cpu: float, what: str) -> str:
    """``1.02x <what> (cpu 0.98x)``: the wall-clock ratio, then the CPU-time one."""
    return f"{fmt_ratio(wall)} {what} (cpu {fmt_ratio(cpu)})"


def verdict(wall_ok: bool, cpu_ok: bool | None = None) -> str:
    """Judged on the wall clock; the CPU-time ratio is shown when it disagrees."""
    if cpu_ok is None or cpu_ok == wall_ok:
        return "yes" if wall_ok else "NO"
    return "yes (cpu: NO)" if wall_ok else "NO (cpu: yes)"


def gb_per_s(nbytes: int, seconds: float) -> str:
    return f"{nbytes / seconds / 1e9:.2f} GB/s"


# -- 1. whole-file field sum ---------------------------------------------------------


def bench_sum(path: str, nbytes: int, runs: int) -> list[Row]:
    def recview_sum() -> float:
        with rv.open(path, SCHEMA) as view:
            return float(view["price"].sum())

    def memmap_sum() -> float:
        mm = np.memmap(path, TICK, mode="r")
        total = float(mm["price"].sum())
        del mm  # unmaps, as closing the view does
        return total

    def limit_sum() -> int:
        mm = np.memmap(path, "<u8", mode="r")
        total = int(mm.sum())
        del mm
        return total

    if recview_sum() != memmap_sum():
        raise AssertionError("recview and np.memmap sums differ")
    t = _util.median_times(
        {"recview": recview_sum, "memmap": memmap_sum, "limit": limit_sum}, runs=runs
    )
    r, m, lim = t["recview"], t["memmap"], t["limit"]
    wall, cpu = r.median / m.median, r.cpu / m.cpu
    sec = f"1. sum of one field ({fmt_bytes(nbytes)})"
    return [
        Row(sec, 'recview view["price"].sum()', fmt_time(r.median), gb_per_s(nbytes, r.median),
            ratio_text(wall, cpu, "memmap's time"), "<= 1.05x",
            verdict(wall <= 1.05, cpu <= 1.05)),
        Row(sec, 'np.memmap mm["price"].sum()', fmt_time(m.median), gb_per_s(nbytes, m.median),
            "1x"),
        Row(sec, "same bytes as uint64 .sum() (limit)", fmt_time(lim.median),
            gb_per_s(nbytes, lim.median),
            ratio_text(r.median / lim.median, r.cpu / lim.cpu, "= recview's time / this")),
    ]  # fmt: skip


# -- 2. decode into per-field columns --------------------------------------------------


def _memmap_columns(path: str) -> dict[str, np.ndarray[Any, Any]]:
    mm = np.memmap(path, TICK, mode="r")
    # what a numpy user writes: one contiguous copy per field
    return {name: np.ascontiguousarray(mm[name]) for name in NAMES}


def _struct_columns(data: bytes) -> list[np.ndarray[Any, Any]]:
    cols = zip(*struct.iter_unpack(STRUCT_FMT, data), strict=True)
    return [np.array(col, dtype=TICK[k].newbyteorder("=")) for k, col in enumerate(cols)]


def _construct_columns(data: bytes, con: Any) -> dict[str, list[Any]]:
    names = NAMES
    cols: dict[str, list[Any]] = {name: [] for name in names}
    size = TICK.itemsize
    for pos in range(0, len(data), size):
        rec = con.parse(data[pos : pos + size])
        for name in names:
            cols[name].append(rec[name])
    return cols


def bench_columns(
    path: str, n: int, runs: int, struct_sample: int, construct_sample: int
) -> list[Row]:
    with rv.open(path, SCHEMA) as view:
        got = view.columns()
        want = _memmap_columns(path)
        for name in NAMES:
            if not np.array_equal(got[name], want[name]):
                raise AssertionError(f"columns()[{name!r}] differs from the memmap copy")
        del got, want
        struct_data = view[:struct_sample].tobytes()
        construct_data = view[:construct_sample].tobytes()
    con = construct_struct()
    compiled = con.compile()
    head = construct_data[: 10 * TICK.itemsize]
    if _construct_columns(head, compiled) != _construct_columns(head, con):
        raise AssertionError("compiled and plain construct disagree")

    def recview_cols() -> None:
        with rv.open(path, SCHEMA) as view:
            view.columns()

    t = _util.median_times(
        {"recview": recview_cols, "memmap": lambda: _memmap_columns(path)}, runs=runs
    )
    # Not interleaved with the two above: freeing millions of Python objects
    # made whichever case ran next twice as slow (measured here).
    t |= _util.median_times({"struct": lambda: _struct_columns(struct_data)}, runs=runs)
    # construct is ~1000x slower: its small sample, few runs, is plenty
    t |= _util.median_times(
        {
            "construct": lambda: _construct_columns(construct_data, con),
            "compiled": lambda: _construct_columns(construct_data, compiled),
        },
        runs=max(1, runs // 2),
        warmup=0,
    )
    count = {
        "recview": n,
        "memmap": n,
        "struct": len(struct_data) // TICK.itemsize,
        "construct": len(construct_data) // TICK.itemsize,
        "compiled": len(construct_data) // TICK.itemsize,
    }
    per = {k: t[k].median / count[k] for k in count}  # seconds per record
    per_cpu = {k: t[k].cpu / count[k] for k in count}
    wall, cpu = per["memmap"] / per["recview"], per_cpu["memmap"] / per_cpu["recview"]

    def rate(key: str) -> str:
        return f"{1 / per[key] / 1e6:.3g} M rec/s"

    def slower(key: str) -> str:
        return ratio_text(
            per[key] / per["recview"], per_cpu[key] / per_cpu["recview"], "slower than recview"
        )

    sec = f"2. decode to columns ({n:,} records)"
    sample = "{:,} rec, time extrapolated".format
    return [
        Row(sec, "recview view.columns()", fmt_time(t["recview"].median), rate("recview"),
            ratio_text(wall, cpu, "memmap's rec/s"), ">= 0.9x (aim 1.5x)",
            verdict(wall >= 0.9, cpu >= 0.9)),
        Row(sec, "np.memmap + copy per field", fmt_time(t["memmap"].median), rate("memmap"),
            "1x"),
        Row(sec, f"struct.iter_unpack ({sample(count['struct'])})",
            fmt_time(per["struct"] * n), rate("struct"), slower("struct")),
        Row(sec, f"construct parse ({sample(count['construct'])})",
            fmt_time(per["construct"] * n), rate("construct"), slower("construct")),
        Row(sec, f"construct compiled ({sample(count['compiled'])})",
            fmt_time(per["compiled"] * n), rate("compiled"), slower("compiled")),
    ]  # fmt: skip


# -- 3. random access -------------------------------------------------------------------


def bench_random(path: str, n: int, runs: int, ops: int) -> list[Row]:
    rng = random.Random(1)
    idx = [rng.randrange(n) for _ in range(ops)]
    view = rv.open(path, SCHEMA)
    mm = np.memmap(path, TICK, mode="r")
    arr = view.array
    if not (view[idx[0]] == mm[idx[0]] == arr[idx[0]]):
        raise AssertionError("the three ways to read a record disagree")

    def loop(obj: Any) -> Callable[[], None]:
        def run() -> None:
            for i in idx:
                obj[i]

        return run

    def bare() -> None:
        for _ in idx:
            pass

    # The first round (warmup) takes the page faults; then only the lookups count.
    t = _util.median_times(
        {"view": loop(view), "memmap": loop(mm), "ndarray": loop(arr), "loop": bare},
        runs=runs,
    )
    del arr, mm
    view.close()
    v, m, a = t["view"], t["memmap"], t["ndarray"]
    wall, cpu = v.median / m.median, v.cpu / m.cpu
    sec = f"3. one record by index ({ops:,} random i)"
    return [
        Row(sec, "recview view[i]", fmt_time(v.median / ops), "per op",
            ratio_text(wall, cpu, "memmap's time"), "<= 1x (aim: ndarray's)",
            verdict(wall <= 1.0, cpu <= 1.0)),
        Row(sec, "np.memmap mm[i]", fmt_time(m.median / ops), "per op", "1x"),
        Row(sec, "plain ndarray arr[i] over the map", fmt_time(a.median / ops), "per op",
            ratio_text(v.median / a.median, v.cpu / a.cpu, "= view[i]'s time / this")),
        Row(sec, "(the bare for loop, included above)", fmt_time(t["loop"].median / ops),
            "per op"),
    ]  # fmt: skip


# -- 4. open time -----------------------------------------------------------------------


def bench_open(big: str, small: str, big_nbytes: int, runs: int, opens: int) -> list[Row]:
    def opener(path: str) -> Callable[[], None]:
        def run() -> None:
            for _ in range(opens):
                rv.open(path, SCHEMA).close()

        return run

    t = _util.median_times({"big": opener(big), "small": opener(small)}, runs=runs)
    b, s = t["big"], t["small"]
    wall, cpu = b.median / s.median, b.cpu / s.cpu
    sec = "4. rv.open + close"
    return [
        Row(sec, f"{fmt_bytes(big_nbytes)} file (sparse)", fmt_time(b.median / opens),
            "per open", ratio_text(wall, cpu, "the 1 MiB file's time"), "<= 2x",
            verdict(wall <= 2.0, cpu <= 2.0)),
        Row(sec, "1 MiB file", fmt_time(s.median / opens), "per open", "1x"),
    ]  # fmt: skip


# -- 5. batches() vs full-map scan, in child processes -------------------------------------

SCAN_CHILD = r"""
import json, sys, time
import recview as rv, _util
from bench_core import SCHEMA
path, how = sys.argv[1], sys.argv[2]
before = _util.memory_status()["rss"]
c0, t0 = time.process_time(), time.perf_counter()
view = rv.open(path, SCHEMA)
if how == "batches":
    total = 0.0
    for batch in view.batches():
        total += float(batch["price"].sum())
else:
    total = float(view["price"].sum())
view.close()  # the full scan unmaps here, batches() unmapped as it went
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": seconds, "cpu": cpu, "total": total, "rss_before": before,
                  **_util.memory_status()}))
"""


def bench_batches(path: str, nbytes: int, runs: int) -> list[Row]:
    results: dict[str, list[dict[str, Any]]] = {"batches": [], "full": []}
    for _ in range(runs):
        for how, got in results.items():
            got.append(_util.run_child(SCAN_CHILD, path, how))
    totals = [r["total"] for rs in results.values() for r in rs]
    if max(totals) - min(totals) > 1e-9 * abs(max(totals)):
        raise AssertionError(f"batches() and the full scan disagree: {totals}")

    def med(how: str, key: str) -> float:
        return float(np.median([r[key] for r in results[how]]))

    def peak(how: str) -> int:
        return max(int(r["peak_rss"]) for r in results[how])

    grew = max(int(r["peak_rss"] - r["rss_before"]) for r in results["batches"])
    bt, ft = med("batches", "seconds"), med("full", "seconds")
    wall, cpu = ft / bt, med("full", "cpu") / med("batches", "cpu")
    limit = 0.01 * nbytes
    sec = f"5. scan in a child ({fmt_bytes(nbytes)})"
    return [
        Row(sec, "batches() sum: open, scan, close", fmt_time(bt), gb_per_s(nbytes, bt),
            ratio_text(wall, cpu, "full scan's speed"), ">= 0.9x",
            verdict(wall >= 0.9, cpu >= 0.9)),
        Row(sec, "batches() peak RSS growth (VmHWM - RSS at start)", fmt_bytes(grew),
            f"{100 * grew / nbytes:.2f}% of file", "", "<= 1% of file", verdict(grew <= limit)),
        Row(sec, "batches() peak RSS (VmHWM, with the interpreter)", fmt_bytes(peak("batches")),
            f"{100 * peak('batches') / nbytes:.2f}% of file", "", "(<= 1% of file)",
            verdict(peak("batches") <= limit)),
        Row(sec, 'full map view["price"].sum(): open, scan, close', fmt_time(ft),
            gb_per_s(nbytes, ft), "1x"),
        Row(sec, "full map peak RSS (VmHWM)", fmt_bytes(peak("full")),
            f"{100 * peak('full') / nbytes:.0f}% of file"),
    ]  # fmt: skip


# -- driver ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dir",
        default=os.environ.get("TMPDIR") or tempfile.gettempdir(),
        help="directory for the data files (default: $TMPDIR or /tmp)",
    )
    parser.add_argument(
        "--scan-gib",
        type=float,
        default=1.0,
        help="size of the file for benchmarks 1-3, GiB (default 1)",
    )
    parser.add_argument(
        "--batches-gib",
        type=float,
        default=2.0,
        help="size of the file for benchmark 5, GiB (default 2)",
    )
    parser.add_argument(
        "--open-gib",
        type=float,
        default=8.0,
        help="size of the sparse file for benchmark 4, GiB (default 8)",
    )
    parser.add_argument(
        "--big", action="store_true", help="benchmark 5 on an 8 GiB file (the issue's size)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument(
        "--only", default="12345", help="which benchmarks to run, e.g. 13 (default: all)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data files (and reuse same-sized ones)"
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if args.big:
        args.batches_gib = max(args.batches_gib, 8.0)
    rec = TICK.itemsize

    def size(gib: float) -> int:
        return max(rec, int(gib * GIB) // rec * rec)

    directory = os.path.join(args.dir, f"recview-bench-{os.getpid()}" if not args.keep else
                             "recview-bench")  # fmt: skip
    os.makedirs(directory, exist_ok=True)
    print(f"# {_util.machine()}", file=sys.stderr)
    print(f"# files under {directory}; {args.runs} runs per case", file=sys.stderr)
    rows: list[Row] = []
    t_start = time.perf_counter()
    try:
        if set(args.only) & set("123"):
            nbytes = size(args.scan_gib)
            with data_file(directory, "scan.bin", nbytes, keep=args.keep) as path:
                n = nbytes // rec
                if "1" in args.only:
                    rows += bench_sum(path, nbytes, args.runs)
                if "2" in args.only:
                    rows += bench_columns(path, n, args.runs, 1 << 20, 20_000)
                if "3" in args.only:
                    rows += bench_random(path, n, args.runs, 200_000)
        if "4" in args.only:
            big_nbytes = size(args.open_gib)
            with (
                data_file(directory, "open-big.bin", big_nbytes, keep=args.keep,
                          sparse=True) as big,
                data_file(directory, "open-small.bin", MIB, keep=args.keep) as small,
            ):  # fmt: skip
                rows += bench_open(big, small, big_nbytes, args.runs, 500)
        if "5" in args.only:
            nbytes = size(args.batches_gib)
            with data_file(directory, "batches.bin", nbytes, keep=args.keep) as path:
                rows += bench_batches(path, nbytes, args.runs)
    finally:
        if not args.keep:
            with contextlib.suppress(OSError):
                os.rmdir(directory)
    print()
    headers = ["benchmark", "case", "median", "rate", "ratio", "target", "met"]
    table = [[r.section, r.case, r.time, r.rate, r.ratio, r.target, r.met] for r in rows]
    _util.print_table(headers, table, markdown=args.markdown)
    print(f"\n# total {time.perf_counter() - t_start:.0f} s: {' '.join(sys.argv)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
