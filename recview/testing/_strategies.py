"""The hypothesis strategies of recview.testing: names, scalar and bitfield types, records, schemas, values.

Public through :mod:`recview.testing`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import recview as rv
from recview.testing._specs import (
    BitsSpec,
    ByteOrder,
    FieldSpec,
    RecordSpec,
    ScalarKind,
    ScalarSpec,
)

# Record sizes stay small: property tests want many small examples, not a few huge ones.
_MAX_STRUCT_NBYTES = 512


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
