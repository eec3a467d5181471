"""Keys of ``view[key]``: which records or fields an int, slice, index array, mask or name asks for.

:func:`getitem` turns a key into one read of the view's reader
(:mod:`recview._readers`): an int into ``record``, a step-1 slice into
``records``, any other slice into ``strided``, an index list or array, or a
boolean mask, into ``take`` of in-range record numbers
(:func:`index_array`), and a field name or a list of them into a field of
the records. Which of these are views of the file and which are copies is
the reader's, tabled in :class:`~recview.view.View`'s docstring. Errors are
numpy's kinds: ``IndexError`` out of range (index arrays too), ``KeyError``
for an unknown field, ``TypeError`` for anything else.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from recview._readers import Reader
from recview._vocab import NDArray
from recview.errors import SchemaError
from recview.schema import Schema

__all__ = ["Keyed", "getitem", "index_array"]


class Keyed(Protocol):
    """What :func:`getitem` uses of a :class:`~recview.view.View`."""

    _count: int
    _path: str
    _schema: Schema
    _reader: Reader

    @property
    def array(self) -> NDArray: ...

    def _empty(self) -> NDArray: ...


def getitem(view: Keyed, key: Any) -> Any:
    """``view[key]`` (the view checked already: open, not truncated)."""
    reader = view._reader
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        n = view._count
        i = int(key)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"record index {int(key)} is out of range for {n:,} records")
        return reader.record(i)
    if isinstance(key, slice):
        a, b, step = key.indices(view._count)
        if step == 1:
            return reader.records(a, max(a, b))
        return reader.strided(key)
    if isinstance(key, str):
        return field(view, key)
    if isinstance(key, list) and key and all(isinstance(k, str) for k in key):
        return view.array[key]
    if isinstance(key, (np.ndarray, list)):
        return reader.take(index_array(key, view._count))
    raise TypeError(
        f"view indices must be integers, slices, field names or index arrays, "
        f"not {type(key).__name__}"
    )


def index_array(key: Any, n: int) -> NDArray:
    """An index list or array (ints or a boolean mask) as in-range record numbers of ``n``.

    >>> index_array([0, -1], 5).tolist(), index_array(np.array([1, 0, 1], bool), 3).tolist()
    ([0, 4], [0, 2])
    >>> index_array(np.array([2**64 - 1], np.uint64), 5)
    Traceback (most recent call last):
    ...
    IndexError: record index 18446744073709551615 is out of range for 5 records
    """
    idx = np.asarray(key) if not (isinstance(key, list) and not key) else np.empty(0, np.intp)
    if idx.dtype == np.bool_:
        if idx.shape != (n,):
            raise IndexError(f"boolean index of shape {idx.shape} does not match the {n:,} records")
        return np.flatnonzero(idx)
    if idx.dtype.kind == "O" and all(
        isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in idx.flat
    ):
        pass  # Python ints beyond int64: checked one by one below
    elif idx.dtype.kind not in "iu":
        raise IndexError(f"record index arrays must hold integers or booleans, not {idx.dtype}")
    if idx.size:
        # Bounds on the values as Python ints: a uint64 2**64-1 must not
        # wrap to -1 (the last record) when cast to the index type.
        lo, hi = int(idx.min()), int(idx.max())
        if lo < -n or hi >= n:
            bad = lo if lo < -n else hi
            raise IndexError(f"record index {bad} is out of range for {n:,} records")
    out = idx.astype(np.intp).reshape(-1)
    return np.where(out < 0, out + n, out)


def field(view: Keyed, name: str) -> NDArray:
    """The field ``name`` (a dotted path) of every record: ``view[name]``."""
    # Schema.get reads every leaf of fields() (bitfields too, as computed
    # read-only arrays) and any other field of the dtype as a view.
    try:
        view._schema.get(view._empty(), name)  # checked before reading anything
    except SchemaError as err:
        raise KeyError(f"{view._path}: {err}") from None
    return view._schema.get(view.array, name)
