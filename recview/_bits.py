"""Bitfields: how they are described and how their values are read (private
helper of :mod:`recview.schema`).

Bits are not addressable, so a bitfield lives inside a *storage field* of the
record's dtype, an ordinary field whose bytes hold one or more bitfields:

* an integer field (``u1 u2 u4 u8`` or signed, either byte order): the
  declarative ``rv.bits(rv.u16be, fin=1, ...)`` form, construct's
  ``BitStruct``, and C runs of 1, 2, 4 or 8 bytes;
* a ``V<n>`` field: C runs of any other length (``__attribute__((packed))``
  lets bitfields straddle 3, 5 or 9 bytes).

Bits are numbered from the least significant bit (0) of the storage *value*,
the ``n`` storage bytes read as one unsigned integer in the storage's byte order
(:attr:`_Storage.order`): ``fin`` is bit 0 of a ``u16be`` in either byte order.
A bitfield ``(lsb, width)`` is ``(value >> lsb) & (2**width - 1)``, sign-extended
when it is signed.

:func:`extract` computes one bitfield for a whole array of storage values in
one vectorized pass (a shift left then a shift right over the covering bytes,
read as a 1, 2, 4 or 8-byte integer where the storage allows it), with no
Python loop per record.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from recview._vocab import NDArray

__all__ = ["Bit", "Storage", "extract", "value_dtype"]


@dataclasses.dataclass(frozen=True)
class Bit:
    """One bitfield: ``width`` bits from bit ``lsb`` of its storage value."""

    name: str
    lsb: int
    width: int
    signed: bool = False


@dataclasses.dataclass(frozen=True)
class Storage:
    """The bitfields of one storage field.

    ``anonymous`` storage (C's: the struct has no name for it) puts its
    bitfields beside the storage field, at its parent's level; otherwise they
    are its children (``flags.fin``). ``order`` is the byte order in which the
    storage bytes form the value the bits are numbered in (``"<"`` for
    one-byte storage).
    """

    fields: tuple[Bit, ...]
    order: str = "<"
    anonymous: bool = False


def value_dtype(width: int, signed: bool) -> np.dtype[Any]:
    """The smallest numpy integer type holding a ``width``-bit value."""
    for nbytes in (1, 2, 4, 8):
        if width <= 8 * nbytes:
            return np.dtype(f"{'i' if signed else 'u'}{nbytes}")
    raise ValueError(f"a bitfield of {width} bits has no numpy integer type")


def _window(a: NDArray, start: int, nbytes: int, order: str) -> NDArray:
    """Bytes ``start .. start + nbytes`` of every storage value of ``a``, as one
    unsigned integer each, in ``order``: a strided view, no copy."""
    fmt = f"{order if nbytes > 1 else '|'}u{nbytes}"
    if start == 0 and nbytes == a.dtype.itemsize:
        return a.view(fmt)
    # same itemsize, so numpy allows the view on strided arrays too
    spec: Any = {"names": ["w"], "formats": [fmt], "offsets": [start], "itemsize": a.dtype.itemsize}
    out: NDArray = a.view(np.dtype(spec))["w"]
    return out


def extract(
    storage: Any, dtype: np.dtype[Any], order: str, lsb: int, width: int, signed: bool
) -> NDArray:
    """Values of the bitfield ``(lsb, width)`` of every storage value in ``storage``.

    ``storage`` holds values of ``dtype`` (an integer or ``V<n>`` type, any
    shape); the result has its shape, the type :func:`value_dtype` gives, and
    is read-only (a fresh array: bits are not addressable).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([0b1011_0110], dtype=">u2")
    >>> extract(a, a.dtype, ">", 5, 3, False), extract(a, a.dtype, ">", 5, 3, True)
    (array([5], dtype=uint8), array([-3], dtype=int8))
    """
    a = np.asarray(storage)
    if a.dtype != dtype:
        # a record's field comes back as a native numpy scalar: its *value* is
        # the storage value, so convert values between integer types, and
        # reinterpret bytes only for raw (V<n>) storage
        same_size = a.dtype.itemsize == dtype.itemsize
        ints = a.dtype.kind in "iu" and dtype.kind in "iu"
        a = a.view(dtype) if same_size and not ints else a.astype(dtype)
    if a.ndim == 0:
        # one record: ufuncs on a 0-d array give scalars, which cannot be
        # shifted in place; compute on one element, hand back a 0-d array
        one = extract(a.reshape(1), dtype, order, lsb, width, signed)
        return one.reshape(())
    n = dtype.itemsize
    # the bytes of the storage that hold the bitfield: b0 .. b1
    if order == ">":
        b0, b1 = n - 1 - (lsb + width - 1) // 8, n - lsb // 8
    else:
        b0, b1 = lsb // 8, (lsb + width - 1) // 8 + 1
    span = b1 - b0
    out_dt = value_dtype(width, signed)
    for wbytes in (1, 2, 4, 8):
        if span <= wbytes <= n:
            start = min(b0, n - wbytes)
            shift = lsb - 8 * (n - start - wbytes if order == ">" else start)
            window = _window(a, start, wbytes, order)
            result = _shift(window, wbytes, shift, width, signed)
            break
    else:
        result = _assembled(a, n, order, b0, b1, lsb, width, signed)
    if result.dtype != out_dt:
        result = result.astype(out_dt)
    result.flags.writeable = False
    return result


def _shift(
    window: NDArray, wbytes: int, shift: int, width: int, signed: bool
) -> NDArray:
    """``width`` bits from bit ``shift`` of each ``wbytes``-byte value: the
    bits moved to the top, then back down (arithmetic shift when signed, so
    the sign extends), in two in-place ufunc passes."""
    total = 8 * wbytes
    native = np.dtype(f"{'i' if signed else 'u'}{wbytes}")
    if signed:
        window = window.view(window.dtype.str.replace("u", "i"))
    left, right = total - shift - width, total - width
    if left:
        out: NDArray = np.left_shift(window, left, dtype=native)
        if right:
            np.right_shift(out, right, out=out)
        return out
    if right:
        shifted: NDArray = np.right_shift(window, right, dtype=native)
        return shifted
    return window.astype(native)


def _assembled(
    a: NDArray,
    n: int,
    order: str,
    b0: int,
    b1: int,
    lsb: int,
    width: int,
    signed: bool,
) -> NDArray:
    """The slow path, for covering bytes no 1/2/4/8-byte window inside the
    storage can read (a 3-byte storage, or 9 bytes: a 64-bit field 1..7 bits
    into a packed run): the bytes assembled into a uint64 (plus one high byte)."""
    lo = np.zeros(a.shape, dtype=np.uint64)
    hi: NDArray | None = None
    for i in range(b0, b1):
        pos = b1 - 1 - i if order == ">" else i - b0  # byte's place in the value
        byte = _window(a, i, 1, "|").astype(np.uint64)
        if pos < 8:
            lo |= byte << np.uint64(8 * pos)
        else:
            hi = byte
    shift = lsb - 8 * ((n - b1) if order == ">" else b0)
    value = lo >> np.uint64(shift)
    if hi is not None:
        value |= hi << np.uint64(64 - shift)
    if width < 64:
        value &= np.uint64((1 << width) - 1)
        if signed:
            top = 64 - width
            return (value << np.uint64(top)).view(np.int64) >> np.int64(top)
    return value.view(np.int64) if signed else value
