"""Readers racing a live writer that splits records (and frames) across its writes.

- One :class:`recview.View` shared by four threads (``follow``, ``refresh``,
  slices and single records, ``batches``) while a writer appends records cut
  in the middle: no spurious error in any thread, every slice and batch
  consecutive, and the follower sees every record exactly once, in order.
- A pcap capture written live, frames cut at random byte positions:
  ``Frames.follow`` delivers every frame exactly once, in order, and the
  payloads are the bytes written.

Thread joins are bounded; a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import numpy as np
import pytest

import recview as rv

JOIN = 120


def append_split(path: Path, total: int, chunk: int, seed: int) -> None:
    """Append records 0..total-1 (``<u8``), each write cut inside a record."""
    rng = np.random.default_rng(seed)
    with open(path, "ab", buffering=0) as f:
        i = 0
        while i < total:
            k = min(total - i, chunk)
            data = np.arange(i, i + k, dtype="<u8").tobytes()
            cut = int(rng.integers(1, len(data)))
            f.write(data[:cut])
            f.write(data[cut:])
            i += k


@pytest.mark.parametrize("mode", ["mmap", "pread"])
def test_four_threads_share_a_view_while_a_writer_appends(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "live.bin"
    path.write_bytes(b"")
    total = 60_000
    view = rv.open(path, [("n", "<u8")], mode=mode)  # type: ignore[arg-type]
    stop = threading.Event()
    errors: list[object] = []
    got: list[int] = []

    def follower() -> None:
        try:
            for batch in view.follow(start=0, poll=0.0005, timeout=1.5):
                got.extend(batch["n"].tolist())
        except Exception as err:  # noqa: BLE001 - collected, asserted below
            errors.append(("follow", err))

    def refresher() -> None:
        try:
            while not stop.is_set():
                view.refresh()
        except Exception as err:  # noqa: BLE001
            errors.append(("refresh", err))

    def slicer() -> None:
        try:
            while not stop.is_set():
                n = len(view)
                if not n:
                    continue
                tail = view[max(0, n - 64) : n]["n"].astype(np.int64)
                if not (np.diff(tail) == 1).all() or tail[-1] != n - 1:
                    errors.append(("slice", n, tail[-3:].tolist()))
                if int(view[n - 1]["n"]) != n - 1:
                    errors.append(("index", n))
        except Exception as err:  # noqa: BLE001
            errors.append(("slice", err))

    def batcher() -> None:
        try:
            while not stop.is_set():
                expect = 0
                for batch in view.batches(records=5_000):
                    if int(batch["n"][0]) != expect:
                        errors.append(("batch", expect, int(batch["n"][0])))
                        break
                    expect += len(batch)
        except Exception as err:  # noqa: BLE001
            errors.append(("batch", err))

    threads = [threading.Thread(target=f) for f in (follower, refresher, slicer, batcher)]
    for t in threads:
        t.start()
    append_split(path, total, 997, seed=3)
    threads[0].join(JOIN)
    stop.set()
    for t in threads[1:]:
        t.join(JOIN)
    assert not any(t.is_alive() for t in threads)
    view.close()
    assert errors == []
    assert got == list(range(total))


def test_a_live_capture_cut_anywhere_is_followed_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "live.pcap"
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    total = 20_000

    def writer() -> None:
        rng = np.random.default_rng(5)
        with open(path, "ab", buffering=0) as f:
            pending = b""
            for k in range(total):
                n = int(rng.integers(0, 60))
                pending += struct.pack("<IIII", 7, k, n, n) + bytes([k % 256]) * n
                if len(pending) > 3000:
                    cut = int(rng.integers(1, len(pending)))
                    f.write(pending[:cut])
                    pending = pending[cut:]
            f.write(pending)

    frames = rv.open_frames(path, **rv.formats.pcap(path))
    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[int] = []
    for headers, _offsets, _lengths in frames.follow(start=0, poll=0.001, timeout=1.5):
        seen.extend(headers["ts_usec"].tolist())
    thread.join(JOIN)
    assert seen == list(range(total))
    frames.refresh()
    for k in range(0, total, 499):
        _, payload = frames[k]
        assert bytes(payload) == bytes([k % 256]) * int(frames.lengths[k])
    frames.close()
