"""Counts and offsets given to the remote readers follow the one integer rule
(recview._vocab.check_int) that a local rv.open follows: a float or a bool is
a TypeError, never truncated to another offset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview.remote import RemoteRecords, RemoteSource

pytest.importorskip("fsspec")


@pytest.fixture
def url(tmp_path: Path) -> str:
    path = tmp_path / "x.bin"
    path.write_bytes(bytes(range(16)))
    return "file://" + str(path)


@pytest.mark.parametrize("kw", [{"offset": 1.5}, {"count": 2.0}, {"offset": True}])
def test_open_url_refuses_a_non_integer_offset_or_count(url: str, kw: dict[str, object]) -> None:
    with pytest.raises(TypeError, match="must be an integer"):
        rv.open(url, np.dtype("u1"), **kw)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an integer"):
        RemoteRecords(url, np.dtype("u1"), **kw)  # type: ignore[arg-type]


def test_open_url_takes_numpy_integers_and_refuses_negatives(url: str) -> None:
    with rv.open(url, np.dtype("u1"), offset=np.int64(2), count=np.uint8(3)) as view:
        assert view.array.tolist() == [(2,), (3,), (4,)]
    with pytest.raises(ValueError, match="offset"):
        rv.open(url, np.dtype("u1"), offset=-1)


def test_source_refuses_non_integer_ranges_and_sizes(url: str) -> None:
    with pytest.raises(TypeError, match="block_nbytes must be an integer"):
        RemoteSource(url, block_nbytes=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="block_nbytes"):
        RemoteSource(url, block_nbytes=0)
    with RemoteSource(url, block_nbytes=4) as source:
        assert source.pread(np.int64(2), 3) == bytes([2, 3, 4])
        for args in [(1.5, 4), (2, 3.0), (True, 2)]:
            with pytest.raises(TypeError, match="must be an integer"):
                source.pread(*args)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be an integer"):
            source.preads([(0, 2), (1.5, 2)])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="must be an integer"):
            source.iter_ranges([(0, 4)], readahead=1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be an integer"):
            source.iter_ranges([(0.5, 4)])  # type: ignore[list-item]
        with pytest.raises(ValueError, match=">= 0"):
            source.pread(-1, 2)
