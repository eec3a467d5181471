"""A framed file and its index: the descriptor, guarded mapping and payload offsets of one file.

:class:`FrameFile` is the base of :class:`recview.frames.Frames` and owns
everything that is state rather than a view: it opens the file, maps it
(:mod:`recview._mapping`, SIGBUS-guarded), walks the frames in windows
(:func:`recview._frame_walk.index`, dropping each window once read, so its
memory is the index, not the file), grows the index as the file grows, keeps
it in an index file (:mod:`recview._frame_index`) and turns a file that shrank
or lost pages under the mapping into a :class:`TruncatedError`.
:mod:`recview.frames` serves headers, payloads and batches from it.
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar

import numpy as np

from recview import _frame_index, _frame_walk, _local, _mapping
from recview._frame_walk import BADLEN, FULL, LIMIT, PARTIAL, Layout
from recview._vocab import TRAILING, NDArray, Trailing, check_int
from recview.errors import ClosedError, LayoutError, LayoutWarning, TruncatedError
from recview.schema import Schema, as_schema

__all__ = ["FrameFile", "locked"]

# The pass maps the whole file but reads it a window at a time and drops each
# window once read: RSS stays about one window whatever the file size.
_WINDOW_NBYTES = 16 << 20
_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", 0)
_MADV_SEQUENTIAL = getattr(mmap, "MADV_SEQUENTIAL", 0)


def _index(
    buf: memoryview,
    pos: int,
    limit: int,
    end: int,
    out: NDArray,
    start: int,
    lay: Layout,
    *,
    native: bool = True,
) -> tuple[int, int, int, int]:
    """One call of the walk, in C unless ``native`` is false or
    :data:`recview._frame_walk.NATIVE` is None (then the Python twin)."""
    return _frame_walk.index(
        buf, pos, limit, end, out, start, lay, _frame_walk.NATIVE if native else None
    )


_S = TypeVar("_S", bound="FrameFile")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def locked(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Run ``method`` under the object's lock (see :class:`FrameFile`)."""

    @functools.wraps(method)
    def run(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return run


class FrameFile:
    """The indexed frames of one file, without the views (see :class:`recview.frames.Frames`).

    Threads: the index (``_cap``, ``_count``, ``_end``), the mapping and the
    descriptor change together, under ``_lock`` (reentrant): a pass, a
    refresh and :meth:`close` hold it throughout, and every read that uses
    them holds it while it takes what it returns. So growth one thread indexed
    is never a shrink for another, two passes never fill one index, and a
    read racing :meth:`close` either completes from this file or raises
    :class:`ClosedError` (never a read of an unmapped mapping, a closed or
    reused descriptor, or an emptied index).
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
        if trailing not in TRAILING:
            raise ValueError(f"trailing must be 'error', 'ignore' or 'warn', got {trailing!r}")
        offset = check_int(offset, "offset")
        self._max_length = None if max_length is None else check_int(max_length, "max_length")
        self._trailing: Trailing = trailing
        self._lock = threading.RLock()
        self._path = os.fspath(path)
        self._schema = as_schema(header)
        self._lay = _frame_walk.layout(self._schema, length, adjust, trailer)
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
        self._cache: dict[str, tuple[int, NDArray]] = {}
        # What rv.open refuses (FIFO without blocking, device, pseudo-file) is
        # refused here too: each would hang or index as 0 frames.
        ref, st = _local.open_file(self._path, lock=False)
        fd = ref.fd
        try:
            self._ident = (st.st_dev, st.st_ino)  # what a pickled copy checks
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

    @locked
    def _scan(self, size: int) -> tuple[int, int]:
        """Index the frames from ``self._end`` up to ``size``; return (status, value)."""
        if size <= self._end:
            return (LIMIT if size == self._end else PARTIAL), 0
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
            if status == FULL:
                grown = np.empty(max(2 * len(self._cap), 1024), np.int64)
                grown[: self._count] = self._cap[: self._count]
                self._cap = grown
                continue
            if status == LIMIT and pos < size:
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
                return BADLEN, self._raw_length(self._end) - self._lay.adjust
        if status == PARTIAL and size - self._end >= hs:
            n = self._raw_length(self._end)
            if n > self._max_length:
                return BADLEN, n - self._lay.adjust
        return status, value

    def _frame_start(self, k: int) -> int:
        """Byte offset of frame ``k``'s header (``k == len``: the end of the last frame)."""
        return int(self._cap[k]) - self._lay.header if k < self._count else self._end

    def _settle(self, status: int, value: int, size: int, trailing: Trailing) -> None:
        """Raise or warn for what stopped the pass (the frame at ``self._end``)."""
        _frame_walk.settle(
            status,
            value,
            raw=self._raw,
            path=self._path,
            frame=self._count,
            at=self._end,
            size=size,
            trailing=trailing,
            lay=self._lay,
            max_length=self._max_length,
            stacklevel=4,
        )

    def _raw_length(self, at: int) -> int:
        """Payload length the header at ``at`` declares (after adjust)."""
        return _frame_walk.declared_length(self._raw, at, self._lay)

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

    def _save_index(self) -> None:
        """Write the index beside the data (see :func:`recview._frame_index.save`)."""
        assert self._index_path is not None
        assert self._map is not None or self._end == 0
        buf = self._map.buffer if self._map is not None else memoryview(b"")
        hashes = _frame_index.data_hashes(buf, self._cap, self._count, self._end, self._lay)
        _frame_index.save(
            self._index_path,
            params=self._params(),
            st=os.fstat(self._fd),
            offsets=self._cap[: self._count],
            end=self._end,
            hashes=hashes,
        )
        self._saved_count = self._count

    def _load_index(self, st: os.stat_result) -> None:
        """Use the index file if it matches the data; else warn and leave it to the scan."""
        assert self._index_path is not None
        _frame_index.check_path(self._index_path, self._path, st)
        try:
            reason = self._try_index(st)
        except (OSError, ValueError, KeyError, TypeError, ArithmeticError, RecursionError) as exc:
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
        got = _frame_index.load(
            self._index_path, params=self._params(), st=st, lay=self._lay, offset=self._offset
        )
        if isinstance(got, str):
            return got
        self._cap, self._count, self._end = got.offsets, got.count, got.end
        if got.end > 0:
            self._remap(got.end)
        buf = self._map.buffer if self._map is not None else memoryview(b"")
        reason = _frame_index.verify(buf, self._raw, got, self._lay)
        if reason is None:
            self._saved_count = got.count if st.st_size == got.meta["data_nbytes"] else -1
        return reason

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
            self._check_faults()

    @locked
    def _check_faults(self) -> None:
        if self._closed:  # closed meanwhile: the descriptor is gone
            raise ClosedError(f"{self._path}: the frames are closed", path=self._path)
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
    @locked
    def nbytes(self) -> int:
        """Bytes from the start of the file to the end of the last complete frame."""
        return self._end

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @locked
    def __len__(self) -> int:
        return self._count

    def _cached(self, key: str, make: Any) -> NDArray:
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self._count:
            return hit[1]
        arr: NDArray = make()
        arr.flags.writeable = False
        self._cache[key] = (self._count, arr)
        return arr

    def _lengths(self, a: int, b: int) -> NDArray:
        """Lengths of frames ``a..b``: the gap to the next header, minus the trailer."""
        offs = self._cap[a:b]
        nxt = np.empty(b - a, np.int64)
        nxt[:-1] = self._cap[a + 1 : b] - self._lay.header
        if b > a:
            nxt[-1] = self._frame_start(b)
        return nxt - offs - self._lay.trailer

    # -- lifetime ----------------------------------------------------------------------

    def _drop_maps(self) -> None:
        m, self._map = self._map, None
        self._raw = np.empty(0, np.uint8)
        self._old_maps = []
        self._cache.clear()
        if m is not None:
            m.close()

    @locked
    def close(self) -> None:
        """Release the mapping and the file; arrays handed out stay valid.

        With ``index=PATH``, frames indexed since the open (a growing file)
        are saved to the index first. A read or refresh in another thread
        ends first; later ones raise :class:`ClosedError`.
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

    def __del__(self) -> None:
        if not getattr(self, "_closed", True) and hasattr(self, "_fd"):
            with contextlib.suppress(OSError):
                os.close(self._fd)
