"""Property tests of View.columns()' native split (recview._columns) against numpy.

Random structured dtypes (nested records, sub-arrays, arrays of records, odd
offsets, both byte orders, every kind the split copies itself and some it
leaves to numpy) and random bytes: the columns of the native split, of the
numpy fallback and of ``np.memmap`` + one copy per field hold the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import recview as rv
from recview import _colsplit
from tests.strategies import field_specs, record_bytes, records, temp_file

pytestmark = pytest.mark.skipif(not _colsplit.NATIVE, reason="recview._columns is not built")

# One-byte and byte-string scalars have no byte order; the others are drawn
# in both (a complex number swaps each part, a UCS-4 string each code point).
_BYTES = ["u1", "i1", "?", "S1", "S3", "V2", "V5"]
_NUMBERS = ["u2", "i4", "u4", "i8", "f2", "f4", "f8", "c8", "c16", "U1", "U3", "m8[s]", "M8[us]"]
_SCALARS = [*_BYTES, *_NUMBERS]


@st.composite
def dtypes(draw: st.DrawFn, depth: int = 2) -> np.dtype[Any]:
    """A structured dtype with fields at random (possibly odd, unordered) offsets."""
    n = draw(st.integers(1, 5))
    names = [f"f{i}" for i in range(n)]
    formats: list[Any] = []
    for _ in range(n):
        if depth and draw(st.integers(0, 3)) == 0:
            base: Any = draw(dtypes(depth - 1))
        else:
            code = draw(st.sampled_from(_SCALARS))
            order = "" if code in _BYTES else draw(st.sampled_from("<>"))
            base = np.dtype(order + code)
        shape = draw(st.sampled_from([(), (), (1,), (3,), (2, 2), (2, 1, 3)]))
        formats.append((base, shape) if shape else base)
    sizes = [np.dtype(f).itemsize for f in formats]
    offsets, pos = [], 0
    for i in draw(st.permutations(range(n))):
        pos += draw(st.integers(0, 3))
        offsets.append((i, pos))
        pos += sizes[i]
    ordered = [o for _, o in sorted(offsets)]
    itemsize = pos + draw(st.integers(0, 5))
    # mostly whole 8-byte words: the split's word path
    itemsize += -itemsize % draw(st.sampled_from([8, 1, 8]))
    return np.dtype({"names": names, "formats": formats, "offsets": ordered, "itemsize": itemsize})


def numpy_columns(arr: np.ndarray[Any, Any], schema: rv.Schema) -> dict[str, np.ndarray[Any, Any]]:
    """Every leaf as numpy copies it: field indexing along the dotted path, then
    one conversion into a fresh native array."""
    out = {}
    for f in schema.fields():
        if f.is_bitfield:
            out[f.path] = f.get(arr)
            continue
        v = arr
        for part in f.path.split("."):
            v = v[part]
        out[f.path] = np.array(v, dtype=v.dtype.newbyteorder("="))
    return out


def columns(
    path: str,
    schema: rv.Schema,
    mode: str,
    native: bool,
    names: Any = None,
    offset: int = 0,
    stream: bool = False,
) -> Any:
    saved = _colsplit.NATIVE, _colsplit._STREAM_NBYTES
    _colsplit.NATIVE = native
    if stream:  # non-temporal stores for any size
        _colsplit._STREAM_NBYTES = 0
    try:
        with rv.open(path, schema, mode=mode, offset=offset) as view:
            return view.columns(names)
    finally:
        _colsplit.NATIVE, _colsplit._STREAM_NBYTES = saved


def same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert list(got) == list(want)
    for k, ref in want.items():
        col = got[k]
        assert col.dtype == ref.dtype and col.dtype.isnative, k
        assert col.shape == ref.shape, k
        assert col.flags.c_contiguous and col.flags.writeable, k
        assert col.tobytes() == np.ascontiguousarray(ref).tobytes(), k


@settings(max_examples=60, deadline=None)
@given(
    dtype=dtypes(),
    n=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["mmap", "pread"]),
    header=st.integers(0, 9),
    stream=st.booleans(),
)
def test_native_split_equals_numpy_and_memmap(
    hyp_tmp: Path,
    dtype: np.dtype[Any],
    n: int,
    seed: int,
    mode: str,
    header: int,
    stream: bool,
) -> None:
    size = header + n * dtype.itemsize
    raw = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
    schema = rv.Schema.from_dtype(dtype)
    with temp_file(hyp_tmp, raw.tobytes()) as path:
        got = columns(path, schema, mode, native=True, offset=header, stream=stream)
        same(got, columns(path, schema, mode, native=False, offset=header))
        if n:
            mm = np.memmap(path, dtype, mode="r", offset=header, shape=(n,))
        else:
            mm = np.zeros(0, dtype)
        same(got, numpy_columns(mm, schema))


@settings(max_examples=30, deadline=None)
@given(
    spec=field_specs(max_depth=2, max_fields=4, bits=True),
    mode=st.sampled_from(["mmap", "pread"]),
    data=st.data(),
)
def test_native_split_with_bitfields_and_a_selection(
    hyp_tmp: Path, spec: Any, mode: str, data: st.DataObject
) -> None:
    # Bitfields stay with numpy, block by block beside the native copies.
    schema = spec.schema()
    values = data.draw(st.lists(records(spec), max_size=20), label="values")
    raw = record_bytes(spec, values)
    names = data.draw(
        st.none()
        | st.lists(st.sampled_from([f.name for f in spec.fields]), min_size=1, unique=True),
        label="names",
    )
    with temp_file(hyp_tmp, raw) as path:
        got = columns(path, schema, mode, native=True, names=names)
        same(got, columns(path, schema, mode, native=False, names=names))
        arr = np.frombuffer(raw, schema.dtype)
        want = numpy_columns(arr, schema)
        same(got, {k: want[k] for k in got})


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("header", [0, 3])
def test_every_cut_of_the_word_path(tmp_path: Path, stream: bool, header: int) -> None:
    # 16-byte records: each size, byte order and offset inside a word that
    # the word path cuts, beside fields it copies (straddling, 3 bytes)
    fields = [
        ("a", "<u2", 0),
        ("b", ">u2", 2),
        ("c", "u1", 4),
        ("d", "i1", 5),
        ("e", ">i2", 6),
        ("f", "<f4", 8),
        ("g", ">u4", 12),
    ]
    words = np.dtype(
        {
            "names": [f[0] for f in fields],
            "formats": [f[1] for f in fields],
            "offsets": [f[2] for f in fields],
            "itemsize": 16,
        }
    )
    wide = np.dtype([("x", ">f8"), ("y", "<i8"), ("z", "S3"), ("w", ">u4", (2,)), ("_", "V5")])
    for dtype in (words, wide):
        arr = np.zeros(3_000, dtype)
        rng = np.random.default_rng(2)
        arr.view(np.uint8)[:] = rng.integers(0, 256, arr.nbytes, dtype=np.uint8)
        path = str(tmp_path / "r.bin")
        with open(path, "wb") as f:
            f.write(b"h" * header + arr.tobytes())
        schema = rv.Schema.from_dtype(dtype)
        for mode in ("mmap", "pread"):
            got = columns(path, schema, mode, native=True, offset=header, stream=stream)
            same(got, numpy_columns(arr, schema))


def test_many_calls_and_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Records split over several calls of the split and several of its blocks,
    # the last ones partial.
    dtype = np.dtype([("a", ">u8"), ("b", "<f4"), ("c", "u1"), ("d", ">i2", (3,)), ("e", "V1")])
    arr = np.zeros(100_003, dtype)
    arr.view(np.uint8)[:] = np.random.default_rng(1).integers(0, 256, arr.nbytes, dtype=np.uint8)
    path = str(tmp_path / "r.bin")
    arr.tofile(path)
    monkeypatch.setattr(_colsplit, "_CALL_NBYTES", 12_345)
    schema = rv.Schema.from_dtype(dtype)
    for mode in ("mmap", "pread"):
        for stream in (False, True):
            got = columns(path, schema, mode, native=True, stream=stream)
            same(got, numpy_columns(arr, schema))
