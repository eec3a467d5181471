"""``--index PATH`` never replaces a file the CLI did not create.

The frame index is written to a temporary file and renamed over PATH. A PATH
that was the capture itself, someone's notes, or a device (``--index
/dev/null``, meaning "no index") was replaced by the index: as root that
turned /dev/null into a regular file for every process on the machine. The
command now refuses such a PATH before reading anything; an index it wrote,
a new path, or an empty file are used as before.
"""

from __future__ import annotations

import os
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from recview.cli import main


def pcap(path: Path, n: int = 10, size: int = 60) -> Path:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.writelines(
            struct.pack("<IIII", i, 0, size, size) + bytes([i % 256]) * size for i in range(n)
        )
    return path


def info(capture: Path, index: Path) -> int:
    return main(["info", str(capture), "--frames", "pcap", "--index", str(index)])


def test_the_capture_itself_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = pcap(tmp_path / "a.pcap")
    before = p.read_bytes()
    link = tmp_path / "a.idx"
    os.link(p, link)  # by another name
    assert info(p, p) == 2
    assert info(p, link) == 2
    assert "is the input file" in capsys.readouterr().err
    assert p.read_bytes() == before


def test_a_file_that_is_no_index_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = pcap(tmp_path / "a.pcap")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    assert info(p, notes) == 2
    assert "not a recview frame index" in capsys.readouterr().err
    assert notes.read_text() == "my notes\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_device_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = pcap(tmp_path / "a.pcap")
    null = tmp_path / "null"  # a private node of /dev/null's device: safe to lose
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    assert info(p, null) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISCHR(os.stat(null).st_mode)


def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # In a child with a timeout: opening the FIFO to read it waits for a writer.
    argv = ["info", str(p), "--frames", "pcap", "--index", str(fifo)]
    res = subprocess.run(
        [sys.executable, "-m", "recview", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=False,
    )
    assert res.returncode == 2, res.stderr
    assert "not a regular file" in res.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_new_path_an_empty_file_and_its_own_index_are_used(tmp_path: Path) -> None:
    p = pcap(tmp_path / "a.pcap")
    idx = tmp_path / "a.idx"
    assert info(p, idx) == 0  # created
    assert idx.read_bytes().startswith(b"RVFIDX01")
    assert info(p, idx) == 0  # reused
    empty = tmp_path / "empty.idx"
    empty.touch()
    assert info(p, empty) == 0
    assert empty.read_bytes().startswith(b"RVFIDX01")
