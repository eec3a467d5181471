"""Layouts that used to be refused or wrong: unions and enums inside arrays,
from_dtype of a union layout, and zero-size members (``pad(0)``, ``int x[0]``).

The expected offsets and sizes are GCC's on x86-64 (checked with ``cc``; the
C-compiler property test checks the same shapes at random)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import construct as c
import numpy as np
import pytest

import recview as rv

ARRAY_OF_UNIONS = """
union word { int32_t i; float f; uint8_t b[5]; };
struct s { char c; union word w[2]; short tail; };
"""

UNION_IN_ARRAY_OF_STRUCTS = """
enum color { RED, GREEN = 5 };
struct slot { char k; union { int32_t i; double d; } v; enum color col; };
struct s { uint16_t n; struct slot slots[3]; };
"""

UNION_SOURCES = [
    ARRAY_OF_UNIONS,
    UNION_IN_ARRAY_OF_STRUCTS,
    "struct s { char c; union { int a; short b; } u; };",
    "union w { uint64_t q; uint16_t h[4]; };",
    "struct s { char c; union { char a; union { int i; struct { short x, y; } p; } in; } u[2]; };",
]


def _offsets(dt: np.dtype[Any]) -> dict[str, int]:
    assert dt.fields is not None
    return {n: int(dt.fields[n][1]) for n in dt.names or ()}


def test_array_of_unions_is_laid_out_as_gcc_does() -> None:
    s = rv.Schema.from_c(ARRAY_OF_UNIONS, "s")
    # sizeof(union word) == 8 (5 bytes rounded up to int's 4); w at 4, tail at 20
    assert s.itemsize == 24
    assert _offsets(s.dtype) == {"c": 0, "w": 4, "tail": 20}
    word = s.dtype["w"].subdtype
    assert word is not None and word[1] == (2,) and word[0].itemsize == 8
    assert _offsets(word[0]) == {"i": 0, "f": 0, "b": 0}
    assert s.unions == frozenset({"w"})


def test_union_and_enum_inside_an_array_of_structs() -> None:
    s = rv.Schema.from_c(UNION_IN_ARRAY_OF_STRUCTS, "s")
    # struct slot: k 0, v 8 (double), col 16, sizeof 24; slots at 8 (aligned 8)
    assert s.itemsize == 8 + 3 * 24
    assert _offsets(s.dtype) == {"n": 0, "slots": 8}
    slot = s.dtype["slots"].base
    assert _offsets(slot) == {"k": 0, "v": 8, "col": 16}
    assert s.unions == frozenset({"slots.v"})
    assert dict(s.enums["slots.col"]) == {0: "RED", 5: "GREEN"}


def test_enum_array_inside_an_array_of_structs_keeps_its_names() -> None:
    s = rv.Schema.from_c(
        "enum e { A = 1, B }; struct in { enum e v[2]; }; struct s { struct in x[2]; };", "s"
    )
    assert dict(s.enums["x.v"]) == {1: "A", 2: "B"}


@pytest.mark.parametrize("source", UNION_SOURCES)
def test_union_schemas_round_trip_through_from_dtype_json_and_construct(source: str) -> None:
    s = rv.Schema.from_c(source, "s" if "struct s" in source else None)
    again = rv.Schema.from_dtype(s.dtype)
    assert again.dtype == s.dtype
    assert again.unions == s.unions  # a dtype's members all at offset 0 are a union
    assert rv.Schema.from_json(s.to_json()) == s
    assert rv.as_schema(s.dtype) == again
    con = s.to_construct()
    assert con.sizeof() == s.itemsize
    raw = bytes(range(s.itemsize))
    rebuilt = con.build(con.parse(raw))
    assert len(rebuilt) == s.itemsize


def test_from_construct_reads_a_union_member_in_an_array(tmp_path: Path) -> None:
    s = rv.Schema.from_c(ARRAY_OF_UNIONS, "s")
    arr = np.zeros(2, s.dtype)
    arr["c"] = b"x"
    arr["w"]["i"] = [[1, 2], [3, 4]]
    arr["tail"] = [7, 8]
    parsed = s.to_construct().parse(arr[1].tobytes())
    assert [w.i for w in parsed.w] == [3, 4]
    assert parsed.tail == 8
    path = tmp_path / "u.bin"
    path.write_bytes(arr.tobytes())
    with rv.open(path, s) as view:
        assert view["w"]["i"].tolist() == [[1, 2], [3, 4]]
        assert view["tail"].tolist() == [7, 8]


def test_overlap_that_is_not_a_union_is_still_refused() -> None:
    # members starting at different offsets yet overlapping: no C layout does that
    dt = {"names": ["a", "b"], "formats": ["<i4", "<f4"], "offsets": [0, 2], "itemsize": 8}
    with pytest.raises(rv.SchemaError, match="'u.b' at offset 2 overlaps field 'u.a'"):
        rv.Schema.from_dtype({"names": ["u"], "formats": [dt], "offsets": [0], "itemsize": 8})
    # a union member overlapping a field that starts later
    dt = {"names": ["a", "b", "c"], "formats": ["<i4", "<i2", "<i2"], "offsets": [0, 0, 2]}
    with pytest.raises(rv.SchemaError, match="overlaps"):
        rv.Schema.from_dtype(dt)


# ---------------------------------------------------------------------------
# Zero-size members
# ---------------------------------------------------------------------------


def test_pad_zero_contributes_nothing() -> None:
    class R(rv.Record):
        a: rv.u8
        _gap: rv.pad(0)
        b: rv.u16

    assert R.schema == rv.Schema.from_dtype([("a", "<u1"), ("b", "<u2")])
    assert rv.Schema.from_json(R.schema.to_json()) == R.schema


def test_zero_size_bytes_and_arrays_contribute_nothing_like_constructs() -> None:
    class R(rv.Record):
        a: rv.u8
        none: rv.bytes_(0)
        empty: rv.array(rv.u32, 0)
        grid: rv.array(rv.u16, (2, 0))
        b: rv.u16

    assert R.schema.names == ("a", "b")
    assert R.schema.itemsize == 3
    con = c.Struct(
        "a" / c.Int8ul,
        c.Padding(0),
        "none" / c.Bytes(0),
        "empty" / c.Array(0, c.Int32ul),
        "b" / c.Int16ul,
    )
    assert rv.Schema.from_construct(con) == R.schema
    built = R.schema.to_construct().build({"a": 1, "b": 2})
    assert built == con.build({"a": 1, "none": b"", "empty": [], "b": 2}) == b"\x01\x02\x00"


def test_aligned_record_aligns_a_zero_size_array_as_c_does() -> None:
    # C: struct { char c; int x[0]; } is 4 bytes, its alignment is int's
    class R(rv.Record, align=True):
        c: rv.u8
        x: rv.array(rv.u32, 0)

    class W(rv.Record, align=True):
        c: rv.u8
        r: R

    assert R.schema.itemsize == 4
    assert W.schema.dtype.fields is not None and W.schema.dtype.fields["r"][1] == 4


def test_zero_length_c_arrays_are_laid_out_as_gcc_does() -> None:
    src = """
    #define USED 8
    struct s { char c; int x[0]; char pad[USED - 8]; short tail; };
    struct t { char c; double d[0]; };
    struct w { char c; struct t t; };
    """
    s = rv.Schema.from_c(src, "s")
    assert s.names == ("c", "tail")
    assert (s.itemsize, _offsets(s.dtype)["tail"]) == (8, 4)
    t = rv.Schema.from_c(src, "t")
    assert t.itemsize == 8 and t.names == ("c",)
    w = rv.Schema.from_c(src, "w")
    assert w.itemsize == 16 and _offsets(w.dtype)["t"] == 8
    assert rv.Schema.from_json(s.to_json()) == s
    assert rv.Schema.from_dtype(s.dtype) == s


def test_zero_size_c_record_is_refused_naming_it() -> None:
    with pytest.raises(rv.SchemaError, match=r"struct s.*size 0"):
        rv.Schema.from_c("struct s { int x[0]; };")


def test_from_dtype_still_refuses_an_explicit_zero_size_field() -> None:
    # the schema's dtype would not be the one given: refused, naming the field
    with pytest.raises(rv.SchemaError, match="'a'.*zero size"):
        rv.Schema.from_dtype([("a", "<u4", (0,)), ("b", "<u4")])


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: rv.pad(-1), r"pad\(n\): expected a non-negative integer size, got -1"),
        (lambda: rv.pad(1.5), "non-negative integer"),
        (lambda: rv.pad(True), "non-negative integer"),
        (lambda: rv.bytes_(-3), r"bytes_\(n\): expected a non-negative integer size"),
        (lambda: rv.array(rv.u8, -1), r"array\(t, n\): expected a non-negative integer size"),
        (lambda: rv.array(rv.u8, ()), "non-empty shape"),
    ],
)
def test_negative_or_non_integer_sizes_are_refused(make: Any, words: str) -> None:
    with pytest.raises(rv.SchemaError, match=words):
        make()


def test_json_with_a_zero_size_is_refused() -> None:
    doc = {
        "itemsize": 4,
        "fields": [{"name": "a", "offset": 0, "type": "<u4", "shape": [0]}],
    }
    with pytest.raises(rv.SchemaError, match="'a'.*shape"):
        rv.Schema.from_json(json.dumps(doc))


# ---------------------------------------------------------------------------
# construct: unions and sizes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", UNION_SOURCES)
def test_from_construct_of_to_construct_keeps_unions(source: str) -> None:
    s = rv.Schema.from_c(source, "s" if "struct s" in source else None)
    again = rv.Schema.from_construct(s.to_construct())
    # (to_construct writes enum fields as plain integers: their names stay behind)
    assert (again.dtype, again.unions) == (s.dtype, s.unions)


def test_from_construct_reads_a_padded_union() -> None:
    con = c.Struct(
        "tag" / c.Int8ul,
        "u" / c.Padded(8, c.Union(0, "q" / c.Int32ul, "b" / c.Bytes(6))),
        "n" / c.Int16ub,
    )
    s = rv.Schema.from_construct(con)
    assert s.unions == frozenset({"u"})
    assert (s.itemsize, _offsets(s.dtype), _offsets(s.dtype["u"])) == (
        11,
        {"tag": 0, "u": 1, "n": 9},
        {"q": 0, "b": 0},
    )


@pytest.mark.parametrize(
    ("con", "words"),
    [
        (c.Struct("a" / c.Array(-1, c.Int8ul)), "'a' \\(Array\\): negative size -1"),
        (c.Struct("a" / c.Bytes(-2)), "'a' \\(Bytes\\): negative size -2"),
        (
            c.Struct("u" / c.Union(0, "a" / c.Int32ul, "b" / c.Int16ul)),
            "'u' \\(Union\\) has no fixed size.*Padded",
        ),
        (
            c.Struct("u" / c.Padded(2, c.Union(0, "a" / c.Int32ul))),
            "'u.a' takes 4 bytes, more than the 2-byte union",
        ),
    ],
)
def test_from_construct_refuses_negative_sizes_and_unsized_unions(con: Any, words: str) -> None:
    with pytest.raises(rv.SchemaError, match=words):
        rv.Schema.from_construct(con)
