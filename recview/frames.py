"""Framed records: :func:`open_frames` indexes a file of variable-size frames once.

This module owns :class:`Frames`: a file whose records do not all have one
size, each a fixed header (any schema), then a payload of ``header[length] +
adjust`` bytes, then ``trailer`` bytes (pcap packets, Fortran unformatted
sequential records, length-prefixed messages). Frame ``k`` can only be found
after frame ``k - 1``, so one pass walks the file and keeps the byte offset of
every payload (8 bytes a frame); everything after that is numpy over the
mapping: :attr:`Frames.headers` is one vectorized gather, ``frames[i]`` a
zero-copy payload view, :meth:`Frames.payloads` a strided view of equal-sized
payloads.

The file under it, its mapping and its index (walk, growth, index file,
truncation) are :class:`recview._frame_file.FrameFile`, the base class; the
walk itself is :mod:`recview._frame_walk` (in C, :mod:`recview._frames`, with
the GIL released, or its Python twin) and the index file
:mod:`recview._frame_index`. A persisted index (``index=PATH``, see
:func:`open_frames` and ``docs/frames.md``) makes a reopen O(1) plus reading
the index, and is checked against its file before it is used.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from typing import Any, NoReturn

import numpy as np

from recview import _export, _follow, _frame_index, _frame_walk, _mapping
from recview._extras import require
from recview._frame_file import _MADV_DONTNEED, FrameFile, locked
from recview._frame_walk import BADLEN, BADTRAILER
from recview._vocab import NDArray, Trailing, check_int
from recview.errors import ClosedError, LayoutError, RecviewError
from recview.schema import Schema, as_schema

__all__ = ["Frames", "open_frames"]

FrameBatch = tuple[NDArray, NDArray, NDArray]

_DEFAULT_BATCH_NBYTES = 8 << 20
#: First bytes of an index file written by ``index=PATH``.
INDEX_MAGIC = _frame_index.INDEX_MAGIC


def _payload_dtype(dtype: Any) -> np.dtype[Any]:
    """A plain dtype stays itself ("<f8"); a schema-like gives its record dtype."""
    if isinstance(dtype, (str, np.dtype, type)) and not (
        isinstance(dtype, type) and not issubclass(dtype, np.generic)
    ):
        dt = np.dtype(dtype)
        if dt.names is None:
            return dt
    return as_schema(dtype).dtype


class Frames(FrameFile):
    """The frames of one file, indexed. Made by :func:`open_frames`.

    Examples
    --------
    >>> import os, struct, tempfile, recview as rv
    >>> path = os.path.join(tempfile.mkdtemp(), "msgs.bin")
    >>> with open(path, "wb") as f:
    ...     for text in (b"hi", b"hello", b""):
    ...         _ = f.write(struct.pack("<HH", 7, len(text)) + text)
    >>> with rv.open_frames(path, [("kind", "<u2"), ("n", "<u2")], length="n") as frames:
    ...     header, payload = frames[1]
    ...     print(len(frames), frames.lengths.tolist(), bytes(payload), int(header["kind"]))
    3 [2, 5, 0] b'hello' 7
    """

    # -- attributes ------------------------------------------------------------------

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._count:,} frames"
        return f"<recview Frames {self._path!r} {state}, header {self._lay.header} bytes>"

    @property
    @locked
    def offsets(self) -> NDArray:
        """Byte offset in the file of every payload (read-only int64)."""
        self._check()
        return self._cached("offsets", lambda: self._cap[: self._count].copy())

    @property
    @locked
    def lengths(self) -> NDArray:
        """Byte length of every payload (read-only int64)."""
        self._check()
        return self._cached("lengths", lambda: self._lengths(0, self._count))

    def _headers(self, offs: NDArray) -> NDArray:
        """Gather the headers before payload offsets ``offs``: one fancy index."""
        hs = self._lay.header
        if len(offs) == 0 or self._map is None:
            return np.empty(0, self._schema.dtype)
        # every byte position as the start of a header (overlapping records);
        # over _raw, which holds the mapping (a memoryview does not keep it)
        over: NDArray = np.ndarray(
            (len(self._raw) - hs + 1,),
            dtype=self._schema.dtype,
            buffer=self._raw,
            strides=(1,),
        )
        out: NDArray = over[offs - hs]
        self._check()  # the gather read the mapping: did a truncation zero it?
        return out

    @property
    @locked
    def headers(self) -> NDArray:
        """Every frame's header, as one read-only structured array (a gathered copy)."""
        self._check()
        return self._cached("headers", lambda: self._headers(self._cap[: self._count]))

    @locked
    def __getitem__(self, i: int) -> tuple[Any, NDArray]:
        """``(header record, payload)`` of frame ``i``; the payload views the mapping."""
        self._check()
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"frame indices must be integers, not {type(i).__name__}")
        n = self._count
        k = int(i) + n if i < 0 else int(i)
        if not 0 <= k < n:
            raise IndexError(f"frame {int(i)} is out of range for {n:,} frames")
        off = int(self._cap[k])
        end = int(self._cap[k + 1]) - self._lay.header if k + 1 < n else self._end
        hs = self._lay.header
        header = self._raw[off - hs : off].view(self._schema.dtype)[0]
        return header, self._raw[off : end - self._lay.trailer]

    @locked
    def payloads(self, dtype: Any) -> NDArray:
        """All payloads as one zero-copy strided array, when they all have one size.

        Parameters
        ----------
        dtype : dtype-like or schema
            The payload's type. A payload of ``L`` bytes gives one element
            per frame when ``dtype.itemsize == L``, else ``L // itemsize``
            elements (then ``L`` must be a multiple of the itemsize).

        Returns
        -------
        numpy.ndarray
            Read-only, shape ``(len(frames),)`` or ``(len(frames), L // itemsize)``,
            viewing the mapping (no copy).

        Raises
        ------
        LayoutError
            Payloads of different sizes (naming the first frame that differs)
            or a size that is not a multiple of the itemsize.

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "eq.unf")
        >>> rec = np.dtype([("m", "<i4"), ("xy", "<f8", 2), ("t", "<i4")])
        >>> np.array([(16, (k, k / 2), 16) for k in range(3)], rec).tofile(path)
        >>> with rv.open_frames(path, **rv.formats.fortran()) as frames:
        ...     print(frames.payloads("<f8")[:, 1].tolist())
        [0.0, 0.5, 1.0]
        """
        self._check()
        dt = _payload_dtype(dtype)
        n = self._count
        lengths = self.lengths
        if n == 0:
            return np.empty(0, dt)
        size = int(lengths[0])
        differ = np.flatnonzero(lengths != size)
        if len(differ):
            k = int(differ[0])
            raise LayoutError(
                f"{self._path}: payloads differ in size: frame 0 has {size:,} bytes, frame "
                f"{k:,} at byte offset {self._frame_start(k):,} has {int(lengths[k]):,} "
                "(use frames[i] or batches() for frames of different sizes)",
                path=self._path,
                offset=self._frame_start(k),
            )
        if size == 0 or size % dt.itemsize:
            raise LayoutError(
                f"{self._path}: payloads of {size:,} bytes are not a whole number of "
                f"{dt.itemsize:,}-byte {dt} items",
                path=self._path,
                offset=int(self._cap[0]),
            )
        stride = size + self._lay.header + self._lay.trailer
        shape: tuple[int, ...] = (n,) if size == dt.itemsize else (n, size // dt.itemsize)
        strides: tuple[int, ...] = (stride,) if len(shape) == 1 else (stride, dt.itemsize)
        # over _raw: it holds the mapping (np.ndarray(buffer=memoryview) does
        # not, and the array read an unmapped mapping after close())
        out: NDArray = np.ndarray(
            shape, dtype=dt, buffer=self._raw, offset=int(self._cap[0]), strides=strides
        )
        return out

    # -- batches -------------------------------------------------------------------

    def _step_end(self, a: int, n: int, records: int | None, nbytes: int) -> int:
        if records is not None:
            return min(n, a + records)
        lim = int(self._cap[a]) + nbytes
        b = int(np.searchsorted(self._cap[a:n], lim, side="left")) + a
        return min(n, max(b, a + 1))

    @locked
    def batches(
        self, records: int | None = None, *, nbytes: int | None = None, start: int = 0
    ) -> Iterator[FrameBatch]:
        """Iterate over ``(headers, offsets, lengths)`` for consecutive runs of frames.

        The file pages a batch touched are dropped (``madvise``) when the
        next batch is asked for, so memory stays about one batch whatever the
        file size.

        Parameters
        ----------
        records : int, optional
            Frames per batch.
        nbytes : int, optional
            Bytes of file per batch (at least one frame); default 8 MiB.
        start : int
            First frame.

        Examples
        --------
        >>> import os, struct, tempfile, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "m.bin")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(b"".join(struct.pack("<I", k) + bytes(k) for k in range(5)))
        >>> with rv.open_frames(path, "<u4", length="f0") as frames:
        ...     print([b[2].tolist() for b in frames.batches(2)], len(list(frames.batches(start=3))))
        [[0, 1], [2, 3], [4]] 1
        """
        self._check()
        if records is not None and nbytes is not None:
            raise ValueError("give records or nbytes, not both")
        if records is not None:
            records = check_int(records, "records", minimum=1)
        if nbytes is not None:
            nbytes = check_int(nbytes, "nbytes", minimum=1)
        start = check_int(start, "start")
        if start > self._count:
            raise IndexError(f"start={start} is past the last of {self._count:,} frames")
        return self._batches(start, records, _DEFAULT_BATCH_NBYTES if nbytes is None else nbytes)

    @locked
    def _batch(self, a: int, b: int) -> FrameBatch:
        offs = self._cap[a:b].copy()
        lens = self._lengths(a, b)
        heads = self._headers(offs)
        for arr in (offs, lens, heads):
            arr.flags.writeable = False
        return heads, offs, lens

    def _batches(self, a: int, records: int | None, nbytes: int) -> Iterator[FrameBatch]:
        n = len(self)
        while a < n:
            with self._lock:
                self._check()
                b = self._step_end(a, n, records, nbytes)
                lo = self._frame_start(a)
                end = self._frame_start(b)
                batch = self._batch(a, b)
            yield batch
            with self._lock:
                # the current mapping, under the lock: close() or a remap in
                # another thread must not unmap it while madvise runs
                if self._map is not None and not self._closed:
                    lo -= lo % mmap.PAGESIZE
                    self._map.advise(lo, end - lo, _MADV_DONTNEED)
            a = b

    # -- growing files --------------------------------------------------------------

    @locked
    def refresh(self) -> int:
        """Index the complete frames a writer appended since; return ``len(frames)``.

        A partial frame at the end is held back until it is complete. Costs
        one ``fstat`` when nothing changed.

        Raises
        ------
        TruncatedError
            The file shrank below the frames indexed (or lost pages under the
            mapping); the object keeps raising it until reopened.
        LayoutError
            A new frame has an impossible length or a bad trailer.

        Examples
        --------
        >>> import os, struct, tempfile, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "live.bin")
        >>> open(path, "wb").close()
        >>> frames = rv.open_frames(path, "<u2", length="f0")
        >>> with open(path, "ab") as f:
        ...     _ = f.write(struct.pack("<H", 3) + b"abc" + struct.pack("<H", 9) + b"par")
        >>> frames.refresh()
        1
        >>> frames.close()
        """
        _mapping.ensure_guard()
        self._check()
        size = os.fstat(self._fd).st_size
        if size < self._end:
            self._mark_truncated(self._end, size)
        if size > self._end:
            status, value = self._scan(size)
            if status in (BADLEN, BADTRAILER):
                self._settle(status, value, size, "ignore")
        return self._count

    def follow(
        self,
        *,
        start: int | None = None,
        poll: float = 0.1,
        timeout: float | None = None,
        records: int | None = None,
    ) -> Iterator[FrameBatch]:
        """Iterate over ``(headers, offsets, lengths)`` batches as a writer appends.

        The same rules as :meth:`View.follow`: each complete frame is
        delivered exactly once, in order, and a frame split across writes is
        held back until it is whole. ``start=None`` begins at ``len(frames)``
        as the caller last saw it (frames appended since are delivered too);
        ``start=n`` begins at frame ``n``.

        Parameters
        ----------
        start : int, optional
            First frame to deliver.
        poll : float
            Seconds between size checks while there is nothing new.
        timeout : float, optional
            End after this many seconds without a new frame (default: never).
        records : int, optional
            Largest batch, in frames (default: 8 MiB of file).

        Examples
        --------
        >>> import os, struct, tempfile, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "cap.bin")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(b"".join(struct.pack("<I", k) + bytes(k) for k in (1, 2, 3)))
        >>> with rv.open_frames(path, "<u4", length="f0") as frames:
        ...     print([b[2].tolist() for b in frames.follow(start=1, timeout=0.05)])
        [[2, 3]]
        """
        return _follow.follow(
            _Growing(self),
            start=start,
            poll=poll,
            timeout=timeout,
            records=records,
            held=self._count,  # where the caller last looked, as View.follow
        )

    # -- interop ----------------------------------------------------------------------

    @locked
    def payload_bytes(
        self, a: int = 0, b: int | None = None
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Payloads of frames ``a..b`` concatenated: ``(data, offsets)`` as Arrow wants them.

        ``data`` is one contiguous ``uint8`` copy (the payloads are not
        contiguous in the file: headers sit between them), ``offsets`` the
        ``len + 1`` int64 positions of each payload in it.

        Examples
        --------
        >>> import os, struct, tempfile, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "m.bin")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(b"".join(struct.pack("<B", len(t)) + t for t in (b"ab", b"", b"c")))
        >>> with rv.open_frames(path, "u1", length="f0") as frames:
        ...     data, offs = frames.payload_bytes()
        >>> data.tobytes(), offs.tolist()
        (b'abc', [0, 2, 2, 3])
        """
        self._check()
        n = self._count
        b = n if b is None else b
        if not 0 <= a <= b <= n:
            raise IndexError(f"frames {a}..{b} are out of range for {n:,} frames")
        offs = np.ascontiguousarray(self._cap[a:b])
        lens = self._lengths(a, b)
        starts = np.zeros(b - a + 1, np.int64)
        np.cumsum(lens, out=starts[1:])
        data = np.empty(int(starts[-1]), np.uint8)
        if b > a and self._map is not None:
            if self._native and _frame_walk.NATIVE is not None:
                _frame_walk.NATIVE.gather(self._map.buffer, offs, lens, data)
            else:
                _frame_walk.gather_py(self._map.buffer, offs, lens, data)
        self._check()
        return data, starts

    def to_arrow_batches(
        self, records: int | None = None, *, nbytes: int | None = None
    ) -> Iterator[Any]:
        """``pyarrow.RecordBatch`` es of header columns plus a ``payload`` column.

        The header columns are those of :func:`recview.interop.to_arrow`
        (``schema.fields()`` leaves); ``payload`` is ``large_binary``, a copy
        (see :meth:`payload_bytes`). Memory stays about one batch.

        Examples
        --------
        >>> import os, struct, tempfile, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "m.bin")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(b"".join(struct.pack("<H", len(t)) + t for t in (b"ab", b"c")))
        >>> with rv.open_frames(path, [("n", "<u2")], length="n") as frames:
        ...     batch = next(frames.to_arrow_batches())
        >>> batch.to_pydict()
        {'n': [2, 1], 'payload': [b'ab', b'c']}
        """
        pa = require("pyarrow", extra="arrow", purpose="recview.Frames.to_arrow")
        self._check()
        n = self._count
        nb = _DEFAULT_BATCH_NBYTES if nbytes is None and records is None else nbytes
        a = 0
        while a < n:
            b = self._step_end(a, n, records, nb or 0)
            heads, _, _ = self._batch(a, b)
            table = _export.to_arrow(heads, schema=self._schema)
            data, starts = self.payload_bytes(a, b)
            payload = pa.Array.from_buffers(
                pa.large_binary(), b - a, [None, pa.py_buffer(starts), pa.py_buffer(data)]
            )
            yield pa.RecordBatch.from_arrays(
                [*table.columns_as_arrays(), payload]
                if hasattr(table, "columns_as_arrays")
                else [c.combine_chunks() for c in table.columns] + [payload],
                names=[*table.column_names, "payload"],
            )
            a = b

    def to_arrow(self) -> Any:
        """All frames as a ``pyarrow.Table``: header columns and a ``payload`` column.

        See :meth:`to_arrow_batches` (this is all of them in one table).

        Examples
        --------
        >>> import os, struct, tempfile, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "m.bin")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(b"".join(struct.pack("<H", len(t)) + t for t in (b"ab", b"c")))
        >>> with rv.open_frames(path, [("n", "<u2")], length="n") as frames:
        ...     frames.to_arrow().column("payload").to_pylist()
        [b'ab', b'c']
        """
        pa = require("pyarrow", extra="arrow", purpose="recview.Frames.to_arrow")
        batches = list(self.to_arrow_batches())
        if not batches:
            table = _export.to_arrow(np.empty(0, self._schema.dtype), schema=self._schema)
            return table.append_column("payload", pa.array([], pa.large_binary()))
        return pa.Table.from_batches(batches)

    # -- lifetime ----------------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as "open this path again": the copy indexes the file with a
        descriptor of its own (reusing ``index`` when given), so it can go to
        another process, and freeing it never closes this object's file.

        As with :class:`View`: the path (and ``index``) are made absolute (a
        worker may run elsewhere); if the path names another file when the
        copy is unpickled (rotated, replaced), that raises :class:`RecviewError`
        instead of indexing it; closed frames refuse to pickle (:class:`ClosedError`).
        """
        if self._closed:
            raise ClosedError(
                f"{self._path}: the frames are closed; closed frames cannot be pickled",
                path=self._path,
            )
        lay = self._lay
        options = {
            "length": lay.field,
            "offset": self._offset,
            "adjust": lay.adjust,
            "trailer": lay.trailer,
            "index": None if self._index_path is None else os.path.abspath(self._index_path),
            "trailing": self._trailing,
            "max_length": self._max_length,
            "native": self._native,
        }
        return (_reopen, (os.path.abspath(self._path), self._schema, options, self._ident))

    def __enter__(self) -> Frames:  # noqa: PYI034 - Frames is not meant to be subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reopen(
    path: str, header: Schema, options: dict[str, Any], ident: tuple[int, int] | None = None
) -> Frames:
    """Unpickle a :class:`Frames`: open its path again, with its options.

    The file must be the one the original had open (same device and inode):
    after a rotation or a replacement the path names another file, whose
    frames would be taken for the original's. It is checked before the open
    too, so that another file is neither indexed nor its index saved.
    """
    if ident is not None:
        st = os.stat(path)
        if (st.st_dev, st.st_ino) != ident:
            _another_file(path)
    frames = Frames(path, header, **options)
    if ident is not None and frames._ident != ident:
        frames.close()
        _another_file(path)
    return frames


def _another_file(path: str) -> NoReturn:
    raise RecviewError(
        f"{path}: the path names another file than the one the pickled frames had "
        "open (the file was replaced or rotated since); open the path again to "
        "read the new file",
        path=path,
    )


def open_frames(
    path: str | os.PathLike[str],
    header: Any,
    *,
    length: str,
    offset: int = 0,
    adjust: int = 0,
    trailer: int = 0,
    index: str | os.PathLike[str] | None = None,
    trailing: Trailing = "error",
    max_length: int | None = None,
) -> Frames:
    """Index a file of variable-size frames; payloads become zero-copy views.

    Each frame is ``header`` (a fixed-size record), then a payload of
    ``header[length] + adjust`` bytes, then ``trailer`` bytes. The file is
    walked once (in C when the extension is built), keeping 8 bytes a frame.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    header : schema-like
        Anything :func:`recview.as_schema` accepts (dtype, Record class,
        construct struct, Schema).
    length : str
        Dotted name of the header's integer field holding the payload length.
    offset : int
        Bytes before the first frame (a file header: 24 for pcap).
    adjust : int
        Added to the length field to get the payload's byte length (negative
        when the field counts the header too).
    trailer : int
        Bytes after each payload. When it equals the length field's size it
        is an end marker (Fortran) and must repeat the length field's bytes.
    index : str or os.PathLike, optional
        A file keeping the index between opens: reused when it matches the
        data (size, mtime, hashes of the first and last frames, these
        parameters), extended when the file grew, rebuilt with a
        :class:`LayoutWarning` when it does not match. Written atomically.
    trailing : {"error", "ignore", "warn"}
        What a partial last frame gets, as in :func:`recview.open`.
    max_length : int, optional
        The longest payload the format allows (the pcap preset gives the
        capture's bound). A longer one is an impossible length, a
        :class:`LayoutError`, wherever it is and whatever ``trailing`` says:
        a corrupt length field is never taken for a frame still being written.

    Returns
    -------
    Frames

    Raises
    ------
    LayoutError
        A frame with an impossible length (negative after ``adjust``, or
        over ``max_length``), a
        trailer unlike its header's marker, or (``trailing="error"``) a last
        frame running past the end of the file. The message names the frame
        number and its byte offset.
    SchemaError
        ``length`` is not an integer field of the header.

    Examples
    --------
    >>> import os, struct, tempfile, recview as rv
    >>> path = os.path.join(tempfile.mkdtemp(), "tlv.bin")
    >>> with open(path, "wb") as f:   # the length counts the 3-byte header
    ...     for t, v in ((1, b"abc"), (2, b"de")):
    ...         _ = f.write(struct.pack(">BH", t, 3 + len(v)) + v)
    >>> frames = rv.open_frames(path, [("t", "u1"), ("n", ">u2")], length="n", adjust=-3)
    >>> frames.headers["t"].tolist(), [bytes(frames[i][1]) for i in range(len(frames))]
    ([1, 2], [b'abc', b'de'])
    >>> frames.close()
    """
    return Frames(
        path,
        header,
        length=length,
        offset=offset,
        adjust=adjust,
        trailer=trailer,
        index=index,
        trailing=trailing,
        max_length=max_length,
    )


class _Growing(_follow.Source[FrameBatch]):
    """What :meth:`Frames.follow` polls: the frames :meth:`Frames.refresh` indexed."""

    unit = "frame"

    def __init__(self, frames: Frames) -> None:
        super().__init__(frames)
        self._frames = frames

    def read(self, a: int, n: int, records: int | None) -> tuple[FrameBatch, int]:
        frames = self._frames
        frames._check()
        b = frames._step_end(a, n, records, _DEFAULT_BATCH_NBYTES)
        return frames._batch(a, b), b

    def resume_offset(self, n: int) -> int:
        return self._frames._end
