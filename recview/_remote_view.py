"""This module owns :class:`RemoteView`: what :func:`recview.open` gives for a URL.

A :class:`RemoteView` answers the calls a :class:`~recview.view.View` answers
(``len``, indexing, ``array``, ``columns``, ``batches``, ``refresh``,
``follow``, ``close``) over the records of one object at an fsspec URL, by
delegating to :class:`~recview.remote.RemoteRecords`: ranged reads, a block
cache for ``view[i]``, coalesced ``take``, and read-ahead in ``batches()``.
Every array it hands out is a read-only copy of the bytes the server sent, as
in ``mode="pread"`` (``docs/remote.md``, "Memory model").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, SupportsIndex

import numpy as np

from recview import _follow
from recview._export import Exports
from recview._vocab import NDArray
from recview.errors import ClosedError
from recview.remote import RemoteRecords, RemoteSource, remote_npy_layout
from recview.schema import Schema, as_schema

__all__ = ["RemoteView", "open_url"]


def open_url(
    url: str,
    schema: Any = None,
    *,
    offset: int = 0,
    count: int | None = None,
    trailing: Any = "error",
    storage_options: Mapping[str, Any] | None = None,
) -> RemoteView:
    """Open the records of the object at ``url`` (what :func:`recview.open` does for a URL).

    ``schema=None`` reads a ``.npy`` object's own header (two small ranged
    reads); any other object needs a schema.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from recview._remote_view import open_url
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> np.save(path, np.arange(5, dtype="<u2"))
    >>> with open_url("file://" + path) as view:
    ...     print(len(view), view["f0"].tolist(), view.mode)
    5 [0, 1, 2, 3, 4] remote
    """
    source = RemoteSource(url, storage_options=storage_options)
    try:
        if schema is None:
            if not (url.lower().endswith(".npy") and offset == 0 and count is None):
                raise TypeError(  # noqa: TRY301 - closes the source below
                    f"{url}: rv.open needs a schema (only a .npy object, opened without "
                    "offset or count, describes its own records)"
                )
            layout = remote_npy_layout(source)
            schema, offset, count = layout.schema, layout.offset, layout.count
        records = RemoteRecords(
            source, as_schema(schema), offset=offset, count=count, trailing=trailing
        )
    except BaseException:
        source.close()
        raise
    return RemoteView(records, owned=True)


class RemoteView(Exports):
    """The records of one object at a URL, with :class:`~recview.view.View`'s calls.

    Made by :func:`recview.open` for a URL. It answers every public call of a
    :class:`~recview.view.View` (code written for local files runs
    unchanged), over its own reader: no file descriptor and no mapping, only
    :class:`~recview.remote.RemoteRecords`. Every array is a read-only
    **copy**, so ``np.shares_memory`` with anything else is never true.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> schema = rv.Schema.from_dtype([("ts", "<u8"), ("px", "<f8")])
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin")
    >>> recs = np.zeros(6, schema.dtype); recs["ts"] = range(6); recs.tofile(path)
    >>> with rv.open("file://" + path, schema) as view:
    ...     print(len(view), view[-1]["ts"], view[1:5:2]["ts"].tolist(),
    ...           [int(b["ts"].sum()) for b in view.batches(4)])
    6 5 [1, 3] [6, 9]
    """

    def __init__(self, records: RemoteRecords, *, owned: bool = False) -> None:
        self._records = records
        self._owned = owned
        self._closed = False

    # -- attributes --------------------------------------------------------------

    @property
    def schema(self) -> Schema:
        """The record layout."""
        return self._records.schema

    @property
    def path(self) -> str:
        """The object's URL, as given to :func:`recview.open`."""
        return self._records.url

    url = path

    @property
    def offset(self) -> int:
        """Bytes before the first record (the header size)."""
        return self._records.offset

    @property
    def mode(self) -> str:
        """``"remote"``: ranged reads, every array a copy."""
        return "remote"

    @property
    def nbytes(self) -> int:
        """Bytes of the record region (``len(view) * itemsize``)."""
        self._check()
        return self._records.nbytes

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def source(self) -> RemoteSource:
        """The :class:`~recview.remote.RemoteSource` the records are read from."""
        return self._records.source

    def __len__(self) -> int:
        self._check()
        return len(self._records)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._records):,} records"
        return (
            f"<recview.RemoteView {self.path!r}: {state} of {self.schema.itemsize} bytes "
            f"at offset {self.offset}>"
        )

    def _check(self) -> None:
        if self._closed:
            raise ClosedError(f"{self.path}: the view is closed", path=self.path)

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        # as a View: a closed view refuses to pickle rather than coming back open
        self._check()
        return super().__reduce_ex__(protocol)

    # -- reading -------------------------------------------------------------------

    @property
    def array(self) -> np.ndarray[Any, Any]:
        """Every record, a read-only structured copy (one ranged request)."""
        self._check()
        return self._records.read(0, len(self._records))

    def _take(self, idx: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if not len(idx):
            out = np.empty(0, dtype=self.schema.dtype)
            out.flags.writeable = False
            return out
        return self._records.take(idx)

    def __getitem__(self, key: Any) -> Any:
        """One record (``int``), records (a slice, index array or boolean mask), or a
        field of every record (a dotted name); all read-only copies."""
        self._check()
        n = len(self._records)
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"record index {i} is out of range for {n:,} records")
            return self._records[i]
        if isinstance(key, slice):
            a, b, step = key.indices(n)
            if step == 1:
                return self._records.read(a, max(a, b))
            return self._take(np.arange(a, b, step))
        if isinstance(key, str):
            return self.schema.get(self.array, key)
        if isinstance(key, list) and key and all(isinstance(k, str) for k in key):
            return self.array[key]
        if isinstance(key, (np.ndarray, list)):
            idx = np.asarray(key)
            if idx.dtype == bool:
                if idx.shape != (n,):
                    raise IndexError(f"boolean index of shape {idx.shape} for {n:,} records")
                idx = np.flatnonzero(idx)
            return self._take(idx.astype(np.int64, copy=False).reshape(-1))
        raise TypeError(
            f"view indices must be integers, slices, field names or index arrays, "
            f"not {type(key).__name__}"
        )

    def columns(self, names: Sequence[str] | None = None) -> dict[str, np.ndarray[Any, Any]]:
        """Copy fields into contiguous, writable, native-byte-order arrays.

        As :meth:`recview.View.columns`; the records are read in batches (with
        read-ahead), each batch filling every requested column.

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> s = rv.Schema.from_dtype([("hdr", [("ts", ">u4")]), ("px", "<f8")])
        >>> path = os.path.join(tempfile.mkdtemp(), "r.bin")
        >>> np.array([((1,), 2.5), ((3,), 4.5)], s.dtype).tofile(path)
        >>> with rv.open("file://" + path, s) as view:
        ...     cols = view.columns()
        >>> sorted(cols), cols["hdr.ts"].tolist(), cols["hdr.ts"].dtype.isnative
        (['hdr.ts', 'px'], [1, 3], True)
        """
        self._check()
        schema = self.schema
        leaves = schema.fields()
        if names is None:
            chosen = leaves
        else:
            chosen = []
            for name in names:
                sel = [f for f in leaves if f.path == name or f.path.startswith(name + ".")]
                if not sel:
                    raise KeyError(f"{self.path}: no field {name!r}")
                chosen.extend(sel)
        n = len(self._records)
        model = np.zeros(0, dtype=schema.dtype)
        outs: dict[str, np.ndarray[Any, Any]] = {}
        for f in chosen:
            dt = f.get(model).dtype
            native = dt.newbyteorder("=") if dt.byteorder not in "=|" else dt
            outs[f.path] = np.empty((n, *f.shape), dtype=native)
        a = 0
        for batch in self._records.batches():
            b = a + len(batch)
            for f in chosen:
                outs[f.path][a:b] = f.get(batch)
            a = b
        return outs

    def batches(
        self,
        records: int | None = None,
        *,
        nbytes: int | None = None,
        start: int = 0,
        readahead: int = 2,
    ) -> Iterator[np.ndarray[Any, Any]]:
        """Read-only copies of records ``start..len(view)`` in order, read ahead.

        Each batch is one ranged request; ``readahead`` batches are read on a
        thread while the caller works on the current one, so at most
        ``readahead + 1`` batches are held.

        Parameters
        ----------
        records : int, optional
            Records per batch.
        nbytes : int, optional
            Bytes per batch (rounded down to whole records, at least one);
            default 8 MiB when ``records`` is not given either.
        start : int
            First record.
        readahead : int
            Batches read ahead (0: none).
        """
        self._check()
        if records is not None and nbytes is not None:
            raise ValueError("give records or nbytes, not both")
        for name, value in (("records", records), ("nbytes", nbytes), ("start", start)):
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ValueError(f"{name} must be >= 0, got {value}")
        if records is not None and records < 1:
            raise ValueError(f"records must be >= 1, got {records}")
        if start > len(self._records):
            raise IndexError(f"start={start} is past the last of {len(self._records):,} records")
        step = records
        if nbytes is not None:
            step = max(1, int(nbytes) // self.schema.itemsize)
        return self._records.batches(step, start=int(start), readahead=readahead)

    # -- change --------------------------------------------------------------------

    def refresh(self) -> int:
        """Ask the server for the object's size again; return the new ``len(view)``.

        Growth extends the view; an object shorter than the records held
        raises :class:`TruncatedError` (objects in S3 and the like are
        immutable: it was replaced), and so does every later read.
        """
        self._check()
        return self._records.refresh()

    def follow(
        self,
        *,
        start: int | None = None,
        poll: float = 0.1,
        timeout: float | None = None,
        records: int | None = None,
    ) -> Iterator[np.ndarray[Any, Any]]:
        """Record batches as the object grows, each record once, partial ones held back.

        As :meth:`recview.View.follow`: ``start=None`` begins at ``len(view)``
        as the caller last saw it; ``timeout`` ends the iteration after that
        many seconds without new records. Each poll is one size request.
        """
        return _follow.follow(
            _Growing(self),
            start=start,
            poll=poll,
            timeout=timeout,
            records=records,
            held=len(self._records),
        )

    # -- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        """Stop read-ahead and drop the cache; later use raises :class:`ClosedError`.

        Arrays already handed out stay valid (they are copies). Closing twice
        is harmless.
        """
        if self._closed:
            return
        self._closed = True
        if self._owned:
            self._records.source.close()

    def __enter__(self) -> RemoteView:  # noqa: PYI034 - not meant to be subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Growing(_follow.Source[NDArray]):
    """What :meth:`RemoteView.follow` polls: one size request a poll, one ranged read a batch."""

    holder = "object"
    # Batches of follow(), in bytes: one request each.
    batch_nbytes = 1 << 20

    def __init__(self, view: RemoteView) -> None:
        super().__init__(view)
        self._records = view._records

    def read(self, a: int, n: int, records: int | None) -> tuple[NDArray, int]:
        b = _follow.batch_end(a, n, records, self.batch_nbytes // self._records.schema.itemsize)
        self.owner._check()
        return self._records.read(a, b), b

    def resume_offset(self, n: int) -> int:
        return self._records.offset + n * self._records.schema.itemsize
