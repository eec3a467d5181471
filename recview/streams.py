"""Streams of records from file objects, read into pooled buffers: :func:`stream`.

This module owns the non-seekable side of recview: :func:`stream` reads any
binary file object (a pipe, ``sys.stdin.buffer``, ``socket.makefile("rb")``,
``gzip``/``bz2``/``lzma`` files, a ``zstandard`` reader) with ``readinto``
straight into buffers taken from a :class:`~recview.pool.BufferPool`, and
yields read-only structured arrays that *view* those buffers: no byte is
copied after the read. A record split across two reads is stitched; a header
is skipped by reading. Decompressing readers for ``.gz``/``.bz2``/``.xz``/
``.zst`` paths are :mod:`recview.compressed`'s.
"""

from __future__ import annotations

import io
import math
import operator
import os
import stat
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import IO, Any, Final

import numpy as np

from recview._vocab import TRAILING, Trailing, check_int
from recview.compressed import _compression_of, _raise_for_read
from recview.errors import LayoutError, LayoutWarning
from recview.pool import DEFAULT_BUFFER_SIZE, BufferPool
from recview.schema import as_schema

__all__ = ["Trailing", "stream"]

#: Page size the stream keeps its buffers' capacity a multiple of, when it can.
_PAGE: Final = 4096


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
    if trailing not in TRAILING:
        raise ValueError(f"trailing must be one of {TRAILING}, got {trailing!r}")
    offset = check_int(offset, "offset")
    if records is not None:
        records = check_int(records, "records", minimum=1)
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
