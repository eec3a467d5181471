"""The type atoms of the declarative Record class: sized numbers, ``bytes_``, ``pad`` and ``bits``.

``u8`` .. ``f64be`` are numpy dtypes; ``pad(n)`` and ``bits(storage, ...)``
are markers that :class:`recview.schema.Record` lays out (``array(t, n)``,
which also takes Record subclasses, lives with Record in :mod:`recview.schema`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from recview._bits import Bit, Storage
from recview._dtypes import _MAX_ITEMSIZE
from recview._vocab import check_int
from recview.errors import SchemaError

__all__ = [
    "bits",
    "bytes_",
    "f16",
    "f16be",
    "f16le",
    "f2",
    "f2be",
    "f2le",
    "f32",
    "f32be",
    "f32le",
    "f4",
    "f4be",
    "f4le",
    "f64",
    "f64be",
    "f64le",
    "f8",
    "f8be",
    "f8le",
    "i16",
    "i16be",
    "i16le",
    "i32",
    "i32be",
    "i32le",
    "i64",
    "i64be",
    "i64le",
    "i8",
    "i8be",
    "i8le",
    "pad",
    "u16",
    "u16be",
    "u16le",
    "u32",
    "u32be",
    "u32le",
    "u64",
    "u64be",
    "u64le",
    "u8",
    "u8be",
    "u8le",
]

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
    for name, given in widths.items():
        width = _checked(
            given, 1, f"bitfield {name!r}: width must be a positive integer, got {given!r}", name
        )
        if pos + width > total:
            raise SchemaError(
                f"bitfield {name!r}: bits {pos}..{pos + width - 1} do not fit the "
                f"{total}-bit storage {dt.str} (the widths add up to "
                f"{sum(int(w) for w in widths.values())} bits)",
                field=name,
            )
        if not name.startswith("_"):
            fields.append(Bit(name, pos, width, dt.kind == "i"))
        pos += width
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
    size = _checked(n, 0, f"{what}: expected a non-negative integer size, got {n!r}")
    if size > _MAX_ITEMSIZE:
        raise SchemaError(f"{what}: {size} bytes is too large")
    return size


def _checked(n: object, minimum: int, message: str, field: str | None = None) -> int:
    """``n`` as an ``int`` by the rule every count of recview follows
    (:func:`recview._vocab.check_int`: numpy integers too, never a bool), else
    a SchemaError with ``message``."""
    try:
        return check_int(n, "n", minimum=minimum)
    except (TypeError, ValueError):
        raise SchemaError(message, field=field) from None
