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

from recview._c.parse import _join
from recview._c.types import _Array, _CType, _Scalar


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
