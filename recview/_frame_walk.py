"""The frame walk: where a header's length field is, and the pass that finds every frame.

A framed file is a run of frames: a fixed-size header, a payload whose byte
length is an integer field of the header plus ``adjust``, then ``trailer``
bytes (a Fortran end marker). This module owns the description of that
layout (:class:`Layout`, checked against the header schema by
:func:`layout`), the walk over a buffer that writes every payload's offset
(:func:`index`: the C loop of :mod:`recview._frames` when it is built, else
its Python twin :func:`index_py`, with the same results), and the words of
the error that a frame stopping the walk gets (:func:`settle`).
:mod:`recview.frames` owns the windows, the mapping and the growing index.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from recview._vocab import NDArray, Trailing, check_int
from recview.errors import LayoutError, LayoutWarning, SchemaError
from recview.schema import Schema

NATIVE: ModuleType | None
try:
    from recview import _frames as NATIVE
except ImportError:  # not built (no compiler): index_py does the pass
    NATIVE = None

# Status codes of one index call (the same in _frames.c).
LIMIT, FULL, PARTIAL, BADLEN, BADTRAILER = range(5)
INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class Layout:
    """Where the length is in a header and what surrounds a payload."""

    header: int  # header bytes
    field: str  # dotted name of the length field (for messages)
    len_offset: int
    len_size: int
    len_signed: bool
    len_big: bool
    adjust: int
    trailer: int
    check_trailer: bool  # the trailer is an end marker equal to the length field

    def native_args(self) -> tuple[int, int, int, int, int, int, int, int]:
        return (
            self.header,
            self.len_offset,
            self.len_size,
            int(self.len_signed),
            int(self.len_big),
            self.adjust,
            self.trailer,
            int(self.check_trailer),
        )


def layout(schema: Schema, length: str, adjust: int, trailer: int) -> Layout:
    """The :class:`Layout` of frames with ``schema`` headers whose field ``length``
    (dotted) gives the payload length.

    Raises
    ------
    SchemaError
        ``length`` is not a byte-aligned scalar integer field of 1, 2, 4 or 8 bytes.
    """
    leaves = {f.path: f for f in schema.fields()}
    leaf = leaves.get(length)
    if leaf is None:
        raise SchemaError(
            f"length field {length!r} is not a field of the header (fields: {', '.join(leaves)})",
            field=length,
        )
    kind = leaf.dtype.kind
    size = leaf.dtype.itemsize
    bitfield = getattr(leaf, "bits", None) is not None or getattr(leaf, "bit_offset", None)
    if kind not in "iu" or leaf.shape != () or size not in (1, 2, 4, 8) or bitfield:
        raise SchemaError(
            f"length field {length!r} must be a byte-aligned scalar integer of 1, 2, 4 or 8 "
            f"bytes, not {leaf.dtype.str} with shape {leaf.shape}",
            field=length,
        )
    adjust = check_int(adjust, "adjust", minimum=None)
    trailer = check_int(trailer, "trailer")
    order = leaf.dtype.byteorder
    big = order == ">" or (order == "=" and np.little_endian is False)
    return Layout(
        header=schema.itemsize,
        field=length,
        len_offset=leaf.offset,
        len_size=size,
        len_signed=kind == "i",
        len_big=big,
        adjust=adjust,
        trailer=trailer,
        check_trailer=trailer == size,
    )


def index_py(
    buf: memoryview,
    pos: int,
    limit: int,
    end: int,
    out: NDArray,
    start: int,
    lay: Layout,
) -> tuple[int, int, int, int]:
    """The Python twin of ``_frames.index``: same arguments, same results.

    A loop with ``struct.unpack_from``: frame k's position depends on frame
    k - 1, so there is nothing to vectorize.
    """
    code = {1: "b", 2: "h", 4: "i", 8: "q"}[lay.len_size]
    order = ">" if lay.len_big else "<"
    fmt = struct.Struct(order + (code if lay.len_signed else code.upper()))
    ufmt = struct.Struct(order + code.upper())
    unpack = fmt.unpack_from
    hs, ts, adjust, lo, ls = lay.header, lay.trailer, lay.adjust, lay.len_offset, lay.len_size
    cap = len(out) - start
    count = 0
    p = pos
    status, value = LIMIT, 0
    dst: list[int] = []
    while p < limit:
        if count == cap:
            status = FULL
            break
        if end - p < hs:
            status = PARTIAL
            break
        (raw,) = unpack(buf, p + lo)
        n = raw + adjust
        if raw > INT64_MAX or n < 0 or n > INT64_MAX:
            status, value = BADLEN, (-1 if raw > INT64_MAX else raw)
            break
        payload = p + hs
        if payload + n + ts > end:
            status, value = PARTIAL, raw
            break
        if lay.check_trailer and buf[payload + n : payload + n + ls] != buf[p + lo : p + lo + ls]:
            status, value = BADTRAILER, ufmt.unpack_from(buf, payload + n)[0]
            break
        dst.append(payload)
        count += 1
        p = payload + n + ts
    out[start : start + count] = dst
    return status, count, p, value


def index(
    buf: memoryview,
    pos: int,
    limit: int,
    end: int,
    out: NDArray,
    start: int,
    lay: Layout,
    native: ModuleType | None,
) -> tuple[int, int, int, int]:
    """Walk the frames of ``buf`` from ``pos``; write payload offsets into ``out[start:]``.

    Stops before a frame whose header starts at or after ``limit``, when
    ``out`` is full, or at a frame that is partial (runs past ``end``), has
    an impossible length or a bad trailer. Returns ``(status, count, pos,
    value)``: the status code, the offsets written, the offset of the first
    frame not indexed, and for errors the raw length or trailer. ``native``
    is :mod:`recview._frames` (or ``None``: the Python twin).
    """
    if native is not None:
        result: tuple[int, int, int, int] = native.index(
            buf, pos, limit, end, out, start, *lay.native_args()
        )
        return result
    return index_py(buf, pos, limit, end, out, start, lay)


def gather_py(buf: memoryview, offsets: NDArray, lengths: NDArray, out: object) -> int:
    """The Python twin of ``_frames.gather``: the payloads concatenated into ``out``."""
    view = memoryview(out).cast("B")  # type: ignore[arg-type]
    at = 0
    for o, n in zip(offsets.tolist(), lengths.tolist(), strict=True):
        view[at : at + n] = buf[o : o + n]
        at += n
    return at


def read_uint(raw: NDArray, at: int, lay: Layout) -> int:
    """The unsigned integer of the length field's size and byte order at byte ``at``."""
    return int.from_bytes(raw[at : at + lay.len_size].tobytes(), "big" if lay.len_big else "little")


def declared_length(raw: NDArray, at: int, lay: Layout) -> int:
    """Payload length the header at byte ``at`` of ``raw`` declares (after adjust)."""
    lo = at + lay.len_offset
    value = int.from_bytes(
        raw[lo : lo + lay.len_size].tobytes(),
        "big" if lay.len_big else "little",
        signed=lay.len_signed,
    )
    return value + lay.adjust


def declared_lengths(raw: NDArray, starts: NDArray, lay: Layout) -> NDArray:
    """:func:`declared_length` of the headers at byte offsets ``starts``: one gather.

    A ``u8`` length beyond int64 wraps negative (an impossible length either way).
    """
    at = (starts + lay.len_offset)[:, None] + np.arange(lay.len_size)
    code = f"{'>' if lay.len_big else '<'}{'i' if lay.len_signed else 'u'}{lay.len_size}"
    values = np.ascontiguousarray(raw[at]).view(code).reshape(-1)
    out: NDArray = values.astype(np.int64) + lay.adjust
    return out


def settle(
    status: int,
    value: int,
    *,
    raw: NDArray,
    path: str,
    frame: int,
    at: int,
    size: int,
    trailing: Trailing,
    lay: Layout,
    max_length: int | None,
    stacklevel: int,
) -> None:
    """Raise or warn for what stopped the walk: frame ``frame`` at byte ``at``.

    ``status`` and ``value`` are what :func:`index` returned, ``size`` the
    bytes of the file, ``raw`` the file's bytes (a uint8 view).
    """
    if status == LIMIT:
        return
    where = f"{path}: frame {frame:,} at byte offset {at:,}"
    if status == BADLEN:
        shown = "a value that does not fit in int64" if value == -1 else f"{value:,}"
        bound = f"between 0 and {max_length:,} (max_length)" if max_length is not None else ">= 0"
        raise LayoutError(
            f"{where}: impossible length: header field {lay.field!r} is {shown}"
            f"{f' and adjust is {lay.adjust:+,}' if lay.adjust else ''}, "
            f"expected a payload length {bound} (is the header schema or byte order right?)",
            path=path,
            offset=at,
            field=lay.field,
        )
    if status == BADTRAILER:
        n = declared_length(raw, at, lay)
        trailer_at = at + lay.header + n
        marker = read_uint(raw, at + lay.len_offset, lay)
        raise LayoutError(
            f"{where}: trailer at byte offset {trailer_at:,} is {value:,}, expected the "
            f"header's marker {marker:,} (field {lay.field!r}, payload of {n:,} bytes)",
            path=path,
            offset=trailer_at,
            field=lay.field,
        )
    if trailing == "ignore":
        return
    left = size - at
    if left < lay.header:
        what = f"{left:,} bytes of a {lay.header:,}-byte header"
    else:
        need = lay.header + declared_length(raw, at, lay) + lay.trailer
        what = (
            f"header field {lay.field!r} is {value:,}: the frame needs {need:,} bytes "
            f"but only {left:,} are left (it runs past the end of the file, "
            f"{size:,} bytes, by {need - left:,})"
        )
    msg = f"{where}: partial last frame: {what}"
    if trailing == "error":
        raise LayoutError(
            msg + ' (pass trailing="ignore" or "warn")',
            path=path,
            offset=at,
            field=lay.field,
        )
    warnings.warn(msg + " (left out)", LayoutWarning, stacklevel=stacklevel + 1)
