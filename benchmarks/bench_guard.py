"""What the SIGBUS guard costs, and what it saves (issue 4).

Two measurements, printed as tables:

1. **Scan cost.** A whole-file reduction (``np.sum`` over a ``<u8`` view of the
   file) through a plain ``mmap.mmap``, through recview's guarded mapping
   (``recview._guard``) and through recview's pure-mmap fallback, each on a
   fresh mapping (so the page-fault path, where the guard could cost something,
   is included) and again on an already-populated one. Trials are interleaved
   so that noise from other work on the machine hits every variant alike; the
   table gives medians and the ratio to plain mmap. The target is <= 1%.
   Also timed: repairing a whole mapping after the file is truncated to zero
   (one signal), and the checks the view layer makes before each read
   (``fault_count()`` and ``ensure_guard()``).

2. **Kill trials.** N child processes each map a file and run numpy
   reductions over it back to back while this (another) process truncates
   the file at a random moment to a random size (mid-page, or zero). A child
   that dies of SIGBUS is counted; without the guard (``RECVIEW_NO_GUARD=1``)
   they die, with it none should, and each reports that it saw the fault.

Run ``python benchmarks/bench_guard.py --help`` for the knobs; the defaults
take one to three minutes on a 2-core machine, depending on its load. Big
files go to ``$TMPDIR``.
"""

from __future__ import annotations

import argparse
import mmap
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recview import _mapping

MIB = 1 << 20


def _write_file(path: Path, nbytes: int) -> None:
    block = np.arange(MIB // 8, dtype="<u8").tobytes()
    with open(path, "wb") as f:
        f.writelines(block for _ in range(nbytes // MIB))


def _scan(buffer: memoryview | mmap.mmap) -> int:
    return int(np.frombuffer(buffer, dtype="<u8").sum())


def _plain(fd: int, nbytes: int) -> tuple[memoryview | mmap.mmap, Callable[[], None]]:
    m = mmap.mmap(fd, nbytes, access=mmap.ACCESS_READ)
    return m, m.close


def _guarded(fd: int, nbytes: int) -> tuple[memoryview | mmap.mmap, Callable[[], None]]:
    m = _mapping.Mapping(fd, 0, nbytes)
    assert m.guarded, _mapping.GUARD_ERROR
    return m.buffer, m.close


def _fallback(fd: int, nbytes: int) -> tuple[memoryview | mmap.mmap, Callable[[], None]]:
    saved = _mapping._native
    _mapping._native = False
    try:
        m = _mapping.Mapping(fd, 0, nbytes)
    finally:
        _mapping._native = saved
    assert not m.guarded
    return m.buffer, m.close


VARIANTS = {"plain mmap.mmap": _plain, "recview guarded": _guarded, "recview fallback": _fallback}


def bench_scan(path: Path, nbytes: int, trials: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    expected = _scan(mmap.mmap(fd, nbytes, access=mmap.ACCESS_READ))  # warms the page cache
    cold: dict[str, list[float]] = {name: [] for name in VARIANTS}
    warm: dict[str, list[float]] = {name: [] for name in VARIANTS}
    order = list(VARIANTS)
    for trial in range(trials):
        # rotate the order each trial: no variant always runs first
        for name in order[trial % 3 :] + order[: trial % 3]:
            buf, close = VARIANTS[name](fd, nbytes)
            # CPU time of this thread: the machine is shared, and wall time
            # also counts the moments another process had our core
            t0 = time.thread_time()
            total = _scan(buf)  # fresh mapping: every page faulted in
            t1 = time.thread_time()
            total2 = _scan(buf)  # populated mapping: memory bandwidth only
            t2 = time.thread_time()
            assert total == total2 == expected
            cold[name].append(t1 - t0)
            warm[name].append(t2 - t1)
            del buf
            close()
    os.close(fd)

    print(
        f"\n## Whole-file scan, {nbytes / MIB:,.0f} MiB, {trials} interleaved trials "
        "(thread CPU time)\n"
    )
    print(
        "Ratios are to plain mmap.mmap in the *same* trial (the variants run back to "
        "back), then the median and the interquartile range over trials: drift in the "
        "machine's load cancels out.\n"
    )
    print("| variant | fresh mapping | ratio (IQR) | populated mapping | ratio (IQR) |")
    print("|---|---:|---:|---:|---:|")
    base = order[0]
    for name in order:
        cells = []
        for samples in (cold, warm):
            ratios = [x / y for x, y in zip(samples[name], samples[base], strict=True)]
            q1, _, q3 = statistics.quantiles(ratios, n=4)
            cells += [
                f"{statistics.median(samples[name]) * 1e3:.1f} ms",
                f"{statistics.median(ratios):.3f} ({q1:.3f}-{q3:.3f})",
            ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        "\nThe guard adds nothing to the read path (no check per page or per load); "
        "the mapping is created by the extension's own mmap call instead of mmap.mmap."
    )


def _vm_flags(address: int) -> str:
    """The kernel's VmFlags of the mapping holding ``address`` (Linux only)."""
    try:
        lines = Path("/proc/self/smaps").read_text().splitlines()
    except OSError:
        return "?"
    inside = False
    for line in lines:
        head = line.split()[0] if line.split() else ""
        if "-" in head and ":" not in head:
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= address < hi
        elif inside and line.startswith("VmFlags:"):
            return line.split(":", 1)[1].strip()
    return "?"


def bench_vm_flags(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    plain = mmap.mmap(fd, MIB, access=mmap.ACCESS_READ)
    guarded = _mapping.Mapping(fd, 0, MIB)
    arr = np.frombuffer(plain, dtype=np.uint8)
    plain_addr = arr.__array_interface__["data"][0]
    guarded_addr = np.frombuffer(guarded.buffer, np.uint8).__array_interface__["data"][0]
    print("\n## The two mappings, as the kernel sees them (/proc/self/smaps VmFlags)\n")
    print("| variant | VmFlags |")
    print("|---|---|")
    print(f"| plain mmap.mmap | {_vm_flags(plain_addr)} |")
    print(f"| recview guarded | {_vm_flags(guarded_addr)} |")
    del arr
    plain.close()
    guarded.close()
    os.close(fd)


def bench_repair_and_checks(tmp: Path, nbytes: int) -> None:
    path = tmp / "repair.bin"
    _write_file(path, nbytes)
    fd = os.open(path, os.O_RDONLY)
    m = _mapping.Mapping(fd, 0, nbytes)
    arr = np.frombuffer(m.buffer, dtype="<u8")
    assert int(arr.sum()) > 0
    before = _mapping.fault_count()
    os.truncate(path, 0)
    t0 = time.perf_counter()
    total = int(arr.sum())  # every page lost: repaired by one signal
    t1 = time.perf_counter()
    assert total == 0
    assert m.faulted()
    faults = _mapping.fault_count() - before
    m.close()
    del arr
    os.close(fd)
    path.unlink()

    n = 200_000
    t2 = time.perf_counter()
    for _ in range(n):
        _mapping.fault_count()
    t3 = time.perf_counter()
    for _ in range(n):
        _mapping.ensure_guard()
    t4 = time.perf_counter()
    print("\n## Repair and checks\n")
    print("| what | cost |")
    print("|---|---:|")
    print(
        f"| scan of a {nbytes / MIB:,.0f} MiB mapping truncated to 0 ({faults} signal) | "
        f"{(t1 - t0) * 1e3:.1f} ms |"
    )
    print(f"| `fault_count()` (checked before every read) | {(t3 - t2) / n * 1e9:.0f} ns |")
    print(f"| `ensure_guard()` (at open/refresh: one sigaction) | {(t4 - t3) / n * 1e9:.0f} ns |")


CHILD = r"""
import os, resource, sys, time
import numpy as np
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # deaths must not write cores
from recview import _mapping
path, seconds = sys.argv[1], float(sys.argv[2])
fd = os.open(path, os.O_RDONLY)
m = _mapping.Mapping(fd, 0, os.fstat(fd).st_size)
arr = np.frombuffer(m.buffer, dtype="<u8")
print("ready", flush=True)
deadline = time.monotonic() + seconds
reductions = 0
while time.monotonic() < deadline:  # long numpy reductions, back to back
    arr.sum()
    reductions += 1
print("done", m.guarded, m.faulted(), reductions, flush=True)
"""


def _kill_trial(
    path: Path, nbytes: int, guarded: bool, seconds: float, rng: random.Random
) -> tuple[int, bool, float]:
    _write_file(path, nbytes)
    env = dict(os.environ)
    env.pop("RECVIEW_NO_GUARD", None)
    if not guarded:
        env["RECVIEW_NO_GUARD"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(seconds)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    time.sleep(rng.uniform(0.1, 0.8) * seconds)
    # cut to a random size, mid-page and mid-record, or to zero
    os.truncate(path, rng.choice([0, rng.randrange(0, nbytes)]))
    out, _ = proc.communicate(timeout=120)
    elapsed = time.perf_counter() - t0
    faulted = out.startswith("done True True")
    return proc.returncode, faulted, elapsed


@dataclass
class _Tally:
    died: int = 0
    other: int = 0
    faulted: int = 0
    times: list[float] = field(default_factory=list)


def bench_kill(tmp: Path, nbytes: int, trials: int, seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    print(
        f"\n## Kill trials: {trials} children per mode, each reducing over a "
        f"{nbytes / MIB:,.0f} MiB mapped file for {seconds} s; this process cuts the "
        f"file at a random moment in that time\n"
    )
    print(
        "| mode | trials | died of SIGBUS | other failures | survived, saw the fault "
        "| median time from ready to exit |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    modes = [False, True]
    tally = {g: _Tally() for g in modes}
    for i in range(trials):
        for guarded in modes if i % 2 == 0 else modes[::-1]:
            rc, faulted, elapsed = _kill_trial(
                tmp / f"kill-{int(guarded)}.bin", nbytes, guarded, seconds, rng
            )
            t = tally[guarded]
            if rc == -signal.SIGBUS:
                t.died += 1
            elif rc != 0:
                t.other += 1
            elif faulted:
                t.faulted += 1
            t.times.append(elapsed)
    for guarded in modes:
        t = tally[guarded]
        name = "recview guarded" if guarded else "no guard (RECVIEW_NO_GUARD=1)"
        print(
            f"| {name} | {trials} | {t.died} | {t.other} | {t.faulted} | "
            f"{statistics.median(t.times):.2f} s |"
        )
    for g in modes:
        (tmp / f"kill-{int(g)}.bin").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--scan-mib", type=int, default=64, help="file size for the scan benchmark (MiB)"
    )
    parser.add_argument(
        "--scan-trials", type=int, default=301, help="interleaved trials per variant"
    )
    parser.add_argument(
        "--kill-mib", type=int, default=128, help="file size for the kill trials (MiB)"
    )
    parser.add_argument("--kill-trials", type=int, default=40, help="children per mode")
    parser.add_argument(
        "--kill-seconds", type=float, default=0.4, help="how long each child keeps reducing"
    )
    parser.add_argument("--seed", type=int, default=4, help="random seed of the kill trials")
    parser.add_argument("--skip-scan", action="store_true", help="only run the kill trials")
    parser.add_argument("--skip-kill", action="store_true", help="only run the scan benchmark")
    args = parser.parse_args(argv)

    if not _mapping.GUARD_AVAILABLE:
        print(f"the guard is not available: {_mapping.GUARD_ERROR}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="recview-bench-guard-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.skip_scan:
            path = tmp / "scan.bin"
            _write_file(path, args.scan_mib * MIB)
            bench_scan(path, args.scan_mib * MIB, args.scan_trials)
            bench_vm_flags(path)
            path.unlink()
            bench_repair_and_checks(tmp, 512 * MIB)
        if not args.skip_kill:
            bench_kill(tmp, args.kill_mib * MIB, args.kill_trials, args.kill_seconds, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
