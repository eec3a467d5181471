"""C integer constant expressions: typed values and their evaluation.

A value carries its C type as ``(value, bits, unsigned)`` (:data:`_CInt`), so
that unsigned wrap-around, the usual arithmetic conversions and truncating
division come out as GCC computes them. :class:`_Evaluator` walks a pycparser
expression tree (array sizes, enum values, ``#if`` conditions, attribute
arguments); it resolves identifiers and type names through callbacks, so it
needs no symbol table of its own. Nothing is ever passed to :func:`eval`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pycparser import c_ast

from recview._c.types import (
    _Aggregate,
    _Array,
    _CType,
    _find_member,
    _label_of,
    _Scalar,
    _visible_names,
)
from recview.errors import SchemaError

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


def _member_offset(
    ctype: _CType, name: str, fail: Callable[[str], SchemaError]
) -> tuple[_CType, int]:
    if not isinstance(ctype, _Aggregate):
        raise fail(f"offsetof: '{_label_of(ctype)}' has no member '{name}'")
    found = _find_member(ctype, name)
    if found is None:
        if name in {n for n, _ in _visible_names(ctype.members)}:
            # GCC: "attempt to take address of bit-field"
            raise fail(f"offsetof: '{name}' in {ctype.label} is a bit-field, which has no offset")
        raise fail(f"offsetof: {ctype.label} has no member '{name}'")
    return found
