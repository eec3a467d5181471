"""Unit tests of recview.view: open, indexing, fields, columns, batches, close."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import recview as rv

DT = np.dtype([("ts", "<u8"), ("hdr", [("id", ">u4"), ("v", "<f4", (2,))]), ("tag", "S4")])


def write(path, n, *, header=b"", tail=b"", dtype=DT):
    recs = np.zeros(n, dtype)
    if n:
        recs["ts"] = np.arange(n) * 10
        recs["hdr"]["id"] = np.arange(n) + 100
        recs["hdr"]["v"] = np.arange(2 * n, dtype="f4").reshape(n, 2)
        recs["tag"] = [b"t%d" % (i % 100) for i in range(n)]
    with open(path, "wb") as f:
        f.write(header)
        f.write(recs.tobytes())
        f.write(tail)
    return recs


def test_open_reads_records_fields_and_nested_fields(tmp_path, mode):
    path = tmp_path / "r.bin"
    recs = write(path, 50)
    with rv.open(path, DT, mode=mode) as view:
        assert len(view) == 50
        assert view.nbytes == 50 * DT.itemsize
        assert view.path == str(path)
        assert view.offset == 0
        assert view.schema == rv.Schema.from_dtype(DT)
        np.testing.assert_array_equal(view.array, recs)
        np.testing.assert_array_equal(view["ts"], recs["ts"])
        np.testing.assert_array_equal(view["hdr"]["id"], recs["hdr"]["id"])
        np.testing.assert_array_equal(view["hdr.v"], recs["hdr"]["v"])
        assert view[7] == recs[7]
        assert view[-1] == recs[-1]
        np.testing.assert_array_equal(view[10:20], recs[10:20])
        np.testing.assert_array_equal(view[::-3], recs[::-3])
        np.testing.assert_array_equal(view[5:45:7], recs[5:45:7])
        np.testing.assert_array_equal(view[[3, 1, 4]], recs[[3, 1, 4]])
        assert len(view[40:10]) == 0


def test_arrays_are_read_only_and_zero_copy(tmp_path):
    path = tmp_path / "r.bin"
    write(path, 20)
    with rv.open(path, DT) as view:
        whole = view.array
        for arr in (whole, view["ts"], view["hdr"]["v"], view[2:9], view[::2]):
            assert not arr.flags.writeable
            assert np.shares_memory(arr, whole)
            with pytest.raises(ValueError, match="read-only"):
                arr[...] = 0
        # the map, not a copy: one page of data backs the whole array
        assert whole.base is not None


def test_index_errors_and_bad_keys(tmp_path, mode):
    path = tmp_path / "r.bin"
    write(path, 5)
    with rv.open(path, DT, mode=mode) as view:
        with pytest.raises(IndexError, match="out of range for 5 records"):
            view[5]
        with pytest.raises(IndexError):
            view[-6]
        with pytest.raises(KeyError, match="no field 'nope'"):
            view["nope"]
        with pytest.raises(KeyError, match="hdr.zz"):
            view["hdr.zz"]
        with pytest.raises(TypeError, match="view indices"):
            view[1.5]


def test_header_offset_and_count(tmp_path, mode):
    path = tmp_path / "r.bin"
    recs = write(path, 30, header=b"H" * 13)
    with rv.open(path, DT, offset=13, mode=mode) as view:
        np.testing.assert_array_equal(view.array, recs)
    with rv.open(path, DT, offset=13, count=10, mode=mode) as view:
        assert len(view) == 10
        np.testing.assert_array_equal(view.array, recs[:10])
    with rv.open(path, DT, offset=13, count=0, mode=mode) as view:
        assert len(view) == 0
        assert view.array.shape == (0,)


def test_count_larger_than_file_is_a_layout_error(tmp_path):
    path = tmp_path / "r.bin"
    write(path, 3, header=b"x" * 8)
    with pytest.raises(rv.LayoutError) as info:
        rv.open(path, DT, offset=8, count=10**12)
    msg = str(info.value)
    assert str(path) in msg
    assert "too short for 1,000,000,000,000 records of 24 bytes" in msg
    assert info.value.path == str(path)


def test_trailing_policies(tmp_path):
    path = tmp_path / "r.bin"
    recs = write(path, 4, header=b"h" * 16, tail=b"\x01\x02\x03\x04\x05")
    with pytest.raises(rv.LayoutError) as info:
        rv.open(path, DT, offset=16)
    assert str(info.value) == (
        f"{path}: file of 117 bytes: the 101 bytes after the 16-byte header are 4 records "
        'of 24 bytes plus 5 stray bytes at offset 112 (pass trailing="ignore" or "warn")'
    )
    assert info.value.offset == 112
    with rv.open(path, DT, offset=16, trailing="ignore") as view:
        np.testing.assert_array_equal(view.array, recs)
    with (
        pytest.warns(rv.LayoutWarning, match="5 stray bytes"),
        rv.open(path, DT, offset=16, trailing="warn") as view,
    ):
        assert len(view) == 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with rv.open(path, DT, offset=16, count=4) as view:  # count: no trailing check
            assert len(view) == 4


def test_empty_file_and_file_shorter_than_header(tmp_path, mode):
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    with rv.open(path, DT, mode=mode) as view:
        assert len(view) == 0
        assert view.array.dtype == DT
        assert list(view.batches()) == []
        assert view.columns()["ts"].shape == (0,)
    with pytest.raises(rv.LayoutError, match="shorter than the 64-byte header"):
        rv.open(path, DT, offset=64)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        rv.open(tmp_path / "missing.bin", DT)
    with pytest.raises(IsADirectoryError):
        rv.open(tmp_path, DT)


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"offset": -1}, ValueError),
        ({"count": -2}, ValueError),
        ({"offset": 1.5}, TypeError),
        ({"trailing": "drop"}, ValueError),
        ({"mode": "rw"}, ValueError),
    ],
)
def test_bad_arguments(tmp_path, kwargs, exc):
    path = tmp_path / "r.bin"
    write(path, 2)
    with pytest.raises(exc):
        rv.open(path, DT, **kwargs)


def test_close_keeps_arrays_valid_and_later_use_raises(tmp_path, mode):
    path = tmp_path / "r.bin"
    recs = write(path, 100)
    view = rv.open(path, DT, mode=mode)
    keep = view.array
    field = view["hdr"]["v"]
    view.close()
    view.close()  # idempotent
    assert view.closed
    np.testing.assert_array_equal(keep, recs)
    np.testing.assert_array_equal(field, recs["hdr"]["v"])
    for use in (
        lambda: view.array,
        lambda: view[0],
        lambda: len(view),
        view.refresh,
        lambda: view["ts"],
        view.columns,
        lambda: list(view.batches()),
    ):
        with pytest.raises(rv.ClosedError, match="closed"):
            use()


def test_columns_are_contiguous_writable_native_copies(tmp_path, mode):
    path = tmp_path / "r.bin"
    recs = write(path, 70_000)  # several column blocks
    with rv.open(path, DT, mode=mode) as view:
        cols = view.columns()
        assert list(cols) == ["ts", "hdr.id", "hdr.v", "tag"]
        for name, col in cols.items():
            assert col.flags.c_contiguous and col.flags.writeable
            assert col.dtype.isnative
            assert not np.shares_memory(col, view.array)
            expect = recs
            for part in name.split("."):
                expect = expect[part]
            np.testing.assert_array_equal(col, expect)
        some = view.columns(["hdr"])
        assert list(some) == ["hdr.id", "hdr.v"]
        with pytest.raises(KeyError):
            view.columns(["nope"])


def test_batches_cover_every_record_in_order(tmp_path, mode):
    path = tmp_path / "r.bin"
    recs = write(path, 1000)
    with rv.open(path, DT, mode=mode) as view:
        got = list(view.batches(333))
        assert [len(b) for b in got] == [333, 333, 333, 1]
        np.testing.assert_array_equal(np.concatenate(got), recs)
        got = list(view.batches(nbytes=DT.itemsize * 100 + 5, start=950))
        assert [len(b) for b in got] == [50]
        np.testing.assert_array_equal(got[0], recs[950:])
        assert all(not b.flags.writeable for b in got)
        assert list(view.batches(start=1000)) == []
        with pytest.raises(IndexError):
            view.batches(start=1001)
        with pytest.raises(ValueError, match="not both"):
            view.batches(10, nbytes=100)


def test_kept_batches_stay_valid_after_their_window_is_released(tmp_path):
    path = tmp_path / "r.bin"
    recs = write(path, 20_000)
    with rv.open(path, DT) as view:
        kept = list(view.batches(1000))
    np.testing.assert_array_equal(np.concatenate(kept), recs)


def test_refresh_extends_a_growing_file(tmp_path, mode):
    path = tmp_path / "r.bin"
    recs = write(path, 10)
    with rv.open(path, DT, mode=mode) as view:
        first = view.array
        with open(path, "ab") as f:
            f.write(recs[:3].tobytes())
            f.write(b"\0" * 5)  # a partial record: held back
        assert view.refresh() == 13
        assert len(view) == 13
        np.testing.assert_array_equal(view[10:], recs[:3])
        np.testing.assert_array_equal(first, recs)  # old arrays still valid


def test_refresh_after_shrink_raises_truncated_error_until_reopened(tmp_path, mode):
    path = tmp_path / "r.bin"
    write(path, 10)
    view = rv.open(path, DT, mode=mode)
    os.truncate(path, 5 * DT.itemsize + 3)
    with pytest.raises(rv.TruncatedError) as info:
        view.refresh()
    assert info.value.old_nbytes == 240 and info.value.new_nbytes == 123
    assert "shrank from 240 to 123 bytes" in str(info.value)
    with pytest.raises(rv.TruncatedError):
        view[0]
    view.close()
    with rv.open(path, DT, trailing="ignore", mode=mode) as again:
        assert len(again) == 5


def test_follow_delivers_appended_records_once(tmp_path):
    path = tmp_path / "r.bin"
    recs = write(path, 4)
    with rv.open(path, DT) as view:
        it = view.follow(start=2, poll=0.01, timeout=0.2)
        first = next(it)
        np.testing.assert_array_equal(first, recs[2:])
        raw = recs.tobytes()
        with open(path, "ab") as f:
            f.write(raw[:30])  # one record and a part of the next
        second = next(it)
        np.testing.assert_array_equal(second, recs[:1])
        with open(path, "ab") as f:
            f.write(raw[30:48])
        third = next(it)
        np.testing.assert_array_equal(third, recs[1:2])
        assert list(it) == []  # timeout: nothing more
    with rv.open(path, DT) as view, pytest.raises(rv.TruncatedError, match="resume"):
        view.follow(start=100)


def test_shared_lock_option(tmp_path):
    import fcntl

    path = tmp_path / "r.bin"
    write(path, 2)
    with rv.open(path, DT, lock=True):
        fd = os.open(path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


def test_open_accepts_every_schema_source(tmp_path):
    import construct as c

    class R(rv.Record):
        a: rv.u32
        b: rv.f64be

    path = tmp_path / "r.bin"
    np.array([(1, 2.0)], R.schema.dtype).tofile(path)
    for schema in (
        R,
        R.schema,
        R.schema.dtype,
        [("a", "<u4"), ("b", ">f8")],
        c.Struct("a" / c.Int32ul, "b" / c.Float64b),
    ):
        with rv.open(path, schema) as view:
            assert view[0]["b"] == 2.0


def test_without_the_guard_mmap_falls_back_to_pread_with_a_warning(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "r.bin"
    write(path, 3)
    code = (
        "import warnings, numpy as np, recview as rv\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        f"    view = rv.open({str(path)!r}, {DT.descr!r})\n"
        "print(view.mode, len(view), [str(x.category.__name__) for x in w])\n"
        "print('RECVIEW_NO_GUARD' in str(w[0].message))\n"
    )
    env = {**os.environ, "RECVIEW_NO_GUARD": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split("\n")[:2] == ["pread 3 ['GuardWarning']", "True"]


def test_index_arrays_copy_whole_records_read_only(tmp_path, mode):
    dt = np.dtype({"names": ["a", "b"], "formats": ["<u2", "u1"], "offsets": [0, 3], "itemsize": 5})
    path = tmp_path / "p.bin"
    raw = bytes(range(50))
    path.write_bytes(raw)
    with rv.open(path, dt, mode=mode) as view:
        for key in ([3, 0, 7], np.array([9, 9]), np.arange(10) % 3 == 0):
            sub = view[key]
            assert not sub.flags.writeable
            rows = np.frombuffer(raw, np.uint8).reshape(10, 5)[np.asarray(key)]
            assert sub.tobytes() == rows.tobytes()
        with pytest.raises(IndexError):
            view[[10]]


def test_columns_reach_into_arrays_of_structs(tmp_path, mode):
    dt = np.dtype([("t", "<u2"), ("x", [("a", "<u2"), ("b", ">f4")], (2,))])
    recs = np.zeros(3, dt)
    recs["x"]["b"] = [[1, 2], [3, 4], [5, 6]]
    recs["x"]["a"] = [[7, 8], [9, 10], [11, 12]]
    path = tmp_path / "a.bin"
    recs.tofile(path)
    with rv.open(path, dt, mode=mode) as view:
        cols = view.columns()
        assert list(cols) == ["t", "x.a", "x.b"]
        assert cols["x.b"].shape == (3, 2) and cols["x.b"].dtype == np.dtype("=f4")
        np.testing.assert_array_equal(cols["x.b"], recs["x"]["b"])
        np.testing.assert_array_equal(cols["x.a"], recs["x"]["a"])
        assert list(view.columns(["x.b"])) == ["x.b"]


def test_closed_nbytes_and_zero_record_batches_are_errors(tmp_path):
    path = tmp_path / "r.bin"
    write(path, 3)
    view = rv.open(path, DT)
    with pytest.raises(ValueError, match="records must be >= 1"):
        view.batches(0)
    with pytest.raises(ValueError, match="records must be >= 1"):
        view.follow(records=0)
    view.close()
    with pytest.raises(rv.ClosedError):
        view.nbytes


def test_getitem_documents_which_keys_give_views_and_which_copies() -> None:
    import subprocess
    import sys

    code = (
        "import recview as rv\n"
        "doc = rv.View.__getitem__.__doc__\n"
        "assert 'mode=\"mmap\"' in doc and '\"pread\"' in doc, doc\n"
        "assert 'index list/array, boolean mask                copy' in doc, doc\n"
        "print(type(rv.View.__getitem__).__name__)\n"
    )
    kinds = set()
    for env in ({}, {"RECVIEW_NO_GUARD": "1"}):  # the C base and the Python one
        out = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", code],
            check=False, capture_output=True, text=True, timeout=60, env={**os.environ, **env},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        kinds.add(out.stdout.strip())
    assert len(kinds) == 2, kinds  # both bases were checked
