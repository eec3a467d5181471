"""Shared helpers for the ``benchmarks/bench_*.py`` scripts.

Small and general on purpose: timing by median of several runs, the peak RSS
of a child process, page-cache warming and a plain-text table. The machine the
benchmarks run on is shared and noisy, so every number is a median, and the
scripts report ratios against a baseline measured in the same run.

Peak RSS is measured *inside* the child (``VmHWM`` from ``/proc/self/status``)
rather than with ``os.wait4``/``ru_maxrss``: after ``vfork``/``exec`` Linux
folds the parent's high-water mark into the child's ``ru_maxrss``, so a parent
that has touched a lot of memory would make every child look big.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GIB",
    "MIB",
    "Timing",
    "fmt_bytes",
    "fmt_ratio",
    "fmt_time",
    "machine",
    "median_times",
    "memory_status",
    "print_table",
    "run_child",
    "warm",
]

MIB = 1 << 20
GIB = 1 << 30

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU seconds of several runs of one measurement.

    On a shared machine the wall clock also counts the time other processes
    held the CPU; the process CPU time (``time.process_time``) does not, so a
    ratio of CPU medians is the steadier one when the two disagree.
    """

    samples: tuple[float, ...]
    cpu_samples: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        """Median wall-clock seconds."""
        return statistics.median(self.samples)

    @property
    def cpu(self) -> float:
        """Median CPU seconds of this process (nan when not measured)."""
        return statistics.median(self.cpu_samples) if self.cpu_samples else float("nan")

    def spread(self) -> float:
        """(max - min) / median of the wall-clock runs: how noisy they were."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0


def median_times(
    cases: Mapping[str, Callable[[], object]], *, runs: int = 5, warmup: int = 1
) -> dict[str, Timing]:
    """Time each case ``runs`` times, interleaved, after ``warmup`` untimed rounds.

    Round-robin order (A, B, C, A, B, C, ...) spreads the machine's slow
    moments over all cases instead of penalising whichever ran then.
    """
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for k in range(warmup + runs):
        for name, fn in cases.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            t1, c1 = time.perf_counter(), time.process_time()
            if k >= warmup:
                wall[name].append(t1 - t0)
                cpu[name].append(c1 - c0)
    return {name: Timing(tuple(wall[name]), tuple(cpu[name])) for name in cases}


def memory_status() -> dict[str, int]:
    """This process's ``VmRSS`` and ``VmHWM`` (peak RSS) in bytes.

    Reads ``/proc/self/status`` (Linux); elsewhere falls back to
    ``ru_maxrss`` for both.
    """
    try:
        with open("/proc/self/status") as f:
            lines = f.read().splitlines()
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak *= 1 if sys.platform == "darwin" else 1024
        return {"rss": peak, "peak_rss": peak}
    out = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss" if key == "VmRSS" else "peak_rss"] = int(value.split()[0]) * 1024
    return out


def run_child(code: str, *args: str, timeout: float = 1800) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter and return the JSON it prints last.

    The child gets ``args`` as ``sys.argv[1:]`` and can ``import _util``
    (this directory is put on its ``PYTHONPATH``), typically to end with
    ``print(json.dumps({..., **_util.memory_status()}))``.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [BENCH_DIR, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child failed with status {proc.returncode}:\n{proc.stderr}")
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"child printed nothing:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def warm(path: str, chunk_nbytes: int = 16 * MIB) -> None:
    """Read a file once so that its pages are in the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = bytearray(chunk_nbytes)
        view = memoryview(buf)
        while os.readv(fd, [view]) > 0:
            pass
    finally:
        os.close(fd)


def machine() -> str:
    """One line describing the CPU, core count, memory, OS and Python."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(ValueError, OSError, AttributeError):
        mem = f", {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / GIB:.0f} GiB RAM"
    import platform

    import numpy as np

    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


def fmt_time(seconds: float) -> str:
    """Seconds with a unit that keeps 3 significant digits."""
    if seconds >= 1000:
        return f"{seconds:.0f} s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_bytes(nbytes: float) -> str:
    """Bytes in KiB/MiB/GiB."""
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes:.0f} B"


def fmt_ratio(ratio: float) -> str:
    """A ratio as ``1.02x``, ``31.5x`` or ``2480x``."""
    return f"{ratio:.3g}x" if ratio < 100 else f"{ratio:.0f}x"


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, markdown: bool = False
) -> str:
    """Print rows as an aligned text table (or a Markdown table); also return it."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        body = " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        return f"| {body} |" if markdown else body

    sep = (
        "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        if markdown
        else "-+-".join("-" * w for w in widths)
    )
    text = "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])
    print(text)
    return text
