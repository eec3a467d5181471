"""pandas / Arrow / Parquet conversions (recview.interop), checked field by
field against numpy, with the zero-copy promises asserted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import recview as rv
from recview import _tables, interop

# Every field kind, in both byte orders where that means anything.
ENUMS = {"kind": {0: "NEW", 1: "FILL", 5: "CANCEL"}, "hdr.side": {1: "BUY", 2: "SELL"}}


def kitchen_sink(order: str) -> rv.Schema:
    o = order
    dtype = np.dtype(
        [
            ("i1", "i1"),
            ("u1", "u1"),
            ("i2", f"{o}i2"),
            ("u2", f"{o}u2"),
            ("i4", f"{o}i4"),
            ("u4", f"{o}u4"),
            ("i8", f"{o}i8"),
            ("u8", f"{o}u8"),
            ("f2", f"{o}f2"),
            ("f4", f"{o}f4"),
            ("f8", f"{o}f8"),
            ("flag", "?"),
            ("kind", "u1"),
            ("hdr", [("ts", f"{o}u8"), ("side", f"{o}i2"), ("inner", [("x", f"{o}f4")])]),
            ("vec", f"{o}f8", (3,)),
            ("mat", f"{o}i2", (2, 3)),
            ("pts", [("x", f"{o}i4"), ("y", f"{o}f4")], (2,)),
            ("sym", "S6"),
            ("raw", "V3"),
            ("z", f"{o}c16"),
            ("when", f"{o}M8[us]"),
            ("span", f"{o}m8[ns]"),
        ]
    )
    return rv.Schema._from_parts(dtype, enums=ENUMS)


SYMBOLS = [b"AB", b"XYZ\x00Q", b"", b"\xff\xfeok", b"abcdef", "é€".encode()]


def fill(dtype: np.dtype[Any], n: int, seed: int = 0) -> np.ndarray[Any, Any]:
    """Records with distinct, non-NaN values in every leaf."""
    rng = np.random.default_rng(seed)
    arr = np.zeros(n, dtype=dtype)

    def leaf(a: np.ndarray[Any, Any]) -> None:
        if a.dtype.names is not None:
            for name in a.dtype.names:
                sub = a[name]
                leaf(sub)
                a[name] = sub
            return
        kind = a.dtype.kind
        if kind in "iu":
            info = np.iinfo(a.dtype)
            a[...] = rng.integers(
                info.min, info.max, size=a.shape, dtype=native(a.dtype), endpoint=True
            )
        elif kind == "f":
            a[...] = rng.standard_normal(a.shape) * 100
        elif kind == "c":
            a[...] = rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)
        elif kind == "b":
            a[...] = rng.integers(0, 2, size=a.shape).astype(bool)
        elif kind == "S":
            a[...] = np.array([SYMBOLS[i % len(SYMBOLS)] for i in range(a.size)]).reshape(a.shape)
        elif kind == "V":
            raw = rng.integers(0, 256, size=a.size * a.dtype.itemsize, dtype=np.uint8)
            a[...] = raw.view(a.dtype).reshape(a.shape)
        elif kind in "Mm":
            a[...] = rng.integers(-(10**15), 10**15, size=a.shape).astype(a.dtype)

    for name in dtype.names or ():
        sub = arr[name]
        leaf(sub)
        arr[name] = sub
    arr["kind"] = [(0, 1, 5, 7)[i % 4] for i in range(n)]  # 7: not an enum member
    arr["hdr"]["side"] = [(1, 2, 3)[i % 3] for i in range(n)]
    return arr


def write(tmp_path: Path, arr: np.ndarray[Any, Any], header: bytes = b"") -> str:
    path = str(tmp_path / "records.bin")
    with open(path, "wb") as f:
        f.write(header)
        arr.tofile(f)
    return path


def records(name: str, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """One-field records holding *values*."""
    out = np.zeros(len(values), dtype=[(name, values.dtype, values.shape[1:])])
    out[name] = values
    return out


def decoded(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def arrow_values(col: Any, n: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    for _ in shape:
        arr = arr.flatten()
    return np.asarray(arr.to_numpy(zero_copy_only=False)).reshape((n, *shape))


def native(dtype: np.dtype[Any]) -> np.dtype[Any]:
    return dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype


@pytest.fixture(params=["<", ">"], ids=["little", "big"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    schema = kitchen_sink(request.param)
    arr = fill(schema.dtype, 37)
    path = write(tmp_path, arr, header=b"HEADER!!")
    with rv.open(path, schema, offset=8) as view:
        yield schema, arr, view


# --- Arrow, field by field -------------------------------------------------------------


def test_to_arrow_matches_numpy_field_by_field(sink: Any) -> None:
    schema, arr, view = sink
    table = interop.to_arrow(view)
    n = len(arr)
    assert table.num_rows == n
    leaves = [f for f in schema.fields() if f.dtype.names is None]
    expected_names = [f.path for f in leaves]
    assert table.column_names == expected_names
    for member in ("x", "y"):
        got = arrow_values(table.column(f"pts.{member}"), n, (2,))
        np.testing.assert_array_equal(got, arr["pts"][member])
    for f in leaves:
        col = table.column(f.path)
        want = arr[f.path.split(".")[0]]
        for part in f.path.split(".")[1:]:
            want = want[part]
        if f.dtype.kind == "S":  # lossless by default: the exact bytes
            assert col.type == pa.binary(f.dtype.itemsize)
            assert col.to_pylist() == [bytes(v) for v in want.view(f"V{f.dtype.itemsize}").tolist()]
            text = interop.to_arrow(view, strings="str", columns=[f.path]).column(f.path)
            assert text.to_pylist() == [decoded(b) for b in want.tolist()]
        elif f.dtype.kind == "V":
            assert col.type == pa.binary(3)
            assert col.to_pylist() == [bytes(v) for v in want.tolist()]
        elif f.dtype.kind == "c":
            assert col.type == pa.list_(pa.float64(), 2)
            got = arrow_values(col, n, (2,))
            np.testing.assert_array_equal(got[:, 0], want.real)
            np.testing.assert_array_equal(got[:, 1], want.imag)
        else:
            got = arrow_values(col, n, f.shape)
            assert got.dtype == native(f.dtype), f.path
            np.testing.assert_array_equal(got, want, err_msg=f.path)
    # fixed arrays are fixed-size lists, nested for 2-D
    assert table.schema.field("mat").type == pa.list_(pa.list_(pa.int16(), 3), 2)
    assert table.schema.field("when").type == pa.timestamp("us")
    assert table.schema.field("span").type == pa.duration("ns")
    assert table.schema.field("flag").type == pa.bool_()


def test_to_arrow_struct_mode_nests_and_keeps_values(sink: Any) -> None:
    schema, arr, view = sink
    table = interop.to_arrow(view, nested="struct")
    assert table.column_names == list(schema.names)
    hdr = table.schema.field("hdr").type
    assert pa.types.is_struct(hdr)
    assert [hdr.field(i).name for i in range(hdr.num_fields)] == ["ts", "side", "inner"]
    rows = table.column("hdr").to_pylist()
    assert [r["ts"] for r in rows] == arr["hdr"]["ts"].tolist()
    assert [r["inner"]["x"] for r in rows] == arr["hdr"]["inner"]["x"].tolist()
    pts = table.column("pts").to_pylist()
    assert pts[3] == [{"x": int(p["x"]), "y": float(p["y"])} for p in arr["pts"][3]]


def test_to_arrow_enums_as_dictionary_nonmembers_null(sink: Any) -> None:
    _, arr, view = sink
    table = interop.to_arrow(view, enums="category")
    kind = table.column("kind")
    assert kind.type == pa.dictionary(pa.int32(), pa.string())
    names = {0: "NEW", 1: "FILL", 5: "CANCEL"}
    assert kind.to_pylist() == [names.get(int(v)) for v in arr["kind"]]
    side = table.column("hdr.side").to_pylist()
    assert side == [{1: "BUY", 2: "SELL"}.get(int(v)) for v in arr["hdr"]["side"]]
    # the default keeps the integers
    assert interop.to_arrow(view).column("kind").to_pylist() == arr["kind"].tolist()


def test_to_arrow_strings_bytes_keeps_exact_bytes(sink: Any) -> None:
    _, arr, view = sink
    col = interop.to_arrow(view, strings="bytes").column("sym")
    assert col.type == pa.binary(6)
    assert col.to_pylist() == [bytes(v) for v in arr["sym"].view("V6").tolist()]
    assert col.to_pylist()[0] == b"AB\x00\x00\x00\x00"


def test_to_arrow_records_schema_in_metadata(sink: Any) -> None:
    schema, _, view = sink
    meta = interop.to_arrow(view).schema.metadata
    assert rv.Schema.from_json(meta[interop.SCHEMA_METADATA_KEY]) == schema


# --- pandas, field by field -------------------------------------------------------------


def test_to_pandas_matches_numpy_field_by_field(sink: Any) -> None:
    schema, arr, view = sink
    df = interop.to_pandas(view)
    assert len(df) == len(arr)
    assert isinstance(df.index, pd.RangeIndex)
    expected: list[str] = []
    for f in schema.fields():
        if f.dtype.names is not None:
            continue
        want = arr
        for part in f.path.split("."):
            want = want[part]
        if f.shape:
            # arrays expand in C order: vec[0], mat[1][2], and through arrays
            # of records the leaf's own path first: pts.x[0] (not pts[0].x)
            for idx in np.ndindex(f.shape):
                name = f.path + "".join(f"[{i}]" for i in idx)
                expected.append(name)
                got = df[name].to_numpy()
                assert got.dtype == native(f.dtype), name
                np.testing.assert_array_equal(got, want[(slice(None), *idx)], err_msg=name)
            continue
        expected.append(f.path)
        got = df[f.path]
        if f.dtype.kind == "S":
            assert pd.api.types.is_string_dtype(got.dtype)
            assert got.tolist() == [decoded(b) for b in want.tolist()]
        elif f.dtype.kind == "V":
            assert got.tolist() == [bytes(v) for v in want.tolist()]
        else:
            assert got.dtype == native(f.dtype), f.path
            np.testing.assert_array_equal(got.to_numpy(), want, err_msg=f.path)
    assert list(df.columns) == expected
    assert "pts.x[1]" in expected and "mat[1][2]" in expected


def test_to_pandas_enums_as_categories(sink: Any) -> None:
    _, arr, view = sink
    df = interop.to_pandas(view, enums="category")
    kind = df["kind"]
    assert isinstance(kind.dtype, pd.CategoricalDtype)
    assert list(kind.cat.categories) == ["NEW", "FILL", "CANCEL"]
    names = {0: "NEW", 1: "FILL", 5: "CANCEL"}
    got = [None if pd.isna(v) else v for v in kind]
    assert got == [names.get(int(v)) for v in arr["kind"]]
    assert list(df["hdr.side"].cat.categories) == ["BUY", "SELL"]


def test_to_pandas_arrays_as_arrow_lists_and_objects(sink: Any) -> None:
    _, arr, view = sink
    df = interop.to_pandas(view, arrays="arrow")
    assert isinstance(df["mat"].dtype, pd.ArrowDtype)
    assert df["mat"].tolist()[4] == arr["mat"][4].tolist()
    assert df["pts.x"].tolist()[2] == arr["pts"]["x"][2].tolist()
    df = interop.to_pandas(view, arrays="object")
    assert df["vec"].dtype == object
    cell = df["vec"].iloc[5]
    assert cell.dtype.isnative
    np.testing.assert_array_equal(cell, arr["vec"][5])


def test_to_pandas_strings_bytes_keeps_exact_bytes(sink: Any) -> None:
    _, arr, view = sink
    got = interop.to_pandas(view, strings="bytes")["sym"].tolist()
    assert got == [bytes(v) for v in arr["sym"].view("V6").tolist()]


def test_char_field_decoding_strips_trailing_nuls_and_replaces_invalid_utf8() -> None:
    arr = np.array(
        [(b"ab\x00\x00",), (b"a\x00b\x00",), (b"\xff\xfe",), (b"",), ("é".encode(),)],
        dtype=[("s", "S4")],
    )
    want = ["ab", "a\x00b", "\ufffd\ufffd", "", "é"]
    assert interop.to_arrow(arr, strings="str").column("s").to_pylist() == want
    assert interop.to_pandas(arr)["s"].tolist() == want
    valid = arr[[0, 1, 3, 4]]  # the vectorised path, without the fallback
    want_valid = [want[i] for i in (0, 1, 3, 4)]
    assert interop.to_arrow(valid, strings="str").column("s").to_pylist() == want_valid
    assert interop.to_arrow(valid, strings="text").column("s").to_pylist() == want_valid
    assert interop.to_pandas(valid, strings="text")["s"].tolist() == want_valid


def test_arrow_and_parquet_keep_every_byte_by_default(tmp_path: Path) -> None:
    # Every byte value, trailing NULs included: the Arrow/Parquet defaults
    # must give back exactly the bytes of the file.
    values = [bytes([i, (i + 1) % 256, 0, (255 - i) % 256]) for i in range(256)]
    values += [b"\xff\xfe\x00\x01", b"ab\x00\x00", b"\x00\x00\x00\x00"]
    arr = np.zeros(len(values), dtype=[("s", "S4"), ("n", "<u2")])
    arr["s"] = values
    raw = [bytes(v) for v in arr["s"].view("V4").tolist()]
    assert interop.to_arrow(arr).column("s").to_pylist() == raw
    out = tmp_path / "bytes.parquet"
    interop.to_parquet(arr, out)
    assert pq.read_table(out).column("s").to_pylist() == raw


def test_strings_text_refuses_bytes_that_are_not_utf8() -> None:
    arr = np.array([(b"ok",), (b"\xff\xfeab",)], dtype=[("s", "S4")])
    for convert in (interop.to_arrow, interop.to_pandas):
        with pytest.raises(interop.NotTextError, match=r"field 's', record 1: .* not UTF-8") as e:
            convert(arr, strings="text")
        assert (e.value.field, e.value.record, e.value.offset) == ("s", 1, 0)
        assert isinstance(e.value, rv.RecviewError)


def test_unicode_fields_convert(tmp_path: Path) -> None:
    arr = np.array([("hé",), ("",)], dtype=[("u", ">U3")])
    assert interop.to_arrow(arr).column("u").to_pylist() == ["hé", ""]
    assert interop.to_pandas(arr)["u"].tolist() == ["hé", ""]


# --- zero-copy promises ----------------------------------------------------------------


def buffer_address(table: Any, name: str) -> int:
    chunk = table.column(name).chunk(0)
    while pa.types.is_fixed_size_list(chunk.type):
        chunk = chunk.values
    return int(chunk.buffers()[1].address)


def test_pandas_native_fields_view_the_mapping_even_strided(tmp_path: Path) -> None:
    dtype = np.dtype([("ts", "<u8"), ("px", "<f8"), ("be", ">i4"), ("v", "<f4", (2,))])
    arr = fill(np.dtype([*dtype.descr, ("kind", "u1"), ("hdr", [("side", "<i2")])]), 10)
    schema = rv.Schema.from_dtype(arr.dtype)
    path = write(tmp_path, arr)
    with rv.open(path, schema) as view:
        df = interop.to_pandas(view)
        base = view.array
        for name in ("ts", "px", "v[1]", "hdr.side"):
            assert np.shares_memory(df[name].to_numpy(), base), name
        assert not np.shares_memory(df["be"].to_numpy(), base)  # byte-swapped copy
        owned = interop.to_pandas(view, copy=True)
        for name in ("ts", "px", "v[1]"):
            col = owned[name].to_numpy()
            assert not np.shares_memory(col, base)
            assert col.flags.c_contiguous
        np.testing.assert_array_equal(owned["be"].to_numpy(), arr["be"])


def test_arrow_wraps_one_field_record_without_copy(tmp_path: Path) -> None:
    arr = records("x", np.arange(100, dtype="<f8"))
    path = write(tmp_path, arr)
    with rv.open(path, rv.Schema.from_dtype(arr.dtype)) as view:
        table = interop.to_arrow(view)
        assert buffer_address(table, "x") == view.array.ctypes.data
        assert table.column("x").to_pylist() == arr["x"].tolist()


def test_arrow_wraps_whole_record_fixed_array_and_raw_bytes_without_copy(tmp_path: Path) -> None:
    vec = np.zeros(8, dtype=[("v", "<i4", (2, 3))])
    vec["v"] = np.arange(48).reshape(8, 2, 3)
    with rv.open(write(tmp_path, vec), rv.Schema.from_dtype(vec.dtype)) as view:
        table = interop.to_arrow(view)
        assert buffer_address(table, "v") == view.array.ctypes.data
        assert table.column("v").to_pylist() == vec["v"].tolist()
    raw = np.array([(b"ab",), (b"cd\x00",)], dtype=[("s", "S3")])
    table = interop.to_arrow(raw, strings="bytes")
    assert buffer_address(table, "s") == raw.ctypes.data


def test_arrow_wraps_columns_output_without_copy(tmp_path: Path) -> None:
    arr = fill(kitchen_sink("<").dtype, 20)
    with rv.open(write(tmp_path, arr), kitchen_sink("<")) as view:
        cols = view.columns(["i8", "f4", "hdr", "vec"])
    table = interop.to_arrow(cols)
    for name in ("i8", "f4", "hdr.ts", "hdr.inner.x", "vec"):
        assert buffer_address(table, name) == cols[name].ctypes.data, name
    np.testing.assert_array_equal(arrow_values(table.column("vec"), 20, (3,)), arr["vec"])


def test_arrow_copies_strided_big_endian_and_unaligned_fields(tmp_path: Path) -> None:
    arr = np.zeros(16, dtype=[("a", "<i8"), ("b", ">f8")])
    arr["a"] = np.arange(16)
    arr["b"] = np.arange(16) / 4
    with rv.open(write(tmp_path, arr), rv.Schema.from_dtype(arr.dtype)) as view:
        table = interop.to_arrow(view)
        start, stop = view.array.ctypes.data, view.array.ctypes.data + view.array.nbytes
        for name in ("a", "b"):
            assert not start <= buffer_address(table, name) < stop, name
        assert table.column("a").to_pylist() == list(range(16))
        assert table.column("b").to_pylist() == (np.arange(16) / 4).tolist()
    # a one-field record after a 1-byte header is contiguous but misaligned
    one = records("x", np.arange(9, dtype="<f8"))
    with rv.open(write(tmp_path, one, header=b"!"), rv.Schema.from_dtype(one.dtype), offset=1) as v:
        assert not v.array["x"].flags.aligned
        table = interop.to_arrow(v)
        assert buffer_address(table, "x") % 8 == 0
        assert table.column("x").to_pylist() == one["x"].tolist()


def test_arrow_data_outlives_the_closed_view(tmp_path: Path) -> None:
    arr = records("x", np.arange(50, dtype="<i8"))
    with rv.open(write(tmp_path, arr), rv.Schema.from_dtype(arr.dtype)) as view:
        table = interop.to_arrow(view)
        df = interop.to_pandas(view)
    assert table.column("x").to_pylist() == list(range(50))
    assert df["x"].sum() == sum(range(50))


# --- batches, views, options -----------------------------------------------------------


def test_batches_and_pread_views_convert_like_the_whole(tmp_path: Path) -> None:
    schema = kitchen_sink(">")
    arr = fill(schema.dtype, 50)
    path = write(tmp_path, arr)
    with rv.open(path, schema) as view:
        whole = interop.to_pandas(view, enums="category")
        parts = [interop.to_pandas(b, schema=schema, enums="category") for b in view.batches(16)]
        assert [len(p) for p in parts] == [16, 16, 16, 2]
        joined = pd.concat(parts, ignore_index=True)
        pd.testing.assert_frame_equal(joined, whole)
        tables = [interop.to_arrow(b, schema=schema) for b in view.batches(7)]
        assert pa.concat_tables(tables).equals(interop.to_arrow(view))
    with rv.open(path, schema, mode="pread") as view:
        pd.testing.assert_frame_equal(interop.to_pandas(view, enums="category"), whole)


def test_view_methods_delegate(tmp_path: Path) -> None:
    arr = fill(kitchen_sink("<").dtype, 5)
    with rv.open(write(tmp_path, arr), kitchen_sink("<")) as view:
        pd.testing.assert_frame_equal(
            view.to_pandas(enums="category"), interop.to_pandas(view, enums="category")
        )
        assert view.to_arrow(nested="struct").equals(interop.to_arrow(view, nested="struct"))


def test_columns_selects_and_orders_output() -> None:
    arr = fill(kitchen_sink("<").dtype, 4)
    df = interop.to_pandas(arr, columns=["vec[2]", "hdr.ts", "sym"])
    assert list(df.columns) == ["vec[2]", "hdr.ts", "sym"]
    np.testing.assert_array_equal(df["vec[2]"].to_numpy(), arr["vec"][:, 2])
    table = interop.to_arrow(arr, columns=["hdr.inner.x", "i1"])
    assert table.column_names == ["hdr.inner.x", "i1"]
    assert interop.to_arrow(arr, nested="struct", columns=["hdr"]).column_names == ["hdr"]
    with pytest.raises(KeyError, match=r"no such column\(s\) \['nope'\]"):
        interop.to_pandas(arr, columns=["nope"])
    with pytest.raises(KeyError, match="nope"):
        interop.to_arrow(arr, nested="struct", columns=["nope"])


def test_empty_sources_keep_column_types() -> None:
    empty = np.zeros(0, dtype=kitchen_sink(">").dtype)
    df = interop.to_pandas(empty, schema=kitchen_sink(">"), enums="category")
    assert len(df) == 0
    assert df["i4"].dtype == np.dtype("int32")
    assert isinstance(df["kind"].dtype, pd.CategoricalDtype)
    table = interop.to_arrow(empty)
    assert table.num_rows == 0
    assert table.schema.field("sym").type == pa.binary(6)
    assert interop.to_arrow(empty, strings="text").schema.field("sym").type == pa.string()


@pytest.mark.parametrize(
    ("source", "kwargs", "error", "match"),
    [
        (np.arange(3), {}, TypeError, "structured ndarray of records"),
        (np.zeros((2, 2), dtype=[("a", "u1")]), {}, ValueError, r"shape \(2, 2\)"),
        ([1, 2], {}, TypeError, "got list"),
        ({"a": np.arange(3), "b": np.arange(2)}, {}, ValueError, "equal length"),
        (np.zeros(2, dtype=[("a", "u1")]), {"strings": "utf8"}, ValueError, "strings must"),
        (np.zeros(2, dtype=[("a", "u1")]), {"enums": "names"}, ValueError, "enums must"),
        (np.zeros(2, dtype=[("a", "u1")]), {"nested": "deep"}, ValueError, "nested must"),
        (np.zeros(2, dtype=[("a", "g")]), {}, TypeError, "field 'a'.*float128"),
    ],
)
def test_bad_arguments_are_rejected(source: Any, kwargs: Any, error: Any, match: str) -> None:
    with pytest.raises(error, match=match):
        interop.to_arrow(source, **kwargs)


def test_colliding_flattened_names_are_rejected() -> None:
    arr = {"a.b": np.arange(2), "a": np.zeros(2, dtype=[("b", "u1")])}
    with pytest.raises(ValueError, match=r"collide: \['a.b'\]"):
        interop.to_pandas(arr)


def test_bad_pandas_arrays_option() -> None:
    with pytest.raises(ValueError, match="arrays must"):
        interop.to_pandas(np.zeros(1, dtype=[("a", "u1")]), arrays="wide")  # type: ignore[arg-type]


# --- Parquet -----------------------------------------------------------------------------


def row_groups(path: str) -> list[int]:
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def test_parquet_round_trip_from_a_view(sink: Any, tmp_path: Path) -> None:
    schema, _, view = sink
    out = str(tmp_path / "out.parquet")
    written = interop.to_parquet(
        view, out, row_group_records=10, batch_records=4, enums="category", compression="zstd"
    )
    assert written == len(view)
    assert row_groups(out) == [10, 10, 10, 7]
    back = pq.read_table(out)
    assert back.equals(interop.to_arrow(view, enums="category"))
    assert rv.Schema.from_json(back.schema.metadata[interop.SCHEMA_METADATA_KEY]) == schema
    assert pq.ParquetFile(out).metadata.row_group(0).column(0).compression == "ZSTD"


def test_parquet_from_a_path_with_header(tmp_path: Path) -> None:
    schema = rv.Schema.from_dtype([("ts", ">u8"), ("px", "<f8"), ("sym", "S3")])
    arr = np.zeros(25, dtype=schema.dtype)
    arr["ts"] = np.arange(25)
    arr["px"] = np.arange(25) * 0.5
    arr["sym"] = b"ABC"
    src = write(tmp_path, arr, header=b"\x00" * 16)
    out = tmp_path / "out.parquet"
    assert interop.to_parquet(src, out, schema=schema, offset=16, row_group_records=8) == 25
    assert row_groups(str(out)) == [8, 8, 8, 1]
    df = pd.read_parquet(out)
    np.testing.assert_array_equal(df["ts"].to_numpy(), arr["ts"])
    np.testing.assert_array_equal(df["px"].to_numpy(), arr["px"])
    assert set(df["sym"]) == {b"ABC"}
    with pytest.raises(ValueError, match="needs schema="):
        interop.to_parquet(src, tmp_path / "x.parquet")


def test_parquet_from_arrays_mappings_and_file_objects(tmp_path: Path) -> None:
    arr = fill(kitchen_sink("<").dtype, 30)
    out = tmp_path / "a.parquet"
    interop.to_parquet(arr, out, nested="struct", row_group_records=12)
    assert row_groups(str(out)) == [12, 12, 6]
    assert pq.read_table(out).equals(interop.to_arrow(arr, nested="struct"))
    cols = {"x": np.arange(30.0), "v": np.arange(60).reshape(30, 2)}
    with open(tmp_path / "m.parquet", "wb") as f:
        interop.to_parquet(cols, f, row_group_records=7, compression=None)
    back = pq.read_table(tmp_path / "m.parquet")
    assert back.column("x").to_pylist() == cols["x"].tolist()
    assert back.column("v").to_pylist() == cols["v"].tolist()
    assert row_groups(str(tmp_path / "m.parquet")) == [7, 7, 7, 7, 2]


def test_parquet_of_no_records_has_the_schema(tmp_path: Path) -> None:
    schema = kitchen_sink(">")
    path = write(tmp_path, np.zeros(0, dtype=schema.dtype))
    out = tmp_path / "e.parquet"
    with rv.open(path, schema) as view:
        assert interop.to_parquet(view, out, enums="category") == 0
    back = pq.read_table(out)
    assert back.num_rows == 0
    assert back.schema.field("kind").type == pa.dictionary(pa.int32(), pa.string())
    assert back.schema.field("mat").type == pa.list_(pa.list_(pa.int16(), 3), 2)


def test_parquet_converts_in_bounded_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arr = np.zeros(1000, dtype=[("a", "<u4"), ("b", ">f8")])
    arr["a"] = np.arange(1000)
    path = write(tmp_path, arr)
    seen: list[int] = []
    real = _tables.arrow_arrays

    def spy(pa_: Any, data: Any, *args: Any) -> Any:
        seen.append(len(data))
        return real(pa_, data, *args)

    monkeypatch.setattr(_tables, "arrow_arrays", spy)
    out = tmp_path / "b.parquet"
    with rv.open(path, arr.dtype) as view:
        interop.to_parquet(view, out, batch_records=64, row_group_records=300)
    assert max(seen) <= 64
    assert sum(seen) == 1000
    assert row_groups(str(out)) == [300, 300, 300, 100]
    assert pq.read_table(out).column("a").to_pylist() == list(range(1000))


def test_parquet_failure_removes_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arr = np.zeros(100, dtype=[("a", "<u4")])
    real = _tables.arrow_arrays
    calls = []

    def failing(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(*args)

    monkeypatch.setattr(_tables, "arrow_arrays", failing)
    out = tmp_path / "f.parquet"
    with pytest.raises(RuntimeError, match="disk on fire"):
        interop.to_parquet(arr, out, batch_records=10)
    assert not out.exists()


@pytest.mark.parametrize("bad", [0, -1, 2.5, 3.0, True, "4"])
@pytest.mark.parametrize("name", ["row_group_records", "batch_records"])
def test_parquet_rejects_bad_sizes(tmp_path: Path, name: str, bad: Any) -> None:
    # 3.0 used to pass the check and fail later in range() with a TypeError
    arr = np.zeros(3, dtype=[("a", "<u4")])
    with pytest.raises(ValueError, match="must be a positive integer"):
        interop.to_parquet(arr, tmp_path / "x.parquet", **{name: bad})
    assert not (tmp_path / "x.parquet").exists()


# --- optional extras ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocked", "call", "hint"),
    [
        ("pyarrow", lambda a, p: interop.to_arrow(a), "pip install 'recview[arrow]'"),
        ("pyarrow", lambda a, p: interop.to_parquet(a, p), "pip install 'recview[arrow]'"),
        ("pandas", lambda a, p: interop.to_pandas(a), "pip install 'recview[pandas]'"),
    ],
)
def test_missing_extra_gives_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, blocked: str, call: Any, hint: str
) -> None:
    monkeypatch.setitem(sys.modules, blocked, None)  # makes `import blocked` fail
    with pytest.raises(
        ImportError, match=rf"^{blocked} is not installed .*{re.escape(hint)}"
    ) as info:
        call(np.zeros(1, dtype=[("a", "u1")]), tmp_path / "x.parquet")
    assert info.value.name == blocked


def test_import_recview_does_not_import_the_extras() -> None:
    code = (
        "import sys, recview, recview.interop, recview.dask, recview._extras\n"
        "heavy = [m for m in ('pyarrow', 'pandas', 'dask', 'distributed') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == "[]"


def test_enums_on_fixed_arrays_apply_to_each_element(tmp_path: Path) -> None:
    schema = rv.Schema._from_parts(
        np.dtype([("codes", "<u2", (3,))]), enums={"codes": {1: "ONE", 2: "TWO"}}
    )
    arr = np.zeros(4, dtype=schema.dtype)
    arr["codes"] = [[1, 2, 3], [2, 2, 1], [0, 1, 2], [1, 1, 1]]
    names = {1: "ONE", 2: "TWO"}
    want = [[names.get(int(v)) for v in row] for row in arr["codes"]]
    col = interop.to_arrow(arr, schema=schema, enums="category").column("codes")
    assert col.type == pa.list_(pa.dictionary(pa.int32(), pa.string()), 3)
    assert col.to_pylist() == want
    df = interop.to_pandas(arr, schema=schema, enums="category")
    for i in range(3):
        got = [None if pd.isna(v) else v for v in df[f"codes[{i}]"]]
        assert got == [row[i] for row in want]
    out = tmp_path / "codes.parquet"
    interop.to_parquet(arr, out, schema=schema, enums="category")
    assert pq.read_table(out).column("codes").to_pylist() == want


def test_parquet_column_selection_and_pread_views(tmp_path: Path) -> None:
    schema = kitchen_sink(">")
    arr = fill(schema.dtype, 40)
    path = write(tmp_path, arr)
    out = tmp_path / "sel.parquet"
    with rv.open(path, schema, mode="pread") as view:
        interop.to_parquet(view, out, columns=["sym", "hdr.ts", "mat"], row_group_records=16)
        want = interop.to_arrow(view, columns=["sym", "hdr.ts", "mat"])
    back = pq.read_table(out)
    assert back.column_names == ["sym", "hdr.ts", "mat"]
    assert back.equals(want)
    assert row_groups(str(out)) == [16, 16, 8]
