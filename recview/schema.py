"""Schemas: every way of describing a record compiles to one numpy structured dtype.

This module owns :class:`Schema` (immutable, hashable, picklable), the
declarative :class:`Record` base class with :func:`array` (whose items may be
Records) and :func:`as_schema`; it re-exports the other type atoms (``u64``,
``f32be``, ``bytes_(n)``, ``pad(n)``, ``bits(...)``...) from
:mod:`recview._atoms`. Its parts are private modules of the schema layer: the
field model (:class:`FieldInfo` and the leaf walk, :mod:`recview._fieldinfo`),
canonical dtypes (:mod:`recview._dtypes`), the JSON form below
(:mod:`recview._schema_json`), and the conversions from and to ``construct``
structs (:mod:`recview._construct`) and C declarations (:mod:`recview._c`).
It knows nothing about files.

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
import os
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from recview import _atoms, _schema_json
from recview._atoms import *
from recview._atoms import _BitsType, _Pad, _size
from recview._bits import Storage
from recview._dtypes import (
    _alignment,
    _canonical,
    _check_bitfields,
    _check_enums,
    _check_unions,
    _dtype_spec,
    _lookup_base,
    _to_dtype,
    _union_paths,
)
from recview._fieldinfo import FieldInfo, _leaves, _walk
from recview._vocab import round_up
from recview.errors import SchemaError

# the type atoms (``u32``, ``bits``...) are re-exported: recview.schema.u32 is rv.u32
__all__ = ["FieldInfo", "Record", "Schema", "array", "as_schema"]
__all__ += _atoms.__all__


# ---------------------------------------------------------------------------
# The declarative Record class and the array type (which takes Records); the
# other type atoms are in recview._atoms
# ---------------------------------------------------------------------------


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
    _alignment_: ClassVar[int] = 1

    def __init_subclass__(cls, *, align: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
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
            fields.extend((k, v) for k, v in ann.items() if k != "schema")
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
                pos = round_up(pos, al)
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
        itemsize = round_up(pos, max_align) if align else pos
        cls._alignment_ = max_align
        spec = {"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize}
        dtype = _to_dtype(spec)
        cls.schema = Schema._from_parts(
            dtype, unions=frozenset(_union_paths(dtype, "")), bitfields=bitmap
        )


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------


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
        enum_map = _check_enums(dtype, enums or {}, bit_leaves)
        _check_unions(dtype, unions)
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
        dtype, unions, enums, bitfields = _schema_json.loads(text)
        return cls._from_parts(dtype, unions=unions, enums=enums, bitfields=bitfields)

    # -- converters --------------------------------------------------------

    def to_json(self, *, indent: int | None = None) -> str:
        """The stable JSON form; ``Schema.from_json(s.to_json()) == s``.

        Examples
        --------
        >>> import recview as rv
        >>> rv.Schema.from_dtype([("a", "<u2")]).to_json()
        '{"format": "recview.schema", "version": 1, "itemsize": 2, "fields": [{"name": "a", "offset": 0, "type": "<u2"}]}'
        """
        return _schema_json.dumps(
            self._dtype, self._unions, self._enums, self._bitfields, indent=indent
        )

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
