"""Unit tests of columns()' native split: its switch, its bounds, a file cut under it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import recview as rv
from recview import _colsplit, _mapping

native = pytest.mark.skipif(not _colsplit.NATIVE, reason="recview._columns is not built")

DT = np.dtype([("seq", "<u8"), ("x", ">u4"), ("c", "u1")], align=True)  # 16 bytes


def child(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return result


def test_the_environment_variable_forces_the_numpy_copies(tmp_path):
    path = tmp_path / "r.bin"
    np.arange(3000, dtype="<u8").view(DT).tofile(path)
    code = """
        import json, sys, recview as rv
        from recview import _colsplit
        with rv.open(sys.argv[1], [("seq", "<u8"), ("x", ">u4"), ("c", "u1"), ("_", "V3")]) as v:
            cols = v.columns()
        print(json.dumps({"native": _colsplit.NATIVE, "x": int(cols["x"].sum())}))
    """
    off = child(code, str(path), env={"RECVIEW_NO_COLUMNS_KERNEL": "1"})
    on = child(code, str(path), env={"RECVIEW_NO_COLUMNS_KERNEL": "0"})
    assert off["native"] is False
    assert on["native"] is _colsplit.NATIVE
    assert off["x"] == on["x"]


@native
def test_the_split_checks_every_bound_before_copying():
    from recview import _columns

    src = np.zeros(4, DT).view(np.uint8)
    out = np.full(4, 7, np.uint8)
    ok = (out, 12, 1, 1, 0, 0)
    _columns.split(src, 16, 0, [ok])
    assert out.tolist() == [0] * 4
    bad = [
        (out, 16, 1, 1, 0, 0),  # past the record
        (out, -1, 1, 1, 0, 0),
        (out, 0, 0, 1, 0, 0),  # empty copy
        (out, 0, 2, 1, 0, 0),  # stride below the size
        (out, 0, 3, 3, 0, 2),  # size not a multiple of the swap unit
        (out, 0, 1, 1, 1, 0),  # the last record's byte past the output
        (out, 0, 1, 2, 0, 0),
    ]
    for task in bad:
        out[:] = 7
        with pytest.raises(ValueError):
            _columns.split(src, 16, 0, [ok, task])
        assert out.tolist() == [7] * 4  # nothing copied
    with pytest.raises(ValueError, match="out is too small"):
        _columns.split(src, 16, 1, [ok])  # records 1..5 of a 4-record output
    with pytest.raises(ValueError, match="whole records"):
        _columns.split(src[:-1], 16, 0, [ok])
    with pytest.raises(BufferError):
        _columns.split(src, 16, 0, [(bytes(4), 0, 1, 1, 0, 0)])  # read-only output
    with pytest.raises(ValueError):
        _columns.split(src, 0, 0, [ok])


@native
def test_a_cut_while_the_split_copies_raises_truncated_error(tmp_path):
    # The file loses its last pages between two calls of the split: the
    # guard maps zeros where they were, the copy goes on, and columns()
    # refuses what it copied. In a child: a guard failure must not kill pytest.
    if not _mapping.GUARD_AVAILABLE:
        pytest.skip("the SIGBUS guard is not built")
    path = tmp_path / "r.bin"
    n = 200_000
    arr = np.zeros(n, DT)
    arr["seq"] = np.arange(n)
    arr.tofile(path)
    code = """
        import json, os, sys, recview as rv
        from recview import _colsplit
        real = _colsplit._native
        calls = []
        class Cutting:
            empty = real.empty

            @staticmethod
            def split(*args):
                if calls:
                    os.truncate(sys.argv[1], 4096)
                calls.append(1)
                return real.split(*args)
        _colsplit._native = Cutting
        _colsplit._CALL_NBYTES = 1 << 20
        dt = [("seq", "<u8"), ("x", ">u4"), ("c", "u1"), ("_", "V3")]
        with rv.open(sys.argv[1], dt) as view:
            try:
                view.columns()
                print(json.dumps({"raised": None}))
            except rv.TruncatedError as exc:
                print(json.dumps({"raised": str(exc), "calls": len(calls)}))
    """
    got = child(code, str(path))
    assert got["raised"] is not None
    assert "shrank" in str(got["raised"]) or "truncated" in str(got["raised"]).lower()
    assert isinstance(got["calls"], int) and got["calls"] > 2


@native
def test_outputs_are_ordinary_arrays_aligned_for_huge_pages():
    from recview import _columns

    big = _columns.empty((3, 1 << 20), np.dtype(">f8"))  # 24 MiB
    assert big.shape == (3, 1 << 20) and big.dtype == np.dtype(">f8")
    assert big.flags.owndata and big.flags.c_contiguous and big.flags.writeable
    assert big.ctypes.data % (2 << 20) == 0
    big.resize((10,), refcheck=False)  # realloc through the same handler
    assert big.shape == (10,)
    small = _columns.empty((0, 3), np.dtype("S2"))
    assert small.shape == (0, 3) and small.flags.owndata
    with pytest.raises(TypeError):
        _columns.empty((2,), "no such dtype")
    with pytest.raises(ValueError):
        _columns.empty((-1,), np.dtype("u1"))


@pytest.mark.parametrize("native_on", [True, False])
def test_columns_own_their_memory(tmp_path, monkeypatch, native_on):
    if native_on and not _colsplit.NATIVE:
        pytest.skip("recview._columns is not built")
    monkeypatch.setattr(_colsplit, "NATIVE", native_on)
    path = tmp_path / "r.bin"
    np.arange(1 << 19, dtype="<u8").view(DT).tofile(path)  # 4 MiB
    with rv.open(path, DT) as view:
        cols = view.columns()
    for col in cols.values():
        assert col.flags.owndata and col.base is None
    assert cols["seq"].tolist() == np.arange(0, 1 << 19, 2).tolist()
