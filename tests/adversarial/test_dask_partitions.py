"""Dask partitions name their files so that any worker reads the planned records.

A partition is "read records a..b of this file" run later, in another process:
a relative path resolved in a worker's own directory opened another file or
none, and a file replaced between planning and computing was read as if it
were the planned one (a View refuses that when unpickled).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import recview as rv

pytest.importorskip("dask")
from recview.dask import partitions


def test_a_partition_of_a_relative_path_loads_in_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    np.arange(10, dtype="<u8").tofile("n.bin")
    parts = [pickle.loads(pickle.dumps(p)) for p in partitions("n.bin", "<u8", blocksize=40)]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    np.arange(100, 110, dtype="<u8").tofile(elsewhere / "n.bin")  # the same name, other records
    monkeypatch.chdir(elsewhere)
    got = np.concatenate([p.load()["f0"] for p in parts])
    assert got.tolist() == list(range(10))


def test_a_file_replaced_after_planning_is_an_error_not_other_records(tmp_path: Path) -> None:
    path = tmp_path / "n.bin"
    np.arange(10, dtype="<u8").tofile(path)
    parts = partitions(path, "<u8", blocksize=40)
    os.rename(path, tmp_path / "n.bin.1")
    np.arange(100, 120, dtype="<u8").tofile(path)  # rotated: another file at the path
    with pytest.raises(rv.RecviewError, match="another file"):
        parts[0].load()


def test_a_file_that_grew_after_planning_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "n.bin"
    np.arange(10, dtype="<u8").tofile(path)
    parts = partitions(path, "<u8", blocksize=40)
    with open(path, "ab") as f:
        f.write(np.arange(10, 15, dtype="<u8").tobytes())
    got = np.concatenate([p.load()["f0"] for p in parts])
    assert got.tolist() == list(range(10))
