"""The C type model: what a declaration means, before it becomes a numpy dtype.

A C type is a :class:`_Scalar` (integer, float, bool, plain char, pointer,
enum), an :class:`_Array` of scalars or aggregates, or an :class:`_Aggregate`
(a laid-out struct or union, its :class:`_Member` s at their byte offsets).
This module also knows the C type names that need no declaration: the
arithmetic types (:func:`_base_type`) and the ``<stdint.h>``-style typedefs
(``_BUILTIN_TYPEDEFS``), all with their LP64 sizes. It imports nothing from
the rest of :mod:`recview._c`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

_LP64_POINTER = 8


@dataclass(frozen=True)
class _Scalar:
    kind: str  # "i", "u", "f", "b" (bool), "S" (plain char)
    size: int
    align: int
    cname: str
    names: tuple[tuple[int, str], ...] | None = None  # enum display names


@dataclass(frozen=True)
class _Array:
    elem: _Scalar | _Aggregate
    shape: tuple[int, ...]
    size: int
    align: int


@dataclass(frozen=True)
class _BitField:
    """One named bitfield of a :class:`_BitRun`: ``width`` bits from ``bitpos``,
    counted in allocation order from the run's first byte (from its least
    significant bit on a little-endian layout, its most significant on a
    big-endian one, as GCC allocates)."""

    name: str
    base: _Scalar  # the declared type (its kind gives the signedness; an enum's names)
    bitpos: int
    width: int
    line: int


@dataclass(frozen=True)
class _BitRun:
    """Bytes that hold bitfields and nothing else: consecutive bitfields of a
    struct whose bytes touch (or every bitfield of a union). It becomes one
    hidden storage field of the dtype; its bitfields are the leaves."""

    fields: tuple[_BitField, ...]
    size: int
    align: int = 1


@dataclass(frozen=True)
class _Member:
    name: str
    ctype: _CType
    offset: int
    line: int
    anonymous: bool = False  # a synthesized ``_anonN`` name


@dataclass(frozen=True)
class _Aggregate:
    union: bool
    label: str  # "struct foo", "union <anonymous>"...
    members: tuple[_Member, ...]
    size: int
    align: int
    byteorder: str | None = None  # __attribute__((scalar_storage_order(...)))


_CType: TypeAlias = "_Scalar | _Array | _Aggregate | _BitRun"


def _array_of(elem: _CType, count: int) -> _Array:
    if isinstance(elem, _Array):
        return _Array(elem.elem, (count, *elem.shape), count * elem.size, elem.align)
    assert not isinstance(elem, _BitRun)  # a declarator never has bitfields as its type
    return _Array(elem, (count,), count * elem.size, elem.align)


def _int(kind: str, size: int, cname: str) -> _Scalar:
    return _Scalar(kind, size, size, cname)


_POINTER = _Scalar("u", _LP64_POINTER, _LP64_POINTER, "pointer")

# Typedef names known without an #include: <stdint.h>, <stddef.h>, <sys/types.h>,
# <uchar.h>, glibc's <bits/types.h> and Linux's <asm-generic/int-ll64.h>, with
# their LP64 glibc sizes. Only types whose size is the same on x86-64 and
# aarch64 are listed (nlink_t and blksize_t are not).
_BUILTIN_TYPEDEFS: dict[str, _Scalar] = {}


def _register_builtins() -> None:
    table = {
        "i1": "int8_t int_least8_t int_fast8_t __int8_t __s8 __int_least8_t",
        "u1": "uint8_t uint_least8_t uint_fast8_t __uint8_t __u8 u_int8_t u_char "
        "__uint_least8_t __u_char",
        "i2": "int16_t int_least16_t __int16_t __s16 __int_least16_t",
        "u2": "uint16_t uint_least16_t __uint16_t __u16 u_int16_t u_short char16_t "
        "sa_family_t in_port_t __uint_least16_t __u_short",
        "i4": "int32_t int_least32_t __int32_t __s32 pid_t __pid_t wchar_t key_t __key_t "
        "clockid_t __clockid_t __int_least32_t daddr_t __daddr_t",
        "u4": "uint32_t uint_least32_t __uint32_t __u32 u_int32_t u_int char32_t uid_t gid_t "
        "id_t mode_t useconds_t socklen_t in_addr_t wint_t __uid_t __gid_t __id_t "
        "__mode_t __useconds_t __socklen_t __uint_least32_t __u_int",
        "i8": "int64_t int_least64_t int_fast16_t int_fast32_t int_fast64_t intptr_t "
        "intmax_t ssize_t ptrdiff_t off_t off64_t loff_t time_t clock_t suseconds_t "
        "blkcnt_t blkcnt64_t __int64_t __s64 __time_t __off_t __off64_t __loff_t "
        "__ssize_t __suseconds_t __clock_t __blkcnt_t __intptr_t __intmax_t "
        "__int_least64_t __syscall_slong_t quad_t __quad_t",
        "u8": "uint64_t uint_least64_t uint_fast16_t uint_fast32_t uint_fast64_t uintptr_t "
        "uintmax_t size_t dev_t ino_t ino64_t fsblkcnt_t fsfilcnt_t __uint64_t __u64 "
        "u_int64_t __dev_t __ino_t __ino64_t __uintmax_t __uint_least64_t __u_long u_long "
        "__syscall_ulong_t u_quad_t __u_quad_t __fsblkcnt_t __fsfilcnt_t",
        "f2": "_Float16",
        "f4": "_Float32 float_t",
        "f8": "_Float64 _Float32x double_t",
    }
    for code, names in table.items():
        for cname in names.split():
            _BUILTIN_TYPEDEFS[cname] = _int(code[0], int(code[1]), cname)


_register_builtins()

_REFUSED_TYPES = {
    "long double": "its format is platform-specific (x87 80-bit in 16 bytes on x86-64, "
    "IEEE binary128 on aarch64); declare it as _Alignas(16) uint8_t NAME[16] to keep "
    "the layout",
    "__int128": "numpy has no 128-bit integer; declare it as _Alignas(16) uint8_t NAME[16] "
    "or as two uint64_t",
    "_Complex": "complex types are not supported; declare the real and imaginary parts "
    "as an array of two floats",
    "_Float128": "numpy has no portable 128-bit float; declare it as _Alignas(16) uint8_t NAME[16]",
    "_Decimal": "decimal floating point has no numpy dtype; declare it as an unsigned "
    "integer of its size",
}
_WIDE_FLOATS = ("_Float128", "__float128", "_Float64x", "__float80", "__ibm128")


def _base_type(names: Sequence[str]) -> _Scalar | str:
    """The scalar for a list of C type specifiers, or the reason it is refused."""
    words = list(names)
    spelled = " ".join(words)
    signed = words.count("signed")
    unsigned = words.count("unsigned")
    longs = words.count("long")
    rest = [w for w in words if w not in ("signed", "unsigned", "long")]
    if (signed and unsigned) or signed > 1 or unsigned > 1:
        return f"'{spelled}' is not a valid C type"
    if "_Complex" in rest or "__complex__" in rest:
        return f"'{spelled}' is not supported: {_REFUSED_TYPES['_Complex']}"
    if any(w.startswith("_Decimal") for w in rest):
        return f"'{spelled}' is not supported: {_REFUSED_TYPES['_Decimal']}"
    if any(w in _WIDE_FLOATS for w in rest):
        return f"'{spelled}' is not supported: {_REFUSED_TYPES['_Float128']}"
    if "__int128" in rest or "__int128_t" in rest or "__uint128_t" in rest:
        return f"'{spelled}' is not supported: {_REFUSED_TYPES['__int128']}"
    if rest in (["double"],) and longs == 1 and not signed and not unsigned:
        return f"'{spelled}' is not supported: {_REFUSED_TYPES['long double']}"
    sign = "u" if unsigned else "i"
    if sorted(rest) == ["int", "short"]:
        rest = ["short"]
    if not rest:
        rest = ["int"]  # "signed", "unsigned", "long", "long long" alone
    if len(rest) != 1:
        return f"'{spelled}' is not a valid C type"
    base = rest[0]
    if base == "int" and longs <= 2:
        return _int(sign, 8 if longs else 4, spelled)
    if longs:
        return f"'{spelled}' is not a valid C type"
    if base == "char":
        if signed or unsigned:
            return _int(sign, 1, spelled)
        return _Scalar("S", 1, 1, spelled)
    if base == "short":
        return _int(sign, 2, spelled)
    if signed or unsigned:
        return f"'{spelled}' is not a valid C type"
    if base in ("_Bool", "bool"):
        return _Scalar("b", 1, 1, spelled)
    if base == "float":
        return _int("f", 4, spelled)
    if base == "double":
        return _int("f", 8, spelled)
    if base == "void":
        return "'void' has no size (a void member cannot be laid out)"
    return f"'{spelled}' is not a valid C type"


def _label_of(ctype: _CType) -> str:
    if isinstance(ctype, _Scalar):
        return ctype.cname
    if isinstance(ctype, _Array):
        return f"{_label_of(ctype.elem)}{''.join(f'[{n}]' for n in ctype.shape)}"
    if isinstance(ctype, _BitRun):
        return "bitfields"
    return ctype.label


def _visible_names(members: Sequence[_Member]) -> Iterator[tuple[str, int]]:
    """The member names C code can use: those of anonymous members count too."""
    for member in members:
        if member.anonymous and isinstance(member.ctype, _Aggregate):
            yield from _visible_names(member.ctype.members)
        elif isinstance(member.ctype, _BitRun):
            yield from ((b.name, b.line) for b in member.ctype.fields)
        else:
            yield member.name, member.line


def _find_member(agg: _Aggregate, name: str) -> tuple[_CType, int] | None:
    for member in agg.members:
        if member.name == name:
            return member.ctype, member.offset
        if member.anonymous and isinstance(member.ctype, _Aggregate):
            inner = _find_member(member.ctype, name)
            if inner is not None:
                return inner[0], member.offset + inner[1]
    return None
