"""A file cut while head/tail/slice/dump print it: an error, and no zeros shown as records.

head, tail and slice print a zero-copy view of the mapping chunk by chunk and
checked the file only at the end: rows past a cut made while they printed came
out as zeros (750,000 zero rows before "were lost; nothing was kept"). dump
announced the range it would show, then stopped quietly at the new end of the
file with exit status 0.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from recview.cli import main

SCHEMA = "[('seq','<u8'),('k','<u8')]"
N = 200_000


class CutOnFirstWrite(io.StringIO):
    """Standard output that cuts ``path`` to ``size`` bytes at its first write."""

    def __init__(self, path: Path, size: int) -> None:
        super().__init__()
        self.path, self.size, self.cut = path, size, False

    def write(self, s: str) -> int:
        if not self.cut:
            self.cut = True
            os.truncate(self.path, self.size)
        return super().write(s)


def records(path: Path) -> None:
    a = np.zeros(N, [("seq", "<u8"), ("k", "<u8")])
    a["seq"] = np.arange(1, N + 1)
    a["k"] = 7
    a.tofile(path)


@pytest.mark.parametrize(
    "argv",
    [
        ["head", "-n", str(N)],
        ["tail", "-n", str(N)],
        ["slice", "--rows", f"0:{N}"],
    ],
)
@pytest.mark.parametrize("cut", [16 * 1000, 16 * 100_000 + 3])
def test_records_printed_while_the_file_is_cut_are_never_zeros(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    cut: int,
) -> None:
    path = tmp_path / "r.bin"
    records(path)
    out = CutOnFirstWrite(path, cut)
    monkeypatch.setattr("sys.stdout", out)
    status = main([argv[0], str(path), "-s", SCHEMA, *argv[1:], "--format", "csv"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "were lost" in err
    rows = out.getvalue().splitlines()[1:]
    seqs = [int(r.split(",")[0]) for r in rows]
    assert seqs == list(range(1, len(seqs) + 1))  # what was read before the cut, no zeros
    assert len(seqs) < N


@pytest.mark.parametrize("schema", [None, SCHEMA])
def test_dump_of_a_file_cut_while_dumping_is_an_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    schema: str | None,
) -> None:
    path = tmp_path / "r.bin"
    records(path)
    out = CutOnFirstWrite(path, 4000)
    monkeypatch.setattr("sys.stdout", out)
    argv = ["dump", str(path), "--length", str(16 * N)]
    if schema:
        argv += ["-s", schema]
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 1, err
    assert "shrank" in err


def test_dump_of_a_whole_file_still_ends_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.bin"
    path.write_bytes(bytes(range(43)))
    assert main(["dump", str(path), "--length", "1000"]) == 0
    assert main(["dump", str(path), "-s", "<u8", "--length", "1000"]) == 0
    assert "less than a record" in capsys.readouterr().out
