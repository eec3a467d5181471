"""Read-only file mappings for recview's views (pure-Python fallback layer).

This module owns the lowest layer of :mod:`recview.view`: mapping a byte range
of a file read-only, releasing windows with ``madvise`` and (when the native
extension is available) guarding the mapping against SIGBUS. This version is
the pure-Python fallback built on :class:`mmap.mmap`.
"""

from __future__ import annotations

import mmap

__all__ = ["GUARD_AVAILABLE", "Mapping", "ensure_guard", "fault_count"]

GUARD_AVAILABLE = False
_PAGE = mmap.PAGESIZE


def ensure_guard() -> bool:
    """(Re)install the SIGBUS handler if it was replaced; return whether it is active."""
    return GUARD_AVAILABLE


def fault_count() -> int:
    """Number of guarded faults caught so far in this process."""
    return 0


class Mapping:
    """A read-only mapping of file bytes ``[offset, offset + nbytes)``."""

    def __init__(self, fd: int, offset: int, nbytes: int, *, path: str | None = None) -> None:
        if nbytes <= 0:
            raise ValueError(f"cannot map {nbytes} bytes")
        # mmap offsets must be multiples of ALLOCATIONGRANULARITY: round down and
        # remember the delta (numpy memmap does the same).
        start = offset - offset % mmap.ALLOCATIONGRANULARITY
        self._delta = offset - start
        self._mmap = mmap.mmap(
            fd, nbytes + self._delta, access=mmap.ACCESS_READ, offset=start
        )
        self.offset = offset
        self.nbytes = nbytes
        self.path = path
        self._buffer = memoryview(self._mmap)[self._delta : self._delta + nbytes]

    @property
    def buffer(self) -> memoryview:
        """Read-only memoryview of exactly the mapped file bytes."""
        return self._buffer

    def faulted(self) -> bool:
        """Whether a SIGBUS was caught inside this mapping (never, without the guard)."""
        return False

    def advise(self, start: int, nbytes: int, advice: int) -> None:
        """``madvise`` the range ``[start, start + nbytes)`` (relative to ``offset``)."""
        lo = start + self._delta
        hi = min(lo + nbytes, len(self._mmap))
        lo -= lo % _PAGE
        if hi <= lo:
            return
        try:
            self._mmap.madvise(advice, lo, hi - lo)
        except (OSError, ValueError, AttributeError):  # unsupported advice / platform
            pass

    def close(self) -> None:
        """Release the mapping; never raises while arrays still view it.

        ``mmap.close()`` raises ``BufferError`` while exports exist; we then
        just drop our references and the map is unmapped when the last array
        viewing it dies.
        """
        try:
            self._buffer.release()
            self._mmap.close()
        except BufferError:
            pass
