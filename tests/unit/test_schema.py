"""Unit tests of recview.schema: every constructor, converter and refusal."""

from __future__ import annotations

import json
import pickle

import construct as c
import numpy as np
import pytest

import recview as rv


def test_from_dtype_keeps_explicit_offsets_padding_and_itemsize():
    spec = {"names": ["a", "b"], "formats": ["<u4", ">f8"], "offsets": [4, 16], "itemsize": 32}
    s = rv.Schema.from_dtype(spec)
    assert s.itemsize == 32
    assert s.dtype.fields["a"][1] == 4
    assert s.dtype.fields["b"][1] == 16
    assert s.dtype.fields["b"][0] == np.dtype(">f8")
    assert s.names == ("a", "b")


def test_from_dtype_accepts_dtype_list_and_plain_type():
    d = np.dtype([("x", "<i2"), ("y", "<f4")])
    assert rv.Schema.from_dtype(d) == rv.Schema.from_dtype([("x", "<i2"), ("y", "<f4")])
    plain = rv.Schema.from_dtype("<u8")
    assert plain.names == ("f0",)
    assert plain.itemsize == 8


def test_equal_layouts_spelled_differently_are_equal_and_hash_equal():
    a = rv.Schema.from_dtype([("a", "<u4"), ("b", "<u4")])
    b = rv.Schema.from_dtype(
        {"names": ["a", "b"], "formats": ["u4", "u4"], "offsets": [0, 4], "itemsize": 8}
    )
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_schema_is_immutable_and_picklable():
    s = rv.Schema.from_dtype([("a", "<u4"), ("n", [("b", ">f8")])])
    with pytest.raises(AttributeError):
        s.foo = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        rv.Schema()
    t = pickle.loads(pickle.dumps(s))
    assert t == s
    assert hash(t) == hash(s)


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ([("a", "<u4"), ("b", "O")], "b", "object"),
        (
            {"names": ["a", "b"], "formats": ["<u8", "<u4"], "offsets": [0, 4], "itemsize": 16},
            "b",
            "overlaps",
        ),
        ([("a", "S0")], "a", "zero size"),
        ([("a", "<u4", (0,))], "a", "zero size"),
        ([("n", [("x", "<u4"), ("y", "O")])], "n.y", "object"),
    ],
)
def test_invalid_dtypes_raise_schema_error_naming_the_field(spec, field, words):
    with pytest.raises(rv.SchemaError) as info:
        rv.Schema.from_dtype(spec)
    assert info.value.field == field
    assert field in str(info.value)
    assert words in str(info.value)


def test_negative_size_spec_names_the_field():
    with pytest.raises(rv.SchemaError, match="'b'"):
        rv.Schema.from_dtype([("a", "<u4"), ("b", "S-1")])


def test_empty_structured_dtype_is_refused():
    with pytest.raises(rv.SchemaError, match="no fields"):
        rv.Schema.from_dtype(np.dtype([]))


def test_fields_lists_leaves_with_absolute_offsets():
    s = rv.Schema.from_dtype(
        [("id", "<u4"), ("hdr", [("ts", ">u8"), ("v", "<f4", (2, 3))]), ("tag", "S4")]
    )
    got = [(f.path, f.offset, f.dtype.str, f.shape, f.nbytes) for f in s.fields()]
    assert got == [
        ("id", 0, "<u4", (), 4),
        ("hdr.ts", 4, ">u8", (), 8),
        ("hdr.v", 12, "<f4", (2, 3), 24),
        ("tag", 36, "|S4", (), 4),
    ]


# -- Record -------------------------------------------------------------------


def test_record_packs_fields_in_order_with_padding():
    class Trade(rv.Record):
        ts: rv.u64
        price: rv.f64
        qty: rv.u32
        side: rv.u8
        _pad: rv.pad(3)
        venue: rv.bytes_(8)

    s = Trade.schema
    assert s.itemsize == 32
    assert s.names == ("ts", "price", "qty", "side", "venue")
    assert s.dtype.fields["venue"][1] == 24


def test_record_types_and_byte_orders():
    class R(rv.Record):
        a: rv.i8
        b: rv.u16be
        c: rv.f4be
        d: rv.f2
        e: rv.f64le
        f: rv.i32be

    dt = R.schema.dtype
    assert [dt.fields[n][0].str for n in dt.names] == ["|i1", ">u2", ">f4", "<f2", "<f8", ">i4"]
    assert R.schema.itemsize == 1 + 2 + 4 + 2 + 8 + 4


def test_record_nested_arrays_and_c_alignment_match_ctypes():
    import ctypes

    class Vec(rv.Record, align=True):
        x: rv.f32
        y: rv.f64

    class Outer(rv.Record, align=True):
        a: rv.u8
        v: Vec
        n: rv.array(rv.u16, 3)
        b: rv.u8

    class CVec(ctypes.Structure):
        _fields_ = [("x", ctypes.c_float), ("y", ctypes.c_double)]

    class COuter(ctypes.Structure):
        _fields_ = [
            ("a", ctypes.c_uint8),
            ("v", CVec),
            ("n", ctypes.c_uint16 * 3),
            ("b", ctypes.c_uint8),
        ]

    dt = Outer.schema.dtype
    assert Outer.schema.itemsize == ctypes.sizeof(COuter)
    for name in ("a", "v", "n", "b"):
        assert dt.fields[name][1] == getattr(COuter, name).offset


def test_record_nested_packed_inside_aligned_has_alignment_one():
    class P(rv.Record):
        x: rv.u8
        y: rv.u32

    class A(rv.Record, align=True):
        a: rv.u8
        p: P

    assert A.schema.dtype.fields["p"][1] == 1
    assert A.schema.itemsize == 6


def test_record_inheritance_appends_fields():
    class Base(rv.Record):
        ts: rv.u64

    class Child(Base):
        v: rv.f32

    assert Child.schema.names == ("ts", "v")
    assert Base.schema.names == ("ts",)


def test_record_rejects_non_recview_types_naming_the_field():
    with pytest.raises(rv.SchemaError, match="'price'"):

        class Bad(rv.Record):
            price: float


def test_record_with_no_fields_is_an_error():
    with pytest.raises(rv.SchemaError, match="no fields"):

        class Empty(rv.Record):
            _p: rv.pad(4)


@pytest.mark.parametrize("bad", [-1, 2.5, True, 1 << 31])
def test_atom_sizes_must_be_non_negative_integers(bad):
    # 0 is a size (a zero-size member contributes nothing, as in construct)
    for atom in (rv.bytes_, rv.pad, lambda n: rv.array(rv.u8, n)):
        with pytest.raises(rv.SchemaError, match="non-negative integer size|too large"):
            atom(bad)


# -- construct ------------------------------------------------------------------


def test_from_construct_all_field_kinds():
    inner = c.Struct("x" / c.Int16sb, "y" / c.Float32l)
    st = c.Struct(
        "a" / c.Int8ub,
        "b" / c.Int32sl,
        "c" / c.Int64ub,
        "d" / c.Float64b,
        "e" / c.Float16l,
        "f" / c.Bytes(5),
        "g" / c.PaddedString(6, "utf8"),
        c.Padding(3),
        "h" / c.Array(3, c.Int16ul),
        "i" / inner,
        "j" / c.Array(2, inner),
        "k" / c.Array(2, c.Array(3, c.Int8sb)),
        "l" / c.Flag,
        "m" / c.Enum(c.Int8ub, BUY=0, SELL=1),
        "n" / c.Const(7, c.Int16ub),
        "o" / c.Int24ub.__class__(4, signed=False, swapped=True),
    )
    s = rv.Schema.from_construct(st)
    assert s.itemsize == st.sizeof()
    assert s.enums == {"m": {0: "BUY", 1: "SELL"}}
    values = dict(
        a=1,
        b=-2,
        c=3,
        d=4.5,
        e=0.5,
        f=b"abcde",
        g="hi",
        h=[1, 2, 3],
        i=dict(x=-5, y=1.5),
        j=[dict(x=1, y=2.0), dict(x=3, y=4.0)],
        k=[[1, 2, 3], [-1, -2, -3]],
        l=True,
        m="SELL",
        n=7,
        o=123456,
    )
    raw = st.build(values)
    rec = np.frombuffer(raw, dtype=s.dtype)[0]
    assert rec["a"] == 1 and rec["b"] == -2 and rec["c"] == 3 and rec["d"] == 4.5
    assert rec["e"] == 0.5 and rec["f"] == b"abcde" and rec["g"] == b"hi"
    assert rec["h"].tolist() == [1, 2, 3]
    assert (rec["i"]["x"], rec["i"]["y"]) == (-5, 1.5)
    assert rec["j"]["x"].tolist() == [1, 3]
    assert rec["k"].tolist() == [[1, 2, 3], [-1, -2, -3]]
    assert bool(rec["l"]) is True and rec["m"] == 1 and rec["n"] == 7 and rec["o"] == 123456


@pytest.mark.parametrize(
    ("sub", "path"),
    [
        (c.Struct("a" / c.Int8ub, "hdr" / c.Struct("len" / c.VarInt)), "hdr.len"),
        (c.Struct("n" / c.Int8ub, "data" / c.Bytes(c.this.n)), "data"),
        (c.Struct("rest" / c.GreedyBytes), "rest"),
        (c.Struct("s" / c.CString("utf8")), "s"),
    ],
)
def test_from_construct_refuses_unsized_fields_naming_them(sub, path):
    with pytest.raises(rv.SchemaError) as info:
        rv.Schema.from_construct(sub)
    assert f"field {path!r}" in str(info.value)
    assert "no fixed size" in str(info.value)
    assert info.value.field == path


def test_from_construct_refuses_odd_integer_sizes_and_non_structs():
    with pytest.raises(rv.SchemaError, match="3-byte integer"):
        rv.Schema.from_construct(c.Struct("x" / c.Int24ub))
    with pytest.raises(rv.SchemaError, match="expects a construct.Struct"):
        rv.Schema.from_construct(c.Int32ul)


def test_to_construct_builds_and_parses_the_same_bytes():
    s = rv.Schema.from_dtype(
        {
            "names": ["a", "n", "t", "arr"],
            "formats": ["<u4", [("x", ">i2"), ("y", "<f8")], "S5", (">u2", (2, 2))],
            "offsets": [0, 8, 20, 26],
            "itemsize": 40,
        }
    )
    rng = np.random.default_rng(1)
    recs = np.zeros(4, s.dtype)
    recs["a"] = rng.integers(0, 1000, 4)
    recs["n"]["x"] = rng.integers(-100, 100, 4)
    recs["n"]["y"] = rng.normal(size=4)
    recs["t"] = [b"ab", b"abcde", b"", b"x\0y"]
    recs["arr"] = rng.integers(0, 1000, (4, 2, 2))
    con = s.to_construct()
    assert con.sizeof() == s.itemsize
    for rec in recs:
        raw = rec.tobytes()
        parsed = con.parse(raw)
        assert con.build(parsed) == raw
        assert parsed.a == rec["a"] and parsed.t == rec["t"]
        assert parsed.arr == rec["arr"].tolist()


def test_construct_roundtrip_is_exact():
    s = rv.Schema.from_dtype([("a", "<u4"), ("b", [("c", ">f4")]), ("d", "<i2", (3,))])
    assert rv.Schema.from_construct(s.to_construct()) == s


# -- JSON ----------------------------------------------------------------------


def test_json_roundtrip_exact_with_unions_and_enums():
    dt = np.dtype(
        {
            "names": ["kind", "u", "name"],
            "formats": [
                "<u1",
                {"names": ["i", "f"], "formats": ["<i4", "<f4"], "offsets": [0, 0], "itemsize": 4},
                "S6",
            ],
            "offsets": [0, 4, 8],
            "itemsize": 16,
        }
    )
    s = rv.Schema._from_parts(dt, unions={"u"}, enums={"kind": {0: "INT", 1: "FLOAT"}})
    text = s.to_json()
    back = rv.Schema.from_json(text)
    assert back == s
    assert back.unions == frozenset({"u"})
    assert back.enums["kind"][1] == "FLOAT"
    assert back.to_json() == text
    doc = json.loads(text)
    assert doc["format"] == "recview.schema" and doc["version"] == 1


def test_overlap_outside_a_union_is_refused():
    # members all at offset 0 are a union (as C lays one out); any other overlap is not
    dt = {"names": ["a", "b"], "formats": ["<i4", "<f4"], "offsets": [0, 2], "itemsize": 8}
    with pytest.raises(rv.SchemaError, match="overlaps"):
        rv.Schema.from_dtype({"names": ["u"], "formats": [dt], "offsets": [0], "itemsize": 8})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must be an object"),
        ('{"itemsize": 4, "fields": []}', "non-empty list"),
        ('{"itemsize": 0, "fields": [{"name": "a", "offset": 0, "type": "<u4"}]}', "itemsize"),
        ('{"itemsize": 4, "fields": [{"name": "a", "offset": 0, "type": "O"}]}', "unknown type"),
        (
            '{"itemsize": 4, "fields": [{"name": "a", "offset": 0, "type": "__import__(\'os\')"}]}',
            "unknown type",
        ),
        ('{"itemsize": 4, "fields": [{"name": "a", "offset": 2, "type": "<u4"}]}', "outside"),
        (
            '{"itemsize": 8, "fields": [{"name": "a", "offset": 0, "type": "<u4"}, '
            '{"name": "a", "offset": 4, "type": "<u4"}]}',
            "declared twice",
        ),
        (
            '{"itemsize": 8, "fields": [{"name": "a", "offset": 0, "type": "<u4", "shape": [-1]}]}',
            "shape",
        ),
        ('{"format": "other", "itemsize": 4, "fields": []}', "'format'"),
        ('{"version": 3, "itemsize": 4, "fields": []}', "version"),
    ],
)
def test_from_json_refuses_bad_documents(text, words):
    with pytest.raises(rv.SchemaError, match=words):
        rv.Schema.from_json(text)


def test_as_schema_coerces_every_source():
    class R(rv.Record):
        a: rv.u32

    assert rv.as_schema(R) == R.schema
    assert rv.as_schema(R.schema) is R.schema
    assert rv.as_schema([("a", "<u4")]) == R.schema
    assert rv.as_schema(c.Struct("a" / c.Int32ul)) == R.schema


def test_top_level_c_union_is_a_schema_whose_members_overlap():
    s = rv.Schema.from_c("union w { uint64_t q; uint16_t h[4]; };")
    assert s.unions == frozenset({""})
    assert s.itemsize == 8
    assert rv.Schema.from_json(s.to_json()) == s
    raw = np.array([(5, [5, 0, 0, 0])], s.dtype).tobytes()
    parsed = s.to_construct().parse(raw)
    assert parsed.q == 5 and parsed.h == [5, 0, 0, 0]
    assert "unions=['']" in repr(s)


@pytest.mark.parametrize("spec", ["g", "G"])
def test_long_double_is_refused_as_having_no_portable_layout(spec):
    with pytest.raises(rv.SchemaError, match="'x'.*long double"):
        rv.Schema.from_dtype([("x", spec)])


def test_half_float_atoms_take_byte_order_suffixes():
    assert rv.f2be == np.dtype(">f2")
    assert rv.f2le == rv.f2 == np.dtype("<f2")


def test_a_subclass_lays_out_all_fields_with_its_own_align_flag():
    # align= is a class keyword, not inherited: a subclass of an aligned
    # Record is packed unless it asks again (the flag is not kept on the class)
    class A(rv.Record, align=True):
        a: rv.u8
        b: rv.f64

    class B(A):
        c: rv.u8

    class C(A, align=True):
        c: rv.u8

    assert [A.schema.dtype.fields[n][1] for n in "ab"] == [0, 8] and A.schema.itemsize == 16
    assert [B.schema.dtype.fields[n][1] for n in "abc"] == [0, 1, 9] and B.schema.itemsize == 10
    assert [C.schema.dtype.fields[n][1] for n in "abc"] == [0, 8, 16] and C.schema.itemsize == 24
    assert (A._alignment_, B._alignment_, C._alignment_) == (8, 1, 8)
    assert not hasattr(A, "_align_")


def test_atom_sizes_and_bit_widths_follow_the_one_integer_rule():
    # one rule for counts everywhere (recview._vocab.check_int): an int or any
    # integer with __index__ (numpy's too), never a bool or a float
    class Two:
        def __index__(self) -> int:
            return 2

    assert rv.bits(rv.u8, a=np.int64(3), _=np.uint8(5)) == rv.bits(rv.u8, a=3, _=5)
    assert rv.bytes_(Two()) == rv.bytes_(2) and rv.pad(Two()) == rv.pad(2)
    assert rv.array(rv.u8, (Two(), np.int32(3))).dtype == rv.array(rv.u8, (2, 3)).dtype
    for bad in (True, np.bool_(True), 2.0, "2", 0, -1):
        with pytest.raises(rv.SchemaError, match="width must be a positive integer"):
            rv.bits(rv.u8, a=bad)
    for bad in (True, np.bool_(True), 2.0, "2", -1):
        with pytest.raises(rv.SchemaError, match="non-negative integer size"):
            rv.bytes_(bad)
