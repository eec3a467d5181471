"""C layout (:mod:`recview._c.layout`): alignment, padding, unions,
anonymous members, attributes and packing, checked by hand and against
``ctypes.Structure`` (which follows the platform C ABI);
``tests/property/test_c_compiler.py`` checks them against the C compiler itself.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from recview._c import parse_c
from tests.unit.c._helpers import assert_same_layout, c_struct, refusal

# ---------------------------------------------------------------------------
# Layout against ctypes
# ---------------------------------------------------------------------------


def test_natural_alignment_and_trailing_padding_match_ctypes() -> None:
    layout = parse_c("struct mixed { char c; double d; short s; char tail[3]; };")
    cls = c_struct(
        [
            ("c", ctypes.c_char),
            ("d", ctypes.c_double),
            ("s", ctypes.c_short),
            ("tail", ctypes.c_char * 3),
        ]
    )
    assert_same_layout(layout, cls)
    assert layout.dtype.itemsize == 24
    assert layout.dtype["tail"] == np.dtype("S3")


def test_nested_structs_and_arrays_of_structs_match_ctypes() -> None:
    layout = parse_c(
        """
        struct point { int16_t x; int16_t y; };
        struct shape { uint8_t kind; struct point pts[3]; double area; int32_t grid[2][3]; };
        """,
        "shape",
    )
    point = c_struct([("x", ctypes.c_int16), ("y", ctypes.c_int16)])
    shape = c_struct(
        [
            ("kind", ctypes.c_uint8),
            ("pts", point * 3),
            ("area", ctypes.c_double),
            ("grid", ctypes.c_int32 * 3 * 2),
        ]
    )
    assert_same_layout(layout, shape)
    assert layout.dtype["pts"].shape == (3,)
    assert layout.dtype["grid"].shape == (2, 3)


def test_union_member_matches_ctypes_and_overlaps_at_its_offset() -> None:
    layout = parse_c("struct u { uint8_t kind; union { uint32_t u; float f; uint8_t b[5]; } v; };")
    value = c_struct(
        [("u", ctypes.c_uint32), ("f", ctypes.c_float), ("b", ctypes.c_uint8 * 5)], union=True
    )
    assert_same_layout(layout, c_struct([("kind", ctypes.c_uint8), ("v", value)]))
    v = layout.dtype["v"]
    assert [v.fields[n][1] for n in v.names] == [0, 0, 0]
    assert v.itemsize == 8  # 5 bytes rounded up to the 4-byte alignment
    assert layout.unions == frozenset({"v"})


def test_packed_true_matches_ctypes_pack_1() -> None:
    source = "struct p { char c; uint64_t q; uint16_t s; struct { char a; int32_t b; } in; };"
    inner = c_struct([("a", ctypes.c_char), ("b", ctypes.c_int32)], pack=1)
    cls = c_struct(
        [("c", ctypes.c_char), ("q", ctypes.c_uint64), ("s", ctypes.c_uint16), ("in", inner)],
        pack=1,
    )
    assert_same_layout(parse_c(source, packed=True), cls)
    assert parse_c(source, packed=True).dtype.itemsize == 16
    assert parse_c(source).dtype.itemsize == 32


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_pragma_pack_matches_ctypes_pack(pack: int) -> None:
    source = f"#pragma pack({pack})\nstruct p {{ char c; double d; short s; int i; }};"
    cls = c_struct(
        [("c", ctypes.c_char), ("d", ctypes.c_double), ("s", ctypes.c_short), ("i", ctypes.c_int)],
        pack=pack,
    )
    assert_same_layout(parse_c(source), cls)


def test_pointers_bools_and_enums_match_ctypes() -> None:
    layout = parse_c(
        """
        enum e { A, B };
        struct s { _Bool ok; void *p; char c; enum e kind; int (*callback)(int); bool b; };
        """,
        "s",
    )
    cls = c_struct(
        [
            ("ok", ctypes.c_bool),
            ("p", ctypes.c_void_p),
            ("c", ctypes.c_char),
            ("kind", ctypes.c_uint),
            ("callback", ctypes.c_void_p),
            ("b", ctypes.c_bool),
        ]
    )
    assert_same_layout(layout, cls)


# ---------------------------------------------------------------------------
# Unions, anonymous members
# ---------------------------------------------------------------------------


def test_top_level_union_is_listed_with_the_empty_path() -> None:
    layout = parse_c("union word { uint64_t q; uint16_t h[4]; char text[10]; };")
    assert layout.unions == frozenset({""})
    assert layout.dtype.itemsize == 16
    assert all(layout.dtype.fields[n][1] == 0 for n in layout.dtype.names)


def test_unions_inside_arrays_of_structs_have_dotted_paths() -> None:
    layout = parse_c(
        """
        struct slot { int kind; union { int i; float f; } val; };
        struct table { struct slot slots[4]; union { char c; short s; } tag; };
        """,
        "table",
    )
    assert layout.unions == frozenset({"slots.val", "tag"})


def test_anonymous_struct_in_struct_is_flattened_keeping_c_names() -> None:
    layout = parse_c("struct s { char a; struct { int b; char c; }; short d; };")
    assert layout.dtype.names == ("a", "b", "c", "d")
    assert [layout.dtype.fields[n][1] for n in "abcd"] == [0, 4, 8, 12]
    assert layout.dtype.itemsize == 16


def test_anonymous_union_in_struct_becomes_anon_fields_in_order() -> None:
    layout = parse_c(
        "struct s { char tag; union { int32_t i; float f; }; union { char c; short h; }; };"
    )
    assert layout.dtype.names == ("tag", "_anon0", "_anon1")
    assert layout.dtype["_anon0"].names == ("i", "f")
    assert layout.unions == frozenset({"_anon0", "_anon1"})
    assert [layout.dtype.fields[n][1] for n in layout.dtype.names] == [0, 4, 8]


def test_anonymous_union_in_union_is_flattened_and_struct_in_union_is_nested() -> None:
    layout = parse_c("union u { int a; union { short b; char c; }; struct { char d, e; }; };")
    assert layout.dtype.names == ("a", "b", "c", "_anon0")
    assert layout.dtype["_anon0"].names == ("d", "e")
    assert layout.dtype["_anon0"].fields["e"][1] == 1
    assert layout.unions == frozenset({""})


def test_offsetof_reaches_members_of_anonymous_members() -> None:
    dt = parse_c(
        "struct s { char tag; union { int32_t i; double d; }; };\n"
        "struct t { char pad[offsetof(struct s, d)]; };",
        "t",
    ).dtype
    assert dt.itemsize == 8


# ---------------------------------------------------------------------------
# Attributes and packing
# ---------------------------------------------------------------------------


def test_gnu_packed_and_aligned_attributes_follow_gcc() -> None:
    source = """
        struct __attribute__((packed)) p1 { char c; int x __attribute__((aligned(2))); };
        struct p3 { char c; int x __attribute__((aligned(2))); };
        struct p9 { char c; int x __attribute__((packed)); short s; };
        struct __attribute__((aligned(8))) p5 { char c; };
        struct p7 { char c; _Alignas(8) int x; };
        struct p8 { char c; alignas(double) char x; };
        typedef int aint __attribute__((aligned(2)));
        struct p10 { char c; aint x; };
        struct p11 { char c; int x; } __attribute__((packed));
        typedef struct { char c; int x; } __attribute__((packed)) p12;
        struct p13 { char c; int x [[gnu::aligned(16)]]; };
        #define PACKED __attribute__((__packed__))
        struct PACKED p14 { char c; int64_t x; };
        struct p15 { char c; int x __aligned(8); };
    """
    expected = {  # name: (sizeof, offset of the second member), measured with gcc 12
        "p1": (6, 2),
        "p3": (8, 4),
        "p9": (8, 1),
        "p5": (8, None),
        "p7": (16, 8),
        "p8": (16, 8),
        "p10": (6, 2),
        "p11": (5, 1),
        "p12": (5, 1),
        "p13": (32, 16),
        "p14": (9, 1),
        "p15": (16, 8),
    }
    for name, (size, offset) in expected.items():
        dt = parse_c(source, name).dtype
        assert dt.itemsize == size, name
        if offset is not None:
            assert dt.fields[dt.names[1]][1] == offset, name


def test_scalar_storage_order_sets_the_byte_order_of_its_own_scalars() -> None:
    layout = parse_c(
        """
        struct __attribute__((scalar_storage_order("big-endian"))) be {
            uint32_t a; int16_t v[2]; struct { uint16_t lo; } nested; uint8_t c;
        };
        struct host { uint16_t h; struct be b;
                      struct [[gnu::scalar_storage_order("big-endian")]] { uint16_t x; }; };
        """,
        "host",
    )
    dt = layout.dtype
    assert (dt["h"].str, dt["b"]["a"].str, dt["b"]["v"].base.str) == ("<u2", ">u4", ">i2")
    assert dt["b"]["nested"]["lo"].str == "<u2"
    # an anonymous member with another byte order stays nested rather than flattened
    assert dt.names == ("h", "b", "_anon0")
    assert dt["_anon0"]["x"].str == ">u2"
    err = refusal('struct __attribute__((scalar_storage_order("middle"))) s { int x; };')
    assert 'scalar_storage_order("middle") must be "big-endian"' in str(err)


def test_pragma_pack_push_pop_and_reset() -> None:
    source = """
        #pragma pack(push, 2)
        struct a { char c; int i; };
        #pragma pack(push, inner, 1)
        struct b { char c; int i; };
        #pragma pack(pop, inner)
        struct c { char c; int64_t q; };
        #pragma pack(pop)
        struct d { char c; int64_t q; };
        #pragma pack(4)
        struct e { char c; double d; };
        #pragma pack()
        struct f { char c; double d; };
        #pragma once
        #pragma GCC diagnostic push
    """
    sizes = {name: parse_c(source, name).dtype.itemsize for name in "abcdef"}
    assert sizes == {"a": 6, "b": 5, "c": 10, "d": 16, "e": 12, "f": 16}


def test_pragma_pack_caps_aligned_but_not_under_packed_true() -> None:
    # gcc: #pragma pack caps an aligned() member; with -fpack-struct it does not
    source = "#pragma pack(2)\nstruct s { char c; int x __attribute__((aligned(8))); };"
    assert parse_c(source).dtype.fields["x"][1] == 2
    assert parse_c(source, packed=True).dtype.fields["x"][1] == 8


def test_packed_true_keeps_explicit_alignment_like_fpack_struct() -> None:
    source = "struct s { char c; int x; _Alignas(4) char y; struct __attribute__((aligned(8))) { char z; } t; };"
    dt = parse_c(source, packed=True).dtype
    # a member's own aligned()/_Alignas survives; a type's alignment does not (gcc 12)
    assert [dt.fields[n][1] for n in dt.names] == [0, 1, 8, 9]
    assert dt.itemsize == 20
