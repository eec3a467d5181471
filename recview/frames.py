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

The pass runs in C (:mod:`recview._frames`, with the GIL released) when the
extension is built and in a plain Python loop with the same results when it
is not. It walks a guarded mapping of the file (:mod:`recview._mapping`) in
windows and drops each window it has read (``madvise(MADV_DONTNEED)``), so
its memory is the index, not the file. A persisted index (``index=PATH``, see
:func:`open_frames` and ``docs/frames.md``) makes a reopen O(1) plus reading
the index, and is checked against its file before it is used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import stat
import struct
import tempfile
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, NoReturn

import numpy as np

from recview import _export, _follow, _mapping
from recview._extras import require
from recview.errors import ClosedError, LayoutError, LayoutWarning, SchemaError, TruncatedError
from recview.schema import Schema, as_schema

_native: ModuleType | None
try:
    from recview import _frames as _native
except ImportError:  # not built (no compiler): the Python twin below does the pass
    _native = None

__all__ = ["Frames", "open_frames"]

Trailing = Literal["error", "ignore", "warn"]
FrameBatch = tuple["np.ndarray[Any, Any]", "np.ndarray[Any, Any]", "np.ndarray[Any, Any]"]

# Status codes of one index call (the same in _frames.c).
_LIMIT, _FULL, _PARTIAL, _BADLEN, _BADTRAILER = range(5)
# The pass maps the whole file but reads it a window at a time and drops each
# window once read: RSS stays about one window whatever the file size.
_WINDOW_NBYTES = 16 << 20
_DEFAULT_BATCH_NBYTES = 8 << 20
_INT64_MAX = (1 << 63) - 1
_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", 0)
_MADV_SEQUENTIAL = getattr(mmap, "MADV_SEQUENTIAL", 0)

#: First bytes of an index file written by ``index=PATH``.
INDEX_MAGIC = b"RVFIDX01"
_INDEX_PREFIX = struct.Struct("<8sQ")  # magic, bytes of JSON metadata that follow
_INDEX_HASH = "blake2b-16"
_INDEX_VERSION = 2  # 2: "offsets_hash" of the offsets array


@dataclass(frozen=True)
class _Layout:
    """Where the length is in a header and what surrounds a payload."""

    header: int  # header bytes
    field: str  # dotted name of the length field (for messages)
    len_offset: int
    len_size: int
    len_signed: bool
    len_big: bool
    adjust: int
    trailer: int
    check_trailer: bool  # the trailer is an end marker equal to the length field

    def native_args(self) -> tuple[int, int, int, int, int, int, int, int]:
        return (
            self.header,
            self.len_offset,
            self.len_size,
            int(self.len_signed),
            int(self.len_big),
            self.adjust,
            self.trailer,
            int(self.check_trailer),
        )


def _layout(schema: Schema, length: str, adjust: int, trailer: int) -> _Layout:
    leaves = {f.path: f for f in schema.fields()}
    leaf = leaves.get(length)
    if leaf is None:
        raise SchemaError(
            f"length field {length!r} is not a field of the header (fields: {', '.join(leaves)})",
            field=length,
        )
    kind = leaf.dtype.kind
    size = leaf.dtype.itemsize
    bitfield = getattr(leaf, "bits", None) is not None or getattr(leaf, "bit_offset", None)
    if kind not in "iu" or leaf.shape != () or size not in (1, 2, 4, 8) or bitfield:
        raise SchemaError(
            f"length field {length!r} must be a byte-aligned scalar integer of 1, 2, 4 or 8 "
            f"bytes, not {leaf.dtype.str} with shape {leaf.shape}",
            field=length,
        )
    adjust = _int(adjust, "adjust", None)
    trailer = _int(trailer, "trailer", 0)
    order = leaf.dtype.byteorder
    big = order == ">" or (order == "=" and np.little_endian is False)
    return _Layout(
        header=schema.itemsize,
        field=length,
        len_offset=leaf.offset,
        len_size=size,
        len_signed=kind == "i",
        len_big=big,
        adjust=adjust,
        trailer=trailer,
        check_trailer=trailer == size,
    )


def _int(value: object, name: str, minimum: int | None) -> int:
    """``value`` as an int, refusing bools, floats and values below ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _index_py(
    buf: memoryview,
    pos: int,
    limit: int,
    end: int,
    out: np.ndarray[Any, Any],
    start: int,
    lay: _Layout,
) -> tuple[int, int, int, int]:
    """The Python twin of ``_frames.index``: same arguments, same results.

    A loop with ``struct.unpack_from``: frame k's position depends on frame
    k - 1, so there is nothing to vectorize.
    """
    code = {1: "b", 2: "h", 4: "i", 8: "q"}[lay.len_size]
    order = ">" if lay.len_big else "<"
    fmt = struct.Struct(order + (code if lay.len_signed else code.upper()))
    ufmt = struct.Struct(order + code.upper())
    unpack = fmt.unpack_from
    hs, ts, adjust, lo, ls = lay.header, lay.trailer, lay.adjust, lay.len_offset, lay.len_size
    cap = len(out) - start
    count = 0
    p = pos
    status, value = _LIMIT, 0
    dst: list[int] = []
    while p < limit:
        if count == cap:
            status = _FULL
            break
        if end - p < hs:
            status = _PARTIAL
            break
        (raw,) = unpack(buf, p + lo)
        n = raw + adjust
        if raw > _INT64_MAX or n < 0 or n > _INT64_MAX:
            status, value = _BADLEN, (-1 if raw > _INT64_MAX else raw)
            break
        payload = p + hs
        if payload + n + ts > end:
            status, value = _PARTIAL, raw
            break
        if lay.check_trailer and buf[payload + n : payload + n + ls] != buf[p + lo : p + lo + ls]:
            status, value = _BADTRAILER, ufmt.unpack_from(buf, payload + n)[0]
            break
        dst.append(payload)
        count += 1
        p = payload + n + ts
    out[start : start + count] = dst
    return status, count, p, value


def _index(
    buf: memoryview,
    pos: int,
    limit: int,
    end: int,
    out: np.ndarray[Any, Any],
    start: int,
    lay: _Layout,
    *,
    native: bool = True,
) -> tuple[int, int, int, int]:
    if native and _native is not None:
        result: tuple[int, int, int, int] = _native.index(
            buf, pos, limit, end, out, start, *lay.native_args()
        )
        return result
    return _index_py(buf, pos, limit, end, out, start, lay)


def _gather_py(
    buf: memoryview, offsets: np.ndarray[Any, Any], lengths: np.ndarray[Any, Any], out: Any
) -> int:
    view = memoryview(out).cast("B")
    at = 0
    for o, n in zip(offsets.tolist(), lengths.tolist(), strict=True):
        view[at : at + n] = buf[o : o + n]
        at += n
    return at


def _payload_dtype(dtype: Any) -> np.dtype[Any]:
    """A plain dtype stays itself ("<f8"); a schema-like gives its record dtype."""
    if isinstance(dtype, (str, np.dtype, type)) and not (
        isinstance(dtype, type) and not issubclass(dtype, np.generic)
    ):
        dt = np.dtype(dtype)
        if dt.names is None:
            return dt
    return as_schema(dtype).dtype


def _hash(data: memoryview) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Frames:
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

    def __init__(
        self,
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
        native: bool = True,
    ) -> None:
        if trailing not in ("error", "ignore", "warn"):
            raise ValueError(f"trailing must be 'error', 'ignore' or 'warn', got {trailing!r}")
        offset = _int(offset, "offset", 0)
        self._max_length = None if max_length is None else _int(max_length, "max_length", 0)
        self._trailing: Trailing = trailing
        self._path = os.fspath(path)
        self._schema = as_schema(header)
        self._lay = _layout(self._schema, length, adjust, trailer)
        self._offset = offset
        self._native = native
        self._index_path = None if index is None else os.fspath(index)
        self._closed = False
        self._truncated: TruncatedError | None = None
        self._map: _mapping.Mapping | None = None
        self._old_maps: list[tuple[weakref.ref[Any], _mapping.Mapping]] = []
        self._lost_pages = False
        self._faults_seen = _mapping.fault_count()
        self._raw = np.empty(0, np.uint8)
        self._cap = np.empty(1024, np.int64)
        self._count = 0
        self._end = offset  # byte after the last complete frame indexed
        self._saved_count = -1  # frames in the index file as last written
        self._cache: dict[str, tuple[int, np.ndarray[Any, Any]]] = {}
        fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(21, "Is a directory", self._path)  # noqa: TRY301
            self._fd = fd
            _mapping.ensure_guard()
            if st.st_size < offset:
                raise LayoutError(  # noqa: TRY301
                    f"{self._path}: file of {st.st_size:,} bytes is shorter than the "
                    f"{offset:,}-byte file header",
                    path=self._path,
                    offset=st.st_size,
                )
            if self._index_path is not None:
                self._load_index(st)
            status, value = self._scan(st.st_size)
            self._settle(status, value, st.st_size, trailing)
            if self._index_path is not None and self._saved_count != self._count:
                self._save_index()
        except BaseException:
            self._closed = True  # so that __del__ does not close a reused fd number
            self._drop_maps()
            os.close(fd)
            raise

    # -- the index pass ------------------------------------------------------------

    def _remap(self, size: int) -> None:
        """Map bytes ``0..size`` of the file; old arrays keep the old mapping."""
        if self._map is not None and self._map.nbytes >= size:
            return
        if size == 0:
            return
        try:
            new = _mapping.Mapping(self._fd, 0, size, path=self._path)
        except ValueError:
            self._mark_truncated(size, os.fstat(self._fd).st_size)
        old, self._map = self._map, new
        old_raw = self._raw
        self._raw = np.frombuffer(new.buffer, np.uint8)
        self._cache.clear()
        if old is not None:
            self._old_maps = [(r, m) for r, m in self._old_maps if self._alive(r, m)]
            if old_raw.base is not None:
                self._old_maps.append((weakref.ref(old_raw.base), old))
            old.close()

    def _scan(self, size: int) -> tuple[int, int]:
        """Index the frames from ``self._end`` up to ``size``; return (status, value)."""
        if size <= self._end:
            return (_LIMIT if size == self._end else _PARTIAL), 0
        self._remap(size)
        assert self._map is not None
        buf = self._map.buffer
        m = self._map
        first = self._count  # the first frame this pass indexes
        window = self._end - self._end % mmap.PAGESIZE
        m.advise(window, size - window, _MADV_SEQUENTIAL)
        pos = self._end
        while True:
            limit = min(size, max(pos, window) + _WINDOW_NBYTES)
            status, count, pos, value = _index(
                buf, pos, limit, size, self._cap, self._count, self._lay, native=self._native
            )
            self._count += count
            if status == _FULL:
                grown = np.empty(max(2 * len(self._cap), 1024), np.int64)
                grown[: self._count] = self._cap[: self._count]
                self._cap = grown
                continue
            if status == _LIMIT and pos < size:
                # this window is read: drop its pages (they stay in the page cache)
                done = pos - pos % mmap.PAGESIZE
                if done > window:
                    m.advise(window, done - window, _MADV_DONTNEED)
                    window = done
                continue
            break
        # pos: after the last complete frame (or at the frame that stopped the pass)
        self._end = pos
        if self._max_length is not None:
            status, value = self._bound(first, status, value, size)
        m.advise(window, max(0, self._end - window), _MADV_DONTNEED)
        # Zero pages from a truncation during the pass would be indexed as
        # frames: check the guard and the size before trusting them.
        self._check()
        now = os.fstat(self._fd).st_size
        if now < self._end:
            self._mark_truncated(self._end, now)
        self._cache.clear()
        return status, value

    def _bound(self, first: int, status: int, value: int, size: int) -> tuple[int, int]:
        """Frames ``first..`` of this pass longer than ``max_length`` are
        impossible lengths: the index stops before the first of them. So is
        a frame that stopped the pass as "partial" because its length is over
        the bound (a corrupt length, not a frame still being written)."""
        assert self._max_length is not None
        hs, ts = self._lay.header, self._lay.trailer
        offs = self._cap[first : self._count]
        if len(offs):
            ends = np.append(self._cap[first + 1 : self._count] - hs, self._end)
            over = np.flatnonzero(ends - offs - ts > self._max_length)
            if len(over):
                k = first + int(over[0])
                self._end = int(self._cap[k]) - hs
                self._count = k
                return _BADLEN, self._raw_length(self._end) - self._lay.adjust
        if status == _PARTIAL and size - self._end >= hs:
            n = self._raw_length(self._end)
            if n > self._max_length:
                return _BADLEN, n - self._lay.adjust
        return status, value

    def _frame_start(self, k: int) -> int:
        """Byte offset of frame ``k``'s header (``k == len``: the end of the last frame)."""
        return int(self._cap[k]) - self._lay.header if k < self._count else self._end

    def _settle(self, status: int, value: int, size: int, trailing: Trailing) -> None:
        """Raise or warn for what stopped the pass (the frame at ``self._end``)."""
        if status == _LIMIT:
            return
        k, at, lay = self._count, self._end, self._lay
        where = f"{self._path}: frame {k:,} at byte offset {at:,}"
        if status == _BADLEN:
            shown = "a value that does not fit in int64" if value == -1 else f"{value:,}"
            bound = (
                f"between 0 and {self._max_length:,} (max_length)"
                if self._max_length is not None
                else ">= 0"
            )
            raise LayoutError(
                f"{where}: impossible length: header field {lay.field!r} is {shown}"
                f"{f' and adjust is {lay.adjust:+,}' if lay.adjust else ''}, "
                f"expected a payload length {bound} (is the header schema or byte order right?)",
                path=self._path,
                offset=at,
                field=lay.field,
            )
        if status == _BADTRAILER:
            n = self._raw_length(at)
            trailer_at = at + lay.header + n
            marker = self._read_uint(at + lay.len_offset)
            raise LayoutError(
                f"{where}: trailer at byte offset {trailer_at:,} is {value:,}, expected the "
                f"header's marker {marker:,} (field {lay.field!r}, payload of {n:,} bytes)",
                path=self._path,
                offset=trailer_at,
                field=lay.field,
            )
        if trailing == "ignore":
            return
        left = size - at
        if left < lay.header:
            what = f"{left:,} bytes of a {lay.header:,}-byte header"
        else:
            need = lay.header + self._raw_length(at) + lay.trailer
            what = (
                f"header field {lay.field!r} is {value:,}: the frame needs {need:,} bytes "
                f"but only {left:,} are left (it runs past the end of the file, "
                f"{size:,} bytes, by {need - left:,})"
            )
        msg = f"{where}: partial last frame: {what}"
        if trailing == "error":
            raise LayoutError(
                msg + ' (pass trailing="ignore" or "warn")',
                path=self._path,
                offset=at,
                field=lay.field,
            )
        warnings.warn(msg + " (left out)", LayoutWarning, stacklevel=4)

    def _read_uint(self, at: int) -> int:
        lay = self._lay
        return int.from_bytes(
            self._raw[at : at + lay.len_size].tobytes(), "big" if lay.len_big else "little"
        )

    def _raw_length(self, at: int) -> int:
        """Payload length the header at ``at`` declares (after adjust)."""
        lay = self._lay
        raw = int.from_bytes(
            self._raw[at + lay.len_offset : at + lay.len_offset + lay.len_size].tobytes(),
            "big" if lay.len_big else "little",
            signed=lay.len_signed,
        )
        return raw + lay.adjust

    # -- the index file ----------------------------------------------------------------

    def _params(self) -> dict[str, Any]:
        lay = self._lay
        return {
            "header": self._schema.to_json(),
            "length": lay.field,
            "adjust": lay.adjust,
            "trailer": lay.trailer,
            "offset": self._offset,
        }

    def _hashes(self) -> tuple[str, str]:
        """Hashes of bytes ``0..end of frame 0`` and of the last frame's bytes."""
        assert self._map is not None or self._end == 0
        raw = self._map.buffer if self._map is not None else memoryview(b"")
        if self._count == 0:
            whole = _hash(raw[: self._end])
            return whole, whole
        first_end = self._cap[1] - self._lay.header if self._count > 1 else self._end
        return _hash(raw[: int(first_end)]), _hash(
            raw[self._frame_start(self._count - 1) : self._end]
        )

    def _save_index(self) -> None:
        """Write the index beside the data, atomically (temp file + os.replace)."""
        assert self._index_path is not None
        st = os.fstat(self._fd)
        first, last = self._hashes()
        meta = {
            "format": "recview frames index",
            "version": _INDEX_VERSION,
            **self._params(),
            "data_nbytes": st.st_size,
            "data_mtime_ns": st.st_mtime_ns,
            "count": self._count,
            "end": self._end,
            "hash": _INDEX_HASH,
            "first_hash": first,
            "last_hash": last,
            "offsets_hash": _hash(memoryview(self._offsets_bytes())),
        }
        text = json.dumps(meta, sort_keys=True).encode()
        text += b" " * (-(len(text) + _INDEX_PREFIX.size) % 8)  # the array starts 8-aligned
        folder = os.path.dirname(os.path.abspath(self._index_path))
        fd, tmp = tempfile.mkstemp(prefix=".rvfidx-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_INDEX_PREFIX.pack(INDEX_MAGIC, len(text)))
                f.write(text)
                f.write(self._offsets_bytes())
            os.replace(tmp, self._index_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._saved_count = self._count

    def _offsets_bytes(self) -> bytes:
        return self._cap[: self._count].astype("<i8", copy=False).tobytes()

    def _load_index(self, st: os.stat_result) -> None:
        """Use the index file if it matches the data; else warn and leave it to the scan."""
        assert self._index_path is not None
        try:
            reason = self._try_index(st)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            reason = f"it cannot be read ({type(exc).__name__}: {exc})"
        if reason is None:
            return
        self._count, self._end = 0, self._offset
        self._cache.clear()
        if reason != "missing":
            warnings.warn(
                f"{self._index_path}: frame index does not match {self._path}: {reason}; "
                "rebuilding it",
                LayoutWarning,
                stacklevel=4,
            )

    def _try_index(self, st: os.stat_result) -> str | None:
        assert self._index_path is not None
        try:
            f = open(self._index_path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return "missing"
        with f:
            head = f.read(_INDEX_PREFIX.size)
            if len(head) < _INDEX_PREFIX.size:
                return "it is too short to be an index"
            magic, nmeta = _INDEX_PREFIX.unpack(head)
            if magic != INDEX_MAGIC:
                return f"it does not start with {INDEX_MAGIC!r}"
            if nmeta > 1 << 24:
                return "its metadata length is implausible"
            meta = json.loads(f.read(nmeta))
            if meta.get("version") != _INDEX_VERSION:
                return f"unknown index version {meta.get('version')!r}"
            mine = self._params()
            for key, value in mine.items():
                if meta.get(key) != value:
                    return f"it was built with {key}={meta.get(key)!r}, not {value!r}"
            count, end = int(meta["count"]), int(meta["end"])
            data = f.read()
        if count < 0 or len(data) != 8 * count:
            return f"it holds {len(data):,} bytes of offsets, expected {8 * count:,}"
        if _hash(memoryview(data)) != meta.get("offsets_hash"):
            return "its offsets are not the ones it was written with (hash differs)"
        if st.st_size < meta["data_nbytes"]:
            return f"the file shrank from {meta['data_nbytes']:,} to {st.st_size:,} bytes"
        if st.st_size == meta["data_nbytes"] and st.st_mtime_ns != meta["data_mtime_ns"]:
            return "the file was modified (same size, new mtime)"
        offsets = np.frombuffer(data, "<i8").astype(np.int64)
        hs, ts = self._lay.header, self._lay.trailer
        if count and (
            offsets[0] != self._offset + hs
            or (count > 1 and int(np.diff(offsets).min()) < hs + ts)
            or offsets[-1] + ts > end
        ):
            return "its offsets are not those of a frame walk"
        if end > st.st_size or (count == 0 and end != self._offset):
            return f"it ends at byte {end:,}, past the file's {st.st_size:,} bytes"
        self._cap = np.empty(max(1024, count + count // 4), np.int64)
        self._cap[:count] = offsets
        self._count, self._end = count, end
        if end > 0:
            self._remap(end)
        if (
            count
            and self._cap[count - 1] + self._raw_length(self._frame_start(count - 1)) + ts != end
        ):
            return "its last frame does not end where the index says"
        if self._hashes() != (meta["first_hash"], meta["last_hash"]):
            return "the first or last frame's bytes changed"
        # a sample of the chain: each sampled frame's length leads to the next
        for k in np.unique(np.linspace(0, count - 1, min(count, 64)).astype(np.int64))[:-1]:
            k = int(k)
            if self._cap[k] + self._raw_length(self._frame_start(k)) + ts + hs != self._cap[k + 1]:
                return f"frame {k:,}'s length does not lead to frame {k + 1:,}"
        self._saved_count = count if st.st_size == meta["data_nbytes"] else -1
        return None

    # -- guards ----------------------------------------------------------------------

    def _alive(self, ref: weakref.ref[Any], m: _mapping.Mapping) -> bool:
        if ref() is not None:
            return True
        if m.faulted():
            self._lost_pages = True
        return False

    def _mark_truncated(self, old: int, new: int) -> NoReturn:
        if self._truncated is None:
            what = (
                f"file shrank from {old:,} to {new:,} bytes"
                if new < old
                else f"file lost pages under the mapping (they read as zeros; it is {new:,} bytes)"
            )
            self._truncated = TruncatedError(
                f"{self._path}: {what} while {self._count:,} frames ({self._end:,} bytes) "
                "were indexed (reopen it to read what is left)",
                path=self._path,
                offset=min(old, new),
                old_nbytes=old,
                new_nbytes=new,
            )
        raise self._truncated

    def _check(self) -> None:
        if self._closed:
            raise ClosedError(f"{self._path}: the frames are closed", path=self._path)
        if self._truncated is not None:
            raise self._truncated
        if _mapping.fault_count() != self._faults_seen:
            self._faults_seen = _mapping.fault_count()
            self._old_maps = [(r, m) for r, m in self._old_maps if self._alive(r, m)]
            if (
                self._lost_pages
                or (self._map is not None and self._map.faulted())
                or any(m.faulted() for _, m in self._old_maps)
            ):
                self._mark_truncated(self._end, os.fstat(self._fd).st_size)

    # -- attributes ------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The file name."""
        return self._path

    @property
    def schema(self) -> Schema:
        """The header's schema."""
        return self._schema

    @property
    def offset(self) -> int:
        """Bytes before the first frame (a file header)."""
        return self._offset

    @property
    def nbytes(self) -> int:
        """Bytes from the start of the file to the end of the last complete frame."""
        return self._end

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._count:,} frames"
        return f"<recview Frames {self._path!r} {state}, header {self._lay.header} bytes>"

    def _cached(self, key: str, make: Any) -> np.ndarray[Any, Any]:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self._count:
            return hit[1]
        arr: np.ndarray[Any, Any] = make()
        arr.flags.writeable = False
        self._cache[key] = (self._count, arr)
        return arr

    @property
    def offsets(self) -> np.ndarray[Any, Any]:
        """Byte offset in the file of every payload (read-only int64)."""
        self._check()
        return self._cached("offsets", lambda: self._cap[: self._count].copy())

    @property
    def lengths(self) -> np.ndarray[Any, Any]:
        """Byte length of every payload (read-only int64)."""
        self._check()
        return self._cached("lengths", lambda: self._lengths(0, self._count))

    def _lengths(self, a: int, b: int) -> np.ndarray[Any, Any]:
        """Lengths of frames ``a..b``: the gap to the next header, minus the trailer."""
        offs = self._cap[a:b]
        nxt = np.empty(b - a, np.int64)
        nxt[:-1] = self._cap[a + 1 : b] - self._lay.header
        if b > a:
            nxt[-1] = self._frame_start(b)
        return nxt - offs - self._lay.trailer

    def _headers(self, offs: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Gather the headers before payload offsets ``offs``: one fancy index."""
        hs = self._lay.header
        if len(offs) == 0 or self._map is None:
            return np.empty(0, self._schema.dtype)
        # every byte position as the start of a header (overlapping records)
        over: np.ndarray[Any, Any] = np.ndarray(
            (len(self._raw) - hs + 1,),
            dtype=self._schema.dtype,
            buffer=self._map.buffer,
            strides=(1,),
        )
        out: np.ndarray[Any, Any] = over[offs - hs]
        self._check()  # the gather read the mapping: did a truncation zero it?
        return out

    @property
    def headers(self) -> np.ndarray[Any, Any]:
        """Every frame's header, as one read-only structured array (a gathered copy)."""
        self._check()
        return self._cached("headers", lambda: self._headers(self._cap[: self._count]))

    def __getitem__(self, i: int) -> tuple[Any, np.ndarray[Any, Any]]:
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

    def payloads(self, dtype: Any) -> np.ndarray[Any, Any]:
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
        assert self._map is not None
        out: np.ndarray[Any, Any] = np.ndarray(
            shape, dtype=dt, buffer=self._map.buffer, offset=int(self._cap[0]), strides=strides
        )
        return out

    # -- batches -------------------------------------------------------------------

    def _step_end(self, a: int, n: int, records: int | None, nbytes: int) -> int:
        if records is not None:
            return min(n, a + records)
        lim = int(self._cap[a]) + nbytes
        b = int(np.searchsorted(self._cap[a:n], lim, side="left")) + a
        return min(n, max(b, a + 1))

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
            records = _int(records, "records", 1)
        if nbytes is not None:
            nbytes = _int(nbytes, "nbytes", 1)
        start = _int(start, "start", 0)
        if start > self._count:
            raise IndexError(f"start={start} is past the last of {self._count:,} frames")
        return self._batches(start, records, _DEFAULT_BATCH_NBYTES if nbytes is None else nbytes)

    def _batch(self, a: int, b: int) -> FrameBatch:
        offs = self._cap[a:b].copy()
        lens = self._lengths(a, b)
        heads = self._headers(offs)
        for arr in (offs, lens, heads):
            arr.flags.writeable = False
        return heads, offs, lens

    def _batches(self, a: int, records: int | None, nbytes: int) -> Iterator[FrameBatch]:
        n = self._count
        m = self._map
        while a < n:
            self._check()
            b = self._step_end(a, n, records, nbytes)
            lo = self._frame_start(a)
            yield self._batch(a, b)
            if m is not None:
                end = self._frame_start(b) if b < n else self._end
                lo -= lo % mmap.PAGESIZE
                m.advise(lo, end - lo, _MADV_DONTNEED)
            a = b

    # -- growing files --------------------------------------------------------------

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
            if status in (_BADLEN, _BADTRAILER):
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
        held back until it is whole. ``start=None`` begins at the current
        end (``len(frames)``); ``start=n`` begins at frame ``n``.

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
            _Growing(self), start=start, poll=poll, timeout=timeout, records=records, held=None
        )

    # -- interop ----------------------------------------------------------------------

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
            if self._native and _native is not None:
                _native.gather(self._map.buffer, offs, lens, data)
            else:
                _gather_py(self._map.buffer, offs, lens, data)
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

    def _drop_maps(self) -> None:
        m, self._map = self._map, None
        self._raw = np.empty(0, np.uint8)
        self._old_maps = []
        self._cache.clear()
        if m is not None:
            m.close()

    def close(self) -> None:
        """Release the mapping and the file; arrays handed out stay valid.

        With ``index=PATH``, frames indexed since the open (a growing file)
        are saved to the index first.
        """
        if self._closed:
            return
        try:
            if (
                self._index_path is not None
                and self._saved_count != self._count
                and self._truncated is None
            ):
                with contextlib.suppress(OSError):
                    self._save_index()
        finally:
            self._closed = True
            self._drop_maps()
            os.close(self._fd)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as "open this path again": the copy indexes the file with a
        descriptor of its own (reusing ``index`` when given), so it can go to
        another process, and freeing it never closes this object's file."""
        if self._closed:
            raise TypeError(f"cannot pickle {self._path!r}: the frames are closed")
        lay = self._lay
        options = {
            "length": lay.field,
            "offset": self._offset,
            "adjust": lay.adjust,
            "trailer": lay.trailer,
            "index": self._index_path,
            "trailing": self._trailing,
            "max_length": self._max_length,
            "native": self._native,
        }
        return (_reopen, (self._path, self._schema, options))

    def __enter__(self) -> Frames:  # noqa: PYI034 - Frames is not meant to be subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and hasattr(self, "_fd"):
            with contextlib.suppress(OSError):
                os.close(self._fd)


def _reopen(path: str, header: Schema, options: dict[str, Any]) -> Frames:
    """Unpickle a :class:`Frames`: open its path again, with its options."""
    return Frames(path, header, **options)


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
