"""Copies out of a View are checked like columns(): records cut from the end
of the file under a mapped view are a TruncatedError, never rows of zeros."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import recview as rv
from recview.errors import TruncatedError

pytest.importorskip("pyarrow")
pytest.importorskip("pandas")

N = 100_003


def _cut_view(tmp_path: Path, dtype: str) -> Any:
    path = tmp_path / "sq.bin"
    np.arange(1, N + 1, dtype=dtype).tofile(path)
    view = rv.open(path, [("x", dtype)])
    _ = view.array  # mapped
    os.truncate(path, (N - 3) * 8)  # a writer cuts 3 records inside the last page
    return view


@pytest.mark.parametrize("dtype", ["<u8", ">u8"])  # zero-copy and byte-swapping copies
@pytest.mark.parametrize(
    "convert",
    [
        lambda v: v.to_arrow(),
        lambda v: v.to_pandas(),
        lambda v: v.to_pandas(copy=True),
        lambda v: rv.interop.to_arrow(v, nested="struct"),
    ],
    ids=["arrow", "pandas", "pandas-copy", "arrow-struct"],
)
def test_a_file_cut_under_the_view_is_an_error_not_zeros(
    tmp_path: Path, dtype: str, convert: Any
) -> None:
    view = _cut_view(tmp_path, dtype)
    with view, pytest.raises(TruncatedError, match="shrank"):
        convert(view)


def test_an_intact_view_converts(tmp_path: Path) -> None:
    path = tmp_path / "ok.bin"
    np.arange(1, 11, dtype="<u8").tofile(path)
    with rv.open(path, [("x", "<u8")]) as view:
        assert view.to_arrow().column("x").to_pylist() == list(range(1, 11))
        assert view.to_pandas()["x"].tolist() == list(range(1, 11))
