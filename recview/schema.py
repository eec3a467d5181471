"""Schemas: every way of describing a record compiles to one numpy structured dtype.

This module owns :class:`Schema` (immutable, hashable, picklable), the
declarative :class:`Record` base class and its type atoms (``u64``, ``f32be``,
``bytes_(n)``, ``pad(n)``, ``array(t, n)``...), and the conversions from and to
numpy dtypes, ``construct`` structs, C declarations (via the private
:mod:`recview._c`) and a stable JSON form. It knows nothing about files.

The JSON form (``version`` 1) is::

    {"format": "recview.schema", "version": 1, "itemsize": 32,
     "fields": [{"name": "ts", "offset": 0, "type": "<u8"},
                {"name": "px", "offset": 8, "type": "<f4", "shape": [2]},
                {"name": "hdr", "offset": 16,
                 "type": {"itemsize": 16, "fields": [...]}}],
     "unions": ["hdr"],                 # optional: fields whose members overlap
     "enums": {"side": {"0": "BUY"}}}   # optional: display names of integer values

A scalar ``type`` is a numpy type string with an explicit byte order:
``<``/``>`` (or ``|`` for one-byte types) followed by ``b1``, ``i1 i2 i4 i8``,
``u1 u2 u4 u8``, ``f2 f4 f8``, ``c8 c16``, ``S<n>`` (bytes, trailing NULs
stripped on read), ``V<n>`` (raw bytes), ``U<n>`` (UCS-4 text) or
``M8[unit]``/``m8[unit]``. Bytes not covered by any field are padding.
``from_json`` parses with :func:`json.loads` and checks every value against
this grammar: it never evaluates code.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import itertools
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, TypeGuard

import numpy as np

from recview._bits import Bit, Storage, extract, value_dtype
from recview._vocab import round_up
from recview.errors import SchemaError

__all__ = [
    "FieldInfo",
    "Record",
    "Schema",
    "array",
    "as_schema",
    "bits",
    "bytes_",
    "f2",
    "f2be",
    "f2le",
    "f4",
    "f4be",
    "f4le",
    "f8",
    "f8be",
    "f8le",
    "f16",
    "f16be",
    "f16le",
    "f32",
    "f32be",
    "f32le",
    "f64",
    "f64be",
    "f64le",
    "i8",
    "i8be",
    "i8le",
    "i16",
    "i16be",
    "i16le",
    "i32",
    "i32be",
    "i32le",
    "i64",
    "i64be",
    "i64le",
    "pad",
    "u8",
    "u8be",
    "u8le",
    "u16",
    "u16be",
    "u16le",
    "u32",
    "u32be",
    "u32le",
    "u64",
    "u64be",
    "u64le",
]

_JSON_FORMAT = "recview.schema"
_JSON_VERSION = 1
# Version 2 adds bitfields ("bits" on a storage field); a schema without
# bitfields is still written as version 1, so older readers keep reading it.
_JSON_VERSION_BITS = 2
# numpy kinds a record field may have: fixed-size, no Python objects.
_ALLOWED_KINDS = frozenset("biufcSUVMm")
_SCALAR_RE = re.compile(
    r"^(?:[<>|=]?(?:b1|[iu][1248]|f[248]|c(?:8|16))|\|?[SV][1-9][0-9]{0,9}"
    r"|[<>=]?U[1-9][0-9]{0,9}|[<>=]?[Mm]8(?:\[[0-9]*[a-zA-Z]{1,2}\])?)$"
)
# A schema bigger than this is surely a mistake (and numpy refuses near 2**31).
_MAX_ITEMSIZE = 1 << 30
# Nested records deeper than this are surely a mistake (and recursion has limits).
_MAX_DEPTH = 64


# ---------------------------------------------------------------------------
# Type atoms for the declarative Record class
# ---------------------------------------------------------------------------

# Sized in bits, little-endian unless suffixed ``be``; ``f2 f4 f8`` are numpy's
# byte-size spellings of the floats.
i8, i16, i32, i64 = (np.dtype(f"<i{n}") for n in (1, 2, 4, 8))
u8, u16, u32, u64 = (np.dtype(f"<u{n}") for n in (1, 2, 4, 8))
f16, f32, f64 = (np.dtype(f"<f{n}") for n in (2, 4, 8))
f2, f4, f8 = f16, f32, f64
i8le, i16le, i32le, i64le = i8, i16, i32, i64
u8le, u16le, u32le, u64le = u8, u16, u32, u64
f16le, f32le, f64le = f16, f32, f64
f4le, f8le = f32, f64
i8be, i16be, i32be, i64be = (np.dtype(f">i{n}") for n in (1, 2, 4, 8))
u8be, u16be, u32be, u64be = (np.dtype(f">u{n}") for n in (1, 2, 4, 8))
f16be, f32be, f64be = (np.dtype(f">f{n}") for n in (2, 4, 8))
f2be, f4be, f8be = f16be, f32be, f64be
f2le = f16


@dataclasses.dataclass(frozen=True)
class _Pad:
    nbytes: int


def bytes_(n: int) -> np.dtype[Any]:
    """A fixed-size byte string of ``n`` bytes (numpy ``S<n>``; trailing NULs
    are stripped on read, as C ``char[n]`` text usually wants).

    ``bytes_(0)`` takes no bytes and, in a :class:`Record`, is no field (as
    construct's ``Bytes(0)`` and C's ``char x[0]``): computed sizes may reach 0.

    Examples
    --------
    >>> import recview as rv
    >>> class Tick(rv.Record):
    ...     sym: rv.bytes_(8)
    ...     px: rv.f64
    >>> Tick.schema.itemsize
    16
    """
    n = _size(n, "bytes_(n)")
    return np.dtype(f"S{n}")


def pad(n: int) -> _Pad:
    """``n`` bytes of padding: skipped, not a field. ``pad(0)`` is no padding
    (as construct's ``Padding(0)``): layouts that compute their padding may reach 0.

    Examples
    --------
    >>> import recview as rv
    >>> class R(rv.Record):
    ...     a: rv.u8
    ...     _gap: rv.pad(3)
    ...     b: rv.u32
    >>> R.schema.dtype.fields["b"][1], R.schema.names
    (4, ('a', 'b'))
    """
    return _Pad(_size(n, "pad(n)"))


def array(t: Any, n: int | Sequence[int]) -> _Array:
    """A fixed-size array of ``n`` items of type ``t`` (``n`` may be a shape).

    An array of no items (a 0 anywhere in the shape) takes no bytes and, in a
    :class:`Record`, is no field (as construct's ``Array(0, t)``); in an aligned
    Record it still aligns the next field to ``t``, as C's ``t x[0]`` does.

    Examples
    --------
    >>> import recview as rv
    >>> class R(rv.Record):
    ...     xyz: rv.array(rv.f32, 3)
    ...     grid: rv.array(rv.u8, (2, 4))
    >>> R.schema.itemsize
    20
    """
    shape = tuple(n) if isinstance(n, (tuple, list)) else (n,)
    if not shape:
        raise SchemaError("array(t, n): n must be a non-negative size or a non-empty shape")
    dims = tuple(_size(k, "array(t, n)") for k in shape)
    if isinstance(t, _BitsType):
        raise SchemaError("array(t, n): an array of bits(...) is not supported; nest a Record")
    item = t.schema if isinstance(t, type) and issubclass(t, Record) else t
    return _Array(
        np.dtype((_atom_dtype(t, "array item"), dims)),
        _atom_alignment(t),
        item if isinstance(item, Schema) else None,
    )


@dataclasses.dataclass(frozen=True)
class _Array:
    """An ``array(t, n)`` field type: the dtype plus its item's C alignment
    (and its item's schema, whose bitfields the array's elements keep)."""

    dtype: np.dtype[Any]
    alignment: int
    item: Schema | None = None


@dataclasses.dataclass(frozen=True)
class _BitsType:
    """A ``bits(storage, ...)`` field type: the storage dtype and its bitfields."""

    dtype: np.dtype[Any]
    storage: Storage


def bits(storage: Any, /, **widths: int) -> _BitsType:
    """One integer storage unit split into named bitfields, least significant bit first.

    The fields take ``widths`` bits each, in keyword order, from bit 0 of the
    storage *value* up: for a big-endian storage (``rv.u16be``) the numbering
    follows the 16-bit value, so the first field is bit 0 of the value in
    either byte order. Names starting with ``_`` (``_``, ``_1``, ``_spare``)
    are unused bits, not fields. A signed storage (``rv.i16``) gives signed
    (sign-extended) bitfields. The storage field itself is no leaf: its
    bitfields are, as ``"flags.fin"``; read them with :meth:`Schema.get`.

    Parameters
    ----------
    storage : integer type
        ``rv.u8`` .. ``rv.u64be``, ``rv.i8`` .. ``rv.i64be``.
    **widths : int
        Bitfield name to width in bits (at least 1); together at most the
        storage's bits.

    Raises
    ------
    SchemaError
        ``storage`` is no integer type, a width is not a positive integer, or
        the widths need more bits than the storage has; the message names the
        field.

    Examples
    --------
    >>> import numpy as np, recview as rv
    >>> class Tcp(rv.Record):
    ...     seq: rv.u32be
    ...     flags: rv.bits(rv.u16be, fin=1, syn=1, rst=1, psh=1, ack=1, urg=1, _=10)
    >>> raw = np.array([(7, 0b010010)], dtype=Tcp.schema.dtype)
    >>> Tcp.schema.get(raw, "flags.syn"), Tcp.schema.get(raw, "flags.ack")
    (array([1], dtype=uint8), array([1], dtype=uint8))
    >>> [f.path for f in Tcp.schema.fields()][:3]
    ['seq', 'flags.fin', 'flags.syn']
    """
    dt = storage if isinstance(storage, np.dtype) else None
    if dt is None or dt.kind not in "iu" or dt.itemsize not in (1, 2, 4, 8):
        raise SchemaError(
            f"bits(storage, ...): storage must be an integer type (rv.u8 .. rv.u64be, "
            f"rv.i8 .. rv.i64be), got {storage!r}"
        )
    total = 8 * dt.itemsize
    fields: list[Bit] = []
    pos = 0
    for name, width in widths.items():
        if not _is_int(width) or width < 1:
            raise SchemaError(
                f"bitfield {name!r}: width must be a positive integer, got {width!r}", field=name
            )
        if pos + width > total:
            raise SchemaError(
                f"bitfield {name!r}: bits {pos}..{pos + int(width) - 1} do not fit the "
                f"{total}-bit storage {dt.str} (the widths add up to "
                f"{sum(int(w) for w in widths.values())} bits)",
                field=name,
            )
        if not name.startswith("_"):
            fields.append(Bit(name, pos, int(width), dt.kind == "i"))
        pos += int(width)
    if not fields:
        raise SchemaError(
            "bits(storage, ...): no named bitfields (names starting with '_' are unused bits)"
        )
    order = ">" if dt.byteorder == ">" else "<"
    # the storage is stored unsigned (the bitfields carry the signedness): one
    # spelling per layout, the one construct's BitStruct gives back
    unsigned = np.dtype(dt.str.replace("i", "u"))
    return _BitsType(unsigned, Storage(tuple(fields), order))


def _size(n: object, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise SchemaError(f"{what}: expected a non-negative integer size, got {n!r}")
    if n > _MAX_ITEMSIZE:
        raise SchemaError(f"{what}: {n} bytes is too large")
    return int(n)


def _atom_dtype(t: Any, field: str) -> np.dtype[Any]:
    if isinstance(t, type) and issubclass(t, Record):
        return t.schema.dtype
    if isinstance(t, _Array | _BitsType):
        return t.dtype
    if isinstance(t, Schema):
        return t.dtype
    if isinstance(t, np.dtype):
        return t
    raise SchemaError(
        f"field {field!r}: {t!r} is not a recview type (use rv.u32, rv.f64be, rv.bytes_(n), "
        "rv.array(t, n), rv.pad(n) or a Record subclass)",
        field=field,
    )


def _atom_alignment(t: Any) -> int:
    """C alignment of a field type: a nested Record's own (1 when packed)."""
    if isinstance(t, type) and issubclass(t, Record):
        return t._alignment_
    if isinstance(t, _Array):
        return t.alignment
    if isinstance(t, Schema):
        return _alignment(t.dtype)
    return _alignment(_atom_dtype(t, "field"))


_round_up = round_up


class Record:
    """Declarative schema: subclass and annotate fields with recview types.

    Fields are laid out in order and packed, unless the class asks for C
    alignment with ``class R(rv.Record, align=True)`` (each field at a multiple
    of its alignment, the record padded to the largest one). The compiled
    schema is the class attribute ``schema``.

    Examples
    --------
    >>> import recview as rv
    >>> class Trade(rv.Record):
    ...     ts: rv.u64
    ...     price: rv.f64
    ...     qty: rv.u32
    ...     side: rv.u8
    ...     _pad: rv.pad(3)
    ...     venue: rv.bytes_(8)
    >>> Trade.schema.itemsize, Trade.schema.names
    (32, ('ts', 'price', 'qty', 'side', 'venue'))
    >>> class Aligned(rv.Record, align=True):
    ...     a: rv.u8
    ...     b: rv.f64
    >>> Aligned.schema.dtype.fields["b"][1], Aligned.schema.itemsize
    (8, 16)
    """

    schema: ClassVar[Schema]
    _align_: ClassVar[bool] = False
    _alignment_: ClassVar[int] = 1

    def __init_subclass__(cls, *, align: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._align_ = align
        fields: list[tuple[str, Any]] = []
        for klass in reversed(cls.__mro__):
            if klass is Record or not issubclass(klass, Record):
                continue
            try:
                if klass is cls:
                    # String annotations (``from __future__ import annotations``)
                    # may name things local to the function defining the class:
                    # evaluate them in the frame running the class statement.
                    frame = sys._getframe(1)
                    ann = inspect.get_annotations(
                        klass,
                        globals={**frame.f_globals, **vars(sys.modules[klass.__module__])}
                        if klass.__module__ in sys.modules
                        else frame.f_globals,
                        locals=frame.f_locals,
                        eval_str=True,
                    )
                else:
                    ann = inspect.get_annotations(klass, eval_str=True)
            except Exception as err:
                raise SchemaError(
                    f"Record {cls.__name__}: cannot evaluate field annotations: {err}"
                ) from err
            fields.extend((k, v) for k, v in ann.items() if k not in ("schema", "_align_"))
        names: list[str] = []
        formats: list[np.dtype[Any]] = []
        offsets: list[int] = []
        bitmap: dict[str, Storage] = {}
        pos = 0
        max_align = 1
        for name, t in fields:
            if isinstance(t, _Pad):
                pos += t.nbytes
                continue
            dt = _atom_dtype(t, name)
            if align:
                al = _atom_alignment(t)
                max_align = max(max_align, al)
                pos = _round_up(pos, al)
            if dt.itemsize == 0:
                continue  # bytes_(0), array(t, 0): no bytes, no field (C's int x[0])
            names.append(name)
            formats.append(dt)
            offsets.append(pos)
            pos += dt.itemsize
            # bitfields: this field's own, or those of a nested record (or of
            # each element of an array of records), under this field's path
            inner = t.schema if isinstance(t, type) and issubclass(t, Record) else t
            if isinstance(inner, _Array):
                inner = inner.item
            if isinstance(inner, _BitsType):
                bitmap[name] = inner.storage
            elif isinstance(inner, Schema):
                bitmap.update((f"{name}.{p}", b) for p, b in inner.bitfields.items())
        if not names:
            raise SchemaError(f"Record {cls.__name__} declares no fields")
        itemsize = _round_up(pos, max_align) if align else pos
        cls._alignment_ = max_align
        spec = {"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize}
        dtype = _to_dtype(spec)
        cls.schema = Schema._from_parts(
            dtype, unions=frozenset(_union_paths(dtype, "")), bitfields=bitmap
        )


def _alignment(dt: np.dtype[Any]) -> int:
    """C alignment of a plain dtype. A nested structured dtype counts as
    naturally aligned (its largest member's alignment) only when its offsets
    and itemsize are consistent with that; otherwise it is packed (1)."""
    if dt.subdtype is not None:
        return _alignment(dt.subdtype[0])
    if dt.names is None:
        return int(dt.alignment)
    fields = _fields(dt)
    al = 1
    for name in dt.names:
        fdt, off = fields[name][:2]
        fal = _alignment(fdt)
        if off % fal:
            return 1
        al = max(al, fal)
    return al if dt.itemsize % al == 0 else 1


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One leaf field of a schema: what a consumer needs to read its values.

    A byte field is a scalar or an array of scalars at a byte offset. A
    bitfield is ``bit_width`` bits from bit ``bit_offset`` (least significant
    bit = 0) of its *storage* field's value; its ``offset`` and ``dtype`` are
    the storage's. Through arrays of records (``legs: Leg[2]``) a leaf is the
    member in every element (``legs.px``, shape ``(2,)``), and ``offset`` is
    that of the first element.

    Attributes
    ----------
    path : str
        Dotted path (``"hdr.ts"``, ``"legs.px"``, ``"flags.syn"``).
    offset : int
        Byte offset from the start of the record (of the first element, and
        of the storage unit for a bitfield).
    dtype : numpy.dtype
        Scalar type of one element (of the storage unit for a bitfield: an
        integer type, or ``V<n>`` for a C run of another length).
    shape : tuple of int
        Array shape (``()`` for a scalar field): the shapes of the arrays of
        records on the way, then the field's own, combined in that order.
    bit_offset : int or None
        For a bitfield, its lowest bit in the storage value; None otherwise.
    bit_width : int or None
        For a bitfield, its width in bits; None for a byte field.
    signed : bool
        For a bitfield, whether its values are sign-extended.
    storage : str or None
        For a bitfield, the dotted dtype path of its storage field (``"flags"``,
        or a hidden ``"_bits@4"`` for C bitfields); None otherwise.
    bit_order : str or None
        For a bitfield, the byte order in which the storage bytes form the
        value its bits are numbered in (``"<"`` or ``">"``).
    strides : tuple of int or None
        Bytes between elements along each axis of ``shape`` within one record
        (an array of records steps by its record size); None means C-contiguous.
        Leaves inside arrays of records are *not* contiguous: their
        ``nbytes`` are spread over :meth:`element_offsets`.
    """

    path: str
    offset: int
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    bit_offset: int | None = None
    bit_width: int | None = None
    signed: bool = False
    storage: str | None = None
    bit_order: str | None = None
    strides: tuple[int, ...] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes the field takes in each record (its storage's, for a bitfield)."""
        return int(self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64)))

    @property
    def is_bitfield(self) -> bool:
        """Whether this leaf is a bitfield (values computed, not viewed)."""
        return self.bit_width is not None

    @property
    def bit_bytes(self) -> tuple[int, int] | None:
        """For a bitfield, the record bytes ``(start, stop)`` that hold its bits
        (of the first element; a subset of the storage's ``offset`` ..
        ``offset + dtype.itemsize``); None for a byte field. What ``inspect``
        prints a bitfield under.

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_c("struct t { uint32_t id; uint16_t lo:4, mid:8, hi:4; };")
        >>> [(f.path, f.bit_offset, f.bit_bytes) for f in s.fields()][1:]
        [('lo', 0, (4, 5)), ('mid', 4, (4, 6)), ('hi', 12, (5, 6))]
        >>> s = rv.Schema.from_c("struct t { uint32_t id; uint16_t lo:4, mid:8, hi:4; };", byteorder=">")
        >>> [(f.path, f.bit_offset, f.bit_bytes) for f in s.fields()][1:]
        [('hi', 0, (5, 6)), ('mid', 4, (4, 6)), ('lo', 12, (4, 5))]
        """
        if self.bit_offset is None or self.bit_width is None:
            return None
        n = self.dtype.itemsize
        lo, hi = self.bit_offset // 8, (self.bit_offset + self.bit_width - 1) // 8
        if self.bit_order == ">":  # value byte k is storage byte n - 1 - k
            lo, hi = n - 1 - hi, n - 1 - lo
        return self.offset + lo, self.offset + hi + 1

    @property
    def value_dtype(self) -> np.dtype[Any]:
        """The type :meth:`get` returns: ``dtype``, or for a bitfield the
        smallest native integer type holding ``bit_width`` bits."""
        if self.bit_width is None:
            return self.dtype
        return value_dtype(self.bit_width, self.signed)

    def element_names(self) -> list[str]:
        """One name per scalar cell, in C order: ``path`` for a scalar field,
        ``path[i]`` or ``path[i][j]`` for an array (the column names of CSV,
        pandas and CLI tables).

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_dtype([("legs", [("px", "<f8")], (2,)), ("m", "<u1", (2, 2))])
        >>> [f.element_names() for f in s.fields()]
        [['legs.px[0]', 'legs.px[1]'], ['m[0][0]', 'm[0][1]', 'm[1][0]', 'm[1][1]']]
        """
        if not self.shape:
            return [self.path]
        return [self.path + "".join(f"[{i}]" for i in idx) for idx in np.ndindex(*self.shape)]

    def element_offsets(self) -> list[int]:
        """Byte offset from the record start of each element, in C order (the
        order of :meth:`element_names`); each element takes ``dtype.itemsize``
        bytes.

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_dtype([("t", "<u2"), ("x", [("a", "<u2"), ("b", ">f4")], (2,))])
        >>> [(f.path, f.element_offsets()) for f in s.fields()]
        [('t', [0]), ('x.a', [2, 8]), ('x.b', [4, 10])]
        """
        strides = self.strides
        if strides is None:
            strides = _c_strides(self.shape, self.dtype.itemsize)
        return [
            self.offset + sum(i * k for i, k in zip(idx, strides, strict=True))
            for idx in np.ndindex(*self.shape)
        ]

    def get(self, arr: Any) -> np.ndarray[Any, Any]:
        """This field's values in ``arr``, a structured array (or record) of
        the schema's dtype: shape ``arr.shape + self.shape``.

        A byte field gives a zero-copy strided view of ``arr``; a bitfield, a
        read-only array of :attr:`value_dtype` computed in one vectorized pass.

        Examples
        --------
        >>> import numpy as np, recview as rv
        >>> s = rv.Schema.from_dtype([("legs", [("px", "<f8"), ("qty", "<u4")], (2,))])
        >>> a = np.zeros(3, s.dtype)
        >>> px = s.fields()[0].get(a)
        >>> px.shape, np.shares_memory(px, a)
        ((3, 2), True)
        """
        values = _walk(arr, self.storage or self.path)
        if self.bit_width is None:
            view: np.ndarray[Any, Any] = values
            return view
        assert self.bit_offset is not None
        return extract(
            values, self.dtype, self.bit_order or "<", self.bit_offset, self.bit_width, self.signed
        )


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    out: list[int] = []
    step = itemsize
    for k in reversed(shape):
        out.append(step)
        step *= k
    return tuple(reversed(out))


def _walk(arr: Any, path: str) -> Any:
    """``arr["a"]["b"]...`` for a dotted dtype path: a strided view (numpy's
    field indexing reaches through arrays of records, adding their axes)."""
    for part in path.split("."):
        arr = arr[part]
    return arr


def _rebuild(
    dtype: np.dtype[Any], unions: frozenset[str], enums: Any, bitfields: Any = None
) -> Schema:
    return Schema._from_parts(dtype, unions=unions, enums=enums, bitfields=bitfields)


class Schema:
    """An immutable record layout that compiles to one numpy structured dtype.

    Build one with :meth:`from_dtype`, :meth:`from_construct`, :meth:`from_c`,
    :meth:`from_json` or a :class:`Record` subclass. ``dtype.itemsize`` is the
    on-disk record size.

    Examples
    --------
    >>> import recview as rv
    >>> s = rv.Schema.from_dtype([("ts", "<u8"), ("price", "<f8")])
    >>> s.itemsize, s.names
    (16, ('ts', 'price'))
    >>> rv.Schema.from_json(s.to_json()) == s
    True
    """

    __slots__ = ("_bitfields", "_dtype", "_enums", "_hash", "_leaves", "_unions")
    _dtype: np.dtype[Any]
    _unions: frozenset[str]
    _enums: Mapping[str, Mapping[int, str]]
    _bitfields: Mapping[str, Storage]
    _hash: int
    _leaves: tuple[tuple[FieldInfo, ...], Mapping[str, FieldInfo]] | None

    def __init__(self) -> None:
        raise TypeError("use Schema.from_dtype/from_construct/from_c/from_json or rv.Record")

    @classmethod
    def _from_parts(
        cls,
        dtype: np.dtype[Any],
        *,
        unions: frozenset[str] | Sequence[str] = frozenset(),
        enums: Mapping[str, Mapping[int, str]] | None = None,
        bitfields: Mapping[str, Storage] | None = None,
    ) -> Schema:
        unions = frozenset(unions)
        dtype = _canonical(dtype, unions, "")
        bit_map, bit_leaves = _check_bitfields(dtype, unions, bitfields or {})
        enum_map: dict[str, Mapping[int, str]] = {}
        for path, mapping in (enums or {}).items():
            # a path may run through arrays of records ("slots.kind"): it names
            # the field in every element
            leaf = _lookup_base(dtype, path)
            if path in bit_leaves:
                leaf = np.dtype("u1")  # a bitfield: an integer too
            if leaf is None or leaf.names is not None or leaf.kind not in "iub":
                raise SchemaError(
                    f"enum names given for {path!r}, which is not an integer field", field=path
                )
            enum_map[path] = MappingProxyType({int(k): str(v) for k, v in mapping.items()})
        for path in unions:
            if _lookup(dtype, path) is None:
                raise SchemaError(f"union {path!r} is not a structured field", field=path)
        self = object.__new__(cls)
        object.__setattr__(self, "_dtype", dtype)
        object.__setattr__(self, "_unions", unions)
        object.__setattr__(self, "_enums", MappingProxyType(enum_map))
        object.__setattr__(self, "_bitfields", MappingProxyType(bit_map))
        object.__setattr__(self, "_leaves", None)
        key = (
            dtype,
            unions,
            tuple(sorted((k, tuple(sorted(v.items()))) for k, v in enum_map.items())),
            tuple(sorted(bit_map.items())),
        )
        object.__setattr__(self, "_hash", hash(key))
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Schema is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Schema is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        enums = {k: dict(v) for k, v in self._enums.items()}
        if self._bitfields:
            return (_rebuild, (self._dtype, self._unions, enums, dict(self._bitfields)))
        return (_rebuild, (self._dtype, self._unions, enums))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schema):
            return NotImplemented
        return (
            self._dtype == other._dtype
            and self._unions == other._unions
            and {k: dict(v) for k, v in self._enums.items()}
            == {k: dict(v) for k, v in other._enums.items()}
            and dict(self._bitfields) == dict(other._bitfields)
        )

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        extra = ""
        if self._unions:
            extra += f", unions={sorted(self._unions)!r}"
        if self._enums:
            extra += f", enums={ {k: dict(v) for k, v in self._enums.items()}!r}"
        if self._bitfields:
            extra += f", bitfields={dict(self._bitfields)!r}"
        if extra:
            return f"Schema._from_parts(np.dtype({_dtype_spec(self._dtype)!r}){extra})"
        return f"Schema.from_dtype({_dtype_spec(self._dtype)!r})"

    # -- properties --------------------------------------------------------

    @property
    def dtype(self) -> np.dtype[Any]:
        """The compiled numpy structured dtype (``itemsize`` = record size)."""
        return self._dtype

    @property
    def itemsize(self) -> int:
        """Record size in bytes."""
        return int(self._dtype.itemsize)

    @property
    def names(self) -> tuple[str, ...]:
        """Top-level field names, in declaration order."""
        names = self._dtype.names
        assert names is not None
        return tuple(names)

    @property
    def unions(self) -> frozenset[str]:
        """Dotted paths of fields that are unions (their members overlap)."""
        return self._unions

    @property
    def enums(self) -> Mapping[str, Mapping[int, str]]:
        """Display names of integer values, by dotted field path."""
        return self._enums

    @property
    def bitfields(self) -> Mapping[str, Storage]:
        """The bitfields of each storage field, by the storage's dotted dtype path."""
        return self._bitfields

    def _leaf_index(self) -> tuple[tuple[FieldInfo, ...], Mapping[str, FieldInfo]]:
        if self._leaves is None:
            leaves = sorted(
                _leaves(self._dtype, "", 0, (), self._bitfields), key=lambda f: f.offset
            )
            index = (tuple(leaves), MappingProxyType({f.path: f for f in leaves}))
            object.__setattr__(self, "_leaves", index)
            return index
        return self._leaves

    def fields(self) -> list[FieldInfo]:
        """Every leaf of the record, in offset order: the one field model.

        Leaves are the scalar (or scalar-array) fields, reached through nested
        records and through arrays of records, whose shapes they take on
        (``legs: Leg[2]`` gives ``legs.px`` and ``legs.qty``, shape ``(2,)``,
        at the first element's offsets), and the bitfields (a storage field
        with bitfields is no leaf itself). Members of a union are leaves too,
        so their offsets overlap. Leaves at one offset keep declaration order.
        Columns, interop and the CLI all use this list; :meth:`get` (or
        :meth:`FieldInfo.get`) reads one leaf's values.

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_dtype([("hdr", [("ts", "<u8")]), ("v", "<f4", (3,)),
        ...                           ("legs", [("px", "<f8"), ("qty", "<u4")], (2,))])
        >>> [(f.path, f.offset, f.shape) for f in s.fields()]
        [('hdr.ts', 0, ()), ('v', 8, (3,)), ('legs.px', 20, (2,)), ('legs.qty', 28, (2,))]
        """
        return list(self._leaf_index()[0])

    def field(self, path: str) -> FieldInfo:
        """The leaf at dotted ``path`` (see :meth:`fields`).

        Raises
        ------
        SchemaError
            ``path`` is no leaf; the message lists close matches.

        Examples
        --------
        >>> import recview as rv
        >>> rv.Schema.from_dtype([("a", "<u2", (3,))]).field("a").nbytes
        6
        """
        info = self._leaf_index()[1].get(path)
        if info is None:
            raise self._unknown(path)
        return info

    def _unknown(self, path: str) -> SchemaError:
        leaves = list(self._leaf_index()[1])
        close = difflib.get_close_matches(path, leaves, n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        shown = ", ".join(leaves[:20]) + (", ..." if len(leaves) > 20 else "")
        return SchemaError(f"no field {path!r} in the schema{hint} (fields: {shown})", field=path)

    def get(self, arr: Any, path: str) -> np.ndarray[Any, Any]:
        """The values of the field at dotted ``path`` in ``arr``.

        ``arr`` is any structured array (or record) of this schema's dtype: a
        view's array, a batch, a ``stream`` batch. The result has shape
        ``arr.shape + field shape``.

        Parameters
        ----------
        arr : numpy.ndarray or numpy.void
            Records of :attr:`dtype`.
        path : str
            A leaf of :meth:`fields` (``"legs.px"``, ``"flags.syn"``), or any
            other field of the dtype (``"hdr"``, ``"legs"``, a storage field).

        Returns
        -------
        numpy.ndarray
            For a byte field, a zero-copy strided view of ``arr``
            (``arr["legs"]["px"]``); for a bitfield, a read-only array of the
            smallest integer type holding its width (signed when it is),
            computed by vectorized shifts over its storage in one pass.

        Raises
        ------
        SchemaError
            ``path`` names no field (the message lists close matches), or
            ``arr`` has no such field.

        Examples
        --------
        >>> import numpy as np, recview as rv
        >>> class Leg(rv.Record):
        ...     px: rv.f64
        ...     qty: rv.u32
        >>> class Order(rv.Record):
        ...     id: rv.u32
        ...     legs: rv.array(Leg, 2)
        ...     flags: rv.bits(rv.u8, buy=1, level=3, _=4)
        >>> a = np.zeros(4, Order.schema.dtype)
        >>> a["flags"] = 0b1011
        >>> px = Order.schema.get(a, "legs.px")
        >>> px.shape, np.shares_memory(px, a), Order.schema.get(a, "flags.level")
        ((4, 2), True, array([5, 5, 5, 5], dtype=uint8))
        >>> Order.schema.get(a, "legs.pq")
        Traceback (most recent call last):
        ...
        recview.errors.SchemaError: no field 'legs.pq' in the schema; did you mean 'legs.px', 'legs.qty'? (fields: id, legs.px, legs.qty, flags.buy, flags.level)
        """
        info = self._leaf_index()[1].get(path)
        try:
            if info is not None:
                return info.get(arr)
            if path and _lookup_base(self._dtype, path) is not None:
                out: np.ndarray[Any, Any] = _walk(arr, path)
                return out
        except (KeyError, ValueError, IndexError) as err:
            raise SchemaError(
                f"field {path!r}: the array (dtype {getattr(arr, 'dtype', type(arr))}) has no "
                f"such field: {err}",
                field=path,
            ) from err
        raise self._unknown(path)

    # -- constructors ------------------------------------------------------

    @classmethod
    def from_dtype(cls, dtype: Any) -> Schema:
        """A schema from a numpy dtype, a list-of-tuples spec or a dict spec.

        Explicit offsets, padding and ``itemsize`` are kept exactly. A plain
        (non-structured) dtype becomes a one-field record named ``f0``.
        A record (or nested record) of two or more fields that all start at
        offset 0 is a union, as C lays one out (``from_c`` builds such dtypes,
        and ``from_dtype(s.dtype)`` gives them back); fields that overlap
        otherwise are an error.

        Parameters
        ----------
        dtype : numpy.dtype, list of tuples or dict
            Anything :class:`numpy.dtype` accepts that describes fixed-size data.

        Raises
        ------
        SchemaError
            The spec is not a valid dtype, or a field has an object, zero-size
            or overlapping type; the message names the field.

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_dtype({"names": ["a", "b"], "formats": ["<u4", ">f8"],
        ...                           "offsets": [0, 8], "itemsize": 24})
        >>> s.itemsize, s.dtype.fields["b"][1]
        (24, 8)
        >>> u = rv.Schema.from_c("struct s { char c; union { int i; float f; } v[2]; };")
        >>> rv.Schema.from_dtype(u.dtype).unions
        frozenset({'v'})
        """
        if isinstance(dtype, Schema):
            return dtype
        dt = _to_dtype(dtype)
        if dt.names is None:
            dt = np.dtype([("f0", dt)])
        return cls._from_parts(dt, unions=frozenset(_union_paths(dt, "")))

    @classmethod
    def from_construct(cls, struct: Any) -> Schema:
        """A schema from a fixed-size ``construct.Struct``.

        Supported: integers and floats of any byte order (``Int32ul``,
        ``Float64b``, ``BytesInteger`` of 1/2/4/8 bytes...), ``Flag``,
        ``Bytes(n)``, ``PaddedString(n, enc)``, ``Padding(n)``, ``Array`` of
        fixed count, nested ``Struct``, ``Enum`` (names kept for display),
        ``Padded(n, Union(...))`` (a union of ``n`` bytes, as :meth:`to_construct`
        writes one), ``Const``/``Default`` and other wrappers of a fixed-size
        subcon. Zero-size members (``Padding(0)``, ``Bytes(0)``, ``Array(0, t)``)
        take no bytes and are no fields.

        Raises
        ------
        SchemaError
            A field has no fixed size (``VarInt``, ``this``-dependent lengths,
            ``GreedyBytes``...) or no numpy equivalent; the message names it.

        Examples
        --------
        >>> import construct as c, recview as rv
        >>> s = rv.Schema.from_construct(c.Struct("ts" / c.Int64ul, "px" / c.Float32b,
        ...                                       c.Padding(4), "sym" / c.Bytes(8)))
        >>> s.itemsize, s.dtype.fields["px"][0].str
        (24, '>f4')
        """
        from recview import _construct

        dtype, enums, bitfields = _construct.dtype_from_construct(struct)
        # a Padded Union's members all sit at offset 0: unions, as from_dtype sees them
        return cls._from_parts(
            dtype, unions=frozenset(_union_paths(dtype, "")), enums=enums, bitfields=bitfields
        )

    @classmethod
    def from_c(
        cls,
        source: str,
        name: str | None = None,
        *,
        byteorder: str = "<",
        packed: bool = False,
        include_dirs: Sequence[str | os.PathLike[str]] = (),
        cpp: bool = False,
    ) -> Schema:
        """A schema from C declarations, laid out as the C compiler would.

        Parameters
        ----------
        source : str
            C source: ``struct``/``union``/``enum``/``typedef`` declarations,
            ``#define`` integer constants; ``<stdint.h>`` types are known.
        name : str, optional
            The struct tag or typedef name to use when there are several.
        byteorder : {"<", ">", "="}
            Byte order of the multi-byte numbers in the dump.
        packed : bool
            Lay out without alignment padding (``__attribute__((packed))``).
        include_dirs : sequence of paths
            Directories where ``#include "file.h"`` and ``<file.h>`` are
            looked for, in order (``cc -I``); a quoted include not found is an
            error, a ``<system>`` one is not read unless ``cpp`` is true.
        cpp : bool
            Run the system preprocessor (``cc -E``) over the source first, so
            that ``<system>`` headers are read too.

        Bitfields are laid out as GCC does (see :mod:`recview._c`) and are
        leaves of :meth:`fields`; with ``byteorder=">"`` they are allocated
        from the most significant bit, as on GCC's big-endian targets.

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_c("struct tick { uint64_t ts; double px; uint8_t side; };")
        >>> s.itemsize, s.dtype.fields["side"][1]
        (24, 16)
        >>> ip = rv.Schema.from_c("struct ip { unsigned ihl:4, version:4; uint8_t tos; };")
        >>> [(f.path, f.offset, f.bit_offset, f.bit_width) for f in ip.fields()]
        [('ihl', 0, 0, 4), ('version', 0, 4, 4), ('tos', 1, None, None)]
        >>> import os, tempfile
        >>> inc = tempfile.mkdtemp()
        >>> with open(os.path.join(inc, "point.h"), "w") as fh:
        ...     _ = fh.write("struct point { float x, y; };")
        >>> rv.Schema.from_c('#include "point.h"\\nstruct p { struct point at; int id; };',
        ...                  include_dirs=[inc]).names
        ('at', 'id')
        """
        if byteorder not in ("<", ">", "="):
            raise SchemaError(f"byteorder must be '<', '>' or '=', got {byteorder!r}")
        from recview._c import parse_c

        layout = parse_c(
            source, name, byteorder=byteorder, packed=packed, include_dirs=include_dirs, cpp=cpp
        )
        return cls._from_parts(
            layout.dtype, unions=layout.unions, enums=layout.enums, bitfields=layout.bitfields
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Schema:
        """A schema from its JSON form (see the module docstring).

        Never evaluates code: the text is parsed with :func:`json.loads` and
        every value is checked against the documented grammar.

        Examples
        --------
        >>> import recview as rv
        >>> s = rv.Schema.from_json('{"format": "recview.schema", "version": 1, '
        ...     '"itemsize": 12, "fields": [{"name": "a", "offset": 0, "type": "<u4"}, '
        ...     '{"name": "b", "offset": 4, "type": ">f8"}]}')
        >>> s.dtype.fields["b"][0].str
        '>f8'
        """
        try:
            doc = json.loads(text)
        except (ValueError, TypeError, RecursionError) as err:
            raise SchemaError(f"schema JSON is not valid JSON: {err}") from err
        if not isinstance(doc, dict):
            raise SchemaError(f"schema JSON must be an object, got {type(doc).__name__}")
        fmt = doc.get("format", _JSON_FORMAT)
        if fmt != _JSON_FORMAT:
            raise SchemaError(f"schema JSON 'format' must be {_JSON_FORMAT!r}, got {fmt!r}")
        version = doc.get("version", _JSON_VERSION)
        if version not in (_JSON_VERSION, _JSON_VERSION_BITS) or isinstance(version, bool):
            raise SchemaError(f"unsupported schema JSON version {version!r} (expected 1 or 2)")
        bitfields: dict[str, Storage] = {}
        dtype = _struct_from_json(doc, "", bitfields if version == _JSON_VERSION_BITS else None)
        unions = doc.get("unions", [])
        if not isinstance(unions, list) or not all(isinstance(u, str) for u in unions):
            raise SchemaError("schema JSON 'unions' must be a list of dotted field paths")
        enums_doc = doc.get("enums", {})
        enums: dict[str, dict[int, str]] = {}
        if not isinstance(enums_doc, dict):
            raise SchemaError("schema JSON 'enums' must be an object")
        for path, mapping in enums_doc.items():
            if not isinstance(mapping, dict):
                raise SchemaError(f"enum {path!r}: expected an object of value -> name", field=path)
            entry: dict[int, str] = {}
            for k, v in mapping.items():
                if not isinstance(v, str) or not re.fullmatch(r"-?[0-9]{1,20}", k):
                    raise SchemaError(
                        f"enum {path!r}: expected integer keys and string names, got {k!r}: {v!r}",
                        field=path,
                    )
                entry[int(k)] = v
            enums[path] = entry
        return cls._from_parts(dtype, unions=frozenset(unions), enums=enums, bitfields=bitfields)

    # -- converters --------------------------------------------------------

    def to_json(self, *, indent: int | None = None) -> str:
        """The stable JSON form; ``Schema.from_json(s.to_json()) == s``.

        Examples
        --------
        >>> import recview as rv
        >>> rv.Schema.from_dtype([("a", "<u2")]).to_json()
        '{"format": "recview.schema", "version": 1, "itemsize": 2, "fields": [{"name": "a", "offset": 0, "type": "<u2"}]}'
        """
        version = _JSON_VERSION_BITS if self._bitfields else _JSON_VERSION
        doc: dict[str, Any] = {"format": _JSON_FORMAT, "version": version}
        doc.update(_struct_to_json(self._dtype, self._bitfields, ""))
        if self._unions:
            doc["unions"] = sorted(self._unions)
        if self._enums:
            doc["enums"] = {
                k: {str(n): name for n, name in sorted(v.items())}
                for k, v in sorted(self._enums.items())
            }
        return json.dumps(doc, indent=indent)

    def to_construct(self) -> Any:
        """The equivalent ``construct.Struct``: parses and builds the same bytes.

        Gaps become ``Padding``; ``S<n>`` fields become NUL-stripped fixed-size
        bytes (numpy's semantics); unions become ``Union``; types with no
        construct equivalent (complex, datetime, ``V``/``U``) are raw ``Bytes``.

        Examples
        --------
        >>> import numpy as np, recview as rv
        >>> s = rv.Schema.from_dtype([("a", "<u2"), ("b", ">f4")])
        >>> raw = np.array([(1, 2.5)], dtype=s.dtype).tobytes()
        >>> con = s.to_construct()
        >>> con.sizeof(), con.parse(raw).b, con.build(dict(a=1, b=2.5)) == raw
        (6, 2.5, True)
        """
        from recview import _construct

        return _construct.construct_from_dtype(self._dtype, self._unions, "", self._bitfields)


def as_schema(obj: Any) -> Schema:
    """Coerce a :class:`Schema`, a :class:`Record` subclass, a ``construct``
    struct or anything :meth:`Schema.from_dtype` accepts to a :class:`Schema`.

    Examples
    --------
    >>> import recview as rv
    >>> rv.as_schema("<u4, <f8").names
    ('f0', 'f1')
    """
    if isinstance(obj, Schema):
        return obj
    if isinstance(obj, type) and issubclass(obj, Record):
        return obj.schema
    if isinstance(obj, np.dtype):
        return _schema_of_dtype(obj)
    mod = type(obj).__module__ or ""
    if mod.split(".")[0] == "construct":
        return Schema.from_construct(obj)
    return Schema.from_dtype(obj)


@functools.lru_cache(maxsize=256)
def _schema_of_dtype(dtype: np.dtype[Any]) -> Schema:
    # rv.open(path, dtype) in a loop should not recompile the same layout
    # (validation and canonicalisation cost ~10x the open itself).
    return Schema.from_dtype(dtype)


# ---------------------------------------------------------------------------
# dtype helpers
# ---------------------------------------------------------------------------


def _to_dtype(spec: Any) -> np.dtype[Any]:
    """np.dtype(spec), with numpy's errors turned into SchemaError naming the field."""
    try:
        dt: np.dtype[Any] = np.dtype(spec)
    except Exception as err:
        field = None
        if isinstance(spec, list):
            for item in spec:
                try:
                    np.dtype([item])
                except Exception:  # noqa: BLE001, PERF203 - only on the error path
                    field = str(item[0]) if isinstance(item, tuple) and item else repr(item)
                    break
        elif isinstance(spec, dict) and isinstance(spec.get("names"), list):
            formats = spec.get("formats")
            if isinstance(formats, list):
                for fname, fmt in zip(spec["names"], formats, strict=False):
                    try:
                        np.dtype(fmt)
                    except Exception:  # noqa: BLE001, PERF203 - only on the error path
                        field = str(fname)
                        break
        where = f"field {field!r}: " if field is not None else ""
        raise SchemaError(f"{where}not a valid numpy dtype spec: {err}", field=field) from err
    return dt


def _canonical(dt: np.dtype[Any], unions: frozenset[str], path: str) -> np.dtype[Any]:
    """Validate ``dt`` and rebuild it in one canonical form (explicit offsets,
    explicit byte orders, no titles/alignment flags), so that equal layouts
    compare and hash equal whatever spelling produced them."""
    if not isinstance(dt, np.dtype):
        raise SchemaError(f"expected a numpy dtype, got {type(dt).__name__}")
    where = f"field {path!r}" if path else "record"
    if dt.names is None:
        raise SchemaError(f"{where}: expected a structured dtype, got {dt}", field=path or None)
    if dt.itemsize > _MAX_ITEMSIZE:
        raise SchemaError(
            f"{where}: record of {dt.itemsize} bytes is too large", field=path or None
        )
    if not dt.names:
        raise SchemaError(f"{where}: structured dtype with no fields", field=path or None)
    if path.count(".") >= _MAX_DEPTH:
        # Deeper would overflow the stack here or in to_json/from_json/to_construct
        # (a RecursionError near 500 levels): refuse it, naming the field.
        raise SchemaError(f"{where}: records nested more than {_MAX_DEPTH} levels deep", field=path)
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    spans: list[tuple[int, int, str]] = []
    for name in dt.names:
        fpath = f"{path}.{name}" if path else name
        if not name or "." in name:
            raise SchemaError(
                f"field {fpath!r}: field names must be non-empty strings without '.'",
                field=fpath,
            )
        fdt, off = _fields(dt)[name][:2]
        fmt = _canonical_field(fdt, unions, fpath)
        names.append(name)
        formats.append(fmt)
        offsets.append(int(off))
        spans.append((int(off), int(off) + fdt.itemsize, fpath))
    if dt.itemsize == 0:
        raise SchemaError(f"{where}: zero-size record", field=path or None)
    if path not in unions:
        spans.sort()
        for (_a0, a1, apath), (b0, _b1, bpath) in itertools.pairwise(spans):
            if b0 < a1:
                raise SchemaError(
                    f"field {bpath!r} at offset {b0} overlaps field {apath!r} "
                    f"(which ends at offset {a1})",
                    field=bpath,
                    offset=b0,
                )
    for start, end, fpath in spans:
        if start < 0 or end > dt.itemsize:
            raise SchemaError(
                f"field {fpath!r} spans bytes {start}..{end}, outside the {dt.itemsize}-byte "
                "record",
                field=fpath,
                offset=start,
            )
    return np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": dt.itemsize}
    )


def _canonical_field(fdt: np.dtype[Any], unions: frozenset[str], fpath: str) -> np.dtype[Any]:
    if fdt.subdtype is not None:
        base, shape = fdt.subdtype
        # An array of arrays, ((t, (3,)), (2,)), is the layout of (t, (2, 3)),
        # which is how to_json and fields() describe it: one spelling, so that
        # from_construct(Array(2, Array(3, t))) equals from_dtype((t, (2, 3))).
        while base.subdtype is not None:
            base, inner = base.subdtype
            shape = (*shape, *inner)
        if any(k <= 0 for k in shape):
            raise SchemaError(f"field {fpath!r}: array shape {shape} has a zero size", field=fpath)
        return np.dtype((_canonical_field(base, unions, fpath), shape))
    if fdt.names is not None:
        return _canonical(fdt, unions, fpath)
    if fdt.hasobject:
        raise SchemaError(f"field {fpath!r}: object dtypes cannot live in a file", field=fpath)
    if (fdt.kind == "f" and fdt.itemsize > 8) or (fdt.kind == "c" and fdt.itemsize > 16):
        # long double: 80-bit x87 on x86-64, IEEE quad on aarch64: no portable layout
        raise SchemaError(
            f"field {fpath!r}: type {fdt} (long double) has no portable binary layout",
            field=fpath,
        )
    if fdt.kind not in _ALLOWED_KINDS:
        raise SchemaError(f"field {fpath!r}: type {fdt} has no fixed binary layout", field=fpath)
    if fdt.itemsize == 0:
        raise SchemaError(f"field {fpath!r}: type {fdt} has zero size", field=fpath)
    if fdt.byteorder == "=":
        fdt = fdt.newbyteorder("<" if np.little_endian else ">")
    out: np.dtype[Any] = np.dtype(fdt.str)
    return out


def _leaves(
    dt: np.dtype[Any],
    path: str,
    base: int,
    shape: tuple[int, ...],
    bitfields: Mapping[str, Storage] = MappingProxyType({}),
    strides: tuple[int, ...] = (),
) -> Iterator[FieldInfo]:
    """Leaves of the record ``dt`` at dotted ``path``, byte offset ``base``,
    inside arrays of records of combined ``shape`` (and byte ``strides``), in
    declaration order."""
    assert dt.names is not None
    if len(strides) != len(shape):
        strides = _c_strides(shape, dt.itemsize)
    for name in dt.names:
        fdt, off = _fields(dt)[name][:2]
        fpath = f"{path}.{name}" if path else name
        fshape = shape
        fstrides = strides
        while fdt.subdtype is not None:
            fdt, sub = fdt.subdtype
            fshape = fshape + tuple(sub)
            fstrides = fstrides + _c_strides(tuple(sub), fdt.itemsize)
        storage = bitfields.get(fpath)
        if fdt.names is not None:
            # arrays of records too: each member is a leaf in every element
            yield from _leaves(fdt, fpath, base + int(off), fshape, bitfields, fstrides)
        elif storage is not None:
            parent = path if storage.anonymous else fpath
            for b in storage.fields:
                yield FieldInfo(
                    f"{parent}.{b.name}" if parent else b.name,
                    base + int(off),
                    fdt,
                    fshape,
                    bit_offset=b.lsb,
                    bit_width=b.width,
                    signed=b.signed,
                    storage=fpath,
                    bit_order=storage.order,
                    strides=fstrides,
                )
        else:
            yield FieldInfo(fpath, base + int(off), fdt, fshape, strides=fstrides)


def _check_bitfields(
    dtype: np.dtype[Any], unions: frozenset[str], bitfields: Mapping[str, Storage]
) -> tuple[dict[str, Storage], set[str]]:
    """Validate the bitfields of each storage path against ``dtype``; returns
    them in canonical form (the byte order of an integer storage is its
    dtype's) and the dotted paths of the bitfield leaves."""
    out: dict[str, Storage] = {}
    leaf_paths: set[str] = set()
    taken: dict[str, set[str]] = {}  # parent path -> names used at that level
    for spath, storage in sorted(bitfields.items()):
        if not isinstance(storage, Storage):
            raise SchemaError(f"bitfields of {spath!r} must be a Storage", field=spath)
        sdt = _lookup_base(dtype, spath) if spath else None
        ok = (
            sdt is not None
            and sdt.names is None
            and ((sdt.kind in "iu" and sdt.itemsize in (1, 2, 4, 8)) or sdt.kind == "V")
        )
        if not ok or sdt is None:
            raise SchemaError(
                f"bitfield storage {spath!r} is not an integer (or V<n>) field of the record",
                field=spath,
            )
        if sdt.itemsize == 1:
            order = "<"
        elif sdt.kind == "V":
            if storage.order not in ("<", ">"):
                raise SchemaError(
                    f"bitfield storage {spath!r}: order must be '<' or '>', got {storage.order!r}",
                    field=spath,
                )
            order = storage.order
        else:
            # numpy spells the native order '=': bits are numbered in '<' or '>'
            native = "<" if np.little_endian else ">"
            order = native if sdt.byteorder == "=" else sdt.byteorder
        parent, _, sname = spath.rpartition(".")
        level = parent if storage.anonymous else spath
        names = taken.setdefault(level, set())
        if storage.anonymous and not names:
            pdt = _lookup_base(dtype, parent)
            assert pdt is not None
            assert pdt.names is not None
            names.update(n for n in pdt.names if n != sname)
        if not storage.fields:
            raise SchemaError(f"bitfield storage {spath!r} has no bitfields", field=spath)
        nbits = 8 * sdt.itemsize
        spans: list[tuple[int, int, str]] = []
        for b in storage.fields:
            bpath = f"{level}.{b.name}" if level else b.name
            if not isinstance(b.name, str) or not b.name or "." in b.name:  # type: ignore[redundant-expr]
                raise SchemaError(
                    f"bitfield {bpath!r}: names must be non-empty strings without '.'", field=bpath
                )
            if b.name in names:
                raise SchemaError(f"bitfield {bpath!r} is declared twice", field=bpath)
            names.add(b.name)
            if not (_is_int(b.width) and _is_int(b.lsb) and isinstance(b.signed, bool)):
                raise SchemaError(f"bitfield {bpath!r}: invalid bit range {b!r}", field=bpath)
            if not (1 <= b.width <= 64 and b.lsb >= 0 and b.lsb + b.width <= nbits):
                raise SchemaError(
                    f"bitfield {bpath!r}: bits {b.lsb}..{b.lsb + b.width - 1} are outside the "
                    f"{nbits}-bit storage {spath!r}",
                    field=bpath,
                )
            spans.append((b.lsb, b.lsb + b.width, bpath))
            leaf_paths.add(bpath)
        if parent not in unions:  # union members may share bits, as C's do
            spans.sort()
            for (_a0, a1, apath), (b0, _b1, bpath) in itertools.pairwise(spans):
                if b0 < a1:
                    raise SchemaError(
                        f"bitfield {bpath!r} (from bit {b0}) overlaps bitfield {apath!r}",
                        field=bpath,
                    )
        # one spelling per layout: bitfields by bit position (lowest first)
        ordered = tuple(sorted(storage.fields, key=lambda b: (b.lsb, b.width, b.name)))
        out[spath] = Storage(ordered, order, storage.anonymous)
    return out, leaf_paths


def _lookup(dt: np.dtype[Any], path: str) -> np.dtype[Any] | None:
    """The structured dtype at ``path`` (through arrays: a union ``u`` in
    ``u[2]``, or in ``slots[4].u``), or None."""
    found = _lookup_base(dt, path)
    return found if found is not None and found.names is not None else None


def _lookup_base(dt: np.dtype[Any], path: str) -> np.dtype[Any] | None:
    """The dtype of one element of the field at dotted ``path`` (subarrays,
    there and on the way, stripped), or None; ``""`` is the record itself."""
    dt = dt.base
    if not path:
        return dt
    for part in path.split("."):
        if dt.names is None or part not in dt.names:
            return None
        dt = _fields(dt)[part][0].base
    return dt


def _union_paths(dt: np.dtype[Any], path: str) -> set[str]:
    """Dotted paths of the (nested) records whose two or more fields all start
    at offset 0: unions, as C lays them out."""
    dt = dt.base
    if dt.names is None or path.count(".") >= _MAX_DEPTH:
        return set()  # too deep: _canonical refuses it, naming the field
    fields = _fields(dt)
    out = {path} if len(dt.names) > 1 and all(fields[n][1] == 0 for n in dt.names) else set()
    for name in dt.names:
        out |= _union_paths(fields[name][0], f"{path}.{name}" if path else name)
    return out


def _dtype_spec(dt: np.dtype[Any]) -> Any:
    if dt.names is None:
        return dt.str
    assert dt.fields is not None
    return {
        "names": list(dt.names),
        "formats": [_fmt_spec(_fields(dt)[n][0]) for n in dt.names],
        "offsets": [int(_fields(dt)[n][1]) for n in dt.names],
        "itemsize": dt.itemsize,
    }


def _fmt_spec(dt: np.dtype[Any]) -> Any:
    if dt.subdtype is not None:
        return (_fmt_spec(dt.subdtype[0]), dt.subdtype[1])
    return _dtype_spec(dt)


def _bits_to_json(storage: Storage, fdt: np.dtype[Any], entry: dict[str, Any]) -> None:
    entry["bits"] = [
        {"name": b.name, "lsb": b.lsb, "width": b.width, **({"signed": True} if b.signed else {})}
        for b in storage.fields
    ]
    if storage.anonymous:
        entry["anonymous"] = True
    if fdt.kind == "V" and fdt.itemsize > 1:
        entry["order"] = storage.order


def _bits_from_json(f: dict[str, Any], fpath: str) -> Storage:
    bits = f["bits"]
    if not isinstance(bits, list) or not bits:
        raise SchemaError(f"field {fpath!r}: 'bits' must be a non-empty list", field=fpath)
    out: list[Bit] = []
    for i, b in enumerate(bits):
        ok = (
            isinstance(b, dict)
            and isinstance(b.get("name"), str)
            and _is_int(b.get("lsb"))
            and _is_int(b.get("width"))
            and isinstance(b.get("signed", False), bool)
            and set(b) <= {"name", "lsb", "width", "signed"}
        )
        if not ok:
            raise SchemaError(
                f"field {fpath!r}: bits[{i}] must be an object with 'name', 'lsb', 'width' "
                f"and optionally 'signed', got {b!r}",
                field=fpath,
            )
        out.append(Bit(b["name"], b["lsb"], b["width"], b.get("signed", False)))
    anonymous = f.get("anonymous", False)
    order = f.get("order", "<")
    if not isinstance(anonymous, bool) or order not in ("<", ">"):
        raise SchemaError(
            f"field {fpath!r}: 'anonymous' must be a boolean and 'order' '<' or '>'", field=fpath
        )
    return Storage(tuple(out), order, anonymous)


def _struct_to_json(
    dt: np.dtype[Any], bitfields: Mapping[str, Storage] = MappingProxyType({}), path: str = ""
) -> dict[str, Any]:
    assert dt.names is not None
    fields = []
    for name in dt.names:
        fdt, off = _fields(dt)[name][:2]
        entry: dict[str, Any] = {"name": name, "offset": int(off)}
        shape: tuple[int, ...] = ()
        while fdt.subdtype is not None:
            fdt, sub = fdt.subdtype
            shape += tuple(sub)
        fpath = f"{path}.{name}" if path else name
        entry["type"] = _struct_to_json(fdt, bitfields, fpath) if fdt.names is not None else fdt.str
        if shape:
            entry["shape"] = list(shape)
        if fpath in bitfields:
            _bits_to_json(bitfields[fpath], fdt, entry)
        fields.append(entry)
    return {"itemsize": int(dt.itemsize), "fields": fields}


def _struct_from_json(
    doc: Any, path: str, bitfields: dict[str, Storage] | None = None
) -> np.dtype[Any]:
    """The dtype of a JSON struct object; bitfields found on the way go into
    ``bitfields`` (None: version 1, where "bits" is unknown)."""
    where = f"field {path!r}" if path else "schema JSON"
    if not isinstance(doc, dict):
        raise SchemaError(
            f"{where}: expected an object with 'itemsize' and 'fields'", field=path or None
        )
    itemsize = doc.get("itemsize")
    fields = doc.get("fields")
    if not _is_int(itemsize) or not 0 < itemsize <= _MAX_ITEMSIZE:
        raise SchemaError(
            f"{where}: 'itemsize' must be a positive integer, got {itemsize!r}", field=path or None
        )
    if not isinstance(fields, list) or not fields:
        raise SchemaError(f"{where}: 'fields' must be a non-empty list", field=path or None)
    names: list[str] = []
    formats: list[Any] = []
    offsets: list[int] = []
    for i, f in enumerate(fields):
        if not isinstance(f, dict):
            raise SchemaError(f"{where}: fields[{i}] must be an object", field=path or None)
        name = f.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError(f"{where}: fields[{i}] needs a non-empty 'name'", field=path or None)
        fpath = f"{path}.{name}" if path else name
        if name in names:
            raise SchemaError(f"field {fpath!r} is declared twice", field=fpath)
        offset = f.get("offset")
        if not _is_int(offset) or not 0 <= offset < _MAX_ITEMSIZE:
            raise SchemaError(
                f"field {fpath!r}: 'offset' must be a non-negative integer, got {offset!r}",
                field=fpath,
            )
        t = f.get("type")
        if isinstance(t, str):
            if not _SCALAR_RE.match(t):
                raise SchemaError(f"field {fpath!r}: unknown type {t!r}", field=fpath)
            fdt = np.dtype(t)
        elif isinstance(t, dict):
            fdt = _struct_from_json(t, fpath, bitfields)
        else:
            raise SchemaError(
                f"field {fpath!r}: 'type' must be a type string or a struct object, got {t!r}",
                field=fpath,
            )
        shape = f.get("shape")
        if shape is not None:
            if (
                not isinstance(shape, list)
                or not shape
                or len(shape) > 32
                or not all(_is_int(k) and 0 < k <= _MAX_ITEMSIZE for k in shape)
            ):
                raise SchemaError(
                    f"field {fpath!r}: 'shape' must be a list of positive integers, got {shape!r}",
                    field=fpath,
                )
            total = fdt.itemsize
            for k in shape:
                total *= k
                if total > _MAX_ITEMSIZE:
                    raise SchemaError(f"field {fpath!r}: array is too large", field=fpath)
            fdt = np.dtype((fdt, tuple(shape)))
        if offset + fdt.itemsize > itemsize:
            raise SchemaError(
                f"field {fpath!r} spans bytes {offset}..{offset + fdt.itemsize}, outside the "
                f"{itemsize}-byte record",
                field=fpath,
                offset=offset,
            )
        if "bits" in f:
            if bitfields is None:
                raise SchemaError(
                    f"field {fpath!r}: 'bits' needs schema JSON version 2", field=fpath
                )
            bitfields[fpath] = _bits_from_json(f, fpath)
        names.append(name)
        formats.append(fdt)
        offsets.append(offset)
    try:
        spec: Any = {"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize}
        out: np.dtype[Any] = np.dtype(spec)
    except (TypeError, ValueError) as err:
        raise SchemaError(f"{where}: invalid layout: {err}", field=path or None) from err
    return out


def _fields(dt: np.dtype[Any]) -> Mapping[str, Any]:
    fields = dt.fields
    assert fields is not None
    return fields


def _is_int(x: object) -> TypeGuard[int]:
    return isinstance(x, int) and not isinstance(x, bool)
