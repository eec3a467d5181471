"""C declarations to a numpy structured dtype, laid out as the C compiler would.

This private module is the engine behind :meth:`recview.Schema.from_c`: most
fixed-width dumps were written by C programs, and the header is the only schema
their users have. :func:`parse_c` runs a small preprocessor over the C text,
parses the result with a real C parser (:mod:`pycparser`, C23 dialect), and lays
out the chosen ``struct`` with the rules GCC and Clang use on LP64 platforms
(x86-64 and aarch64 Linux, macOS): natural alignment, padding before each member
to its alignment, trailing padding to the struct's alignment.

Supported C
-----------
* ``struct`` and ``union`` -- named, anonymous, nested, arrays of them, C11
  anonymous members; ``typedef``; ``enum`` (as its integer type, names kept for
  display); multi-dimensional arrays; ``const``/``volatile`` are ignored.
* Types: ``char short int long``, ``long long``, ``signed``/``unsigned``,
  ``float double``, ``_Bool``/``bool``, ``_Float16/32/64``, pointers (see
  below), and without any ``#include``: the ``<stdint.h>`` and ``<stddef.h>``
  types (``int8_t`` .. ``uint64_t``, ``int_least*``, ``int_fast*``,
  ``intptr_t``, ``intmax_t``, ``size_t``, ``ptrdiff_t``...), the common
  ``<sys/types.h>`` ones (``ssize_t off_t time_t pid_t uid_t``...), glibc's
  ``__int32_t`` family and Linux's ``__u8`` .. ``__s64``. LP64 sizes:
  ``long``, ``size_t`` and pointers are 8 bytes.
* Constant expressions as array sizes and enum values: integer and character
  constants, ``#define`` names, enum constants, all C operators, casts,
  ``sizeof(type)``, ``_Alignof(type)``, ``offsetof(type, member)``; C integer
  semantics (types, unsigned wrap-around, truncating division). Nothing is
  ever passed to :func:`eval`.
* Preprocessor: comments, line continuations, ``#define`` (object- and
  function-like, variadic; ``#``/``##`` are refused), ``#undef``,
  ``#if/#ifdef/#ifndef/#elif/#else/#endif`` with ``defined``, include guards,
  ``#include`` (dropped: system headers are not read; what GCC predefines for
  an LP64 target is defined, e.g. ``__LP64__``, ``__SIZEOF_LONG__``, and
  ``__BYTE_ORDER__`` following ``byteorder``), ``#pragma pack(N)``,
  ``pack(push[, N])``, ``pack(pop)``, ``pack()``, ``#error`` (a
  :class:`~recview.errors.SchemaError`). Function-like macro calls and
  ``__attribute__((...))`` must fit on one line.
* Attributes, GNU ``__attribute__((...))`` or C23 ``[[gnu::...]]``:
  ``packed`` and ``aligned(N)`` on structs, unions, enums, members and typedefs;
  ``_Alignas``/``alignas``; ``scalar_storage_order("big-endian")`` on a struct
  or union (its scalar and array-of-scalar members take that byte order, as in
  GCC); other attributes are ignored, except ``mode`` and ``vector_size``,
  which change a type and are refused. Common glibc and Linux
  decorations (``__THROW``, ``__attribute_nonstring__``, ``__packed``...) are
  predefined away.
* ``_Static_assert`` in the source is checked when it can be evaluated.

Documented choices
------------------
* **Pointers** are laid out as the pointer-size integer: ``u8``, 8-byte
  aligned (the value is an address in the writing process, kept as a number).
* **Bitfields** are refused with a :class:`~recview.errors.SchemaError`
  naming the field: declare the containing integer instead and decode the
  bits yourself.
* **long double** is refused: its format is platform-specific (x87 80-bit in
  16 bytes on x86-64, IEEE binary128 on aarch64). Declare
  ``_Alignas(16) uint8_t x[16]`` to keep the layout. ``__int128``,
  ``_Float128``, ``_Complex``, ``_BitInt`` and ``_Decimal*`` are refused
  likewise.
* **char**: plain ``char`` (and arrays of it, the last dimension) becomes numpy
  bytes ``S<n>``; ``signed char``, ``unsigned char``, ``int8_t``, ``uint8_t``
  are integers.
* **Enums** follow GCC: ``unsigned int`` when no value is negative, ``int``
  otherwise, 8 bytes when a value needs it; a ``packed`` enum takes the
  smallest integer that fits; a C23 ``enum e : T`` takes ``T``. Where several
  names share a value, the first is kept for display.
* **Anonymous members**: an anonymous struct inside a struct (or union inside
  a union) is flattened into its parent, so its members keep their C names.
  Any other anonymous member (a union in a struct, a struct in a union) becomes
  a nested field named ``_anon0``, ``_anon1``... in declaration order.
* **Unions** are nested structured dtypes whose members all sit at offset 0;
  their dotted paths are listed in :attr:`CLayout.unions`. When the chosen
  record is itself a union, the path is ``""``.
* **packed=True** lays out as ``gcc -fpack-struct`` does, as if every struct
  and union carried ``__attribute__((packed))``: members are 1-byte aligned
  (no padding) unless an ``aligned`` attribute or ``_Alignas`` on the member
  asks for more; ``#pragma pack`` then changes nothing (as in GCC).
* **byteorder** applies to every multi-byte number; ``"="`` means native.
* **Zero-length arrays** (GNU ``int x[0]``, or a computed padding size that
  reaches 0) take no bytes, as in GCC, yet align the next member and count in
  the record's alignment; they are no field of the dtype (nor is a member
  whose type takes no bytes). A record with no bytes at all is refused.
* Flexible array members (``int x[]``), empty structs, ``void`` members, structs that contain themselves and arrays
  of over-aligned elements (which GCC refuses too) are refused; so are unknown
  types and identifiers, each error naming the dotted field path and the C
  line number. Only what the chosen record uses must be understood: an
  unknown type in another struct of the header is no error.
* The preprocessed, parsed source is cached (32 sources), so picking several
  records from one header parses it once.
"""

from __future__ import annotations

import bisect
import functools
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

import numpy as np
from pycparser import c_ast, c_parser

from recview.errors import SchemaError

__all__ = ["CLayout", "parse_c"]

_SOURCE_FILE = "<c>"
_MAX_ALIGN = 16  # __attribute__((aligned)) with no argument: the largest alignment (x86-64)
_LP64_POINTER = 8
_STORAGE_ORDERS = {"default": 0, "little-endian": 1, "big-endian": 2}
_MAX_NBYTES = 2**31 - 1  # numpy keeps dtype sizes and subarray dimensions in a C int


@dataclass(frozen=True)
class CLayout:
    """The layout of one C ``struct`` (or ``union``) as a numpy dtype.

    Attributes
    ----------
    dtype : numpy.dtype
        Structured dtype with explicit offsets; ``itemsize`` is
        ``sizeof(struct)``. Nested structs and unions are nested structured
        dtypes, arrays are subarray dtypes.
    unions : frozenset of str
        Dotted paths of the fields that are unions (members overlap, all at
        the union's offset); ``""`` when the record itself is a union.
    enums : dict
        Dotted path of each enum-typed field (scalar or array) to a mapping
        ``{value: name}``.
    """

    dtype: np.dtype[Any]
    unions: frozenset[str]
    enums: dict[str, dict[int, str]] = field(default_factory=dict)


# --------------------------------------------------------------------------
# The C type model: what a declaration means, before it becomes a numpy dtype
# --------------------------------------------------------------------------


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


_CType: TypeAlias = "_Scalar | _Array | _Aggregate"


def _array_of(elem: _CType, count: int) -> _Array:
    if isinstance(elem, _Array):
        return _Array(elem.elem, (count, *elem.shape), count * elem.size, elem.align)
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


# --------------------------------------------------------------------------
# C integer constant expressions
# --------------------------------------------------------------------------

# A value with its C type: (value, bits, unsigned).
_CInt = tuple[int, int, bool]


def _wrap(value: int, bits: int, unsigned: bool) -> _CInt:
    value &= (1 << bits) - 1
    if not unsigned and value >= 1 << (bits - 1):
        value -= 1 << bits
    return (value, bits, unsigned)


def _promote(x: _CInt) -> _CInt:
    return (x[0], 32, False) if x[1] < 32 else x


def _common(a: _CInt, b: _CInt) -> tuple[int, bool]:
    a, b = _promote(a), _promote(b)
    if a[1] == b[1]:
        return a[1], a[2] or b[2]
    hi = a if a[1] > b[1] else b
    return hi[1], hi[2]  # a wider signed type holds every value of a narrower one


def _int_constant(text: str) -> _CInt | None:
    """The typed value of a C integer constant, or ``None`` if it is not one."""
    m = re.fullmatch(
        r"(0[xX][0-9a-fA-F']+|0[bB][01']+|0[0-7']*|[1-9][0-9']*)([uUlL]*)", text.strip()
    )
    if m is None:
        return None
    digits, suffix = m.group(1).replace("'", ""), m.group(2).lower()
    if digits[:2].lower() in ("0x", "0b"):
        value, decimal = int(digits, 0), False
    elif digits.startswith("0"):
        value, decimal = int(digits, 8), False
    else:
        value, decimal = int(digits), True
    unsigned = "u" in suffix
    longs = suffix.count("l")
    if suffix.replace("u", "", 1) not in ("", "l", "ll") or longs > 2:
        return None
    candidates: list[tuple[int, bool]] = []
    for bits in (32, 64, 64):
        if longs and bits == 32:
            continue
        if not unsigned:
            candidates.append((bits, False))
        if unsigned or not decimal:
            candidates.append((bits, True))
    for bits, uns in candidates:
        limit = 1 << (bits if uns else bits - 1)
        if value < limit:
            return (value, bits, uns)
    return (value & ((1 << 64) - 1), 64, True) if value < 1 << 64 else None


_SIMPLE_ESCAPES = {
    "n": 10, "t": 9, "r": 13, "0": 0, "a": 7, "b": 8, "f": 12, "v": 11,
    "\\": 92, "'": 39, '"': 34, "?": 63, "e": 27,
}  # fmt: skip


def _char_constant(text: str) -> int | None:
    m = re.fullmatch(r"(?:u8|[uUL])?'(.*)'", text, re.DOTALL)
    if m is None:
        return None
    body = m.group(1)
    if len(body) == 1 and body != "\\":
        value = ord(body)
    elif m2 := re.fullmatch(r"\\([0-7]{1,3})", body):
        value = int(m2.group(1), 8)
    elif m2 := re.fullmatch(r"\\x([0-9a-fA-F]+)", body):
        value = int(m2.group(1), 16)
    elif len(body) == 2 and body[0] == "\\" and body[1] in _SIMPLE_ESCAPES:
        value = _SIMPLE_ESCAPES[body[1]]
    else:
        return None
    # plain char is signed on x86-64: '\xff' == -1, as GCC computes it there
    return value - 256 if 128 <= value < 256 and not text.startswith(("L", "u", "U")) else value


class _Evaluator:
    """Evaluates a pycparser expression tree as a C integer constant expression.

    ``ident`` resolves identifiers, ``type_of`` resolves ``Typename`` nodes (for
    ``sizeof``, ``_Alignof``, casts, ``offsetof``); both raise on failure."""

    def __init__(
        self,
        ident: Callable[[str], _CInt],
        type_of: Callable[[Any], _CType] | None,
        fail: Callable[[str], SchemaError],
        *,
        preprocessor: bool = False,
    ) -> None:
        self._widen = preprocessor  # in #if every integer is intmax_t (64-bit)
        self._ident = ident
        self._type_of = type_of
        self._fail = fail

    def value(self, node: Any) -> int:
        return self.eval(node)[0]

    def _need_types(self, what: str) -> Callable[[Any], _CType]:
        if self._type_of is None:
            raise self._fail(f"{what} cannot be used in a preprocessor #if")
        return self._type_of

    def eval(self, node: Any) -> _CInt:
        if isinstance(node, c_ast.Constant):
            value = self._constant(node)
            return (value[0], 64, value[2]) if self._widen else value
        if isinstance(node, c_ast.ID):
            return self._ident(node.name)
        if isinstance(node, c_ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, c_ast.BinaryOp):
            return self._binary(node)
        if isinstance(node, c_ast.TernaryOp):
            # only the branch taken is evaluated: `#if N ? 64 / N : 0` must work
            return self.eval(node.iftrue if self.eval(node.cond)[0] else node.iffalse)
        if isinstance(node, c_ast.Cast):
            value = self.eval(node.expr)
            target = self._need_types("a cast")(node.to_type)
            if not isinstance(target, _Scalar) or target.kind not in "iub":
                raise self._fail(f"cannot cast a constant to '{_label_of(target)}'")
            if target.kind == "b":
                return (int(value[0] != 0), 32, False)
            return _wrap(value[0], target.size * 8, target.kind == "u")
        if isinstance(node, c_ast.ExprList) and node.exprs:
            for expr in node.exprs[:-1]:
                self.eval(expr)
            return self.eval(node.exprs[-1])
        if (
            isinstance(node, c_ast.FuncCall)
            and isinstance(node.name, c_ast.ID)
            and node.name.name == "offsetof"
        ):
            typename, designator = node.args.exprs
            base = self._need_types("offsetof")(typename)
            return (self._offsetof(base, designator)[1], 64, True)
        kind = {
            "FuncCall": "a function call",
            "ArrayRef": "an array subscript",
            "StructRef": "a member access",
            "Assignment": "an assignment",
            "CompoundLiteral": "a compound literal",
        }.get(type(node).__name__, type(node).__name__)
        raise self._fail(f"{kind} is not allowed in an integer constant expression")

    def _constant(self, node: Any) -> _CInt:
        text = node.value
        if node.type == "bool" or text in ("true", "false"):
            return (int(text == "true"), 32, False)
        if text.endswith("'"):
            char = _char_constant(text)
            if char is None:
                raise self._fail(f"unsupported character constant {text}")
            return (char, 32, False)
        value = _int_constant(text)
        if value is None:
            raise self._fail(f"{text} is not an integer constant")
        return value

    def _unary(self, node: Any) -> _CInt:
        op = node.op
        if op in ("sizeof", "_Alignof", "alignof"):
            if not isinstance(node.expr, c_ast.Typename):
                raise self._fail(f"{op} of an expression is not supported; use {op}(type)")
            ctype = self._need_types(op)(node.expr)
            return (ctype.size if op == "sizeof" else ctype.align, 64, True)
        x = self.eval(node.expr)
        if op == "!":
            return (int(x[0] == 0), 32, False)
        x = _promote(x)
        if op == "-":
            return _wrap(-x[0], x[1], x[2])
        if op == "+":
            return x
        if op == "~":
            return _wrap(~x[0], x[1], x[2])
        raise self._fail(f"operator '{op}' is not allowed in an integer constant expression")

    def _binary(self, node: Any) -> _CInt:
        op = node.op
        a = self.eval(node.left)
        if op == "&&":
            return (int(a[0] != 0 and self.eval(node.right)[0] != 0), 32, False)
        if op == "||":
            return (int(a[0] != 0 or self.eval(node.right)[0] != 0), 32, False)
        b = self.eval(node.right)
        if op in ("<<", ">>"):
            left = _promote(a)
            if not 0 <= b[0] < left[1]:
                raise self._fail(f"shift count {b[0]} is out of range for a {left[1]}-bit value")
            shifted = left[0] << b[0] if op == "<<" else left[0] >> b[0]
            return _wrap(shifted, left[1], left[2])
        bits, uns = _common(a, b)
        x, y = _wrap(a[0], bits, uns)[0], _wrap(b[0], bits, uns)[0]
        compare = {
            "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y, "==": x == y, "!=": x != y,
        }  # fmt: skip
        if op in compare:
            return (int(compare[op]), 32, False)
        if op in ("/", "%"):
            if y == 0:
                raise self._fail("division by zero in a constant expression")
            quotient = abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
            return _wrap(quotient if op == "/" else x - y * quotient, bits, uns)
        arith: dict[str, Callable[[int, int], int]] = {
            "+": lambda p, q: p + q,
            "-": lambda p, q: p - q,
            "*": lambda p, q: p * q,
            "&": lambda p, q: p & q,
            "|": lambda p, q: p | q,
            "^": lambda p, q: p ^ q,
        }
        if op in arith:
            return _wrap(arith[op](x, y), bits, uns)
        raise self._fail(f"operator '{op}' is not allowed in an integer constant expression")

    def _offsetof(self, base: _CType, node: Any) -> tuple[_CType, int]:
        if isinstance(node, c_ast.ID):
            return _member_offset(base, node.name, self._fail)
        if isinstance(node, c_ast.StructRef):
            outer, offset = self._offsetof(base, node.name)
            inner, more = _member_offset(outer, node.field.name, self._fail)
            return inner, offset + more
        if isinstance(node, c_ast.ArrayRef):
            outer, offset = self._offsetof(base, node.name)
            if not isinstance(outer, _Array):
                raise self._fail("offsetof: subscript of a member that is not an array")
            index = self.value(node.subscript)
            elem: _CType = outer.elem
            if len(outer.shape) > 1:
                elem = _Array(outer.elem, outer.shape[1:], outer.size // outer.shape[0],
                              outer.align)  # fmt: skip
            return elem, offset + index * elem.size
        raise self._fail("unsupported member designator in offsetof")


def _label_of(ctype: _CType) -> str:
    if isinstance(ctype, _Scalar):
        return ctype.cname
    if isinstance(ctype, _Array):
        return f"{_label_of(ctype.elem)}{''.join(f'[{n}]' for n in ctype.shape)}"
    return ctype.label


def _member_offset(
    ctype: _CType, name: str, fail: Callable[[str], SchemaError]
) -> tuple[_CType, int]:
    if not isinstance(ctype, _Aggregate):
        raise fail(f"offsetof: '{_label_of(ctype)}' has no member '{name}'")
    found = _find_member(ctype, name)
    if found is None:
        raise fail(f"offsetof: {ctype.label} has no member '{name}'")
    return found


def _visible_names(members: Sequence[_Member]) -> Iterator[tuple[str, int]]:
    """The member names C code can use: those of anonymous members count too."""
    for member in members:
        if member.anonymous and isinstance(member.ctype, _Aggregate):
            yield from _visible_names(member.ctype.members)
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


# --------------------------------------------------------------------------
# Preprocessor
# --------------------------------------------------------------------------

_SCAN = re.compile(
    r"""
    (?P<nl>\n)
  | (?P<splice>\\[ \t]*\n)
  | (?P<line_comment>//(?:\\\n|[^\n])*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<open_comment>/\*)
  | (?P<string>(?:u8|[uUL])?"(?:\\.|[^"\\\n])*")
  | (?P<char>(?:u8|[uUL])?'(?:\\.|[^'\\\n])*')
  | (?P<text>[^\n\\/"'uUL]+|.)
    """,
    re.DOTALL | re.VERBOSE,
)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>(?:u8|[uUL])?"(?:\\.|[^"\\])*")
  | (?P<char>(?:u8|[uUL])?'(?:\\.|[^'\\])*')
  | (?P<id>[A-Za-z_$][\w$]*)
  | (?P<num>\.?\d(?:[eEpP][+-]|[\w.]|'(?=[0-9a-fA-F]))*)
  | (?P<punct>\#\#|\.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||\[\[|\]\]|.)
    """,
    re.DOTALL | re.VERBOSE,
)

_IDENT = re.compile(r"[A-Za-z_$][\w$]*\Z")
_DIRECTIVE = re.compile(r"\s*#\s*([A-Za-z_]\w*|\d+)?(.*)\Z", re.DOTALL)


def _tokens(text: str) -> list[str]:
    return [m.group() for m in _TOKEN.finditer(text)]


def _is_ident(token: str) -> bool:
    return _IDENT.match(token) is not None


@dataclass(frozen=True)
class _Macro:
    name: str
    params: tuple[str, ...] | None  # None: object-like; else the fixed parameters
    variadic: str | None  # name of the variadic parameter (``__VA_ARGS__``, or GNU ``args...``)
    body: tuple[str, ...]
    line: int


def _predefined() -> dict[str, _Macro]:
    object_like = {
        # what GCC predefines for an LP64 target (the byte order is set per call)
        "__LP64__": "1", "_LP64": "1", "__CHAR_BIT__": "8", "CHAR_BIT": "8", "__STDC__": "1",
        "__ORDER_LITTLE_ENDIAN__": "1234", "__ORDER_BIG_ENDIAN__": "4321",
        "__ORDER_PDP_ENDIAN__": "3412", "__SIZEOF_SHORT__": "2", "__SIZEOF_INT__": "4",
        "__SIZEOF_LONG__": "8", "__SIZEOF_LONG_LONG__": "8", "__SIZEOF_POINTER__": "8",
        "__SIZEOF_SIZE_T__": "8", "__SIZEOF_FLOAT__": "4", "__SIZEOF_DOUBLE__": "8",
        "__SIZEOF_WCHAR_T__": "4",
        # glibc's <bits/wordsize.h>, <bits/timesize.h>, <endian.h> on every LP64 target
        "__WORDSIZE": "64", "__TIMESIZE": "64", "__LITTLE_ENDIAN": "1234",
        "__BIG_ENDIAN": "4321", "__PDP_ENDIAN": "3412",
        # glibc <sys/cdefs.h> and Linux decorations of declarations
        "__BEGIN_DECLS": "", "__END_DECLS": "", "__THROW": "", "__THROWNL": "", "__wur": "",
        "__attribute_nonstring__": "", "__attribute_pure__": "", "__attribute_const__": "",
        "__attribute_malloc__": "", "__attribute_deprecated__": "", "__extension__": "",
        "__restrict": "restrict", "__restrict__": "restrict", "__inline": "inline",
        "__inline__": "inline", "__const": "const", "__volatile__": "volatile",
        "__signed__": "signed", "__signed": "signed", "__always_inline": "inline",
        "__packed": "__attribute__((packed))", "__user": "", "__kernel": "", "__iomem": "",
        "__bitwise": "", "__force": "", "__le16": "__u16", "__be16": "__u16",
        "__le32": "__u32", "__be32": "__u32", "__le64": "__u64", "__be64": "__u64", "__sum16": "__u16", "__wsum": "__u32",
    }  # fmt: skip
    function_like = {
        "__nonnull": ("params",),
        "__asm__": ("...",),
        "__asm": ("...",),
        "__attr_access": ("x",),
        "__attribute_alloc_size__": ("params",),
        "__attribute_format_arg__": ("x",),
        "__attribute_format_strfmon__": ("a", "b"),
        "__REDIRECT": ("name", "proto", "alias"),
    }
    macros = {
        name: _Macro(name, None, None, tuple(_tokens(body)), 0)
        for name, body in object_like.items()
    }
    for name, params in function_like.items():
        variadic = params == ("...",)
        macros[name] = _Macro(
            name, () if variadic else params, "__VA_ARGS__" if variadic else None, (), 0
        )
    macros["__aligned"] = _Macro(
        "__aligned", ("x",), None, tuple(_tokens("__attribute__((aligned(x)))")), 0
    )
    return macros


_PREDEFINED = _predefined()

# In `#if`: these builtins are answered "no" (so the portable branch is taken).
_FALSE_IN_IF = {
    "__has_include", "__has_include_next", "__has_attribute", "__has_c_attribute",
    "__has_builtin", "__has_feature", "__has_extension", "__has_cpp_attribute",
}  # fmt: skip


@dataclass
class _Cond:
    parent_active: bool
    active: bool
    taken: bool
    seen_else: bool = False
    line: int = 0


def _logical_lines(source: str) -> Iterator[tuple[int, str, int]]:
    """Yield (first line number, text, number of physical lines) for each logical
    line: continuations spliced, comments replaced by a space."""
    line, span = 1, 1
    parts: list[str] = []
    for m in _SCAN.finditer(source.replace("\r\n", "\n").replace("\r", "\n")):
        kind = m.lastgroup
        text = m.group()
        if kind == "nl":
            yield line, "".join(parts), span
            line, span, parts = line + span, 1, []
        elif kind == "splice":
            span += 1
        elif kind == "line_comment" or kind == "block_comment":
            span += text.count("\n")
            parts.append(" ")
        elif kind == "open_comment":
            raise SchemaError(f"line {line + span - 1}: unterminated /* comment")
        else:
            parts.append(text)
    yield line, "".join(parts), span


class _Preprocessor:
    """Just enough of the C preprocessor for headers: see the module docstring."""

    def __init__(self, byteorder: str) -> None:
        self.macros: dict[str, _Macro] = dict(_PREDEFINED)
        big = byteorder == ">" or (byteorder == "=" and sys.byteorder == "big")
        for name in ("__BYTE_ORDER__", "__BYTE_ORDER", "__FLOAT_WORD_ORDER__"):
            body = "4321" if big else "1234"
            self.macros[name] = _Macro(name, None, None, (body,), 0)
        self._pack: int | None = None
        self._pack_stack: list[tuple[str | None, int | None]] = []
        self._pack_lines: list[int] = [0]
        self._pack_values: list[int | None] = [self._pack]
        self._expr_parser = c_parser.CParser(dialect="c23")

    def pack_at(self, line: int) -> int | None:
        """The ``#pragma pack`` value in effect on a source line (``None``: none)."""
        return self._pack_values[bisect.bisect_right(self._pack_lines, line) - 1]

    def run(self, source: str) -> str:
        out: list[str] = []
        conds: list[_Cond] = []
        for line, text, span in _logical_lines(source):
            active = conds[-1].active if conds else True
            m = _DIRECTIVE.match(text)
            if m is not None:
                self._directive(m.group(1) or "", m.group(2), line, conds, active)
                out.append("\n" * span)
            elif active:
                out.append(self._expand_line(text, line) + "\n" * span)
            else:
                out.append("\n" * span)
        if conds:
            raise SchemaError(f"line {conds[-1].line}: #if without a matching #endif")
        return "".join(out)

    # -- directives ---------------------------------------------------------

    def _directive(self, name: str, rest: str, line: int, conds: list[_Cond], active: bool) -> None:
        if name in ("if", "ifdef", "ifndef"):
            value = active and self._condition(name, rest, line)
            conds.append(_Cond(active, value, value, line=line))
            return
        if name in ("elif", "elifdef", "elifndef", "else", "endif"):
            if not conds:
                raise SchemaError(f"line {line}: #{name} without #if")
            cond = conds[-1]
            if name == "endif":
                conds.pop()
                return
            if cond.seen_else:
                raise SchemaError(f"line {line}: #{name} after #else")
            if name == "else":
                cond.seen_else = True
                cond.active = cond.parent_active and not cond.taken
            else:
                wanted = cond.parent_active and not cond.taken
                cond.active = wanted and self._condition(name[2:], rest, line)
            cond.taken = cond.taken or cond.active
            return
        if not active:
            return
        handler = {
            "define": self._define,
            "undef": self._undef,
            "pragma": self._pragma,
            "error": self._error,
        }.get(name)
        if handler is not None:
            handler(rest, line)
        elif name not in ("include", "include_next", "import", "line", "warning", "ident",
                          "sccs", "assert", "unassert", "") and not name.isdigit():  # fmt: skip
            raise SchemaError(f"line {line}: unknown preprocessor directive #{name}")

    def _error(self, rest: str, line: int) -> None:
        raise SchemaError(f"line {line}: #error {rest.strip()}")

    def _define(self, rest: str, line: int) -> None:
        m = re.match(r"\s*([A-Za-z_$][\w$]*)(\([^)]*\))?(.*)\Z", rest, re.DOTALL)
        if m is None:
            raise SchemaError(f"line {line}: malformed #define{rest}")
        name, params_text, body = m.group(1), m.group(2), m.group(3)
        params: tuple[str, ...] | None = None
        variadic: str | None = None
        if params_text is not None:
            plist = [p.strip() for p in params_text[1:-1].split(",")]
            if plist == [""]:
                plist = []
            if plist and plist[-1].endswith("..."):
                # `...` binds __VA_ARGS__; GNU `args...` names the variadic parameter
                variadic = plist.pop()[:-3].strip() or "__VA_ARGS__"
            if not all(_is_ident(p) for p in plist):
                raise SchemaError(f"line {line}: malformed parameters in #define {name}")
            params = tuple(plist)
        self.macros[name] = _Macro(name, params, variadic, tuple(_tokens(body.strip())), line)

    def _undef(self, rest: str, line: int) -> None:
        self.macros.pop(rest.strip(), None)

    def _pragma(self, rest: str, line: int) -> None:
        toks = [t for t in self._expand(_tokens(rest), frozenset(), line) if not t.isspace()]
        if not toks or toks[0] != "pack":
            return  # `#pragma once` and every other pragma: no effect on layout
        if len(toks) < 3 or toks[1] != "(" or toks[-1] != ")":
            raise SchemaError(f"line {line}: malformed #pragma pack{rest}")
        args = [a.strip() for a in "".join(toks[2:-1]).split(",")] if len(toks) > 3 else []
        words = [a for a in args if a]

        def size(text: str) -> int:
            value = _int_constant(text)
            if value is None or value[0] not in (1, 2, 4, 8, 16):
                raise SchemaError(
                    f"line {line}: #pragma pack({', '.join(args)}): the alignment must be "
                    "1, 2, 4, 8 or 16"
                )
            return value[0]

        if not words:
            self._pack = None
        elif words[0] in ("push", "pop"):
            # push[, label][, N] / pop[, label][, N] (the MSVC forms GCC accepts)
            label = words[1] if len(words) > 1 and _is_ident(words[1]) else None
            numbers = words[2:] if label is not None else words[1:]
            if len(numbers) > 1:
                raise SchemaError(f"line {line}: malformed #pragma pack({', '.join(args)})")
            if words[0] == "push":
                self._pack_stack.append((label, self._pack))
                if numbers:
                    self._pack = size(numbers[0])
                self._pack_lines.append(line)
                self._pack_values.append(self._pack)
                return
            if label is not None:
                while self._pack_stack and self._pack_stack[-1][0] != label:
                    self._pack_stack.pop()
            if self._pack_stack:
                self._pack = self._pack_stack.pop()[1]
            else:
                self._pack = None
            if numbers:
                self._pack = size(numbers[0])
        elif words[0] == "show":
            return
        elif len(words) == 1:
            self._pack = size(words[0])
        else:
            raise SchemaError(f"line {line}: malformed #pragma pack({', '.join(args)})")
        self._pack_lines.append(line)
        self._pack_values.append(self._pack)

    def _condition(self, kind: str, rest: str, line: int) -> bool:
        if kind in ("ifdef", "ifndef"):
            name = rest.strip()
            if not _is_ident(name):
                raise SchemaError(f"line {line}: #{kind} needs one macro name, got {name!r}")
            return (name in self.macros) == (kind == "ifdef")
        toks = [t for t in _tokens(rest) if not t.isspace()]
        resolved: list[str] = []
        i = 0
        while i < len(toks):
            tok = toks[i]
            if tok == "defined":
                if i + 1 < len(toks) and toks[i + 1] == "(":
                    if i + 3 >= len(toks) or toks[i + 3] != ")":
                        raise SchemaError(f"line {line}: malformed defined() in #if{rest}")
                    name, i = toks[i + 2], i + 4
                elif i + 1 < len(toks):
                    name, i = toks[i + 1], i + 2
                else:
                    raise SchemaError(f"line {line}: defined without a name in #if{rest}")
                resolved.append("1" if name in self.macros else "0")
                continue
            if tok in _FALSE_IN_IF and i + 1 < len(toks) and toks[i + 1] == "(":
                depth, i = 0, i + 1
                while i < len(toks):
                    depth += {"(": 1, ")": -1}.get(toks[i], 0)
                    i += 1
                    if depth == 0:
                        break
                resolved.append("0")
                continue
            resolved.append(tok)
            i += 1
        expanded = self._expand(resolved, frozenset(), line)
        words = [
            ("1" if t == "true" else "0") if _is_ident(t) else t
            for t in expanded
            if not t.isspace()
        ]
        expr = " ".join(words)
        if not expr:
            raise SchemaError(f"line {line}: #{kind} with no expression")

        def fail(message: str) -> SchemaError:
            return SchemaError(f"line {line}: #{kind}{rest}: {message}")

        try:
            tree = self._expr_parser.parse(f"int __recview_if = ({expr});")
        except c_parser.ParseError as err:
            raise fail(f"cannot parse {expr!r}") from err

        def no_ident(name: str) -> _CInt:
            raise fail(f"unexpected identifier {name!r}")

        evaluator = _Evaluator(no_ident, None, fail, preprocessor=True)
        return evaluator.value(tree.ext[0].init) != 0

    # -- macro expansion ----------------------------------------------------

    def _expand_line(self, text: str, line: int) -> str:
        return "".join(_gnu_attributes(self._expand(_tokens(text), frozenset(), line), line))

    def _expand(self, toks: Sequence[str], disabled: frozenset[str], line: int) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(toks):
            tok = toks[i]
            macro = self.macros.get(tok)
            if macro is None or tok in disabled:
                out.append(tok)
                i += 1
                continue
            if macro.params is None:
                out.extend(self._expand(macro.body, disabled | {tok}, line))
                i += 1
                continue
            j = _next_token(toks, i + 1)
            if j >= len(toks) or toks[j] != "(":
                out.append(tok)  # a function-like macro's name alone is just a name
                i += 1
                continue
            args, i = _macro_args(toks, j, macro, line)
            out.extend(self._expand(self._substitute(macro, args, disabled, line),
                                    disabled | {tok}, line))  # fmt: skip
        return out

    def _substitute(
        self, macro: _Macro, args: list[list[str]], disabled: frozenset[str], line: int
    ) -> list[str]:
        assert macro.params is not None
        nparams = len(macro.params)
        names = list(macro.params)
        if macro.variadic is not None:
            if len(args) < nparams:
                raise SchemaError(
                    f"line {line}: macro {macro.name} takes at least {nparams} arguments, "
                    f"got {len(args)}"
                )
            extra = args[nparams:]
            rest: list[str] = []
            for k, arg in enumerate(extra):
                rest.extend([",", *arg] if k else arg)
            args = [*args[:nparams], rest]
            names.append(macro.variadic)
        elif len(args) != nparams and not (nparams == 0 and args == [[]]):
            raise SchemaError(
                f"line {line}: macro {macro.name} takes {nparams} arguments, got {len(args)}"
            )
        expanded = {
            name: self._expand(arg, disabled, line) for name, arg in zip(names, args, strict=True)
        }
        body: list[str] = []
        for tok in macro.body:
            if tok in ("#", "##"):
                raise SchemaError(
                    f"line {line}: macro {macro.name} (defined at line {macro.line}) uses "
                    f"'{tok}', which recview's C reader does not support; define the names "
                    "it builds by hand"
                )
            body.extend(expanded.get(tok, [tok]))
        return body


def _next_token(toks: Sequence[str], j: int) -> int:
    """Index of the first token at or after ``j`` that is not white space."""
    while j < len(toks) and toks[j].isspace():
        j += 1
    return j


def _macro_args(
    toks: Sequence[str], open_paren: int, macro: _Macro, line: int
) -> tuple[list[list[str]], int]:
    """Split a macro call's arguments at top-level commas; return them and the index
    after the closing parenthesis."""
    args: list[list[str]] = [[]]
    depth = 0
    i = open_paren + 1
    while i < len(toks):
        tok = toks[i]
        if tok in ("(", "[", "{"):
            depth += 1
        elif tok in (")", "]", "}"):
            if depth == 0 and tok == ")":
                return [[t for t in a if not t.isspace()] for a in args], i + 1
            depth -= 1
        elif tok == "," and depth == 0:
            args.append([])
            i += 1
            continue
        args[-1].append(tok)
        i += 1
    raise SchemaError(
        f"line {line}: the call of macro {macro.name} does not close its parenthesis on this "
        "line (recview expands function-like macros within one line)"
    )


def _join_tokens(toks: Sequence[str]) -> str:
    """Tokens back to text, with a space only where two words would merge."""
    out = ""
    for tok in toks:
        if out and (out[-1].isalnum() or out[-1] in "_$") and (tok[0].isalnum() or tok[0] in "_$"):
            out += " "
        out += tok
    return out


def _gnu_attributes(toks: list[str], line: int) -> list[str]:
    """Rewrite GNU ``__attribute__((a, b(x)))`` as C23 ``[[gnu::a, gnu::b(x)]]``,
    which pycparser understands in the same positions."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        if toks[i] not in ("__attribute__", "__attribute"):
            out.append(toks[i])
            i += 1
            continue
        j = _next_token(toks, i + 1)
        if j >= len(toks) or toks[j] != "(":
            raise SchemaError(f"line {line}: {toks[i]} without ((...))")
        depth, k = 0, j
        while k < len(toks):
            depth += {"(": 1, ")": -1}.get(toks[k], 0)
            k += 1
            if depth == 0:
                break
        else:
            raise SchemaError(
                f"line {line}: {toks[i]}((...)) does not close on this line "
                "(recview reads attributes within one line)"
            )
        inner = [t for t in toks[j + 1 : k - 1] if not t.isspace()]
        if len(inner) < 2 or inner[0] != "(" or inner[-1] != ")":
            raise SchemaError(f"line {line}: malformed {toks[i]}{''.join(toks[j:k])}")
        items: list[list[str]] = [[]]
        depth = 0
        for tok in inner[1:-1]:
            if tok == "," and depth == 0:
                items.append([])
                continue
            depth += {"(": 1, ")": -1}.get(tok, 0)
            items[-1].append(tok)
        specs = []
        for item in items:
            if not item:
                continue
            name = item[0]
            if not _is_ident(name):
                raise SchemaError(f"line {line}: malformed attribute {''.join(item)}")
            name = name[2:-2] if name.startswith("__") and name.endswith("__") else name
            specs.append(f"gnu::{name}{_join_tokens(item[1:])}")
        if specs:
            out.append(f"[[{', '.join(specs)}]]")
        i = k
    return out


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

_C_KEYWORDS = frozenset(
    [
        "auto",
        "break",
        "case",
        "char",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extern",
        "float",
        "for",
        "goto",
        "if",
        "inline",
        "int",
        "long",
        "register",
        "restrict",
        "return",
        "short",
        "signed",
        "sizeof",
        "static",
        "struct",
        "switch",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
        "while",
        "_Alignas",
        "_Alignof",
        "_Atomic",
        "_Bool",
        "_Complex",
        "_Generic",
        "_Imaginary",
        "_Noreturn",
        "_Static_assert",
        "_Thread_local",
        "alignas",
        "alignof",
        "bool",
        "constexpr",
        "false",
        "nullptr",
        "static_assert",
        "thread_local",
        "true",
        "typeof",
        "typeof_unqual",
        "offsetof",
        "__int128",
        "_BitInt",
    ]
)
_BEFORE_TYPE = frozenset(
    [
        ";",
        "{",
        "}",
        "(",
        ",",
        "]]",
        "const",
        "volatile",
        "typedef",
        "extern",
        "static",
        "register",
        "inline",
        "restrict",
        "_Atomic",
    ]
)


def _guess_unknown_types(text: str) -> set[str]:
    """Identifiers used where a type name must stand (``foo_t x;``): pycparser
    cannot parse a declaration whose type it does not know, so these are declared
    as placeholders and refused later, only if the chosen struct uses them."""
    toks = [t for t in _tokens(text) if not t.isspace()]
    found: set[str] = set()
    for k, tok in enumerate(toks):
        if not _is_ident(tok) or tok in _C_KEYWORDS or tok in _BUILTIN_TYPEDEFS:
            continue
        before = toks[k - 1] if k else ";"
        after = toks[k + 1] if k + 1 < len(toks) else ""
        if before in ("struct", "union", "enum") or before not in _BEFORE_TYPE:
            continue
        if (
            (_is_ident(after) and after not in _C_KEYWORDS)
            or after in ("const", "volatile")
            or (after == "*" and before not in ("(", ","))
        ):
            found.add(tok)
    return found


def _parse_error(err: Exception, parser: Any) -> SchemaError:
    text = str(err)
    m = re.match(r"(?P<file>[^:]*):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<msg>.*)", text, re.DOTALL)
    if m is not None and m.group("file") == _SOURCE_FILE:
        where = f"line {m.group('line')}"
        if m.group("col"):
            where += f", column {m.group('col')}"
        message = m.group("msg")
    else:
        message = re.sub(r"^[^:]*:\s*", "", text)
        lineno = getattr(getattr(parser, "clex", None), "_lineno", None)
        where = f"near line {lineno}" if isinstance(lineno, int) else "C source"
    return SchemaError(
        f"{where}: cannot parse the C declarations ({message}); recview reads declarations "
        "of types (struct, union, enum, typedef), not arbitrary C code"
    )


def _parse(text: str) -> tuple[Any, set[str]]:
    """Parse preprocessed text; return the AST and the placeholder type names."""
    unknown: set[str] = set()
    first: tuple[Exception, Any] | None = None
    used = {m.group() for m in re.finditer(r"[A-Za-z_$][\w$]*", text)}
    builtins = sorted(used.intersection(_BUILTIN_TYPEDEFS))
    for attempt in range(2):
        names = builtins + sorted(unknown)
        prelude = "".join(f"typedef int {n};\n" for n in names)
        parser = c_parser.CParser(dialect="c23")
        try:
            ast = parser.parse(f'{prelude}#line 1 "{_SOURCE_FILE}"\n{text}', "<prelude>")
        except c_parser.ParseError as err:
            if attempt == 0:
                unknown = _guess_unknown_types(text)
                if unknown:
                    first = (err, parser)
                    continue
            if first is not None and "previously declared as typedef" in str(err):
                err, parser = first  # our placeholder caused this: report the real error
            raise _parse_error(err, parser) from None
        return ast, unknown
    raise AssertionError("unreachable")  # pragma: no cover


@functools.lru_cache(maxsize=32)
def _front_end(source: str, byteorder: str) -> tuple[_Preprocessor, Any, frozenset[str]]:
    """Preprocess and parse once per source text: picking several records from one
    header (or the same schema again) reuses the tree, which is never mutated."""
    pre = _Preprocessor(byteorder)
    ast, unknown = _parse(pre.run(source))
    return pre, ast, frozenset(unknown)


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------


def _roundup(value: int, align: int) -> int:
    return -(-value // align) * align


def _where(path: str, line: int | None) -> str:
    at = f" (line {line})" if line else ""
    return f"field {path!r}{at}" if path else (f"line {line}" if line else "C source")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _line(node: Any) -> int:
    coord = getattr(node, "coord", None)
    line = getattr(coord, "line", None)
    return line if isinstance(line, int) else 0


def _declarator_attrs(node: Any) -> list[Any]:
    """Attributes written on a declarator chain (after the name, ``*`` or ``]``)."""
    attrs: list[Any] = []
    while isinstance(node, (c_ast.TypeDecl, c_ast.ArrayDecl, c_ast.PtrDecl)):
        attrs.extend(node.attributes or [])
        node = node.type
    return attrs


def _flatten_attrs(specifiers: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for spec in specifiers:
        if isinstance(spec, c_ast.AttributeSpecifier):
            out.extend(spec.attributes)
        elif isinstance(spec, c_ast.Attribute):
            out.append(spec)
    return out


class _Model:
    """The declarations of one C source and the layouts computed from them."""

    def __init__(
        self, ast: Any, unknown: frozenset[str], pre: _Preprocessor, *, packed: bool
    ) -> None:
        self._pre = pre
        self._packed = packed
        self._unknown = unknown
        self._typedefs: dict[str, Any] = {}
        self._tags: dict[tuple[str, str], list[Any]] = {}
        self._tag_attrs: dict[int, list[Any]] = {}
        self._enumerators: dict[str, Any] = {}
        self._enum_values: dict[str, _CInt] = {}
        self._enum_cache: dict[int, _Scalar] = {}
        self._layouts: dict[int, _Aggregate] = {}
        self._in_progress: set[int] = set()
        self._typedefs_in_progress: set[str] = set()
        self._asserts: list[Any] = []
        self.candidates: list[tuple[Any, list[str]]] = []
        for ext in ast.ext:
            if _line(ext) == 0 or getattr(ext.coord, "file", None) != _SOURCE_FILE:
                continue  # the prelude's placeholder typedefs
            self._collect(ext)
            self._candidate(ext)

    # -- declarations -------------------------------------------------------

    def _collect(self, node: Any) -> None:
        if isinstance(node, c_ast.FuncDef):
            return  # function bodies declare nothing a record layout can use
        if isinstance(node, c_ast.Typedef):
            self._typedefs[node.name] = node
        elif isinstance(node, (c_ast.Struct, c_ast.Union)) and node.decls is not None:
            if node.name is not None:
                kind = "union" if isinstance(node, c_ast.Union) else "struct"
                self._tags.setdefault((kind, node.name), []).append(node)
        elif isinstance(node, c_ast.Enum) and node.values is not None:
            if node.name is not None:
                self._tags.setdefault(("enum", node.name), []).append(node)
            for enumerator in node.values.enumerators:
                if isinstance(enumerator, c_ast.Enumerator):
                    self._enumerators.setdefault(enumerator.name, node)
        elif isinstance(node, c_ast.AttributedType) and isinstance(
            node.type, (c_ast.Struct, c_ast.Union, c_ast.Enum)
        ):
            self._tag_attrs.setdefault(id(node.type), []).extend(node.attributes)
        elif isinstance(node, c_ast.StaticAssert):
            self._asserts.append(node)
        for _, child in node.children():
            self._collect(child)

    def _candidate(self, ext: Any) -> None:
        if not isinstance(ext, (c_ast.Decl, c_ast.Typedef)):
            return
        node, direct = ext.type, True
        while isinstance(node, (c_ast.TypeDecl, c_ast.AttributedType, c_ast.ArrayDecl,
                                c_ast.PtrDecl)):  # fmt: skip
            direct = direct and isinstance(node, (c_ast.TypeDecl, c_ast.AttributedType))
            node = node.type
        if not isinstance(node, (c_ast.Struct, c_ast.Union)) or node.decls is None:
            return
        for seen, names in self.candidates:
            if seen is node:
                if isinstance(ext, c_ast.Typedef) and direct:
                    names.append(ext.name)
                return
        names = [node.name] if node.name else []
        if isinstance(ext, c_ast.Typedef) and direct:
            names.append(ext.name)
        self.candidates.append((node, names))

    def _label(self, node: Any) -> str:
        kind = "union" if isinstance(node, c_ast.Union) else "struct"
        if node.name:
            return f"{kind} {node.name}"
        for seen, names in self.candidates:
            if seen is node and names:
                return names[0]
        return f"anonymous {kind} at line {_line(node)}"

    def select(self, name: str | None) -> Any:
        """The struct/union definition that ``name`` designates."""
        if name is None:
            if len(self.candidates) == 1:
                return self.candidates[0][0]
            if not self.candidates:
                raise SchemaError("C source: no struct or union definition found")
            listed = ", ".join(
                f"{names[0] if names else 'anonymous'} (line {_line(node)})"
                for node, names in self.candidates
            )
            raise SchemaError(
                f"line {_line(self.candidates[1][0])}: the C source defines "
                f"{len(self.candidates)} structs/unions: {listed}; pass name= to pick one"
            )
        text = " ".join(name.split())
        kind_m = re.fullmatch(r"(struct|union) (\w+)", text)
        if kind_m is not None:
            return self._tag(kind_m.group(1), kind_m.group(2), "", 0, refusal_name=name)
        found: dict[int, Any] = {}
        for kind in ("struct", "union"):
            if (kind, text) in self._tags:
                node = self._tag(kind, text, "", 0)
                found[id(node)] = node
        typedef = self._typedefs.get(text)
        if typedef is not None:
            node = typedef.type
            while isinstance(node, (c_ast.TypeDecl, c_ast.AttributedType)):
                node = node.type
            if isinstance(node, (c_ast.Struct, c_ast.Union)):
                kind = "union" if isinstance(node, c_ast.Union) else "struct"
                defn = (
                    node
                    if node.decls is not None
                    else self._tag(kind, node.name, "", _line(typedef), refusal_name=name)
                )
                found[id(defn)] = defn
            elif not found:
                raise SchemaError(
                    f"line {_line(typedef)}: typedef {text!r} is not a struct or union, "
                    "so it cannot describe a record"
                )
        if len(found) > 1:
            raise SchemaError(
                f"C source: {text!r} names both a struct/union tag and a typedef of another "
                f"type; pass name='struct {text}' or name='union {text}' for the tag"
            )
        if not found:
            known = sorted({n for _, names in self.candidates for n in names})
            raise SchemaError(
                f"C source: no struct, union or typedef named {name!r} "
                f"(defined: {', '.join(known) or 'none'})"
            )
        return next(iter(found.values()))

    def _tag(
        self, kind: str, tag: str, path: str, line: int, *, refusal_name: str | None = None
    ) -> Any:
        defs = self._tags.get((kind, tag), [])
        if not defs:
            if refusal_name is not None and line == 0:
                raise SchemaError(f"C source: no {kind} named {tag!r} is defined")
            raise SchemaError(
                f"{_where(path, line)}: incomplete type '{kind} {tag}' (declared but not "
                "defined in the source)",
                field=path or None,
            )
        if len(defs) > 1:
            lines = " and ".join(str(_line(d)) for d in defs)
            raise SchemaError(f"line {_line(defs[1])}: {kind} {tag!r} is defined twice "
                              f"(lines {lines})")  # fmt: skip
        return defs[0]

    # -- types ----------------------------------------------------------------

    def _fail(self, path: str, line: int) -> Callable[[str], SchemaError]:
        def fail(message: str) -> SchemaError:
            return SchemaError(f"{_where(path, line)}: {message}", field=path or None)

        return fail

    def constant(self, node: Any, path: str, line: int) -> int:
        fail = self._fail(path, line)

        def ident(name: str) -> _CInt:
            return self._enumerator(name, path, line)

        def type_of(typename: Any) -> _CType:
            return self.resolve(typename.type, path, line)

        return _Evaluator(ident, type_of, fail).value(node)

    def _enumerator(self, name: str, path: str, line: int) -> _CInt:
        if name not in self._enum_values:
            enum = self._enumerators.get(name)
            if enum is None:
                raise SchemaError(
                    f"{_where(path, line)}: unknown identifier {name!r} in a constant "
                    "expression (not a #define constant or an enum value)",
                    field=path or None,
                )
            self._enum_type(enum, path, line)
        return self._enum_values[name]

    def resolve(self, node: Any, path: str, line: int) -> _CType:
        """The C type a declarator/specifier tree denotes."""
        if isinstance(node, (c_ast.TypeDecl, c_ast.AttributedType, c_ast.Typename)):
            return self.resolve(node.type, path, line)
        if isinstance(node, c_ast.ArrayDecl):
            if node.dim is None:
                raise SchemaError(
                    f"{_where(path, line)}: flexible array member has no fixed size; give it "
                    "a length, or describe the records without it",
                    field=path or None,
                )
            count = self.constant(node.dim, path, line)
            if count < 0:
                raise SchemaError(f"{_where(path, line)}: negative array length {count} has no "
                                  "fixed size; give it a length of 0 or more",
                                  field=path or None)  # fmt: skip
            elem = self.resolve(node.type, path, line)
            if elem.size % elem.align:
                raise SchemaError(
                    f"{_where(path, line)}: alignment of array elements is greater than "
                    f"element size ({_label_of(elem)}: {elem.size} bytes, {elem.align}-aligned)",
                    field=path or None,
                )
            array = _array_of(elem, count)
            if array.size > _MAX_NBYTES:
                raise SchemaError(
                    f"{_where(path, line)}: array of {array.size:,} bytes is too large for a "
                    f"numpy dtype (at most {_MAX_NBYTES:,} bytes)",
                    field=path or None,
                )
            return array
        if isinstance(node, c_ast.PtrDecl):
            return _POINTER
        if isinstance(node, c_ast.FuncDecl):
            raise SchemaError(f"{_where(path, line)}: a function is not data; did you mean a "
                              "function pointer (*name)(...)?", field=path or None)  # fmt: skip
        if isinstance(node, c_ast.IdentifierType):
            return self._named(node.names, path, line)
        if isinstance(node, (c_ast.Struct, c_ast.Union)):
            defn = node
            if node.decls is None:
                kind = "union" if isinstance(node, c_ast.Union) else "struct"
                defn = self._tag(kind, node.name, path, line)
            return self.layout(defn, path, line)
        if isinstance(node, c_ast.Enum):
            defn = node if node.values is not None else self._tag("enum", node.name, path,
                                                                  line)  # fmt: skip
            return self._enum_type(defn, path, line)
        what = {
            "BitIntType": "_BitInt(N) is not supported",
            "TypeOf": "typeof is not supported",
        }.get(type(node).__name__, f"unsupported C construct {type(node).__name__}")
        raise SchemaError(f"{_where(path, line)}: {what}", field=path or None)

    def _named(self, names: Sequence[str], path: str, line: int) -> _CType:
        if len(names) == 1 and names[0] in self._typedefs:
            return self._typedef(names[0], path)
        if len(names) == 1 and names[0] in _BUILTIN_TYPEDEFS:
            return _BUILTIN_TYPEDEFS[names[0]]
        refused = (*_WIDE_FLOATS, "__int128_t", "__uint128_t")
        if len(names) == 1 and names[0] in self._unknown and names[0] not in refused:
            raise SchemaError(
                f"{_where(path, line)}: unknown C type {names[0]!r} (not a C or <stdint.h> "
                "type, and the source has no typedef for it)",
                field=path or None,
            )
        result = _base_type(names)
        if isinstance(result, str):
            raise SchemaError(f"{_where(path, line)}: {result}", field=path or None)
        return result

    def _typedef(self, name: str, path: str) -> _CType:
        typedef = self._typedefs[name]
        line = _line(typedef)
        if name in self._typedefs_in_progress:
            raise SchemaError(f"line {line}: typedef {name!r} refers to itself")
        self._typedefs_in_progress.add(name)
        try:
            ctype = self.resolve(typedef.type, path, line)
        finally:
            self._typedefs_in_progress.discard(name)
        attrs = _flatten_attrs(typedef.attributes or []) + _flatten_attrs(
            _declarator_attrs(typedef.type)
        )
        aligned = self._attr_values(attrs, path, line).get("aligned")
        if aligned is not None:  # on a typedef, aligned can both raise and lower alignment
            ctype = replace(ctype, align=aligned)
        return ctype

    def _attr_values(self, attrs: Sequence[Any], path: str, line: int) -> dict[str, int]:
        """``packed`` -> 1 and ``aligned`` -> N from a list of Attribute nodes."""
        values: dict[str, int] = {}
        for attr in attrs:
            if attr.namespace not in (None, "gnu", "__gnu__"):
                continue
            name = attr.name.strip("_") if attr.name.startswith("__") else attr.name
            if name in ("mode", "vector_size"):
                raise SchemaError(
                    f"{_where(path, line)}: __attribute__(({name}(...))) changes the type, "
                    "which recview does not support; spell the type out",
                    field=path or None,
                )
            if name == "packed":
                values["packed"] = 1
            elif name == "scalar_storage_order":
                order = (attr.arguments or "").strip().strip('"')
                if order not in _STORAGE_ORDERS:
                    raise SchemaError(
                        f"{_where(path, line)}: scalar_storage_order({attr.arguments}) must be "
                        '"big-endian", "little-endian" or "default"',
                        field=path or None,
                    )
                values["scalar_storage_order"] = _STORAGE_ORDERS[order]
            elif name == "aligned":
                if attr.arguments is None or not attr.arguments.strip():
                    n = _MAX_ALIGN
                else:
                    n = self._attr_argument(attr.arguments, path, line)
                if n <= 0 or n & (n - 1):
                    raise SchemaError(
                        f"{_where(path, line)}: aligned({attr.arguments}) is not a power of 2",
                        field=path or None,
                    )
                values["aligned"] = max(values.get("aligned", 0), n)
        return values

    def _attr_argument(self, text: str, path: str, line: int) -> int:
        simple = _int_constant(text)
        if simple is not None:
            return simple[0]
        known = set(_BUILTIN_TYPEDEFS) | set(self._typedefs) | self._unknown
        names = sorted(known.intersection(re.findall(r"[A-Za-z_$][\w$]*", text)))
        prelude = "".join(f"typedef int {n};\n" for n in names)
        try:
            tree = c_parser.CParser(dialect="c23").parse(f"{prelude}int __v = ({text});")
        except c_parser.ParseError as err:
            raise SchemaError(f"{_where(path, line)}: cannot parse attribute argument "
                              f"{text!r}", field=path or None) from err  # fmt: skip
        return self.constant(tree.ext[-1].init, path, line)

    def _enum_type(self, node: Any, path: str, line: int) -> _Scalar:
        cached = self._enum_cache.get(id(node))
        if cached is not None:
            return cached
        if id(node) in self._in_progress:
            raise SchemaError(f"line {_line(node)}: enum values refer to themselves")
        self._in_progress.add(id(node))
        try:
            names: dict[int, str] = {}
            value: _CInt = (-1, 32, False)
            for enumerator in node.values.enumerators:
                if not isinstance(enumerator, c_ast.Enumerator):
                    continue
                eline = _line(enumerator) or line
                if enumerator.value is not None:
                    v = self.constant(enumerator.value, path, eline)
                else:
                    v = value[0] + 1
                value = (v, 32, False) if -(2**31) <= v < 2**31 else (v, 64, v >= 2**63)
                self._enum_values[enumerator.name] = value
                names.setdefault(v, enumerator.name)
        finally:
            self._in_progress.discard(id(node))
        attrs = _flatten_attrs(node.attributes or []) + _flatten_attrs(
            self._tag_attrs.get(id(node), [])
        )
        label = f"enum {node.name}" if node.name else "enum"
        if node.underlying_type is not None:
            base = self.resolve(node.underlying_type, path, line)
            if not isinstance(base, _Scalar) or base.kind not in "iu":
                raise SchemaError(f"line {_line(node)}: {label} needs an integer underlying "
                                  "type")  # fmt: skip
            kind, size = base.kind, base.size
        else:
            lo, hi = min(names, default=0), max(names, default=0)
            sizes = (1, 2, 4, 8) if "packed" in self._attr_values(attrs, path, line) else (4, 8)
            kind = "u" if lo >= 0 else "i"
            for size in sizes:
                bits = size * 8
                if (kind == "u" and hi < 1 << bits) or (
                    kind == "i" and -(1 << (bits - 1)) <= lo and hi < 1 << (bits - 1)
                ):
                    break
            else:
                raise SchemaError(f"line {_line(node)}: {label} values do not fit 64 bits")
        result = _Scalar(kind, size, size, label, tuple(sorted(names.items())))
        self._enum_cache[id(node)] = result
        return result

    # -- aggregates -----------------------------------------------------------

    def layout(self, node: Any, path: str, line: int = 0) -> _Aggregate:
        cached = self._layouts.get(id(node))
        if cached is not None:
            return cached
        if id(node) in self._in_progress:
            raise SchemaError(
                f"{_where(path, line or _line(node))}: {self._label(node)} contains itself",
                field=path or None,
            )
        self._in_progress.add(id(node))
        try:
            result = self._layout(node, path)
        finally:
            self._in_progress.discard(id(node))
        self._layouts[id(node)] = result
        return result

    def _layout(self, node: Any, path: str) -> _Aggregate:
        union = isinstance(node, c_ast.Union)
        label = self._label(node)
        attrs = self._attr_values(
            _flatten_attrs(node.attributes or [])
            + _flatten_attrs(self._tag_attrs.get(id(node), [])),
            path,
            _line(node),
        )
        order = {1: "<", 2: ">"}.get(attrs.get("scalar_storage_order", 0))
        members: list[_Member] = []
        offset = size = 0
        align = 1
        anonymous = 0
        for decl in node.decls:
            if not isinstance(decl, c_ast.Decl):
                continue  # _Static_assert (collected with the others), #pragma
            line = _line(decl) or _line(decl.bitsize) or _line(decl.type)
            mpath = _join(path, decl.name) if decl.name else path
            if decl.bitsize is not None:
                bits = self.constant(decl.bitsize, mpath, line)
                name = decl.name or "(unnamed)"
                raise SchemaError(
                    f"{_where(mpath, line)}: bitfields are not supported ({name} : {bits}); "
                    "declare the containing integer instead (e.g. uint32_t flags;) and "
                    "decode the bits from it",
                    field=mpath or None,
                )
            if decl.name is None:
                inner = decl.type
                while isinstance(inner, c_ast.AttributedType):
                    inner = inner.type
                if not (
                    isinstance(inner, (c_ast.Struct, c_ast.Union))
                    and inner.name is None
                    and inner.decls is not None
                ):
                    continue  # `struct tag {...};` or `enum {...};` inside: declares no member
            ctype = self.resolve(decl.type, mpath, line)
            decl_attrs = self._attr_values(
                _flatten_attrs(decl.attributes or [])
                + _flatten_attrs(_declarator_attrs(decl.type)),
                mpath,
                line,
            )
            user_align = decl_attrs.get("aligned", 0)
            for alignas in decl.align or []:
                target = alignas.alignment
                n = (
                    self.resolve(target, mpath, line).align
                    if isinstance(target, c_ast.Typename)
                    else self.constant(target, mpath, line)
                )
                user_align = max(user_align, n)
            pack = self._pre.pack_at(line)
            if self._packed:
                # gcc -fpack-struct: packed, and #pragma pack no longer caps aligned()
                field_align = user_align or 1
            elif "packed" in attrs or "packed" in decl_attrs:
                field_align = user_align or 1  # GCC: packed, unless aligned() asks more
            else:
                field_align = max(ctype.align, user_align)
            if pack is not None and not self._packed:
                field_align = min(field_align, pack)
            moffset = 0 if union else _roundup(offset, field_align)
            offset = moffset + ctype.size
            size = max(size, offset)
            align = max(align, field_align)
            if decl.name is not None:
                members.append(_Member(decl.name, ctype, moffset, line))
            elif (
                isinstance(ctype, _Aggregate) and ctype.union == union and ctype.byteorder == order
            ):
                members.extend(replace(m, offset=moffset + m.offset) for m in ctype.members)
            else:
                members.append(_Member(f"_anon{anonymous}", ctype, moffset, line, True))
                anonymous += 1
        if not members:
            raise SchemaError(
                f"{_where(path, _line(node))}: {label} has no members (an empty struct has "
                "no size in standard C)",
                field=path or None,
            )
        seen: dict[str, int] = {}
        for cname, cline in _visible_names(members):
            if cname in seen:
                dup = _join(path, cname)
                raise SchemaError(
                    f"{_where(dup, cline)}: duplicate member {cname!r} in {label} (first at "
                    f"line {seen[cname]})",
                    field=dup,
                )
            seen[cname] = cline
        align = max(align, attrs.get("aligned", 1))
        size = _roundup(size, align)
        if size > _MAX_NBYTES:
            raise SchemaError(
                f"{_where(path, _line(node))}: {label} of {size:,} bytes is too large for a "
                f"numpy dtype (at most {_MAX_NBYTES:,} bytes)",
                field=path or None,
            )
        return _Aggregate(union, label, tuple(members), size, align, order)

    def check_static_asserts(self) -> None:
        for node in self._asserts:
            line = _line(node)
            try:
                ok = self.constant(node.cond, "", line)
            except SchemaError:
                continue  # checks what we cannot evaluate (e.g. sizeof an expression)
            if not ok:
                message = node.message.value if node.message is not None else ""
                raise SchemaError(f"line {line}: static assertion failed {message}".rstrip())


# --------------------------------------------------------------------------
# numpy
# --------------------------------------------------------------------------


def _scalar_dtype(scalar: _Scalar, byteorder: str) -> np.dtype[Any]:
    if scalar.kind == "b":
        return np.dtype("?")
    if scalar.kind == "S":
        return np.dtype("S1")
    if scalar.size == 1:
        return np.dtype(f"|{scalar.kind}1")
    return np.dtype(f"{byteorder}{scalar.kind}{scalar.size}")


def _to_dtype(
    ctype: _CType,
    path: str,
    byteorder: str,
    unions: set[str],
    enums: dict[str, dict[int, str]],
    scalar_order: str | None = None,
) -> np.dtype[Any]:
    """The numpy dtype of a C type; ``byteorder`` is the dump's, ``scalar_order``
    the enclosing struct's scalar_storage_order (GCC: it reaches scalar and
    array-of-scalar members only, never nested structs)."""
    if isinstance(ctype, _Scalar):
        if ctype.names is not None:
            enums[path] = dict(ctype.names)
        return _scalar_dtype(ctype, scalar_order or byteorder)
    if isinstance(ctype, _Array):
        elem = ctype.elem
        if isinstance(elem, _Scalar) and elem.kind == "S":
            chars = np.dtype(f"S{ctype.shape[-1]}")
            return chars if len(ctype.shape) == 1 else np.dtype((chars, ctype.shape[:-1]))
        inner = _to_dtype(elem, path, byteorder, unions, enums, scalar_order)
        return np.dtype((inner, ctype.shape))
    # members of no bytes (int x[0]) are no fields: numpy would put them at the
    # offset of the next one, and no value can be read from them
    members = [m for m in ctype.members if m.ctype.size]
    if ctype.union and len(members) > 1:
        # a one-member union is a struct (and from_dtype, which sees overlap
        # only, agrees)
        unions.add(path)
    return np.dtype(
        {
            "names": [m.name for m in members],
            "formats": [
                _to_dtype(m.ctype, _join(path, m.name), byteorder, unions, enums, ctype.byteorder)
                for m in members
            ],
            "offsets": [m.offset for m in members],
            "itemsize": ctype.size,
        }
    )


def parse_c(
    source: str, name: str | None = None, *, byteorder: str = "<", packed: bool = False
) -> CLayout:
    """Lay out a C ``struct`` (or ``union``) from its declarations, as GCC would.

    Parameters
    ----------
    source : str
        C source text: a header or declarations. ``<stdint.h>`` types are known
        without an ``#include``; see the module docstring for the supported C.
    name : str, optional
        The record to lay out: a struct or union tag (``"utmp"`` or
        ``"struct utmp"``) or a ``typedef`` name. Needed when the source defines
        several structs or unions at file scope.
    byteorder : {"<", ">", "="}
        Byte order of every multi-byte number in the records (``"="``: native).
    packed : bool
        Lay out as ``gcc -fpack-struct`` does, as if every struct and union
        were ``__attribute__((packed))``: no padding between members, unless
        an ``aligned`` attribute or ``_Alignas`` in the source asks for it.

    Returns
    -------
    CLayout
        The dtype (``itemsize == sizeof``), the dotted paths of union fields and
        the enum names of enum-typed fields.

    Raises
    ------
    SchemaError
        For anything recview cannot lay out exactly as the compiler does: an
        unknown type or identifier, a bitfield, a flexible array member, a
        ``long double``, several structs and no ``name``, unparsable C... The
        message gives the C line and the dotted field path (also in
        ``err.field``).

    Examples
    --------
    >>> layout = parse_c('''
    ...     #define NAME_LEN 6
    ...     enum side { BUY = 1, SELL = 2 };
    ...     struct tick {
    ...         uint64_t ts;            /* nanoseconds */
    ...         char name[NAME_LEN];
    ...         enum side side;         /* 4 bytes, 4-aligned */
    ...         union { float f; int32_t i; } px;
    ...     };
    ... ''')
    >>> layout.dtype.itemsize, layout.dtype.fields["side"][1], layout.dtype.fields["px"][1]
    (24, 16, 20)
    >>> layout.dtype["name"], layout.unions, layout.enums["side"]
    (dtype('S6'), frozenset({'px'}), {1: 'BUY', 2: 'SELL'})
    >>> parse_c("struct p { char c; uint32_t n; };", packed=True, byteorder=">").dtype
    dtype([('c', 'S1'), ('n', '>u4')])
    """
    if byteorder not in ("<", ">", "="):
        raise SchemaError(f"byteorder must be '<', '>' or '=', got {byteorder!r}")
    if not isinstance(source, str):
        raise SchemaError(f"C source must be a str, got {type(source).__name__}")
    pre, ast, unknown = _front_end(source, byteorder)
    model = _Model(ast, unknown, pre, packed=packed)
    record = model.layout(model.select(name), "")
    if record.size == 0:
        raise SchemaError(
            f"C source: {record.label} has size 0 (all its members are zero-length "
            "arrays): there are no bytes to read"
        )
    model.check_static_asserts()
    unions: set[str] = set()
    enums: dict[str, dict[int, str]] = {}
    dtype = _to_dtype(record, "", byteorder, unions, enums)
    return CLayout(dtype, frozenset(unions), enums)
