"""Property tests of schemas: random layouts checked against independent encoders.

Each test draws one field list (``tests.strategies.field_specs``) and builds
from it, separately, a numpy dtype (and through it the recview schema) and a
``construct.Struct`` written by hand. construct writes the bytes, numpy writes
them again, and recview must agree with both, field for field; the schema's
JSON, construct, pickle and ``Record`` forms must round-trip exactly.
"""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import construct as c
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import recview as rv
from recview.testing import _plain  # construct's results as plain dicts and lists
from tests.strategies import (
    FieldSpec,
    RecordSpec,
    ScalarSpec,
    check_roundtrip,
    field_specs,
    from_numpy,
    record_bytes,
    records,
    records_to_array,
    same_values,
    schemas,
)


def spec_leaves(
    spec: RecordSpec, base: int = 0, prefix: str = "", shape: tuple[int, ...] = ()
) -> list[tuple[Any, ...]]:
    """(path, absolute offset, scalar dtype, shape) of every leaf, from the spec
    alone; arrays of records give their members the array's shape, first."""
    out: list[tuple[Any, ...]] = []
    for f in spec.fields:
        path = f"{prefix}{f.name}"
        fshape = shape + tuple(f.shape)
        if isinstance(f.type, RecordSpec):
            out.extend(spec_leaves(f.type, base + f.offset, path + ".", fshape))
        else:
            out.append((path, base + f.offset, f.type.dtype, fshape))
    return out


def byte_layout(dt: np.dtype, base: int = 0) -> list[tuple[int, str]]:
    """(absolute offset, scalar type) of every scalar in a record, arrays expanded."""
    if dt.subdtype is not None:
        item, shape = dt.subdtype
        return sorted(
            x
            for k in range(int(np.prod(shape)))
            for x in byte_layout(item, base + k * item.itemsize)
        )
    if dt.names is not None:
        return sorted(
            x for n in dt.names for x in byte_layout(dt.fields[n][0], base + dt.fields[n][1])
        )
    return [(base, dt.str)]


def list_spec(spec: RecordSpec) -> list[tuple[Any, ...]]:
    """The spec in numpy's list-of-tuples spelling (offsets implied: packed, in order)."""
    out: list[tuple[Any, ...]] = []
    for f in spec.fields:
        fmt = list_spec(f.type) if isinstance(f.type, RecordSpec) else f.type.dtype.str
        out.append((f.name, fmt, f.shape) if f.shape else (f.name, fmt))
    return out


# ---------------------------------------------------------------------------
# bytes: construct and numpy agree, recview reads them back
# ---------------------------------------------------------------------------


@settings(max_examples=30)
@given(data=st.data())
def test_construct_and_numpy_encode_the_same_bytes(data: st.DataObject) -> None:
    spec = data.draw(field_specs(), label="spec")
    values = data.draw(st.lists(records(spec), max_size=5), label="values")
    by_construct = record_bytes(spec, values)
    by_numpy = records_to_array(spec, values).tobytes()
    assert by_construct == by_numpy
    schema = spec.schema()
    assert schema.dtype == spec.dtype
    assert schema.itemsize == spec.dtype.itemsize == spec.construct().sizeof()
    assert schema.to_construct().sizeof() == schema.itemsize
    # the independent struct parses its own bytes back to the values
    for i, value in enumerate(values):
        chunk = by_construct[i * schema.itemsize : (i + 1) * schema.itemsize]
        assert (
            same_values(value, from_numpy(spec.dtype, np.frombuffer(chunk, spec.dtype)[0])) is None
        )


@settings(max_examples=30)
@given(data=st.data())
def test_recview_reads_construct_bytes_field_for_field(data: st.DataObject, hyp_tmp: Path) -> None:
    spec = data.draw(field_specs(), label="spec")
    schema = spec.schema()
    values = data.draw(st.lists(records(schema), max_size=6), label="values")
    header = data.draw(st.binary(max_size=24), label="header")
    raw = record_bytes(spec, values)
    # from the bytes: view == to_construct().parse == numpy; build(parse) == bytes
    assert check_roundtrip(schema, raw, hyp_tmp, header=header) == raw
    # from the values: also view == values, and to_construct().build(values) == bytes
    assert check_roundtrip(schema, values, hyp_tmp) == raw


@given(field_specs())
def test_fields_lists_every_leaf_with_its_absolute_offset(spec: RecordSpec) -> None:
    schema = spec.schema()
    got = [(f.path, f.offset, f.dtype, f.shape) for f in schema.fields()]
    assert sorted(got, key=repr) == sorted(spec_leaves(spec), key=repr)
    for f in schema.fields():
        assert f.nbytes == f.dtype.itemsize * int(np.prod(f.shape))
    assert schema.names == tuple(f.name for f in spec.fields)


# ---------------------------------------------------------------------------
# JSON, construct, pickle: exact round-trips
# ---------------------------------------------------------------------------


@given(data=st.data())
def test_json_round_trip_is_exact(data: st.DataObject) -> None:
    spec = data.draw(field_specs(), label="spec")
    schema = spec.schema()
    text = schema.to_json()
    back = rv.Schema.from_json(text)
    assert back == schema
    assert hash(back) == hash(schema)
    assert back.dtype == schema.dtype
    assert back.to_json() == text  # stable: the same text again
    assert rv.Schema.from_json(schema.to_json(indent=2)) == schema
    assert rv.Schema.from_json(text.encode()) == schema
    doc = json.loads(text)
    assert doc["format"] == "recview.schema"
    assert doc["version"] == 1
    assert doc["itemsize"] == schema.itemsize
    values = data.draw(st.lists(records(schema), max_size=3), label="values")
    assert records_to_array(back, values).tobytes() == records_to_array(schema, values).tobytes()


@given(field_specs())
def test_construct_round_trip_keeps_the_layout(spec: RecordSpec) -> None:
    schema = spec.schema()
    back = rv.Schema.from_construct(schema.to_construct())
    if spec.in_offset_order:
        assert back == schema
    else:
        # construct is sequential: fields come back in offset order (nested
        # records too), each in the same place
        assert back.itemsize == schema.itemsize
        assert byte_layout(back.dtype) == byte_layout(schema.dtype)
        assert sorted(f.path for f in back.fields()) == sorted(f.path for f in schema.fields())


@given(field_specs(offset_order=True))
def test_from_construct_of_the_independent_struct_equals_from_dtype(spec: RecordSpec) -> None:
    assert rv.Schema.from_construct(spec.construct()) == spec.schema()


@given(schemas())
def test_schemas_pickle_copy_and_hash(schema: rv.Schema) -> None:
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(schema, protocol=protocol))
        assert back == schema
        assert hash(back) == hash(schema)
        assert back.dtype == schema.dtype
    assert copy.deepcopy(schema) == schema
    assert copy.copy(schema) == schema
    same = rv.Schema.from_json(schema.to_json())
    assert len({schema, same, rv.Schema.from_dtype(schema.dtype)}) == 1
    assert rv.Schema.from_dtype(schema) is schema
    with pytest.raises(AttributeError):
        schema._dtype = np.dtype("u1")  # type: ignore[misc]


@given(field_specs(offset_order=True, gaps=False))
def test_equal_layouts_spelled_differently_are_equal(spec: RecordSpec) -> None:
    """A packed, in-order layout as a list of tuples, a dict spec and a dtype."""
    by_list = rv.Schema.from_dtype(list_spec(spec))
    by_dict = rv.Schema.from_dtype(spec.dtype)
    assert by_list == by_dict
    assert hash(by_list) == hash(by_dict)
    assert by_list.to_json() == by_dict.to_json()


def nested_spelling(spec: RecordSpec, split: st.DataObject) -> np.dtype[Any]:
    """The spec's dtype with each multi-dimensional array spelled as an array of
    arrays (``((t, (3,)), (2,))`` for ``(t, (2, 3))``): numpy keeps the two apart."""
    formats: list[Any] = []
    for f in spec.fields:
        base = nested_spelling(f.type, split) if isinstance(f.type, RecordSpec) else f.type.dtype
        if len(f.shape) > 1:
            k = split.draw(st.integers(1, len(f.shape) - 1))
            formats.append(np.dtype((np.dtype((base, f.shape[k:])), f.shape[:k])))
        else:
            formats.append(np.dtype((base, f.shape)) if f.shape else base)
    return np.dtype(
        {
            "names": [f.name for f in spec.fields],
            "formats": formats,
            "offsets": [f.offset for f in spec.fields],
            "itemsize": spec.itemsize,
        }
    )


@given(data=st.data())
def test_arrays_of_arrays_are_one_layout_with_multidimensional_arrays(data: st.DataObject) -> None:
    spec = data.draw(field_specs(), label="spec")
    schema = spec.schema()
    nested = rv.Schema.from_dtype(nested_spelling(spec, data))
    assert nested == schema
    assert hash(nested) == hash(schema)
    assert rv.Schema.from_json(nested.to_json()) == nested
    if spec.in_offset_order:  # construct's Array(2, Array(3, t)) is (t, (2, 3)) too
        assert rv.Schema.from_construct(nested.to_construct()) == nested


def test_construct_arrays_of_arrays_are_multidimensional_arrays() -> None:
    """from_construct(Array(2, Array(3, t))) once differed from (t, (2, 3))."""
    struct = c.Struct(
        "a" / c.Array(2, c.Array(3, c.Int8ub)), "p" / c.Array(2, c.Struct("x" / c.Int16ul))
    )
    want = rv.Schema.from_dtype([("a", "u1", (2, 3)), ("p", [("x", "<u2")], (2,))])
    assert rv.Schema.from_construct(struct) == want
    assert (
        rv.Schema.from_dtype([("a", np.dtype(("u1", (3,))), (2,)), ("p", [("x", "<u2")], (2,))])
        == want
    )


# ---------------------------------------------------------------------------
# The declarative Record class
# ---------------------------------------------------------------------------


@given(field_specs(offset_order=True))
def test_record_class_equals_from_dtype(spec: RecordSpec) -> None:
    cls = spec.record_class()
    assert cls.schema == spec.schema()
    assert cls.schema.itemsize == spec.construct().sizeof()


def aligned_record(spec: RecordSpec, name: str = "A") -> type[rv.Record]:
    """The spec's fields, in order, as a Record with C alignment (offsets ignored)."""
    annotations: dict[str, Any] = {}
    for i, f in enumerate(spec.fields):
        t: Any
        if isinstance(f.type, RecordSpec):
            t = aligned_record(f.type, f"{name}_{i}")
        elif f.type.kind == "S":
            t = rv.bytes_(f.type.nbytes)
        else:
            t = f.type.dtype
        annotations[f.name] = rv.array(t, f.shape) if f.shape else t
    return type(name, (rv.Record,), {"__annotations__": annotations}, align=True)


@given(field_specs(offset_order=True, gaps=False))
def test_aligned_record_lays_out_like_numpy_align(spec: RecordSpec) -> None:
    want = np.dtype(list_spec(spec), align=True)
    got = aligned_record(spec).schema
    assert got.itemsize == want.itemsize
    assert [(f.path, f.offset) for f in got.fields()] == [
        (f.path, f.offset) for f in rv.Schema.from_dtype(want).fields()
    ]


def test_record_class_of_a_hand_written_spec() -> None:
    """The strategy's building blocks, pinned once by hand (a failing strategy
    would otherwise only show up as a confusing property failure)."""
    inner = RecordSpec((FieldSpec("x", ScalarSpec("i", 2, ">"), 1),), itemsize=4)
    spec = RecordSpec(
        (
            FieldSpec("ts", ScalarSpec("u", 8, "<"), 0),
            FieldSpec("pts", inner, 8, (2,)),
            FieldSpec("tag", ScalarSpec("S", 3, "|"), 17),
        ),
        itemsize=24,
    )
    assert spec.dtype.itemsize == 24
    assert spec.dtype.fields is not None
    assert spec.dtype.fields["pts"][1] == 8
    assert spec.record_class().schema == spec.schema()
    value = {"ts": 5, "pts": [{"x": -2}, {"x": 3}], "tag": b"ab"}
    raw = record_bytes(spec, [value])
    assert raw == (
        (5).to_bytes(8, "little")
        + b"\0\xff\xfe\0" + b"\0\0\x03\0"
        + b"\0ab\0" + b"\0\0\0\0"
    )  # fmt: skip
    assert raw == records_to_array(spec, [value]).tobytes()
    with pytest.raises(ValueError, match="overlaps"):
        RecordSpec(
            (FieldSpec("a", ScalarSpec("u", 4), 0), FieldSpec("b", ScalarSpec("u", 1), 3)), 4
        )


# ---------------------------------------------------------------------------
# recview.testing itself: its checks can fail
# ---------------------------------------------------------------------------


def test_check_roundtrip_reports_bytes_that_do_not_round_trip(tmp_path: Path) -> None:
    schema = rv.Schema.from_dtype(
        {"names": ["a", "ok"], "formats": ["<u2", "|b1"], "offsets": [0, 3], "itemsize": 4}
    )
    good = b"\x01\x00\x00\x01" * 2
    assert check_roundtrip(schema, good, tmp_path) == good
    with pytest.raises(AssertionError, match=r"record 2: to_construct\(\)\.build"):
        check_roundtrip(schema, good + b"\x01\x00\x07\x01", tmp_path)  # padding not zero
    with pytest.raises(AssertionError, match="record 0"):
        check_roundtrip(schema, b"\x01\x00\x00\x02", tmp_path)  # a bool stored as 2
    with pytest.raises(ValueError, match="not whole records"):
        check_roundtrip(schema, b"\x01\x00\x00", tmp_path)
    assert not list(tmp_path.iterdir())  # every file made was deleted


def test_records_refuses_kinds_it_cannot_draw() -> None:
    from hypothesis.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="'z'"):
        records(rv.Schema.from_dtype([("a", "<u4"), ("z", "<c8")]))


# ---------------------------------------------------------------------------
# Unions: members all at offset 0, alone or in arrays
# ---------------------------------------------------------------------------


@st.composite
def union_dtypes(draw: st.DrawFn) -> tuple[np.dtype[Any], tuple[int, ...]]:
    """A record ``{pre: u1, u: union of 2-4 random records [shape]}``, and the shape."""
    members = draw(
        st.lists(field_specs(max_fields=3, max_depth=1), min_size=2, max_size=4), label="members"
    )
    size = max(m.itemsize for m in members) + draw(st.integers(0, 3), label="tail")
    union = np.dtype(
        {
            "names": [f"m{i}" for i in range(len(members))],
            "formats": [m.dtype for m in members],
            "offsets": [0] * len(members),
            "itemsize": size,
        }
    )
    shape = draw(st.sampled_from([(), (2,), (2, 3)]), label="shape")
    fmt = np.dtype((union, shape)) if shape else union
    n = int(np.prod(shape, dtype=np.int64))
    outer = np.dtype(
        {"names": ["pre", "u"], "formats": ["u1", fmt], "offsets": [0, 1], "itemsize": 1 + n * size}
    )
    return outer, shape


@settings(max_examples=40)
@given(case=union_dtypes(), seed=st.binary(min_size=1, max_size=1))
def test_union_layouts_round_trip_and_parse_as_numpy_reads_them(
    case: tuple[np.dtype[Any], tuple[int, ...]], seed: bytes
) -> None:
    dt, shape = case
    schema = rv.Schema.from_dtype(dt)
    assert schema.dtype == dt
    assert schema.unions == frozenset({"u"})
    assert rv.Schema.from_json(schema.to_json()) == schema
    assert rv.Schema.from_dtype(schema.dtype) == schema
    assert pickle.loads(pickle.dumps(schema)) == schema
    con = schema.to_construct()
    assert con.sizeof() == schema.itemsize
    raw = bytes((seed[0] + 37 * i) % 256 for i in range(schema.itemsize))
    record = np.frombuffer(raw, dt)[0]
    parsed = con.parse(raw)
    elements = [()] if not shape else list(np.ndindex(shape))
    union = dt["u"].base
    for index in elements:
        got = parsed.u
        for k in index:
            got = got[k]
        for name in union.names:
            fdt = union.fields[name][0]
            want = from_numpy(fdt, np.asarray(record["u"])[index][name])
            diff = same_values(want, _plain(got[name]))
            assert diff is None, f"u{list(index)}.{name}: {diff}"
