"""Hypothesis strategies and a round-trip check for property-testing schemas.

This module is public so that users can property-test their own record
layouts the way recview tests itself. It needs :mod:`hypothesis`, which is
imported here (and only here): ``import recview`` never imports it.

The strategies draw one intermediate description of a record, a
:class:`RecordSpec` (a list of :class:`FieldSpec`: names, explicit offsets,
gaps, nested records, fixed arrays of any rank, both byte orders, integers,
floats, bools and ``S<n>`` bytes). From that one description two encoders are
built *independently*:

- :meth:`RecordSpec.schema` compiles it to a :class:`recview.Schema` through a
  numpy dtype (:meth:`recview.Schema.from_dtype`), and
  :meth:`RecordSpec.record_class` through a declarative :class:`recview.Record`;
- :meth:`RecordSpec.construct` builds a ``construct.Struct`` by hand (it does
  **not** use :meth:`recview.Schema.to_construct`), so bytes written with it
  (:func:`record_bytes`) test recview against an outside encoder.

:func:`records` draws values valid for a schema (NaNs canonical, ``S<n>``
values without trailing NULs, which numpy would strip), and
:func:`check_roundtrip` runs the whole loop in one call: bytes → file →
:func:`recview.open` → fields equal → ``schema.to_construct()`` parse and
build → the same bytes.

Examples
--------
>>> import tempfile
>>> from hypothesis import given, settings, strategies as st
>>> from recview.testing import check_roundtrip, field_specs, record_bytes, records
>>> tmp = tempfile.mkdtemp()
>>> @settings(max_examples=10, deadline=None, database=None)
... @given(st.data())
... def test_roundtrip(data):
...     spec = data.draw(field_specs())
...     schema = spec.schema()
...     values = data.draw(st.lists(records(schema), max_size=4))
...     raw = record_bytes(spec, values)      # written by the independent construct.Struct
...     assert check_roundtrip(schema, values, tmp) == raw
>>> test_roundtrip()
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import construct as c
import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import recview as rv

__all__ = [
    "BitsSpec",
    "FieldSpec",
    "RecordSpec",
    "ScalarSpec",
    "check_roundtrip",
    "bits_specs",
    "field_names",
    "field_specs",
    "from_numpy",
    "record_bytes",
    "records",
    "records_to_array",
    "same_values",
    "scalar_specs",
    "schemas",
    "temp_file",
]

ScalarKind = Literal["i", "u", "f", "b", "S"]
ByteOrder = Literal["<", ">", "|"]

# Record sizes stay small: property tests want many small examples, not a few huge ones.
_MAX_STRUCT_NBYTES = 512


# ---------------------------------------------------------------------------
# The intermediate description
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScalarSpec:
    """One scalar type: ``kind`` (numpy's letter: ``i u f b S``), size, byte order.

    Examples
    --------
    >>> from recview.testing import ScalarSpec
    >>> ScalarSpec("u", 4, ">").dtype.str, ScalarSpec("S", 3, "|").dtype.str
    ('>u4', '|S3')
    """

    kind: ScalarKind
    nbytes: int
    byteorder: ByteOrder = "<"

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of this scalar."""
        return np.dtype(f"{self.byteorder}{self.kind}{self.nbytes}")

    def construct(self) -> Any:
        """The ``construct`` subcon of this scalar, built without recview."""
        little = self.byteorder != ">"
        if self.kind in "iu":
            # BytesInteger packs with int.to_bytes: another code path than the
            # struct-module FormatField that Schema.to_construct() uses.
            return c.BytesInteger(self.nbytes, signed=self.kind == "i", swapped=little)
        if self.kind == "f":
            return getattr(c, f"Float{self.nbytes * 8}{'l' if little else 'b'}")
        if self.kind == "b":
            return c.Flag
        return _NulPadded(c.Bytes(self.nbytes))


class _NulPadded(c.Adapter):  # type: ignore[misc]  # construct is untyped
    """``S<n>`` as numpy has it: NUL-padded on build, trailing NULs stripped on parse."""

    def _decode(self, obj: bytes, context: Any, path: Any) -> bytes:
        return obj.rstrip(b"\0")

    def _encode(self, obj: bytes, context: Any, path: Any) -> bytes:
        return obj.ljust(self.subcon.length, b"\0")


@dataclasses.dataclass(frozen=True)
class BitsSpec:
    """One integer storage unit split into bitfields, as ``rv.bits`` declares it.

    ``bits`` are ``(name, width)`` pairs from the least significant bit of the
    storage value up; names starting with ``_`` are unused bits. The bitfields
    are signed when the storage is (``kind == "i"``).

    Examples
    --------
    >>> from recview.testing import BitsSpec, ScalarSpec
    >>> spec = BitsSpec(ScalarSpec("u", 2, ">"), (("fin", 1), ("syn", 1), ("_", 14)))
    >>> spec.dtype.str, spec.construct().parse(b"\\x00\\x02")
    ('>u2', Container(syn=1, fin=0))
    """

    storage: ScalarSpec
    bits: tuple[tuple[str, int], ...]

    @property
    def dtype(self) -> np.dtype[Any]:
        """The storage's dtype, unsigned (the bitfields carry the signedness)."""
        return np.dtype(self.storage.dtype.str.replace("i", "u"))

    @property
    def signed(self) -> bool:
        """Whether the bitfields are sign-extended."""
        return self.storage.kind == "i"

    def fields(self) -> list[tuple[str, int, int]]:
        """The named bitfields as ``(name, lsb, width)``."""
        out, pos = [], 0
        for name, width in self.bits:
            if not name.startswith("_"):
                out.append((name, pos, width))
            pos += width
        return out

    def construct(self) -> Any:
        """A ``BitStruct`` (most significant bit first, ``ByteSwapped`` for a
        little-endian unit), built without recview."""
        subs: list[Any] = []
        top = 8 * self.storage.nbytes - sum(width for _name, width in self.bits)
        if top:
            subs.append(c.Padding(top))
        for name, width in reversed(self.bits):
            if name.startswith("_"):
                subs.append(c.Padding(width))
            else:
                subs.append(name / c.BitsInteger(width, signed=self.signed))
        con = c.BitStruct(*subs)
        return c.ByteSwapped(con) if self.storage.byteorder == "<" else con

    def bits_type(self) -> Any:
        """The ``rv.bits(...)`` annotation of this unit."""
        return rv.bits(self.storage.dtype, **dict(self.bits))

    def pack(self, value: Mapping[str, int]) -> int:
        """The storage value (unsigned) holding the bitfield values of ``value``."""
        out = 0
        for name, lsb, width in self.fields():
            out |= (int(value[name]) & ((1 << width) - 1)) << lsb
        return out

    def unpack(self, storage_value: int) -> dict[str, int]:
        """The bitfield values of a storage value, with Python's integers."""
        out = {}
        for name, lsb, width in self.fields():
            v = (int(storage_value) >> lsb) & ((1 << width) - 1)
            if self.signed and v >> (width - 1):
                v -= 1 << width
            out[name] = v
        return out


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One field of a :class:`RecordSpec`: a name, a type, an array shape, an offset.

    ``type`` is a :class:`ScalarSpec`, a :class:`BitsSpec` (then ``shape`` is
    ``()``) or a nested :class:`RecordSpec`; ``shape`` is ``()`` for a single
    value, else the shape of a fixed array (any rank); ``offset`` is the byte
    offset from the start of the enclosing record.
    """

    name: str
    type: ScalarSpec | BitsSpec | RecordSpec
    offset: int
    shape: tuple[int, ...] = ()

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of the field (a subarray dtype if ``shape``)."""
        base = self.type.dtype
        return np.dtype((base, self.shape)) if self.shape else base

    @property
    def nbytes(self) -> int:
        """Bytes the field takes in the record."""
        return self.type.dtype.itemsize * math.prod(self.shape)

    def construct(self) -> Any:
        """The ``construct`` subcon of the field, built without recview."""
        con = self.type.construct()
        for k in reversed(self.shape):
            con = c.Array(k, con)
        return con


@dataclasses.dataclass(frozen=True)
class RecordSpec:
    """A record layout as a plain field list, compiled independently to numpy,
    :class:`recview.Record` and ``construct``.

    ``fields`` are in declaration order (numpy's ``names`` order, which need
    not be offset order); ``itemsize`` may exceed the end of the last field
    (trailing padding) and bytes between fields are padding.

    Examples
    --------
    >>> import recview as rv
    >>> from recview.testing import FieldSpec, RecordSpec, ScalarSpec
    >>> spec = RecordSpec((FieldSpec("ts", ScalarSpec("u", 8, ">"), 0),
    ...                    FieldSpec("xy", ScalarSpec("f", 4), 12, (2,))), itemsize=24)
    >>> spec.schema() == rv.Schema.from_dtype(spec.dtype), spec.construct().sizeof()
    (True, 24)
    >>> spec.record_class().schema == spec.schema()
    True
    """

    fields: tuple[FieldSpec, ...]
    itemsize: int

    def __post_init__(self) -> None:
        if not self.fields:
            raise ValueError("a RecordSpec needs at least one field")
        spans = sorted((f.offset, f.offset + f.nbytes, f.name) for f in self.fields)
        for (_a, end, name), (start, _b, other) in itertools.pairwise(spans):
            if start < end:
                raise ValueError(f"field {other!r} at offset {start} overlaps {name!r}")
        if spans[0][0] < 0 or max(end for _s, end, _n in spans) > self.itemsize:
            raise ValueError(f"a field lies outside the {self.itemsize}-byte record")
        if len({f.name for f in self.fields}) != len(self.fields):
            raise ValueError("field names must be unique")

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy structured dtype (dict spelling: names, formats, offsets, itemsize)."""
        return np.dtype(
            {
                "names": [f.name for f in self.fields],
                "formats": [f.dtype for f in self.fields],
                "offsets": [f.offset for f in self.fields],
                "itemsize": self.itemsize,
            }
        )

    @property
    def in_offset_order(self) -> bool:
        """Whether fields are declared in offset order, here and in every nested record
        (a ``construct.Struct`` or a :class:`recview.Record` can only say that)."""
        offsets = [f.offset for f in self.fields]
        return offsets == sorted(offsets) and all(
            f.type.in_offset_order for f in self.fields if isinstance(f.type, RecordSpec)
        )

    def schema(self) -> rv.Schema:
        """The recview schema, through :meth:`recview.Schema.from_dtype` (and the
        bitfields of each :class:`BitsSpec` field)."""
        bits = self.bitfields()
        if not bits:
            return rv.Schema.from_dtype(self.dtype)
        from recview._bits import Bit, Storage

        storages = {
            path: Storage(
                tuple(Bit(n, lsb, w, spec.signed) for n, lsb, w in spec.fields()),
                ">" if spec.storage.byteorder == ">" else "<",
            )
            for path, spec in bits.items()
        }
        base = rv.Schema.from_dtype(self.dtype)
        return rv.Schema._from_parts(base.dtype, unions=base.unions, bitfields=storages)

    def bitfields(self, path: str = "") -> dict[str, BitsSpec]:
        """The :class:`BitsSpec` of each bitfield storage, by dotted field path."""
        out: dict[str, BitsSpec] = {}
        for f in self.fields:
            fpath = f"{path}.{f.name}" if path else f.name
            if isinstance(f.type, BitsSpec):
                out[fpath] = f.type
            elif isinstance(f.type, RecordSpec):
                out.update(f.type.bitfields(fpath))
        return out

    def construct(self) -> Any:
        """An equivalent ``construct.Struct``, built field by field without recview:
        fields in offset order, gaps as ``Padding``."""
        subcons: list[Any] = []
        pos = 0
        for f in sorted(self.fields, key=lambda f: f.offset):
            if f.offset > pos:
                subcons.append(c.Padding(f.offset - pos))
            subcons.append(f.name / f.construct())
            pos = f.offset + f.nbytes
        if self.itemsize > pos:
            subcons.append(c.Padding(self.itemsize - pos))
        return c.Struct(*subcons)

    def record_class(self, name: str = "Rec") -> type[rv.Record]:
        """An equivalent declarative :class:`recview.Record` subclass (``rv.pad`` for
        gaps, ``rv.array`` for arrays, nested subclasses for nested records).

        Raises
        ------
        ValueError
            The fields are not declared in offset order (see :attr:`in_offset_order`),
            which a ``Record`` cannot express.
        """
        if not self.in_offset_order:
            raise ValueError("a Record lays fields out in declaration order")
        annotations: dict[str, Any] = {}
        pos = 0
        for i, f in enumerate(self.fields):
            if f.offset > pos:
                annotations[f"_gap{i}"] = rv.pad(f.offset - pos)
            t: Any
            if isinstance(f.type, RecordSpec):
                t = f.type.record_class(f"{name}_{i}")
            elif isinstance(f.type, BitsSpec):
                t = f.type.bits_type()
            elif f.type.kind == "S":
                t = rv.bytes_(f.type.nbytes)
            elif f.type.kind == "b":
                t = np.dtype("?")
            else:
                suffix = "be" if f.type.byteorder == ">" else ""
                t = getattr(rv, f"{f.type.kind}{f.type.nbytes * 8}{suffix}")
            annotations[f.name] = rv.array(t, f.shape) if f.shape else t
            pos = f.offset + f.nbytes
        if self.itemsize > pos:
            annotations["_tail"] = rv.pad(self.itemsize - pos)
        return type(name, (rv.Record,), {"__annotations__": annotations})


# ---------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------


def field_names() -> st.SearchStrategy[str]:
    """Field names every encoder accepts: non-empty, no ``.``, not starting with
    ``_`` (construct's context keys), not ``schema`` (the ``Record`` attribute).
    Mostly ASCII identifiers, sometimes other letters and digits.

    Examples
    --------
    >>> from hypothesis import given
    >>> from recview.testing import field_names
    >>> @given(field_names())
    ... def test(name):
    ...     assert name and "." not in name and not name.startswith("_")
    >>> test()
    """
    return _FIELD_NAMES


_FIELD_NAMES = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True),
    st.text(
        alphabet=st.characters(categories=("Ll", "Lu", "Lo", "Nd"), max_codepoint=0x3FFF),
        min_size=1,
        max_size=4,
    ),
).filter(lambda s: s != "schema")


def scalar_specs(
    *, kinds: str = "iufbS", byteorders: Sequence[str] = ("<", ">")
) -> st.SearchStrategy[ScalarSpec]:
    """Scalar types: integers of 1/2/4/8 bytes, floats of 2/4/8, bool, ``S1``..``S12``.

    Parameters
    ----------
    kinds : str
        numpy kind letters to draw from (a subset of ``"iufbS"``).
    byteorders : sequence of {"<", ">"}
        Byte orders of multi-byte numbers (one-byte types are always ``|``).

    Examples
    --------
    >>> from hypothesis import given
    >>> from recview.testing import scalar_specs
    >>> @given(scalar_specs(kinds="f", byteorders=[">"]))
    ... def test(s):
    ...     assert s.dtype.kind == "f" and s.dtype.byteorder == ">"
    >>> test()
    """
    bad = set(kinds) - set("iufbS")
    if bad or not kinds:
        raise InvalidArgument(f"kinds must be letters of 'iufbS', got {kinds!r}")
    if not byteorders or set(byteorders) - {"<", ">"}:
        raise InvalidArgument(f"byteorders must be '<' and/or '>', got {byteorders!r}")
    return _scalar_specs(kinds, tuple(byteorders))


@functools.cache
def _scalar_specs(kinds: str, byteorders: tuple[str, ...]) -> st.SearchStrategy[ScalarSpec]:
    orders = st.sampled_from(list(byteorders))
    options: list[st.SearchStrategy[ScalarSpec]] = []
    if "i" in kinds or "u" in kinds:
        ints = [k for k in "iu" if k in kinds]
        options.append(
            st.builds(_scalar, st.sampled_from(ints), st.sampled_from([1, 2, 4, 8]), orders)
        )
    if "f" in kinds:
        options.append(st.builds(_scalar, st.just("f"), st.sampled_from([2, 4, 8]), orders))
    if "b" in kinds:
        options.append(st.just(ScalarSpec("b", 1, "|")))
    if "S" in kinds:
        options.append(st.builds(ScalarSpec, st.just("S"), st.integers(1, 12), st.just("|")))
    return st.one_of(options)


def _scalar(kind: ScalarKind, nbytes: int, order: ByteOrder) -> ScalarSpec:
    return ScalarSpec(kind, nbytes, "|" if nbytes == 1 else order)


@st.composite
def bits_specs(draw: st.DrawFn, *, byteorders: Sequence[str] = ("<", ">")) -> BitsSpec:
    """Integer storage units (1, 2, 4 or 8 bytes, signed or not) split into
    bitfields of random widths, with unused gaps (``_g0``...) among them.

    Examples
    --------
    >>> from hypothesis import given
    >>> from recview.testing import bits_specs
    >>> @given(bits_specs())
    ... def test(spec):
    ...     assert sum(w for _, w in spec.bits) <= 8 * spec.storage.nbytes
    ...     assert spec.construct().sizeof() == spec.storage.nbytes
    >>> test()
    """
    if not byteorders or set(byteorders) - {"<", ">"}:
        raise InvalidArgument(f"byteorders must be '<' and/or '>', got {byteorders!r}")
    storage = _scalar(
        draw(st.sampled_from(["i", "u"])),
        draw(st.sampled_from([1, 2, 4, 8])),
        draw(st.sampled_from(list(byteorders))),
    )
    left = 8 * storage.nbytes
    names = draw(st.lists(_FIELD_NAMES, min_size=1, max_size=8, unique=True))
    bits: list[tuple[str, int]] = []
    for k, name in enumerate(names):
        if not left:
            break
        if draw(st.integers(0, 4)) == 0 and left > 1:
            gap = draw(st.integers(1, left - 1))
            bits.append((f"_g{k}", gap))
            left -= gap
        width = draw(st.integers(1, left))
        bits.append((name, width))
        left -= width
    return BitsSpec(storage, tuple(bits))


# Strategies are built once: building them per draw costs more than drawing.
_SHAPES = st.one_of(
    st.just(()),
    st.integers(1, 4).map(lambda k: (k,)),
    st.lists(st.integers(1, 3), min_size=2, max_size=3).map(tuple),
)
_NESTED = st.integers(0, 3)  # 0: a nested record, else a scalar
_GAPS = st.one_of(st.just(0), st.integers(1, 8))


@functools.cache
def _name_lists(max_fields: int) -> st.SearchStrategy[list[str]]:
    return st.lists(_FIELD_NAMES, min_size=1, max_size=max_fields, unique=True)


@functools.cache
def _permutations(n: int) -> st.SearchStrategy[list[int]]:
    return st.permutations(range(n))


@st.composite
def field_specs(
    draw: st.DrawFn,
    *,
    max_fields: int = 5,
    max_depth: int = 2,
    kinds: str = "iufbS",
    byteorders: Sequence[str] = ("<", ">"),
    arrays: bool = True,
    gaps: bool = True,
    offset_order: bool = False,
    bits: bool = False,
) -> RecordSpec:
    """Random record layouts, as one :class:`RecordSpec` field list.

    Parameters
    ----------
    max_fields : int
        Most fields per record (nested records have at most half as many).
    max_depth : int
        Most levels of nested records (0: flat records).
    kinds, byteorders
        Scalar types, as for :func:`scalar_specs`.
    arrays : bool
        Draw fixed arrays (one to three dimensions, of scalars or records).
    gaps : bool
        Draw padding: gaps before fields, trailing bytes, and fields laid out
        in an order other than declaration order (unless ``offset_order``).
    offset_order : bool
        Always declare fields in offset order (what ``construct`` and
        :class:`recview.Record` can express).
    bits : bool
        Also draw bitfield storage units (:func:`bits_specs`), in records at
        every level (and so in arrays of records).

    Examples
    --------
    >>> from hypothesis import given
    >>> from recview.testing import field_specs
    >>> @given(field_specs(max_depth=0, arrays=False, gaps=False))
    ... def test(spec):
    ...     assert spec.dtype.itemsize == sum(f.nbytes for f in spec.fields)
    ...     assert spec.construct().sizeof() == spec.schema().itemsize
    >>> test()
    """
    if max_fields < 1 or max_depth < 0:
        raise InvalidArgument("need max_fields >= 1 and max_depth >= 0")
    scalars: st.SearchStrategy[ScalarSpec | BitsSpec] = scalar_specs(
        kinds=kinds, byteorders=tuple(byteorders)
    )
    if bits:
        scalars = st.one_of(bits_specs(byteorders=tuple(byteorders)), scalars)
    return _draw_record(draw, scalars, max_fields, max_depth, arrays, gaps, offset_order)


def _draw_record(
    draw: st.DrawFn,
    scalars: st.SearchStrategy[ScalarSpec | BitsSpec],
    max_fields: int,
    depth: int,
    arrays: bool,
    gaps: bool,
    offset_order: bool,
) -> RecordSpec:
    names = draw(_name_lists(max_fields))
    types: list[ScalarSpec | BitsSpec | RecordSpec] = []
    shapes: list[tuple[int, ...]] = []
    for _ in names:
        if depth > 0 and draw(_NESTED) == 0:
            sub_fields = max(1, max_fields // 2)
            types.append(
                _draw_record(draw, scalars, sub_fields, depth - 1, arrays, gaps, offset_order)
            )
        else:
            types.append(draw(scalars))
        # no arrays of bits(...): a storage unit is one value (nest a record)
        arrays_here = arrays and not isinstance(types[-1], BitsSpec)
        shapes.append(draw(_SHAPES) if arrays_here else ())
    nbytes = sum(t.dtype.itemsize * math.prod(k) for t, k in zip(types, shapes, strict=True))
    if nbytes > _MAX_STRUCT_NBYTES:
        shapes = [()] * len(names)  # keep records small: drop the arrays of this level
    # Lay fields out in a random order (or declaration order), each after an
    # optional gap: explicit offsets, padding and holes all come from here.
    order: Sequence[int] = range(len(names))
    if gaps and not offset_order:
        order = draw(_permutations(len(names)))
    gap = _GAPS if gaps else st.just(0)
    offsets = [0] * len(names)
    pos = 0
    for i in order:
        pos += draw(gap)
        offsets[i] = pos
        pos += types[i].dtype.itemsize * math.prod(shapes[i])
    itemsize = pos + draw(gap)
    return RecordSpec(
        tuple(
            FieldSpec(n, t, o, k) for n, t, o, k in zip(names, types, offsets, shapes, strict=True)
        ),
        itemsize,
    )


def schemas(**kwargs: Any) -> st.SearchStrategy[rv.Schema]:
    """Random :class:`recview.Schema` objects (``field_specs(**kwargs)`` compiled).

    Parameters
    ----------
    **kwargs
        As for :func:`field_specs`. Draw from :func:`field_specs` instead when
        the test also needs the independent ``construct.Struct``.

    Examples
    --------
    >>> import recview as rv
    >>> from hypothesis import given
    >>> from recview.testing import schemas
    >>> @given(schemas())
    ... def test(schema):
    ...     assert rv.Schema.from_json(schema.to_json()) == schema
    >>> test()
    """
    return field_specs(**kwargs).map(RecordSpec.schema)


def _canonical_nan(x: float) -> float:
    # NaN payloads are not preserved alike by every float conversion (struct's
    # float16 packing makes them canonical): draw the canonical quiet NaN only.
    return math.nan if math.isnan(x) else x


@functools.lru_cache(maxsize=256)
def _value_strategy(dt: np.dtype[Any], path: str) -> st.SearchStrategy[Any]:
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        inner = _value_strategy(base, path)
        for k in reversed(shape):
            inner = st.lists(inner, min_size=k, max_size=k)
        return inner
    if dt.names is not None:
        assert dt.fields is not None
        return st.fixed_dictionaries(
            {n: _value_strategy(dt.fields[n][0], f"{path}.{n}".lstrip(".")) for n in dt.names}
        )
    bits = dt.itemsize * 8
    if dt.kind == "i":
        return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    if dt.kind == "u":
        return st.integers(0, (1 << bits) - 1)
    if dt.kind == "f" and bits in (16, 32, 64):
        return st.floats(width=bits).map(_canonical_nan)  # type: ignore[arg-type]
    if dt.kind == "b":
        return st.booleans()
    if dt.kind == "S":
        # numpy strips trailing NULs on read: values never end in one.
        return st.binary(max_size=dt.itemsize).map(lambda b: b.rstrip(b"\0"))
    raise InvalidArgument(f"records(): field {path!r} has type {dt}, which has no value strategy")


def records(schema: rv.Schema | RecordSpec | Any) -> st.SearchStrategy[dict[str, Any]]:
    """Random values of one record: a dict by field name, nested dicts for
    nested records, nested lists for arrays.

    The values are valid for the dtype and survive every encoder exactly:
    integers in range, floats representable in their width (NaN only as the
    canonical quiet NaN), ``S<n>`` bytes of at most ``n`` bytes without a
    trailing NUL. Feed them to ``construct`` builds directly, and to numpy
    through :func:`records_to_array`.

    Parameters
    ----------
    schema : Schema, RecordSpec or anything Schema.from_dtype accepts
        Field kinds ``b i u f S`` are supported.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of dict

    Raises
    ------
    hypothesis.errors.InvalidArgument
        A field has a kind with no value strategy (complex, datetime, ``U``,
        ``V``); the message names the field.

    Examples
    --------
    >>> import recview as rv
    >>> from hypothesis import given
    >>> from recview.testing import records
    >>> s = rv.Schema.from_dtype([("n", ">u2"), ("tag", "S3"), ("xy", "<f4", (2,))])
    >>> @given(records(s))
    ... def test(rec):
    ...     assert 0 <= rec["n"] < 2**16 and len(rec["tag"]) <= 3 and len(rec["xy"]) == 2
    >>> test()
    """
    sch = schema.schema() if isinstance(schema, RecordSpec) else rv.as_schema(schema)
    if sch.bitfields:
        bit_strategy: st.SearchStrategy[dict[str, Any]] = _bits_value_strategy(
            sch.dtype, "", sch.bitfields
        )
        return bit_strategy
    strategy: st.SearchStrategy[dict[str, Any]] = _value_strategy(sch.dtype, "")
    return strategy


def _bits_value_strategy(
    dt: np.dtype[Any], path: str, bitfields: Mapping[str, Any]
) -> st.SearchStrategy[Any]:
    """As :func:`_value_strategy`, with a dict of bitfield values for each
    bitfield storage (``{name: int}``, in each bitfield's range)."""
    if path in bitfields:
        storage = bitfields[path]
        if storage.anonymous:
            raise InvalidArgument(
                f"records(): the bitfields of {path!r} are members of its parent (a C "
                "layout); draw bytes for such schemas instead"
            )
        return st.fixed_dictionaries(
            {
                b.name: st.integers(-(1 << (b.width - 1)), (1 << (b.width - 1)) - 1)
                if b.signed
                else st.integers(0, (1 << b.width) - 1)
                for b in storage.fields
            }
        )
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        inner = _bits_value_strategy(base, path, bitfields)
        for k in reversed(shape):
            inner = st.lists(inner, min_size=k, max_size=k)
        return inner
    if dt.names is not None:
        assert dt.fields is not None
        return st.fixed_dictionaries(
            {
                n: _bits_value_strategy(dt.fields[n][0], f"{path}.{n}".lstrip("."), bitfields)
                for n in dt.names
            }
        )
    return _value_strategy(dt, path)


# ---------------------------------------------------------------------------
# Encoders and comparisons
# ---------------------------------------------------------------------------


def record_bytes(spec: RecordSpec | Any, values: Iterable[Mapping[str, Any]]) -> bytes:
    """The bytes of ``values`` (records as drawn by :func:`records`), encoded by
    the independent ``construct.Struct`` of ``spec`` (:meth:`RecordSpec.construct`),
    or by ``spec`` itself if it is a ``construct`` struct.

    Parameters
    ----------
    spec : RecordSpec or construct.Struct
        The layout; a :class:`RecordSpec` is encoded by :meth:`RecordSpec.construct`.
    values : iterable of dict
        Records, as :func:`records` draws them.

    Returns
    -------
    bytes
        The records' bytes, one after the other.

    Examples
    --------
    >>> from recview.testing import FieldSpec, RecordSpec, ScalarSpec, record_bytes
    >>> spec = RecordSpec((FieldSpec("a", ScalarSpec("u", 2, ">"), 0),), itemsize=3)
    >>> record_bytes(spec, [{"a": 1}, {"a": 258}])
    b'\\x00\\x01\\x00\\x01\\x02\\x00'
    """
    con = spec.construct() if isinstance(spec, RecordSpec) else spec
    return b"".join(con.build(v) for v in values)


def _to_numpy(
    dt: np.dtype[Any], value: Any, bitfields: Mapping[str, Any] | None = None, path: str = ""
) -> Any:
    """A record value (dicts, lists) in the tuple form numpy assignment takes;
    a bitfield storage's ``{name: value}`` becomes its integer (Python's ``<<``)."""
    if bitfields and path in bitfields:
        out = 0
        for b in bitfields[path].fields:
            out |= (int(value[b.name]) & ((1 << b.width) - 1)) << b.lsb
        return out
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        if base.names is None:
            return value
        return _map_nested(lambda v: _to_numpy(base, v, bitfields, path), value, len(shape))
    if dt.names is not None:
        assert dt.fields is not None
        return tuple(
            _to_numpy(dt.fields[n][0], value[n], bitfields, f"{path}.{n}" if path else n)
            for n in dt.names
        )
    return value


def _map_nested(fn: Any, value: Any, depth: int) -> Any:
    if depth == 0:
        return fn(value)
    return [_map_nested(fn, v, depth - 1) for v in value]


def records_to_array(
    schema: rv.Schema | RecordSpec | Any, values: Iterable[Mapping[str, Any]]
) -> np.ndarray[Any, Any]:
    """A structured array of ``values``, encoded by numpy alone (padding zeroed).

    The second, construct-free way to get a record's bytes:
    ``records_to_array(schema, values).tobytes()``.

    Parameters
    ----------
    schema : Schema, RecordSpec or anything Schema.from_dtype accepts
        The layout.
    values : iterable of dict
        Records, as :func:`records` draws them.

    Returns
    -------
    numpy.ndarray
        A new structured array of ``schema``'s dtype, one element per record.

    Examples
    --------
    >>> from recview.testing import records_to_array
    >>> arr = records_to_array([("a", ">u2"), ("b", "S2")], [{"a": 1, "b": b"x"}])
    >>> arr.tobytes()
    b'\\x00\\x01x\\x00'
    """
    sch = schema.schema() if isinstance(schema, RecordSpec) else rv.as_schema(schema)
    dt = sch.dtype
    values = list(values)
    out = np.zeros(len(values), dtype=dt)
    for i, v in enumerate(values):
        out[i] = _to_numpy(dt, v, sch.bitfields)
    return out


def from_numpy(
    dtype: np.dtype[Any], value: Any, bitfields: Mapping[str, Any] | None = None, path: str = ""
) -> Any:
    """A numpy record (``np.void``) or field value as plain Python values, in the
    form :func:`records` draws (dicts, lists, int, float, bool, bytes).

    Parameters
    ----------
    dtype : numpy.dtype
        The dtype of ``value`` (a structured dtype for a record, a subarray
        dtype for an array field).
    value : numpy.void, numpy.ndarray or numpy scalar
        The value, e.g. ``view[i]`` or ``view[i]["field"]``.

    Returns
    -------
    dict, list, int, float, bool or bytes

    Examples
    --------
    >>> import numpy as np
    >>> from recview.testing import from_numpy
    >>> dt = np.dtype([("a", "<u2", (2,)), ("b", [("c", "S3")])])
    >>> from_numpy(dt, np.array([([1, 2], (b"hi",))], dt)[0])
    {'a': [1, 2], 'b': {'c': b'hi'}}

    With ``bitfields`` (a schema's :attr:`~recview.Schema.bitfields`), each
    bitfield storage becomes ``{name: value}``, decoded with Python's integers.
    """
    return _from_numpy(dtype, value, bitfields or {}, path)


def _from_numpy(dtype: np.dtype[Any], value: Any, bitfields: Mapping[str, Any], path: str) -> Any:
    if dtype.subdtype is not None:
        base, _shape = dtype.subdtype
        return _array_to_python(base, np.asarray(value), bitfields, path)
    if dtype.names is not None:
        assert dtype.fields is not None
        return {
            n: _from_numpy(dtype.fields[n][0], value[n], bitfields, f"{path}.{n}" if path else n)
            for n in dtype.names
        }
    if path in bitfields:
        raw = int(np.asarray(value).item()) & ((1 << (8 * dtype.itemsize)) - 1)
        out = {}
        for b in bitfields[path].fields:
            v = (raw >> b.lsb) & ((1 << b.width) - 1)
            out[b.name] = v - (1 << b.width) if b.signed and v >> (b.width - 1) else v
        return out
    return np.asarray(value).item()


def _array_to_python(
    base: np.dtype[Any], arr: np.ndarray[Any, Any], bitfields: Mapping[str, Any], path: str
) -> Any:
    if arr.ndim == 0:
        return _from_numpy(base, arr[()], bitfields, path)
    # index, not iterate: iterating an S array yields bytes, not 0-d arrays
    return [_array_to_python(base, np.asarray(arr[i]), bitfields, path) for i in range(len(arr))]


def _plain(obj: Any) -> Any:
    """construct's parse result (Container, ListContainer) as plain dicts and lists."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def same_values(expected: Any, actual: Any, path: str = "") -> str | None:
    """Compare record values exactly; return ``None``, or where and how they differ.

    NaN equals NaN, ``0.0`` differs from ``-0.0``, dicts compare by key and
    lists element-wise, recursively.

    Parameters
    ----------
    expected, actual
        Values in the form :func:`records` draws and :func:`from_numpy` returns.
    path : str
        Where the values sit, for the message (dotted field path).

    Returns
    -------
    str or None
        ``None`` when equal, else the first difference with its field path.

    Examples
    --------
    >>> from recview.testing import same_values
    >>> same_values({"a": [1.0, float("nan")]}, {"a": [1.0, float("nan")]}) is None
    True
    >>> same_values({"a": [1.0, 2.0]}, {"a": [1.0, -2.0]})
    'a[1]: expected 2.0, found -2.0'
    """
    where = path or "record"
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping) or set(expected) != set(actual):
            found = sorted(actual) if isinstance(actual, Mapping) else actual
            return f"{where}: expected fields {sorted(expected)}, found {found!r}"
        for k in expected:
            diff = same_values(expected[k], actual[k], f"{path}.{k}" if path else str(k))
            if diff is not None:
                return diff
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            return f"{where}: expected {len(expected)} items, found {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            diff = same_values(e, a, f"{path}[{i}]")
            if diff is not None:
                return diff
        return None
    if isinstance(expected, float) or isinstance(actual, float):
        try:
            e, a = float(expected), float(actual)
        except (TypeError, ValueError):
            return f"{where}: expected {expected!r}, found {actual!r}"
        if (math.isnan(e) and math.isnan(a)) or (
            e == a and math.copysign(1.0, e) == math.copysign(1.0, a)
        ):
            return None
        return f"{where}: expected {expected!r}, found {actual!r}"
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return f"{where}: expected {expected!r}, found {actual!r}"
    return None


@contextlib.contextmanager
def temp_file(directory: str | os.PathLike[str], content: bytes) -> Iterator[str]:
    """A fresh file holding ``content`` in ``directory``, deleted on exit.

    Property tests run many examples in one directory (hypothesis shares a
    test's fixtures between its examples): each example gets its own file.

    Parameters
    ----------
    directory : str or os.PathLike
        Where to make the file (e.g. a ``tmp_path_factory`` directory).
    content : bytes
        What the file holds.

    Yields
    ------
    str
        The file's path.

    Examples
    --------
    >>> import os, tempfile
    >>> from recview.testing import temp_file
    >>> with temp_file(tempfile.mkdtemp(), b"abc") as path:
    ...     print(os.path.getsize(path))
    3
    >>> os.path.exists(path)
    False
    """
    fd, path = tempfile.mkstemp(suffix=".bin", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        yield path
    finally:
        os.unlink(path)


# ---------------------------------------------------------------------------
# The one-call round-trip check
# ---------------------------------------------------------------------------


def _fail(message: str) -> None:
    raise AssertionError(message)


def check_roundtrip(
    schema: rv.Schema | Any,
    data: bytes | bytearray | memoryview | Iterable[Mapping[str, Any]],
    tmp_dir: str | os.PathLike[str],
    *,
    header: bytes = b"",
) -> bytes:
    """Write records to a file, read them back with recview, and check everything.

    The loop: records → bytes (numpy alone) → a file (after ``header``) →
    :func:`recview.open` → every record equal to the values given and to
    ``schema.to_construct().parse`` of its bytes → ``to_construct().build``
    of the parsed values → the same bytes. Along the way it checks that
    ``schema.itemsize == schema.to_construct().sizeof()``, that the bytes
    ``to_construct()`` builds from the values equal numpy's, that
    ``view.array``, slices and every field (top-level and dotted leaf paths)
    are read-only and zero-copy (``np.shares_memory(view[f], view.array)``),
    and that they hold the same bytes as ``np.frombuffer`` of the file.

    Parameters
    ----------
    schema : Schema or anything :func:`recview.as_schema` accepts
        The layout under test.
    data : bytes or iterable of dict
        Record values as drawn by :func:`records`, or the records' bytes. Bytes
        must be canonical for the last check (padding zero, bools 0 or 1,
        float16 NaNs canonical): :func:`record_bytes` makes such bytes.
    tmp_dir : str or os.PathLike
        Directory for the file (a ``tmp_path_factory`` directory: each call
        uses, then deletes, a fresh file in it).
    header : bytes
        Bytes written before the records (opened with ``offset=len(header)``).

    Returns
    -------
    bytes
        The records' bytes (without the header).

    Raises
    ------
    AssertionError
        A check failed; the message names the record index and field path.

    Examples
    --------
    >>> import tempfile, recview as rv
    >>> from recview.testing import check_roundtrip
    >>> s = rv.Schema.from_dtype([("id", ">u4"), ("pos", "<f8", (2,)), ("tag", "S4")])
    >>> raw = check_roundtrip(s, [{"id": 7, "pos": [0.5, -1.0], "tag": b"ab"}],
    ...                       tempfile.mkdtemp(), header=b"HDR!")
    >>> len(raw), raw[:4]
    (24, b'\\x00\\x00\\x00\\x07')
    """
    schema = rv.as_schema(schema)
    dt = schema.dtype
    itemsize = schema.itemsize
    con = schema.to_construct()
    if con.sizeof() != itemsize:
        _fail(f"to_construct().sizeof() is {con.sizeof()}, schema.itemsize is {itemsize}")
    values: list[Mapping[str, Any]] | None
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw, values = bytes(data), None
        if len(raw) % itemsize:
            raise ValueError(f"{len(raw)} bytes are not whole records of {itemsize} bytes")
    else:
        values = list(data)
        raw = records_to_array(schema, values).tobytes()
        for i, v in enumerate(values):
            built = con.build(v)
            if built != raw[i * itemsize : (i + 1) * itemsize]:
                _fail(
                    f"record {i}: to_construct().build gives {built!r}, numpy gives "
                    f"{raw[i * itemsize : (i + 1) * itemsize]!r}"
                )
    n = len(raw) // itemsize
    expected = np.frombuffer(raw, dtype=dt)
    with (
        temp_file(tmp_dir, header + raw) as path,
        rv.open(path, schema, offset=len(header)) as view,
    ):
        assert isinstance(view, rv.View)  # a local path, never a URL
        if len(view) != n:
            _fail(f"{path}: len(view) is {len(view)}, expected {n} records")
        _check_arrays(view, expected, n)
        for i in range(n):
            chunk = raw[i * itemsize : (i + 1) * itemsize]
            actual = from_numpy(dt, view[i], schema.bitfields)
            parsed = _plain(con.parse(chunk))
            diff = same_values(parsed, actual)
            if diff is not None:
                _fail(f"record {i}: view vs to_construct().parse: {diff}")
            if values is not None:
                diff = same_values(values[i], actual)
                if diff is not None:
                    _fail(f"record {i}: view vs the values written: {diff}")
            rebuilt = con.build(parsed)
            if rebuilt != chunk:
                _fail(
                    f"record {i}: to_construct().build(parse(b)) gives {rebuilt!r}, "
                    f"not the {chunk!r} read"
                )
    return raw


def _check_arrays(view: rv.View, expected: np.ndarray[Any, Any], n: int) -> None:
    arr = view.array
    if arr.flags.writeable:
        _fail("view.array is writable")
    if arr.tobytes() != expected.tobytes():
        _fail("view.array does not hold the file's bytes")
    for key in (slice(None), slice(1, None, 2), slice(None, None, -1)):
        part = view[key]
        if part.flags.writeable:
            _fail(f"view[{key}] is writable")
        if _bytes_of(part) != _bytes_of(expected[key]):
            _fail(f"view[{key}] differs from the file's records {key}")
    names: list[tuple[str, tuple[str, ...]]] = [(name, (name,)) for name in view.schema.names]
    names.extend(
        (leaf.path, tuple(leaf.path.split(".")))
        for leaf in view.schema.fields()
        if "." in leaf.path and not leaf.is_bitfield
    )
    _check_bitfields(view, expected)
    for label, parts in names:
        got = view[label]
        want = expected
        for p in parts:
            want = want[p]
        if got.flags.writeable:
            _fail(f"view[{label!r}] is writable")
        if n and not np.shares_memory(got, arr):
            _fail(f"view[{label!r}] is a copy, not a view of view.array")
        if got.dtype != want.dtype or got.shape != want.shape:
            _fail(f"view[{label!r}] is {got.dtype} {got.shape}, expected {want.dtype} {want.shape}")
        if _bytes_of(got) != _bytes_of(want):
            _fail(f"view[{label!r}] differs from the file's field {label!r}")


def _check_bitfields(view: rv.View, expected: np.ndarray[Any, Any]) -> None:
    """Every bitfield leaf: read-only, of its value type, and equal to its bits
    taken from the storage bytes with Python's integers."""
    schema = view.schema
    for leaf in schema.fields():
        if not leaf.is_bitfield:
            continue
        assert leaf.storage is not None
        assert leaf.bit_offset is not None
        assert leaf.bit_width is not None
        got = schema.get(view.array, leaf.path)
        if got.flags.writeable:
            _fail(f"bitfield {leaf.path!r} is writable")
        if got.dtype != leaf.value_dtype:
            _fail(f"bitfield {leaf.path!r} is {got.dtype}, expected {leaf.value_dtype}")
        storage = expected
        for p in leaf.storage.split("."):
            storage = storage[p]
        order: Literal["big", "little"] = "big" if leaf.bit_order == ">" else "little"
        mask = (1 << leaf.bit_width) - 1
        cells = np.ascontiguousarray(storage).view(np.uint8).reshape(-1, leaf.dtype.itemsize)
        want = []
        for row in cells:
            v = (int.from_bytes(row.tobytes(), order) >> leaf.bit_offset) & mask
            if leaf.signed and v >> (leaf.bit_width - 1):
                v -= 1 << leaf.bit_width
            want.append(v)
        if np.asarray(got).reshape(-1).tolist() != want:
            _fail(f"bitfield {leaf.path!r} differs from its bits in the file")


def _bytes_of(x: np.ndarray[Any, Any]) -> bytes:
    """The bytes of each element in order, padding included. (Copying a strided
    structured array does not copy its padding bytes: no ``tobytes()`` there.)"""
    if x.dtype.names is None:
        return np.ascontiguousarray(x).tobytes()
    return b"".join(x[idx].tobytes() for idx in np.ndindex(x.shape))
