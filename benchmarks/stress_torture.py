"""Torture: a writer appends, truncates and regrows a file while a reader uses recview (issue 4).

Run from the repository root (not collected by pytest; ``tests/integration/
test_torture.py`` runs it with a short ``--seconds``)::

    python benchmarks/stress_torture.py --seconds 60              # plain, 60 s
    python benchmarks/stress_torture.py --seconds 60 --variants all
    python benchmarks/stress_torture.py --seconds 10 --variants all --parallel --json out.json

Each *variant* runs two processes for ``--seconds``:

- The **writer** appends self-checking records of 24 bytes after a 16-byte
  header, in chunks of random byte sizes (so the file usually ends inside a
  record), and every few tens of milliseconds truncates the file to a random
  size: to zero, into the header, into the middle of a record, anywhere. It
  then regrows it: the header is written back if it was cut, the file is cut
  back to the last whole record, and appending goes on with new sequence
  numbers.
- The **reader** does recview API operations in a loop: ``refresh``, ``len``,
  ``view[i]``, slices with steps, fields, ``batches``, ``follow``,
  ``columns``, ``view.array``; it keeps up to 64 zero-copy arrays across
  truncations and touches them all after each one, so pages a truncation took
  away are read (and the SIGBUS guard repairs them).

A record is ``seq`` (u64, from 1, never reused), ``check`` = splitmix64(seq),
``inv`` = ~seq (low 32 bits) and a constant ``magic``. Every way a record can
be damaged (all zeros, half zeros where a page boundary cuts it, halves of two
records) fails the check.

**The reader protocol**, the one ``docs/changing_files.md`` prescribes: copy
what an operation returned, then call ``view.refresh()``. If it raises
``TruncatedError`` the copies are thrown away and the file is reopened;
otherwise every copied record is checked. A record that fails is counted as
**corrupt**; so is a record that, within one opened view, is seen with a
different ``seq`` at the same index than before (**changed**), and a copy
whose ``seq`` does not increase with the index (**disorder**).

**The writer protocol.** recview detects a shrink when it is still visible at
the next ``refresh()`` (``fstat``) or when a page it took away was touched
(the guard's fault counter). A file that was cut *and* grown back past the
view's end between two checks, with no lost page touched, looks unchanged:
no reader can tell. So in the default ``sync`` writer mode, after each cut the
writer waits until a reader check that *began after the cut* has finished
before it grows the file again (a counter in a shared control file), which is
the window recview promises to catch; the variant must then report 0 corrupt,
0 changed, 0 disorder. The ``chaos`` writer regrows at once, without waiting:
only deaths and unexpected exceptions are asserted then, and the damaged
records it gets past the checks are reported, to measure that limit.

Counted per variant: deaths by signal (the reader's exit status), unexpected
exception types (anything but ``TruncatedError``, ``LayoutError`` at open,
``ClosedError`` from the deliberate use-after-close), corrupt/changed/disorder
records, API operations, truncations seen, guard repairs.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import json
import mmap
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util

HEADER = b"recview torture\n"  # 16 bytes
RECORD = np.dtype([("seq", "<u8"), ("check", "<u8"), ("inv", "<u4"), ("magic", "<u4")])
MAGIC = 0x5EC0DE42
MAX_FILE_NBYTES = 1 << 20  # the writer cuts the file when it grows past this
MAX_RECORDS = 2 * MAX_FILE_NBYTES // RECORD.itemsize
HELD_MAX = 64

# name: (mode, faulthandler, reads in a worker thread, writer mode)
VARIANTS: dict[str, tuple[str, str, bool, str]] = {
    "plain": ("mmap", "none", False, "sync"),
    "fh-before-thread": ("mmap", "before", True, "sync"),
    "fh-after": ("mmap", "after", False, "sync"),
    "fh-after-thread": ("mmap", "after", True, "sync"),
    "pread": ("pread", "none", False, "sync"),
    "chaos": ("mmap", "none", False, "chaos"),
    "chaos-pread": ("pread", "none", False, "chaos"),
}

# Control file: little-endian u64 slots shared by the two processes.
STARTED, DONE, READER_ALIVE, WRITER_CUTS, WRITER_WAITS = range(5)
CTL_SLOTS = 8


def mix(seq: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """splitmix64 of each seq: the check field (never 0 for seq 0 either)."""
    with np.errstate(over="ignore"):
        z = seq.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def make_records(first: int, n: int) -> bytes:
    recs = np.zeros(n, RECORD)
    recs["seq"] = np.arange(first, first + n, dtype=np.uint64)
    recs["check"] = mix(recs["seq"])
    recs["inv"] = ~recs["seq"].astype(np.uint32)
    recs["magic"] = MAGIC
    return recs.tobytes()


def valid(recs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Which records pass every check."""
    seq = recs["seq"]
    return (
        (seq > 0)
        & (recs["check"] == mix(seq))
        & (recs["inv"] == ~seq.astype(np.uint32))
        & (recs["magic"] == MAGIC)
    )


def touch(arr: np.ndarray[Any, Any]) -> int:
    """Read every byte of an array (a zero-copy one may be past a cut); its size."""
    np.ascontiguousarray(arr).view(np.uint8).sum()
    return int(arr.nbytes)


class Control:
    """The shared counters: a small file mapped by both processes."""

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR)
        try:
            self._mm = mmap.mmap(fd, CTL_SLOTS * 8)
        finally:
            os.close(fd)
        self.slots = np.frombuffer(self._mm, dtype="<u8")

    def add(self, slot: int, k: int = 1) -> None:
        self.slots[slot] += k  # only one process writes each slot

    def __getitem__(self, slot: int) -> int:
        return int(self.slots[slot])


# -- the writer ------------------------------------------------------------------


def writer(path: str, ctl_path: str, seed: int, seconds: float, sync: bool) -> dict[str, Any]:
    rng = random.Random(seed)
    ctl = Control(ctl_path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    rec = RECORD.itemsize
    next_seq = 1
    tail = b""  # bytes of whole records not written yet
    stats: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        size = os.fstat(fd).st_size
        if size > MAX_FILE_NBYTES or (size > len(HEADER) and rng.random() < 0.03):
            # -- cut
            r = rng.random()
            if r < 0.15:
                cut = 0
            elif r < 0.25:
                cut = rng.randint(1, len(HEADER) - 1)
            elif r < 0.6:
                cut = max(0, size - rng.randint(1, 3 * rec))  # mid-record near the end
            else:
                cut = rng.randint(0, size - 1)
            os.ftruncate(fd, cut)
            stats["cuts"] += 1
            ctl.add(WRITER_CUTS)
            if sync:
                # Keep the file short until a reader check that began after
                # the cut has ended: recview's window to notice it.
                began = ctl[STARTED]
                t0 = time.monotonic()
                while ctl[DONE] < began + 1 and ctl[READER_ALIVE]:
                    if time.monotonic() > deadline + 30:
                        stats["wait_gave_up"] += 1
                        break
                    time.sleep(0.0002)
                stats["wait_ms"] += round(1000 * (time.monotonic() - t0))
                ctl.add(WRITER_WAITS)
            # -- regrow from the last whole record (the cut bytes are gone)
            if cut < len(HEADER):
                os.ftruncate(fd, 0)
                os.write(fd, HEADER)
            else:
                os.ftruncate(fd, cut - (cut - len(HEADER)) % rec)
            tail = b""
            continue
        # -- append a chunk of random size, usually ending inside a record
        if size == 0:
            os.write(fd, HEADER)
        want = rng.choice((rng.randint(1, rec * 2), rng.randint(1, 4096), rng.randint(1, 65536)))
        while len(tail) < want:
            k = max(64, want // rec + 1)
            tail += make_records(next_seq, k)
            next_seq += k
        written = os.write(fd, tail[:want])
        tail = tail[written:]
        stats["appends"] += 1
        stats["appended_nbytes"] += written
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0, 0.002))
    os.close(fd)
    return dict(stats, last_seq=next_seq - 1)


# -- the reader ------------------------------------------------------------------


class Reader:
    """API operations on one view at a time, with the copy-then-refresh protocol."""

    def __init__(self, path: str, ctl: Control, seed: int, mode: str, fh: str) -> None:
        import recview as rv
        from recview import _mapping

        self.rv, self.mapping = rv, _mapping
        self.path, self.ctl, self.mode, self.fh = path, ctl, mode, fh
        self.rng = random.Random(seed)
        self.view: Any = None
        self.stats: Counter[str] = Counter()
        self.unexpected: Counter[str] = Counter()
        self.first_unexpected: list[str] = []
        self.held: list[np.ndarray[Any, Any]] = []
        self.seen = np.zeros(MAX_RECORDS, np.uint64)  # seq seen at each index, this view

    # one API call
    def api(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.stats["ops"] += 1
        return fn(*args, **kwargs)

    def open(self) -> bool:
        rv = self.rv
        trailing = "error" if self.rng.random() < 0.2 else "ignore"
        try:
            self.view = self.api(
                rv.open, self.path, RECORD, offset=len(HEADER), trailing=trailing, mode=self.mode
            )
        except rv.LayoutError:
            self.stats["layout_errors"] += 1
            return False
        except rv.TruncatedError:  # cut between the fstat and the mmap of the open
            self.stats["truncated_at_open"] += 1
            return False
        self.stats["opens"] += 1
        self.seen[:] = 0
        if self.fh == "after":
            # faulthandler replaces the SIGBUS handler: recview puts its own
            # back at the next refresh (or open), as the contract says.
            faulthandler.disable()
            faulthandler.enable()
            try:
                self.api(self.view.refresh)
            except rv.TruncatedError:
                self.drop()
                return False
        return True

    def drop(self) -> None:
        self.stats["truncations_seen"] += 1
        self.api(self.view.close)
        self.view = None
        # Touch every array kept across the cut: lost pages read as zeros.
        for arr in self.held:
            self.stats["held_touched_nbytes"] += touch(arr)
        if len(self.held) > HELD_MAX // 2:
            del self.held[: len(self.held) // 2]

    def op(self) -> list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
        """One random operation; returns (indices, copied records) to verify."""
        rng, view = self.rng, self.view
        n = self.api(len, view)
        out: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
        kind = rng.choice(
            (
                "refresh",
                "item",
                "slice",
                "step",
                "field",
                "batches",
                "follow",
                "columns",
                "array",
                "hold",
                "touch",
                "closed",
            )
        )
        self.stats["op_" + kind] += 1
        a = rng.randint(0, n)
        b = rng.randint(a, min(n, a + rng.choice((1, 10, 500, 5000))))
        if kind == "refresh":
            self.api(view.refresh)
        elif kind == "item" and n:
            i = rng.randint(-n, n - 1)
            rec = self.api(view.__getitem__, i)
            out.append((np.array([i % n]), np.array([rec], RECORD)))
        elif kind == "slice":
            out.append((np.arange(a, b), self.api(view.__getitem__, slice(a, b)).copy()))
        elif kind == "step":
            step = rng.choice((2, 3, 7, -1, -5))
            idx = np.arange(n)[a:b:step] if step > 0 else np.arange(n)[b:a:step]
            sl = slice(a, b, step) if step > 0 else slice(b, a, step)
            out.append((idx, self.api(view.__getitem__, sl).copy()))
        elif kind == "field":
            recs = np.zeros(b - a, RECORD)
            for name in RECORD.names:
                col = self.api(view.__getitem__, name)
                recs[name] = col[a:b]
            out.append((np.arange(a, b), recs))
        elif kind == "batches":
            start = rng.randint(0, n)
            pos = start
            for k, batch in enumerate(
                self.api(view.batches, rng.choice((1, 7, 100, 4096)), start=start)
            ):
                self.stats["ops"] += 1
                out.append((np.arange(pos, pos + len(batch)), batch.copy()))
                if rng.random() < 0.3:
                    self.held.append(batch)
                pos += len(batch)
                if k >= 4:
                    break
        elif kind == "follow":
            start = rng.randint(0, n)
            pos = start
            it = self.api(view.follow, start=start, poll=0.0005, timeout=0.002, records=500)
            for k, batch in enumerate(it):
                self.stats["ops"] += 1
                out.append((np.arange(pos, pos + len(batch)), batch))
                pos += len(batch)
                if k >= 3:
                    break
        elif kind == "columns":
            cols = self.api(view.columns)
            recs = np.zeros(len(cols["seq"]), RECORD)
            for name in RECORD.names:
                recs[name] = cols[name]
            out.append((np.arange(len(recs)), recs))
        elif kind == "array":
            arr = self.api(getattr, view, "array")
            out.append((np.arange(a, b), arr[a:b].copy()))
        elif kind == "hold":
            self.held.append(self.api(view.__getitem__, slice(a, b)))
            self.held.append(self.api(view.__getitem__, "seq"))
            del self.held[:-HELD_MAX]
        elif kind == "touch":
            for arr in self.held:
                self.stats["held_touched_nbytes"] += touch(arr)
        elif kind == "closed" and rng.random() < 0.1:
            # use after close: ClosedError, the one other error expected
            self.api(view.close)
            self.view = None
            try:
                self.api(view.refresh)
            except self.rv.ClosedError:
                self.stats["closed_errors"] += 1
        return out

    def verify(self, copies: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]) -> None:
        for idx, recs in copies:
            if not len(recs):
                continue
            ok = valid(recs)
            self.stats["verified_records"] += len(recs)
            self.stats["corrupt"] += int(len(recs) - np.count_nonzero(ok))
            order = np.argsort(idx, kind="stable")
            self.stats["disorder"] += int(
                np.count_nonzero(np.diff(recs["seq"][order].astype(np.int64)) <= 0)
            )
            track = idx < MAX_RECORDS
            idx, seq = idx[track], recs["seq"][track]
            before = self.seen[idx]
            self.stats["changed"] += int(np.count_nonzero((before != 0) & (before != seq)))
            self.seen[idx] = seq

    def step(self) -> None:
        rv = self.rv
        if self.view is None:
            # An open counts as a check for the writer: a view opened after a
            # cut holds no bytes the cut took away.
            self.ctl.add(STARTED)
            try:
                opened = self.open()
            finally:
                self.ctl.add(DONE)
            if not opened:
                time.sleep(0.0005)
                return
        copies: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
        try:
            copies = self.op()
        except rv.TruncatedError:
            self.drop()
            return
        if self.view is None:
            return
        # The check: copies count only if no cut is visible now.
        self.ctl.add(STARTED)
        try:
            self.api(self.view.refresh)
        except rv.TruncatedError:
            self.drop()
            return
        finally:
            self.ctl.add(DONE)
        self.verify(copies)

    def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001, PERF203 - counting them is the point
                self.unexpected[type(exc).__name__] += 1
                if len(self.first_unexpected) < 3:
                    self.first_unexpected.append(traceback.format_exc())
                with contextlib.suppress(Exception):
                    if self.view is not None:
                        self.view.close()
                self.view = None


def reader(
    path: str, ctl_path: str, seed: int, seconds: float, mode: str, fh: str, thread: bool
) -> dict[str, Any]:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a death must not write a core
    if fh == "before":
        faulthandler.enable()
    ctl = Control(ctl_path)
    ctl.add(READER_ALIVE)
    r = Reader(path, ctl, seed, mode, fh)
    t0 = time.monotonic()
    try:
        if thread:
            worker = threading.Thread(target=r.run, args=(seconds,))
            worker.start()
            worker.join()
        else:
            r.run(seconds)
    finally:
        ctl.slots[READER_ALIVE] = 0
    elapsed = time.monotonic() - t0
    return {
        **r.stats,
        "seconds": round(elapsed, 2),
        "ops_per_s": round(r.stats["ops"] / elapsed),
        "guard_repairs": r.mapping.fault_count(),
        "guarded": r.mapping.GUARD_AVAILABLE,
        "unexpected": dict(r.unexpected),
        "first_unexpected": r.first_unexpected,
    }


# -- the driver ------------------------------------------------------------------


def start_variant(name: str, seconds: float, seed: int, tmp: Path) -> dict[str, Any]:
    mode, fh, thread, wmode = VARIANTS[name]
    d = tmp / name
    d.mkdir()
    path, ctl = d / "log.bin", d / "ctl"
    path.write_bytes(HEADER)
    ctl.write_bytes(bytes(8 * CTL_SLOTS))
    me = [sys.executable, os.path.abspath(__file__)]
    common = ["--file", str(path), "--ctl", str(ctl), "--seconds", str(seconds)]
    procs = {
        "reader": subprocess.Popen(
            [
                *me,
                "--role",
                "reader",
                *common,
                "--seed",
                str(seed),
                "--mode",
                mode,
                "--faulthandler",
                fh,
                *(["--thread"] if thread else []),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
        "writer": subprocess.Popen(
            [*me, "--role", "writer", *common, "--seed", str(seed + 1), "--writer", wmode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    }
    return {"name": name, "procs": procs, "variant": VARIANTS[name]}


def finish_variant(run: dict[str, Any], seconds: float) -> dict[str, Any]:
    result: dict[str, Any] = {"variant": run["name"]}
    mode, fh, thread, wmode = run["variant"]
    result.update(mode=mode, faulthandler=fh, thread=thread, writer=wmode)
    for role, proc in run["procs"].items():
        try:
            out, err = proc.communicate(timeout=seconds + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        result[role + "_rc"] = proc.returncode
        lines = out.strip().splitlines()
        result[role] = json.loads(lines[-1]) if proc.returncode == 0 and lines else {}
        if proc.returncode != 0:
            result[role + "_stderr"] = err[-3000:]
    result["death_by_signal"] = int(result["reader_rc"] < 0)
    return result


def run_variants(
    names: list[str], seconds: float, seed: int, parallel: bool
) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="recview-torture-") as tmp:
        if parallel:
            runs = [
                start_variant(n, seconds, seed + 10 * k, Path(tmp)) for k, n in enumerate(names)
            ]
            return [finish_variant(r, seconds) for r in runs]
        return [
            finish_variant(start_variant(n, seconds, seed + 10 * k, Path(tmp)), seconds)
            for k, n in enumerate(names)
        ]


def print_results(results: list[dict[str, Any]]) -> None:
    headers = (
        "variant",
        "deaths",
        "unexpected",
        "corrupt",
        "changed",
        "disorder",
        "API ops",
        "ops/s",
        "verified records",
        "cuts",
        "truncations seen",
        "guard repairs",
    )
    rows = []
    for r in results:
        rd, wr = r["reader"], r["writer"]
        unexpected = sum(rd["unexpected"].values()) if rd else f"rc={r['reader_rc']}"
        rows.append(
            (
                r["variant"],
                r["death_by_signal"],
                unexpected,
                rd.get("corrupt", "-"),
                rd.get("changed", "-"),
                rd.get("disorder", "-"),
                f"{rd.get('ops', 0):,}",
                f"{rd.get('ops_per_s', 0):,}",
                f"{rd.get('verified_records', 0):,}",
                wr.get("cuts", "-"),
                rd.get("truncations_seen", "-"),
                rd.get("guard_repairs", "-"),
            )
        )
    _util.print_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="duration of each variant")
    p.add_argument(
        "--variants",
        default="plain",
        help=f"comma-separated, or 'all': {', '.join(VARIANTS)} (default: plain)",
    )
    p.add_argument("--parallel", action="store_true", help="run the variants at the same time")
    p.add_argument("--seed", type=int, default=1, help="random seed (writer and reader)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    # internal: the two child roles
    p.add_argument("--role", choices=("writer", "reader"), help=argparse.SUPPRESS)
    p.add_argument("--file", help=argparse.SUPPRESS)
    p.add_argument("--ctl", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="mmap", help=argparse.SUPPRESS)
    p.add_argument("--faulthandler", default="none", help=argparse.SUPPRESS)
    p.add_argument("--thread", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--writer", default="sync", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.role == "writer":
        print(
            json.dumps(writer(args.file, args.ctl, args.seed, args.seconds, args.writer == "sync"))
        )
        return 0
    if args.role == "reader":
        res = reader(
            args.file, args.ctl, args.seed, args.seconds, args.mode, args.faulthandler, args.thread
        )
        print(json.dumps(res))
        return 0
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    for n in names:
        if n not in VARIANTS:
            p.error(f"unknown variant {n!r} (choose from {', '.join(VARIANTS)})")
    results = run_variants(names, args.seconds, args.seed, args.parallel)
    print(f"torture: {args.seconds:g} s per variant{' (in parallel)' if args.parallel else ''}")
    print_results(results)
    for r in results:
        for role in ("reader", "writer"):
            if r.get(role + "_stderr"):
                print(
                    f"--- {r['variant']} {role} (status {r[role + '_rc']}):\n{r[role + '_stderr']}"
                )
        for tb in r["reader"].get("first_unexpected", []):
            print(f"--- {r['variant']} unexpected:\n{tb}")
        for failure in failures(r):
            print(f"FAILED {r['variant']}: {failure}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if any(failures(r) for r in results) else 0


def failures(result: dict[str, Any]) -> list[str]:
    """What went wrong in one variant (empty: it passed)."""
    rd, wr = result["reader"], result["writer"]
    out = []
    if result["reader_rc"] != 0:
        out.append(f"reader exit status {result['reader_rc']}")
    if result["writer_rc"] != 0:
        out.append(f"writer exit status {result['writer_rc']}")
    if rd.get("unexpected"):
        out.append(f"unexpected exceptions {rd['unexpected']}")
    if wr.get("wait_gave_up"):
        out.append("the writer gave up waiting for the reader")
    if VARIANTS[result["variant"]][3] == "sync":
        out.extend(f"{rd[k]} {k} records" for k in ("corrupt", "changed", "disorder") if rd.get(k))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
