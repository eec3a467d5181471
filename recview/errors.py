"""Exceptions and warnings raised by recview.

This module is a leaf: it imports nothing from recview, so every other module
can raise these without import cycles. The hierarchy::

    RecviewError                      base of everything recview raises on purpose
    ├── SchemaError(ValueError)       *your* schema is invalid (names the field)
    ├── LayoutError(ValueError)       the file does not fit the schema/offset/count
    ├── TruncatedError(OSError)       *another process* shrank the file under a view
    └── ClosedError(ValueError)       *your code* closed the view, then used it
    LayoutWarning(UserWarning)        a partial trailing record was left out
    GuardWarning(RuntimeWarning)      no SIGBUS guard here: mode="mmap" fell back to "pread";
                                      or SIGBUS was blocked in a reading thread and recview
                                      unblocked it

Each error keeps its data as attributes (``path``, ``offset``, ``field``...) in
addition to a message built at the raise site that says what happened, where,
what was expected and what to do.
"""

from __future__ import annotations

import os

__all__ = [
    "ClosedError",
    "GuardWarning",
    "LayoutError",
    "LayoutWarning",
    "RecviewError",
    "SchemaError",
    "TruncatedError",
]


class RecviewError(Exception):
    """Base class of every error recview raises on purpose.

    Attributes
    ----------
    path : str or None
        The file concerned, when there is one.
    offset : int or None
        Byte offset in the file (or in the record, for schema errors).
    field : str or None
        Dotted path of the field concerned, when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        offset: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = os.fspath(path) if path is not None else None
        self.offset = offset
        self.field = field


class SchemaError(RecviewError, ValueError):
    """The schema itself is invalid: overlapping fields, an unknown or unsized
    type, a zero-size record, malformed JSON or C declarations...

    The message and :attr:`field` name the offending field (dotted path).
    """


class LayoutError(RecviewError, ValueError):
    """The file's bytes do not fit the requested layout: it is shorter than
    ``offset + count * itemsize``, or a partial record trails the region and
    ``trailing="error"`` was asked for. Raised when the view is opened.
    """


class TruncatedError(RecviewError, OSError):
    """*Another process* shrank the file below what a view had mapped.

    recview never lets such a truncation kill the process (SIGBUS); instead
    :meth:`View.refresh` (and every call reading through the mapping) raises
    this. A view that has seen a shrink keeps raising it until reopened.

    Attributes
    ----------
    old_nbytes, new_nbytes : int or None
        File sizes before and after the shrink, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        offset: int | None = None,
        field: str | None = None,
        old_nbytes: int | None = None,
        new_nbytes: int | None = None,
    ) -> None:
        super().__init__(message, path=path, offset=offset, field=field)
        self.old_nbytes = old_nbytes
        self.new_nbytes = new_nbytes


class ClosedError(RecviewError, ValueError):
    """*Your code* closed the view (``close()`` or leaving ``with``) and then
    used it. Arrays obtained before closing stay valid; only the view is gone.
    """


class LayoutWarning(UserWarning):
    """A partial record at the end of a region was left out
    (``trailing="warn"``). The message gives the number of stray bytes."""


class GuardWarning(RuntimeWarning):
    """The native SIGBUS guard is not available (the C extension could not be
    built or loaded, or ``RECVIEW_NO_GUARD`` is set), so ``mode="mmap"`` fell
    back to ``mode="pread"``: arrays are copies, but a truncation by another
    process still cannot kill this one.

    Also given once per thread when a thread that reads through recview had
    SIGBUS blocked (a common worker-thread pattern): the kernel kills a process
    rather than deliver a blocked synchronous signal, so recview unblocks
    SIGBUS, and only SIGBUS, in that thread (``docs/signals.md``)."""
