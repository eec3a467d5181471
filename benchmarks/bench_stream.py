"""Benchmarks of recview.stream: pipe throughput, steady-state allocations, buffer sizes.

Run from the repository root (not collected by pytest)::

    python benchmarks/bench_stream.py                 # everything, ~2 minutes
    python benchmarks/bench_stream.py --quick         # smaller sizes, fewer runs
    python benchmarks/bench_stream.py pipe            # one part: pipe | alloc | sweep

1. **pipe**: a child process writes records into a real ``os.pipe()`` as fast
   as it can; the parent reads them either with a bare ``readinto`` loop into
   one ``bytearray`` (the floor: no arrays at all) or with ``rv.stream``
   (arrays over pooled buffers). Medians of several alternating runs, and the
   ratio stream / bare (target >= 0.9). Both through an unbuffered ``FileIO``
   and through a ``BufferedReader`` (what ``sys.stdin.buffer`` is).
2. **alloc**: steady-state allocations per batch under ``tracemalloc``: after
   a warm-up, net blocks and bytes per batch, the traced peak above the
   baseline, and pool misses (target: 0 blocks, 0 new buffers).
3. **sweep**: buffer sizes 4 KiB .. 16 MiB, each in a fresh process, from a
   pipe and from a file in the page cache; throughput and the growth of peak
   RSS while streaming. Prints a table and draws ``docs/stream_buffer_sweep.png``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from recview.pool import DEFAULT_BUFFER_SIZE, BufferPool, stream

RECORD = np.dtype([("ts", "<u8"), ("price", "<f8"), ("qty", "<u4"), ("side", "u1"), ("pad", "V3")])
MIB = 1 << 20
ROOT = Path(__file__).resolve().parent.parent

# Writes argv[2] bytes of records to fd argv[1] in 1 MiB pieces, then closes it.
WRITER = """
import os, sys
fd, total = int(sys.argv[1]), int(sys.argv[2])
chunk = memoryview(bytes(range(256)) * 4096)
left = total
while left:
    view = chunk[: min(left, len(chunk))]
    while view:
        n = os.write(fd, view)
        view = view[n:]
        left -= n
os.close(fd)
"""


def start_writer(total: int, pipe_size: int = 0) -> tuple[int, subprocess.Popen[bytes]]:
    """A child writing *total* bytes into a new pipe; returns (read fd, child).

    ``pipe_size``: the pipe's capacity (``F_SETPIPE_SZ``); 0 keeps the default
    (64 KiB on Linux), which caps every read at 64 KiB.
    """
    read_fd, write_fd = os.pipe()
    if pipe_size:
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, pipe_size)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(write_fd), str(total)], pass_fds=[write_fd]
    )
    os.close(write_fd)
    select.select([read_fd], [], [])  # start timing once data flows, not at fork
    return read_fd, child


def bare_loop(f: object, buffer_size: int) -> int:
    buffer = bytearray(buffer_size)
    readinto = f.readinto  # type: ignore[attr-defined]
    total = 0
    while True:
        n = readinto(buffer)
        if not n:
            return total
        total += n


def stream_loop(f: object, buffer_size: int) -> int:
    total = 0
    for batch in stream(f, RECORD):  # the default pool, as users get it
        total += len(batch)
    return total * RECORD.itemsize


def timed_pipe_run(
    reader: Callable[[object, int], int], total: int, buffering: int, pipe_size: int
) -> tuple[float, float]:
    """Throughput in MiB/s (wall clock) and the reader's CPU seconds per GiB."""
    read_fd, child = start_writer(total, pipe_size)
    with open(read_fd, "rb", buffering=buffering) as f:
        cpu = time.process_time()
        start = time.perf_counter()
        got = reader(f, MIB)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    child.wait()
    assert got == total, (got, total)
    return total / elapsed / MIB, cpu / (total / 1024 / MIB)


def bench_pipe(quick: bool) -> dict[str, object]:
    total = (128 if quick else 512) * MIB
    total -= total % RECORD.itemsize
    runs = 3 if quick else 9
    results: dict[str, object] = {"bytes": total, "runs": runs}
    print(f"\n## pipe: {total / MIB:.0f} MiB per run, median of {runs} alternating runs")
    print(
        "| file object | pipe size | bare readinto MiB/s | rv.stream MiB/s | ratio | CPU s/GiB bare / stream |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    cases = [
        ("FileIO (buffering=0)", 0, 0),
        ("BufferedReader (like sys.stdin.buffer)", -1, 0),
        ("FileIO (buffering=0)", 0, MIB),
    ]
    for label_, buffering, pipe_size in cases:
        bare, streamed = [], []
        for _ in range(runs):
            bare.append(timed_pipe_run(bare_loop, total, buffering, pipe_size))
            streamed.append(timed_pipe_run(stream_loop, total, buffering, pipe_size))
        b = statistics.median(x[0] for x in bare)
        s = statistics.median(x[0] for x in streamed)
        bc = statistics.median(x[1] for x in bare)
        sc = statistics.median(x[1] for x in streamed)
        ratios = sorted(y[0] / x[0] for x, y in zip(bare, streamed, strict=True))
        size = f"{pipe_size >> 10} KiB" if pipe_size else "64 KiB (default)"
        results[f"{label_} / {size}"] = {
            "bare": b,
            "stream": s,
            "ratio": s / b,
            "pairwise_ratios": ratios,
            "cpu_bare": bc,
            "cpu_stream": sc,
        }
        print(f"| {label_} | {size} | {b:,.0f} | {s:,.0f} | {s / b:.3f} | {bc:.2f} / {sc:.2f} |")
    return results


def bench_alloc(quick: bool) -> dict[str, object]:
    buffer_size = 64 * 1024
    batches = 500 if quick else 4000
    per_batch = buffer_size // RECORD.itemsize
    data = np.zeros((batches + 100) * per_batch, RECORD).tobytes()
    path = Path(tempfile.mkdtemp()) / "alloc.bin"
    path.write_bytes(data)
    pool = BufferPool(buffer_size=buffer_size, max_buffers=8)
    with open(path, "rb", buffering=0) as f:
        it = stream(f, RECORD, pool=pool)
        for _ in range(50):  # warm-up, holding each batch as the measured loop does
            batch = next(it)
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        base_current, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        misses = pool.stats().misses
        blocks = sys.getallocatedblocks()
        for _ in range(batches):
            batch = next(it)
            batch["price"].sum()
        del batch
        blocks = sys.getallocatedblocks() - blocks
        _, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        misses = pool.stats().misses - misses
    path.unlink()
    diff = after.compare_to(before, "filename")
    ours = [d for d in diff if "tracemalloc" not in d.traceback[0].filename]
    net_bytes = sum(d.size_diff for d in ours)
    net_blocks = sum(d.count_diff for d in ours)
    result: dict[str, object] = {
        "batches": batches,
        "buffer_size": buffer_size,
        "net_bytes_per_batch": net_bytes / batches,
        "net_blocks_per_batch": net_blocks / batches,
        "allocated_blocks_delta": blocks,
        "peak_above_baseline": peak - base_current,
        "pool_misses": misses,
    }
    print(f"\n## steady-state allocations: {batches} batches of {buffer_size // 1024} KiB")
    for key, value in result.items():
        print(f"- {key}: {value}")
    return result


def peak_rss_kib() -> int:
    """This process's peak RSS in KiB (``VmHWM``).

    Not ``ru_maxrss``: Linux carries the parent's peak over ``fork``/``exec``
    into it, so a child of a big parent would report the parent's peak.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux


def child_sweep(source: str, buffer_size: int, total: int, path: str) -> None:
    """In a fresh process: stream *total* bytes, print throughput and RSS growth (JSON)."""
    if source == "pipe":
        read_fd, child = start_writer(total)
        f = open(read_fd, "rb", buffering=0)  # noqa: SIM115
    else:
        child = None
        f = open(path, "rb", buffering=0)  # noqa: SIM115
    before = peak_rss_kib()
    start = time.perf_counter()
    pool = BufferPool(buffer_size=buffer_size or 1)
    count, checksum = 0, 0.0
    if buffer_size:
        for batch in stream(f, RECORD, pool=pool):
            count += len(batch)
            checksum += float(batch["price"].sum())  # the consumer touches the data
    else:  # the reference: a bare readinto loop into one 1 MiB bytearray
        count = bare_loop(f, MIB) // RECORD.itemsize
    elapsed = time.perf_counter() - start
    after = peak_rss_kib()
    f.close()
    if child is not None:
        child.wait()
    assert count * RECORD.itemsize == total - total % RECORD.itemsize
    stats = pool.stats()
    print(
        json.dumps(
            {
                "mib_s": total / elapsed / MIB,
                "rss_growth_kib": after - before,
                "peak_rss_kib": after,
                "misses": stats.misses,
                "pooled": stats.pooled,
            }
        )
    )


def bench_sweep(quick: bool, plot: Path | None) -> dict[str, object]:
    sizes = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20]
    total = (128 if quick else 512) * MIB
    total -= total % RECORD.itemsize
    runs = 1 if quick else 3
    path = Path(tempfile.mkdtemp()) / "sweep.bin"
    with open(path, "wb") as f:
        block = np.random.default_rng(0).bytes(16 * MIB)
        f.writelines(block[: total - i] for i in range(0, total, len(block)))
    with open(path, "rb", buffering=0) as f:  # into the page cache
        bare_loop(f, MIB)
    rows: dict[str, dict[int, dict[str, float]]] = {"pipe": {}, "file": {}}
    for source, row in rows.items():
        for size in [0, *sizes]:  # 0: the bare readinto loop
            samples = []
            for _ in range(runs):
                done = subprocess.run(
                    [sys.executable, __file__, "_child", source, str(size), str(total), str(path)],
                    capture_output=True,
                    check=True,
                    text=True,
                )
                samples.append(json.loads(done.stdout))
            row[size] = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
    path.unlink()
    bare = {source: rows[source].pop(0)["mib_s"] for source in rows}
    print(f"\n## buffer-size sweep: {total / MIB:.0f} MiB per run, median of {runs}")
    print("| buffer | pipe MiB/s | pipe RSS growth MiB | file MiB/s | file RSS growth MiB |")
    print("|---:|---:|---:|---:|---:|")
    for size in sizes:
        cells = [
            f"{rows[source][size]['mib_s']:,.0f} | {rows[source][size]['rss_growth_kib'] / 1024:.1f}"
            for source in ("pipe", "file")
        ]
        print(f"| {label(size)} | {' | '.join(cells)} |")
    for source in ("pipe", "file"):
        print(f"- bare readinto loop (1 MiB bytearray), {source}: {bare[source]:,.0f} MiB/s")
    if plot is not None:
        draw(rows, bare, sizes, plot)
        print(f"\nplot: {plot}")
    return {"bytes": total, "runs": runs, "rows": rows, "bare": bare}


def label(size: int) -> str:
    return f"{size >> 20} MiB" if size >= MIB else f"{size >> 10} KiB"


def draw(
    rows: dict[str, dict[int, dict[str, float]]],
    bare: dict[str, float],
    sizes: list[int],
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    for source, marker, color in (("pipe", "o", "C0"), ("file", "s", "C1")):
        top.plot(
            sizes,
            [rows[source][s]["mib_s"] for s in sizes],
            marker=marker,
            color=color,
            label=f"rv.stream, {source}",
        )
        top.axhline(bare[source], color=color, linestyle=":", label=f"bare readinto, {source}")
        bottom.plot(
            sizes,
            [rows[source][s]["rss_growth_kib"] / 1024 for s in sizes],
            marker=marker,
            color=color,
            label=source,
        )
    top.set_ylabel("throughput (MiB/s)")
    top.set_title("rv.stream: throughput and peak RSS vs buffer size")
    bottom.set_ylabel("peak RSS growth (MiB)")
    bottom.set_xlabel("buffer_size")
    bottom.set_xscale("log", base=2)
    bottom.set_yscale("symlog", linthresh=1)
    bottom.set_xticks(sizes, [label(s) for s in sizes])
    for axis in (top, bottom):
        axis.grid(True, alpha=0.3)
        axis.legend()
        axis.axvline(DEFAULT_BUFFER_SIZE, color="grey", linestyle="--", linewidth=1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "_child":
        child_sweep(args[1], int(args[2]), int(args[3]), args[4])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["pipe", "alloc", "sweep"], help="parts to run")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer runs")
    parser.add_argument(
        "--plot", type=Path, default=ROOT / "docs" / "stream_buffer_sweep.png", help="PNG to draw"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    options = parser.parse_args(args)
    results: dict[str, object] = {}
    if "pipe" in options.parts:
        results["pipe"] = bench_pipe(options.quick)
    if "alloc" in options.parts:
        results["alloc"] = bench_alloc(options.quick)
    if "sweep" in options.parts:
        results["sweep"] = bench_sweep(options.quick, options.plot)
    if options.json:
        options.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
