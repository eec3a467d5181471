"""Splitting records into columns for View.columns(): the native one-pass copy and its numpy fallback.

:class:`Split` copies the leaves of a schema out of blocks of records into
one contiguous, native-byte-order array per leaf. The byte fields go to the
C extension :mod:`recview._columns` when it is built: numpy copies one field
at a time with its strided per-element loop, which made ``columns()`` take
about 1.6 times a ``memcpy`` of the same bytes even with every field copied
from a cache-sized block (``docs/benchmarks.md`` has the measurement). The
extension copies every field of a small block while the block is in L1, with
size-specialized moves and byte swaps. Bitfields (computed, not copied),
fields numpy must convert, and every field when the extension is missing or
``RECVIEW_NO_COLUMNS_KERNEL`` is set to a non-empty value other than ``0``,
are copied by numpy, with the same results.

:func:`empty` makes the outputs: with the extension, each large one starts
on a 2 MiB boundary, so that transparent huge pages back all of it (malloc's
placement leaves about 1,000 4 KiB page faults at the two ends of each).
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from recview.schema import FieldInfo

__all__ = ["NATIVE", "Split", "empty"]

_native: ModuleType | None
try:
    from recview import _columns as _native
except ImportError:  # not built (no compiler): numpy copies every field
    _native = None
if os.environ.get("RECVIEW_NO_COLUMNS_KERNEL", "") not in ("", "0"):
    _native = None

NATIVE: bool = _native is not None
"""Whether byte fields are copied by the native split (tests may clear it)."""

# Bytes of records per call of the native split when it copies every field:
# few calls (each takes its task list apart again), and the copy releases
# the GIL and sees Ctrl-C between calls every few milliseconds.
_CALL_NBYTES = 16 << 20

# Outputs larger than this are written with non-temporal stores (past the
# caches, as memcpy writes large copies): a write that first reads each
# cache line of a column from memory costs half again as much memory traffic.
_STREAM_NBYTES = 16 << 20

# The numpy copies take blocks of this many bytes of records: small enough
# that a block stays in L2 while every column is filled from it.
BLOCK_NBYTES = 256 << 10


def empty(shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """``np.empty(shape, dtype)``; from the extension's allocator when the
    native split is on (the same array, aligned for huge pages)."""
    if NATIVE:
        assert _native is not None
        out: np.ndarray[Any, Any] = _native.empty(shape, dtype)
        return out
    return np.empty(shape, dtype)


Task = tuple[np.ndarray[Any, Any], int, int, int, int, int]


def _swap_unit(dtype: np.dtype[Any]) -> int | None:
    """Bytes per unit whose order a copy of ``dtype`` into its native twin
    reverses: 0 for a plain copy, None when it is not a byte reversal."""
    if dtype.isnative or dtype.byteorder == "|":
        return 0
    if dtype.kind in "iufmM":
        return int(dtype.itemsize)
    if dtype.kind == "c":  # real and imaginary parts, each on its own
        return int(dtype.itemsize) // 2
    if dtype.kind == "U":  # UCS-4 code points
        return 4
    return None


def _tasks(field: FieldInfo, out: np.ndarray[Any, Any]) -> list[Task] | None:
    """The native split's copies for one byte field into ``out`` (shape
    ``(n,) + field.shape``), or None when numpy must copy it."""
    dtype = field.dtype
    if field.is_bitfield or dtype.fields is not None or dtype.subdtype is not None:
        return None
    if dtype.hasobject or out.dtype != dtype.newbyteorder("="):
        return None
    swap = _swap_unit(dtype)
    if swap is None:
        return None
    shape = field.shape
    strides = field.strides
    itemsize = int(dtype.itemsize)
    # The trailing axes laid out as in C order are one run of bytes per
    # record; the axes before them (arrays of records) one copy per index.
    k, run = len(shape), itemsize
    while k and (strides is None or strides[k - 1] == run):
        run *= shape[k - 1]
        k -= 1
    if run == 0:
        return []
    flat = out.reshape(-1).view(np.uint8)
    ostride = int(out.itemsize) * int(np.prod(shape, dtype=np.int64))
    tasks: list[Task] = []
    assert strides is not None or k == 0
    for j, idx in enumerate(np.ndindex(*shape[:k])):
        offset = field.offset + sum(i * s for i, s in zip(idx, strides or (), strict=False))
        tasks.append((flat, offset, run, ostride, j * run, swap))
    return tasks


class Split:
    """Copies of ``fields`` (leaves of records of ``itemsize`` bytes) into
    ``outs`` (one array per leaf path, shape ``(n,) + leaf shape``)."""

    def __init__(
        self, itemsize: int, fields: Sequence[FieldInfo], outs: dict[str, np.ndarray[Any, Any]]
    ) -> None:
        self._itemsize = itemsize
        self._outs = outs
        self._tasks: list[Task] = []
        self._rest: list[FieldInfo] = []  # copied by numpy
        for f in fields:
            tasks = _tasks(f, outs[f.path]) if NATIVE else None
            if tasks is None:
                self._rest.append(f)
            else:
                self._tasks.extend(tasks)
        self._block = max(1, BLOCK_NBYTES // itemsize)
        self._stream = sum(out.nbytes for out in outs.values()) >= _STREAM_NBYTES

    def _native(self, records: np.ndarray[Any, Any], first: int) -> None:
        if self._tasks and len(records):
            assert _native is not None
            data = records.view(np.uint8)
            _native.split(data, self._itemsize, first, self._tasks, self._stream)

    def mapped(self, whole: np.ndarray[Any, Any]) -> None:
        """Fill the outputs from ``whole``, every record (a view of a mapping)."""
        n = len(whole)
        if not n:
            return
        if not self._rest:
            step = max(1, _CALL_NBYTES // self._itemsize)
            for a in builtins.range(0, n, step):
                self._native(whole[a : a + step], a)
            return
        # Each byte field's strided view of all records is made once, and
        # blocks are slices of it: making views per block and field would
        # cost more than copying the field out of a small block. A bitfield
        # is computed from the block (the shifts cost more).
        outs = self._outs
        srcs = [(f.get(whole), outs[f.path]) for f in self._rest if not f.is_bitfield]
        bitfields = [f for f in self._rest if f.is_bitfield]
        block = self._block
        for a in builtins.range(0, n, block):
            part = whole[a : a + block]
            self._native(part, a)
            for src, out in srcs:
                out[a : a + block] = src[a : a + block]
            for f in bitfields:
                outs[f.path][a : a + block] = f.get(part)

    @property
    def block(self) -> int:
        """Records per block of :meth:`records` (what ``mode="pread"`` reads at once)."""
        return self._block

    def records(self, raw: np.ndarray[Any, Any], first: int) -> None:
        """Fill output records ``first..first + len(raw)`` from ``raw`` (a copy)."""
        self._native(raw, first)
        b = first + len(raw)
        for f in self._rest:
            self._outs[f.path][first:b] = f.get(raw)
