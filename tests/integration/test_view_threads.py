"""One View shared by threads while a writer appends: no spurious error, nothing lost.

Four kinds of threads share one view for a few seconds, in both modes:

- a writer appends self-checking records (sequence number, a hash of it) in
  chunks of random byte sizes, most ending inside a record;
- two refreshers call ``refresh()`` in a loop (the file only grows, so any
  ``TruncatedError`` is spurious);
- readers check ``view[i]``, ``view[-1]``, slices, ``view.array`` and
  ``batches()`` scans record by record against the hash;
- one follower iterates ``follow(start=0)`` and must see every record
  exactly once, in order.

Before the view was made thread-safe, concurrent refreshes raised a spurious
``TruncatedError`` and remaps raised "operation forbidden on released
memoryview", which killed the follower part way.
"""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

import recview as rv

DT = np.dtype([("seq", "<u8"), ("check", "<u8")])
TOTAL = 100_000
SECONDS_MAX = 60  # every thread must be done by then


def check_of(seq: np.ndarray) -> np.ndarray:
    x = seq.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return x ^ (x >> np.uint64(29))


def make(a: int, b: int) -> bytes:
    r = np.zeros(b - a, DT)
    r["seq"] = np.arange(a, b, dtype=np.uint64)
    r["check"] = check_of(r["seq"])
    return r.tobytes()


def assert_records(arr: np.ndarray, first: int) -> None:
    seq = arr["seq"]
    want = np.arange(first, first + len(arr), dtype=np.uint64)
    if not np.array_equal(seq, want) or not np.array_equal(arr["check"], check_of(want)):
        bad = int(np.flatnonzero((seq != want) | (arr["check"] != check_of(want)))[0])
        raise AssertionError(f"record {first + bad}: got seq {int(seq[bad])}")


@pytest.mark.parametrize("mode", ["mmap", "pread"])
def test_refresh_reads_and_follow_share_one_view_while_a_writer_appends(tmp_path, mode):
    path = tmp_path / "shared.bin"
    path.write_bytes(make(0, 100))
    view = rv.open(path, DT, mode=mode, trailing="ignore")
    stop = threading.Event()
    errors: list[BaseException] = []
    counts = {"refresh": 0, "reads": 0, "scans": 0}
    followed: list[np.ndarray] = []

    def guarded(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - collected and reported below
                errors.append(exc)
                stop.set()

        return run

    def writer():
        rng = random.Random(10)
        data = make(0, TOTAL)
        pos = 100 * DT.itemsize
        with open(path, "ab") as f:
            while pos < len(data) and not stop.is_set():
                n = rng.randint(1, 40 * DT.itemsize)
                f.write(data[pos : pos + n])
                f.flush()
                pos += n
                if rng.random() < 0.3:
                    time.sleep(0.0005)

    def refresher():
        last = 0
        while not stop.is_set():
            n = view.refresh()
            assert n >= last, f"refresh() went back from {last} to {n}"
            last = n
            counts["refresh"] += 1

    def reader(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            n = len(view)
            i = rng.randrange(n)
            assert_records(np.atleast_1d(view[i]), i)
            last = view[-1]
            assert last["check"] == check_of(np.array([last["seq"]]))[0]
            a = rng.randrange(n)
            b = min(n, a + rng.randint(1, 5000))
            assert_records(view[a:b], a)
            if rng.random() < 0.05:
                arr = view.array
                assert len(arr) >= n
                assert_records(arr, 0)
            if rng.random() < 0.05:
                pos = 0
                for batch in view.batches(nbytes=64 << 10):
                    assert_records(batch, pos)
                    pos += len(batch)
                assert pos >= n
                counts["scans"] += 1
            counts["reads"] += 1

    def follower():
        seen = 0
        for batch in view.follow(start=0, poll=0.001, timeout=2.0, records=3000):
            assert_records(batch, seen)
            followed.append(batch["seq"][[0, -1]].copy())
            seen += len(batch)
            if seen >= TOTAL:
                break

    threads = [
        threading.Thread(target=guarded(writer), daemon=True),
        threading.Thread(target=guarded(refresher), daemon=True),
        threading.Thread(target=guarded(refresher), daemon=True),
        threading.Thread(target=guarded(lambda: reader(1)), daemon=True),
        threading.Thread(target=guarded(lambda: reader(2)), daemon=True),
    ]
    follow_thread = threading.Thread(target=guarded(follower), daemon=True)
    for t in [*threads, follow_thread]:
        t.start()
    follow_thread.join(SECONDS_MAX)
    assert not follow_thread.is_alive(), "follow() did not finish in time"
    stop.set()
    for t in threads:
        t.join(SECONDS_MAX)
        assert not t.is_alive(), f"{t.name} hung"
    view.close()
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
    # exactly once, in order: the batches tile 0..TOTAL
    starts = [int(a) for a, _ in followed]
    ends = [int(b) + 1 for _, b in followed]
    assert starts[0] == 0 and ends[-1] == TOTAL
    assert starts[1:] == ends[:-1]
    assert counts["refresh"] > 100 and counts["reads"] > 10, counts
