"""Read-only file mappings for recview's views, guarded against SIGBUS.

This module owns the lowest layer of :mod:`recview.view`: mapping a byte range
of a file read-only, giving ``madvise`` advice about windows of it, and
guarding the mapping so that another process truncating the file cannot kill
this one.

Touching a mapped page that lies wholly past the end of a file raises SIGBUS,
and Python dies of it (exit status 135). The C extension
:mod:`recview._guard` creates the mappings itself, registers their address
ranges and installs a SIGBUS handler that acts only on faults inside them: it
maps zero pages over the lost part of the mapping, counts the fault and lets
the faulting load retry. Every other SIGBUS goes on to the handler installed
before ours (``faulthandler``, another library's, ...) or to the default
action; :func:`ensure_guard` keeps ours on top and SIGBUS unblocked in the
reading thread (docs/signals.md has the rules). Lost pages then read as zeros; :meth:`Mapping.faulted` and :func:`fault_count` tell the view
layer that it must raise :class:`~recview.errors.TruncatedError`.

Without the extension (it could not be built, or ``RECVIEW_NO_GUARD`` is set
to a non-empty value other than ``0`` when this module is first imported) the
same interface is served by :class:`mmap.mmap` with no guard:
``GUARD_AVAILABLE`` is then False and ``GUARD_ERROR`` says why.

Offsets need not be aligned: the mapping starts at the offset rounded down to
``mmap.ALLOCATIONGRANULARITY`` (the kernel only maps whole pages) and
:attr:`Mapping.buffer` hides the extra leading bytes, as numpy's ``memmap``
does.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
import warnings
from typing import TYPE_CHECKING, Any

from recview.errors import GuardWarning

__all__ = [
    "GUARD_AVAILABLE",
    "GUARD_ERROR",
    "Mapping",
    "ViewBase",
    "ensure_guard",
    "fault_count",
]

GUARD_ERROR: str | None = None
"""Why the native guard is not in use (``None`` when it is)."""

# Bit of _guard.ensure()'s result: SIGBUS was blocked in the calling thread
# and has been unblocked (ENSURE_UNBLOCKED in _guard.c).
_UNBLOCKED = 2
_thread_state = threading.local()
"""Per thread: ``warned`` (the unblocking was reported), ``pending`` (SIGBUS
was unblocked at import, reported at the thread's first ``ensure_guard``)."""

_native = False
if os.environ.get("RECVIEW_NO_GUARD", "") not in ("", "0"):
    GUARD_ERROR = "disabled by the RECVIEW_NO_GUARD environment variable"
else:
    try:
        from recview import _guard

        # Importing is not reading: no warning from an import statement
        # (under -W error it would fail the import); the importing thread's
        # first ensure_guard() reports it, when a view opens.
        _thread_state.pending = bool(_guard.ensure() & _UNBLOCKED)
        _native = True
    except (ImportError, OSError) as exc:
        # Built without a compiler, or a platform without sigaction: plain
        # mmap mappings (a truncation under them can kill the process).
        GUARD_ERROR = f"{type(exc).__name__}: {exc}"

GUARD_AVAILABLE: bool = _native
"""The native extension is loaded and its SIGBUS handler was installed."""


def ensure_guard(*, source: str | None = None, stacklevel: int = 3) -> bool:
    """Keep recview's SIGBUS handler on top and SIGBUS unblocked in this thread.

    Call it in the thread that is about to read through recview mappings (the
    view layer does, at every ``open``, ``refresh()`` and ``batches()``).
    Two checks, two system calls, no allocation:

    - ``faulthandler.enable()`` (pytest calls it too), ``signal.signal`` and
      other libraries install their own SIGBUS handler over ours; then a
      truncation would reach theirs first and kill the process (or loop
      forever, for a Python-level handler, which can never repair a fault).
      This re-installs ours, which passes every fault that is not inside a
      recview mapping to the handler it found there.
    - A thread that blocks SIGBUS (worker threads often block every signal)
      cannot be saved by any handler: the kernel kills the process instead of
      delivering a synchronous signal the faulting thread blocks. This
      unblocks SIGBUS, and only SIGBUS, in the calling thread, and says so
      with a :class:`~recview.errors.GuardWarning` once per thread.

    Parameters
    ----------
    source : str, optional
        The file about to be read, named in the warning.
    stacklevel : int
        Passed to :func:`warnings.warn`: 3 blames the caller of the function
        that calls this one.

    Returns
    -------
    bool
        ``GUARD_AVAILABLE``: whether recview's mappings are guarded. Without
        the guard nothing is done (views read with ``pread`` then, which
        cannot fault).

    Warns
    -----
    GuardWarning
        The calling thread had SIGBUS blocked (first time in this thread).

    Examples
    --------
    After ``faulthandler.enable()`` (not run here: it would redirect the test
    process's own fault reports):

    >>> from recview import _mapping
    >>> _mapping.ensure_guard() == _mapping.GUARD_AVAILABLE
    True
    """
    if _native and (_guard.ensure() & _UNBLOCKED or _pending()):
        _warn_unblocked(source, stacklevel + 1)
    return GUARD_AVAILABLE


def _pending() -> bool:
    pending = getattr(_thread_state, "pending", False)
    if pending:
        _thread_state.pending = False
    return bool(pending)


def _warn_unblocked(source: str | None, stacklevel: int) -> None:
    if getattr(_thread_state, "warned", False):
        return
    _thread_state.warned = True
    thread = threading.current_thread()
    warnings.warn(
        f"{source if source is not None else 'recview'}: thread {thread.name!r} "
        "blocked SIGBUS; recview unblocked it in that thread (other signals stay "
        "blocked), because the kernel kills a process whose thread blocks the "
        "SIGBUS of a page lost to a truncation instead of letting recview's guard "
        "repair it (see docs/signals.md)",
        GuardWarning,
        stacklevel=stacklevel,
    )


def fault_count() -> int:
    """Number of SIGBUS faults repaired in all recview mappings so far.

    A cheap global counter: when it has not changed since a view last looked,
    none of the view's mappings has faulted either. Always 0 without the guard.

    Returns
    -------
    int
        Faults repaired since the process started (forked children inherit it).

    Examples
    --------
    >>> from recview import _mapping
    >>> before = _mapping.fault_count()
    >>> _mapping.fault_count() - before
    0
    """
    if _native:
        return _guard.fault_count()
    return 0


if _native:
    # Called before every read through a view: bind the C function directly
    # (the Python wrapper doubles its cost); the docstring stays on the module.
    fault_count = _guard.fault_count


class _PyViewBase:
    """The pure-Python :class:`ViewBase`, for when the extension is not loaded.

    Then views read with ``pread`` and ``_fast`` stays None, so every key goes
    to ``_getitem``; the fast path is kept for symmetry with the C one.
    """

    _fast: Any = None
    _faults_seen: int = 0

    def __getitem__(self, key: Any) -> Any:
        if type(key) is int:
            arr = self._fast
            if arr is not None and fault_count() == self._faults_seen:
                with contextlib.suppress(IndexError, OverflowError):
                    return arr[key]
        return self._getitem(key)  # type: ignore[attr-defined]


if TYPE_CHECKING or not _native:  # noqa: SIM108 - mypy reads the first branch only
    ViewBase = _PyViewBase
else:
    # getattr: an extension built from an older _guard.c (a tree not rebuilt
    # since) has no ViewBase; views then work as before, with a slower view[i].
    ViewBase = getattr(_guard, "ViewBase", _PyViewBase)
"""Base class of :class:`recview.View`: ``view[i]`` for a Python int reads
``self._fast`` (the mapped records, or None) directly while the guard's fault
counter equals ``self._faults_seen``; every other key, and every error, goes to
the view's ``_getitem``. In C (``recview._guard.ViewBase``) when the extension
is loaded: a Python-level ``__getitem__`` costs more than numpy's own lookup."""


def set_getitem_doc(text: str) -> None:
    """Make ``text`` the docstring of ``ViewBase.__getitem__`` (C or Python).

    The view layer owns what ``view[key]`` means; this base only dispatches,
    and a C slot's docstring cannot be set from Python, so the text is handed
    down once, at import.

    Examples
    --------
    >>> from recview import _mapping
    >>> _mapping.set_getitem_doc("view[key].")
    >>> _mapping.ViewBase.__getitem__.__doc__
    'view[key].'
    """
    _PyViewBase.__getitem__.__doc__ = text
    if ViewBase is not _PyViewBase and hasattr(_guard, "set_getitem_doc"):
        _guard.set_getitem_doc(text)


def _origin(fd: int, path: str | None) -> str:
    return path if path is not None else f"<fd {fd}>"


class Mapping:
    """A read-only mapping of file bytes ``[offset, offset + nbytes)``.

    Parameters
    ----------
    fd : int
        An open file descriptor readable by this process. The mapping does not
        keep it: the caller may close it right away.
    offset : int
        Byte offset in the file of the first byte to map; any value >= 0.
    nbytes : int
        Number of bytes to map, > 0. They must all exist in the file now.
    path : str, optional
        File name, used in error messages only.

    Raises
    ------
    ValueError
        ``nbytes <= 0``, ``offset < 0``, or the file is shorter than
        ``offset + nbytes`` (``"mmap length is greater than file size"``, as
        :class:`mmap.mmap` says; the view layer turns this into
        ``TruncatedError`` when the file shrank under it).
    OSError
        The descriptor cannot be mapped (not readable, not a regular file...).

    Notes
    -----
    With the guard, a page of the mapping that a truncation removed reads as
    zeros instead of killing the process, and :meth:`faulted` becomes True. The
    bytes are never copied: ``np.frombuffer(m.buffer, dtype)`` views them.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from recview._mapping import Mapping
    >>> path = os.path.join(tempfile.mkdtemp(), "data.bin")
    >>> np.arange(10_000, dtype="<u4").tofile(path)
    >>> fd = os.open(path, os.O_RDONLY)
    >>> m = Mapping(fd, 4 * 5000, 4 * 3, path=path)
    >>> os.close(fd)
    >>> np.frombuffer(m.buffer, dtype="<u4")
    array([5000, 5001, 5002], dtype=uint32)
    >>> m.faulted()
    False
    >>> m.close()
    """

    offset: int
    nbytes: int
    path: str | None

    def __init__(self, fd: int, offset: int, nbytes: int, *, path: str | None = None) -> None:
        # mmap of length 0 would map the whole file (numpy gh-27723): refuse it.
        if nbytes <= 0:
            raise ValueError(
                f"{_origin(fd, path)}: cannot map {nbytes} bytes at offset {offset}; "
                "nbytes must be > 0"
            )
        if offset < 0:
            raise ValueError(
                f"{_origin(fd, path)}: cannot map at offset {offset}; offset must be >= 0"
            )
        self.offset = offset
        self.nbytes = nbytes
        self.path = path
        self._label = _origin(fd, path)
        self._closed = False
        self._region: _guard.Region | None = None
        self._mmap: mmap.mmap | None = None
        if _native:
            self._region = _guard.Region(fd, offset, nbytes)
            self._buffer = memoryview(self._region)
        else:
            # mmap offsets must be multiples of ALLOCATIONGRANULARITY: round
            # down and hide the delta (numpy memmap does the same).
            start = offset - offset % mmap.ALLOCATIONGRANULARITY
            self._delta = offset - start
            self._mmap = mmap.mmap(fd, nbytes + self._delta, access=mmap.ACCESS_READ, offset=start)
            with memoryview(self._mmap) as whole:
                self._buffer = whole[self._delta : self._delta + nbytes]

    @property
    def buffer(self) -> memoryview:
        """Read-only memoryview of exactly the mapped file bytes (format ``B``).

        Arrays made from it with ``np.frombuffer`` keep the memory mapped after
        :meth:`close`, until the last of them is gone.
        """
        return self._buffer

    @property
    def guarded(self) -> bool:
        """Whether this mapping is covered by the SIGBUS guard."""
        return self._region is not None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def faulted(self) -> bool:
        """Whether a SIGBUS was caught inside this mapping.

        Then some pages were lost to a truncation and now read as zeros; the
        data in this mapping can no longer be trusted. Never True without the
        guard (the process would have died instead).
        """
        return self._region is not None and self._region.faults > 0

    def advise(self, start: int, nbytes: int, advice: int) -> None:
        """Give ``madvise`` advice about bytes ``[start, start + nbytes)``.

        Parameters
        ----------
        start, nbytes : int
            The byte range, relative to :attr:`offset`, >= 0. It is widened to
            whole pages and clipped to the mapping.
        advice : int
            One of the ``mmap.MADV_*`` constants (e.g. ``MADV_SEQUENTIAL``
            before a scan, ``MADV_DONTNEED`` to drop a window already read).

        Notes
        -----
        Advice is only advice: a value the kernel or platform does not know, a
        closed mapping or an empty range do nothing. ``MADV_DONTNEED`` on
        these shared read-only file pages only drops them from this process;
        they are read again from the page cache when touched.

        Examples
        --------
        >>> import mmap, os, tempfile
        >>> from recview._mapping import Mapping
        >>> path = os.path.join(tempfile.mkdtemp(), "data.bin")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(bytes(range(256)) * 64)
        >>> fd = os.open(path, os.O_RDONLY)
        >>> m = Mapping(fd, 100, 10_000)
        >>> m.advise(0, 10_000, getattr(mmap, "MADV_SEQUENTIAL", 0))
        >>> bytes(m.buffer[:3])
        b'def'
        >>> m.close(); os.close(fd)
        """
        if start < 0 or nbytes < 0:
            raise ValueError(
                f"{self._label}: advise range start={start} nbytes={nbytes} must be >= 0"
            )
        if self._region is not None:
            self._region.advise(start, nbytes, advice)
            return
        if self._mmap is None or self._mmap.closed or start >= self.nbytes or nbytes == 0:
            return
        lo = self._delta + start
        hi = self._delta + min(start + nbytes, self.nbytes)
        lo -= lo % mmap.PAGESIZE
        # unknown advice, or no madvise on this platform
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._mmap.madvise(advice, lo, hi - lo)

    def close(self) -> None:
        """Release the mapping; safe to call twice and while arrays view it.

        The memory is unmapped now if nothing views :attr:`buffer`, else when
        the last array viewing it is garbage-collected (numpy keeps the base
        object alive). This is why ``close()`` drops references instead of
        calling ``mmap.close()`` unconditionally, which raises ``BufferError``
        while arrays still view the map.
        """
        if self._closed:
            return
        self._closed = True
        # numpy's frombuffer holds its own memoryview of the exporter, so
        # releasing ours never pulls memory from under an array.
        # (BufferError: a C extension holds our memoryview's buffer right now;
        # then it goes when we do)
        with contextlib.suppress(BufferError):
            self._buffer.release()
        if self._region is not None:
            self._region.close()
        elif self._mmap is not None:
            # BufferError: arrays still view it; unmapped when the last one dies
            with contextlib.suppress(BufferError):
                self._mmap.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("guarded" if self.guarded else "unguarded")
        if self.faulted():
            state += " faulted"
        return f"<recview Mapping {self._label} offset={self.offset} nbytes={self.nbytes} {state}>"
