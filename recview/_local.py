"""Opening a local file for a view: what can be mapped or read at an offset, and how.

:func:`open_file` opens the path read-only and refuses, with a message that
says what to use instead, what a :class:`~recview.view.View` cannot read: a
directory, a pipe or FIFO, a socket, a character device, a pseudo-file that
reports 0 bytes but holds data (procfs). It takes the advisory shared lock of
``lock=True``. :func:`read_mode` checks ``mode=`` and falls back from
``"mmap"`` to ``"pread"`` when the SIGBUS guard is missing.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings

from recview import _mapping
from recview._readers import FileRef
from recview._vocab import MODES, Mode
from recview.errors import GuardWarning, LayoutError

__all__ = ["open_file", "read_mode"]


def read_mode(path: str, mode: Mode, *, stacklevel: int) -> Mode:
    """``mode`` checked, or ``"pread"`` (with a :class:`GuardWarning`) for ``"mmap"``
    without the guard: an unguarded mapping of a file that another process
    truncates kills this process with SIGBUS, and pread cannot fault."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'mmap' or 'pread', got {mode!r}")
    if mode == "mmap" and not _mapping.GUARD_AVAILABLE:
        warnings.warn(
            f"{path}: recview's SIGBUS guard is not available "
            f"({_mapping.GUARD_ERROR}); reading with mode='pread' (copies) instead",
            GuardWarning,
            stacklevel=stacklevel + 1,
        )
        return "pread"
    return mode


def open_file(path: str, *, lock: bool) -> tuple[FileRef, os.stat_result]:
    """The file at ``path``, open read-only (and ``flock(LOCK_SH)``-ed if ``lock``).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        As the operating system reports them.
    LayoutError
        A socket, pipe, FIFO, character device or pseudo-file: the message
        says to read it with ``rv.stream``.
    """
    # O_NONBLOCK: opening a FIFO that has no writer would block forever.
    nonblock = getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | nonblock)
    except OSError as err:
        # A socket cannot be opened at all (ENXIO): say what it is.
        if err.errno == errno.ENXIO and stat.S_ISSOCK(os.stat(path).st_mode):
            raise LayoutError(
                f"{path}: a socket, not a regular file (it cannot be mapped or "
                "read at an offset); read it with rv.stream(fileobj, schema), from a "
                "connected socket's makefile('rb')",
                path=path,
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", path)  # noqa: TRY301
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            raise LayoutError(  # noqa: TRY301
                f"{path}: not a regular file (a pipe, FIFO, socket or character "
                "device cannot be mapped or read at an offset); read it with "
                "rv.stream(open(path, 'rb'), schema)",
                path=path,
            )
        if nonblock:
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~nonblock)
        if lock:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_SH)
        if st.st_size == 0 and stat.S_ISREG(st.st_mode) and _is_pseudo_file(fd):
            raise LayoutError(  # noqa: TRY301
                f"{path}: a pseudo-file (procfs, or another file system whose "
                "files report 0 bytes but hold data): it cannot be counted or mapped; "
                "read it with rv.stream(open(path, 'rb'), schema)",
                path=path,
            )
    except BaseException:
        os.close(fd)
        raise
    return FileRef(fd, path), st


def _is_pseudo_file(fd: int) -> bool:
    """Whether a file that reports 0 bytes has data anyway (``/proc/self/auxv``).

    One 1-byte ``pread``, for empty files only. A file a writer has just
    appended to is not one: its size is no longer 0 at a second look.
    """
    return bool(os.pread(fd, 1, 0)) and os.fstat(fd).st_size == 0
