"""open_frames refuses what rv.open refuses (FIFOs, devices, pseudo-files), a
pickled Frames reopens the very file it had open, and follow(start=None)
begins where the caller last looked: the reviewer's repros."""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import recview as rv


def _pcap(path: Path, n: int, size: int = 60) -> Path:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.writelines(
            struct.pack("<IIII", i, 0, size, size) + bytes([i % 256]) * size for i in range(n)
        )
    return path


def _frame(k: int) -> bytes:
    return struct.pack("<I", 4) + struct.pack("<I", k)


# -- what cannot be indexed ---------------------------------------------------------


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/urandom", "/proc/self/status"])
def test_open_frames_of_a_device_or_pseudo_file_is_an_error_not_zero_frames(path: str) -> None:
    if not os.path.exists(path):
        pytest.skip(f"no {path} here")
    with pytest.raises(rv.LayoutError, match=path):
        rv.open_frames(path, "<u4", length="f0")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_open_frames_of_a_fifo_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    code = f"import recview as rv; rv.open_frames({str(fifo)!r}, '<u4', length='f0')"
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert "LayoutError" in res.stderr
    assert str(fifo) in res.stderr


def test_open_frames_of_a_directory_is_an_is_a_directory_error(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        rv.open_frames(tmp_path, "<u4", length="f0")


# -- pickling -------------------------------------------------------------------------


def test_a_pickled_frames_reopens_its_file_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _pcap(tmp_path / "a.pcap", 10)
    with rv.open_frames("a.pcap", **rv.formats.pcap("a.pcap"), index="a.idx") as fr:
        blob = pickle.dumps(fr)
    monkeypatch.chdir("/")
    with pickle.loads(blob) as copy:
        assert len(copy) == 10
    assert not (Path("/") / "a.idx").exists()


def test_a_pickled_frames_refuses_a_rotated_path(tmp_path: Path) -> None:
    p = _pcap(tmp_path / "a.pcap", 10)
    with rv.open_frames(p, **rv.formats.pcap(p)) as fr:
        blob = pickle.dumps(fr)
        os.rename(p, tmp_path / "a.pcap.1")
        _pcap(p, 20)  # another capture at the path now
        with pytest.raises(rv.RecviewError, match="another file"):
            pickle.loads(blob)


def test_pickling_closed_frames_is_a_closed_error(tmp_path: Path) -> None:
    p = _pcap(tmp_path / "a.pcap", 10)
    fr = rv.open_frames(p, **rv.formats.pcap(p))
    fr.close()
    with pytest.raises(rv.ClosedError, match="closed"):
        pickle.dumps(fr)


# -- follow ---------------------------------------------------------------------------


def test_frames_follow_start_none_delivers_frames_appended_since_len(tmp_path: Path) -> None:
    p = tmp_path / "f.bin"
    p.write_bytes(b"".join(_frame(k) for k in range(3)))
    with rv.open_frames(p, "<u4", length="f0") as frames:
        assert len(frames) == 3  # the caller has handled frames 0..2
        with open(p, "ab") as f:
            f.write(_frame(3))  # appended after the caller looked
        got = [int(x) for h, offs, lens in frames.follow(timeout=0.1) for x in offs]
    assert got == [4 + 8 * 3]  # frame 3 (at its offset), as View.follow(start=None) delivers it
