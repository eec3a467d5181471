"""Conversion of a laid-out C type to a numpy structured dtype, and its result type.

:func:`_to_dtype` maps the C type model (:mod:`recview._c.types`) to numpy:
scalars to numbers in the dump's byte order (or the enclosing struct's
``scalar_storage_order``), arrays of plain ``char`` to bytes, other arrays to
subarrays, aggregates to structured dtypes with explicit offsets. On the way it
collects the paths of union fields and the names of enum values, which
:class:`CLayout` carries with the dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recview._bits import Bit, Storage
from recview._c.types import _Aggregate, _Array, _BitRun, _CType, _Member, _Scalar
from recview._vocab import NATIVE_ORDER, join_path


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
        Dotted path of each enum-typed field (scalar or array, or bitfield)
        to a mapping ``{value: name}``.
    bitfields : dict
        Dotted dtype path of each hidden storage field (``"_bits@4"``,
        ``"hdr._bits@0"``) to its bitfields (:class:`recview._bits.Storage`,
        anonymous: the bitfields are members of the storage's parent).
    """

    dtype: np.dtype[Any]
    unions: frozenset[str]
    enums: dict[str, dict[int, str]] = field(default_factory=dict)
    bitfields: dict[str, Storage] = field(default_factory=dict)


def _scalar_dtype(scalar: _Scalar, byteorder: str) -> np.dtype[Any]:
    if scalar.kind == "b":
        return np.dtype("?")
    if scalar.kind == "S":
        return np.dtype("S1")
    if scalar.size == 1:
        return np.dtype(f"|{scalar.kind}1")
    return np.dtype(f"{byteorder}{scalar.kind}{scalar.size}")


def _has_fields(ctype: _CType) -> bool:
    if isinstance(ctype, _Array):
        return _has_fields(ctype.elem)
    if isinstance(ctype, _Aggregate):
        return any(m.ctype.size and _has_fields(m.ctype) for m in ctype.members)
    return True


def _storage_name(member: _Member) -> str:
    # '@' is no C identifier character: the name never meets a member's
    return f"_bits@{member.offset}" if isinstance(member.ctype, _BitRun) else member.name


def _bit_storage(
    run: _BitRun,
    path: str,
    byteorder: str,
    enums: dict[str, dict[int, str]],
    bitfields: dict[str, Storage],
    order: str,
) -> np.dtype[Any]:
    """The storage dtype of a run of bitfields at dotted ``path``; its bitfields
    go into ``bitfields``. ``order`` is the byte order of the run's value: on a
    big-endian layout GCC allocates from the most significant bit, so a field at
    allocation bit ``p`` of an ``n``-byte run is value bits ``8n-p-w .. 8n-p-1``."""
    if order == "=":
        order = NATIVE_ORDER
    n = run.size
    parent = path.rpartition(".")[0]
    bits: list[Bit] = []
    for b in run.fields:
        kind = b.base.kind
        # plain char: signed on x86-64, unsigned on s390x and powerpc64
        signed = kind == "i" or (kind == "S" and byteorder != ">")
        lsb = 8 * n - b.bitpos - b.width if order == ">" else b.bitpos
        bits.append(Bit(b.name, lsb, b.width, signed))
        if b.base.names is not None:
            enums[join_path(parent, b.name)] = dict(b.base.names)
    bitfields[path] = Storage(tuple(bits), order if n > 1 else "<", anonymous=True)
    if n in (1, 2, 4, 8):
        return np.dtype(f"{order if n > 1 else '|'}u{n}")
    return np.dtype(f"V{n}")


def _to_dtype(
    ctype: _CType,
    path: str,
    byteorder: str,
    unions: set[str],
    enums: dict[str, dict[int, str]],
    scalar_order: str | None = None,
    bitfields: dict[str, Storage] | None = None,
) -> np.dtype[Any]:
    """The numpy dtype of a C type; ``byteorder`` is the dump's, ``scalar_order``
    the enclosing struct's scalar_storage_order (GCC: it reaches scalar and
    array-of-scalar members, and bitfields, never nested structs); bitfield
    storage found on the way goes into ``bitfields``."""
    if bitfields is None:
        bitfields = {}
    if isinstance(ctype, _BitRun):
        return _bit_storage(ctype, path, byteorder, enums, bitfields, scalar_order or byteorder)
    if isinstance(ctype, _Scalar):
        if ctype.names is not None:
            enums[path] = dict(ctype.names)
        return _scalar_dtype(ctype, scalar_order or byteorder)
    if isinstance(ctype, _Array):
        elem = ctype.elem
        if isinstance(elem, _Scalar) and elem.kind == "S":
            chars = np.dtype(f"S{ctype.shape[-1]}")
            return chars if len(ctype.shape) == 1 else np.dtype((chars, ctype.shape[:-1]))
        inner = _to_dtype(elem, path, byteorder, unions, enums, scalar_order, bitfields)
        return np.dtype((inner, ctype.shape))
    # members of no bytes (int x[0]) are no fields: numpy would put them at the
    # offset of the next one, and no value can be read from them
    # nor are members with nothing to read (a struct of only unnamed bitfields,
    # which GCC lays out): their bytes are padding
    members = [m for m in ctype.members if m.ctype.size and _has_fields(m.ctype)]
    shared_bits = any(isinstance(m.ctype, _BitRun) and len(m.ctype.fields) > 1 for m in members)
    if ctype.union and (len(members) > 1 or shared_bits):
        # a one-member union is a struct (and from_dtype, which sees overlap
        # only, agrees), unless that member is bitfields sharing bits
        unions.add(path)
    names = [_storage_name(m) for m in members]
    return np.dtype(
        {
            "names": names,
            "formats": [
                _to_dtype(
                    m.ctype,
                    join_path(path, name),
                    byteorder,
                    unions,
                    enums,
                    ctype.byteorder,
                    bitfields,
                )
                for m, name in zip(members, names, strict=True)
            ],
            "offsets": [m.offset for m in members],
            "itemsize": ctype.size,
        }
    )
