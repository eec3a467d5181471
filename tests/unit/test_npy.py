"""recview._npy: .npy headers (versions 1, 2, 3) as a schema, offset and record count."""

from __future__ import annotations

import inspect
import io
import struct

import numpy as np
import numpy.lib.format as npformat
import pytest

import recview as rv
from recview._npy import npy_layout

VERSIONS = [(1, 0), (2, 0), (3, 0)]

STRUCT = np.dtype([("ts", "<u8"), ("px", "<f8"), ("qty", "<u4")])
ALIGNED = np.dtype([("a", "u1"), ("b", "<f8"), ("c", "<i2")], align=True)
BIG = np.dtype([("ts", ">u8"), ("temp", ">f4"), ("id", ">u2")])
# (numpy cannot save out-of-order offsets: dtype.descr is undefined for them)
OFFSETS = np.dtype(
    {"names": ["a", "b"], "formats": ["<i4", "<f8"], "offsets": [2, 12], "itemsize": 28}
)
NESTED = np.dtype([("hdr", [("id", "<u2"), ("flags", "u1")]), ("pos", "<f4", (3,))])
UNICODE = np.dtype([("prix_€", "<f8"), ("größe", "<i4")])  # needs version 3.0


def _random(dtype: np.dtype, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    arr = raw.view(dtype).reshape(shape).copy()
    if dtype.names is None and dtype.kind == "f":
        arr[~np.isfinite(arr)] = 0  # keep == comparisons meaningful
    return arr


def _write(path, arr: np.ndarray, version: tuple[int, int] | None) -> None:
    if version is None:
        np.save(path, arr)
        return
    with open(path, "wb") as f:
        npformat.write_array(f, arr, version=version)


def _records(path, layout) -> np.ndarray:
    return np.memmap(
        path, dtype=layout.schema.dtype, mode="r", offset=layout.offset, shape=(layout.count,)
    )


def _assert_same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()


CASES = [
    pytest.param(STRUCT, (50,), id="structured"),
    pytest.param(ALIGNED, (17,), id="aligned"),
    pytest.param(BIG, (9,), id="big-endian"),
    pytest.param(OFFSETS, (11,), id="explicit-offsets"),
    pytest.param(NESTED, (7,), id="nested"),
    pytest.param(np.dtype("<f8"), (100,), id="plain-1d"),
    pytest.param(np.dtype(">i4"), (6, 5), id="plain-2d-big-endian"),
    pytest.param(np.dtype("<u2"), (4, 3, 2), id="plain-3d"),
    pytest.param(STRUCT, (5, 3), id="structured-2d"),
    pytest.param(np.dtype("<c16"), (8,), id="complex"),
    pytest.param(np.dtype("S5"), (8,), id="bytes"),
    pytest.param(np.dtype("<f4"), (0,), id="empty"),
    pytest.param(np.dtype("<f4"), (0, 3), id="empty-2d"),
]


@pytest.mark.parametrize("version", [None, *VERSIONS], ids=["np.save", "v1", "v2", "v3"])
@pytest.mark.parametrize(("dtype", "shape"), CASES)
def test_layout_reads_what_np_load_reads(tmp_path, dtype, shape, version):
    path = tmp_path / "a.npy"
    arr = _random(dtype, shape)
    _write(path, arr, version)
    layout = npy_layout(path)
    loaded = np.load(path, mmap_mode="r")
    assert layout.count == (shape[0] if shape else 1)
    assert layout.shape == shape
    assert layout.offset + arr.nbytes == path.stat().st_size
    if version is not None:
        assert layout.version == version
    records = _records(path, layout)
    assert layout.schema.itemsize * layout.count == arr.nbytes
    if dtype.names is not None and len(shape) == 1:
        assert layout.field is None
        _assert_same(np.asarray(records), np.asarray(loaded))
    else:
        assert layout.field == "f0"
        assert layout.schema.names == ("f0",)
        _assert_same(np.asarray(records["f0"]), np.asarray(loaded))
    _assert_same(np.asarray(layout.unwrap(records)), np.asarray(loaded))


@pytest.mark.parametrize("version", [None, (3, 0)])
def test_utf8_field_names_need_version_3(tmp_path, version):
    path = tmp_path / "u.npy"
    arr = _random(UNICODE, (12,))
    if version is None:  # np.save picks 3.0 itself, and says so
        with pytest.warns(UserWarning, match="format 3.0"):
            _write(path, arr, version)
    else:
        _write(path, arr, version)
    layout = npy_layout(path)
    assert layout.version == (3, 0)
    assert list(layout.schema.names) == ["prix_€", "größe"]
    _assert_same(np.asarray(_records(path, layout)), np.asarray(np.load(path, mmap_mode="r")))


@pytest.mark.parametrize("version", VERSIONS, ids=["v1", "v2", "v3"])
def test_zero_d_array_is_one_record(tmp_path, version):
    path = tmp_path / "z.npy"
    _write(path, np.array(2.5, dtype=">f8"), version)
    layout = npy_layout(path)
    assert (layout.count, layout.shape, layout.field) == (1, (), "f0")
    rec = _records(path, layout)
    assert rec["f0"].tolist() == [2.5]
    assert layout.unwrap(rec).shape == ()
    assert float(layout.unwrap(rec)) == 2.5


def test_zero_d_structured_array_is_one_record(tmp_path):
    path = tmp_path / "zs.npy"
    np.save(path, np.array((1, 2.0, 3), dtype=STRUCT))
    layout = npy_layout(path)
    assert layout.count == 1
    got = layout.unwrap(_records(path, layout))
    assert got.shape == () and got.dtype == STRUCT and got.tolist() == (1, 2.0, 3)


def test_file_object_and_nbytes(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.arange(10, dtype="<i8"))
    buf.seek(0)
    layout = npy_layout(buf, name="mem.npy")
    assert (layout.count, layout.offset) == (10, 128)
    buf.seek(0)
    with pytest.raises(rv.LayoutError, match="mem.npy"):
        npy_layout(buf, nbytes=128 + 79, name="mem.npy")


def test_fortran_order_is_a_schema_error_naming_the_file(tmp_path):
    path = tmp_path / "f.npy"
    np.save(path, np.asfortranarray(np.zeros((3, 4), dtype="<f4")))
    with pytest.raises(rv.SchemaError, match=r"f\.npy: a Fortran-ordered array of shape \(3, 4\)"):
        npy_layout(path)


def test_fortran_flag_on_a_1d_array_is_c_order(tmp_path):
    # A hand-written header: one dimension has one layout, whatever the flag says.
    path = tmp_path / "f1.npy"
    with open(path, "wb") as f:
        npformat.write_array_header_1_0(f, {"descr": "<u4", "fortran_order": True, "shape": (3,)})
        np.arange(3, dtype="<u4").tofile(f)
    layout = npy_layout(path)
    assert _records(path, layout)["f0"].tolist() == [0, 1, 2]


def test_object_dtype_is_a_schema_error_naming_the_file(tmp_path):
    path = tmp_path / "o.npy"
    np.save(path, np.array([1, "a", None], dtype=object), allow_pickle=True)
    with pytest.raises(rv.SchemaError, match=r"o\.npy: dtype object holds Python objects"):
        npy_layout(path)


def test_header_that_lies_about_the_size_is_a_layout_error(tmp_path):
    path = tmp_path / "short.npy"
    np.save(path, np.zeros((10, 3), dtype="<f8"))
    full = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(full - 100)
    with pytest.raises(rv.LayoutError) as info:
        npy_layout(path)
    msg = str(info.value)
    assert str(path) in msg
    assert f"expected {full:,} bytes, the file has {full - 100:,}" in msg
    assert info.value.path == str(path)


def test_not_npy_is_a_schema_error(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(b"hello world, not numpy at all")
    with pytest.raises(rv.SchemaError, match=r"x\.npy: not a readable \.npy header"):
        npy_layout(path)


def test_truncated_header_is_a_schema_error(tmp_path):
    path = tmp_path / "h.npy"
    np.save(path, np.zeros(3))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(rv.SchemaError, match=r"h\.npy"):
        npy_layout(path)


def test_unknown_version_is_a_schema_error(tmp_path):
    path = tmp_path / "v9.npy"
    path.write_bytes(b"\x93NUMPY\x09\x00" + struct.pack("<H", 0))
    with pytest.raises(rv.SchemaError, match=r"v9\.npy: unknown \.npy format version 9\.0"):
        npy_layout(path)


def test_bad_version_3_header_is_a_schema_error(tmp_path):
    path = tmp_path / "bad3.npy"
    header = b"{'descr': '<f8', 'shape': (3,)}\n"
    path.write_bytes(b"\x93NUMPY\x03\x00" + struct.pack("<I", len(header)) + header)
    with pytest.raises(rv.SchemaError, match=r"bad3\.npy: .*descr, fortran_order, shape"):
        npy_layout(path)


@pytest.mark.parametrize("shape", ["(-1,)", "(True,)", "(2, -3)"])
def test_header_shape_that_is_no_shape_is_a_schema_error_naming_the_file(tmp_path, shape):
    path = tmp_path / "neg.npy"
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (-(10 + len(header) + 1) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(48))
    with pytest.raises(rv.SchemaError) as info:
        rv.open(path)
    assert str(info.value) == (
        f"{path}: .npy header shape {shape} is not a shape (expected a tuple of integers >= 0)"
    )


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        npy_layout(tmp_path / "nope.npy")


_OPEN_TAKES_NO_SCHEMA = (
    inspect.signature(rv.open).parameters["schema"].default is not inspect.Parameter.empty
)


@pytest.mark.skipif(not _OPEN_TAKES_NO_SCHEMA, reason="rv.open(path) without schema not wired yet")
@pytest.mark.parametrize(("dtype", "shape"), [(STRUCT, (20,)), (np.dtype(">i4"), (6, 5))])
def test_rv_open_without_schema_reads_npy(tmp_path, dtype, shape):
    path = tmp_path / "a.npy"
    arr = _random(dtype, shape)
    np.save(path, arr)
    loaded = np.load(path, mmap_mode="r")
    with rv.open(path) as view:
        assert len(view) == shape[0]
        got = view.array if dtype.names is not None else view["f0"]
        _assert_same(np.asarray(got), np.asarray(loaded))
