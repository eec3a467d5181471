"""Files whose size says nothing: procfs reports 0 bytes for files that hold data.

``/proc/version``, ``/proc/self/auxv`` and most of procfs are regular files
with ``st_size == 0`` whatever they hold, so a view over them counted 0
records and ``recview stats`` said "0 records" with exit status 0. The CLI
reads an empty-looking regular file that does hold bytes as a stream, as it
reads FIFOs; a truly empty file stays a file of 0 records.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recview.cli import main

PROC = Path("/proc/version")
pytestmark = pytest.mark.skipif(
    not PROC.exists() or os.stat(PROC).st_size != 0, reason="needs procfs (Linux)"
)


def test_a_proc_file_is_read_as_a_stream(capsys: pytest.CaptureFixture[str]) -> None:
    want = len(PROC.read_bytes())
    assert want > 0
    assert main(["stats", str(PROC), "-s", "u1", "-q"]) == 0
    out = capsys.readouterr().out
    assert f"{want:,} records" in out


def test_a_proc_file_converts_every_byte(tmp_path: Path) -> None:
    out = tmp_path / "v.csv"
    assert main(["convert", str(PROC), "-s", "u1", "-o", str(out), "-q"]) == 0
    values = [int(v) for v in out.read_text().split()[1:]]
    assert bytes(values) == PROC.read_bytes()


def test_an_empty_regular_file_is_still_zero_records(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    assert main(["stats", str(path), "-s", "u1", "-q"]) == 0
    assert "0 records" in capsys.readouterr().out
