"""This module owns the counting rule of a record region: how many records fit.

A region is the bytes of a file or an object after an ``offset``-byte header.
:func:`count_records` says how many whole records of ``itemsize`` bytes it
holds, and what a partial record at its end gets (the ``trailing`` rule), with
the messages :func:`recview.open` gives. :class:`~recview.view.View` (a local
file) and :class:`~recview.remote.RemoteRecords` (an object at a URL) both
count with it, so the two cannot drift apart.
"""

from __future__ import annotations

import warnings
from typing import Literal

from recview.errors import LayoutError, LayoutWarning

__all__ = ["count_records"]

Trailing = Literal["error", "ignore", "warn"]


def count_records(
    name: str,
    size: int,
    itemsize: int,
    *,
    offset: int,
    count: int | None,
    trailing: Trailing,
    noun: str = "file",
    stacklevel: int = 2,
) -> int:
    """Records of ``itemsize`` bytes in ``size`` bytes after ``offset``.

    Parameters
    ----------
    name : str
        The file or URL, for messages.
    size : int
        Bytes of the whole file or object.
    itemsize : int
        Bytes of one record.
    offset : int
        Header bytes before the first record.
    count : int, optional
        Records the region must hold; ``None``: as many whole ones as fit.
    trailing : {"error", "ignore", "warn"}
        What a partial record at the end gets (when ``count`` is None).
    noun : str
        What ``name`` is, in messages: ``"file"`` or ``"object"``.
    stacklevel : int
        For the :class:`LayoutWarning` of ``trailing="warn"``: as
        :func:`warnings.warn`'s, counted from the caller (2: the caller's caller).

    Returns
    -------
    int
        The number of records.

    Raises
    ------
    LayoutError
        Too short for ``count`` records or for the header, or stray bytes
        with ``trailing="error"``.

    Examples
    --------
    >>> from recview._region import count_records
    >>> count_records("x.bin", 100, 24, offset=4, count=None, trailing="error")
    4
    >>> count_records("x.bin", 101, 24, offset=4, count=None, trailing="error")
    Traceback (most recent call last):
    ...
    recview.errors.LayoutError: x.bin: file of 101 bytes: the 97 bytes after the 4-byte header are 4 records of 24 bytes plus 1 stray bytes at offset 100 (pass trailing="ignore" or "warn")
    """
    if count is not None:
        need = offset + count * itemsize
        if size < need:
            raise LayoutError(
                f"{name}: {noun} of {size:,} bytes is too short for {count:,} records of "
                f"{itemsize:,} bytes after the {offset:,}-byte header (needs {need:,} bytes)",
                path=name,
                offset=offset,
            )
        return count
    if size < offset:
        raise LayoutError(
            f"{name}: {noun} of {size:,} bytes is shorter than the {offset:,}-byte header",
            path=name,
            offset=size,
        )
    avail = size - offset
    n, stray = divmod(avail, itemsize)
    if stray and trailing != "ignore":
        end = offset + n * itemsize
        msg = (
            f"{name}: {noun} of {size:,} bytes: the {avail:,} bytes after the "
            f"{offset:,}-byte header are {n:,} records of {itemsize:,} bytes plus "
            f"{stray:,} stray bytes at offset {end:,}"
        )
        if trailing == "error":
            raise LayoutError(msg + ' (pass trailing="ignore" or "warn")', path=name, offset=end)
        warnings.warn(msg + " (left out)", LayoutWarning, stacklevel=stacklevel + 1)
    return n
