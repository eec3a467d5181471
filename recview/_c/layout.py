"""The layout engine: where each member of a struct or union goes, as GCC places it.

:class:`_LayoutEngine` turns the declarations a
:class:`~recview._c.parse._SymbolTable` holds into laid-out types: it resolves
declarators to C types (arrays, typedefs, enums sized by GCC's rules),
evaluates the constants that sizes depend on, reads the attributes that change
a layout (``packed``, ``aligned``, ``_Alignas``, ``scalar_storage_order``, and
``#pragma pack`` from the preprocessor), and lays out each aggregate. The
placement of one member is one step, :meth:`_LayoutEngine._place`, over a
:class:`_LayoutState` (current offset, size, alignment, packing); the
aggregate's size and alignment are closed by :meth:`_LayoutEngine._finish`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pycparser import c_ast, c_parser

from recview._c.consteval import _CInt, _Evaluator, _int_constant
from recview._c.parse import _line, _SymbolTable, _where
from recview._c.preprocess import _Preprocessor
from recview._c.types import (
    _BUILTIN_TYPEDEFS,
    _POINTER,
    _WIDE_FLOATS,
    _Aggregate,
    _array_of,
    _base_type,
    _BitField,
    _BitRun,
    _CType,
    _label_of,
    _Member,
    _Scalar,
    _visible_names,
)
from recview._vocab import join_path, round_up
from recview.errors import SchemaError

_MAX_ALIGN = 16  # __attribute__((aligned)) with no argument: the largest alignment (x86-64)
_STORAGE_ORDERS = {"default": 0, "little-endian": 1, "big-endian": 2}
_MAX_NBYTES = 2**31 - 1  # numpy keeps dtype sizes and subarray dimensions in a C int


def _declarator_attrs(node: Any) -> list[Any]:
    """Attributes written on a declarator chain (after the name, ``*`` or ``]``),
    and after a scalar type name (``__u64 __attribute__((aligned(8))) x``, Linux's
    ``__aligned_u64``: GCC applies those to the declaration)."""
    attrs: list[Any] = []
    while isinstance(node, (c_ast.TypeDecl, c_ast.ArrayDecl, c_ast.PtrDecl, c_ast.AttributedType)):
        if isinstance(node, c_ast.AttributedType):
            if not isinstance(node.type, c_ast.IdentifierType):
                break  # attributes of a struct/union/enum definition are the type's
            attrs.extend(node.attributes or [])
        else:
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


@dataclass
class _LayoutState:
    """How far the layout of one struct or union has got (see ``_place``)."""

    union: bool
    packed: bool  # __attribute__((packed)) on the aggregate itself
    pack: int | None = None  # #pragma pack in effect at the member being placed (None: none)
    offset: int = 0  # byte just past the last member placed
    size: int = 0  # bytes used so far: the largest end of a member
    align: int = 1  # the largest member alignment so far
    bitpos: int | None = None  # bit just past the last member, if that was a bitfield


@dataclass(frozen=True)
class _PendingMember:
    """A member whose type is resolved, waiting for its offset (see ``_place``)."""

    ctype: _CType
    line: int
    user_align: int = 0  # aligned(N) / _Alignas on the member; 0: none
    packed: bool = False  # __attribute__((packed)) on the member


class _LayoutEngine:
    """Sizes, alignments and offsets of the types of one C source.

    ``packed`` is ``parse_c(packed=True)`` (``gcc -fpack-struct``). Layouts and
    enum types are computed once per definition and cached by node.
    """

    def __init__(self, symbols: _SymbolTable, pre: _Preprocessor, *, packed: bool) -> None:
        self._symbols = symbols
        self._pre = pre
        self._packed = packed
        self._enum_cache: dict[int, _Scalar] = {}
        self._layouts: dict[int, _Aggregate] = {}
        self._in_progress: set[int] = set()
        self._typedefs_in_progress: set[str] = set()

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
        if name not in self._symbols.enum_values:
            enum = self._symbols.enumerators.get(name)
            if enum is None:
                raise SchemaError(
                    f"{_where(path, line)}: unknown identifier {name!r} in a constant "
                    "expression (not a #define constant or an enum value)",
                    field=path or None,
                )
            self._enum_type(enum, path, line)
        return self._symbols.enum_values[name]

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
                defn = self._symbols.tag(kind, node.name, path, line)
            return self.layout(defn, path, line)
        if isinstance(node, c_ast.Enum):
            defn = node if node.values is not None else self._symbols.tag("enum", node.name, path,
                                                                  line)  # fmt: skip
            return self._enum_type(defn, path, line)
        what = {
            "BitIntType": "_BitInt(N) is not supported",
            "TypeOf": "typeof is not supported",
        }.get(type(node).__name__, f"unsupported C construct {type(node).__name__}")
        raise SchemaError(f"{_where(path, line)}: {what}", field=path or None)

    def _named(self, names: Sequence[str], path: str, line: int) -> _CType:
        if len(names) == 1 and names[0] in self._symbols.typedefs:
            return self._typedef(names[0], path)
        if len(names) == 1 and names[0] in _BUILTIN_TYPEDEFS:
            return _BUILTIN_TYPEDEFS[names[0]]
        refused = (*_WIDE_FLOATS, "__int128_t", "__uint128_t")
        if len(names) == 1 and names[0] in self._symbols.unknown and names[0] not in refused:
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
        typedef = self._symbols.typedefs[name]
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
        known = set(_BUILTIN_TYPEDEFS) | set(self._symbols.typedefs) | self._symbols.unknown
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
                self._symbols.enum_values[enumerator.name] = value
                names.setdefault(v, enumerator.name)
        finally:
            self._in_progress.discard(id(node))
        attrs = _flatten_attrs(node.attributes or []) + _flatten_attrs(
            self._symbols.tag_attrs.get(id(node), [])
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
                f"{_where(path, line or _line(node))}: {self._symbols.label(node)} contains itself",
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
        label = self._symbols.label(node)
        attrs = self._attr_values(
            _flatten_attrs(node.attributes or [])
            + _flatten_attrs(self._symbols.tag_attrs.get(id(node), [])),
            path,
            _line(node),
        )
        order = {1: "<", 2: ">"}.get(attrs.get("scalar_storage_order", 0))
        members: list[_Member] = []
        state = _LayoutState(union=union, packed="packed" in attrs)
        anonymous = 0
        run: list[_BitField] = []  # the bitfields whose bytes touch, not yet a member
        for decl in node.decls:
            if not isinstance(decl, c_ast.Decl):
                continue  # _Static_assert (collected with the others), #pragma
            line = _line(decl) or _line(decl.bitsize) or _line(decl.type)
            mpath = join_path(path, decl.name) if decl.name else path
            if decl.bitsize is not None:
                self._bitfield(decl, mpath, line, state, run, members)
                continue
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
            state.pack = self._pre.pack_at(line)
            pending = _PendingMember(ctype, line, user_align, packed="packed" in decl_attrs)
            moffset = self._place(pending, state)
            if run and not union:
                members.append(_flush(run))
            if decl.name is not None:
                members.append(_Member(decl.name, ctype, moffset, line))
            elif (
                isinstance(ctype, _Aggregate) and ctype.union == union and ctype.byteorder == order
            ):
                members.extend(replace(m, offset=moffset + m.offset) for m in ctype.members)
            else:
                members.append(_Member(f"_anon{anonymous}", ctype, moffset, line, True))
                anonymous += 1
        if run:
            members.append(_flush(run))
        if union:
            members = _merge_runs(members)
        if not members and not state.size:  # only unnamed bitfields: GCC sizes them
            raise SchemaError(
                f"{_where(path, _line(node))}: {label} has no members (an empty struct has "
                "no size in standard C)",
                field=path or None,
            )
        seen: dict[str, int] = {}
        for cname, cline in _visible_names(members):
            if cname in seen:
                dup = join_path(path, cname)
                raise SchemaError(
                    f"{_where(dup, cline)}: duplicate member {cname!r} in {label} (first at "
                    f"line {seen[cname]})",
                    field=dup,
                )
            seen[cname] = cline
        size, align = self._finish(state, attrs.get("aligned", 1))
        if size > _MAX_NBYTES:
            raise SchemaError(
                f"{_where(path, _line(node))}: {label} of {size:,} bytes is too large for a "
                f"numpy dtype (at most {_MAX_NBYTES:,} bytes)",
                field=path or None,
            )
        return _Aggregate(union, label, tuple(members), size, align, order)

    def _bitfield(
        self,
        decl: Any,
        mpath: str,
        line: int,
        state: _LayoutState,
        run: list[_BitField],
        members: list[_Member],
    ) -> None:
        """Check one bitfield declaration as GCC does, then place it (:meth:`_place_bits`)."""
        name = decl.name
        shown = repr(name) if name else "(unnamed)"
        width = self.constant(decl.bitsize, mpath, line)
        ctype = self.resolve(decl.type, mpath, line)
        fail = self._fail(mpath, line)
        if (
            not isinstance(ctype, _Scalar)
            or ctype.kind not in "iubS"
            or ctype is _POINTER
            or ctype.cname == "pointer"
        ):
            raise fail(f"bit-field {shown} has invalid type '{_label_of(ctype)}' (a bitfield "
                       "is an integer, _Bool or enum type)")  # fmt: skip
        nbits = 1 if ctype.kind == "b" else 8 * ctype.size
        if width < 0:
            raise fail(f"negative width in bit-field {shown} ({width})")
        if width == 0 and name is not None:
            raise fail(f"zero width for bit-field {shown} (only an unnamed bitfield may be :0)")
        if width > nbits:
            raise fail(f"width of {shown} ({width} bits) exceeds its type "
                       f"('{ctype.cname}', {nbits} bits)")  # fmt: skip
        if decl.align:
            raise fail(f"alignment specified for bit-field {shown} (_Alignas)")
        decl_attrs = self._attr_values(
            _flatten_attrs(decl.attributes or []) + _flatten_attrs(_declarator_attrs(decl.type)),
            mpath,
            line,
        )
        state.pack = self._pre.pack_at(line)
        packed = self._packed or state.packed or "packed" in decl_attrs
        pos = self._place_bits(
            ctype, width, name is not None, packed, decl_attrs.get("aligned", 0), state
        )
        if name is None:
            return  # unnamed: the bits are padding
        if run and not state.union:
            end = max(b.bitpos + b.width for b in run)
            if pos // 8 >= -(-end // 8):
                members.append(_flush(run))  # no byte shared with the run before
        run.append(_BitField(name, ctype, pos, width, line))

    def _place_bits(
        self,
        ctype: _Scalar,
        width: int,
        named: bool,
        packed: bool,
        user_align: int,
        state: _LayoutState,
    ) -> int:
        """Place one bitfield: return its first bit (from the aggregate's start,
        in allocation order) and advance ``state`` past it.

        GCC's rules for x86-64 System V (``PCC_BITFIELD_TYPE_MATTERS``), which its
        big-endian LP64 targets (s390x, powerpc64) share, numbering the bits from
        the most significant bit of the first byte instead:

        * A bitfield goes at the first free bit, right after the previous member
          (sharing its last byte if that was a bitfield), unless it would then
          cross a boundary of its type's alignment (a 32-bit ``int`` field may
          not straddle a multiple of 32 bits): then it goes at that boundary.
        * ``packed`` (on the member or the aggregate, or ``-fpack-struct``) and
          ``#pragma pack`` drop that rule: the field takes the next bits
          wherever they are. ``aligned(N)`` on the member starts it at a
          multiple of ``N`` bytes first (``aligned(1)``: the next byte).
        * A named bitfield raises the aggregate's alignment to its type's
          alignment (at least an ``aligned(N)`` on it): capped by ``#pragma
          pack``, else 1 when packed. Unnamed bitfields do not change it.
        * An unnamed ``:0`` moves to the next boundary of its type's alignment,
          whatever the packing, and takes no bits.
        * In a union every bitfield starts at bit 0.
        """
        talign = 8 * ctype.align
        pos = state.bitpos if state.bitpos is not None else 8 * state.offset
        if state.union:
            pos = 0
        pack = None if self._packed else state.pack
        if width == 0:
            if not state.union:
                pos = round_up(pos, talign)
        else:
            if user_align:  # aligned(1) too: a byte boundary; #pragma pack caps it
                pos = round_up(pos, 8 * (min(user_align, pack) if pack else user_align))
            if not packed and pack is None and pos % talign + width > 8 * ctype.size:
                pos = round_up(pos, talign)
        if named:
            # GCC's update_alignment_for_field: #pragma pack caps the type's
            # alignment and then packed no longer lowers it to 1
            if pack is not None:
                falign = min(max(ctype.align, user_align), pack)
            else:
                falign = max(1 if packed else ctype.align, user_align)
            state.align = max(state.align, falign)
        end = pos + width
        if not state.union:
            state.bitpos = end
            state.offset = -(-end // 8)
        state.size = max(state.size, -(-end // 8))
        return pos

    def _place(self, member: _PendingMember, state: _LayoutState) -> int:
        """Place one member: return its byte offset and advance ``state`` past it.

        The rules of GCC (and Clang) for x86-64 System V and the other LP64
        targets, as implemented:

        * A member's alignment is its type's: a scalar's is its size (a
          pointer's 8), an array's its element's, an aggregate's its own (an
          ``aligned`` typedef may have set it either way, as GCC allows).
          ``aligned(N)`` or ``_Alignas`` on the member raises it, never lowers it.
        * ``packed`` on the member or on the enclosing aggregate makes it 1,
          unless ``aligned``/``_Alignas`` on the member asks for more.
          ``parse_c(packed=True)`` (``gcc -fpack-struct``) does the same for
          every aggregate.
        * ``#pragma pack(N)`` in effect (``state.pack``) caps the alignment at
          ``N``, ``aligned`` included; under ``-fpack-struct`` it changes nothing.
        * In a struct, the member goes at the first offset at or after the end
          of the previous member that is a multiple of its alignment; in a
          union, at 0. A member of no bytes (``int x[0]``) takes no room but
          still aligns and counts in the aggregate's alignment.
        * The aggregate's alignment is the largest of its members'
          (``state.align``); :meth:`_finish` adds the aggregate's own
          ``aligned`` and the trailing padding.

        Bitfields are placed by :meth:`_place_bits`; a member after them
        starts at the first byte they leave free (then aligned).
        """
        if self._packed:
            # gcc -fpack-struct: packed, and #pragma pack no longer caps aligned()
            field_align = member.user_align or 1
        elif state.packed or member.packed:
            field_align = member.user_align or 1  # GCC: packed, unless aligned() asks more
        else:
            field_align = max(member.ctype.align, member.user_align)
        if state.pack is not None and not self._packed:
            field_align = min(field_align, state.pack)
        offset = 0 if state.union else round_up(state.offset, field_align)
        state.bitpos = None
        state.offset = offset + member.ctype.size
        state.size = max(state.size, state.offset)
        state.align = max(state.align, field_align)
        return offset

    def _finish(self, state: _LayoutState, aligned: int) -> tuple[int, int]:
        """The aggregate's size and alignment once every member is placed.

        ``aligned`` is the aggregate's own ``aligned(N)`` (1 if none): it raises
        the alignment, and the size is padded to a multiple of the alignment
        (so that the elements of an array of the aggregate all stay aligned).
        """
        align = max(state.align, aligned)
        return round_up(state.size, align), align

    def check_static_asserts(self) -> None:
        for node in self._symbols.asserts:
            line = _line(node)
            try:
                ok = self.constant(node.cond, "", line)
            except SchemaError:
                continue  # checks what we cannot evaluate (e.g. sizeof an expression)
            if not ok:
                message = node.message.value if node.message is not None else ""
                raise SchemaError(f"line {line}: static assertion failed {message}".rstrip())


def _flush(run: list[_BitField]) -> _Member:
    """The member for a run of bitfields (emptying ``run``): the bytes from the
    first one's first bit to the last one's last, bit positions made relative."""
    start = min(b.bitpos for b in run) // 8
    end = -(-max(b.bitpos + b.width for b in run) // 8)
    fields = tuple(replace(b, bitpos=b.bitpos - 8 * start) for b in run)
    run.clear()
    return _Member("", _BitRun(fields, end - start), start, fields[0].line, True)


def _merge_runs(members: list[_Member]) -> list[_Member]:
    """A union's bitfields all start at its first byte: those of anonymous unions
    flattened into it too. One storage field holds them all (bit positions
    count from the same first bit, so only the size changes)."""
    runs = [m for m in members if isinstance(m.ctype, _BitRun)]
    if len(runs) < 2:
        return members
    fields = tuple(b for m in runs for b in m.ctype.fields)  # type: ignore[union-attr]
    size = max(m.ctype.size for m in runs)
    merged = _Member("", _BitRun(fields, size), 0, runs[0].line, True)
    rest = [m for m in members if not isinstance(m.ctype, _BitRun)]
    return [*rest, merged]
