"""The SIGBUS guard, tested in child processes.

Touching a mapped page past the end of a truncated file raises SIGBUS; without
the guard the process dies (exit 135). Each scenario runs in a fresh child
interpreter (``subprocess``, never a fork of pytest) that maps a file, has it
truncated under its arrays and reads every lost page through numpy. A child
reports what it saw as one JSON line on stdout; the tests assert on its exit
status (``rc != -SIGBUS``) and report.

The children are independent, so the ``children`` fixture starts them all at
once (two cores: about half the wall time) and each test checks one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

PAGE = os.sysconf("SC_PAGESIZE")
NPAGES = 48
FILE_NBYTES = NPAGES * PAGE + 123
MAP_OFFSET = PAGE + 7  # unaligned on purpose
MAP_NBYTES = FILE_NBYTES - MAP_OFFSET - 5
CUT = MAP_OFFSET + 10 * PAGE + 1234  # mid-page, inside the mapping

CHILD = r"""
import faulthandler, json, mmap, os, resource, signal, sys, threading, time
import numpy as np

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a death must not write a core
scenario, path, spare = sys.argv[1], sys.argv[2], sys.argv[3]
MAP_OFFSET, MAP_NBYTES, CUT = (int(x) for x in sys.argv[4:7])
fh = os.environ.get("CHILD_FAULTHANDLER", "none")
in_thread = os.environ.get("CHILD_THREAD") == "1"

if fh == "before":
    faulthandler.enable()
from recview import _mapping

def run(fn):
    # run fn here or in a worker thread; the result comes back either way
    if not in_thread:
        return fn()
    box = []
    t = threading.Thread(target=lambda: box.append(fn()))
    t.start()
    t.join()
    return box[0]

def report(**kw):
    print(json.dumps(kw), flush=True)

original = np.fromfile(path, dtype=np.uint8)
fd = os.open(path, os.O_RDONLY)
m = _mapping.Mapping(fd, MAP_OFFSET, MAP_NBYTES, path=path)
head = _mapping.Mapping(fd, 0, 100, path=path)  # before the cut: never lost
arr = np.frombuffer(m.buffer, dtype=np.uint8)
if fh == "after":
    faulthandler.enable()  # replaces our SIGBUS handler...
    assert _mapping.ensure_guard()  # ...until we put it back on top
count0 = _mapping.fault_count()
sum0 = int(run(lambda: arr.sum(dtype=np.uint64)))

if scenario == "truncate":
    os.truncate(path, CUT)
    total1 = int(run(lambda: arr.sum(dtype=np.uint64)))  # touches every lost page
    copy1 = run(arr.copy)
    expected = original[MAP_OFFSET : MAP_OFFSET + MAP_NBYTES].copy()
    expected[CUT - MAP_OFFSET :] = 0
    faulted1, count1 = m.faulted(), _mapping.fault_count()
    head1 = bytes(head.buffer)  # wholly before the cut
    head_faulted1 = head.faulted()
    os.truncate(path, 0)
    total2 = int(run(lambda: arr.sum(dtype=np.uint64)))
    count2 = _mapping.fault_count()
    head2 = run(lambda: bytes(head.buffer))
    report(
        guarded=m.guarded, sum0=sum0, total1=total1, expected1=int(expected.sum()),
        equal1=bool(np.array_equal(copy1, expected)), faulted1=faulted1,
        grew1=count1 - count0, total2=total2, grew2=count2 - count1, grew3=_mapping.fault_count() - count2,
        faults=m._region.faults, repr=repr(m), head_faulted1=head_faulted1, head1=head1.hex(),
        head_expected=original[:100].tobytes().hex(), head_faulted2=head.faulted(),
        head2=head2.hex(),
    )
elif scenario == "race":
    # a worker reduces over the array in a loop while the file is cut under it
    stop = threading.Event()
    sums = []
    def reader():
        while not stop.is_set() or len(sums) < 3:
            sums.append(int(arr.sum(dtype=np.uint64)))
        sums.append(int(arr.sum(dtype=np.uint64)))  # begun after the cut to zero
    t = threading.Thread(target=reader)
    t.start()
    for size in (CUT, 3 * CUT // 4, MAP_OFFSET + 1, 0):
        time.sleep(0.02)
        os.truncate(path, size)
    time.sleep(0.02)
    stop.set()
    t.join()
    report(faulted=m.faulted(), grew=_mapping.fault_count() - count0, reads=len(sums),
           last=sums[-1], zeros=bool(not arr.any()))
elif scenario == "foreign":
    # our own fault is repaired first, then a plain mmap (not recview's) faults
    os.truncate(path, CUT)
    repaired = int(arr.sum(dtype=np.uint64))
    sfd = os.open(spare, os.O_RDONLY)
    plain = np.frombuffer(mmap.mmap(sfd, 0, access=mmap.ACCESS_READ), dtype=np.uint8)
    os.truncate(spare, 10)
    report(repaired=repaired, faulted=m.faulted(), stage="touching plain mmap")
    if fh == "disabled":
        faulthandler.enable()
        assert _mapping.ensure_guard()
        faulthandler.disable()  # leaves ours on top, chained to a disabled handler
    print(int(plain.sum()), flush=True)
    report(stage="survived")  # must not be reached
elif scenario == "kill":
    report(stage="sending SIGBUS")
    os.kill(os.getpid(), signal.SIGBUS)  # not a fault in a mapping: not ours
    time.sleep(5)
    report(stage="survived")
"""


@dataclass
class Child:
    scenario: str
    env: dict[str, str]


SCENARIOS: dict[str, Child] = {
    "plain": Child("truncate", {}),
    "plain_thread": Child("truncate", {"CHILD_THREAD": "1"}),
    "fh_before": Child("truncate", {"CHILD_FAULTHANDLER": "before"}),
    "fh_after": Child("truncate", {"CHILD_FAULTHANDLER": "after"}),
    "fh_after_thread": Child("truncate", {"CHILD_FAULTHANDLER": "after", "CHILD_THREAD": "1"}),
    "race_fh_after": Child("race", {"CHILD_FAULTHANDLER": "after"}),
    "unguarded": Child("truncate", {"RECVIEW_NO_GUARD": "1"}),
    "foreign": Child("foreign", {}),
    "foreign_fh_after": Child("foreign", {"CHILD_FAULTHANDLER": "after"}),
    "foreign_fh_disabled": Child("foreign", {"CHILD_FAULTHANDLER": "disabled"}),
    "kill": Child("kill", {}),
}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def reports(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def report(self) -> dict[str, Any]:
        reports = self.reports()
        assert len(reports) == 1, self
        return reports[0]


def _pattern(nbytes: int) -> bytes:
    idx = np.arange(nbytes, dtype=np.uint64)
    return ((idx * 2654435761 >> 5) % 251 + 1).astype(np.uint8).tobytes()  # never 0


@pytest.fixture(scope="module")
def children(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    procs = {}
    for name, child in SCENARIOS.items():
        tmp = tmp_path_factory.mktemp(name)
        path, spare = tmp / "data.bin", tmp / "spare.bin"
        path.write_bytes(_pattern(FILE_NBYTES))
        spare.write_bytes(b"\x01" * (8 * PAGE))
        argv = [str(a) for a in (name, path, spare, MAP_OFFSET, MAP_NBYTES, CUT)]
        argv[0] = child.scenario
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHILD_", "RECVIEW_"))}
        procs[name] = subprocess.Popen(
            [sys.executable, "-c", CHILD, *argv],
            env={**env, **child.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += "\n[test] child timed out (a SIGBUS loop?)"
        results[name] = Result(proc.returncode, out, err)
    return results


EXPECTED_SUM0 = int(
    np.frombuffer(_pattern(FILE_NBYTES), np.uint8)[MAP_OFFSET : MAP_OFFSET + MAP_NBYTES].sum()
)


def _assert_survived(result: Result) -> None:
    assert result.returncode != -signal.SIGBUS, f"child died of SIGBUS: {result.stderr}"
    assert result.returncode == 0, result.stderr
    assert "Fatal Python error" not in result.stderr


@pytest.mark.parametrize(
    "name", ["plain", "plain_thread", "fh_before", "fh_after", "fh_after_thread"]
)
def test_truncated_pages_read_as_zeros_and_the_process_lives(
    children: dict[str, Result], name: str
) -> None:
    result = children[name]
    _assert_survived(result)
    rep = result.report()
    assert rep["guarded"] is True
    assert rep["sum0"] == EXPECTED_SUM0
    # cut mid-page: bytes before the cut are intact, every lost byte reads 0
    assert rep["equal1"] is True
    assert rep["total1"] == rep["expected1"] < rep["sum0"]
    assert rep["faulted1"] is True
    assert rep["grew1"] >= 1
    # cut to zero: the pages that were still there are lost too
    assert rep["total2"] == 0
    assert rep["grew2"] >= 1
    assert rep["faults"] == rep["grew1"] + rep["grew2"]  # the guard's count for this region
    assert rep["repr"].endswith(" guarded faulted>")
    # another mapping of the same file, wholly before the cut, saw no fault
    # then; the cut to zero reached it too, and only then did it fault
    assert rep["head_faulted1"] is False
    assert rep["head1"] == rep["head_expected"]
    assert rep["head_faulted2"] is True
    assert rep["head2"] == "00" * 100
    assert rep["grew3"] == 1


def test_one_fault_repairs_the_whole_lost_tail(children: dict[str, Result]) -> None:
    # 37 lost pages past the cut, read front to back: one signal, not 37
    rep = children["plain"].report()
    assert rep["grew1"] == 1
    assert rep["grew2"] == 1


def test_reader_thread_survives_truncations_racing_a_reduction(
    children: dict[str, Result],
) -> None:
    result = children["race_fh_after"]
    _assert_survived(result)
    rep = result.report()
    assert rep["faulted"] is True
    assert rep["grew"] >= 1
    assert rep["reads"] >= 3
    assert rep["last"] == 0
    assert rep["zeros"] is True


def test_without_the_guard_the_same_truncation_kills(children: dict[str, Result]) -> None:
    # the control: proves the scenarios above fault for real
    result = children["unguarded"]
    assert result.returncode == -signal.SIGBUS, result


def test_a_fault_outside_recview_mappings_gets_the_default_action(
    children: dict[str, Result],
) -> None:
    result = children["foreign"]
    assert result.returncode == -signal.SIGBUS, result
    reports = result.reports()
    assert [r["stage"] for r in reports] == ["touching plain mmap"]
    assert reports[0]["faulted"] is True
    assert reports[0]["repaired"] > 0
    assert "Fatal Python error" not in result.stderr


def test_a_fault_outside_recview_mappings_reaches_faulthandler(
    children: dict[str, Result],
) -> None:
    result = children["foreign_fh_after"]
    assert result.returncode == -signal.SIGBUS, result
    assert [r["stage"] for r in result.reports()] == ["touching plain mmap"]
    assert "Fatal Python error: Bus error" in result.stderr
    assert "in <module>" in result.stderr  # faulthandler's traceback


def test_a_previous_handler_that_returns_does_not_loop_forever(
    children: dict[str, Result],
) -> None:
    # faulthandler, once disabled, returns at once from its handler: the
    # faulting load would retry forever; the guard ends it with the default action
    result = children["foreign_fh_disabled"]
    assert result.returncode == -signal.SIGBUS, result
    assert [r["stage"] for r in result.reports()] == ["touching plain mmap"]


def test_a_sigbus_sent_by_kill_is_not_swallowed(children: dict[str, Result]) -> None:
    result = children["kill"]
    assert result.returncode == -signal.SIGBUS, result
    assert [r["stage"] for r in result.reports()] == ["sending SIGBUS"]
