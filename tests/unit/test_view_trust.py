"""A View shared between threads or closed while another thread reads it.

What each test pins:

- ``follow()`` with no ``start`` begins at ``len(view)`` as the caller last
  saw it, not at whatever the file holds when ``follow()`` is called;
- a ``close()`` racing a read never lets the read go through a descriptor
  number that another ``os.open`` may have reused (other-file records), and
  never turns into a false empty result or a false ``IndexError``: the read
  either completes from the right file or raises ``ClosedError``;
- a ``refresh()`` that read the size before another thread's ``refresh()``
  counted growth is not a spurious ``TruncatedError``;
- the SIGBUS guard is re-checked in the thread that iterates ``batches()``
  (a worker thread blocking every signal survives a lost page), and a scan
  whose file was cut inside its last page ends in ``TruncatedError``.

Races are made deterministic by pausing one thread inside a system call
wrapper (``os.preadv``, ``os.fstat``) or inside the guard's fault counter
while the main thread does the conflicting operation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import recview as rv
from recview import _mapping

DT = np.dtype([("seq", "<u8"), ("tag", "<u8")])
OTHER_TAG = 0xDEAD  # records of the "other" file that must never be returned


def records(a, b, tag=7):
    r = np.zeros(b - a, DT)
    r["seq"] = np.arange(a, b)
    r["tag"] = tag
    return r


def write(path, recs, mode="wb"):
    with open(path, mode) as f:
        f.write(recs.tobytes())


@pytest.fixture(params=["mmap", "pread"])
def mode(request):
    return request.param


# -- follow(start=None) ---------------------------------------------------------


def test_follow_without_start_begins_at_len_as_last_seen(tmp_path, mode):
    path = tmp_path / "f.bin"
    write(path, records(0, 10))
    with rv.open(path, DT, mode=mode) as view:
        assert view.refresh() == 10
        write(path, records(10, 15), "ab")
        got = np.concatenate(list(view.follow(poll=0.01, timeout=0.2)) or [records(0, 0)])
        assert got["seq"].tolist() == list(range(10, 15))


def test_follow_without_start_after_len_only(tmp_path):
    path = tmp_path / "f.bin"
    write(path, records(0, 10))
    with rv.open(path, DT) as view:
        assert len(view) == 10
        write(path, records(10, 12), "ab")
        got = [b["seq"].tolist() for b in view.follow(poll=0.01, timeout=0.2)]
        assert got == [[10, 11]]


# -- close() racing a read ------------------------------------------------------


class _Pause:
    """Pause the reader thread once inside a wrapped function until released."""

    def __init__(self, real, reader_ident=None):
        self.real = real
        self.inside = threading.Event()
        self.go = threading.Event()
        self.reader = reader_ident
        self.done = False

    def __call__(self, *args, **kwargs):
        if not self.done and threading.get_ident() == self.reader:
            self.done = True
            self.inside.set()
            self.go.wait(10)
        return self.real(*args, **kwargs)


def _race_close(view, read, pause, other_path):
    """Run ``read()`` in a thread paused by ``pause``; close and reopen meanwhile."""
    result = {}

    def reader():
        pause.reader = threading.get_ident()
        try:
            result["value"] = read()
        except rv.ClosedError as exc:
            result["closed"] = exc
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    t = threading.Thread(target=reader)
    t.start()
    assert pause.inside.wait(10), "reader never reached the paused call"
    view.close()
    # The lowest free descriptor number: the one close() freed, if it did.
    other = os.open(other_path, os.O_RDONLY)
    try:
        pause.go.set()
        t.join(10)
        assert not t.is_alive(), "reader hung after close()"
    finally:
        os.close(other)
    assert "error" not in result, repr(result.get("error"))
    return result


def _other_file(tmp_path, n):
    other = tmp_path / "other.bin"
    write(other, records(0, n, tag=OTHER_TAG))
    return other


def _assert_right_or_closed(result, expect_seq):
    if "closed" in result:
        return
    value = result["value"]
    arr = np.concatenate(value) if isinstance(value, list) else np.atleast_1d(value)
    assert not (arr["tag"] == OTHER_TAG).any(), "returned records of another file"
    assert arr["seq"].tolist() == list(expect_seq), "a read racing close() came back wrong"


@pytest.mark.parametrize("how", ["batches", "follow", "slice", "index"])
def test_close_during_pread_never_reads_another_file(tmp_path, monkeypatch, how):
    path = tmp_path / "r.bin"
    write(path, records(0, 100))
    other = _other_file(tmp_path, 100)
    view = rv.open(path, DT, mode="pread")
    pause = _Pause(os.preadv)
    monkeypatch.setattr(os, "preadv", pause)
    got = []  # batches delivered before a ClosedError must be right too

    def scan(it):
        got.extend(b.copy() for b in it)
        return got

    reads = {
        "batches": lambda: scan(view.batches(50)),
        "follow": lambda: scan(view.follow(start=0, timeout=0, records=50)),
        "slice": lambda: view[0:100],
        "index": lambda: view[5],
    }
    result = _race_close(view, reads[how], pause, other)
    if got and "closed" in result:
        result = {"value": got}
        expect = range(sum(len(b) for b in got))
    else:
        expect = [5] if how == "index" else range(100)
    _assert_right_or_closed(result, expect)


@pytest.mark.parametrize("how", ["slice", "array", "index", "negative", "field"])
def test_close_during_an_mmap_read_is_never_a_false_empty_or_index_error(
    tmp_path, monkeypatch, how
):
    path = tmp_path / "r.bin"
    write(path, records(0, 100))
    other = _other_file(tmp_path, 100)
    view = rv.open(path, DT)
    view[0]  # mapped: the race is between the checks and the mapped array
    pause = _Pause(_mapping.fault_count)
    monkeypatch.setattr(_mapping, "fault_count", pause)
    reads = {
        "slice": lambda: view[0:100],
        "array": lambda: view.array,
        "index": lambda: view[5],
        "negative": lambda: view[-95],
        "field": lambda: view["seq"],
    }
    result = _race_close(view, reads[how], pause, other)
    if how == "field" and "value" in result:
        assert result["value"].tolist() == list(range(100))
    else:
        _assert_right_or_closed(result, [5] if how in ("index", "negative") else range(100))


def test_close_while_a_read_is_in_flight_closes_the_file_when_it_finishes(tmp_path, monkeypatch):
    path = tmp_path / "r.bin"
    write(path, records(0, 10))
    other = _other_file(tmp_path, 10)
    view = rv.open(path, DT, mode="pread")
    fd = view._file.fd
    pause = _Pause(os.preadv)
    monkeypatch.setattr(os, "preadv", pause)
    _race_close(view, lambda: view[0:10], pause, other)
    with pytest.raises(OSError):  # the deferred close happened: nothing leaks
        os.fstat(fd)
    with pytest.raises(rv.ClosedError):
        view[0]


# -- concurrent refresh ---------------------------------------------------------------


def test_refresh_after_another_thread_counted_growth_does_not_raise(tmp_path, monkeypatch, mode):
    path = tmp_path / "g.bin"
    write(path, records(0, 10))
    view = rv.open(path, DT, mode=mode)
    real_fstat = os.fstat
    seen = threading.Event()
    go = threading.Event()
    slow = {}

    def fstat(fd):
        st = real_fstat(fd)
        if threading.get_ident() == slow.get("ident") and not seen.is_set():
            seen.set()  # this thread saw 10 records' worth; hold it there
            go.wait(10)
        return st

    monkeypatch.setattr(os, "fstat", fstat)
    result = {}

    def refresh():
        slow["ident"] = threading.get_ident()
        try:
            result["n"] = view.refresh()
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    t = threading.Thread(target=refresh)
    t.start()
    assert seen.wait(10)
    write(path, records(10, 15), "ab")
    assert view.refresh() == 15  # this thread counts the growth first
    go.set()
    t.join(10)
    assert not t.is_alive()
    assert "error" not in result, repr(result.get("error"))
    assert view.refresh() == 15
    view.close()


# -- the guard is re-checked in the iterating thread -----------------------------------------


def test_ensure_guard_runs_in_the_thread_that_iterates_batches(tmp_path, monkeypatch):
    path = tmp_path / "r.bin"
    write(path, records(0, 10))
    calls = []
    real = _mapping.ensure_guard

    def spy(*args, **kwargs):
        calls.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(_mapping, "ensure_guard", spy)
    view = rv.open(path, DT)
    assert calls == [threading.get_ident()]
    it = view.batches(3)
    seen = {}

    def consume():
        seen["ident"] = threading.get_ident()
        seen["n"] = sum(len(b) for b in it)

    t = threading.Thread(target=consume)
    t.start()
    t.join(10)
    assert seen["n"] == 10
    assert seen["ident"] in calls
    calls.clear()
    view.refresh()
    assert calls
    calls.clear()
    t = threading.Thread(target=lambda: list(view.follow(start=0, timeout=0)))
    t.start()
    t.join(10)


BLOCKED_BATCHES_CHILD = r"""
import os, signal, sys, threading, warnings
import numpy as np
import recview as rv

path = sys.argv[1]
page = os.sysconf("SC_PAGESIZE")
view = rv.open(path, [("x", "u1")])   # opened in the main thread
out = {}

def work():
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    total = 0
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        try:
            for i, batch in enumerate(view.batches(nbytes=page)):
                if i == 1:
                    os.truncate(path, page)   # batches 2.. lose their pages
                total += int(batch["x"].sum())  # touches them: SIGBUS without the guard
        except rv.TruncatedError as exc:
            out["error"] = str(exc)
    out["warnings"] = [f"{w.category.__name__}: {w.message}" for w in ws]
    out["blocked"] = signal.SIGBUS in signal.pthread_sigmask(signal.SIG_BLOCK, [])

t = threading.Thread(target=work, name="scanner")
t.start()
t.join()
print(repr(out))
"""


def test_batches_unblocks_sigbus_in_the_thread_that_iterates(tmp_path):
    path = tmp_path / "blocked.bin"
    page = os.sysconf("SC_PAGESIZE")
    path.write_bytes(b"\x01" * (8 * page))
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED_BATCHES_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != -signal.SIGBUS, "died of SIGBUS: the scanning thread had it blocked"
    assert proc.returncode == 0, proc.stderr
    out = eval(proc.stdout)
    assert "blocked.bin" in out["error"]
    [warning] = out["warnings"]
    assert warning.startswith("GuardWarning: ") and "'scanner'" in warning
    assert out["blocked"] is False


def test_batches_raises_after_a_cut_inside_the_last_page(tmp_path, mode):
    # the cut zeroes the tail of the last page without any fault: only the
    # fstat at the end of the scan can tell
    path = tmp_path / "cut.bin"
    page = os.sysconf("SC_PAGESIZE")
    write(path, records(0, 4 * page // DT.itemsize))
    with rv.open(path, DT, mode=mode) as view:
        seen = []

        def scan():
            for batch in view.batches(nbytes=page):
                seen.append(batch["seq"].copy())
                if len(seen) == 1:
                    os.truncate(path, 4 * page - 2 * DT.itemsize)

        with pytest.raises(rv.TruncatedError, match="cut.bin"):
            scan()
        if mode == "mmap":
            assert len(seen) == 4
            assert seen[-1][-1] == 0  # what the caller got was zeros: hence the error
