"""The reader layer under View: a mapped reader and a pread reader, one interface.

Each reader call is checked against numpy over the same bytes (``np.fromfile``),
for both readers: contiguous records, one record, strided slices (also steps
beyond int64 and negative ones), gathers, and scans; views from the mapped
reader, read-only copies from the pread reader.
"""

from __future__ import annotations

import numpy as np
import pytest

import recview as rv
from recview._readers import MappedReader, PreadReader

DT = np.dtype([("a", "<u4"), ("b", "u1")], align=True)  # 3 padding bytes per record
N = 1000


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 256, N * DT.itemsize, dtype=np.uint8)
    path = tmp_path / "r.bin"
    raw.tofile(path)
    return path, raw.view(DT)


@pytest.mark.parametrize("mode", ["mmap", "pread"])
def test_both_readers_read_what_numpy_reads(data, mode):
    path, want = data
    with rv.open(path, DT, mode=mode) as view:
        reader = view._reader
        assert isinstance(reader, MappedReader if mode == "mmap" else PreadReader)
        whole = reader.records(0, N)
        assert whole.tobytes() == want.tobytes()
        assert reader.records(10, 20).tobytes() == want[10:20].tobytes()
        assert reader.record(7).tobytes() == want[7].tobytes()
        for key in [slice(3, 900, 7), slice(None, None, -3), slice(5, 6, 2**63), slice(900, 3, -5)]:
            got = reader.strided(key)
            # field by field: a strided structured array's tobytes() leaves
            # the padding bytes uninitialized
            for name in DT.names:
                np.testing.assert_array_equal(got[name], want[key][name], err_msg=str(key))
        idx = np.array([999, 0, 5, 5, 500])
        got = reader.take(idx)
        assert got.tobytes() == want.view(np.uint8).reshape(N, -1)[idx].tobytes()  # padding too
        assert len(reader.take(np.empty(0, np.intp))) == 0
        batches = list(reader.scan(100, N, 64))
        assert [len(b) for b in batches] == [64] * 14 + [4]
        assert b"".join(b.tobytes() for b in batches) == want[100:].tobytes()
        for arr in (whole, got, batches[0]):
            assert not arr.flags.writeable
        assert np.shares_memory(whole, view.array) == (mode == "mmap")
        assert not np.shares_memory(got, whole)


def test_follow_reads_with_pread_in_mmap_mode_too(data):
    path, want = data
    with rv.open(path, DT) as view:
        assert isinstance(view._preader, PreadReader)
        batch = next(view.follow(start=990, timeout=0))
        assert batch.tobytes() == want[990:].tobytes()
        assert not np.shares_memory(batch, view.array)


def test_view_methods_do_not_ask_for_the_mode():
    # The reader decides how to read; View keeps the API, counting and state.
    # (columns() still picks its copy loop by mode: its body belongs to the
    # field model, recview.schema.fields().)
    import inspect

    from recview import view as view_mod

    src = inspect.getsource(view_mod.View)
    body = src.replace(inspect.getsource(view_mod.View.columns), "")
    assert "self._mode ==" not in body  # (__init__ picks the reader from the argument)
