"""The C compiler is the oracle for :meth:`recview.Schema.from_c`.

Random headers (nested structs and unions, arrays of unions, unions and enums
inside arrays of structs, anonymous members, multi-dimensional and zero-length
arrays, enums, pointers, typedefs, ``packed``/``aligned`` attributes,
``#pragma pack``, ``#define`` array sizes) are compiled with ``cc`` into a
program that prints ``sizeof`` and every ``offsetof``, and the schema that
``from_c`` builds from the same text must agree on all of them, and keep its
layout through ``from_dtype``, JSON and construct. Hypothesis draws small
headers (and shrinks them); a seeded generator puts some 300 records in one
compiler call. A hand-written corpus of tricky cases is checked the same way,
in one compiler call. ``packed=True`` is checked against ``cc -fpack-struct``.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import recview as rv
from recview._c import parse_c

CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler ('cc') on PATH to act as oracle")


def dtype_paths(
    dt: np.dtype[Any], path: str = "", designator: str = "", base: int = 0
) -> Iterator[tuple[str, int, int]]:
    """(C member designator, offset, size) of every field, nested ones included.

    Synthesized ``_anonN`` members have no C name: C designates their members
    directly. Fields inside arrays are measured in the first element."""
    assert dt.names is not None
    for name in dt.names:
        fdt, offset = dt.fields[name][:2]
        cname = "" if name.startswith("_anon") else name
        cdes = f"{designator}.{cname}" if designator and cname else designator or cname
        if cname:
            yield cdes, base + offset, fdt.itemsize
        inner, index = fdt, ""
        if fdt.subdtype is not None:
            inner, shape = fdt.subdtype
            index = "[0]" * len(shape)
        if inner.names is not None:
            yield from dtype_paths(inner, f"{path}.{name}", cdes + index, base + offset)


def measure(
    header: str,
    records: dict[str, str],
    dtypes: dict[str, np.dtype[Any]],
    tmp_path: Path,
    *,
    packed: bool,
) -> dict[tuple[str, str], tuple[int, int]]:
    """Compile ``header`` with a main() printing sizeof and offsetof of the members
    (``records`` maps a record name to its C type spelling) as ``dtypes`` have them.
    Return {(record, designator): (offset, size)}; designator "" is the record."""
    lines = []
    for name, ctype in records.items():
        dt = dtypes[name]
        lines.append(f'printf("{name} . 0 %zu\\n", sizeof({ctype}));')
        for des, _off, _size in dtype_paths(dt):
            lines.append(
                f'printf("{name} {des} %zu %zu\\n", offsetof({ctype}, {des}), '
                f"sizeof((({ctype} *)0)->{des}));"
            )
    program = "#include <stdio.h>\n#include <stddef.h>\n" + header
    program += "\nint main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n"
    src = tmp_path / "layout.c"
    exe = tmp_path / "layout"
    src.write_text(program)
    assert CC is not None
    flags = ["-fpack-struct"] if packed else []
    built = subprocess.run(
        [CC, "-std=gnu17", "-w", *flags, "-o", str(exe), str(src)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, f"cc failed:\n{built.stderr}\n{program}"
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60)
    result = {}
    for line in out.stdout.splitlines():
        name, des, first, second = line.split()
        if des == ".":
            result[(name, "")] = (0, int(second))
        else:
            result[(name, des)] = (int(first), int(second))
    return result


def check_against_compiler(
    header: str, records: dict[str, str], tmp_path: Path, *, packed: bool = False
) -> int:
    """Assert ``Schema.from_c`` agrees with the compiler on every record (the
    public call, which also checks the union and enum paths that ``parse_c``
    reports against the dtype); return #checks."""
    schemas = {name: rv.Schema.from_c(header, name, packed=packed) for name in records}
    measured = measure(
        header, records, {n: s.dtype for n, s in schemas.items()}, tmp_path, packed=packed
    )
    checks = 0
    for name, schema in schemas.items():
        dt = schema.dtype
        assert measured[(name, "")] == (0, dt.itemsize), f"sizeof {name}\n{header}"
        # every form of the schema keeps the layout (unions and enums included)
        assert rv.Schema.from_dtype(dt).dtype == dt, f"from_dtype {name}\n{header}"
        assert rv.Schema.from_json(schema.to_json()) == schema, f"json {name}\n{header}"
        assert schema.to_construct().sizeof() == dt.itemsize, f"construct {name}\n{header}"
        for des, offset, size in dtype_paths(dt):
            assert measured[(name, des)] == (offset, size), (
                f"{name}.{des}: compiler (offset, size) {measured[(name, des)]}, "
                f"parse_c {(offset, size)}\n{header}"
            )
            checks += 1
    return checks


# ---------------------------------------------------------------------------
# A hand-written corpus, compiled in one call
# ---------------------------------------------------------------------------

CORPUS = r"""
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#define LEN 3
#define ROWS (LEN * 2 - 1)
#define PAD(n) (((n) + 7) & ~7)
enum color { RED, GREEN = 5, BLUE };
enum __attribute__((packed)) small { S_A = 1, S_B = 200 };
enum neg { NEG = -1 };
typedef int aint2 __attribute__((aligned(2)));
typedef int aint16 __attribute__((aligned(16)));
typedef struct { int16_t x, y; } point_t;
typedef point_t line_t[2];

struct mixed { char c; double d; short s; char tail[3]; };
struct nested { char tag; struct mixed m[2]; point_t p; line_t l; int64_t grid[2][LEN]; };
struct unions { uint8_t kind; union { uint32_t u; float f; uint8_t b[5]; } v; char c; };
struct anon { int a; union { int32_t i; double d; }; struct { char x; int y; }; char z; };
union top { uint64_t q; struct { uint16_t lo, hi; } half; char text[10]; };
struct enums { char c; enum color col; enum small sm; enum neg n[2]; };
struct attrs { char c; int packed_i __attribute__((packed)); short s;
               char a8 __attribute__((aligned(8))); _Alignas(16) char a16; };
struct __attribute__((packed)) pk { char c; int32_t i; int64_t q; char a2 __attribute__((aligned(2))); };
struct pk_user { char c; struct pk inner; int x; };
struct __attribute__((aligned(32))) big_align { char c; };
struct holds_big { char c; struct big_align b; };
struct typedefs { char c; aint2 i2; char d; aint16 i16; };
struct ptrs { char c; void *p; struct mixed *mp; int (*fn)(int); char e; };
struct sizes { char buf[sizeof(struct mixed) - 1]; char pad[PAD(13)]; int last[ROWS]; };
struct offs { char a[offsetof(struct mixed, s)]; char b[_Alignof(double)]; };
struct bools { _Bool b; bool b2; long l; unsigned long long ull; size_t z; ssize_t ss; };
struct char2d { char names[4][6]; signed char sc[3]; unsigned char uc[2][2]; };
#pragma pack(push, 2)
struct p2 { char c; int i; double d; struct mixed m; };
#pragma pack(push, inner, 1)
struct p1 { char c; int i; };
#pragma pack(pop, inner)
struct p2b { char c; int64_t q; };
#pragma pack(pop)
struct after { char c; int64_t q; };
#pragma pack(4)
struct p4 { char c; double d; };
#pragma pack()
struct back { char c; double d; };
typedef struct __attribute__((packed, aligned(4))) { char c; int i; } pa_t;
struct uses_pa { char c; pa_t pa[2]; };
struct wrap_top { char c; union top t; };
"""

CORPUS_RECORDS = {
    name: f"struct {name}"
    for name in [
        "mixed",
        "nested",
        "unions",
        "anon",
        "enums",
        "attrs",
        "pk",
        "pk_user",
        "big_align",
        "holds_big",
        "typedefs",
        "ptrs",
        "sizes",
        "offs",
        "bools",
        "char2d",
        "p2",
        "p1",
        "p2b",
        "after",
        "p4",
        "back",
        "uses_pa",
        "wrap_top",
    ]
} | {"top": "union top", "pa_t": "pa_t", "point_t": "point_t"}


def test_handwritten_corpus_matches_the_compiler(tmp_path: Path) -> None:
    checks = check_against_compiler(CORPUS, CORPUS_RECORDS, tmp_path)
    assert checks > 100


def test_handwritten_corpus_matches_the_compiler_with_fpack_struct(tmp_path: Path) -> None:
    # packed=True is `gcc -fpack-struct`: struct-level aligned() still counts,
    # #pragma pack(N) in the source still overrides
    checks = check_against_compiler(CORPUS, CORPUS_RECORDS, tmp_path, packed=True)
    assert checks > 100


# ---------------------------------------------------------------------------
# Random headers
# ---------------------------------------------------------------------------

PRELUDE = """\
#include <stdint.h>
#include <stddef.h>
#define N2 2
#define N3 (N2 + 1)
enum e_small { ES_A, ES_B = 5 };
enum e_neg { EN_A = -3, EN_B };
enum e_big { EB_A = 0x100000000 };
enum __attribute__((packed)) e_packed { EP_A, EP_B = 1000 };
typedef int aint2 __attribute__((aligned(2)));
typedef short ashort16 __attribute__((aligned(16)));
"""

SCALARS = [
    "char",
    "signed char",
    "unsigned char",
    "short",
    "unsigned short",
    "int",
    "unsigned",
    "long",
    "unsigned long",
    "long long",
    "unsigned long long",
    "float",
    "double",
    "_Bool",
    "int8_t",
    "uint16_t",
    "int32_t",
    "uint64_t",
    "size_t",
    "ptrdiff_t",
    "void *",
    "enum e_packed",
    "aint2",
    "ashort16",
    "enum e_small",
    "enum e_neg",
    "enum e_big",
    "const char *",
]
DIMS = ["1", "2", "3", "N2", "N3", "N2 * 2", "(N3 - 1)", "0", "(N2 - 2)"]  # GNU: [0] is 0 bytes
FIELD_ATTRS = [
    "",
    "",
    "",
    "",
    " __attribute__((aligned(2)))",
    " __attribute__((aligned(8)))",
    " __attribute__((packed))",
    " __attribute__((aligned(16)))",
]
AGG_ATTRS = [
    "",
    "",
    "",
    "__attribute__((packed)) ",
    "__attribute__((aligned(8))) ",
    "__attribute__((packed, aligned(4))) ",
]


class _Names:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"f{self.count}"


class _Choices:
    """The generator's choices, from hypothesis (which shrinks) or from a seeded
    :class:`random.Random` (which can draw a hundred records without running out
    of hypothesis's buffer)."""

    def __init__(self, draw: Any = None, rnd: random.Random | None = None) -> None:
        self._draw = draw
        self._rnd = rnd

    def int(self, lo: int, hi: int) -> int:
        if self._rnd is not None:
            return self._rnd.randint(lo, hi)
        return int(self._draw(st.integers(lo, hi)))

    def one(self, options: Sequence[T]) -> T:
        return options[self.int(0, len(options) - 1)]


T = TypeVar("T")


def _members(pick: _Choices, types: list[str], names: _Names, depth: int) -> list[str]:
    members = []
    for k in range(pick.int(1, 4 if depth == 0 else 3)):
        choice = pick.int(0, 11)
        dims = "".join(f"[{pick.one(DIMS)}]" for _ in range(pick.int(0, 2)))
        attr = pick.one(FIELD_ATTRS)
        if depth == 0 and k == 0:
            # every record has a byte: GCC's zero-size structs are not records
            members.append(f"{pick.one(SCALARS)} {names()};")
        elif choice <= 5 or (choice <= 7 and not types) or (choice > 7 and depth >= 2):
            scalar = pick.one(SCALARS)
            if scalar == "ashort16":
                dims = ""  # gcc: "alignment of array elements is greater than element size"
            alignas = pick.one(["", "", "", "_Alignas(16) "])
            members.append(f"{alignas}{scalar} {names()}{dims}{attr};")
        elif choice <= 7:
            members.append(f"{pick.one(types)} {names()}{dims}{attr};")
        else:
            # nested structs and unions, often in arrays: arrays of unions, unions
            # and enums inside arrays of structs
            kind = pick.one(["struct", "union"])
            inner = " ".join(_members(pick, types, names, depth + 1))
            if choice >= 10:
                dims = f"[{pick.one(DIMS)}]{dims}"
            if pick.int(0, 1) and not dims:  # C11 anonymous member
                members.append(f"{kind} {{ {inner} }};")
            else:
                members.append(f"{kind} {{ {inner} }} {names()}{dims}{attr};")
    return members


def random_header(pick: _Choices, prefix: str = "") -> tuple[str, dict[str, str]]:
    """A random header (``prefix`` before every tag and typedef name, so that
    several can share one program; no prelude) and the records it defines."""
    names = _Names()
    types: list[str] = []
    records: dict[str, str] = {}
    parts = []
    pack_open = False
    for i in range(pick.int(1, 4)):
        kind = pick.one(["struct", "struct", "struct", "union"])
        attr = pick.one(AGG_ATTRS)
        body = " ".join(_members(pick, types, names, 0))
        pragma = pick.one([None, None, None, "1", "2", "4", "pop"])
        if pragma == "pop" and pack_open:
            parts.append("#pragma pack(pop)")
            pack_open = False
        elif pragma is not None and pragma != "pop":
            parts.append(f"#pragma pack(push, {pragma})")
            pack_open = True
        tag = f"{prefix}s{i}"
        if pick.int(0, 1):
            parts.append(f"typedef {kind} {attr}{tag} {{ {body} }} {prefix}t{i};")
            types.append(f"{prefix}t{i}")
        else:
            parts.append(f"{kind} {attr}{tag} {{ {body} }};")
            types.append(f"{kind} {tag}")
        records[tag] = f"{kind} {tag}"
    if pack_open:
        parts.append("#pragma pack(pop)")
    # alignment of each record, seen through a wrapper
    for tag, ctype in list(records.items()):
        parts.append(f"struct w_{tag} {{ char c; {ctype} inner; }};")
        records[f"w_{tag}"] = f"struct w_{tag}"
    return "\n".join(parts) + "\n", records


@st.composite
def headers(draw: Any) -> tuple[str, dict[str, str]]:
    text, records = random_header(_Choices(draw))
    return PRELUDE + text, records


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(header=headers(), packed=st.booleans())
def test_random_structs_match_the_compiler(
    header: tuple[str, dict[str, str]], packed: bool, tmp_path: Path
) -> None:
    source, records = header
    check_against_compiler(source, records, tmp_path, packed=packed)


@pytest.mark.parametrize(("seed", "packed"), [(1, False), (2, True)])
def test_many_random_structs_in_one_compile_match_the_compiler(
    seed: int, packed: bool, tmp_path: Path
) -> None:
    # 60 random headers (some 300 records) in one compiler call: a broad
    # oracle at a modest cost. The seeds are fixed, so a failure reproduces.
    pick = _Choices(rnd=random.Random(seed))
    parts = [PRELUDE]
    records: dict[str, str] = {}
    for k in range(60):
        text, recs = random_header(pick, prefix=f"h{k}_")
        parts.append(text)
        records |= recs
    check_against_compiler("\n".join(parts), records, tmp_path, packed=packed)


def test_scalar_storage_order_reads_the_bytes_gcc_wrote(tmp_path: Path) -> None:
    header = """
        #include <stdint.h>
        struct plain { uint32_t p; int16_t q; };
        struct __attribute__((scalar_storage_order("big-endian"))) be {
            uint32_t a; int16_t b[2]; double d; struct plain inner; uint8_t c;
        };
    """
    program = (
        "#include <stdio.h>\n" + header + "int main(void) {\n"
        "    struct be r = {0x01020304u, {-2, 300}, 1.5, {0x0a0b0c0du, -7}, 9};\n"
        "    fwrite(&r, sizeof r, 1, stdout);\n    return 0;\n}\n"
    )
    (tmp_path / "sso.c").write_text(program)
    assert CC is not None
    subprocess.run(
        [CC, "-o", str(tmp_path / "sso"), str(tmp_path / "sso.c")], check=True, timeout=120
    )
    raw = subprocess.run([str(tmp_path / "sso")], check=True, capture_output=True).stdout
    native = "<" if sys.byteorder == "little" else ">"
    for byteorder in ("<", ">"):
        dt = parse_c(header, "be", byteorder=byteorder).dtype
        assert dt["a"].str == ">u4"
        assert dt["inner"]["p"].str == f"{byteorder}u4"  # nested structs keep their own order
        if byteorder != native:
            continue  # the dump was written on this machine
        assert dt.itemsize == len(raw)
        record = np.frombuffer(raw, dtype=dt)[0]
        assert record["a"] == 0x01020304
        assert record["b"].tolist() == [-2, 300]
        assert record["d"] == 1.5
        assert (record["inner"]["p"], record["inner"]["q"]) == (0x0A0B0C0D, -7)
        assert record["c"] == 9
