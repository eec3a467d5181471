"""Views over files: :func:`open` maps a file of fixed-size records as numpy arrays.

This module owns :class:`View`: the record region of a file (after an optional
header) overlaid with a schema's structured dtype. In ``mode="mmap"`` the
region is mapped read-only (see :mod:`recview._mapping`, which also guards the
mapping against SIGBUS) and every array handed out is a zero-copy view of it,
except :meth:`View.follow`'s batches, which are copies; in ``mode="pread"``
nothing is mapped and records are read with ``pread``. This module keeps
:func:`open` (a path, a URL or a ``.npy`` file), the API and the lock that
makes a view safe to share by threads; the rooms under it:

- :mod:`recview._local`: opening a local file (what cannot be mapped or read
  at an offset is refused), ``lock=``, and ``mmap`` or ``pread``;
- :mod:`recview._readers`: how records are read (one reader per view, picked
  at open);
- :mod:`recview._keys`: what ``view[key]`` reads for each kind of key;
- :mod:`recview._tracking`: the record count, ``refresh()`` and the
  truncation state (:class:`View`'s base class);
- :mod:`recview._follow`: the ``follow()`` loop and log rotation.

Memory model: opening maps nothing and reads nothing; the first read maps the
records the view holds, and the first read after :meth:`View.refresh` found
more maps again (the old mapping lives on while arrays view it). Pages are
read by the kernel as arrays touch them and count in the process RSS while
mapped; ``batches()`` releases each window (``madvise(MADV_DONTNEED)``) once
the caller moves on, so a scan of any file size keeps RSS bounded by about one
batch.

Files that change (``docs/changing_files.md``): every read through
the mapping first checks a flag and the guard's fault counter; ``refresh()``
adds one ``fstat``. A view that saw its file shrink (or a fault in any of its
mappings) raises :class:`TruncatedError` until it is reopened.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from recview import _follow, _mapping
from recview._colsplit import Split, empty
from recview._export import Exports
from recview._follow import FileReplacedWarning
from recview._keys import getitem
from recview._local import open_file, read_mode
from recview._npy import npy_layout
from recview._readers import MappedReader, PreadReader, Reader
from recview._remote_view import RemoteView, open_url
from recview._tracking import Tracked
from recview._vocab import TRAILING, Mode, NDArray, SchemaLike, Trailing, as_names, check_int
from recview.errors import (
    ClosedError,
    LayoutError,
    LayoutWarning,
    RecviewError,
    TruncatedError,
)
from recview.pool import BufferPool
from recview.remote import is_url
from recview.schema import Schema, as_schema

__all__ = ["FileReplacedWarning", "View", "open"]


def open(  # the public name (rv.open, as io.open), shadowing the builtin on purpose
    path: str | os.PathLike[str],
    schema: SchemaLike = None,
    *,
    offset: int = 0,
    count: int | None = None,
    trailing: Trailing = "error",
    mode: Mode = "mmap",
    lock: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> View | RemoteView:
    """Map a file of fixed-size records as a read-only, zero-copy view.

    Parameters
    ----------
    path : str or os.PathLike
        The file, or the URL of an object (any fsspec URL: ``s3://``,
        ``gs://``, ``az://``, ``http(s)://``, ``file://``...; needs the
        ``recview[remote]`` extra). A URL gives a
        :class:`~recview._remote_view.RemoteView`: the same calls as a
        :class:`View`, over ranged reads, every array a read-only copy
        (``docs/remote.md``).
    schema : Schema, Record subclass, construct.Struct or dtype spec, optional
        The record layout (anything :func:`recview.as_schema` accepts).
        ``None`` (the default) is for ``.npy`` files only: the schema, offset
        and count come from the file's own header (:mod:`recview._npy`);
        records are rows.
    offset : int
        Bytes before the first record (a file header).
    count : int, optional
        Number of records in the region; ``None``: as many whole records as fit.
    trailing : {"error", "ignore", "warn"}
        What a partial record at the end of the region gets (when ``count`` is
        None): raise :class:`LayoutError`, leave it out, or leave it out with a
        :class:`LayoutWarning`.
    mode : {"mmap", "pread"}
        ``"mmap"``: zero-copy views over a guarded read-only mapping.
        ``"pread"``: no mapping; records are read with ``pread`` into fresh
        buffers, so nothing handed out can fault (for files that may shrink at
        any moment); arrays are then copies.
    lock : bool
        Hold an advisory shared lock (``flock(LOCK_SH)``) on the file until
        :meth:`View.close`, for writers that cooperate by taking ``LOCK_EX``
        (local files only).
    storage_options : dict, optional
        For a URL: passed to its fsspec filesystem (credentials, endpoint,
        ``client_kwargs``...).

    Returns
    -------
    View or RemoteView

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        As the operating system reports them (for a URL: no such object, a
        prefix; ``filename`` is the URL).
    ImportError
        A URL without fsspec installed (the message gives the install hint).
    LayoutError
        The file is shorter than ``offset + count * itemsize`` or than the
        header, or has a partial trailing record and ``trailing="error"``.

    Notes
    -----
    Opening costs O(1) in the file size: nothing is read until it is used
    (a URL costs one size request, and a ``.npy`` object two small reads of
    its header). Errors reading a URL name it and the byte range:
    ``s3://b/k: bytes 1,024-2,047: ...``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> schema = rv.Schema.from_dtype([("ts", "<u8"), ("price", "<f8")])
    >>> path = os.path.join(tempfile.mkdtemp(), "trades.bin")
    >>> np.array([(1, 9.5), (2, 9.75)], dtype=schema.dtype).tofile(path)
    >>> with rv.open(path, schema) as view:
    ...     print(len(view), view["price"].sum())
    2 19.25
    >>> with rv.open("file://" + path, schema) as remote:   # any fsspec URL
    ...     print(len(remote), remote["price"].sum(), remote.mode)
    2 19.25 remote
    """
    if is_url(path):
        if lock:
            raise ValueError(f"{path}: lock=True is for local files (a URL cannot be locked)")
        return open_url(
            str(path),
            schema,
            offset=offset,
            count=count,
            trailing=trailing,
            storage_options=storage_options,
        )
    if storage_options:
        raise TypeError(
            f"{os.fspath(path)}: storage_options are for URLs (s3://, https://, file://...), "
            "not local paths"
        )
    if schema is None:
        if os.fspath(path).lower().endswith(".npy") and offset == 0 and count is None:
            layout = npy_layout(path)
            schema, offset, count = layout.schema, layout.offset, layout.count
        else:
            raise TypeError(
                f"{os.fspath(path)}: rv.open needs a schema (only a .npy file, opened "
                "without offset or count, describes its own records)"
            )
    return View(
        path,
        as_schema(schema),
        offset=offset,
        count=count,
        trailing=trailing,
        mode=mode,
        lock=lock,
    )


_GETITEM_DOC = """view[key]: records or fields of the view, as read-only arrays.

Which keys give views of the file and which give copies:

============================================  ====================  ==========
key                                           ``mode="mmap"``       ``"pread"``
============================================  ====================  ==========
``i`` (int, numpy integer; < 0 from the end)  view (``numpy.void``)  copy
``a:b`` (step 1)                              view                  copy
``a:b:c`` (any other step)                    view (strided)        copy
``"field"``, ``"hdr.ts"`` (byte fields)       view (strided)        copy
``"flags.syn"`` (a bitfield)                  copy (computed)       copy
``["a", "b"]`` (several fields)               view                  copy
index list/array, boolean mask                copy                  copy
============================================  ====================  ==========

:attr:`array` and :meth:`batches` follow the slice row; :meth:`columns`
and :meth:`follow` always copy. A view changes when the file does (see
:meth:`refresh`); a copy never does. Out-of-range integers, also in index
arrays, raise ``IndexError``; unknown fields ``KeyError``.

Examples
--------
>>> import os, tempfile, numpy as np, recview as rv
>>> path = os.path.join(tempfile.mkdtemp(), "r.bin")
>>> np.arange(4, dtype="<u4").tofile(path)
>>> with rv.open(path, [("x", "<u4")]) as view:
...     print(view[1]["x"], view["x"][1:3].tolist(), view[[0, 3]]["x"].tolist())
1 [1, 2] [0, 3]
"""
__test__ = {"View.__getitem__": _GETITEM_DOC}


class View(Tracked, Exports):
    """The record region of one file, as numpy arrays. Made by :func:`open`.

    Indexing (``view[key]``) gives read-only arrays: views of the file or
    copies, by key and mode, as :meth:`__getitem__` tables.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> class Tick(rv.Record):
    ...     ts: rv.u64
    ...     px: rv.f64
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin")
    >>> recs = np.zeros(5, Tick.schema.dtype); recs["ts"] = range(5)
    >>> recs.tofile(path)
    >>> view = rv.open(path, Tick)
    >>> view[-1]["ts"], view[1:3]["ts"].tolist(), np.shares_memory(view["px"], view.array)
    (np.uint64(4), [1, 2], True)
    >>> view.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        schema: Schema,
        *,
        offset: int = 0,
        count: int | None = None,
        trailing: Trailing = "error",
        mode: Mode = "mmap",
        lock: bool = False,
    ) -> None:
        offset = check_int(offset, "offset")
        count = None if count is None else check_int(count, "count")
        if trailing not in TRAILING:
            raise ValueError(f"trailing must be 'error', 'ignore' or 'warn', got {trailing!r}")
        mode = read_mode(os.fspath(path), mode, stacklevel=3)
        self._path = os.fspath(path)
        self._schema = schema
        self._offset = offset
        self._fixed_count = count
        self._mode: Mode = mode
        self._trailing: Trailing = trailing
        self._locked = bool(lock)
        self._closed = False
        self._truncated: TruncatedError | None = None
        self._count = 0  # records the view holds (len(view))
        # self._fast (a slot of ViewBase, None at first) is the mapped records
        # while they cover every record the view holds and the view is open
        # and not truncated: what view[i] reads. The mapped reader sets it.
        # Guards the count, the reader's mappings, the truncation state and
        # close() against other threads (reentrant: _check() runs under it).
        self._lock = threading.RLock()
        self._faults_seen = _mapping.fault_count()
        # How records are read (recview._readers): views of a mapping, or
        # pread copies; follow() always reads with pread.
        self._preader = PreadReader(self)
        self._reader: Reader = MappedReader(self) if mode == "mmap" else self._preader
        self._file, st = open_file(self._path, lock=lock)
        try:
            self._ident = (st.st_dev, st.st_ino)  # what follow(rotate=True) compares
            # Also when the open fails below: arrays of other views may be
            # touched next. (Only a mapped reader touches the guard.)
            self._reader.ensure_guard(stacklevel=4)
            # The mapping itself is made by the first read (_arr): a file cut
            # between this fstat and that mmap is then a truncation of an open
            # view, reported like any other.
            self._count = self._count_records(st.st_size, trailing)
        except BaseException:
            self._closed = True  # so that __del__ does not close a reused fd number
            self._file.close()
            raise

    # -- construction helpers ------------------------------------------------

    def _empty(self) -> NDArray:
        arr = np.empty(0, dtype=self._schema.dtype)
        arr.flags.writeable = False
        return arr

    # -- attributes --------------------------------------------------------------

    @property
    def schema(self) -> Schema:
        """The record layout."""
        return self._schema

    @property
    def path(self) -> str:
        """The file's path, as given to :func:`open`."""
        return self._path

    @property
    def offset(self) -> int:
        """Bytes before the first record (the header size)."""
        return self._offset

    @property
    def mode(self) -> Mode:
        """``"mmap"`` or ``"pread"``."""
        return self._mode

    @property
    def nbytes(self) -> int:
        """Bytes of the record region (``len(view) * itemsize``)."""
        if self._closed:
            raise ClosedError(f"{self._path}: the view is closed", path=self._path)
        return self._count * self._schema.itemsize

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __len__(self) -> int:
        if self._closed:
            raise ClosedError(f"{self._path}: the view is closed", path=self._path)
        return self._count

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._count:,} records"
        return (
            f"<recview.View {self._path!r}: {state} of {self._schema.itemsize} bytes "
            f"at offset {self._offset}, mode={self._mode!r}>"
        )

    # -- reading ---------------------------------------------------------------

    def _records(self, a: int, b: int) -> NDArray:
        """Records ``a..b`` (already bounds-checked): a view, or a pread copy."""
        return self._reader.records(a, b)

    def _pread(self, a: int, b: int, pool: BufferPool | None = None) -> NDArray:
        """Copy records ``a..b`` with ``pread`` (in both modes): nothing returned can fault."""
        return self._preader.pread(a, b, pool)

    @property
    def array(self) -> NDArray:
        """The whole region as a read-only structured ndarray (zero-copy in mmap mode)."""
        self._check()
        return self._records(0, self._count)

    # view[key] is ViewBase's (recview._mapping): a Python int while the view
    # is mapped is numpy's arr[i] in C; every other key, and every error,
    # comes here (the keys are recview._keys'; the class docstring tables them).
    def _getitem(self, key: Any) -> Any:
        self._check()
        return getitem(self, key)

    def columns(self, names: Sequence[str] | None = None) -> dict[str, NDArray]:
        """Copy fields into contiguous, writable, native-byte-order arrays.

        Fills every requested column from each block of records while the block
        is in cache (one pass over the file, not one per field).

        Parameters
        ----------
        names : sequence of str, optional
            Dotted leaf names (``"hdr.ts"``, ``"legs.px"``, ``"flags.syn"``)
            or the names of fields holding leaves (a nested record, an array
            of records or a bitfield storage expands to its leaves). Default:
            every leaf of ``schema.fields()``, in its order.

        Returns
        -------
        dict of str to numpy.ndarray
            One column per leaf, shape ``(len(view),) + leaf shape``
            (``legs.px`` of ``legs: Leg[2]`` has shape ``(len(view), 2)``); a
            bitfield column has the smallest integer type holding it.

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> s = rv.Schema.from_dtype([("hdr", [("ts", ">u4")]), ("px", "<f8")])
        >>> path = os.path.join(tempfile.mkdtemp(), "r.bin")
        >>> np.array([((1,), 2.5), ((3,), 4.5)], s.dtype).tofile(path)
        >>> with rv.open(path, s) as view:
        ...     cols = view.columns()
        >>> sorted(cols), cols["hdr.ts"].tolist(), cols["hdr.ts"].dtype.isnative
        (['hdr.ts', 'px'], [1, 3], True)
        """
        self._check()
        leaves = self._schema.fields()
        chosen = leaves
        names = as_names(names)
        if names is not None:
            chosen = []
            for name in names:
                sel = [f for f in leaves if f.path == name or f.path.startswith(name + ".")]
                if not sel:
                    raise KeyError(f"{self._path}: no field {name!r}")
                chosen.extend(f for f in sel if f not in chosen)
        n = self._count
        # One column per leaf of the field model: byte fields in native byte
        # order (assigning into the output converts it), bitfields as the
        # smallest integer type holding them.
        outs = {f.path: empty((n, *f.shape), f.value_dtype.newbyteorder("=")) for f in chosen}
        split = Split(self._schema.itemsize, chosen, outs)
        if self._mode == "mmap":
            split.mapped(self._records(0, n))
        else:
            for a in builtins.range(0, n, split.block):
                split.records(self._pread(a, min(n, a + split.block)), a)
        # The copies are done: they hold what the file held unless it shrank
        # under them (zeros from the guard, or from a mid-page cut).
        self._verify()
        return outs

    def batches(
        self, records: int | None = None, *, nbytes: int | None = None, start: int = 0
    ) -> Iterator[NDArray]:
        """Iterate over records ``start..len(view)`` in read-only batches.

        Each window is released (``madvise(MADV_DONTNEED)``) when the caller
        asks for the next one, so process memory stays bounded by about one
        batch whatever the file size. Batches kept by the caller stay valid
        (released pages are read again from the file if touched).

        Parameters
        ----------
        records : int, optional
            Records per batch.
        nbytes : int, optional
            Bytes per batch (rounded down to whole records, at least one);
            default 16 MiB (1 MiB in ``mode="pread"``) when ``records`` is not
            given either.
        start : int
            First record.

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "n.bin")
        >>> np.arange(10, dtype="<u8").tofile(path)
        >>> with rv.open(path, [("n", "<u8")]) as view:
        ...     print([int(b["n"].sum()) for b in view.batches(4)])
        [6, 22, 17]
        """
        self._check()
        if records is not None and nbytes is not None:
            raise ValueError("give records or nbytes, not both")
        if records is not None:
            records = check_int(records, "records", minimum=None)
            if records < 1:
                raise ValueError(f"records must be >= 1, got {records}")
            step = int(records)
        else:
            if nbytes is not None:
                nbytes = check_int(nbytes, "nbytes")
            if nbytes is None:
                nbytes = self._reader.batch_nbytes
            step = int(nbytes) // self._schema.itemsize
        step = max(1, step)
        start = check_int(start, "start")
        if start > self._count:
            raise IndexError(f"start={start} is past the last of {self._count:,} records")
        return self._batches(step, int(start))

    def _batches(self, step: int, start: int) -> Iterator[NDArray]:
        yield from self._reader.scan(start, self._count, step)
        # A cut inside the last page raises no fault: its bytes past the new
        # end read as zeros. Only the size tells (the batches were handed out
        # already; the caller must not trust them).
        self._verify()

    # -- change (refresh() and the truncation state: recview._tracking) -------------

    def follow(
        self,
        *,
        start: int | None = None,
        poll: float = 0.1,
        timeout: float | None = None,
        records: int | None = None,
        rotate: bool = False,
    ) -> Iterator[NDArray]:
        """Iterate over record batches as a writer appends to the file.

        A partial record at the end is held back until it is complete. Each
        record is delivered exactly once, in order: a reader that persists
        ``start + records delivered`` resumes with ``start=`` that number.

        Batches are read-only **copies**, read with ``pread`` in both modes:
        a batch cannot change or read as zeros after it was yielded, even if
        the file is truncated later, and keeping batches holds no mapping. A
        batch is what the file held when it was read; a shrink during the
        read raises :class:`TruncatedError` instead of yielding it.

        Parameters
        ----------
        start : int, optional
            First record to deliver; default: the current end (``len(view)``).
        poll : float
            Seconds between size checks while there is nothing new.
        timeout : float, optional
            End the iteration after this many seconds without new records
            (default: wait forever).
        records : int, optional
            Largest batch, in records (default: 1 MiB worth).
        rotate : bool
            Follow the *path* across log rotation (rename the file, create a
            new one at the path, as ``logrotate`` does without
            ``copytruncate``): when the path names another file, finish the
            old one (every record it holds by then), then go on with the new
            one from its first record, each record exactly once. The view
            itself stays on the file it opened; the new file is opened (same
            schema, offset, mode, ``trailing="ignore"``) and closed by the
            iterator, once its header is complete. Records are then counted
            from 0 in each file. The path is looked at only while the file
            being followed has nothing new: a file created and rotated away
            between two looks (rotation faster than the consumer) is missed
            (``docs/changing_files.md``). Without ``rotate`` a rotation is reported
            with one :class:`FileReplacedWarning` and the iterator goes on
            waiting on the old file.

        Returns
        -------
        iterator of numpy.ndarray
            Structured arrays of the schema's dtype, in file order.

        Raises
        ------
        TruncatedError
            The file shrank (also when ``start`` is past its end), as
            ``copytruncate`` does, also with ``rotate``.
        ClosedError
            The view was closed, also while iterating.

        Warns
        -----
        FileReplacedWarning
            The path names another file now and ``rotate`` is False.
        LayoutWarning
            With ``rotate``: the old file ended in a partial record, left out.

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "log.bin")
        >>> np.arange(3, dtype="<u4").tofile(path)
        >>> with rv.open(path, "<u4") as view:
        ...     print([b["f0"].tolist() for b in view.follow(start=1, timeout=0.05)])
        [[1, 2]]
        """
        return _follow.follow(
            _follow.Rotating(self, bool(rotate)),
            start=start,
            poll=poll,
            timeout=timeout,
            records=records,
            held=self._count,
        )

    def _replaced(self) -> bool:
        """Whether the path now names another file than the one this view has open."""
        try:
            st = os.stat(self._path)
        except OSError:
            return False  # renamed away and not created again yet: nothing to switch to
        return (st.st_dev, st.st_ino) != self._ident

    def _open_rotated(self) -> View | None:
        """The file now at the path, as a view like this one; None until it has a header."""
        size = self._file.fstat().st_size
        stray = (size - self._offset) % self._schema.itemsize if size > self._offset else 0
        try:
            new = View(
                self._path,
                self._schema,
                offset=self._offset,
                trailing="ignore",
                mode=self._mode,
                lock=self._locked,
            )
        except (FileNotFoundError, LayoutError):
            return None  # gone again, or its header is not complete yet
        if stray:
            warnings.warn(
                f"{self._path}: the rotated file ended in {stray:,} bytes of a partial "
                f"record at offset {size - stray:,}, left out",
                LayoutWarning,
                stacklevel=4,
            )
        return new

    # -- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        """Release the mapping and the file. Arrays already handed out stay valid.

        Never raises because arrays are alive: the mapping is then unmapped
        when the last array viewing it is freed. Later use of the view raises
        :class:`ClosedError`. Closing twice is harmless.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._fast = None
            self._reader.close()
        # Reads in flight in other threads keep the descriptor until they end.
        self._file.close()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as "open this path again": the copy gets a descriptor of its own.

        The copy opens the path made absolute (a worker may run elsewhere),
        has the same schema, offset, ``count``, ``trailing``, mode and
        ``lock``, and counts the records the file holds when it is unpickled
        as ``refresh()`` does (a view opened with ``count`` keeps it). If the
        path names another file by then (rotated, replaced), unpickling raises
        :class:`RecviewError` instead of reading that file. Nothing is shared:
        closing or freeing either one leaves the other open, so views can be
        sent to ``multiprocessing`` workers (also with the ``spawn`` start
        method). A closed view refuses to pickle (:class:`ClosedError`).
        """
        if self._closed:
            raise ClosedError(
                f"{self._path}: the view is closed; a closed view cannot be pickled",
                path=self._path,
            )
        return (
            _reopen,
            (
                # absolute: a worker may run in another directory
                os.path.abspath(self._path),
                self._schema,
                self._offset,
                self._fixed_count,
                self._trailing,
                self._mode,
                self._locked,
                self._ident,
            ),
        )

    def __enter__(self) -> View:  # noqa: PYI034 - View is not meant to be subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and hasattr(self, "_file"):
            with contextlib.suppress(OSError):
                self._file.close()


_mapping.set_getitem_doc(_GETITEM_DOC)


def _reopen(
    path: str,
    schema: Schema,
    offset: int,
    count: int | None,
    trailing: Trailing,
    mode: Mode,
    lock: bool,
    ident: tuple[int, int] | None = None,
) -> View:
    """Unpickle a :class:`View`: open its path again (see ``View.__reduce__``).

    The records are counted as ``refresh()`` counts them (a partial record a
    writer is still writing is left for later, whatever ``trailing`` says),
    and the file must be the one the original had open (same device and
    inode): after a rotation or a replacement the path names another file,
    whose records would be taken for the original's.
    """
    view = View(path, schema, offset=offset, count=count, trailing="ignore", mode=mode, lock=lock)
    view._trailing = trailing  # kept for the next pickle
    if ident is not None and view._ident != ident:
        view.close()
        raise RecviewError(
            f"{path}: the path names another file than the one the pickled view had "
            "open (the file was replaced or rotated since); open the path again to "
            "read the new file",
            path=path,
        )
    return view
