"""Benchmarks of recview.stream: pipe throughput, steady-state allocations, buffer sizes.

Run from the repository root (not collected by pytest)::

    python benchmarks/bench_stream.py                 # everything, ~2 minutes
    python benchmarks/bench_stream.py --quick         # smaller sizes, fewer runs
    python benchmarks/bench_stream.py pipe            # one part: pipe | alloc | sweep

1. **pipe**: a child process writes records into a real ``os.pipe()`` as fast
   as it can; the parent reads them either with a bare ``readinto`` loop into
   one ``bytearray`` (the floor: no arrays at all) or with ``rv.stream``
   (arrays over pooled buffers). 25 rounds, each running every reader once;
   medians, and the median of the per-round ratios stream / bare (target
   >= 0.9). Through an unbuffered ``FileIO`` and
   a ``BufferedReader`` (what ``sys.stdin.buffer`` is). ``rv.stream`` widens
   a default 64 KiB pipe to its 256 KiB buffer (``F_SETPIPE_SZ``) and the bare
   loops do not, so a third case gives every reader a 256 KiB pipe: that ratio
   is stream's own overhead. The bare loop runs both into a plain
   ``bytearray`` (its alignment is up to malloc) and into a 64-byte-aligned
   buffer (the kernel's fastest copy).
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

from recview.pool import DEFAULT_BUFFER_SIZE, BufferPool
from recview.streams import stream

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
    """``readinto`` one plain ``bytearray`` until EOF: what a user would write."""
    return readinto_loop(f, bytearray(buffer_size))


def aligned_loop(f: object, buffer_size: int) -> int:
    """The same into a 64-byte-aligned buffer: the kernel's copy at its fastest."""
    raw = np.empty(buffer_size + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return readinto_loop(f, raw[start : start + buffer_size].data)


def readinto_loop(f: object, buffer: bytearray | memoryview) -> int:
    readinto = f.readinto  # type: ignore[attr-defined]
    total = 0
    while True:
        n = readinto(buffer)
        if not n:
            return total
        total += n


def stream_loop(f: object, buffer_size: int | None = None) -> int:
    """Count the bytes of all records; ``buffer_size=None``: the default pool."""
    pool = None if buffer_size is None else BufferPool(buffer_size=buffer_size)
    total = 0
    for batch in stream(f, RECORD, pool=pool):
        total += len(batch)
    return total * RECORD.itemsize


def default_stream_loop(f: object, buffer_size: int) -> int:
    return stream_loop(f)  # the default pool, as users get it


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
    # Many short rounds rather than a few long ones: on a shared machine the
    # load drifts over minutes, and each round's readers run seconds apart.
    total = (64 if quick else 128) * MIB
    total -= total % RECORD.itemsize
    runs = 5 if quick else 25
    results: dict[str, object] = {"bytes": total, "runs": runs}
    print(f"\n## pipe: {total / MIB:.0f} MiB per run, medians of {runs} rounds")
    print(
        "| file object | pipe size | bare MiB/s | bare aligned MiB/s | rv.stream MiB/s "
        "| stream / bare | stream / aligned (median per round) | CPU s/GiB bare, aligned, stream |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    cases = [
        ("FileIO (buffering=0)", 0, 0),
        ("BufferedReader (like sys.stdin.buffer)", -1, 0),
        ("FileIO (buffering=0)", 0, 256 << 10),  # the capacity rv.stream sets: same pipe
    ]
    readers = {"bare": bare_loop, "aligned": aligned_loop, "stream": default_stream_loop}
    for label_, buffering, pipe_size in cases:
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in readers}
        for _ in range(runs):
            for name, reader in readers.items():
                samples[name].append(timed_pipe_run(reader, total, buffering, pipe_size))
        speed = {name: statistics.median(x[0] for x in found) for name, found in samples.items()}
        cpu = {name: statistics.median(x[1] for x in found) for name, found in samples.items()}
        # Ratios within each round (the runs are seconds apart), then their
        # median: robust to the load drifting over the minutes of a case.
        ratio = {
            ref: statistics.median(
                s[0] / r[0] for s, r in zip(samples["stream"], samples[ref], strict=True)
            )
            for ref in ("bare", "aligned")
        }
        size = f"{pipe_size >> 10} KiB" if pipe_size else "64 KiB (default)"
        results[f"{label_} / {size}"] = {
            "speed": speed,
            "cpu": cpu,
            "ratio": ratio,
            "samples": samples,
        }
        print(
            f"| {label_} | {size} | {speed['bare']:,.0f} | {speed['aligned']:,.0f} "
            f"| {speed['stream']:,.0f} | {ratio['bare']:.2f} | {ratio['aligned']:.2f} "
            f"| {cpu['bare']:.2f}, {cpu['aligned']:.2f}, {cpu['stream']:.2f} |"
        )
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
    """In a fresh process: stream *total* bytes; print throughput, CPU and RSS (JSON).

    ``buffer_size`` 0 runs a reference instead: a bare ``readinto`` loop into
    one 1 MiB ``bytearray`` (-1: into a 64-byte-aligned 1 MiB buffer). The
    consumer only counts records, as the bare loop only counts bytes.
    """
    if source == "pipe":
        read_fd, child = start_writer(total)
        f = open(read_fd, "rb", buffering=0)  # noqa: SIM115
    else:
        child = None
        f = open(path, "rb", buffering=0)  # noqa: SIM115
    before = peak_rss_kib()
    cpu = time.process_time()
    start = time.perf_counter()
    if buffer_size > 0:
        nbytes = stream_loop(f, buffer_size)
    else:  # the references: 0 a plain bytearray, -1 an aligned buffer, of 1 MiB
        nbytes = (aligned_loop if buffer_size else bare_loop)(f, MIB)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    after = peak_rss_kib()
    f.close()
    if child is not None:
        child.wait()
    assert nbytes == total, (nbytes, total)
    result = {
        "mib_s": total / elapsed / MIB,
        "cpu_s_per_gib": cpu / (total / 1024 / MIB),
        "peak_rss_mib": after / 1024,
        "rss_growth_mib": (after - before) / 1024,
    }
    print(json.dumps(result))


def bench_sweep(quick: bool, plot: Path | None) -> dict[str, object]:
    sizes = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20]
    total = (128 if quick else 256) * MIB
    total -= total % RECORD.itemsize
    runs = 1 if quick else 5
    path = Path(tempfile.mkdtemp()) / "sweep.bin"
    with open(path, "wb") as f:
        block = np.random.default_rng(0).bytes(16 * MIB)
        f.writelines(block[: total - i] for i in range(0, total, len(block)))
    with open(path, "rb", buffering=0) as f:  # into the page cache
        bare_loop(f, MIB)
    samples: dict[tuple[str, int], list[dict[str, float]]] = {}
    # Runs outermost, so that every configuration sees the same mix of
    # machine load (this machine is shared and noisy).
    for _ in range(runs):
        for source in ("pipe", "file"):
            for size in [0, -1, *sizes]:  # 0, -1: the bare readinto loops
                done = subprocess.run(
                    [sys.executable, __file__, "_child", source, str(size), str(total), str(path)],
                    capture_output=True,
                    check=True,
                    text=True,
                )
                samples.setdefault((source, size), []).append(json.loads(done.stdout))
    path.unlink()
    rows = {
        source: {
            size: {key: statistics.median(s[key] for s in found) for key in found[0]}
            for (src, size), found in samples.items()
            if src == source
        }
        for source in ("pipe", "file")
    }
    bare = {source: rows[source].pop(0) for source in rows}
    aligned = {source: rows[source].pop(-1) for source in rows}
    print(f"\n## buffer-size sweep: {total / MIB:.0f} MiB per run, median of {runs}")
    print(
        "| buffer | pipe MiB/s | pipe CPU s/GiB | file MiB/s | file CPU s/GiB "
        "| peak RSS MiB (growth) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    references = {0: bare, -1: aligned}
    for size in [0, -1, *sizes]:
        cells = []
        for source in ("pipe", "file"):
            row = references[size][source] if size <= 0 else rows[source][size]
            cells.append(f"{row['mib_s']:,.0f} | {row['cpu_s_per_gib']:.2f}")
        row = references[size]["file"] if size <= 0 else rows["file"][size]
        name = {0: "bare readinto, 1 MiB", -1: "bare, aligned, 1 MiB"}.get(size, label(size))
        rss = f"{row['peak_rss_mib']:.1f} ({row['rss_growth_mib']:+.1f})"
        print(f"| {name} | {' | '.join(cells)} | {rss} |")
    if plot is not None:
        draw(rows, bare, aligned, sizes, plot)
        print(f"\nplot: {plot}")
    return {"bytes": total, "runs": runs, "rows": rows, "bare": bare, "aligned": aligned}


def label(size: int) -> str:
    return f"{size >> 20} MiB" if size >= MIB else f"{size >> 10} KiB"


def draw(
    rows: dict[str, dict[int, dict[str, float]]],
    bare: dict[str, dict[str, float]],
    aligned: dict[str, dict[str, float]],
    sizes: list[int],
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(7, 9), sharex=True)
    panels = [
        ("mib_s", "throughput (MiB/s)"),
        ("cpu_s_per_gib", "reader CPU (s/GiB)"),
        ("peak_rss_mib", "peak RSS (MiB)"),
    ]
    for axis, (key, title) in zip(axes, panels, strict=True):
        for source, marker, color in (("pipe", "o", "C0"), ("file", "s", "C1")):
            axis.plot(
                sizes,
                [rows[source][s][key] for s in sizes],
                marker=marker,
                color=color,
                label=f"rv.stream, {source}",
            )
            axis.axhline(
                bare[source][key], color=color, linestyle=":", label=f"bare readinto, {source}"
            )
            axis.axhline(
                aligned[source][key],
                color=color,
                linestyle="-.",
                linewidth=1,
                label=f"bare, aligned, {source}",
            )
        axis.set_ylabel(title)
        axis.grid(True, alpha=0.3)
        axis.axvline(DEFAULT_BUFFER_SIZE, color="grey", linestyle="--", linewidth=1)
    axes[0].set_title("rv.stream vs buffer_size (dashed: the default)")
    axes[0].legend(fontsize=8)
    axes[2].set_xlabel("buffer_size")
    axes[2].set_xscale("log", base=2)
    axes[2].set_xticks(sizes, [label(s) for s in sizes])
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
