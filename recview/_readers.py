"""How a :class:`~recview.view.View` reads its records: mapped or with ``pread``.

This module owns the read path under :mod:`recview.view`. A view picks one
reader when it opens and keeps everything else (the API, the record count,
``refresh()``, the truncation state and the lock); a reader only reads:

- :class:`MappedReader` (``mode="mmap"``): one guarded read-only mapping of
  the records (:mod:`recview._mapping`), extended lazily after growth; the
  mappings it replaced while arrays still view them, for fault accounting;
  ``madvise`` windows for scans. Arrays are zero-copy views.
- :class:`PreadReader` (``mode="pread"``, and ``follow()`` in both modes): the
  ``preadv`` loop into fresh or pooled buffers. Arrays are copies, nothing
  can fault.

Both have one interface (``records``, ``record``, ``strided``, ``take``,
``scan``, ``faulted``, ``ensure_guard``, ``close``), so the view's methods
never ask which one they have. Readers use the view's descriptor through its
:class:`FileRef` (held for each system call, so a ``close()`` in another
thread never frees a number a read is still using) and report a shrink they
see with the view's ``_mark_truncated``.
"""

from __future__ import annotations

import abc
import mmap
import os
import threading
import weakref
from collections.abc import Iterator
from typing import Any, NoReturn, Protocol

import numpy as np

from recview import _mapping
from recview.errors import ClosedError
from recview.pool import BufferPool
from recview.schema import Schema

__all__ = ["FileRef", "MappedReader", "Owner", "PreadReader", "Reader"]

#: Default batch size of mapped scans: the window released after each batch.
#: 16 MiB, not 8: numpy's pairwise sum of a strided field runs ~20% slower on
#: some slice lengths (2**18 and 2**20 elements: 8 and 32 MiB of 32-byte
#: records) than on others (2**19, 2**21), in memory as in a mapping, and
#: 16 MiB also halves the madvise calls; RSS stays bounded by about one
#: batch (benchmarks/bench_read.py, docs/benchmarks.md).
MAPPED_BATCH_NBYTES = 16 << 20
#: Default batch size of pread scans: a 1 MiB copy is still in the CPU caches
#: when the caller reads it; 8 MiB ones are read back from memory, which halves
#: the throughput (``benchmarks/bench_pread.py``).
PREAD_BATCH_NBYTES = 1 << 20

# pread scans read batches of at least this many bytes into pooled buffers.
# Smaller ones are faster from np.empty: glibc's malloc serves them from its
# heap, reusing the block the previous batch freed (its mmap threshold adapts
# up to 32 MiB), while above that every batch would be freshly mapped memory,
# page-faulted 4 KiB at a time (measured: 64 MiB batches 2.4x faster pooled).
_POOL_MIN_NBYTES = 32 << 20
# Linux returns at most this many bytes from one read (MAX_RW_COUNT), on
# 64-bit systems too: a shorter read than asked for is only a cap below it.
_MAX_READ_NBYTES = 0x7FFFF000
_MADV_SEQUENTIAL = getattr(mmap, "MADV_SEQUENTIAL", 0)
_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", 0)


class FileRef:
    """A file descriptor that stays open while reads use it.

    ``close()`` in one thread while another thread is inside ``pread`` or
    ``fstat`` must not free the descriptor number: the next ``os.open``
    anywhere in the process reuses it, and the read would go on in another
    file. So every use holds a reference (:meth:`acquire` / :meth:`release`)
    and :meth:`close` leaves the ``os.close`` to the last one still using it;
    a use that starts after ``close()`` raises :class:`ClosedError`.
    """

    __slots__ = ("_closing", "_lock", "_path", "_users", "fd")

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self._path = path
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False

    def acquire(self) -> int:
        """The descriptor, kept open until the matching :meth:`release`."""
        with self._lock:
            if self._closing:
                raise ClosedError(f"{self._path}: the view is closed", path=self._path)
            self._users += 1
            return self.fd

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._closing and self._users == 0
        if last:
            os.close(self.fd)

    def fstat(self) -> os.stat_result:
        fd = self.acquire()
        try:
            return os.fstat(fd)
        finally:
            self.release()

    def close(self) -> None:
        """Close now, or when the last read in flight ends; safe to call twice."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            now = self._users == 0
        if now:
            os.close(self.fd)


class Owner(Protocol):
    """What a reader uses of the view that owns it (a :class:`~recview.view.View`).

    Written out here, rather than naming ``View``, so that this module needs
    nothing from the module above it.
    """

    _count: int
    _offset: int
    _path: str
    _file: FileRef
    _lock: threading.RLock
    #: The mapped records while they cover the whole view (``view[i]``'s fast path).
    _fast: Any

    @property
    def schema(self) -> Schema: ...

    def _empty(self) -> np.ndarray[Any, Any]: ...

    def _check(self) -> None: ...

    def _mark_truncated(self, old: int, new: int, why: str | None = None) -> NoReturn: ...


class Reader(abc.ABC):
    """The interface: read records ``a..b`` of the view that owns this reader.

    Callers check bounds; ``a <= b <= len(view)`` always holds.
    """

    #: Whether arrays handed out are copies (pread) or views (mapped).
    copies: bool
    #: The default batch size of :meth:`scan`, in bytes.
    batch_nbytes: int

    def __init__(self, owner: Owner) -> None:
        self._owner = owner
        self._dtype = owner.schema.dtype
        self._itemsize = owner.schema.itemsize

    @abc.abstractmethod
    def records(self, a: int, b: int) -> np.ndarray[Any, Any]:
        """Records ``a..b``: a zero-copy view, or a read-only copy."""

    def record(self, i: int) -> Any:
        """Record ``i`` (``0 <= i < len(view)``) as a ``numpy.void``."""
        return self.records(i, i + 1)[0]

    def strided(self, key: slice) -> np.ndarray[Any, Any]:
        """Records ``view[key]`` for a slice whose step is not 1 (a read-only copy)."""
        r = range(*key.indices(self._owner._count))
        a, step = r.start, r.step
        # One element: a step beyond int64 would overflow np.arange.
        idx = np.arange(len(r), dtype=np.intp) * step + a if len(r) > 1 else np.array(r)
        return self.take(idx.astype(np.intp))

    def take(self, idx: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """A read-only copy of records ``idx`` (in range, >= 0).

        Whole records as bytes: numpy's structured fancy indexing copies the
        fields only, leaving padding bytes uninitialized. Only records
        ``min(idx)..max(idx)`` are read.
        """
        if not len(idx):
            return self._owner._empty()
        lo, hi = int(idx.min()), int(idx.max()) + 1
        rows = self.records(lo, hi).view(np.uint8).reshape(hi - lo, self._itemsize)
        sub: np.ndarray[Any, Any] = rows[idx - lo].view(self._dtype).reshape(-1)
        sub.flags.writeable = False
        return sub

    @abc.abstractmethod
    def scan(self, start: int, stop: int, step: int) -> Iterator[np.ndarray[Any, Any]]:
        """Batches of ``step`` records covering ``start..stop``, memory bounded."""

    def faulted(self) -> bool:
        """Whether a page of any mapping this reader made (and arrays still view)
        was lost to a truncation. Called only after the guard's counter moved."""
        return False

    def ensure_guard(self, stacklevel: int = 3) -> None:  # noqa: B027 - a hook: pread has none
        """Keep the SIGBUS guard on top in the calling thread, if this reader maps."""

    def close(self) -> None:  # noqa: B027 - a hook: not every reader holds something
        """Drop what the reader holds; arrays handed out stay valid."""


class PreadReader(Reader):
    """Records read with ``preadv`` into fresh (or pooled) buffers: copies."""

    copies = True
    batch_nbytes = PREAD_BATCH_NBYTES

    def records(self, a: int, b: int) -> np.ndarray[Any, Any]:
        return self.pread(a, b)

    def pread(self, a: int, b: int, pool: BufferPool | None = None) -> np.ndarray[Any, Any]:
        """Copy records ``a..b`` with ``pread``: nothing returned can fault later.

        With a ``pool`` (scans), large reads go into its reusable buffers: a
        fresh buffer per batch would cost a page fault per 4 KiB of it, more
        than the copy itself. A buffer is reused only once nothing views it.
        """
        owner = self._owner
        n = b - a
        nbytes = n * self._itemsize
        start = owner._offset + a * self._itemsize
        if pool is not None and nbytes >= _POOL_MIN_NBYTES:
            # phase: the same address alignment as the file offset (and as an
            # mmap view of it), so fields are aligned as they would be there
            out = pool.acquire(nbytes, phase=start).view(self._dtype)
        else:
            out = np.empty(n, dtype=self._dtype)
        pos = 0
        # Held until the read ends: a close() meanwhile must not free the
        # number for another file to take.
        file = owner._file
        fd = file.acquire()
        try:
            while pos < nbytes:
                # The array itself is the first read's buffer (a memoryview of
                # it costs more than a small read); only a capped read needs one.
                dest: Any = out if pos == 0 else out.view(np.uint8).reshape(-1)[pos:]
                want = nbytes - pos
                got = os.preadv(fd, [dest], start + pos)
                pos += got
                if got >= min(want, _MAX_READ_NBYTES):
                    continue
                # Short, and not by Linux's cap on one read: the file ended
                # before these records did, so it shrank. Even if it has grown
                # back by now, reading on would stitch bytes written after the
                # cut to bytes from before it.
                owner._mark_truncated(
                    owner._offset + owner._count * self._itemsize,
                    os.fstat(fd).st_size,
                    f"file ended at byte {start + pos:,} during a read up to byte "
                    f"{start + nbytes:,}",
                )
        finally:
            file.release()
        out.flags.writeable = False
        return out

    def scan(self, start: int, stop: int, step: int) -> Iterator[np.ndarray[Any, Any]]:
        owner = self._owner
        # two buffers alternate (the caller's batch, the next one)
        pool = batch_pool(step * self._itemsize)
        for a in range(start, stop, step):
            owner._check()
            yield self.pread(a, min(stop, a + step), pool)


class MappedReader(Reader):
    """Records as zero-copy views of one guarded read-only mapping.

    The mapping covers the records the view held at the first read after
    each growth (``refresh()`` only counts): :meth:`array` maps again when
    the view holds more. Mappings it replaced are kept (weakly, through the
    arrays viewing them) so that a fault in one of them still marks the view
    truncated. While the mapping covers the whole view, the owner's ``_fast``
    holds its array: ``view[i]`` reads it without calling in here.
    """

    copies = False
    batch_nbytes = MAPPED_BATCH_NBYTES

    def __init__(self, owner: Owner) -> None:
        super().__init__(owner)
        self._map: _mapping.Mapping | None = None
        self._array: np.ndarray[Any, Any] = owner._empty()
        # Mappings replaced by a growth that arrays may still view: a fault in
        # any of them (the user read zeros) is a truncation of this view.
        self._old_maps: list[tuple[weakref.ref[Any], _mapping.Mapping]] = []
        self._lost_pages = False

    def array(self) -> np.ndarray[Any, Any]:
        """Every record the view holds, mapping again after growth.

        Takes the array once (from the owner's ``_fast``, or under the lock),
        so a ``close()`` or remap in another thread meanwhile leaves the
        caller reading a complete, live mapping.
        """
        owner = self._owner
        arr: np.ndarray[Any, Any] | None = owner._fast
        if arr is None:
            with owner._lock:
                owner._check()  # closed meanwhile: ClosedError, not an empty array
                if len(self._array) != owner._count:
                    self._remap(owner._count)
                arr = self._array
        return arr

    def records(self, a: int, b: int) -> np.ndarray[Any, Any]:
        return self.array()[a:b]

    def record(self, i: int) -> Any:
        # A zero-copy np.void over the mapping, like a slice. (Copying costs
        # more than the lookup: numpy sets up a per-field transfer for every
        # structured copy.)
        return self.array()[i]

    def strided(self, key: slice) -> np.ndarray[Any, Any]:
        return self.array()[key]  # a zero-copy strided view

    def _remap(self, n: int) -> None:
        """Map records ``0..n`` (under the owner's lock); old arrays keep the old mapping."""
        owner = self._owner
        nbytes = n * self._itemsize
        if nbytes == 0:
            self._map, self._array = None, owner._empty()
            owner._fast = self._array
            return
        file = owner._file
        try:
            fd = file.acquire()
            try:
                new = _mapping.Mapping(fd, owner._offset, nbytes, path=owner._path)
            finally:
                file.release()
        except OSError as err:
            # ENODEV, EINVAL, EACCES: a file (sysfs, some FUSE and network
            # file systems) that can be read but not mapped.
            raise OSError(
                err.errno,
                f"{err.strerror}: {owner._path} cannot be mapped; open it with mode='pread'",
                owner._path,
            ) from err
        except ValueError:
            # The file is shorter than it was at the fstat that counted these
            # records (mmap refuses to map past EOF): it shrank in between. It
            # may have grown again by now, but whatever was read from it in
            # between cannot be trusted, so this is a truncation either way.
            end = owner._offset + nbytes
            owner._mark_truncated(
                end, file.fstat().st_size, f"file was {end:,} bytes, then too short to map {end:,}"
            )
        old, self._map = self._map, new
        old_array = self._array
        self._array = np.frombuffer(new.buffer, dtype=self._dtype, count=n)
        owner._fast = self._array
        if old is not None:
            # Arrays handed out may still view the old mapping: remember it
            # until the last of them is gone, so that a fault in it (a read
            # of pages a truncation took away) still marks this view.
            self._old_maps = [(ref, m) for ref, m in self._old_maps if self._alive(ref, m)]
            base = old_array.base
            if base is not None:
                self._old_maps.append((weakref.ref(base), old))
            # close() only drops our reference while arrays still view the old
            # map (mmap.close() would raise BufferError): they stay valid.
            old.close()

    def _alive(self, ref: weakref.ref[Any], m: _mapping.Mapping) -> bool:
        """Whether an old mapping can still be read; folds in its faults when not."""
        if ref() is not None:
            return True
        if m.faulted():
            self._lost_pages = True
        return False

    def faulted(self) -> bool:
        self._old_maps = [(ref, m) for ref, m in self._old_maps if self._alive(ref, m)]
        return (
            self._lost_pages
            or (self._map is not None and self._map.faulted())
            or any(m.faulted() for _, m in self._old_maps)
        )

    def ensure_guard(self, stacklevel: int = 3) -> None:
        _mapping.ensure_guard(source=self._owner._path, stacklevel=stacklevel + 1)

    def scan(self, start: int, stop: int, step: int) -> Iterator[np.ndarray[Any, Any]]:
        owner = self._owner
        itemsize = self._itemsize
        # This body runs in the thread that iterates, which need not be the
        # one that opened the view: keep the guard on top and SIGBUS
        # unblocked here too (a worker blocking every signal would be killed
        # by the first lost page, docs/signals.md).
        self.ensure_guard(stacklevel=1)
        # One mapping for the whole scan, even if a refresh() extends the view
        # meanwhile: the advice below must go to the pages the batches view.
        with owner._lock:  # the array and its mapping, as one pair
            arr = self.array()
            m = self._map
        if m is None:
            return
        m.advise(start * itemsize, (stop - start) * itemsize, _MADV_SEQUENTIAL)
        a = start
        try:
            while a < stop:
                owner._check()
                b = min(stop, a + step)
                yield arr[a:b]
                owner._check()  # the caller read this window: did it fault?
                m.advise(a * itemsize, (b - a) * itemsize, _MADV_DONTNEED)
                a = b
        finally:
            if a < stop:
                m.advise(a * itemsize, min(step, stop - a) * itemsize, _MADV_DONTNEED)

    def close(self) -> None:
        m, self._map = self._map, None
        self._array = self._owner._empty()
        self._old_maps = []
        if m is not None:
            m.close()


def batch_pool(nbytes: int) -> BufferPool:
    """Two reusable buffers for a pread scan: the caller's batch and the next."""
    return BufferPool(buffer_size=max(1, nbytes), max_buffers=2)
