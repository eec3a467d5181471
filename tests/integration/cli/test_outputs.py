"""Where ``recview convert`` writes: descriptors the shell opened, regular
files that live under /dev, append-mode outputs, and a SIGTERM mid-write.

Each case runs the real command in a child process with a timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 120


def _data(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "d.bin"
    np.arange(n, dtype="<u8").tofile(path)
    return path


def _sh(cmd: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PY": sys.executable}
    return subprocess.run(
        ["/bin/sh", "-c", cmd], cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT, check=False
    )


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm on this machine")
def test_a_regular_file_under_dev_shm_is_replaced_not_appended_to(tmp_path: Path) -> None:
    data = _data(tmp_path)
    out = Path("/dev/shm") / f"recview-test-{uuid.uuid4().hex}.csv"
    try:
        for _ in range(2):
            res = _sh(f'"$PY" -m recview convert {data} -s "<u8" -o {out} -q', REPO)
            assert res.returncode == 0, res.stderr
        assert out.read_text().splitlines() == ["f0", "0", "1", "2", "3", "4"]
    finally:
        out.unlink(missing_ok=True)
        for left in Path("/dev/shm").glob(f".{out.name}.*"):
            left.unlink()


def test_npy_from_a_stream_to_dev_stdout_redirected_to_a_file(tmp_path: Path) -> None:
    data = _data(tmp_path)
    res = _sh(
        f'cat {data} | "$PY" -m recview convert - -s "<u8" -o /dev/stdout --to npy -q > out.npy',
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy")["f0"], np.arange(5, dtype="<u8"))


@pytest.mark.parametrize("target", ["/dev/stdout", "-"])
def test_npy_from_a_stream_onto_an_append_mode_output_is_refused(
    tmp_path: Path, target: str
) -> None:
    data = _data(tmp_path)
    (tmp_path / "out.npy").write_bytes(b"KEEP")
    res = _sh(
        f'cat {data} | "$PY" -m recview convert - -s "<u8" -o {target} --to npy -q >> out.npy',
        tmp_path,
    )
    assert res.returncode != 0
    assert b"append" in res.stderr, res.stderr
    assert (tmp_path / "out.npy").read_bytes() == b"KEEP"  # nothing written


def test_csv_to_dev_stdout_keeps_the_shells_append(tmp_path: Path) -> None:
    data = _data(tmp_path, 2)
    (tmp_path / "out.csv").write_text("before\n")
    res = _sh(
        f'"$PY" -m recview convert {data} -s "<u8" -o /dev/stdout --to csv -q >> out.csv', tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out.csv").read_text().splitlines() == ["before", "f0", "0", "1"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_convert_removes_its_temporary_file_only(tmp_path: Path, signum: int) -> None:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    out = tmp_path / "out.csv"
    out.write_text("old contents\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "recview", "convert", str(fifo), "-s", "<u8", "-o", str(out), "-q"],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )
    try:
        with open(fifo, "wb") as w:
            w.write(np.arange(10_000, dtype="<u8").tobytes())
            w.flush()
            deadline = time.monotonic() + 60
            while not list(tmp_path.glob(".out.csv.*.tmp")):  # the convert is writing
                assert time.monotonic() < deadline, "convert never started its output"
                assert child.poll() is None
                time.sleep(0.05)
            child.send_signal(signum)
            _, err = child.communicate(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 128 + signum, err
    assert b"Traceback" not in err
    assert out.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fifo", "out.csv"]


@pytest.mark.parametrize("fail_at", ["BufferedWriter", "TextIOWrapper"])
def test_an_interrupt_while_the_output_opens_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    from recview.cli import _writers, main

    data = _data(tmp_path)
    out = tmp_path / "out.csv"

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_writers.io, fail_at, interrupted)
    assert main(["convert", str(data), "-s", "<u8", "-o", str(out), "-q"]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.bin"]


def test_a_temporary_output_left_registered_is_removed_when_the_command_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an interrupt between Output() returning and the caller's try: the
    # registry, not the caller, removes the file
    from recview.cli import _convert, _writers, main

    real = _writers.Output

    def leaky(path: str, *, binary: bool) -> object:
        real(path, binary=binary)  # created, then lost by its caller
        raise KeyboardInterrupt

    monkeypatch.setattr(_convert, "Output", leaky)
    data = _data(tmp_path)
    assert main(["convert", str(data), "-s", "<u8", "-o", str(tmp_path / "o.csv"), "-q"]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.bin"]
    assert not _writers._PENDING
