"""Schema.fields() is the one field model: every leaf, arrays of records
expanded, and Schema.get reads any leaf from any array of the schema's dtype.

The expected leaves are written out by hand below (path, offset, type, shape,
byte offset of every element), and the values of ``schema.get`` are checked
against the record bytes at those offsets, not against numpy's field indexing.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

import recview as rv

UNION = {"names": ["i", "f"], "formats": ["<i4", "<f4"], "offsets": [0, 0], "itemsize": 4}
DTYPE = np.dtype(
    [
        ("id", "<u4"),
        ("hdr", [("ts", ">u8"), ("v", "<f4", (2, 3))]),
        ("legs", [("px", "<f8"), ("qty", "<u4")], (2,)),
        ("grid", [("a", "<u2"), ("sub", [("b", "i1")], (3,))], (2, 2)),
        ("name", "S5"),
        ("u", UNION),
    ]
)

# (path, offset, type, shape, offsets of the elements in C order)
EXPECTED: list[tuple[str, int, str, tuple[int, ...], list[int]]] = [
    ("id", 0, "<u4", (), [0]),
    ("hdr.ts", 4, ">u8", (), [4]),
    ("hdr.v", 12, "<f4", (2, 3), [12, 16, 20, 24, 28, 32]),
    ("legs.px", 36, "<f8", (2,), [36, 48]),
    ("legs.qty", 44, "<u4", (2,), [44, 56]),
    # grid: 2x2 records of 5 bytes at 60; a at +0, sub at +2 (3 records of 1 byte)
    ("grid.a", 60, "<u2", (2, 2), [60, 65, 70, 75]),
    ("grid.sub.b", 62, "|i1", (2, 2, 3), [62, 63, 64, 67, 68, 69, 72, 73, 74, 77, 78, 79]),
    ("name", 80, "|S5", (), [80]),
    # union members are leaves too: they share the union's offset
    ("u.i", 85, "<i4", (), [85]),
    ("u.f", 85, "<f4", (), [85]),
]
ITEMSIZE = 89


def element_names(path: str, shape: tuple[int, ...]) -> list[str]:
    if not shape:
        return [path]
    return [path + "".join(f"[{i}]" for i in idx) for idx in np.ndindex(*shape)]


@pytest.fixture
def schema() -> rv.Schema:
    return rv.Schema.from_dtype(DTYPE)


@pytest.fixture
def raw() -> bytes:
    return np.random.default_rng(7).integers(0, 256, 5 * ITEMSIZE, dtype=np.uint8).tobytes()


def test_fields_are_every_leaf_in_offset_order(schema: rv.Schema) -> None:
    assert schema.itemsize == ITEMSIZE
    got = [(f.path, f.offset, f.dtype.str, f.shape, f.element_offsets()) for f in schema.fields()]
    assert got == EXPECTED
    offsets = [f.offset for f in schema.fields()]
    assert offsets == sorted(offsets)
    for f in schema.fields():
        assert f.bit_width is None
        assert not f.is_bitfield
        assert f.value_dtype == f.dtype
        assert f.nbytes == f.dtype.itemsize * len(f.element_offsets())


def test_element_names_follow_c_order(schema: rv.Schema) -> None:
    for f, (path, _off, _t, shape, _offs) in zip(schema.fields(), EXPECTED, strict=True):
        assert f.element_names() == element_names(path, shape)
    legs = schema.field("legs.px")
    assert legs.element_names() == ["legs.px[0]", "legs.px[1]"]
    assert schema.field("grid.a").element_names() == [
        "grid.a[0][0]",
        "grid.a[0][1]",
        "grid.a[1][0]",
        "grid.a[1][1]",
    ]


def assert_values_are_the_bytes(got: Any, raw: bytes, offsets: list[int], itemsize: int) -> None:
    n = len(raw) // ITEMSIZE
    flat = np.ascontiguousarray(got).reshape(n, -1)
    assert flat.shape[1] == len(offsets)
    for i in range(n):
        for k, off in enumerate(offsets):
            start = i * ITEMSIZE + off
            assert flat[i : i + 1, k].tobytes() == raw[start : start + itemsize], (i, k)


def test_get_reads_each_leaf_as_a_view(schema: rv.Schema, raw: bytes) -> None:
    arr = np.frombuffer(raw, dtype=schema.dtype)
    assert not arr.flags.writeable
    for path, _off, t, shape, offsets in EXPECTED:
        got = schema.get(arr, path)
        assert got.shape == (len(arr), *shape), path
        assert got.dtype == np.dtype(t)
        assert np.shares_memory(got, arr), path
        assert not got.flags.writeable
        assert_values_are_the_bytes(got, raw, offsets, np.dtype(t).itemsize)
        # FieldInfo.get is the same read
        np.testing.assert_array_equal(schema.field(path).get(arr), got)


def test_get_works_on_slices_batches_and_single_records(schema: rv.Schema, raw: bytes) -> None:
    arr = np.frombuffer(raw, dtype=schema.dtype)
    part = arr[1::2]
    px = schema.get(part, "legs.px")
    assert px.shape == (2, 2)
    assert px.tobytes() == b"".join(
        raw[r * ITEMSIZE + o : r * ITEMSIZE + o + 8] for r in (1, 3) for o in (36, 48)
    )
    rec = arr[2]
    assert schema.get(rec, "grid.sub.b").shape == (2, 2, 3)
    assert schema.get(rec, "id") == arr["id"][2]


def test_get_of_a_non_leaf_field_is_its_view(schema: rv.Schema, raw: bytes) -> None:
    arr = np.frombuffer(raw, dtype=schema.dtype)
    legs = schema.get(arr, "legs")
    assert legs.shape == (5, 2)
    assert legs.dtype.names == ("px", "qty")
    assert np.shares_memory(legs, arr)


def test_unknown_path_names_it_and_lists_close_matches(schema: rv.Schema) -> None:
    arr = np.zeros(1, schema.dtype)
    with pytest.raises(
        rv.SchemaError, match=r"no field 'legs\.pz'.*did you mean 'legs\.px'"
    ) as info:
        schema.get(arr, "legs.pz")
    assert info.value.field == "legs.pz"
    with pytest.raises(rv.SchemaError, match="no field 'nope'"):
        schema.field("nope")
    with pytest.raises(rv.SchemaError, match="no field ''"):
        schema.get(arr, "")


def test_get_on_an_array_without_the_field_is_a_schema_error(schema: rv.Schema) -> None:
    other = np.zeros(2, [("id", "<u4")])
    with pytest.raises(rv.SchemaError, match="'legs.px'"):
        schema.get(other, "legs.px")


def test_c_arrays_of_structs_expand_with_their_strides() -> None:
    s = rv.Schema.from_c(
        """
        struct leg { double px; uint32_t qty; };
        struct order { uint8_t side; struct leg legs[2][3]; union { int i; float f; } u; };
        """,
        "order",
    )
    got = {f.path: (f.offset, f.shape, f.element_offsets()[:4]) for f in s.fields()}
    # legs at 8 (double-aligned); each leg is 16 bytes
    assert got == {
        "side": (0, (), [0]),
        "legs.px": (8, (2, 3), [8, 24, 40, 56]),
        "legs.qty": (16, (2, 3), [16, 32, 48, 64]),
        "u.i": (104, (), [104]),
        "u.f": (104, (), [104]),
    }
    raw = np.arange(3 * s.itemsize, dtype=np.uint8).tobytes()
    arr = np.frombuffer(raw, s.dtype)
    qty = s.get(arr, "legs.qty")
    assert qty.shape == (3, 2, 3)
    want = [
        int.from_bytes(raw[r * s.itemsize + o : r * s.itemsize + o + 4], "little")
        for r in range(3)
        for o in s.field("legs.qty").element_offsets()
    ]
    assert qty.reshape(-1).tolist() == want


def test_fields_of_a_plain_schema_keep_their_old_form() -> None:
    s = rv.Schema.from_dtype([("a", "<u2"), ("b", [("c", ">f8")]), ("v", "<i4", (3,))])
    assert [(f.path, f.offset, f.dtype.str, f.shape) for f in s.fields()] == [
        ("a", 0, "<u2", ()),
        ("b.c", 2, ">f8", ()),
        ("v", 10, "<i4", (3,)),
    ]
    f = s.fields()[2]
    assert f == rv.FieldInfo("v", 10, np.dtype("<i4"), (3,), strides=(4,))
    assert f.element_offsets() == [10, 14, 18]
    # fields() is a fresh list every time; the schema still pickles
    s.fields().clear()
    assert len(s.fields()) == 3
    assert pickle.loads(pickle.dumps(s)).fields() == s.fields()
