"""One Frames shared by threads: growth is serialised, close() is a ClosedError.

- Two threads calling ``refresh()`` and one ``follow()`` while a writer
  appends: the file only grows, so a ``TruncatedError`` (one thread's stale
  size against the end another advanced) or a ``ValueError`` from the walk (two passes filling one
  index) is spurious; the index must equal a fresh open's.
- ``close()`` while another thread reads ``refresh()``, ``headers``,
  ``frames[i]``, ``batches()``, ``payloads()`` or ``payload_bytes()``: the
  reader gets a complete answer or ``ClosedError``, never a crash (the
  headers gather read an unmapped mapping), ``EBADF``, ``ENOMEM`` or a false
  ``IndexError``. Run in a child process: a crash is a return code.
- Arrays handed out stay valid after ``close()`` (``payloads()`` viewed the
  mapping without holding it: reading it after ``close()`` was a segfault).
"""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import recview as rv


def frame(k: int) -> bytes:
    size = 4 + (k * 7) % 50
    return struct.pack("<I", size) + struct.pack("<I", k) + bytes(size - 4)


@pytest.mark.parametrize("run", range(4))  # a race: it failed 2 runs of 3
def test_threads_refreshing_and_following_one_frames_while_a_writer_appends(
    tmp_path: Path, run: int
) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"".join(frame(k) for k in range(10)))
    n = 20_000
    frames = rv.open_frames(p, "<u4", length="f0")
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        data = b"".join(frame(k) for k in range(10, n))
        rnd, i = random.Random(run), 0
        with open(p, "ab") as f:
            while i < len(data):
                j = min(len(data), i + rnd.randint(1, 3000))
                f.write(data[i:j])
                f.flush()
                i = j
        done.set()

    def refresher() -> None:
        try:
            while not done.is_set():
                frames.refresh()
            frames.refresh()
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    followed: list[int] = []

    def follower() -> None:  # follow() refreshes too: a third thread growing it
        try:
            for _, offs, _ in frames.follow(start=0, poll=0.001, timeout=0.3, records=700):
                followed.extend(offs.tolist())
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=follower)]
    threads += [threading.Thread(target=refresher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]  # the file only grew: no TruncatedError
    assert len(frames) == n
    with rv.open_frames(p, "<u4", length="f0") as fresh:
        assert frames.offsets.tolist() == fresh.offsets.tolist()
        assert followed == fresh.offsets.tolist()  # each frame once, in order
        assert frames.headers.tolist() == fresh.headers.tolist()
    frames.close()


CHILD = textwrap.dedent(
    """
    import struct, sys, threading, collections
    import recview as rv
    path, what, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, "wb") as f:
        f.write(b"".join(struct.pack("<II", 12, k) + bytes(8) for k in range(1000)))
    res = collections.Counter()
    for trial in range(trials):
        fr = rv.open_frames(path, "<u4", length="f0")
        stop = threading.Event()
        def reader():
            while not stop.is_set():
                try:
                    if what == "refresh": fr.refresh()
                    elif what == "headers": fr.headers
                    elif what == "item": fr[5]
                    elif what == "batches": list(fr.batches(100))
                    elif what == "payloads": fr.payloads("<u4").sum()
                    elif what == "payload_bytes": fr.payload_bytes()
                except rv.ClosedError:
                    break
                except Exception as e:
                    res[type(e).__name__ + ": " + str(e)[:80]] += 1
                    break
        t = threading.Thread(target=reader)
        t.start()
        fr.close()
        stop.set()
        t.join()
    print(dict(res))
    """
)


@pytest.mark.parametrize(
    "what", ["refresh", "headers", "item", "batches", "payloads", "payload_bytes"]
)
def test_closing_frames_another_thread_reads_is_a_closed_error(tmp_path: Path, what: str) -> None:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "f.bin"), what, "150"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-500:]  # -11: a segfault
    assert res.stdout.strip() == "{}", res.stdout  # only ClosedError, nothing else


AFTER_CLOSE = textwrap.dedent(
    """
    import struct, sys
    import recview as rv
    path = sys.argv[1]
    with open(path, "wb") as f:
        f.write(b"".join(struct.pack("<I", 8) + struct.pack("<q", k) for k in range(100_000)))
    fr = rv.open_frames(path, "<u4", length="f0")
    pl = fr.payloads("<i8")  # alone: nothing else holds the mapping
    fr.close()
    print(int(pl.sum()), int(pl[-1]))
    fr = rv.open_frames(path, "<u4", length="f0")
    header, payload = fr[7]
    heads = fr.headers
    fr.close()
    print(bytes(payload)[:1], int(header["f0"]), int(heads[-1]["f0"]))
    """
)


def test_arrays_handed_out_stay_valid_after_close(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-c", AFTER_CLOSE, str(tmp_path / "f.bin")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-500:]  # -11: payloads() viewed an unmapped map
    assert res.stdout.split() == [str(sum(range(100_000))), "99999", "b'\\x07'", "8", "8"]
