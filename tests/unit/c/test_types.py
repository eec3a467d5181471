"""C types (:mod:`recview._c.types`): LP64 sizes, ``char`` as bytes,
byte order, typedefs, and enums as their GCC integer type.
"""

from __future__ import annotations

import numpy as np
import pytest

from recview._c import parse_c

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
