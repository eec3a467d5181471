"""FIFOs with writers that stall, die mid-record or never come, and signals during a convert.

Every case runs ``recview`` in a subprocess under a timeout: a hang is a
failure, not a stuck suite. What is pinned:

- a FIFO whose writer stalls between writes is read to its end (all records,
  in order), and ``rv.stream`` hands on the records before the stall while
  the writer is still stalled;
- a writer that dies in the middle of a record is an error (exit 1, one
  line), never a result without that record;
- SIGTERM, SIGHUP and SIGINT during ``convert`` leave no temporary file and
  an existing output untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import recview as rv

TIMEOUT = 60
REPO = Path(__file__).resolve().parents[2]
N = 20_000
DATA = np.arange(N, dtype="<u8").tobytes()


def cli(*argv: object) -> list[str]:
    return [sys.executable, "-m", "recview", *map(str, argv)]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "in.fifo"
    os.mkfifo(path)
    return path


def feed(path: Path, pieces: list[bytes], pause: float) -> threading.Thread:
    """Write ``pieces`` to the FIFO from a thread, sleeping ``pause`` between them."""

    def run() -> None:
        with open(path, "wb", buffering=0) as f:
            for k, piece in enumerate(pieces):
                if k:
                    time.sleep(pause)
                f.write(piece)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_stalling_writer_is_read_to_the_end(fifo: Path) -> None:
    # cut inside a record, twice: the stream must stitch across the stalls
    pieces = [DATA[:8003], DATA[8003:80005], DATA[80005:]]
    writer = feed(fifo, pieces, 0.3)
    proc = subprocess.run(
        cli("stats", fifo, "-s", "<u8", "-q"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=REPO,
        check=False,
    )
    writer.join(TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert f"{N:,} records" in proc.stdout
    assert str(N - 1) in proc.stdout.replace(",", "")  # the max


def test_stream_hands_on_records_before_the_stall(fifo: Path) -> None:
    stall = threading.Event()

    def run() -> None:
        with open(fifo, "wb", buffering=0) as f:
            f.write(DATA[:801])  # 100 records and a byte of the next
            stall.wait(TIMEOUT)
            f.write(DATA[801:1600])

    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    with open(fifo, "rb", buffering=0) as f:
        batches = rv.stream(f, "<u8")
        first = next(batches)
        assert first["f0"].tolist() == list(range(100))  # while the writer is stalled
        stall.set()
        rest = np.concatenate(list(batches))
    writer.join(TIMEOUT)
    assert rest["f0"].tolist() == list(range(100, 200))


def test_a_writer_dying_mid_record_is_an_error(fifo: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    out.write_text("old output\n")
    writer = feed(fifo, [DATA[:8005]], 0)
    proc = subprocess.run(
        cli("convert", fifo, "-s", "<u8", "-o", out, "-q"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=REPO,
        check=False,
    )
    writer.join(TIMEOUT)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "5 stray bytes" in proc.stderr
    assert out.read_text() == "old output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fifo", "o.csv"]


@pytest.fixture
def stalled_convert(fifo: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A ``convert`` from a FIFO whose writer sent some records and then stalls."""
    out = tmp_path / "o.jsonl"
    out.write_text("old output\n")
    release = threading.Event()

    def run() -> None:
        with open(fifo, "wb", buffering=0) as f:
            f.write(DATA[:40_000])
            release.wait(TIMEOUT)

    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    proc = subprocess.Popen(
        cli("convert", fifo, "-s", "<u8", "-o", out, "-q"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    # wait until the temporary output exists: the records before the stall are in
    deadline = time.monotonic() + TIMEOUT
    while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # past the creation of the temporary file and into the read (a signal in
    # the microseconds between the two is another matter: FINDINGS.md)
    time.sleep(0.5)
    try:
        yield proc, out
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=TIMEOUT)
        writer.join(TIMEOUT)


@pytest.mark.parametrize(
    ("signum", "status"),
    [
        (signal.SIGTERM, 128 + signal.SIGTERM),
        (signal.SIGHUP, 128 + signal.SIGHUP),
        (signal.SIGINT, 130),
    ],
)
def test_a_signal_during_convert_leaves_no_temp_file(
    stalled_convert: tuple[subprocess.Popen[str], Path], tmp_path: Path, signum: int, status: int
) -> None:
    proc, out = stalled_convert
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert out.read_text() == "old output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fifo", "o.jsonl"]
