"""A bounded pool of reusable read buffers, each handed out again only when nothing views it.

:class:`BufferPool` owns buffer lifetime for every reader that copies bytes
into memory (:func:`recview.streams.stream`, ``mode="pread"`` views, remote
reads): a buffer goes back to the pool only once no array and no memoryview
refers to it any more, so a batch the caller keeps is never overwritten. The
arrays it hands out start at a chosen alignment (:data:`ALIGNMENT`).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from recview._vocab import check_int

__all__ = ["ALIGNMENT", "DEFAULT_BUFFER_SIZE", "DEFAULT_MAX_BUFFERS", "BufferPool", "PoolStats"]

#: Default size of one pooled buffer, in bytes: 256 KiB, chosen from the
#: buffer-size sweep in ``docs/stream.md``. Below it, the per-read and
#: per-buffer overheads dominate; above it, the two buffers a steady stream
#: alternates between no longer fit in a core's L2 cache, so the kernel's copy
#: into them costs up to twice the CPU (1-16 MiB), and peak RSS grows with the
#: buffer.
DEFAULT_BUFFER_SIZE: Final = 256 << 10

#: Default number of buffers a pool keeps for reuse.
DEFAULT_MAX_BUFFERS: Final = 8


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
    TypeError
        If ``buffer_size`` or ``max_buffers`` is no integer (a ``bool`` or a
        ``float`` included; numpy integers are fine).
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
        self._buffer_size = check_int(buffer_size, "buffer_size", minimum=1)
        self._max_buffers = check_int(max_buffers, "max_buffers", minimum=1)
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
