"""What the SIGBUS guard costs a scan, and mode="pread" against mmap (issue 4).

Run from the repository root (not collected by pytest)::

    python benchmarks/bench_pread.py                 # 512 MiB file, 9 trials, ~2 minutes
    python benchmarks/bench_pread.py --mib 2048 --trials 15

The file is written under ``$TMPDIR`` (or ``--dir``), read once into the page
cache and deleted at the end: every number is of a warm page cache, so it
measures recview's overhead, page faults and memory bandwidth, not the disk.
The machine is shared and noisy: each table gives the median over interleaved
trials (the variants run back to back in a rotating order) of the ratio to the
baseline *in the same trial*, with the interquartile range, and times are the
CPU time of the measuring thread (wall time also counts the moments another
process had the core).

1. **Guard cost on a whole-file scan**: ``sum`` of one float field over every
   record, on a fresh mapping (every page faulted in: where a guard could cost
   something) and again on the populated mapping. Variants: ``np.memmap`` (the
   baseline, no guard), an unguarded ``mmap.mmap`` mapping from recview's
   fallback layer, recview's guarded mapping (``_mapping.Mapping``), and the
   public ``rv.open(...)["price"]``. (With ``RECVIEW_NO_GUARD`` set the view
   itself falls back to pread, so the unguarded mapping is compared at the
   ``_mapping`` level.) The target is <= 1%.
2. **batches() scans, pread vs mmap**: ``for b in view.batches(nbytes=B):
   b["price"].sum()`` for several batch sizes, GiB/s and pread/mmap ratio. Also
   ``follow(start=0, timeout=0)``, which reads with pread in both modes.
3. **Per-call costs**: ``refresh()`` with nothing new, a growth (refresh, then
   the first read that maps the new records), ``view[i]`` in both modes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import recview as rv
from recview import _mapping

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util
from _util import GIB, MIB

REC = np.dtype([("ts", "<u8"), ("price", "<f8"), ("qty", "<u4"), ("venue", "<u2"), ("pad", "V10")])


def write_file(path: Path, nbytes: int) -> None:
    n_block = (8 * MIB) // REC.itemsize
    block = np.zeros(n_block, REC)
    block["ts"] = np.arange(n_block)
    block["price"] = np.arange(n_block) % 1000 / 8
    raw = block.tobytes()
    with open(path, "wb") as f:
        f.writelines(raw for _ in range(nbytes // len(raw)))
        os.fsync(f.fileno())
    _util.warm(str(path))


def unguarded(fd: int, nbytes: int) -> _mapping.Mapping:
    saved = _mapping._native
    _mapping._native = False
    try:
        return _mapping.Mapping(fd, 0, nbytes)
    finally:
        _mapping._native = saved


def interleaved(
    cases: dict[str, Callable[[], tuple[float, float]]], trials: int
) -> dict[str, list[tuple[float, float]]]:
    """Run each case once per trial, rotating the order; each returns two timings."""
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    names = list(cases)
    for name in names:  # warm-up round, untimed
        cases[name]()
    for t in range(trials):
        for name in names[t % len(names) :] + names[: t % len(names)]:
            out[name].append(cases[name]())
    return out


def ratio_cell(samples: list[float], base: list[float]) -> str:
    ratios = [x / y for x, y in zip(samples, base, strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return f"{statistics.median(ratios):.3f} ({q1:.3f}-{q3:.3f})"


def bench_guard_scan(path: Path, nbytes: int, trials: int) -> dict[str, Any]:
    fd = os.open(path, os.O_RDONLY)
    n = nbytes // REC.itemsize
    expected = float(np.memmap(path, REC, mode="r")["price"].sum())

    def timed(make: Callable[[], tuple[np.ndarray[Any, Any], Callable[[], None]]]) -> Any:
        def run() -> tuple[float, float]:
            arr, close = make()
            t0 = time.thread_time()
            s1 = float(arr["price"].sum())  # fresh mapping: every page faulted in
            t1 = time.thread_time()
            s2 = float(arr["price"].sum())  # populated mapping
            t2 = time.thread_time()
            assert s1 == s2 == expected
            del arr
            close()
            return t1 - t0, t2 - t1

        return run

    def memmap() -> tuple[np.ndarray[Any, Any], Callable[[], None]]:
        return np.memmap(path, REC, mode="r"), lambda: None

    def fallback() -> tuple[np.ndarray[Any, Any], Callable[[], None]]:
        m = unguarded(fd, n * REC.itemsize)
        return np.frombuffer(m.buffer, REC), m.close

    def guarded() -> tuple[np.ndarray[Any, Any], Callable[[], None]]:
        m = _mapping.Mapping(fd, 0, n * REC.itemsize)
        assert m.guarded
        return np.frombuffer(m.buffer, REC), m.close

    def view() -> tuple[np.ndarray[Any, Any], Callable[[], None]]:
        v = rv.open(path, REC)
        return v.array, v.close

    cases = {
        "np.memmap (no guard)": timed(memmap),
        "mmap.mmap (recview fallback, no guard)": timed(fallback),
        "recview guarded mapping": timed(guarded),
        "rv.open(...).array (guarded)": timed(view),
    }
    res = interleaved(cases, trials)
    os.close(fd)
    base = [x[0] for x in res["np.memmap (no guard)"]], [x[1] for x in res["np.memmap (no guard)"]]
    rows = []
    summary = {}
    for name, samples in res.items():
        fresh, populated = [x[0] for x in samples], [x[1] for x in samples]
        rows.append(
            (
                name,
                _util.fmt_time(statistics.median(fresh)),
                ratio_cell(fresh, base[0]),
                _util.fmt_time(statistics.median(populated)),
                ratio_cell(populated, base[1]),
            )
        )
        summary[name] = (
            statistics.median(x / y for x, y in zip(fresh, base[0], strict=True)),
            statistics.median(x / y for x, y in zip(populated, base[1], strict=True)),
        )
    print(f"\n## 1. Guard cost: sum of one field over {nbytes / MIB:,.0f} MiB, {trials} trials\n")
    _util.print_table(
        ("variant", "fresh mapping", "ratio (IQR)", "populated", "ratio (IQR)"),
        rows,
        markdown=True,
    )
    return summary


def bench_batches(path: Path, nbytes: int, trials: int) -> dict[str, float]:
    expected = float(np.memmap(path, REC, mode="r")["price"].sum())

    def scan(
        mode: str, batch: int | None, how: str = "batches"
    ) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            with rv.open(path, REC, mode=mode) as v:  # type: ignore[arg-type]
                c0, t0 = time.thread_time(), time.perf_counter()
                total = 0.0
                if how == "batches":
                    for b in v.batches(nbytes=batch):
                        total += float(b["price"].sum())
                else:
                    records = None if batch is None else batch // REC.itemsize
                    for b in v.follow(start=0, timeout=0, records=records):
                        total += float(b["price"].sum())
                c1, t1 = time.thread_time(), time.perf_counter()
            assert total == expected, (total, expected)
            return c1 - c0, t1 - t0

        return run

    sizes = (256 << 10, 1 * MIB, 8 * MIB, 64 * MIB)
    cases: dict[str, Callable[[], tuple[float, float]]] = {}
    for size in sizes:
        cases[f"mmap {size}"] = scan("mmap", size)
        cases[f"pread {size}"] = scan("pread", size)
    cases["mmap default"] = scan("mmap", None)
    cases["pread default"] = scan("pread", None)
    cases["follow default"] = scan("mmap", None, "follow")
    res = interleaved(cases, trials)
    cpu = {k: [x[0] for x in v] for k, v in res.items()}
    wall = {k: [x[1] for x in v] for k, v in res.items()}
    rows = []
    summary = {}
    for size in sizes:
        m, p = f"mmap {size}", f"pread {size}"
        rows.append(
            (
                _util.fmt_bytes(size),
                f"{nbytes / GIB / statistics.median(wall[m]):.2f}",
                f"{nbytes / GIB / statistics.median(wall[p]):.2f}",
                ratio_cell(cpu[p], cpu[m]),
                ratio_cell(wall[p], wall[m]),
            )
        )
        summary[_util.fmt_bytes(size)] = statistics.median(
            x / y for x, y in zip(wall[p], wall[m], strict=True)
        )
    for label, name in (
        ("defaults: pread 1 MiB vs mmap 8 MiB", "pread default"),
        ("follow(start=0), default 1 MiB", "follow default"),
    ):
        base = "mmap default"
        rows.append(
            (
                label,
                f"{nbytes / GIB / statistics.median(wall[base]):.2f}",
                f"{nbytes / GIB / statistics.median(wall[name]):.2f}",
                ratio_cell(cpu[name], cpu[base]),
                ratio_cell(wall[name], wall[base]),
            )
        )
        summary[name] = statistics.median(
            x / y for x, y in zip(wall[name], wall[base], strict=True)
        )
    print(f"\n## 2. batches() over {nbytes / MIB:,.0f} MiB: pread vs mmap, {trials} trials\n")
    print("Time ratios (> 1: pread is slower); GiB/s from the median wall time.\n")
    _util.print_table(
        ("batch", "mmap GiB/s", "pread GiB/s", "pread/mmap CPU (IQR)", "pread/mmap wall (IQR)"),
        rows,
        markdown=True,
    )
    return summary


def per_call(fn: Callable[[int], object], calls: int = 20_000, group: int = 500) -> float:
    """Median over groups of ``group`` calls of the time per call, in seconds."""
    times = []
    for g in range(calls // group):
        t0 = time.perf_counter()
        for i in range(g * group, (g + 1) * group):
            fn(i)
        times.append((time.perf_counter() - t0) / group)
    return statistics.median(times)


def bench_calls(tmp: Path) -> None:
    path = tmp / "small.bin"
    np.zeros(100_000, REC).tofile(path)
    rows = []
    for mode in ("mmap", "pread"):
        with rv.open(path, REC, mode=mode) as v:  # type: ignore[arg-type]
            v.array  # noqa: B018 - map it
            rows.append((mode, "refresh(), nothing new", per_call(lambda i: v.refresh())))
            rows.append((mode, "view[i]", per_call(lambda i: v[i])))
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            rec = np.zeros(1, REC).tobytes()
            grow, first = [], []
            for _ in range(2000):
                os.write(fd, rec)
                t0 = time.perf_counter()
                v.refresh()
                t1 = time.perf_counter()
                v[-1]
                t2 = time.perf_counter()
                grow.append(t1 - t0)
                first.append(t2 - t1)
            os.close(fd)
            rows.append((mode, "refresh() after a growth", statistics.median(grow)))
            rows.append((mode, "first view[-1] after a growth", statistics.median(first)))
    fd = os.open(path, os.O_RDONLY)
    rows.append(("-", "os.fstat (the system call refresh makes)", per_call(lambda i: os.fstat(fd))))
    rows.append(("-", "os.getpid (a trivial system call)", per_call(lambda i: os.getpid())))
    os.close(fd)
    print("\n## 3. Per-call costs (median wall time per call, 3.2 MB file)\n")
    print("In mmap mode the first read after a growth maps the file again (refresh only counts).\n")
    _util.print_table(
        ("mode", "call", "time"), [(m, c, _util.fmt_time(t)) for m, c, t in rows], markdown=True
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=int, default=512, help="file size in MiB (default 512)")
    p.add_argument("--trials", type=int, default=9, help="interleaved trials (default 9)")
    p.add_argument("--dir", default=None, help="where to write the file (default $TMPDIR)")
    p.add_argument(
        "--only", choices=("guard", "batches", "calls"), help="run one part of the benchmark"
    )
    args = p.parse_args(argv)
    print(f"# bench_pread: {_util.machine()}")
    print(f"guard: {'native' if _mapping.GUARD_AVAILABLE else _mapping.GUARD_ERROR}")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="recview-bench-pread-") as tmp:
        path = Path(tmp) / "ticks.bin"
        nbytes = args.mib * MIB
        if args.only in (None, "guard", "batches"):
            write_file(path, nbytes)
        if args.only in (None, "guard"):
            guard = bench_guard_scan(path, nbytes, args.trials)
            view = guard["rv.open(...).array (guarded)"]
            raw = guard["recview guarded mapping"]
            print(
                f"\nGuard overhead vs np.memmap: rv.open {100 * (view[0] - 1):+.1f}% fresh, "
                f"{100 * (view[1] - 1):+.1f}% populated; guarded mapping "
                f"{100 * (raw[0] - 1):+.1f}% / {100 * (raw[1] - 1):+.1f}%"
            )
        if args.only in (None, "batches"):
            ratios = bench_batches(path, nbytes, args.trials)
            print("\npread/mmap wall-time ratio: " + ", ".join(
                f"{k}: {v:.2f}x" for k, v in ratios.items()
            ))  # fmt: skip
        if args.only in (None, "calls"):
            bench_calls(Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
