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
  whose file was cut inside its last page ends in ``TruncatedError``;
- FIFOs, character devices and sockets are refused at once with a
  ``LayoutError`` pointing to ``rv.stream`` (in a child: a FIFO could hang);
- out-of-range keys of any size, and index arrays holding them, are
  ``IndexError`` naming the record count, never ``OverflowError`` and never
  a wrapped-around record; an empty index list is an empty array;
- a procfs file that reports 0 bytes but holds data is refused pointing to
  ``rv.stream``, and a file that refuses mmap (sysfs) is an error naming it
  and ``mode='pread'``.

Races are made deterministic by pausing one thread inside a system call
wrapper (``os.preadv``, ``os.fstat``) or inside the guard's fault counter
while the main thread does the conflicting operation.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import recview as rv
from recview import _mapping
from tests.unit._seq_files import DT, records, write

OTHER_TAG = 0xDEAD  # records of the "other" file that must never be returned


# -- follow(start=None) ---------------------------------------------------------


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
        # A Python int key of a mapped view is read in C (ViewBase) without
        # releasing the GIL: no close() can come in between. numpy integers
        # take the Python path, which checks the fault counter (paused here).
        "index": lambda: view[np.int64(5)],
        "negative": lambda: view[np.int64(-95)],
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
        else:  # the short read of the last window is the error: no batch of zeros
            assert len(seen) == 3
        for k, got in enumerate(seen[:3]):  # the batches before the cut page are the file's
            np.testing.assert_array_equal(got, np.arange(k * len(got), (k + 1) * len(got)))


# -- FIFOs, devices, sockets ----------------------------------------------------------------


def _run(code, *args, timeout=30):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


FIFO_CHILD = r"""
import os, sys, recview as rv
path, with_writer = sys.argv[1], sys.argv[2] == "1"
os.mkfifo(path)
if with_writer:
    w = os.open(path, os.O_RDWR)   # a writer with data: O_RDWR never blocks on a FIFO
    os.write(w, b"x" * 64)
try:
    rv.open(path, "<u4")
except rv.LayoutError as exc:
    print("LayoutError:", exc)
else:
    print("opened")
"""


@pytest.mark.parametrize("with_writer", [False, True])
def test_open_refuses_a_fifo_at_once(tmp_path, with_writer):
    out = _run(FIFO_CHILD, tmp_path / "fifo", int(with_writer))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("LayoutError:"), out.stdout
    assert "fifo" in out.stdout and "rv.stream" in out.stdout


def test_open_refuses_a_character_device():
    with pytest.raises(rv.LayoutError, match=r"/dev/null.*rv\.stream"):
        rv.open("/dev/null", "<u4")


def test_open_refuses_a_socket(tmp_path):
    path = str(tmp_path / "sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(path)
        with pytest.raises(rv.LayoutError, match=r"sock.*socket.*rv\.stream"):
            rv.open(path, "<u4")
    finally:
        s.close()


def test_regular_file_still_reads_blocking(tmp_path):
    path = tmp_path / "r.bin"
    write(path, records(0, 3))
    with rv.open(path, DT, mode="pread") as view:
        assert os.get_blocking(view._file.fd)
        assert view[2]["seq"] == 2


# -- huge keys ------------------------------------------------------------------------------------

HUGE_INDEX_KEYS = [
    2**63,
    -(2**63) - 1,
    2**100,
    -(2**100),
    np.uint64(2**63),
    np.uint64(2**64 - 1),
    np.int64(-(2**63)),
    10,
    -11,
]


@pytest.mark.parametrize("key", HUGE_INDEX_KEYS, ids=repr)
def test_out_of_range_integer_keys_are_index_errors(tmp_path, mode, key):
    path = tmp_path / "r.bin"
    write(path, records(0, 10))
    with rv.open(path, DT, mode=mode) as view:
        with pytest.raises(IndexError, match="out of range for 10 records"):
            view[key]


@pytest.mark.parametrize(
    "key",
    [
        np.array([2**64 - 1], dtype=np.uint64),  # wraps to -1 if cast blindly
        np.array([2**63], dtype=np.uint64),
        [2**63],
        [2**100],
        [10],
        [-11],
    ],
    ids=repr,
)
def test_out_of_range_index_arrays_are_index_errors(tmp_path, mode, key):
    path = tmp_path / "r.bin"
    write(path, records(0, 10))
    with rv.open(path, DT, mode=mode) as view:
        with pytest.raises(IndexError, match="out of range for 10 records"):
            view[key]


@pytest.mark.parametrize(
    ("key", "expect"),
    [
        (slice(2**100, None), []),
        (slice(None, 2**100), list(range(10))),
        (slice(None, None, 2**63), [0]),
        (slice(None, None, -(2**63)), [9]),
        (slice(-(2**100), None, -1), []),
        (slice(2**63, 0, -1), list(range(9, 0, -1))),
        (slice(2**63, None, -3), [9, 6, 3, 0]),
        (slice(np.int64(2), np.uint64(5)), [2, 3, 4]),
        (slice(None, None, -1), list(range(9, -1, -1))),
    ],
    ids=repr,
)
def test_huge_slices(tmp_path, mode, key, expect):
    path = tmp_path / "r.bin"
    write(path, records(0, 10))
    with rv.open(path, DT, mode=mode) as view:
        assert view[key]["seq"].tolist() == expect


def test_empty_index_list_is_empty(tmp_path, mode):
    path = tmp_path / "r.bin"
    write(path, records(0, 10))
    with rv.open(path, DT, mode=mode) as view:
        assert len(view[[]]) == 0
        assert view[np.array([], dtype=np.int64)].dtype == DT


def test_a_procfs_file_reporting_0_bytes_is_refused_pointing_to_stream():
    path = "/proc/self/auxv"
    if not os.path.exists(path):
        pytest.skip("no /proc/self/auxv here")
    with pytest.raises(rv.LayoutError, match=r"/proc/self/auxv: a pseudo-file.*rv\.stream"):
        rv.open(path, [("type", "<u8"), ("val", "<u8")])


def test_an_empty_regular_file_is_still_0_records(tmp_path):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    with rv.open(path, DT) as view:
        assert len(view) == 0


def test_a_file_that_cannot_be_mapped_names_itself_and_the_way_out():
    path = "/sys/kernel/mm/transparent_hugepage/enabled"  # readable, refuses mmap (ENODEV)
    if not os.path.exists(path):
        pytest.skip(f"no {path} here")
    with rv.open(path, "u1", trailing="ignore") as view:
        with pytest.raises(OSError, match=r"cannot be mapped; open it with mode='pread'") as err:
            view[0]
        assert err.value.filename == path
    with open(path, "rb") as f:
        want = f.read(5)
    with rv.open(path, "u1", trailing="ignore", mode="pread") as view:
        assert bytes(view[0:5]["f0"]) == want
