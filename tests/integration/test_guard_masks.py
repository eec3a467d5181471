"""The SIGBUS guard in threads that block signals, and next to Python handlers.

A worker thread that blocks every signal (so that SIGINT, SIGTERM... go to
one signal-handling thread) also blocks SIGBUS, and the kernel kills the
process rather than deliver a synchronous SIGBUS that the faulting thread
blocks: recview's handler never runs. ``_mapping.ensure_guard()``, which the
view layer calls in the calling thread at ``open``, ``refresh()`` and
``batches()``, unblocks SIGBUS in that thread and says so once per thread with
a ``GuardWarning``.

Each scenario runs in a fresh child interpreter (a failure is a death by
SIGBUS) that reports one JSON line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGESIZE")
NPAGES = 16

CHILD = r"""
import json, os, resource, signal, sys, threading, warnings
import numpy as np
if sys.argv[1] == "blocked_at_import":
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    with warnings.catch_warnings(record=True) as import_ws:
        warnings.simplefilter("always")
        import recview as rv
import recview as rv
from recview import _mapping

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a death must not write a core
scenario, path, nbytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
ALL = signal.valid_signals()
out = {}

def blocked():
    return signal.SIGBUS in signal.pthread_sigmask(signal.SIG_BLOCK, [])

def in_thread(fn):
    t = threading.Thread(target=fn, name="worker")
    t.start()
    t.join()

def caught(fn):
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        fn()
    return [f"{w.category.__name__}: {w.message}" for w in ws]

def touch_after_truncation(view, arr):
    out["sum0"] = int(arr.sum())
    os.truncate(path, PAGE_CUT)
    out["sum1"] = int(arr.sum())  # touches every lost page
    try:
        view.refresh()
        out["refresh"] = "no error"
    except rv.TruncatedError as exc:
        out["refresh"] = f"TruncatedError: {exc}"

PAGE_CUT = os.sysconf("SC_PAGESIZE")
DT = np.dtype([("x", "u1")])
if scenario == "block_then_open":
    def work():
        signal.pthread_sigmask(signal.SIG_BLOCK, ALL)
        box = {}
        out["open_warnings"] = caught(lambda: box.update(view=rv.open(path, DT)))
        out["blocked_after_open"] = blocked()
        out["int_still_blocked"] = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
        view = box["view"]
        out["again_warnings"] = caught(view.refresh)
        touch_after_truncation(view, view["x"])
    in_thread(work)
elif scenario == "open_then_block":
    view = rv.open(path, DT)
    def work():
        signal.pthread_sigmask(signal.SIG_BLOCK, ALL)
        out["refresh_warnings"] = caught(view.refresh)
        out["blocked_after_refresh"] = blocked()
        touch_after_truncation(view, view["x"])
    in_thread(work)
elif scenario == "ensure_per_thread":
    # one warning per thread, however often it re-blocks
    def work():
        signal.pthread_sigmask(signal.SIG_BLOCK, ALL)
        first = caught(_mapping.ensure_guard)
        signal.pthread_sigmask(signal.SIG_BLOCK, ALL)
        second = caught(_mapping.ensure_guard)
        out.setdefault("per_thread", []).append([len(first), len(second), blocked()])
        out.setdefault("messages", []).extend(first)
    in_thread(work)
    in_thread(work)
    out["main"] = caught(_mapping.ensure_guard)
elif scenario == "blocked_at_import":
    out["import_warnings"] = len(import_ws)
    out["blocked_after_import"] = blocked()
    out["open_warnings"] = caught(lambda: out.update(n=len(rv.open(path, DT))))
    out["again_warnings"] = caught(_mapping.ensure_guard)
elif scenario == "python_handler":
    # a Python-level handler installed after open replaces recview's (and
    # can never run for a fault: the faulting load retries first); the next
    # refresh() puts recview's back on top, chained to it
    view = rv.open(path, DT)
    arr = view["x"]
    signal.signal(signal.SIGBUS, lambda *a: None)
    from recview import _guard
    out["replaced"] = not _guard.is_installed()
    view.refresh()
    out["reinstalled"] = _guard.is_installed()
    touch_after_truncation(view, arr)
print(json.dumps(out), flush=True)
"""


def _child(tmp_path: Path, scenario: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x01" * (NPAGES * PAGE))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, scenario, str(path), str(NPAGES * PAGE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != -signal.SIGBUS, f"died of SIGBUS: {proc.stderr}"
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1, proc
    return proc, json.loads(lines[0])


def _assert_truncation_reported(rep: dict[str, Any]) -> None:
    assert rep["sum0"] == NPAGES * PAGE
    assert rep["sum1"] == PAGE  # the lost pages read as zeros
    assert rep["refresh"].startswith("TruncatedError: ")
    assert "data.bin" in rep["refresh"]


def test_a_thread_blocking_all_signals_opens_reads_and_survives_a_truncation(
    tmp_path: Path,
) -> None:
    _, rep = _child(tmp_path, "block_then_open")
    [warning] = rep["open_warnings"]
    assert warning.startswith("GuardWarning: ")
    assert "SIGBUS" in warning
    assert "'worker'" in warning
    assert rep["blocked_after_open"] is False
    assert rep["int_still_blocked"] is True  # only SIGBUS is unblocked
    assert rep["again_warnings"] == []
    _assert_truncation_reported(rep)


def test_blocking_after_open_is_undone_by_refresh(tmp_path: Path) -> None:
    _, rep = _child(tmp_path, "open_then_block")
    [warning] = rep["refresh_warnings"]
    assert warning.startswith("GuardWarning: ")
    assert rep["blocked_after_refresh"] is False
    _assert_truncation_reported(rep)


def test_the_warning_comes_once_per_thread(tmp_path: Path) -> None:
    _, rep = _child(tmp_path, "ensure_per_thread")
    # each thread: one warning, none the second time, SIGBUS unblocked again
    assert rep["per_thread"] == [[1, 0, False], [1, 0, False]]
    assert all(m.startswith("GuardWarning: ") for m in rep["messages"])
    assert rep["main"] == []


def test_a_python_sigbus_handler_is_chained_at_the_next_refresh(tmp_path: Path) -> None:
    _, rep = _child(tmp_path, "python_handler")
    assert rep["replaced"] is True
    assert rep["reinstalled"] is True
    _assert_truncation_reported(rep)


def test_without_the_extension_nothing_is_unblocked_or_warned() -> None:
    # the fallback reads with pread: no mapping can fault, so the mask stays
    code = """
import signal, threading, warnings
from recview import _mapping
res = []
def work():
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        res.append(_mapping.ensure_guard())
    res.append(len(ws))
    res.append(signal.SIGBUS in signal.pthread_sigmask(signal.SIG_BLOCK, []))
t = threading.Thread(target=work); t.start(); t.join()
print(res)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**_env(), "RECVIEW_NO_GUARD": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[False,", "0,", "True]"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RECVIEW_")}


def test_importing_in_a_blocking_thread_unblocks_and_warns_at_the_first_open(
    tmp_path: Path,
) -> None:
    _, rep = _child(tmp_path, "blocked_at_import")
    assert rep["import_warnings"] == 0  # an import statement never warns
    assert rep["blocked_after_import"] is False
    [warning] = rep["open_warnings"]
    assert warning.startswith("GuardWarning: ")
    assert rep["again_warnings"] == []
    assert rep["n"] == NPAGES * PAGE
