"""C bitfields in ``Schema.from_c``: the placement rules, one case each.

Each expected layout is worked out from GCC's rules in the comment beside it;
``test_each_case_matches_gcc`` then compiles the same source with ``cc`` (when
there is one) and checks ``sizeof`` and where each bitfield's lowest bit lands,
found by setting the field to 1 in a zeroed record. The random structs are in
tests/property/test_bits_gcc.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import recview as rv

CC = shutil.which("cc") or shutil.which("gcc")

# source, record size, [(path, byte offset of the storage, lsb in the storage value,
# width, signed, storage dtype)]
CASES: dict[str, tuple[str, int, list[tuple[str, int, int, int, bool, str]]]] = {
    # ihl, version share byte 0; the byte after them is a plain member
    "iphdr": (
        "struct r { unsigned int ihl:4; unsigned int version:4; uint8_t tos; uint16_t len; };",
        4,
        [("ihl", 0, 0, 4, False, "u1"), ("version", 0, 4, 4, False, "u1")],
    ),
    # x (bits 8..19) would straddle the 16-bit unit at 16: it moves to bit 16; y
    # (28..33) would straddle 32: it moves to 32; d follows at byte 5
    "straddle": (
        "struct r { char c; short x:12; short y:6; char d; };",
        6,
        [("x", 2, 0, 12, True, "<u2"), ("y", 4, 0, 6, True, "u1")],
    ),
    # #pragma pack drops the straddling rule: x at bits 8..19, y at 20..25, in one
    # 3-byte run (a V3 storage)
    "pragma": (
        "#pragma pack(push, 4)\nstruct r { char c; short x:12; short y:6; char d; };\n"
        "#pragma pack(pop)",
        6,
        [("x", 1, 0, 12, True, "V3"), ("y", 1, 12, 6, True, "V3")],
    ),
    # packed: 30 bits from bit 8, then :0 still aligns to 4 bytes (packing never
    # reaches :0), d at 8
    "packed_zero": (
        "struct __attribute__((packed)) r { char c; int x:30; int :0; char d; };",
        9,
        [("x", 1, 0, 30, True, "<u4")],
    ),
    # a 60-bit long long cannot start at bit 8 of its 64-bit unit: it moves to 64
    "long_long": (
        "struct r { char c; long long x:60; };",
        16,
        [("x", 8, 0, 60, True, "<u8")],
    ),
    # unnamed bitfields are padding and do not align the struct; :0 moves to the
    # next int boundary
    "unnamed": (
        "struct r { char c; int :4; unsigned char a:2; int :0; char e; };",
        5,
        [("a", 1, 4, 2, False, "u1")],
    ),
    # every bitfield of a union starts at bit 0 (a union's members share bits)
    "union": (
        "union r { int a:3; unsigned char b:7; short s; };",
        4,
        [("a", 0, 0, 3, True, "u1"), ("b", 0, 0, 7, False, "u1")],
    ),
    # _Bool and enum types; an enum with a negative value is int (signed)
    "bool_enum": (
        "enum e { NEG = -1, POS = 1 };\nenum u { U0, U1 };\n"
        "struct r { _Bool b:1; enum e s:2; enum u k:3; };",
        4,
        [("b", 0, 0, 1, False, "u1"), ("s", 0, 1, 2, True, "u1"), ("k", 0, 3, 3, False, "u1")],
    ),
    # aligned(8) on a bitfield starts it at a multiple of 8 bytes and aligns the struct
    "aligned": (
        "struct r { char c; __attribute__((aligned(8))) int x:3; };",
        16,
        [("x", 8, 0, 3, True, "u1")],
    ),
    # inside a packed struct nested in a #pragma pack(2) region, a named short
    # bitfield still aligns the struct to 2 (GCC: the pragma caps, packed does not lower)
    "pragma_packed_nested": (
        "#pragma pack(push, 2)\nstruct r { struct __attribute__((packed)) { short f:1; } in; };\n"
        "#pragma pack(pop)",
        2,
        [("in.f", 0, 0, 1, True, "u1")],
    ),
    # nested struct in an array: every element has its own storage byte
    "array_of_structs": (
        "struct leg { uint8_t ok:1, code:7; uint16_t px; };\nstruct r { struct leg legs[3]; };",
        12,
        [("legs.ok", 0, 0, 1, False, "u1"), ("legs.code", 0, 1, 7, False, "u1")],
    ),
    # C11 anonymous struct members keep their bitfields at the parent's level
    "anonymous": (
        "struct r { uint32_t id; struct { uint16_t lo:4, hi:12; }; };",
        8,
        [("lo", 4, 0, 4, False, "<u2"), ("hi", 4, 4, 12, False, "<u2")],
    ),
    # an anonymous union flattened into a union: its bitfields share the union's
    # storage at byte 0 (they were two fields named _bits@0: a numpy error)
    "anon_union_in_union": (
        "union r { char f1:1; union { short f2:10; int x; }; };",
        4,
        [("f1", 0, 0, 1, True, "<u2"), ("f2", 0, 0, 10, True, "<u2")],
    ),
    # a struct of only unnamed bitfields: GCC sizes it (2 bytes, 1-aligned); it
    # has nothing to read, so it is padding (it was refused as "no members")
    "only_unnamed_nested": (
        "struct r { int a; struct { unsigned short :15; } pad; char c; unsigned k:2; };",
        8,
        [("k", 7, 0, 2, False, "u1")],
    ),
    # scalar_storage_order("big-endian"): a run is a big-endian value, bits
    # allocated from its most significant bit (as on s390x); a and b fill bytes
    # 0..1, c bytes 2..3: two runs, as no byte holds bits of both
    "sso_big": (
        'struct __attribute__((scalar_storage_order("big-endian"))) r '
        "{ unsigned a:3; unsigned b:13; unsigned c:16; };",
        4,
        [("a", 0, 13, 3, False, ">u2"), ("b", 0, 0, 13, False, ">u2"),
         ("c", 2, 0, 16, False, ">u2")],
    ),
}  # fmt: skip


def leaf_table(schema: rv.Schema) -> list[tuple[str, int, int, int, bool, str]]:
    out = []
    for f in schema.fields():
        if f.is_bitfield:
            assert f.bit_offset is not None
            assert f.bit_width is not None
            dt = f.dtype.str.lstrip("|")
            out.append((f.path, f.offset, f.bit_offset, f.bit_width, f.signed, dt))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_bitfield_layout(name: str) -> None:
    source, size, expected = CASES[name]
    schema = rv.Schema.from_c(source, "r")
    assert schema.itemsize == size
    assert sorted(leaf_table(schema)) == sorted(expected)


def test_plain_char_bitfields_are_signed_on_x86_and_unsigned_big_endian() -> None:
    src = "struct r { char c:4; };"
    assert rv.Schema.from_c(src).field("c").signed
    assert not rv.Schema.from_c(src, byteorder=">").field("c").signed


def test_big_endian_allocates_from_the_most_significant_bit() -> None:
    # s390x/powerpc64: ihl is the high nibble of byte 0 (why <netinet/ip.h> swaps
    # the two under __BYTE_ORDER == __BIG_ENDIAN)
    s = rv.Schema.from_c(CASES["iphdr"][0], byteorder=">")
    assert {f.path: f.bit_offset for f in s.fields() if f.is_bitfield} == {"ihl": 4, "version": 0}
    raw = np.frombuffer(bytes([0x45, 0, 0, 20]), dtype=s.dtype)
    assert int(s.get(raw, "ihl")[0]) == 4
    assert int(s.get(raw, "version")[0]) == 5


def test_attribute_after_the_scalar_type_applies_to_the_member() -> None:
    # Linux's __aligned_u64 expands to `__u64 __attribute__((aligned(8)))`: GCC
    # aligns the member; it was silently ignored (x at 4, size 8)
    s = rv.Schema.from_c("struct r { char c; int __attribute__((aligned(8))) x; };")
    assert (s.itemsize, s.dtype.fields["x"][1]) == (16, 8)
    s = rv.Schema.from_c(
        "#define __aligned_u64 __u64 __attribute__((aligned(8)))\n"
        "struct r { uint32_t a; __aligned_u64 b; };"
    )
    assert (s.itemsize, s.dtype.fields["b"][1]) == (16, 8)


def test_bitfield_enum_names_are_kept_for_display() -> None:
    s = rv.Schema.from_c(CASES["bool_enum"][0], "r")
    assert dict(s.enums["s"]) == {-1: "NEG", 1: "POS"}
    assert dict(s.enums["k"]) == {0: "U0", 1: "U1"}


def test_bitfield_schema_round_trips_json_and_pickle() -> None:
    import pickle

    for source, _size, _expected in CASES.values():
        s = rv.Schema.from_c(source, "r")
        assert rv.Schema.from_json(s.to_json()) == s
        assert pickle.loads(pickle.dumps(s)) == s


def _gcc_bit_positions(tmp: Path, source: str, paths: list[str]) -> tuple[int, dict[str, int]]:
    """sizeof and, per bitfield, the absolute bit index (byte * 8 + bit, bit 0 the
    least significant) that setting it to 1 turns on, from the compiled program."""
    kind = "union" if source.lstrip().startswith("union") or "\nunion r" in source else "struct"
    lines = [
        "#include <stdio.h>",
        "#include <stdint.h>",
        "#include <string.h>",
        source,
        "int main(void) {",
        f"    {kind} r v; unsigned char *p = (unsigned char *)&v;",
        f'    printf("size %zu\\n", sizeof({kind} r));',
    ]
    for path in paths:
        expr = path.replace("legs.", "legs[0].")
        lines.append(f"    memset(&v, 0, sizeof v); v.{expr} = 1;")
        lines.append(
            f"    for (unsigned i = 0; i < 8 * sizeof v; i++) if (p[i / 8] >> (i % 8) & 1) "
            f'printf("{path} %u\\n", i);'
        )
    lines.append("    return 0;\n}")
    (tmp / "b.c").write_text("\n".join(lines))
    assert CC is not None
    subprocess.run(
        [CC, "-w", "-o", str(tmp / "b"), str(tmp / "b.c")], check=True, timeout=120
    )  # fmt: skip
    out = subprocess.run(
        [str(tmp / "b")], check=True, timeout=60, capture_output=True, text=True
    ).stdout.split()
    size = int(out[1])
    return size, {out[i]: int(out[i + 1]) for i in range(2, len(out), 2)}


@pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) on PATH")
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_matches_gcc(name: str, tmp_path: Path) -> None:
    source, size, expected = CASES[name]
    schema = rv.Schema.from_c(source, "r")
    size_c, bits = _gcc_bit_positions(tmp_path, source, [e[0] for e in expected])
    assert size_c == schema.itemsize == size
    for f in schema.fields():
        if not f.is_bitfield:
            continue
        assert f.bit_offset is not None
        n = f.dtype.itemsize
        # value bit k is in byte n-1-k//8 of a big-endian storage, k//8 of a little-endian one
        byte = n - 1 - f.bit_offset // 8 if f.bit_order == ">" else f.bit_offset // 8
        assert bits[f.path] == 8 * (f.offset + byte) + f.bit_offset % 8, f.path


def test_a_record_of_only_unnamed_bitfields_has_nothing_to_read() -> None:
    with pytest.raises(rv.SchemaError, match="struct s has no named members"):
        rv.Schema.from_c("struct s { unsigned short : 15; };")
