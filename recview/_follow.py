"""The ``follow()`` poll loop: what a writer appends, each record once, for every kind of view.

:meth:`View.follow <recview.view.View.follow>`,
:meth:`RemoteView.follow <recview._remote_view.RemoteView.follow>` and
:meth:`Frames.follow <recview.frames.Frames.follow>` are one loop,
:func:`follow`, over a :class:`Source`: the thing polled says how it counts
its records (``refresh()``) and how it reads a batch of them; the loop owns
the rules all of them keep:

- ``start=None`` begins at the end the caller last saw, ``start=n`` at record
  ``n``; a ``start`` past the end raises :class:`~recview.errors.TruncatedError`
  (the file shrank or was replaced since that position was saved);
- every record is delivered exactly once, in order, a partial one held back
  until it is complete: the position moves past a batch before it is yielded,
  so a reader that persists ``start + records delivered`` resumes at the
  right record;
- ``poll`` is the sleep between size checks while there is nothing new, and
  ``timeout`` ends the iteration after that many seconds without a new record
  (never sleeping past it); ``None`` waits forever;
- whatever the source opened along the way is closed when the iterator ends,
  also by an exception or a signal (``KeyboardInterrupt`` in a sleep).

:class:`Rotating` is the source of a local :class:`~recview.view.View`:
``pread`` copies, and the path's log rotation (``follow(rotate=True)`` and
the :class:`FileReplacedWarning` without it; ``docs/changing_files.md``).
"""

from __future__ import annotations

import abc
import math
import time
import warnings
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from recview._readers import PREAD_BATCH_NBYTES, batch_pool
from recview._vocab import NDArray, check_int
from recview.errors import TruncatedError
from recview.pool import BufferPool
from recview.schema import Schema

__all__ = ["FileReplacedWarning", "Followed", "Rotating", "Source", "batch_end", "follow"]

T = TypeVar("T")


class FileReplacedWarning(UserWarning):
    """:meth:`View.follow` saw its path name another file (the log was rotated).

    The iterator stays on the file it opened; ``follow(rotate=True)`` follows
    the path instead.
    """


class Followed(Protocol):
    """What a :class:`Source` polls by default: a view's check and refresh."""

    @property
    def path(self) -> str: ...

    def _check(self) -> None: ...

    def refresh(self) -> int: ...


class Source(abc.ABC, Generic[T]):
    """What :func:`follow` polls: a file (or object) of records that grows.

    By default it checks and refreshes the view it follows (``owner``);
    subclasses give :meth:`read` and :meth:`resume_offset`; :meth:`idle` and
    :meth:`close` are hooks.
    """

    #: What one record is called in messages ("record", "frame").
    unit = "record"
    #: What holds the records, in messages ("file", "object").
    holder = "file"

    def __init__(self, owner: Followed) -> None:
        self.owner = owner
        self.path = owner.path

    def check(self) -> None:
        """Raise if the source can no longer be read (closed, truncated)."""
        self.owner._check()

    def refresh(self) -> int:
        """Look at the size again: the whole records there are now."""
        return self.owner.refresh()

    @abc.abstractmethod
    def read(self, a: int, n: int, records: int | None) -> tuple[T, int]:
        """The next batch from record ``a`` (of ``n``, ``a < n``), and where it ends.

        ``records`` is the largest batch asked for (``None``: the source's
        default). Reads check the source first: a batch is never read from a
        source the caller closed while it held the previous one.
        """

    @abc.abstractmethod
    def resume_offset(self, n: int) -> int:
        """The byte offset of the end of ``n`` records (for a ``start`` past it)."""

    def idle(self, pos: int) -> int | None:
        """Nothing new at ``pos``: a position to go on from at once, or None to sleep."""
        return None

    def close(self) -> None:
        """The iteration ended: release what the source opened for it."""


def follow(
    source: Source[T],
    *,
    start: int | None,
    poll: float,
    timeout: float | None,
    records: int | None,
    held: int | None,
) -> Iterator[T]:
    """Check the arguments at once, then iterate over ``source``'s new batches.

    ``held`` is ``len()`` as the caller last saw it, where ``start=None``
    begins: records appended since then are delivered too (``None``: the
    count :meth:`Source.refresh` finds now).
    """
    source.check()
    # NaN passes every comparison and time.sleep refuses NaN and inf, so these
    # would hang or fail only at the first idle poll (an infinite timeout is
    # "never", as None is)
    if not (0 < poll < math.inf):
        raise ValueError(f"poll must be a finite number of seconds > 0, got {poll}")
    if timeout is not None and not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout}")
    if records is not None:
        records = check_int(records, "records", minimum=None)
        if records < 1:
            raise ValueError(f"records must be >= 1, got {records}")
    n = source.refresh()
    pos = (n if held is None else held) if start is None else check_int(start, "start")
    if pos > n:
        unit = source.unit
        raise TruncatedError(
            f"{source.path}: cannot resume at {unit} {pos:,}: the {source.holder} holds "
            f"{n:,} {unit}s (it shrank or was replaced since that position was saved)",
            path=source.path,
            offset=source.resume_offset(n),
        )
    return _poll(source, pos, float(poll), timeout, records)


def batch_end(a: int, n: int, records: int | None, default: int) -> int:
    """Where a batch from record ``a`` ends: ``records`` on, at most at ``n``.

    ``records=None`` takes ``default`` (at least one record).
    """
    return min(n, a + (max(1, default) if records is None else records))


def _poll(
    source: Source[T], pos: int, poll: float, timeout: float | None, records: int | None
) -> Iterator[T]:
    last = time.monotonic()
    try:
        while True:
            n = source.refresh()
            if n > pos:
                while pos < n:
                    batch, pos = source.read(pos, n, records)
                    yield batch
                last = time.monotonic()
                continue
            again = source.idle(pos)
            if again is not None:
                pos = again
                continue
            if timeout is None:
                time.sleep(poll)
                continue
            left = timeout - (time.monotonic() - last)
            if left <= 0:
                return
            time.sleep(min(poll, left))
    finally:
        source.close()


class RotatingFile(Followed, Protocol):
    """What :class:`Rotating` uses of a :class:`~recview.view.View`."""

    @property
    def offset(self) -> int: ...

    @property
    def schema(self) -> Schema: ...

    def _pread(self, a: int, b: int, pool: BufferPool | None = None) -> NDArray: ...

    def _replaced(self) -> bool: ...

    def _open_rotated(self) -> RotatingFile | None: ...

    def close(self) -> None: ...


class Rotating(Source[NDArray]):
    """A local view's records as ``pread`` copies, across the path's rotation.

    Batches are read with ``pread`` in both modes, not through the mapping:
    a copy no later truncation can zero, and no remap (nor a mapping kept
    alive by a batch the caller keeps) per poll of a growing file. While the
    file being followed has nothing new, the path is looked at: when it names
    another file, ``rotate=False`` warns once (:class:`FileReplacedWarning`)
    and stays; ``rotate=True`` finishes the old file, then goes on with the
    new one from its first record once its header is complete (the new file
    is opened like the view, and closed here).
    """

    def __init__(self, view: RotatingFile, rotate: bool) -> None:
        super().__init__(view)
        self._view = view
        self._target = view  # the file being followed: the view, or a rotated-in one
        self._rotate = rotate
        self._warned = False
        self._pool: BufferPool | None = None

    def refresh(self) -> int:
        if self._target is not self._view:
            self._view._check()  # the caller closed its view: ClosedError
        return self._target.refresh()

    def read(self, a: int, n: int, records: int | None) -> tuple[NDArray, int]:
        itemsize = self._view.schema.itemsize
        step = max(1, PREAD_BATCH_NBYTES // itemsize) if records is None else records
        if self._pool is None:
            self._pool = batch_pool(step * itemsize)
        b = min(n, a + step)
        self._target._check()  # closed or truncated while the caller had a batch?
        return self._target._pread(a, b, self._pool), b

    def resume_offset(self, n: int) -> int:
        return self._view.offset + n * self._view.schema.itemsize

    def idle(self, pos: int) -> int | None:
        target = self._target
        if not (self._rotate or not self._warned) or not target._replaced():
            return None
        if not self._rotate:
            self._warned = True
            warnings.warn(
                f"{self.path}: the path names another file now (the file was rotated: "
                "renamed or removed, and a new one created); follow() stays on the file "
                "it opened (pass rotate=True to follow the path)",
                FileReplacedWarning,
                stacklevel=3,  # the caller's loop: idle <- _poll <- next()
            )
            return None
        if target.refresh() != pos:
            return pos  # records came in meanwhile: deliver them first
        # The old file is finished (what the writer appended before the
        # switch was delivered): go on with the new one once its header is there.
        new = target._open_rotated()
        if new is None:
            return None
        if target is not self._view:
            target.close()
        self._target = new
        return 0

    def close(self) -> None:
        if self._target is not self._view:
            self._target.close()
