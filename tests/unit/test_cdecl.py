"""C declarations to dtypes (:mod:`recview._cdecl`, ``Schema.from_c``; issue 3).

Layouts are checked by hand and against ``ctypes.Structure`` (which follows the
platform C ABI); ``tests/property/test_c_compiler.py`` checks them against the
C compiler itself. Every refusal has a test with its message.
"""

from __future__ import annotations

import ctypes
import pickle
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import recview as rv
from recview._cdecl import CLayout, parse_c
from recview.errors import SchemaError


def fields_of(dt: np.dtype[Any], prefix: str = "", base: int = 0) -> Iterator[tuple[str, int, int]]:
    """(dotted path, absolute offset, itemsize) of every field, nested ones too
    (inside arrays: the first element)."""
    assert dt.names is not None
    for name in dt.names:
        fdt, offset = dt.fields[name][:2]
        path = f"{prefix}.{name}" if prefix else name
        yield path, base + offset, fdt.itemsize
        inner = fdt.subdtype[0] if fdt.subdtype is not None else fdt
        if inner.names is not None:
            yield from fields_of(inner, path, base + offset)


def ctypes_fields(cls: Any, prefix: str = "", base: int = 0) -> Iterator[tuple[str, int, int]]:
    for name, ctype, *_ in cls._fields_:
        desc = getattr(cls, name)
        path = f"{prefix}.{name}" if prefix else name
        yield path, base + desc.offset, desc.size
        inner = ctype
        while issubclass(inner, ctypes.Array):
            inner = inner._type_
        if issubclass(inner, (ctypes.Structure, ctypes.Union)):
            yield from ctypes_fields(inner, path, base + desc.offset)


def assert_same_layout(layout: CLayout, cls: Any) -> None:
    assert layout.dtype.itemsize == ctypes.sizeof(cls)
    assert sorted(fields_of(layout.dtype)) == sorted(ctypes_fields(cls))


def c_struct(fields: list[tuple[str, Any]], *, pack: int = 0, union: bool = False) -> Any:
    base = ctypes.Union if union else ctypes.Structure
    namespace: dict[str, Any] = {"_fields_": fields}
    if pack:
        namespace["_pack_"] = pack
        namespace["_layout_"] = "ms" if sys.platform == "win32" else "gcc-sysv"
    return type("S", (base,), namespace)


def refusal(source: str, name: str | None = None, **kwargs: Any) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        parse_c(source, name, **kwargs)
    return info.value


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
# Types
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "expected"),
    [
        ("int8_t", "|i1"),
        ("uint8_t", "|u1"),
        ("int16_t", "<i2"),
        ("uint16_t", "<u2"),
        ("int32_t", "<i4"),
        ("uint32_t", "<u4"),
        ("int64_t", "<i8"),
        ("uint64_t", "<u8"),
        ("int_least16_t", "<i2"),
        ("uint_fast8_t", "|u1"),
        ("int_fast32_t", "<i8"),
        ("intptr_t", "<i8"),
        ("uintptr_t", "<u8"),
        ("intmax_t", "<i8"),
        ("size_t", "<u8"),
        ("ssize_t", "<i8"),
        ("ptrdiff_t", "<i8"),
        ("off_t", "<i8"),
        ("time_t", "<i8"),
        ("pid_t", "<i4"),
        ("uid_t", "<u4"),
        ("__u16", "<u2"),
        ("__s64", "<i8"),
        ("__int32_t", "<i4"),
        ("_Float16", "<f2"),
        ("char16_t", "<u2"),
        ("char", "|S1"),
        ("signed char", "|i1"),
        ("unsigned char", "|u1"),
        ("short", "<i2"),
        ("short int", "<i2"),
        ("unsigned short int", "<u2"),
        ("int", "<i4"),
        ("signed", "<i4"),
        ("unsigned", "<u4"),
        ("long", "<i8"),
        ("unsigned long", "<u8"),
        ("long int", "<i8"),
        ("long long", "<i8"),
        ("unsigned long long int", "<u8"),
        ("float", "<f4"),
        ("double", "<f8"),
        ("_Bool", "|b1"),
        ("bool", "|b1"),
        ("void *", "<u8"),
        ("const char *", "<u8"),
        ("struct undefined_elsewhere *", "<u8"),
    ],
)
def test_c_and_stdint_types_have_lp64_sizes_without_include(ctype: str, expected: str) -> None:
    layout = parse_c(f"struct s {{ {ctype} x; }};")
    assert layout.dtype["x"].str == expected
    assert layout.dtype.itemsize == np.dtype(expected).itemsize


def test_char_arrays_are_bytes_and_sized_chars_are_integers() -> None:
    dt = parse_c(
        "struct s { char name[8]; char rows[3][4]; unsigned char raw[2]; int8_t small[2]; "
        "signed char sc; char one; };"
    ).dtype
    assert dt["name"] == np.dtype("S8")
    assert dt["rows"] == np.dtype(("S4", (3,)))
    assert dt["raw"] == np.dtype(("u1", (2,)))
    assert dt["small"] == np.dtype(("i1", (2,)))
    assert dt["sc"] == np.dtype("i1")
    assert dt["one"] == np.dtype("S1")


@pytest.mark.parametrize("byteorder", ["<", ">", "="])
def test_byteorder_applies_to_every_multibyte_number(byteorder: str) -> None:
    dt = parse_c(
        "struct s { uint16_t a; struct { double d; int32_t v[2]; } in; char c[2]; uint8_t b; "
        "union { float f; } u; };",
        byteorder=byteorder,
    ).dtype
    want = np.dtype(f"{byteorder}u2").byteorder
    assert dt["a"].byteorder == want
    assert dt["in"]["d"].byteorder == np.dtype(f"{byteorder}f8").byteorder
    assert dt["in"]["v"].base.byteorder == np.dtype(f"{byteorder}i4").byteorder
    assert dt["u"]["f"].byteorder == np.dtype(f"{byteorder}f4").byteorder
    assert dt["c"] == np.dtype("S2")
    assert dt["b"].byteorder == "|"


def test_big_endian_dump_reads_the_numbers_it_was_written_with() -> None:
    dt = parse_c("struct s { uint32_t n; int16_t t; };", byteorder=">").dtype
    record = np.frombuffer(b"\x00\x00\x01\x02\xff\xfe\x00\x00", dtype=dt)[0]
    assert (record["n"], record["t"]) == (258, -2)


def test_typedefs_of_structs_scalars_and_arrays() -> None:
    source = """
        typedef unsigned int word;
        typedef word word2;
        typedef struct { word2 lo, hi; } pair_t;
        typedef pair_t pairs_t[2];
        typedef struct tagged { pairs_t p; char c; } tagged_t;
    """
    by_typedef = parse_c(source, "tagged_t")
    assert by_typedef == parse_c(source, "tagged") == parse_c(source, "struct tagged")
    assert by_typedef.dtype["p"] == np.dtype(
        (
            np.dtype(
                {"names": ["lo", "hi"], "formats": ["<u4", "<u4"], "offsets": [0, 4], "itemsize": 8}
            ),
            (2,),
        )
    )
    assert by_typedef.dtype.itemsize == 20
    assert parse_c(source, "pair_t").dtype.names == ("lo", "hi")


def test_struct_tag_and_typedef_of_the_same_name() -> None:
    source = "typedef struct rec { int a; } rec; struct other { rec r; };"
    assert parse_c(source, "rec").dtype.names == ("a",)


def test_typedef_array_of_arrays_flattens_the_shape() -> None:
    dt = parse_c("typedef float vec3[3]; struct m { vec3 rows[4]; };").dtype
    assert dt["rows"] == np.dtype(("<f4", (4, 3)))


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
# Enums
# ---------------------------------------------------------------------------


def test_enums_are_their_gcc_integer_type_with_names() -> None:
    layout = parse_c(
        """
        enum color { RED, GREEN = 5, BLUE, CYAN = GREEN * 2 };
        enum sign { MINUS = -1, PLUS = 1 };
        enum huge { HUGE = 0x100000000 };
        enum __attribute__((packed)) tiny { T0, T1 = 200 };
        enum wide_tiny { W = 300 } __attribute__((packed));
        enum fixed : uint16_t { F0 = 7 };
        struct s { enum color c; enum sign s; enum huge h; enum tiny t; enum wide_tiny w;
                   enum fixed f; enum color many[2]; struct { enum sign inner; } n; };
        """,
        "s",
    )
    dt = layout.dtype
    assert [dt[n].str for n in ("c", "s", "h", "t", "w", "f")] == [
        "<u4",
        "<i4",
        "<u8",
        "|u1",
        "<u2",
        "<u2",
    ]
    assert dt["many"] == np.dtype(("<u4", (2,)))
    assert layout.enums == {
        "c": {0: "RED", 5: "GREEN", 6: "BLUE", 10: "CYAN"},
        "s": {-1: "MINUS", 1: "PLUS"},
        "h": {0x100000000: "HUGE"},
        "t": {0: "T0", 200: "T1"},
        "w": {300: "W"},
        "f": {7: "F0"},
        "many": {0: "RED", 5: "GREEN", 6: "BLUE", 10: "CYAN"},
        "n.inner": {-1: "MINUS", 1: "PLUS"},
    }


def test_enum_aliases_keep_the_first_name_and_enum_values_size_arrays() -> None:
    layout = parse_c(
        "enum e { A = 1, FIRST = 1, COUNT = 4 }; struct s { enum e k; int v[COUNT]; };", "s"
    )
    assert layout.enums == {"k": {1: "A", 4: "COUNT"}}
    assert layout.dtype["v"].shape == (4,)


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


# ---------------------------------------------------------------------------
# Preprocessor and constant expressions
# ---------------------------------------------------------------------------

REAL_HEADER = r"""
/* rec.h -- a record as written by the logger.
 * Copyright ... (a comment with a brace } and a 'quote)
 */
#ifndef REC_H
#define REC_H

#include <stdint.h>
#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NAME_LEN   16          // bytes, NUL padded
#define SLOTS      (NAME_LEN / 4 + 1)
#define ROUND8(n)  (((n) + 7) & ~7)
#define FLAG(...)  (__VA_ARGS__)
#define LONG_EXPR  (1 + \
                    2)

#if defined(REC_WIDE) || SLOTS > 100
#  error "not this branch"
#elif !defined REC_H
#  error "nor this one"
#else
#  define KEPT 3
#endif
#ifdef UNDEFINED_THING
   this is not C at all
#endif
#undef ROUND8
#define ROUND8(n) (n)

struct rec {
    uint64_t ts;                   /* ns since epoch */
    char     name[NAME_LEN];
    int32_t  slots[SLOTS][KEPT];
    uint8_t  pad[ROUND8(3)];
    uint16_t flags[FLAG(LONG_EXPR)];
} __attribute__((packed));

int rec_write(const struct rec *r) __THROW __nonnull((1));
static inline int rec_ok(const struct rec *r) { return r->ts != 0; }
extern const char *rec_names[];

#ifdef __cplusplus
}
#endif
#endif /* REC_H */
"""


def test_preprocessor_arithmetic_is_intmax() -> None:
    source = """
        #if 0xFFFFFFFF + 1 == 0 || !(-1 > 0U)
        #  error "32-bit arithmetic in #if"
        #endif
        #if (2 || 1 / 0) && !defined(NOPE) && NOPE == 0 && __has_include(<stdio.h>) == 0
        struct s { int ok; };
        #endif
    """
    assert parse_c(source).dtype.names == ("ok",)


@pytest.mark.parametrize(("byteorder", "first"), [("<", "lo"), (">", "hi")])
def test_byte_order_macros_follow_the_byteorder_argument(byteorder: str, first: str) -> None:
    source = """
        struct pair {
        #if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ && __BYTE_ORDER == __BIG_ENDIAN
            uint16_t hi, lo;
        #else
            uint16_t lo, hi;
        #endif
        #if __WORDSIZE == 64 && __SIZEOF_LONG__ == 8 && defined(__LP64__)
            long lp64;
        #endif
        };
    """
    assert parse_c(source, byteorder=byteorder).dtype.names == (
        first,
        "hilo".replace(first, ""),
        "lp64",
    )


def test_real_header_noise_is_handled() -> None:
    dt = parse_c(REAL_HEADER).dtype
    assert dt.names == ("ts", "name", "slots", "pad", "flags")
    assert dt["slots"].shape == (5, 3)
    assert dt["pad"].shape == (3,)
    assert dt["flags"].shape == (3,)
    assert dt.itemsize == 8 + 16 + 60 + 3 + 6


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("3 + 4 * 2", 11),
        ("(3 + 4) * 2", 14),
        ("-7 / 2 + 10", 7),
        ("-7 % 3 + 10", 9),
        ("1 << 4", 16),
        ("0x10 | 0b11", 19),
        ("017", 15),
        ("~0U >> 28", 15),
        ("(unsigned char)300", 44),
        ("(int8_t)200 + 100", 44),
        ("'A' - '@'", 1),
        ("'\\n'", 10),
        ("sizeof(double) * 2", 16),
        ("sizeof(struct inner)", 12),
        ("_Alignof(int64_t)", 8),
        ("offsetof(struct inner, c)", 8),
        ("offsetof(struct inner, v[1])", 6),
        ("2 > 1 ? 5 : 6", 5),
        ("0 ? 1 / 0 : 4", 4),
        ("(1, 2)", 2),
        ("!0 + (3 == 3) + (2 != 2) + (1 && 0) + (0 || 7)", 3),
        ("10UL - 1", 9),
        ("1'000 / 100", 10),
        ("sizeof(long) + sizeof(void *)", 16),
        ("-(-5) + +1", 6),
        ("(5 ^ 3) & 0xff", 6),
        ("true + true", 2),
        ("((unsigned)-1) / 0x10000000", 15),
        ("(_Bool)5 + 1", 2),
        ("ARR_SIZE", 3),
    ],
)
def test_constant_expressions_as_array_sizes(expr: str, value: int) -> None:
    source = f"""
        struct inner {{ int32_t a; int16_t v[2]; char c; }};
        #define ARR_SIZE (sizeof(int[3]) / sizeof(int))
        struct s {{ char x[{expr}]; }};
    """
    assert parse_c(source, "s").dtype["x"] == np.dtype(f"S{value}")


def test_line_continuations_and_comments_keep_line_numbers() -> None:
    source = (
        "/* one\n   two */\n#define A \\\n  4\n// three\nstruct s {\n  int ok[A];\n  foo_t bad;\n};"
    )
    err = refusal(source)
    assert str(err).startswith("field 'bad' (line 8): unknown C type 'foo_t'")


def test_unknown_types_in_records_not_chosen_are_fine() -> None:
    source = "struct ok { int a; };\nstruct other { mystery_t m; };"
    assert parse_c(source, "ok").dtype.names == ("a",)


def test_static_assertions_in_the_source_are_checked() -> None:
    good = 'struct s { int64_t a; char b; };\n_Static_assert(sizeof(struct s) == 16, "size");'
    assert parse_c(good).dtype.itemsize == 16
    err = refusal(good.replace("16", "9"))
    assert str(err) == 'line 2: static assertion failed "size"'


def test_parse_c_result_is_cached_per_source_but_independent_per_call() -> None:
    source = "struct a { int x; }; struct b { double y; };"
    assert parse_c(source, "a").dtype.names == ("x",)
    assert parse_c(source, "b").dtype.names == ("y",)
    assert parse_c(source, "a", packed=True) == parse_c(source, "a")
    assert parse_c(source, "a", byteorder=">").dtype["x"].str == ">i4"


# ---------------------------------------------------------------------------
# Refusals: each names the line and the field
# ---------------------------------------------------------------------------


def test_bitfields_are_refused() -> None:
    err = refusal("struct s {\n  uint32_t kind : 4;\n  uint32_t rest : 28;\n};")
    assert str(err) == (
        "field 'kind' (line 2): bitfields are not supported (kind : 4); declare the "
        "containing integer instead (e.g. uint32_t flags;) and decode the bits from it"
    )
    assert err.field == "kind"


def test_flexible_array_member_is_refused() -> None:
    err = refusal("struct msg {\n  uint32_t len;\n  uint8_t data[];\n};")
    assert str(err) == (
        "field 'data' (line 3): flexible array member has no fixed size; give it a length, "
        "or describe the records without it"
    )
    assert err.field == "data"


def test_negative_arrays_are_refused_and_zero_length_ones_take_no_bytes() -> None:
    assert "negative array length -2" in str(refusal("struct s { char d[1 - 3]; };"))
    # GCC: sizeof 4 (the int's alignment counts), d is no field
    layout = parse_c("struct s { char n; int d[0]; };")
    assert (layout.dtype.names, layout.dtype.itemsize) == (("n",), 4)
    assert "has size 0" in str(refusal("struct s { char d[0]; };"))


def test_unknown_type_is_refused_with_the_dotted_path() -> None:
    err = refusal("struct s {\n  int ok;\n  struct { time64_t when; } inner;\n};")
    assert str(err) == (
        "field 'inner.when' (line 3): unknown C type 'time64_t' (not a C or <stdint.h> type, "
        "and the source has no typedef for it)"
    )
    assert err.field == "inner.when"


def test_unknown_type_through_a_typedef_names_the_typedef_line() -> None:
    err = refusal("typedef mystery_t alias_t;\nstruct s { alias_t x; };")
    assert str(err).startswith("field 'x' (line 1): unknown C type 'mystery_t'")


def test_unknown_identifier_in_an_array_size_is_refused() -> None:
    err = refusal("struct s {\n  char name[NAME_MAX];\n};")
    assert str(err) == (
        "field 'name' (line 2): unknown identifier 'NAME_MAX' in a constant expression (not "
        "a #define constant or an enum value)"
    )


def test_several_structs_and_no_name_is_refused() -> None:
    err = refusal("struct a { int x; };\nstruct b { int y; };\ntypedef struct { int z; } c_t;")
    assert str(err) == (
        "line 2: the C source defines 3 structs/unions: a (line 1), b (line 2), c_t (line 3); "
        "pass name= to pick one"
    )


@pytest.mark.parametrize(
    ("source", "name", "message"),
    [
        (
            "struct a { int x; };",
            "b",
            "C source: no struct, union or typedef named 'b' (defined: a)",
        ),
        ("struct a { int x; };", "union a", "C source: no union named 'a' is defined"),
        (
            "typedef unsigned word;\nstruct a { word w; };",
            "word",
            "line 1: typedef 'word' is not a struct or union, so it cannot describe a record",
        ),
        ("int x;", None, "C source: no struct or union definition found"),
        (
            "struct a { int x; };\nstruct a { int y; };",
            "a",
            "line 2: struct 'a' is defined twice (lines 1 and 2)",
        ),
    ],
)
def test_name_selection_refusals(source: str, name: str | None, message: str) -> None:
    assert str(refusal(source, name)) == message


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("long double x;", "'long double' is not supported: its format is platform-specific"),
        ("__int128 x;", "'__int128' is not supported: numpy has no 128-bit integer"),
        ("unsigned __int128 x;", "'unsigned __int128' is not supported"),
        ("double _Complex x;", "'double _Complex' is not supported: complex types"),
        ("_Float128 x;", "'_Float128' is not supported: numpy has no portable 128-bit float"),
        ("__uint128_t x;", "'__uint128_t' is not supported: numpy has no 128-bit integer"),
        ("_Decimal64 x;", "'_Decimal64' is not supported: decimal floating point"),
        ("void x;", "'void' has no size"),
        ("struct later x;", "incomplete type 'struct later' (declared but not defined"),
        ("struct s x;", "struct s contains itself"),
        ("int x(int);", "a function is not data"),
        ("unsigned float x;", "'unsigned float' is not a valid C type"),
        ("long char x;", "'long char' is not a valid C type"),
        ("int x[1 / 0];", "division by zero in a constant expression"),
        ("int x[1L << 40];", "array of 4,398,046,511,104 bytes is too large for a numpy dtype"),
        ("int x[1 << 40];", "shift count 40 is out of range for a 32-bit value"),
        ("char x[1 << 31];", "negative array length -2147483648"),
        ("int x[sizeof y];", "sizeof of an expression is not supported"),
        ("int x[(float)2];", "cannot cast a constant to 'float'"),
        ("int x[2.5];", "2.5 is not an integer constant"),
        ("_BitInt(7) x;", "_BitInt(N) is not supported"),
        ("int x __attribute__((mode(DI)));", "__attribute__((mode(...))) changes the type"),
        ("int x __attribute__((aligned(3)));", "aligned(3) is not a power of 2"),
        ("a8 x[2];", "alignment of array elements is greater than element size (int: 4 bytes"),
    ],
)
def test_member_refusals_name_field_and_line(member: str, message: str) -> None:
    err = refusal(
        f"typedef int a8 __attribute__((aligned(8)));\nstruct s {{\n  char c;\n  {member}\n}};"
    )
    assert str(err).startswith("field 'x' (line 4): "), str(err)
    assert message in str(err)
    assert err.field == "x"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("struct s { };", "line 1: struct s has no members"),
        ("struct s { union { int a; }; int a; };", "field 'a' (line 1): duplicate member 'a'"),
        (
            "#error unsupported platform\nstruct s { int x; };",
            "line 1: #error unsupported platform",
        ),
        ("struct s { int x; };\n/* open", "line 2: unterminated /* comment"),
        ("#if 1\nstruct s { int x; };", "line 1: #if without a matching #endif"),
        ("#endif\nstruct s { int x; };", "line 1: #endif without #if"),
        ("#if 1\n#else\n#else\n#endif", "line 3: #else after #else"),
        ("#frobnicate\nstruct s { int x; };", "line 1: unknown preprocessor directive"),
        (
            "#define CAT(a, b) a ## b\nstruct s { int CAT(x, y); };",
            "line 2: macro CAT (defined at line 1) uses '##'",
        ),
        ("#define F(a, b) a\nstruct s { int F(x); };", "line 2: macro F takes 2 arguments, got 1"),
        ("#define F(a) a\nstruct s { int F(x\n); };", "line 2: the call of macro F does not close"),
        ("#pragma pack(3)\nstruct s { int x; };", "line 1: #pragma pack(3): the alignment must"),
        (
            "#pragma pack(push, 1, 2, 3)\nstruct s { int x; };",
            "line 1: malformed #pragma pack(push, 1, 2, 3)",
        ),
        ("#if 1 +\n#endif", "line 1: #if 1 +: cannot parse"),
        ("#if sizeof(int) == 4\n#endif", "line 1: #if sizeof(int) == 4: a function call is not"),
        (
            "struct s { int x; } garbage garbage;",
            "line 1, column 29: cannot parse the C declarations (before: garbage)",
        ),
        ("struct s { int x[3 +]; };", "near line 1: cannot parse the C declarations"),
        (
            "typedef int v4 __attribute__((vector_size(16)));\nstruct s { v4 x; };",
            "field 'x' (line 1): __attribute__((vector_size(...))) changes the type",
        ),
        ("struct s { int x __attribute__; };", "line 1: __attribute__ without ((...))"),
        ("enum e { A = B, B = A };\nstruct s { enum e x; };", "enum values refer to themselves"),
    ],
)
def test_source_refusals(source: str, message: str) -> None:
    assert message in str(refusal(source))


def test_invalid_arguments_are_refused() -> None:
    assert str(refusal("struct s { int x; };", byteorder="big")) == (
        "byteorder must be '<', '>' or '=', got 'big'"
    )
    with pytest.raises(SchemaError, match="C source must be a str, got bytes"):
        parse_c(b"struct s { int x; };")  # type: ignore[arg-type]


def test_refusals_are_schema_errors_and_value_errors() -> None:
    err = refusal("struct s { int x : 1; };")
    assert isinstance(err, rv.RecviewError)
    assert isinstance(err, ValueError)


# ---------------------------------------------------------------------------
# Through the public API
# ---------------------------------------------------------------------------


def test_schema_from_c_carries_unions_and_enums() -> None:
    schema = rv.Schema.from_c(
        """
        enum side { BUY = 1, SELL = 2 };
        struct tick { uint64_t ts; union { double px; int64_t raw; } price; enum side side; };
        """,
        "tick",
        byteorder=">",
    )
    assert schema.itemsize == 24
    assert schema.unions == frozenset({"price"})
    assert dict(schema.enums["side"]) == {1: "BUY", 2: "SELL"}
    assert schema.dtype["ts"].str == ">u8"
    assert pickle.loads(pickle.dumps(schema)) == schema
    assert rv.Schema.from_json(schema.to_json()) == schema


def test_schema_from_c_reads_records_written_as_c_would(tmp_path: Any) -> None:
    schema = rv.Schema.from_c("struct r { char tag; uint32_t n; char name[3]; };")
    raw = b"A\0\0\0" + (7).to_bytes(4, "little") + b"bob\0"
    path = tmp_path / "r.bin"
    path.write_bytes(raw * 3)
    with rv.open(path, schema) as view:
        assert len(view) == 3
        assert view["n"].tolist() == [7, 7, 7]
        assert view["name"][0] == b"bob"
        assert view["tag"][2] == b"A"


def test_schema_from_c_refusals_are_schema_errors() -> None:
    with pytest.raises(rv.SchemaError, match="bitfields are not supported") as info:
        rv.Schema.from_c("struct s { int x : 3; };")
    assert info.value.field == "x"
