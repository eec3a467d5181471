"""What a view knows of its file: the record count, ``refresh()`` and the truncation state.

:class:`Tracked` is the half of :class:`~recview.view.View` that watches the
file under it. ``len(view)`` is the count of whole records it held at the
last look; :meth:`Tracked.refresh` looks again (one ``fstat``) and counts
growth; a shrink below what the view holds, or a fault the SIGBUS guard
repaired in any of the view's mappings, is remembered as a
:class:`~recview.errors.TruncatedError` that every later check raises until
the file is reopened (``docs/changing_files.md``). The checks are cheap on
purpose, a flag and the guard's fault counter, so that they can come before
every read. ``View`` sets the state this class declares (at open) and the
readers (:mod:`recview._readers`) report the shrinks they see through
:meth:`Tracked._mark_truncated`.
"""

from __future__ import annotations

import threading
from typing import Any, NoReturn

from recview import _mapping
from recview._readers import FileRef, Reader
from recview._region import count_records
from recview._vocab import Trailing
from recview.errors import ClosedError, TruncatedError
from recview.schema import Schema

__all__ = ["Tracked"]


class Tracked(_mapping.ViewBase):
    """The record count and truncation state of a view, and :meth:`refresh`.

    Every attribute below is set by :class:`~recview.view.View` when it opens.
    """

    _path: str
    _schema: Schema
    _offset: int
    #: ``count=`` of the open: the view keeps that length.
    _fixed_count: int | None
    #: The records the view holds (``len(view)``); it only grows.
    _count: int
    _closed: bool
    _truncated: TruncatedError | None
    _faults_seen: int
    _lock: threading.RLock
    _reader: Reader
    _file: FileRef
    #: The mapped records while they cover the whole view (``view[i]``'s fast path).
    _fast: Any

    def _count_records(self, size: int, trailing: Trailing) -> int:
        """The whole records in ``size`` bytes of file, by the open's ``count`` and ``trailing``."""
        return count_records(
            self._path,
            size,
            self._schema.itemsize,
            offset=self._offset,
            count=self._fixed_count,
            trailing=trailing,
            stacklevel=4,
        )

    def _mark_truncated(self, old: int, new: int, why: str | None = None) -> NoReturn:
        """Remember and raise a :class:`TruncatedError`: the view is done.

        ``old`` is the end of what the view holds, ``new`` the file size now.
        ``why`` says how the shrink was seen when the file has grown back
        since (then ``new >= old``, and the size alone would not tell).
        """
        with self._lock:
            if self._truncated is None:
                held = self._offset + self._count * self._schema.itemsize
                if new < old or why is None:
                    what = f"file shrank from {old:,} to {new:,} bytes"
                else:
                    what = f"{why} (it is {new:,} bytes now: it shrank and grew again)"
                self._fast = None
                self._truncated = TruncatedError(
                    f"{self._path}: {what} while a view held {held:,} bytes of it "
                    "(reopen it to read what is left)",
                    path=self._path,
                    offset=min(old, new),
                    old_nbytes=old,
                    new_nbytes=new,
                )
            raise self._truncated

    # -- checks ----------------------------------------------------------------

    def _check(self) -> None:
        """Cheap check before reading through the mapping: a flag and a counter."""
        if self._closed:
            raise ClosedError(f"{self._path}: the view is closed", path=self._path)
        if self._truncated is not None:
            raise self._truncated
        if _mapping.fault_count() != self._faults_seen:
            self._check_faults()

    def _check_faults(self) -> None:
        with self._lock:
            self._check_faults_locked()

    def _check_faults_locked(self) -> None:
        # Some recview mapping faulted (the global counter moved): was it one
        # of this view's, the current one or one that arrays still view?
        self._faults_seen = _mapping.fault_count()
        if self._reader.faulted():
            size = self._file.fstat().st_size
            self._mark_truncated(
                self._offset + self._count * self._schema.itemsize,
                size,
                "file lost pages under the mapping (they read as zeros)",
            )

    def _verify(self) -> int:
        """:meth:`_check`, then one ``fstat``: has the file shrunk under the view?

        Returns the file size. After copying records out of the view, this
        tells whether the copy can be trusted: pages past the end of a file
        truncated mid-page read as zeros without any fault, so the size has
        to be compared too.
        """
        self._check()
        # What the view held *before* the fstat: another thread's refresh()
        # may count growth while this one waits in fstat, and comparing this
        # older size with that newer count would be a spurious truncation.
        # The count only grows, so a size below the earlier count is a shrink.
        held = self._offset + self._count * self._schema.itemsize
        size = self._file.fstat().st_size
        if size < held:
            self._mark_truncated(held, size)
        return size

    # -- change ----------------------------------------------------------------

    def refresh(self) -> int:
        """Re-read the file size; return the new ``len(view)``.

        Growth extends the view (arrays handed out before stay valid; the
        mapping itself is extended by the first read that needs the new
        records). A file that shrank below what the view holds raises
        :class:`TruncatedError`, and so does a view whose mapping lost pages
        to a truncation since the last check (the guard repaired a fault in
        it: those pages read as zeros); the view then keeps raising it until
        it is reopened. A view opened with ``count`` keeps its length.

        The cost is one flag, one counter, one ``fstat`` (and, in mmap mode,
        one ``sigaction`` to keep the SIGBUS guard on top), whatever the file
        size, so it can follow every read.

        Returns
        -------
        int
            ``len(view)``: the whole records in the file now (partial ones at
            the end are left for a later refresh).

        Raises
        ------
        TruncatedError
            The file shrank below ``offset + len(view) * itemsize``, or pages
            of this view's mapping were lost to a truncation.
        ClosedError
            The view was closed.

        Notes
        -----
        Zero-copy arrays change when the file does. A reader that must never
        act on bytes a truncation took away copies what it reads and then
        calls ``refresh()``: if that raises, the copy is thrown away. This
        catches every shrink still visible at the ``refresh``; a file that was
        cut and grown back past the view's end between two checks, with no
        page of the cut touched in between, cannot be told from one that
        never changed (see ``docs/changing_files.md``).

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "grow.bin")
        >>> np.arange(2, dtype="<u4").tofile(path)
        >>> view = rv.open(path, "<u4")
        >>> import builtins
        >>> with builtins.open(path, "ab") as f:
        ...     _ = f.write(np.arange(3, dtype="<u4").tobytes())
        >>> view.refresh(), len(view)
        (5, 5)
        >>> copy = view[-2:].copy()          # copy, then check:
        >>> os.truncate(path, 6)             # another process cuts the file
        >>> view.refresh()
        Traceback (most recent call last):
        ...
        recview.errors.TruncatedError: ...grow.bin: file shrank from 20 to 6 bytes while a view held 20 bytes of it (reopen it to read what is left)
        >>> view.close()
        """
        # First, also when the check below raises: the caller may touch
        # arrays next (faulthandler.enable() replaces our handler).
        self._reader.ensure_guard()
        size = self._verify()
        if self._fixed_count is None:
            # Only counted: the reader maps the new records when a read needs
            # them, so polling a growing file costs no mmap per poll.
            n = (size - self._offset) // self._schema.itemsize
            if n > self._count:
                with self._lock:
                    if n > self._count:
                        self._count = n
                        self._fast = None  # the mapping no longer covers the view
        return self._count
