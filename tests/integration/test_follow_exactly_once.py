"""``View.follow`` delivers every record exactly once, in order.

A writer process appends N = 1,000,000 records of 16 bytes (``seq``, and a
hash of it) in chunks of random byte sizes, so that most chunks end inside a
record, with pauses of random length in between. A reader process follows the
file with ``view.follow(start=pos)``; it "processes" each batch by appending
its ``seq`` column to an output file and then persists its state, the next
record index and the length of the output, atomically (write a temporary file,
``os.replace``). A reader that starts again truncates the output to the
persisted length and resumes with ``follow(start=pos)``: what it did after the
last persist is undone and redone, so the output holds each record once if and
only if recview delivered each record once from each position.

The check is exact: the output must be ``0, 1, ..., N-1``. Lost, duplicated
and out-of-order records are counted separately, and so are records whose
hash does not match (corrupt).

The second test SIGKILLs the reader at random moments (seeded) and starts it
again until it has everything.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

N = 1_000_000
WRITE_SECONDS = 4.0  # the writer spreads its 16 MB over about this long
KILLS = 8

COMMON = r"""
import numpy as np
DT = np.dtype([("seq", "<u8"), ("check", "<u8")])

def check_of(seq):
    # splitmix64: a zero record (seq 0, check 0) does not pass
    z = (seq.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
"""

WRITER = (
    COMMON
    + r"""
import os, random, sys, time
path, n, seed, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ready, gate = sys.argv[5], sys.argv[6]  # gate: "" or a file to wait for before the last tenth
recs = np.zeros(n, DT)
recs["seq"] = np.arange(n)
recs["check"] = check_of(recs["seq"])
raw = recs.tobytes()
rng = random.Random(seed)
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
while not os.path.exists(ready):  # the reader follows from an empty file on
    time.sleep(0.005)
pos, chunks, t0 = 0, 0, time.monotonic()
while pos < len(raw):
    while gate and pos >= len(raw) * 9 // 10 and not os.path.exists(gate):
        time.sleep(0.005)
    size = rng.choice((rng.randint(1, 15), rng.randint(1, 4096), rng.randint(1, 1 << 17)))
    pos += os.write(fd, raw[pos : pos + size])
    chunks += 1
    # pace the writing over about `seconds`, with a long pause now and then
    ahead = t0 + seconds * pos / len(raw) - time.monotonic()
    if rng.random() < 0.01:
        ahead += rng.uniform(0.05, 0.25)
    if ahead > 0:
        time.sleep(ahead)
os.close(fd)
print(chunks)
"""
)

READER = (
    COMMON
    + r"""
import json, os, sys
import recview as rv
path, state_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
state_path = os.path.join(state_dir, "state.json")
out_path = os.path.join(state_dir, "out.bin")
try:
    with open(state_path) as f:
        state = json.load(f)
except FileNotFoundError:
    state = {"pos": 0, "out_nbytes": 0, "corrupt": 0, "batches": 0, "starts": 0}
state["starts"] += 1
out = os.open(out_path, os.O_WRONLY | os.O_CREAT)
os.ftruncate(out, state["out_nbytes"])  # undo what came after the last persist
os.lseek(out, 0, os.SEEK_END)

def persist():
    tmp = state_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, state_path)

persist()
with rv.open(path, DT, trailing="ignore") as view:
    open(os.path.join(state_dir, "ready"), "w").close()
    for batch in [] if state["pos"] >= n else view.follow(start=state["pos"], poll=0.002, timeout=20, records=20_000):
        seq = batch["seq"]
        state["corrupt"] += int(np.count_nonzero(batch["check"] != check_of(seq)))
        os.write(out, seq.tobytes())
        state["pos"] += len(batch)
        state["out_nbytes"] += seq.nbytes
        state["batches"] += 1
        persist()
        if state["pos"] >= n:
            break
print(json.dumps(state))
"""
)


def _start(code, *args):
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc, timeout=120):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (proc.returncode, err[-2000:])
    return out


def _tally(state_dir):
    """Lost, duplicated, out-of-order and corrupt records in the reader's output."""
    with open(state_dir / "state.json") as f:
        state = json.load(f)
    out = np.fromfile(state_dir / "out.bin", dtype="<u8")
    unique = np.unique(out)
    return {
        "delivered": len(out),
        "lost": N - len(unique),
        "duplicated": len(out) - len(unique),
        "out_of_order": int(np.count_nonzero(np.diff(out.astype(np.int64)) != 1)),
        "strangers": int(np.count_nonzero(unique >= N)),
        "corrupt": state["corrupt"],
        "batches": state["batches"],
        "starts": state["starts"],
    }


def _setup(tmp_path):
    path = tmp_path / "log.bin"
    path.touch()
    state_dir = tmp_path / "reader"
    state_dir.mkdir()
    return path, state_dir


@pytest.mark.slow
def test_follow_delivers_a_million_records_exactly_once(tmp_path):
    path, state_dir = _setup(tmp_path)
    writer = _start(WRITER, path, N, 1, WRITE_SECONDS, state_dir / "ready", "")
    reader = _start(READER, path, state_dir, N)
    chunks = int(_finish(writer))
    _finish(reader)
    tally = _tally(state_dir)
    print("exactly once:", tally, "writer chunks:", chunks)
    assert chunks > 200  # random sizes: most chunks end inside a record
    assert tally["starts"] == 1
    assert tally["lost"] == tally["duplicated"] == tally["out_of_order"] == 0
    assert tally["strangers"] == tally["corrupt"] == 0
    assert tally["delivered"] == N


@pytest.mark.slow
def test_follow_resumed_after_sigkill_at_random_moments_loses_and_repeats_nothing(tmp_path):
    path, state_dir = _setup(tmp_path)
    rng = random.Random(4)
    # the writer holds back the last tenth until every kill is done: the
    # reader cannot be finished before it is killed KILLS times
    gate = tmp_path / "gate"
    writer = _start(WRITER, path, N, 2, WRITE_SECONDS, state_dir / "ready", gate)
    kills = mid_stream = 0
    gated = 16 * N * 9 // 10
    while kills < KILLS:
        before = _pos(state_dir)
        reader = _start(READER, path, state_dir, N)
        # Kill once this run has delivered something (interpreter start-up
        # takes a while on a loaded machine), or has caught up with a writer
        # held at the gate, a random moment later: between batches, mid-write,
        # mid-persist, waiting...
        deadline = time.monotonic() + 60
        while reader.poll() is None:
            assert time.monotonic() < deadline, "the reader made no progress in 60 s"
            pos = _pos(state_dir)
            if pos > before:
                mid_stream += 1
                break
            caught_up = _starts(state_dir) == kills + 1 and 16 * pos >= path.stat().st_size - 15
            if caught_up and path.stat().st_size >= gated:
                break
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.03))
        assert reader.poll() is None, reader.communicate()  # it cannot have everything yet
        reader.send_signal(signal.SIGKILL)
        reader.communicate()
        kills += 1
    gate.touch()
    _finish(_start(READER, path, state_dir, N))
    _finish(writer)
    tally = _tally(state_dir)
    print("exactly once with kills:", tally, "kills:", kills, "mid-stream:", mid_stream)
    assert kills == KILLS
    assert mid_stream >= 1
    assert tally["starts"] == kills + 1
    assert tally["lost"] == tally["duplicated"] == tally["out_of_order"] == 0
    assert tally["strangers"] == tally["corrupt"] == 0
    assert tally["delivered"] == N


def _state(state_dir):
    try:
        with open(state_dir / "state.json") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"pos": 0, "starts": 0}


def _pos(state_dir):
    return int(_state(state_dir)["pos"])


def _starts(state_dir):
    return int(_state(state_dir)["starts"])
