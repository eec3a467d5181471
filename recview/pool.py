"""Streams of records from file objects, read into a bounded pool of reusable buffers.

This module owns the non-seekable side of recview: :func:`stream` reads any
binary file object (a pipe, ``sys.stdin.buffer``, ``socket.makefile("rb")``,
``gzip``/``bz2``/``lzma`` files, a ``zstandard`` reader) with ``readinto``
straight into buffers taken from a :class:`BufferPool`, and yields read-only
structured arrays that *view* those buffers: no byte is copied after the read.

Buffer lifetime is the heart of it. A buffer is handed out again only once no
array and no memoryview refers to it any more, so a batch the caller keeps is
never overwritten; see :class:`BufferPool` for how that is detected and
:func:`open_compressed` for opening ``.gz``/``.bz2``/``.xz``/``.zst`` paths.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import operator
import os
import stat
import sys
import threading
import warnings
import weakref
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Final, Literal, NoReturn, cast

import numpy as np
import numpy.typing as npt

from recview.errors import LayoutError, LayoutWarning, RecviewError
from recview.schema import as_schema

__all__ = [
    "COMPRESSED_SUFFIXES",
    "DEFAULT_BUFFER_SIZE",
    "BufferPool",
    "PoolStats",
    "compression_of",
    "decompressing",
    "open_compressed",
    "stream",
]

#: Default size of one pooled buffer, in bytes: 256 KiB, chosen from the
#: buffer-size sweep in ``docs/stream.md``. Below it, the per-read and
#: per-buffer overheads dominate; above it, the two buffers a steady stream
#: alternates between no longer fit in a core's L2 cache, so the kernel's copy
#: into them costs up to twice the CPU (1-16 MiB), and peak RSS grows with the
#: buffer.
DEFAULT_BUFFER_SIZE: Final = 256 << 10

#: Default number of buffers a pool keeps for reuse.
DEFAULT_MAX_BUFFERS: Final = 8

#: Page size the stream keeps its buffers' capacity a multiple of, when it can.
_PAGE: Final = 4096

Trailing = Literal["error", "ignore", "warn"]
_TRAILING: Final = ("error", "ignore", "warn")


#: Arrays from :meth:`BufferPool.acquire` start at a chosen address modulo
#: this many bytes (each buffer has this much slack). 64: a cache line, and
#: enough for the kernel's copy into the buffer to take its fast path.
ALIGNMENT: Final = 64


class _Buffer(bytearray):
    """A ``bytearray`` with ``ALIGNMENT`` bytes of slack that can be weakly referenced.

    The pool tracks the buffers it allocated beyond ``max_buffers`` through
    weak references only (plain bytearrays cannot have them), so that they
    are freed as soon as the last array viewing them is gone. ``phase`` is
    the address of the first byte modulo ``ALIGNMENT``; it never changes,
    since a pooled bytearray is never reallocated (see ``_is_exported``).
    """

    __slots__ = ("__weakref__", "phase")

    def __init__(self, nbytes: int) -> None:
        super().__init__(nbytes + ALIGNMENT)
        self.phase = np.frombuffer(self, np.uint8).ctypes.data % ALIGNMENT

    def window(self, nbytes: int, phase: int) -> memoryview:
        """A writable memoryview of *nbytes* whose address is *phase* modulo ``ALIGNMENT``."""
        start = (phase - self.phase) % ALIGNMENT
        return memoryview(self)[start : start + nbytes]


def _is_exported(buffer: bytearray) -> bool:
    """Whether any array or memoryview still refers to *buffer*.

    Why a resize probe, and not the alternatives:

    - ``sys.getrefcount`` counts references, not exports, and what it returns
      depends on the interpreter (temporaries on the stack, immortal objects,
      borrowed references in 3.14, the free-threaded build): a count that is
      off by one either reuses a live batch or leaks the pool.
    - Weak references or finalizers on the yielded arrays miss derived
      objects: ``col = batch["price"]; del batch`` finalizes ``batch`` while
      ``col`` still views the buffer (numpy points ``col.base`` past ``batch``
      at the owner of the memory).
    - A ``bytearray`` counts its buffer exports itself (PEP 3118) and refuses
      any resize while one is outstanding, raising ``BufferError``. Every
      view of the buffer, however derived (numpy slices, field views, the
      ``memoryview`` that ``np.frombuffer`` wraps it in, ``memoryview``
      slices, ``ctypes.from_buffer``), holds such an export until it is
      released, so the probe is exact and costs O(1).

    The probe shrinks by one byte and grows back. Shrinking by one byte never
    reallocates (CPython only does so below half the allocation), growing back
    then fits the allocation, so the memory never moves and nothing is copied.
    ``bytearray.pop`` is *not* used: it moves the trailing NUL into the last
    byte before it notices the export, corrupting a live batch.
    """
    try:
        del buffer[-1:]
    except BufferError:
        return True
    buffer.append(0)
    return False


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of a :class:`BufferPool`'s counters.

    Attributes
    ----------
    hits : int
        Acquisitions served by a pooled buffer that was free again.
    misses : int
        Acquisitions that had to allocate a buffer (a new pooled one, or one
        beyond the pool).
    outstanding : int
        Buffers (pooled or not) that some array or memoryview still refers to.
    pooled : int
        Buffers the pool keeps for reuse (at most ``max_buffers``).
    overflow : int
        Acquisitions that found every pooled buffer in use and allocated a
        buffer beyond the pool (included in ``misses``).
    nbytes : int
        Bytes held by the pooled buffers: ``pooled * (buffer_size + 64)``
        (each has ``ALIGNMENT`` bytes of slack to place arrays).
    """

    hits: int
    misses: int
    outstanding: int
    pooled: int
    overflow: int
    nbytes: int


class BufferPool:
    """A thread-safe, bounded pool of reusable byte buffers.

    :meth:`acquire` hands out a writable ``uint8`` array over a buffer of
    ``buffer_size`` bytes. There is no explicit release: the buffer goes back
    to the pool by itself once no array or memoryview refers to it any more,
    which covers every array derived from the one handed out (slices, field
    views, ``.view(dtype)``). A batch a caller keeps is therefore never
    overwritten.

    Parameters
    ----------
    buffer_size : int, optional
        Size of each pooled buffer in bytes (default 256 KiB, chosen from the
        sweep in ``docs/stream.md``).
    max_buffers : int, optional
        How many buffers the pool keeps for reuse (default 8). The pool's own
        memory is bounded by ``max_buffers * (buffer_size + 64)``.

    Raises
    ------
    ValueError
        If ``buffer_size`` or ``max_buffers`` is smaller than 1.

    Notes
    -----
    When every pooled buffer is still in use, :meth:`acquire` **allocates a
    buffer beyond the pool** rather than waiting: a single-threaded consumer
    that keeps its batches would otherwise wait for itself forever. Such a
    buffer is counted in ``stats().overflow``, is not kept by the pool, and is
    freed by Python as soon as its last array is gone; the memory in use is
    then bounded by what the caller keeps, plus the pool.

    A free buffer is found by asking each pooled ``bytearray`` whether it
    still has buffer exports (see ``_is_exported``), which is exact, unlike
    reference counts or finalizers on the arrays handed out.

    Examples
    --------
    >>> import numpy as np
    >>> import recview as rv
    >>> pool = rv.BufferPool(buffer_size=4096, max_buffers=2)
    >>> a = pool.acquire(16)
    >>> a[:] = 7
    >>> b = pool.acquire(16)           # a is still alive: another buffer
    >>> np.shares_memory(a, b)
    False
    >>> pool.stats().outstanding
    2
    >>> del a, b                       # both buffers are free again
    >>> c = pool.acquire(16)
    >>> s = pool.stats()
    >>> (s.hits, s.misses, s.outstanding, s.pooled)
    (1, 2, 1, 2)
    """

    def __init__(
        self,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        max_buffers: int = DEFAULT_MAX_BUFFERS,
    ) -> None:
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be at least 1 byte, got {buffer_size}")
        if max_buffers < 1:
            raise ValueError(f"max_buffers must be at least 1, got {max_buffers}")
        self._buffer_size = int(buffer_size)
        self._max_buffers = int(max_buffers)
        self._lock = threading.Lock()
        self._pooled: list[_Buffer] = []
        # Buffers allocated beyond the pool, held weakly (by id of the weak
        # reference: bytearrays are unhashable): they die with their last
        # array, and are only counted here, in ``outstanding``.
        self._overflow: dict[int, weakref.ref[_Buffer]] = {}
        self._hits = 0
        self._misses = 0
        self._overflows = 0

    @property
    def buffer_size(self) -> int:
        """Size of each pooled buffer, in bytes."""
        return self._buffer_size

    @property
    def max_buffers(self) -> int:
        """How many buffers the pool keeps for reuse."""
        return self._max_buffers

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"BufferPool(buffer_size={self._buffer_size}, max_buffers={self._max_buffers}; "
            f"hits={s.hits}, misses={s.misses}, outstanding={s.outstanding})"
        )

    def acquire(self, nbytes: int | None = None, *, phase: int = 0) -> npt.NDArray[np.uint8]:
        """Take a free buffer and return a writable ``uint8`` array of *nbytes* over it.

        Parameters
        ----------
        nbytes : int, optional
            Length of the array in bytes; default ``buffer_size``. Up to
            ``buffer_size`` it views a pooled buffer (the rest of the buffer
            stays unused but pinned while the array lives); beyond, a
            buffer of exactly *nbytes* is allocated outside the pool.
        phase : int, optional
            The array's address modulo ``ALIGNMENT`` (64 bytes); default 0,
            cache-line aligned. A reader that will fill the array from stream
            position ``pos`` passes ``phase=pos``: the kernel copies into a
            destination with the same alignment as its source (a page-cache
            or pipe page) several times faster than into one that is not.

        Returns
        -------
        numpy.ndarray
            A writable, C-contiguous ``uint8`` array of length *nbytes*. Its
            contents are whatever the buffer held before (not zeroed).
            Arrays derived from it (``arr[a:b]``, ``arr.view(dtype)``) keep the
            buffer in use just as the array itself does.

        Raises
        ------
        ValueError
            If *nbytes* is negative.

        Notes
        -----
        Release is implicit: when the array and everything derived from it
        are gone, the buffer is free for the next :meth:`acquire`, from any
        thread. There is no ``release()`` to forget or to call too early. If
        every pooled buffer is in use, a buffer is allocated beyond
        the pool instead of waiting (see the class notes).

        Examples
        --------
        >>> import numpy as np
        >>> from recview.pool import BufferPool
        >>> pool = BufferPool(buffer_size=64, max_buffers=1)
        >>> raw = pool.acquire(16)
        >>> raw[:] = np.arange(16, dtype=np.uint8)
        >>> words = raw.view("<u4")            # still the same buffer
        >>> del raw
        >>> again = pool.acquire(16)           # words keeps it: another buffer
        >>> pool.stats().overflow
        1
        >>> del words, again
        >>> _ = pool.acquire(16)
        >>> pool.stats().hits
        1
        """
        size = self._buffer_size if nbytes is None else int(nbytes)
        return np.frombuffer(self._lease(size, phase), dtype=np.uint8)

    def _lease(self, nbytes: int, phase: int = 0) -> memoryview:
        """:meth:`acquire` as a writable memoryview (cheaper than an array: ~0.5 us vs 3)."""
        if nbytes < 0:
            raise ValueError(f"nbytes must not be negative, got {nbytes}")
        with self._lock:
            buffer = self._take() if nbytes <= self._buffer_size else None
            if buffer is None:
                buffer = _Buffer(nbytes)
                self._misses += 1
                self._overflows += 1
                ref = weakref.ref(buffer, self._forget)
                self._overflow[id(ref)] = ref
            # The export is created under the lock, so no other thread can see
            # this buffer as free between the probe and here.
            return buffer.window(nbytes, phase % ALIGNMENT)

    def _take(self) -> _Buffer | None:
        """A free pooled buffer (or a new one while below ``max_buffers``); lock held."""
        pooled = self._pooled
        # Most recently handed out last; scan from there. The newest buffer is
        # usually still in use (the stream's, or the caller's latest batch),
        # the one before is usually free and still hot in the CPU caches,
        # so a steady stream alternates between two warm buffers however many
        # the pool holds, instead of cycling through all of them.
        for index in range(len(pooled) - 1, -1, -1):
            buffer = pooled[index]
            if not _is_exported(buffer):
                if index != len(pooled) - 1:
                    pooled.append(pooled.pop(index))
                self._hits += 1
                return buffer
        if len(pooled) < self._max_buffers:
            buffer = _Buffer(self._buffer_size)
            pooled.append(buffer)
            self._misses += 1
            return buffer
        return None

    def _forget(self, ref: weakref.ref[_Buffer]) -> None:
        """Weak-reference callback: an overflow buffer died (no lock: dict.pop is atomic)."""
        self._overflow.pop(id(ref), None)

    def stats(self) -> PoolStats:
        """Return a snapshot of the pool's counters.

        Returns
        -------
        PoolStats
            Hits, misses, outstanding buffers, pooled buffers, overflow
            allocations and the bytes the pool holds.

        Examples
        --------
        >>> from recview.pool import BufferPool
        >>> pool = BufferPool(buffer_size=1024, max_buffers=4)
        >>> keep = [pool.acquire() for _ in range(5)]
        >>> pool.stats()
        PoolStats(hits=0, misses=5, outstanding=5, pooled=4, overflow=1, nbytes=4352)
        """
        with self._lock:
            busy = sum(_is_exported(buffer) for buffer in self._pooled)
            return PoolStats(
                hits=self._hits,
                misses=self._misses,
                outstanding=busy + len(self._overflow),
                pooled=len(self._pooled),
                overflow=self._overflows,
                nbytes=len(self._pooled) * (self._buffer_size + ALIGNMENT),
            )


def _record_dtype(schema: Any) -> np.dtype[np.void]:
    """The structured dtype of *schema* (a ``Schema`` or anything ``as_schema`` takes)."""
    dtype: np.dtype[np.void] = as_schema(schema).dtype
    return dtype


def _source_name(fileobj: object) -> str:
    """A name for *fileobj* in messages: its path, ``<fd N>`` or ``<TypeName>``."""
    name = getattr(fileobj, "name", None)
    if isinstance(name, (str, bytes, os.PathLike)) and os.fsdecode(name):
        return os.fsdecode(name)
    if isinstance(name, int):
        return f"<fd {name}>"
    return f"<{type(fileobj).__name__}>"


_ReadInto = Callable[[memoryview], "int | None"]


def _reader(fileobj: IO[bytes] | Any, name: str) -> _ReadInto:
    """A function that reads at most ``len(mv)`` bytes into *mv* and returns the count.

    The order of preference: a real ``readinto1`` (``BufferedReader``, so
    ``sys.stdin.buffer`` and ``socket.makefile("rb")``; ``zstandard``): one
    call to the raw stream, so batches come as soon as data arrives on a pipe
    or socket instead of after a full buffer; then a real ``readinto``
    (``FileIO`` and ``SocketIO``, whose reads are single system calls anyway;
    ``BytesIO``); then ``io.BufferedIOBase``'s generic ``readinto1`` and
    ``readinto`` (gzip, bz2, lzma files: they decompress into a new ``bytes``
    and copy it); then ``read1``/``read`` (one copy).

    The generic ``readinto1`` is not first because it allocates a ``bytes``
    object per call (``read1`` then copy), even where ``readinto`` is native,
    as for ``BytesIO``.
    """
    if isinstance(fileobj, io.TextIOBase):
        raise TypeError(f"{name}: stream() needs a binary file object (open(..., 'rb'))")
    native: list[_ReadInto] = []
    generic: list[_ReadInto] = []
    for method in ("readinto1", "readinto"):
        func = getattr(fileobj, method, None)
        if callable(func):
            inherited = getattr(type(fileobj), method, None) is getattr(io.BufferedIOBase, method)
            (generic if inherited else native).append(func)
    candidates = native + generic
    for method in ("read1", "read"):
        func = getattr(fileobj, method, None)
        if callable(func):
            candidates.append(_copying_reader(func, name))
    if not candidates:
        raise TypeError(f"{name}: stream() needs a file object with readinto() or read()")

    if native:
        # The common case (pipes, sockets, files, stdin): the bound method
        # itself, so that each read costs one call and nothing more.
        return native[0]

    def read(target: memoryview) -> int | None:
        while True:
            try:
                return candidates[0](target)
            except (io.UnsupportedOperation, NotImplementedError):  # noqa: PERF203
                # e.g. a BufferedIOBase subclass without read1(): try the next.
                # (Only generic readers get here; native ones are returned above.)
                if len(candidates) == 1:
                    raise
                del candidates[0]

    return read


def _no_data(name: str, at: int) -> LayoutError:
    """The error for a non-blocking file object that had nothing to read (``None``).

    ``None`` is what ``io.BufferedReader`` returns when a non-blocking source
    has no data yet: not an end of stream, and nothing a generator can wait
    for, so it is an error (a ``LayoutError``, hence still a ``ValueError``).
    """
    return LayoutError(
        f"{name}: the file object has no data ready (non-blocking mode) at stream offset "
        f"{at:,}; stream() needs a blocking file object",
        path=name,
        offset=at,
    )


def _checked_count(count: Any, room: int, name: str, read: object, at: int, where: str) -> int:
    """*count* as a byte count from 0 to *room*, or the error for it.

    The slow path of every read: the stream calls it only when *count* is
    not a plain ``int`` from 1 to *room* (the end of the stream, 0, comes
    here too). As ``io.BufferedReader`` does, a count outside the buffer is
    an error, never believed: too high would yield stale buffer bytes as
    records, negative would read the same bytes again forever. Integers of
    other types (``numpy.int64``) are taken through ``__index__``, as there;
    a ``bool`` or a ``float`` is a bug in the source, not a count.
    """
    if count is None:
        raise _no_data(name, at)
    if not isinstance(count, bool):
        try:
            value = operator.index(count)
        except TypeError:
            pass
        else:
            if 0 <= value <= room:
                return value
    shown = f"{count:,}" if type(count) is int else repr(count)
    method = getattr(read, "__name__", "read")
    raise LayoutError(
        f"{name}: {method}() returned {shown} for a {room:,}-byte buffer at stream offset "
        f"{at:,}{where} (expected an int from 0 to {room:,}, as io.BufferedReader requires)",
        path=name,
        offset=at,
    )


def _compression_of(fileobj: object) -> str | None:
    """The compression format *fileobj* decompresses, if it is a known decompressing reader."""
    if isinstance(fileobj, _Decompressed):
        return fileobj.format
    if isinstance(fileobj, gzip.GzipFile):
        return "gzip"
    if isinstance(fileobj, bz2.BZ2File):
        return "bzip2"
    if isinstance(fileobj, lzma.LZMAFile):
        return "lzma"
    if type(fileobj).__module__.partition(".")[0] == "zstandard":
        return "zstd"
    return None


def _data_error(
    name: str, fmt: str | None, exc: BaseException, nbytes: int, note: str
) -> LayoutError:
    """The ``LayoutError`` for data a read could not deliver: corrupt, truncated or failing.

    *nbytes* is how far the read got (decompressed bytes for a compressed
    source), *note* what the stream made of them (whole records).
    """
    detail = " ".join((str(exc) or type(exc).__name__).split())
    if fmt is None:
        what, unit = f"read failed: {type(exc).__name__}: {detail}", "bytes"
    else:
        kind = "truncated" if isinstance(exc, EOFError) else "corrupt"
        what, unit = f"{kind} {fmt} data: {detail}", "decompressed bytes"
    return LayoutError(f"{name}: {what} (after {nbytes:,} {unit}{note})", path=name, offset=nbytes)


def _raise_for_read(exc: Exception, name: str, fmt: str | None, nbytes: int, note: str) -> NoReturn:
    """Raise what *exc*, raised by a read of *name*, means: *exc* itself, or a recview error.

    - recview errors pass through;
    - an ``OSError`` with an ``errno`` is a real I/O failure (a reset socket,
      a disk error): it keeps its type, so that callers can still catch
      ``ConnectionResetError``, and gets *name* as its ``filename``;
    - what decompressors raise on bad data (``EOFError`` for a truncated
      file, ``zlib.error``, ``lzma.LZMAError``, ``zstandard.ZstdError``, an
      ``OSError`` without ``errno`` such as ``gzip.BadGzipFile`` or bz2's
      "Invalid data stream") and the ``ValueError`` of a broken or closed
      file object become a ``LayoutError`` naming the source and how far the
      read got;
    - anything else (a ``TypeError``: a bug, not bad data) passes through.
    """
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
        exc.filename = name
    elif not isinstance(exc, RecviewError) and (
        isinstance(exc, (EOFError, OSError, ValueError, zlib.error, lzma.LZMAError))
        or type(exc).__module__.partition(".")[0] == "zstandard"
    ):
        raise _data_error(name, fmt, exc, nbytes, note) from exc
    raise exc


def _copying_reader(read: Callable[[int], Any], name: str) -> Callable[[memoryview], int | None]:
    """Adapt a ``read(n) -> bytes`` method to ``readinto`` (copying once)."""

    def readinto(target: memoryview) -> int | None:
        data = read(len(target))
        if data is None:
            return None  # non-blocking, nothing ready: reported by the caller
        if isinstance(data, str):
            raise TypeError(f"{name}: stream() needs a binary file object (open(..., 'rb'))")
        count = len(data)
        if count > len(target):
            raise LayoutError(
                f"{name}: read({len(target)}) returned {count:,} bytes "
                f"(expected at most {len(target):,})",
                path=name,
            )
        target[:count] = data
        return count

    return readinto


def stream(
    fileobj: IO[bytes] | Any,
    schema: Any,
    *,
    pool: BufferPool | None = None,
    offset: int = 0,
    trailing: Trailing = "error",
    records: int | None = None,
) -> Iterator[np.ndarray[Any, np.dtype[np.void]]]:
    """Read records from a binary file object and yield them in zero-copy batches.

    Data is read with ``readinto`` straight into buffers from *pool*, and each
    batch is a read-only structured array viewing the buffer its bytes were
    read into. A record split across two reads (short reads of any size, down
    to one byte) is stitched in place: the reads land next to each other in
    the same buffer, whose length is a whole number of records.

    Parameters
    ----------
    fileobj : binary file object
        Anything with ``readinto1``, ``readinto``, ``read1`` or ``read``
        (native ``readinto1``/``readinto`` preferred, see Notes): a pipe, ``sys.stdin.buffer``,
        ``socket.makefile("rb")``, ``gzip.open(path)``, a ``bz2``/``lzma``
        file, ``zstandard.ZstdDecompressor().stream_reader(f)``,
        ``io.BytesIO``. Reading starts at its current position; it must be
        blocking. It is not closed.
    schema : recview.Schema or numpy dtype
        The record layout: a ``Schema``, or anything ``Schema.from_dtype``
        accepts. Batches have dtype ``schema.dtype``.
    pool : BufferPool, optional
        Where buffers come from. Default: a new pool of
        ``max(DEFAULT_BUFFER_SIZE, records * itemsize)``-byte buffers for this
        stream.
    offset : int, optional
        Bytes to skip before the first record (a header), in bytes.
    trailing : {"error", "ignore", "warn"}, optional
        What a partial record at the end of the stream gets, as in
        ``rv.open``: ``"error"`` raises ``LayoutError`` (after every whole
        record was yielded), ``"ignore"`` drops it, ``"warn"`` drops it with a
        ``LayoutWarning``.
    records : int, optional
        Records per batch. ``None`` (default): each batch holds the whole
        records that have arrived so far, as soon as a read brings at least
        one (low latency on pipes and sockets), at most a buffer's worth.
        ``records=n``: every batch but the last holds exactly ``n`` records;
        the stream reads until it has them.

    Yields
    ------
    numpy.ndarray
        Read-only 1-d structured arrays of dtype ``schema.dtype``, in order,
        never empty. A batch stays valid as long as you keep it: its buffer
        is not reused before every array viewing it is gone.

    Raises
    ------
    LayoutError
        If the stream ends inside the header, or with a partial record and
        ``trailing="error"``; the message gives the stray byte count and the
        stream offset where they start. Also, naming the source and the
        stream offset, whenever the source misbehaves: a read returns a
        count that is negative, larger than the buffer it was given, or not
        an integer (as ``io.BufferedReader`` checks), or ``None`` (a
        non-blocking source with no data ready), or a read raises on bad
        data (a corrupt or truncated gzip/bz2/xz/zstd stream: ``EOFError``,
        ``zlib.error``, ``gzip.BadGzipFile``, ``lzma.LZMAError``,
        ``zstandard.ZstdError``; a closed file), chained with ``from``.
    OSError
        A real I/O failure of a read (an ``OSError`` with an ``errno``, such
        as ``ConnectionResetError``) keeps its type; its ``filename`` is set
        to the source's name if it had none.
    TypeError
        If *fileobj* is a text file, or has no read method.
    ValueError
        For an invalid ``offset``, ``trailing`` or ``records``.

    Warns
    -----
    LayoutWarning
        With ``trailing="warn"``, when a partial record is dropped.

    Notes
    -----
    The stream holds one buffer at a time, and each batch you keep holds
    the buffer it views; buffers whose batches you dropped are reused, so
    memory stays bounded by ``max_buffers * buffer_size`` plus what you keep
    (in a steady loop that drops each batch, two buffers alternate). A
    buffer holds ``buffer_size // itemsize`` records, or ``records`` with
    ``records=n``; when that is more than ``pool.buffer_size``, every buffer
    is allocated beyond the pool (``pool.stats().overflow``), so size the
    pool for the batches you ask for.

    Latency: with ``records=None`` a batch is yielded as soon as a read
    completes at least one record, and the stream never waits to fill a
    buffer, so the consumer of a pipe or socket sees records while the
    writer is still sending. For that, a ``readinto1`` of the object's own
    (``BufferedReader``, as ``sys.stdin.buffer`` and ``socket.makefile("rb")``
    are) is used first, then its own ``readinto`` (raw ``FileIO`` and
    ``SocketIO`` reads are single system calls, ``BytesIO`` copies), then
    ``io.BufferedIOBase``'s generic ones (gzip, bz2, lzma files), then
    ``read1``/``read`` (one more copy).

    A count within the buffer but beyond what the source really wrote cannot
    be told from the truth (by ``io.BufferedReader`` either). zstandard's own
    ``stream_reader`` ends a truncated frame without an error, so a cut
    ``.zst`` read through it looks shorter, not broken: open ``.zst`` files
    with :func:`open_compressed`, which checks that the input ends between
    frames.

    Examples
    --------
    >>> import io, numpy as np
    >>> import recview as rv
    >>> dtype = np.dtype([("ts", "<u8"), ("price", "<f8")])
    >>> data = np.array([(1, 9.5), (2, 9.75), (3, 10.0)], dtype=dtype).tobytes()
    >>> for batch in rv.stream(io.BytesIO(b"HDR!" + data), dtype, offset=4, records=2):
    ...     print(batch["ts"].tolist(), batch.flags.writeable)
    [1, 2] False
    [3] False

    A partial record at the end follows *trailing*:

    >>> batches = rv.stream(io.BytesIO(data + b"xyz"), dtype)
    >>> len(next(batches))
    3
    >>> next(batches)
    Traceback (most recent call last):
    ...
    recview.errors.LayoutError: <BytesIO>: stream ended with 3 stray bytes at offset 48, after 3 records of 16 bytes (pass trailing="ignore" or "warn")
    """
    dtype = _record_dtype(schema)
    name = _source_name(fileobj)
    if trailing not in _TRAILING:
        raise ValueError(f"trailing must be one of {_TRAILING}, got {trailing!r}")
    if offset < 0:
        raise ValueError(f"offset must be a byte count >= 0, got {offset}")
    if records is not None and records < 1:
        raise ValueError(f"records must be at least 1, got {records}")
    read = _reader(fileobj, name)
    return _stream(fileobj, read, dtype, name, pool, offset, trailing, records)


def _stream(
    fileobj: object,
    read: _ReadInto,
    dtype: np.dtype[np.void],
    name: str,
    pool: BufferPool | None,
    offset: int,
    trailing: Trailing,
    records: int | None,
) -> Iterator[np.ndarray[Any, np.dtype[np.void]]]:
    """The generator behind :func:`stream` (arguments already checked)."""
    itemsize = dtype.itemsize
    if pool is None:
        pool = BufferPool(max(DEFAULT_BUFFER_SIZE, itemsize * (records or 1)))
    # A buffer holds a whole number of records, so a full buffer never ends
    # inside a record: records split across reads are stitched simply by
    # reading into the rest of the same buffer, and nothing is ever copied.
    per_buffer = records or max(1, pool.buffer_size // itemsize)
    page_records = math.lcm(itemsize, _PAGE) // itemsize
    if records is None and 2 * page_records * itemsize <= pool.buffer_size:
        # Also a whole number of pages when that wastes under half a buffer:
        # the read that fills a buffer then ends on a page boundary of the
        # stream, leaving no partial page in a pipe to be fetched by one more
        # short read (25% more reads through a pipe with 24-byte records).
        per_buffer -= per_buffer % page_records
    capacity = per_buffer * itemsize
    # At most one batch per read, so yield only when a read completes this many.
    min_batch = records or 1

    _widen_pipe(fileobj, capacity)
    if offset:
        _skip_header(fileobj, read, pool, offset, capacity, name)
    position = offset  # stream offset of the current buffer's first byte
    while True:
        # Place the buffer so that its address has the alignment (mod 64) of
        # the stream position: the kernel then copies from the page cache or
        # pipe pages with its fast path (3-4x less CPU than misaligned).
        target = pool._lease(capacity, phase=position)
        # Batches come from a read-only memoryview, so that neither they nor
        # anything derived from them can be made writable again. (Positional
        # arguments only: np.frombuffer's keyword parsing doubles its cost.)
        view = np.frombuffer(target.toreadonly(), dtype)
        filled = done = 0  # bytes read into this buffer, records yielded from it
        while filled < capacity:
            # (A try block costs nothing until something is raised.)
            try:
                count = read(target[filled:])
            except Exception as exc:  # noqa: BLE001  # re-raised as is unless it is bad data
                at = position + filled
                note = f", {(at - offset) // itemsize:,} whole records of {itemsize:,} bytes"
                _raise_for_read(exc, name, _compression_of(fileobj), at, note)
            # Never believe a count: one type test and one comparison per
            # read keep the check off the profile (reads are 4 KiB+).
            if type(count) is not int or not 0 < count <= capacity - filled:
                count = _checked_count(count, capacity - filled, name, read, position + filled, "")
                if not count:
                    break
            filled += count
            complete = filled // itemsize
            if complete - done >= min_batch:
                start, done = done, complete
                yield view[start:complete]
        if filled < capacity:
            break  # end of the stream
        position += capacity
        # Drop every reference to the full buffer before taking the next,
        # so that it can come back as soon as the caller drops its batches.
        del target, view

    complete = filled // itemsize
    if complete > done:
        yield view[done:complete]
    stray = filled - complete * itemsize
    if stray and trailing != "ignore":
        position += complete * itemsize
        message = (
            f"{name}: stream ended with {stray:,} stray bytes at offset {position:,}, "
            f"after {(position - offset) // itemsize:,} records of {itemsize:,} bytes"
        )
        if trailing == "error":
            raise LayoutError(
                f'{message} (pass trailing="ignore" or "warn")', path=name, offset=position
            )
        warnings.warn(f"{message} (left out)", LayoutWarning, stacklevel=2)


def _widen_pipe(fileobj: object, nbytes: int) -> None:
    """Raise the capacity of the pipe behind *fileobj* to *nbytes*, if it is one (Linux).

    A pipe holds 64 KiB by default, which caps every read at 64 KiB however
    large the buffer: with the capacity of a buffer, one read can fill it, so
    the per-read costs (a system call, a batch, a wake-up of the writer) are
    paid up to 4x less often. Never shrinks a pipe. Over
    ``/proc/sys/fs/pipe-max-size`` (1 MiB by default), which an unprivileged
    user may not exceed, 1 MiB is tried instead; any other failure (not a
    pipe, no ``fileno``) leaves the file alone.
    """
    if sys.platform != "linux":
        return
    import fcntl

    try:
        fd = fileobj.fileno()  # type: ignore[attr-defined]
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        current = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        for size in (nbytes, min(nbytes, 1 << 20)):
            if size <= current:
                return
            try:
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
            except PermissionError:
                continue  # over pipe-max-size (1 MiB by default) when unprivileged
            return
    except (AttributeError, OSError, TypeError, ValueError):
        pass


def _skip_header(
    fileobj: object, read: _ReadInto, pool: BufferPool, offset: int, capacity: int, name: str
) -> None:
    """Read and drop *offset* bytes, in pieces as short as the source returns."""
    scratch = pool._lease(min(offset, capacity))
    skipped = 0
    while skipped < offset:
        room = min(offset - skipped, len(scratch))
        try:
            count = read(scratch[:room])
        except Exception as exc:  # noqa: BLE001  # re-raised as is unless it is bad data
            note = f", inside the {offset:,}-byte header"
            _raise_for_read(exc, name, _compression_of(fileobj), skipped, note)
        where = f" while skipping the {offset:,}-byte header"
        count = _checked_count(count, room, name, read, skipped, where)
        if not count:
            raise LayoutError(
                f"{name}: stream ended after {skipped:,} bytes, inside the {offset:,}-byte header",
                path=name,
                offset=skipped,
            )
        skipped += count


#: The suffixes :func:`open_compressed` decompresses (lower case; the CLI
#: reads paths ending in one of them as streams).
COMPRESSED_SUFFIXES: Final = (".gz", ".bz2", ".xz", ".lzma", ".zst", ".zstd")

_FORMATS: Final = {
    ".gz": "gzip",
    ".bz2": "bzip2",
    ".xz": "xz",
    ".lzma": "lzma",
    ".zst": "zstd",
    ".zstd": "zstd",
}


class _Decompressed(io.RawIOBase):
    """A decompressing reader that names its file and reports bad data as ``LayoutError``.

    What :func:`open_compressed` returns: ``name`` is the path (``BZ2File``
    and ``LZMAFile`` have none before Python 3.13), and whatever the
    decompressor raises on corrupt or truncated data (``EOFError``,
    ``zlib.error``, ``gzip.BadGzipFile``...) becomes a ``LayoutError`` that
    names the file, the format and how many decompressed bytes were read,
    for every reader of the file, not only :func:`stream`.
    """

    def __init__(
        self, inner: IO[bytes], name: str, fmt: str, frames: _ZstdFrames | None = None
    ) -> None:
        super().__init__()
        self._inner: Any = inner  # GzipFile, BZ2File, LZMAFile or a zstandard reader
        self.name = name
        self.format = fmt
        self._frames = frames
        self._nbytes = 0  # decompressed bytes handed out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not memoryview(buffer).nbytes:
            return 0  # not the end: zstandard even fails on an empty read mid-frame
        try:
            count: int = self._inner.readinto(buffer)
        except Exception as exc:  # noqa: BLE001  # re-raised as is unless it is bad data
            _raise_for_read(exc, self.name, self.format, self._nbytes, "")
        if not count and self._frames is not None and not self._frames.complete:
            # zstandard's reader ends quietly inside a frame; the frame
            # walker saw the compressed bytes and knows the file was cut.
            cut = EOFError("the file ends inside a frame")
            raise _data_error(self.name, self.format, cut, self._nbytes, "")
        self._nbytes += count
        return count

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                super().close()


#: Compressed bytes :class:`_Members` reads from the file at a time.
_MEMBER_CHUNK: Final = 128 << 10


class _Members(io.RawIOBase):
    """gzip, bzip2 or xz members (streams) one after another, strictly.

    What :func:`open_compressed` reads ``.gz``, ``.bz2`` and ``.xz`` files
    with, instead of ``gzip``/``bz2``/``lzma.open``:

    - the standard library's bz2 and lzma readers swallow any error raised by
      the first read of a later member ("trailing data isn't a valid
      compressed stream; ignore it"): a corrupt second member, or bytes after
      the last one, read as a silently shorter file. Here they are errors;
    - their ``readinto`` fills the whole buffer in one call, so an error
      raised in that call loses the bytes decompressed before it. Each
      ``readinto`` here returns what one piece of input gave, so a reader gets
      every byte before the damage, and the error says where it is;
    - zero bytes between or after members (xz stream padding, tape blocks)
      are skipped, as gzip and xz do; anything else there is a new member,
      and must be a valid one.

    The decompressors check every member's CRC (gzip, bzip2) or check field
    (xz) at its end. Errors are the decompressors' own (``zlib.error``,
    ``OSError``, ``lzma.LZMAError``, ``EOFError`` for a cut member):
    :class:`_Decompressed` says them as a ``LayoutError``.
    """

    def __init__(self, raw: IO[bytes], fmt: str) -> None:
        super().__init__()
        self._raw = raw
        self._fmt = fmt
        self._dec: Any = None  # the current member's decompressor (None: between members)
        self._input = b""  # compressed bytes read and not yet given to a decompressor

    def readable(self) -> bool:
        return True

    def _new(self) -> Any:
        if self._fmt == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and CRC checked
        if self._fmt == "bzip2":
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor()  # FORMAT_AUTO: .xz and .lzma

    def _more(self) -> bytes:
        data, self._input = self._input or self._raw.read(_MEMBER_CHUNK), b""
        return data

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        want = len(out)
        if not want:
            return 0
        while True:
            if self._dec is None:
                # Between members: skip zero padding; the end, or a new member.
                data = self._more().lstrip(b"\0")
                while not data:
                    more = self._raw.read(_MEMBER_CHUNK)
                    if not more:
                        return 0  # the end, after a whole member (or an empty file)
                    data = more.lstrip(b"\0")
                if self._fmt == "gzip" and len(data) >= 2 and data[:2] != b"\x1f\x8b":
                    # gzip's own message (zlib would say "incorrect header check")
                    raise gzip.BadGzipFile(f"Not a gzipped file ({data[:2]!r})")
                self._input, self._dec = data, self._new()
            dec = self._dec
            if self._fmt == "gzip":
                # (An empty input still flushes what zlib holds back for a full buffer.)
                data = self._more()
                got = dec.decompress(data, want)
                self._input = dec.unconsumed_tail
                cut = not data and not got and not dec.eof
            else:
                data = self._more() if dec.needs_input else b""
                cut = dec.needs_input and not data
                got = b"" if cut else dec.decompress(data, want)
            if cut:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            if dec.eof:
                # Everything after the member's end (zlib leaves a stale copy of
                # it in unconsumed_tail: not that one).
                self._input = dec.unused_data
                self._dec = None
            if got:
                out[: len(got)] = got
                return len(got)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


_ZSTD_MAGIC: Final = 0xFD2FB528
_ZSTD_SKIPPABLE: Final = 0x184D2A50  # the 16 magics 0x184D2A50-5F
_DICT_ID_BYTES: Final = (0, 1, 2, 4)


class _ZstdFrames:
    """A compressed ``.zst`` file that walks zstd frames as they are read (RFC 8878).

    ``zstandard``'s stream reader stops without an error when the input ends
    inside a frame, so a truncated file reads as a shorter valid one. This
    sits between the file and the reader, follows frame headers, block
    headers and checksums through the bytes read (a few operations per
    block, up to 128 KiB of output each), and tells at the end whether the
    input stopped between frames (:attr:`complete`). Data it does not
    recognise stops the walk (no verdict): the decompressor judges that.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._state = "magic"  # what the next header is
        self._need = 4  # its size
        self._head = b""  # its bytes so far
        self._skip = 0  # bytes of block content or skippable frame still to pass
        self._checksum = False  # whether the current frame ends with one
        self._lost = False

    @property
    def complete(self) -> bool:
        """Whether the bytes read so far end between two frames (or nothing was read)."""
        return self._lost or (self._state == "magic" and not self._head and not self._skip)

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data and not self._lost:
            self._feed(data)
        return data

    def close(self) -> None:
        self._raw.close()

    def _feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end and not self._lost:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._need - len(self._head), end - pos)
            self._head += data[pos : pos + take]
            pos += take
            if len(self._head) == self._need:
                head, self._head = self._head, b""
                self._parse(head)

    def _expect(self, state: str, need: int) -> None:
        self._state, self._need = state, need

    def _parse(self, head: bytes) -> None:
        """Act on one complete header of the current state."""
        value = int.from_bytes(head, "little")
        if self._state == "magic":
            if value == _ZSTD_MAGIC:
                self._expect("descriptor", 1)
            elif value & ~0xF == _ZSTD_SKIPPABLE:
                self._expect("skippable", 4)
            else:
                self._lost = True  # not zstd (or a legacy format): the decoder decides
        elif self._state == "skippable":
            self._skip = value
            self._expect("magic", 4)
        elif self._state == "descriptor":
            if value & 0x08:  # reserved bit
                self._lost = True
                return
            single = bool(value & 0x20)
            self._checksum = bool(value & 0x04)
            content_size = (1 if single else 0, 2, 4, 8)[value >> 6]
            rest = (0 if single else 1) + _DICT_ID_BYTES[value & 3] + content_size
            self._expect("header", rest) if rest else self._expect("block", 3)
        elif self._state == "header":
            self._expect("block", 3)
        elif self._state == "block":
            kind, size = (value >> 1) & 3, value >> 3
            if kind == 3:  # reserved block type
                self._lost = True
                return
            self._skip = 1 if kind == 1 else size  # an RLE block holds one byte
            if value & 1:  # the frame's last block
                self._expect("checksum", 4) if self._checksum else self._expect("magic", 4)
        else:  # checksum
            self._expect("magic", 4)


def open_compressed(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open *path* for reading bytes, decompressing by its suffix.

    ``.gz`` (gzip), ``.bz2``, ``.xz``/``.lzma`` are read with the standard
    library; ``.zst``/``.zstd`` need the optional ``zstandard`` package
    (``pip install 'recview[zstd]'``); any other path is opened as is. The
    suffixes are :data:`COMPRESSED_SUFFIXES`.

    A compressed file that is corrupt (a CRC or checksum mismatch, bytes that
    are not in the format) or truncated (it ends inside a gzip member, an xz
    stream or a zstd frame) is an error when the read reaches the damage,
    never a silently shorter result: records before it have been read.

    Parameters
    ----------
    path : str or os.PathLike
        The file to open.

    Returns
    -------
    binary file object
        To pass to :func:`stream`; close it (or use ``with``) when done. Its
        ``name`` is *path*.

    Raises
    ------
    FileNotFoundError
        If *path* does not exist.
    ImportError
        For a ``.zst`` file without ``zstandard`` installed (with an install
        hint).
    LayoutError
        From its reads, for corrupt or truncated compressed data; the message
        names the file, the format and the decompressed bytes read before.

    Examples
    --------
    >>> import gzip, os, tempfile, numpy as np
    >>> import recview as rv
    >>> from recview.pool import open_compressed
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(np.arange(5, dtype="<u4").tobytes())
    >>> with open_compressed(path) as f:
    ...     print(np.concatenate(list(rv.stream(f, [("n", "<u4")])))["n"].tolist())
    [0, 1, 2, 3, 4]

    A truncated file is an error naming it:

    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(20)
    >>> with open_compressed(path) as f:
    ...     list(rv.stream(f, [("n", "<u4")]))
    Traceback (most recent call last):
    ...
    recview.errors.LayoutError: ...ticks.bin.gz: truncated gzip data: Compressed file ended before the end-of-stream marker was reached (after 0 decompressed bytes)
    """
    name = os.fspath(path)
    if compression_of(name) is None:
        return open(path, "rb")  # the caller closes it
    raw = open(path, "rb")  # noqa: SIM115  # closed by the reader that wraps it
    try:
        return decompressing(raw, name)
    except BaseException:
        raw.close()
        raise


def compression_of(name: str) -> str | None:
    """The format :func:`open_compressed` decompresses *name* with, from its suffix.

    Examples
    --------
    >>> from recview.pool import compression_of
    >>> compression_of("x.bin.GZ"), compression_of("s3://b/k.zst"), compression_of("x.bin")
    ('gzip', 'zstd', None)
    """
    return _FORMATS.get(os.path.splitext(name)[1].lower())


def decompressing(raw: IO[bytes], name: str) -> IO[bytes]:
    """Decompress the binary file object *raw* by the suffix of *name*, strictly.

    What :func:`open_compressed` does with a local file, for any file object
    of compressed bytes (an fsspec file of an object at a URL): every member
    or frame is read, and a corrupt, truncated or trailing-garbage input is a
    ``LayoutError`` naming *name* (fsspec's own ``compression="infer"`` codecs
    are the standard library's and zstandard's readers, which end such inputs
    quietly). Closing the result closes *raw*.

    Raises
    ------
    ValueError
        *name* has no compressed suffix (:data:`COMPRESSED_SUFFIXES`).
    ImportError
        For ``.zst`` without ``zstandard`` (with an install hint).

    Examples
    --------
    >>> import bz2, io, numpy as np, recview as rv
    >>> from recview.pool import decompressing
    >>> good = bz2.compress(np.arange(3, dtype="<u4").tobytes())
    >>> with decompressing(io.BytesIO(good + b"junk"), "x.bz2") as f:
    ...     list(rv.stream(f, "<u4"))
    Traceback (most recent call last):
    ...
    recview.errors.LayoutError: x.bz2: corrupt bzip2 data: Invalid data stream (after 12 decompressed bytes)
    """
    fmt = compression_of(name)
    if fmt is None:
        raise ValueError(f"{name}: no compressed suffix ({', '.join(COMPRESSED_SUFFIXES)})")
    if fmt == "zstd":
        try:
            import zstandard
        except ImportError as err:
            raise ImportError(
                f"{name}: reading .zst files needs the zstandard package: "
                "pip install 'recview[zstd]'"
            ) from err
        frames = _ZstdFrames(raw)
        # read_across_frames: files concatenated from several frames
        # (pzstd, zstd --rsyncable appends) must read to the end.
        reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(
            cast("IO[bytes]", frames), read_across_frames=True, closefd=True
        )
        return cast("IO[bytes]", _Decompressed(reader, name, fmt, frames))
    # Not gzip/bz2/lzma.open: see _Members.
    inner = _Members(raw, fmt)
    return cast("IO[bytes]", _Decompressed(cast("IO[bytes]", inner), name, fmt))
