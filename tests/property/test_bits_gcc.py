"""GCC is the oracle for C bitfields: random structs, compiled and run.

hypothesis draws a C struct with bitfields of every kind ``Schema.from_c``
supports (every integer base type, ``_Bool``, signed and unsigned enums, any
width up to the type's, unnamed and ``:0`` bitfields, plain members between
them, nested structs, unions and arrays of structs, ``__attribute__((packed))``
on the struct or a member, ``#pragma pack(N)`` and ``gcc -fpack-struct``).
``cc`` compiles a program that

1. prints ``sizeof``, ``_Alignof`` and the ``offsetof`` of every plain member;
2. reads records of random bytes (written by the test) and prints the value of
   every bitfield of every record, as C reads it;
3. fills records with random values (negative ones for signed fields) by
   assignment, and ``fwrite``s them.

recview must agree on all three through ``Schema.from_c`` + ``Schema.get``.
The same program built by ``s390x-linux-gnu-gcc`` and run under
``qemu-s390x`` checks ``byteorder=">"`` (GCC's big-endian, MSB-first
allocation), when that cross compiler is installed.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import recview as rv

CC = shutil.which("cc") or shutil.which("gcc")
CROSS = shutil.which("s390x-linux-gnu-gcc")
QEMU = shutil.which("qemu-s390x")
RECORDS = 4

# (C type, bits, signed); plain char is signed on x86-64 and unsigned on s390x
BIT_TYPES: list[tuple[str, int, bool | None]] = [
    ("char", 8, None),
    ("signed char", 8, True),
    ("unsigned char", 8, False),
    ("short", 16, True),
    ("unsigned short", 16, False),
    ("int", 32, True),
    ("signed int", 32, True),
    ("unsigned int", 32, False),
    ("unsigned", 32, False),
    ("long", 64, True),
    ("unsigned long", 64, False),
    ("long long", 64, True),
    ("unsigned long long", 64, False),
    ("int8_t", 8, True),
    ("uint8_t", 8, False),
    ("int16_t", 16, True),
    ("uint16_t", 16, False),
    ("int32_t", 32, True),
    ("uint32_t", 32, False),
    ("int64_t", 64, True),
    ("uint64_t", 64, False),
    ("_Bool", 1, False),
    ("enum sgn", 32, True),
    ("enum uns", 32, False),
]
PLAIN_TYPES = ["char", "uint8_t", "short", "int", "long long", "uint16_t", "int32_t", "double"]
PRELUDE = """#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
enum sgn { SGN_LO = -5, SGN_HI = 7 };
enum uns { UNS_A = 0, UNS_B = 9 };
"""


@dataclasses.dataclass
class Bits:
    ctype: str
    bits: int
    signed: bool | None
    width: int
    name: str | None
    aligned: int = 0  # __attribute__((aligned(N))) on the member


@dataclasses.dataclass
class Plain:
    ctype: str
    name: str


@dataclasses.dataclass
class Nested:
    union: bool
    members: list[Any]
    name: str | None  # None: a C11 anonymous member
    count: int | None  # an array of the struct
    packed: bool


@dataclasses.dataclass
class Case:
    members: list[Any]
    packed: bool  # __attribute__((packed)) on the record
    pragma: int | None  # #pragma pack(N) around it
    pack_struct: bool  # gcc -fpack-struct / from_c(packed=True)
    sso: str | None = None  # scalar_storage_order(...) on the record


class Names:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"f{self.n}"


@st.composite
def bitfield(draw: st.DrawFn, names: Names) -> Bits:
    ctype, bits, signed = draw(st.sampled_from(BIT_TYPES))
    named = draw(st.integers(0, 5)) > 0
    low = 1 if named else 0
    width = draw(
        st.one_of(st.integers(low, bits), st.sampled_from([low, bits, max(low, bits - 1)]))
    )
    aligned = draw(st.sampled_from([0] * 12 + [1, 2, 8])) if named else 0
    return Bits(ctype, bits, signed, width, names() if named else None, aligned)


@st.composite
def members(draw: st.DrawFn, names: Names, depth: int, union: bool = False) -> list[Any]:
    out: list[Any] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["bits"] * 5 + ["plain"] * 2 + ["nested"] * (depth > 0)))
        if kind == "bits":
            out.append(draw(bitfield(names)))
        elif kind == "plain":
            out.append(Plain(draw(st.sampled_from(PLAIN_TYPES)), names()))
        else:
            nested_union = draw(st.booleans())
            inner = draw(members(names, depth - 1, nested_union))
            count = draw(st.sampled_from([None, None, 1, 2, 3]))
            name = None if count is None and draw(st.integers(0, 3)) == 0 else names()
            out.append(Nested(nested_union, inner, name, count, draw(st.booleans())))
    if not any(isinstance(m, Plain | Nested) or (isinstance(m, Bits) and m.name) for m in out):
        out.append(Plain("char", names()))
    return out


@st.composite
def cases(draw: st.DrawFn) -> Case:
    names = Names()
    mode = draw(st.sampled_from(["plain"] * 4 + ["packed", "pragma", "fpack", "sso"]))
    return Case(
        draw(members(names, 2)),
        packed=mode == "packed",
        pragma=draw(st.sampled_from([1, 2, 4, 8])) if mode == "pragma" else None,
        pack_struct=mode == "fpack",
        sso="big-endian" if mode == "sso" else None,
    )


def c_members(ms: list[Any], indent: str = "    ") -> str:
    lines = []
    for m in ms:
        if isinstance(m, Bits):
            # before the type: recview cannot parse an attribute after the width
            attr = f"__attribute__((aligned({m.aligned}))) " if m.aligned else ""
            lines.append(f"{indent}{attr}{m.ctype} {m.name or ''} : {m.width};")
        elif isinstance(m, Plain):
            lines.append(f"{indent}{m.ctype} {m.name};")
        else:
            kind = "union" if m.union else "struct"
            attr = " __attribute__((packed))" if m.packed else ""
            body = c_members(m.members, indent + "    ")
            dim = f"[{m.count}]" if m.count is not None else ""
            lines.append(f"{indent}{kind}{attr} {{\n{body}\n{indent}}} {m.name or ''}{dim};")
    return "\n".join(lines)


def declaration(case: Case) -> str:
    attr = " __attribute__((packed))" if case.packed else ""
    if case.sso:
        attr += f' __attribute__((scalar_storage_order("{case.sso}")))'
    text = f"struct{attr} rec {{\n{c_members(case.members)}\n}};\n"
    if case.pragma is not None:
        text = f"#pragma pack(push, {case.pragma})\n{text}#pragma pack(pop)\n"
    return text


@dataclasses.dataclass
class Leaf:
    path: str  # recview's dotted path
    expr: str  # C expression with {} for the record
    index: tuple[int, ...]  # index into the leaf's shape (arrays of structs)
    bits: Bits | None
    offset_expr: str  # the offsetof designator
    in_union: bool  # its value may be overwritten through another member


def leaves(
    ms: list[Any],
    path: str = "",
    expr: str = "",
    index: tuple[int, ...] = (),
    union: bool = False,
    *,
    kind_union: bool = False,
    own_order: bool = False,
) -> list[Leaf]:
    """The named leaves of members ``ms`` of an aggregate (a union when
    ``kind_union``; with its own scalar_storage_order when ``own_order``)."""
    out: list[Leaf] = []
    anon = 0
    for m in ms:
        if isinstance(m, Bits) and m.name is None:
            continue
        if isinstance(m, Nested) and m.name is None:
            # recview flattens an anonymous struct in a struct (union in a union)
            # of the same storage order; any other anonymous member is _anonN
            if m.union == kind_union and not own_order:
                out += leaves(m.members, path, expr, index, union or m.union, kind_union=m.union)
            else:
                p = f"{path}._anon{anon}" if path else f"_anon{anon}"
                anon += 1
                out += leaves(m.members, p, expr, index, union or m.union, kind_union=m.union)
            continue
        p = f"{path}.{m.name}" if path else m.name
        e = f"{expr}.{m.name}" if expr else m.name
        if isinstance(m, Nested):
            for k in range(m.count) if m.count is not None else [None]:
                sub = (*index, k) if k is not None else index
                inner = e if k is None else f"{e}[{k}]"
                out += leaves(m.members, p, inner, sub, union or m.union, kind_union=m.union)
        else:
            out.append(Leaf(p, e, index, m if isinstance(m, Bits) else None, e, union))
    return out


def value_range(b: Bits, big_endian: bool) -> tuple[int, int]:
    signed = b.signed if b.signed is not None else not big_endian
    if b.ctype == "_Bool":
        return 0, 1
    if signed:
        return -(1 << (b.width - 1)), (1 << (b.width - 1)) - 1
    return 0, (1 << b.width) - 1


def program(case: Case, values: list[dict[str, int]]) -> str:
    ls = leaves(case.members, own_order=case.sso is not None)
    body = [
        "int main(int argc, char **argv) {",
        f"    static struct rec in[{RECORDS}], out[{RECORDS}];",
        '    FILE *f = fopen(argv[1], "rb");',
        f"    if (fread(in, sizeof in[0], {RECORDS}, f) != {RECORDS}) return 3;",
        "    fclose(f);",
        '    printf("size %zu %zu\\n", sizeof(struct rec), _Alignof(struct rec));',
    ]
    for leaf in ls:
        if leaf.bits is None:
            body.append(
                f'    printf("offset {leaf.path} {leaf.index} %zu\\n", '
                f"offsetof(struct rec, {leaf.offset_expr}));"
            )
    for r in range(RECORDS):
        body.append(f"    memset(&out[{r}], 0, sizeof out[0]);")
        for leaf in ls:
            b = leaf.bits
            if b is None:
                continue
            unsigned64 = b.bits == 64 and b.signed is False
            fmt, cast = ("%llu", "unsigned long long") if unsigned64 else ("%lld", "long long")
            body.append(
                f'    printf("value {r} {leaf.path} {leaf.index} {fmt}\\n", '
                f"({cast})in[{r}].{leaf.expr});"
            )
            if leaf.in_union:
                continue  # assigning one member of a union changes the others
            v = values[r][f"{leaf.path}{leaf.index}"]
            lit = f"{v}ULL" if v >= 1 << 63 else f"({v}LL)" if v < 0 else f"{v}ULL"
            if b.ctype.startswith("enum"):
                lit = f"({b.ctype})({lit})"
            body.append(f"    out[{r}].{leaf.expr} = {lit};")
    body += [
        '    f = fopen(argv[2], "wb");',
        f'    fwrite(out, sizeof out[0], {RECORDS}, f);',
        '    fclose(f);',
        '    return 0;',
        '}',
    ]  # fmt: skip
    return PRELUDE + declaration(case) + "\n".join(body) + "\n"


def run_c(
    tmp: Path, source: str, raw: bytes, *, cross: bool, pack_struct: bool
) -> tuple[str, bytes]:
    (tmp / "t.c").write_text(source)
    (tmp / "in.bin").write_bytes(raw)
    exe = tmp / "t"
    flags = ["-fpack-struct"] if pack_struct else []
    compiler = [CROSS, "-static"] if cross else [CC]
    assert compiler[0] is not None
    build = subprocess.run(
        [*compiler, "-w", "-O0", *flags, "-o", str(exe), str(tmp / "t.c")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr + source
    cmd = [QEMU, str(exe)] if cross else [str(exe)]
    assert cmd[0] is not None
    proc = subprocess.run(
        [*cmd, str(tmp / "in.bin"), str(tmp / "out.bin")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, (tmp / "out.bin").read_bytes()


def check(case: Case, data: st.DataObject, tmp: Path, *, big_endian: bool) -> None:
    source_decl = PRELUDE + declaration(case)
    schema = rv.Schema.from_c(
        source_decl, "rec", byteorder=">" if big_endian else "<", packed=case.pack_struct
    )
    ls = leaves(case.members, own_order=case.sso is not None)
    values: list[dict[str, int]] = []
    for _ in range(RECORDS):
        rec: dict[str, int] = {}
        for leaf in ls:
            if leaf.bits is not None:
                lo, hi = value_range(leaf.bits, big_endian)
                rec[f"{leaf.path}{leaf.index}"] = data.draw(st.integers(lo, hi))
        values.append(rec)
    raw = data.draw(
        st.binary(min_size=RECORDS * schema.itemsize, max_size=RECORDS * schema.itemsize)
    )
    out, written = run_c(tmp, program(case, values), raw, cross=big_endian,
                         pack_struct=case.pack_struct)  # fmt: skip
    lines = out.splitlines()
    size = lines[0].split()
    assert schema.itemsize == int(size[1]), declaration(case)
    arr = np.frombuffer(raw, dtype=schema.dtype)
    got_written = np.frombuffer(written, dtype=schema.dtype)
    by_path = {f.path: f for f in schema.fields()}
    written_keys = {f"{leaf.path}{leaf.index}" for leaf in ls if not leaf.in_union}
    for line in lines[1:]:
        word, rest = line.split(" ", 1)
        if word == "offset":
            path, rest = rest.split(" ", 1)
            idx_text, off = rest.rsplit(" ", 1)
            index = ast.literal_eval(idx_text)  # a tuple the test itself printed
            f = by_path[path]
            assert f.element_offsets()[int(np.ravel_multi_index(index, f.shape)) if index else 0] \
                == int(off), (path, declaration(case))  # fmt: skip
        else:
            r_text, rest = rest.split(" ", 1)
            path, rest = rest.split(" ", 1)
            idx_text, value = rest.rsplit(" ", 1)
            index = ast.literal_eval(idx_text)
            r = int(r_text)
            f = by_path[path]
            assert f.is_bitfield, path
            got = schema.get(arr, path)[r][index] if index else schema.get(arr, path)[r]
            assert int(got) == int(value), (path, r, declaration(case), f)
            if f"{path}{idx_text}" not in written_keys:
                continue
            back = schema.get(got_written, path)[r]
            back = back[index] if index else back
            assert int(back) == values[r][f"{path}{idx_text}"], (path, r, declaration(case))


SETTINGS = settings(
    max_examples=int(os.environ.get("RECVIEW_GCC_EXAMPLES", "40")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.slow
@pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) on PATH: the GCC oracle needs one")
@SETTINGS
@given(case=cases(), data=st.data())
def test_bitfields_match_gcc_x86_64(case: Case, data: st.DataObject, hyp_tmp: Path) -> None:
    tmp = hyp_tmp / "gcc"
    tmp.mkdir(exist_ok=True)
    check(case, data, tmp, big_endian=False)


@pytest.mark.slow
@pytest.mark.skipif(
    CROSS is None or QEMU is None,
    reason="no s390x-linux-gnu-gcc + qemu-s390x (apt-get install gcc-s390x-linux-gnu "
    "qemu-user): the big-endian GCC oracle needs them",
)
@SETTINGS
@given(case=cases(), data=st.data())
def test_bitfields_match_gcc_s390x_big_endian(
    case: Case, data: st.DataObject, hyp_tmp: Path
) -> None:
    tmp = hyp_tmp / "s390x"
    tmp.mkdir(exist_ok=True)
    # the other order than the target's: little-endian on s390x
    check(dataclasses.replace(case, sso=case.sso and "little-endian"), data, tmp, big_endian=True)
