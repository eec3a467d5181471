"""Refusals of ``parse_c`` (:mod:`recview._c`): each names the line
and the field, and every one has a test with its message.
"""

from __future__ import annotations

import pytest

import recview as rv
from recview._c import parse_c
from recview.errors import SchemaError
from tests.unit.c._helpers import refusal

# ---------------------------------------------------------------------------
# Refusals: each names the line and the field
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message", "field"),
    [
        ("struct s {\n  uint32_t kind : 4;\n  uint32_t rest : 33;\n};",
         "field 'rest' (line 3): width of 'rest' (33 bits) exceeds its type ('uint32_t', 32 bits)",
         "rest"),
        ("struct s {\n  int ok : 1;\n  int neg : -1;\n};",
         "field 'neg' (line 3): negative width in bit-field 'neg' (-1)", "neg"),
        ("struct s {\n  char c;\n  unsigned zero : 0;\n};",
         "field 'zero' (line 3): zero width for bit-field 'zero' (only an unnamed bitfield "
         "may be :0)", "zero"),
        ("struct s {\n  _Bool b : 2;\n};",
         "field 'b' (line 2): width of 'b' (2 bits) exceeds its type ('_Bool', 1 bits)", "b"),
        ("struct s {\n  float f : 3;\n};",
         "field 'f' (line 2): bit-field 'f' has invalid type 'float' (a bitfield is an "
         "integer, _Bool or enum type)", "f"),
        ("struct s {\n  int *p : 3;\n};",
         "field 'p' (line 2): bit-field 'p' has invalid type 'pointer' (a bitfield is an "
         "integer, _Bool or enum type)", "p"),
        ("struct s {\n  _Alignas(8) int a : 3;\n};",
         "field 'a' (line 2): alignment specified for bit-field 'a' (_Alignas)", "a"),
        ("struct t { struct { int deep : 65; } in; };",
         "field 'in.deep' (line 1): width of 'deep' (65 bits) exceeds its type ('int', 32 bits)",
         "in.deep"),
    ],
)  # fmt: skip
def test_bitfields_gcc_refuses_are_refused(source: str, message: str, field: str) -> None:
    # the widths and types GCC itself rejects (gcc 12: "width of 'rest' exceeds its
    # type", "negative width in bit-field", "zero width for bit-field", "bit-field
    # has invalid type", "alignment specified for bit-field")
    err = refusal(source)
    assert str(err) == message
    assert err.field == field


def test_unnamed_bitfield_too_wide_is_refused_naming_the_line() -> None:
    err = refusal("struct s {\n  char c;\n  short : 17;\n};")
    assert str(err) == "line 3: width of (unnamed) (17 bits) exceeds its type ('short', 16 bits)"


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
    err = refusal("struct s { int x : 33; };")
    assert isinstance(err, rv.RecviewError)
    assert isinstance(err, ValueError)


def test_offsetof_a_bitfield_is_refused_as_gcc_refuses_it() -> None:
    # gcc: "attempt to take address of bit-field"; it said "has no member 'b'"
    err = refusal(
        "struct q { int a; unsigned b:3; };\nstruct r { char c[offsetof(struct q, b)]; };", "r"
    )
    assert str(err) == (
        "field 'c' (line 2): offsetof: 'b' in struct q is a bit-field, which has no offset"
    )
