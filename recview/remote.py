"""This module owns reading records from remote objects: ranged reads over fsspec.

:class:`RemoteSource` reads byte ranges of one object at any fsspec URL
(``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``file://``...): ranged
requests (``fs.cat_file(path, start, end)``: no fsspec file object, so no
readahead cache of fsspec's doubling the buffers), a small LRU cache of
aligned blocks for small random reads (``view[i]``), coalescing of nearby
small reads into one request, and :meth:`RemoteSource.iter_ranges`, which
reads the next ranges in a background thread while the caller computes.

:class:`RemoteRecords` puts a schema on top -- the remote counterpart of a
``mode="pread"`` view: ``len``, ``read(a, b)``, ``take(indices)``,
``batches()`` with read-ahead, ``refresh()`` -- so that a :class:`View` over
a URL delegates to it. :func:`partition_specs` and :func:`read_partition`
cut objects (a glob) into picklable byte ranges for dask workers.

Memory model (``docs/remote.md``): nothing is mapped; every array handed out
is a read-only copy of the bytes the server sent (numpy views the ``bytes``
object fsspec returns, with no second copy). The block cache holds at most
``cache_blocks * block_nbytes`` bytes; ``iter_ranges`` holds at most
``readahead + 1`` ranges (the one the caller has, and those read ahead).

Errors name the URL and the byte range (inclusive, as HTTP ``Range`` does):
a missing object at open is a :class:`FileNotFoundError`, as for local files;
fewer bytes than asked (the object shrank or was replaced) a
:class:`TruncatedError`; a server that answers a ranged request with the
whole object a :class:`RecviewError` ("server ignored the Range header").

Needs the ``recview[remote]`` extra (fsspec; s3fs, aiohttp for s3/http).
"""

from __future__ import annotations

import errno
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recview._extras import require
from recview._npy import NpyLayout, npy_layout
from recview._region import Trailing, count_records
from recview.errors import ClosedError, RecviewError, TruncatedError
from recview.schema import Schema, as_schema

__all__ = [
    "RemoteRecords",
    "RemoteSource",
    "RemoteSpec",
    "is_url",
    "local_path_of",
    "partition_specs",
    "read_partition",
]

#: Default size of the blocks small reads are cached in, in bytes.
DEFAULT_BLOCK_NBYTES = 256 << 10
#: Default number of cached blocks (so 4 MiB of cache by default).
DEFAULT_CACHE_BLOCKS = 16
#: Default batch size of :meth:`RemoteRecords.batches`, in bytes: one request
#: per batch, large enough that per-request latency is a small part of it.
DEFAULT_BATCH_NBYTES = 8 << 20
#: Default bytes of records per partition of :func:`partition_specs`.
DEFAULT_PARTITION_NBYTES = 64 << 20
#: Nearby small reads are merged into one request when the gap between them is
#: at most this many bytes: reading a gap costs less than a round trip.
DEFAULT_MAX_GAP_NBYTES = 64 << 10
# How long closing waits for a read-ahead thread to finish its current
# request (it starts no other); it is a daemon thread, so a hung server never
# keeps the process alive.
_JOIN_TIMEOUT = 30.0


def is_url(path: object) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) rather than a local path.

    Examples
    --------
    >>> from recview.remote import is_url
    >>> is_url("s3://bucket/key"), is_url("file:///tmp/x"), is_url("/tmp/x"), is_url("C:/x")
    (True, True, False, False)
    """
    if not isinstance(path, str):
        return False
    scheme, sep, _ = path.partition("://")
    return bool(sep) and len(scheme) > 1 and scheme.replace("+", "").replace("-", "").isalnum()


def local_path_of(url: str) -> str | None:
    """The local path a URL of the local filesystem names (``file://``, ``local://``), else None.

    Examples
    --------
    >>> from recview.remote import local_path_of
    >>> local_path_of("file:///tmp/x.bin"), local_path_of("s3://b/k"), local_path_of("/tmp/x")
    ('/tmp/x.bin', None, None)
    """
    if not is_url(url):
        return None
    scheme = url.partition("://")[0].lower()
    if scheme not in ("file", "local"):
        return None
    try:
        fs, path = _fsspec().core.url_to_fs(url)
    except ImportError:
        return url.partition("://")[2] or None
    return str(path) if "file" in getattr(fs, "protocol", ()) else None


def _fsspec() -> Any:
    return require("fsspec", extra="remote", purpose="reading URLs")


def _span(start: int, stop: int) -> str:
    """``bytes 1,024-2,047``: a byte range as HTTP writes it (inclusive)."""
    return f"bytes {start:,}-{max(start, stop - 1):,}"


def _reopen(url: str, storage_options: dict[str, Any] | None, block: int, cache: int) -> Any:
    return RemoteSource(
        url, storage_options=storage_options, block_nbytes=block, cache_blocks=cache
    )


class RemoteSource:
    """Byte ranges of one object at an fsspec URL, read with ranged requests.

    Parameters
    ----------
    url : str
        Any URL fsspec knows (``s3://bucket/key``, ``https://host/file``,
        ``file:///path``...).
    storage_options : dict, optional
        Passed to the filesystem (credentials, ``client_kwargs``...).
    block_nbytes : int
        Size of the aligned blocks that small reads (under ``block_nbytes``)
        are served from and cached in, in bytes.
    cache_blocks : int
        How many blocks the LRU cache keeps (0: no cache; every read is one
        request).

    Notes
    -----
    Creating a source sends no request; :meth:`size` does. The source is
    thread-safe and picklable (it pickles as its URL and options and
    reconnects where it is unpickled, with an empty cache).

    Examples
    --------
    >>> import os, tempfile
    >>> from recview.remote import RemoteSource
    >>> path = os.path.join(tempfile.mkdtemp(), "data.bin")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(bytes(range(100)))
    >>> with RemoteSource("file://" + path) as src:
    ...     print(src.size(), bytes(src.pread(10, 4)), [bytes(b) for b in src.iter_ranges([(0, 2), (98, 2)])])
    100 b'\\n\\x0b\\x0c\\r' [b'\\x00\\x01', b'bc']
    """

    def __init__(
        self,
        url: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        block_nbytes: int = DEFAULT_BLOCK_NBYTES,
        cache_blocks: int = DEFAULT_CACHE_BLOCKS,
    ) -> None:
        if block_nbytes < 1:
            raise ValueError(f"block_nbytes must be >= 1, got {block_nbytes}")
        if cache_blocks < 0:
            raise ValueError(f"cache_blocks must be >= 0, got {cache_blocks}")
        self.url = str(url)
        self._options = dict(storage_options or {})
        self._fs, self._path = _fsspec().core.url_to_fs(self.url, **self._options)
        self._block = int(block_nbytes)
        self._cache_blocks = int(cache_blocks)
        self._lock = threading.Lock()
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._nbytes: int | None = None
        self._identity: object = None
        self._closed = False
        self._stops: set[threading.Event] = set()
        #: Number of ranged requests sent so far (for tests and benchmarks).
        self.requests = 0

    # -- size -------------------------------------------------------------------

    @property
    def nbytes(self) -> int | None:
        """The object's size as last seen by :meth:`size` (``None`` before)."""
        return self._nbytes

    @property
    def identity(self) -> object:
        """What tells this version of the object from another (ETag, modification
        time), as last seen by :meth:`size`; ``None`` before, or when the server
        reports neither."""
        return self._identity

    def size(self) -> int:
        """Ask the server for the object's size now, in bytes.

        fsspec's listing cache is invalidated first, so a changed object is
        seen; the block cache is emptied when the size or the object's
        identity (ETag, modification time) changed.

        Returns
        -------
        int

        Raises
        ------
        FileNotFoundError
            No such object (message: the URL).
        IsADirectoryError
            The URL is a directory (or a prefix).
        RecviewError
            The server does not say how large the object is.
        """
        self._check_open()
        try:
            self._fs.invalidate_cache(self._path)
            info = self._fs.info(self._path)
        except FileNotFoundError as err:
            raise FileNotFoundError(errno.ENOENT, "No such object", self.url) from err
        if info.get("type") == "directory":
            raise IsADirectoryError(errno.EISDIR, "Is a directory", self.url)
        size = info.get("size")
        if size is None:
            raise RecviewError(
                f"{self.url}: the server does not report the object's size "
                "(no Content-Length): records cannot be counted",
                path=self.url,
            )
        found = tuple(
            info.get(k) for k in ("ETag", "etag", "mtime", "LastModified", "Last-Modified")
        )
        identity = found if any(v is not None for v in found) else None
        with self._lock:
            if size != self._nbytes or identity != self._identity:
                self._blocks.clear()
            self._nbytes, self._identity = int(size), identity
        return int(size)

    # -- reads --------------------------------------------------------------------

    def pread(self, offset: int, nbytes: int) -> bytes:
        """Read ``nbytes`` bytes at byte ``offset``.

        Reads under ``block_nbytes`` inside the size last seen are served
        from the block cache (missing neighbouring blocks are fetched in one
        request); larger ones are one ranged request of exactly those bytes.

        Returns
        -------
        bytes
            Exactly ``nbytes`` bytes.

        Raises
        ------
        TruncatedError
            The server sent fewer bytes (the object shrank, was replaced by a
            shorter one, or deleted).
        RecviewError
            The server ignored the ``Range`` header, or the request failed.
        ClosedError
            The source was closed.
        """
        self._check_open()
        if offset < 0 or nbytes < 0:
            raise ValueError(f"offset and nbytes must be >= 0, got {offset} and {nbytes}")
        if nbytes == 0:
            return b""
        stop = offset + nbytes
        if nbytes < self._block and self._cache_blocks:
            size = self._nbytes if self._nbytes is not None else self.size()
            if stop <= size:
                return self._cached(offset, stop, size)
        return self._fetch(offset, stop)

    def pread_into(self, offset: int, out: Any) -> int:
        """Read ``len(out)`` bytes at byte ``offset`` into the writable buffer ``out``.

        One copy, from the bytes the server sent into ``out`` (fsspec has no
        ``readinto`` for ranges). Returns the number of bytes, ``len(out)``.
        """
        buf = memoryview(out).cast("B")
        buf[:] = self.pread(offset, len(buf))
        return len(buf)

    def preads(
        self, ranges: Sequence[tuple[int, int]], *, max_gap: int = DEFAULT_MAX_GAP_NBYTES
    ) -> list[bytes]:
        """Read many ``(offset, nbytes)`` ranges, merging nearby ones into one request.

        Ranges less than ``max_gap`` bytes apart (or overlapping) are read as
        one request and cut apart here; the merged requests go out together
        (concurrently, for async filesystems such as s3 and http).

        Returns
        -------
        list of bytes
            In the order of ``ranges``.
        """
        self._check_open()
        order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
        merged: list[list[int]] = []  # [start, stop, first index in order, last index]
        for k, i in enumerate(order):
            a, n = ranges[i]
            if a < 0 or n < 0:
                raise ValueError(f"offset and nbytes must be >= 0, got {a} and {n}")
            if merged and a <= merged[-1][1] + max_gap:
                merged[-1][1] = max(merged[-1][1], a + n)
                merged[-1][3] = k
            else:
                merged.append([a, a + n, k, k])
        datas = self._fetch_many([(m[0], m[1]) for m in merged])
        out: list[bytes] = [b""] * len(ranges)
        for (start, _, first, last), data in zip(merged, datas, strict=True):
            view = memoryview(data)
            for k in range(first, last + 1):
                i = order[k]
                a, n = ranges[i]
                out[i] = bytes(view[a - start : a - start + n])
        return out

    def iter_ranges(
        self, ranges: Iterable[tuple[int, int]], *, readahead: int = 2
    ) -> Iterator[bytes]:
        """The bytes of each ``(offset, nbytes)`` range, in order, read ahead.

        With ``readahead > 0`` a background thread reads the next ranges
        while the caller works on the current one, so network latency
        overlaps computation. At most ``readahead + 1`` ranges are held at
        once: the one the caller has and those read ahead (read, or being
        read). An error is raised when the caller reaches the range it
        belongs to. Each range is one request of exactly its bytes (the block
        cache is for random reads; a scan would only evict it). Closing the iterator (``break``, ``close()``, garbage
        collection) or the source stops the thread after the request it is in.

        Parameters
        ----------
        ranges : iterable of (int, int)
            Byte offset and length of each range.
        readahead : int
            Ranges to read ahead (0: read each one when it is asked for).

        Returns
        -------
        iterator of bytes
        """
        self._check_open()
        if readahead < 0:
            raise ValueError(f"readahead must be >= 0, got {readahead}")
        todo = [(int(a), int(n)) for a, n in ranges]
        if readahead == 0 or len(todo) <= 1:
            return self._iter_plain(todo)
        return self._iter_ahead(todo, readahead)

    def _iter_plain(self, todo: list[tuple[int, int]]) -> Iterator[bytes]:
        for a, n in todo:
            yield self._read_range(a, n)

    def _read_range(self, offset: int, nbytes: int) -> bytes:
        # Scans bypass the block cache: their bytes are used once, and would
        # evict the blocks random reads come back to.
        self._check_open()
        if offset < 0 or nbytes < 0:
            raise ValueError(f"offset and nbytes must be >= 0, got {offset} and {nbytes}")
        return self._fetch(offset, offset + nbytes) if nbytes else b""

    def _iter_ahead(self, todo: list[tuple[int, int]], readahead: int) -> Iterator[bytes]:
        done = object()
        results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        slots = threading.Semaphore(readahead)
        stop = threading.Event()

        def work() -> None:
            try:
                for a, n in todo:
                    # A slot per range read ahead: the consumer frees one when
                    # it takes a range, which bounds the memory held.
                    while not slots.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                    if stop.is_set() or self._closed:
                        return
                    results.put(self._read_range(a, n))
            except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
                results.put(err)
            finally:
                results.put(done)

        with self._lock:
            self._stops.add(stop)
        thread = threading.Thread(target=work, name=f"recview read-ahead {self.url}", daemon=True)
        thread.start()
        try:
            for _ in todo:
                item = results.get()
                if item is done:
                    self._check_open()
                    raise RecviewError(f"{self.url}: read-ahead stopped", path=self.url)
                if isinstance(item, BaseException):
                    raise item
                slots.release()
                yield item
        finally:
            stop.set()
            slots.release()
            if thread is not threading.current_thread():
                thread.join(_JOIN_TIMEOUT)
            with self._lock:
                self._stops.discard(stop)

    # -- the requests ------------------------------------------------------------

    def _cached(self, start: int, stop: int, size: int) -> bytes:
        """``start..stop`` from the block cache, fetching missing blocks in runs."""
        block = self._block
        first, last = start // block, (stop - 1) // block
        with self._lock:
            have = {b: self._blocks[b] for b in range(first, last + 1) if b in self._blocks}
            for b in have:
                self._blocks.move_to_end(b)
        missing = [b for b in range(first, last + 1) if b not in have]
        runs: list[list[int]] = []
        for b in missing:
            if runs and runs[-1][-1] == b - 1:
                runs[-1].append(b)
            else:
                runs.append([b])
        spans = [(r[0] * block, min((r[-1] + 1) * block, size)) for r in runs]
        for run, (a, _), data in zip(runs, spans, self._fetch_many(spans), strict=True):
            for b in run:
                have[b] = data[b * block - a : (b + 1) * block - a]
        with self._lock:
            for b in missing:
                self._blocks[b] = have[b]
                self._blocks.move_to_end(b)
            while len(self._blocks) > self._cache_blocks:
                self._blocks.popitem(last=False)
        if first == last:
            return have[first][start - first * block : stop - first * block]
        joined = b"".join(have[b] for b in range(first, last + 1))
        return joined[start - first * block : stop - first * block]

    def _fetch(self, start: int, stop: int) -> bytes:
        return self._fetch_many([(start, stop)])[0]

    def _fetch_many(self, spans: Sequence[tuple[int, int]]) -> list[bytes]:
        """One ranged request per ``(start, stop)`` span, every answer checked."""
        if not spans:
            return []
        self._check_open()
        with self._lock:
            self.requests += len(spans)
        results: list[Any]
        if len(spans) == 1:
            start, stop = spans[0]
            try:
                results = [self._fs.cat_file(self._path, start=start, end=stop)]
            except Exception as err:  # noqa: BLE001 - judged in _checked, with the range
                results = [err]
        else:
            results = self._fs.cat_ranges(
                [self._path] * len(spans),
                [a for a, _ in spans],
                [b for _, b in spans],
                on_error="return",
            )
        return [self._checked(a, b, r) for (a, b), r in zip(spans, results, strict=True)]

    def _checked(self, start: int, stop: int, result: Any) -> bytes:
        where = f"{self.url}: {_span(start, stop)}"
        want = stop - start
        if isinstance(result, FileNotFoundError):
            raise TruncatedError(
                f"{where}: the object is gone (deleted while open; reopen it)",
                path=self.url,
                offset=start,
                old_nbytes=self._nbytes,
                new_nbytes=0,
            ) from result
        if isinstance(result, BaseException):
            now = self._size_quietly()
            if now is not None and now < stop:
                raise self._shrank(where, start, now) from result
            raise RecviewError(
                f"{where}: read failed: {result!r}", path=self.url, offset=start
            ) from (result)
        got = len(result)
        if got == want:
            return bytes(result) if not isinstance(result, bytes) else result
        if got > want:
            # A 200 with the whole body instead of a 206 (or a 206 of another
            # range): the bytes are not the ones asked for, whatever they are.
            raise RecviewError(
                f"{where}: server ignored the Range header (it sent {got:,} bytes for a "
                f"request of {want:,}); recview needs ranged reads (HTTP 206)",
                path=self.url,
                offset=start,
            )
        now = self._size_quietly()
        raise self._shrank(where, start, start + got if now is None else now, got=got)

    def _shrank(
        self, where: str, start: int, now: int, *, got: int | None = None
    ) -> TruncatedError:
        what = f"got only {got:,} bytes: " if got is not None else ""
        return TruncatedError(
            f"{where}: {what}the object is {now:,} bytes now (it shrank or was replaced "
            "while open; reopen it)",
            path=self.url,
            offset=min(start, now),
            old_nbytes=self._nbytes,
            new_nbytes=now,
        )

    def _size_quietly(self) -> int | None:
        try:
            self._fs.invalidate_cache(self._path)
            return int(self._fs.info(self._path)["size"])
        except FileNotFoundError:
            return 0
        except Exception:  # noqa: BLE001 - the read's own error is the one to report
            return None

    # -- lifetime -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"{self.url}: the source is closed", path=self.url)

    def close(self) -> None:
        """Stop read-ahead threads and drop the cache. Closing twice is harmless."""
        with self._lock:
            self._closed = True
            self._blocks.clear()
            stops = list(self._stops)
        for stop in stops:
            stop.set()

    def __enter__(self) -> RemoteSource:  # noqa: PYI034 - not meant to be subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy reconnects by URL (as dask partitions carry paths, not handles).
        return (_reopen, (self.url, self._options, self._block, self._cache_blocks))

    def __repr__(self) -> str:
        return f"RemoteSource({self.url!r})"


class _SourceFile:
    """The ``read``/``tell``/``seek`` of a file, over a source (for headers)."""

    def __init__(self, source: RemoteSource) -> None:
        self._source, self._pos, self.name = source, 0, source.url

    def read(self, n: int = -1) -> bytes:
        size = self._source.nbytes if self._source.nbytes is not None else self._source.size()
        n = size - self._pos if n < 0 else min(n, size - self._pos)
        data = self._source.pread(self._pos, max(0, n))
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._source.nbytes or self._source.size()}[whence]
        self._pos = base + pos
        return self._pos


def remote_npy_layout(source: RemoteSource) -> NpyLayout:
    """The :class:`~recview._npy.NpyLayout` of a ``.npy`` object (reads its header only).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from recview.remote import RemoteSource, remote_npy_layout
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> np.save(path, np.arange(6, dtype="<i4").reshape(3, 2))
    >>> layout = remote_npy_layout(RemoteSource("file://" + path))
    >>> layout.count, layout.offset, layout.schema.dtype
    (3, 128, dtype([('f0', '<i4', (2,))]))
    """
    f: Any = _SourceFile(source)
    return npy_layout(f, nbytes=source.size(), name=source.url)


class RemoteRecords:
    """The records of one remote object: what a :class:`View` over a URL delegates to.

    Parameters
    ----------
    source : RemoteSource or str
        The object (a URL is opened with ``storage_options``; the records
        then own the source and close it).
    schema : Schema, Record subclass, construct.Struct or dtype spec
        The record layout.
    offset, count, trailing
        As for :func:`recview.open`.
    storage_options : dict, optional
        For a URL ``source``.

    Raises
    ------
    FileNotFoundError
        No such object.
    LayoutError
        As :func:`recview.open` (the object is too short, or stray bytes).

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> from recview.remote import RemoteRecords
    >>> schema = rv.Schema.from_dtype([("ts", "<u8"), ("px", "<f8")])
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin")
    >>> recs = np.zeros(10, schema.dtype); recs["ts"] = range(10); recs.tofile(path)
    >>> with RemoteRecords("file://" + path, schema) as remote:
    ...     print(len(remote), remote.read(2, 4)["ts"].tolist(), remote[-1]["ts"],
    ...           [b["ts"].sum() for b in remote.batches(4)])
    10 [2, 3] 9 [np.uint64(6), np.uint64(22), np.uint64(17)]
    """

    def __init__(
        self,
        source: RemoteSource | str,
        schema: Any,
        *,
        offset: int = 0,
        count: int | None = None,
        trailing: Trailing = "error",
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if trailing not in ("error", "ignore", "warn"):
            raise ValueError(f"trailing must be 'error', 'ignore' or 'warn', got {trailing!r}")
        for name, value in (("offset", offset), ("count", count)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self._owned = not isinstance(source, RemoteSource)
        self.source = (
            source
            if isinstance(source, RemoteSource)
            else RemoteSource(source, storage_options=storage_options)
        )
        self.schema = as_schema(schema)
        self.offset = int(offset)
        self._fixed = None if count is None else int(count)
        self._truncated: TruncatedError | None = None
        size = self.source.size()
        # The version read from: S3 objects are replaced, not changed in place,
        # so another ETag means other bytes even at the same size.
        self._identity = self.source.identity
        self._size_seen = size
        self._count = count_records(
            self.url,
            size,
            self.schema.itemsize,
            offset=self.offset,
            count=self._fixed,
            trailing=trailing,
            noun="object",
        )

    @property
    def url(self) -> str:
        """The object's URL."""
        return self.source.url

    @property
    def nbytes(self) -> int:
        """Bytes of records (``len(self) * schema.itemsize``)."""
        return self._count * self.schema.itemsize

    def __len__(self) -> int:
        return self._count

    def _guard(self) -> None:
        if self._truncated is not None:
            raise self._truncated

    def _array(self, data: bytes) -> np.ndarray[Any, Any]:
        # numpy views the bytes object: read-only, and no second copy.
        return np.frombuffer(data, dtype=self.schema.dtype)

    def read(self, a: int, b: int) -> np.ndarray[Any, Any]:
        """Records ``a..b`` (``0 <= a <= b <= len``), a read-only structured copy.

        Raises
        ------
        IndexError
            Outside ``0..len``.
        TruncatedError
            The object shrank or was replaced (then every later read raises it).
        """
        self._guard()
        if not 0 <= a <= b <= self._count:
            raise IndexError(f"{self.url}: records {a}..{b} outside 0..{self._count}")
        size = self.schema.itemsize
        try:
            return self._array(self.source.pread(self.offset + a * size, (b - a) * size))
        except TruncatedError as err:
            self._truncated = err
            raise

    def __getitem__(self, i: int) -> Any:
        """One record (negative indices count from the end)."""
        n = self._count
        if not -n <= i < n:
            raise IndexError(f"{self.url}: record {i} out of range for {n:,} records")
        i = i % n
        return self.read(i, i + 1)[0]

    def take(self, indices: Sequence[int] | np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The records at ``indices`` (any order, negative from the end), in one go.

        Nearby records are read in one request (:meth:`RemoteSource.preads`).
        """
        self._guard()
        n, size = self._count, self.schema.itemsize
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"{self.url}: an index is out of range for {n:,} records")
        idx = idx % max(n, 1)
        uniq, inverse = np.unique(idx, return_inverse=True)
        try:
            parts = self.source.preads([(self.offset + int(i) * size, size) for i in uniq])
        except TruncatedError as err:
            self._truncated = err
            raise
        out = self._array(b"".join(parts))[inverse]
        out.flags.writeable = False
        return out

    def ranges(
        self, records: int | None = None, *, start: int = 0, stop: int | None = None
    ) -> list[tuple[int, int]]:
        """The ``(byte offset, nbytes)`` of each batch of :meth:`batches`."""
        size = self.schema.itemsize
        step = max(1, DEFAULT_BATCH_NBYTES // size) if records is None else int(records)
        if step < 1:
            raise ValueError(f"records must be >= 1, got {step}")
        end = self._count if stop is None else min(stop, self._count)
        if not 0 <= start <= self._count:
            raise IndexError(f"{self.url}: start {start} outside 0..{self._count}")
        return [
            (self.offset + a * size, (min(end, a + step) - a) * size)
            for a in range(start, end, step)
        ]

    def batches(
        self, records: int | None = None, *, start: int = 0, readahead: int = 2
    ) -> Iterator[np.ndarray[Any, Any]]:
        """Read-only structured arrays covering records ``start..len`` in order.

        Each batch is one ranged request; ``readahead`` batches are read in a
        background thread while the caller works on the current one, so at
        most ``readahead + 1`` batches are held (:meth:`RemoteSource.iter_ranges`).

        Parameters
        ----------
        records : int, optional
            Records per batch (default: 8 MiB of them).
        start : int
            First record.
        readahead : int
            Batches read ahead (0: none).
        """
        self._guard()
        spans = self.ranges(records, start=start)
        return self._batches(self.source.iter_ranges(spans, readahead=readahead))

    def _batches(self, chunks: Iterator[bytes]) -> Iterator[np.ndarray[Any, Any]]:
        try:
            last: np.ndarray[Any, Any] | None = None
            for data in chunks:
                self._guard()
                if last is not None:
                    yield last
                last = self._array(data)
            if last is not None:
                # The scan is done when the object is still the version it
                # started on: one size request, before the last batch is
                # handed out, so a scan that mixed two versions ends in an error.
                self._check_version(self.source.size())
                yield last
        except TruncatedError as err:
            self._truncated = err
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    def _check_version(self, size: int) -> None:
        """A :class:`TruncatedError` when the object is not the version opened."""
        now = self.source.identity
        if self._identity is None or now is None or now == self._identity:
            return
        self._truncated = TruncatedError(
            f"{self.url}: the object was replaced while open (its ETag or modification "
            f"time changed; it is {size:,} bytes now): records read from it may mix the "
            "two versions (reopen it)",
            path=self.url,
            offset=0,
            old_nbytes=self.offset + self._count * self.schema.itemsize,
            new_nbytes=size,
        )
        raise self._truncated

    def refresh(self) -> int:
        """Ask the server for the object's size again; return the new ``len``.

        Growth extends the records (unless ``count`` was given); a partial
        record at the end is left out until it is complete. An object shorter
        than the records held raises :class:`TruncatedError` -- objects in
        S3 and the like are immutable, so a shrink means the object was
        replaced -- and so does one of the same size whose ETag (or
        modification time) is not the one seen before (replaced by other
        bytes); every later read raises it too. A server that reports
        neither cannot show a same-size replacement. A scan
        (:meth:`batches`) checks the version once more before its last batch.
        """
        self._guard()
        size = self.source.size()
        held = self.offset + self._count * self.schema.itemsize
        if size >= held:
            if size > self._size_seen:
                # Grown: an appending writer re-uploads the object (a new
                # ETag). The records held are taken to be unchanged, as for
                # a local file that grew; the new version is the one now.
                self._identity = self.source.identity
            else:
                self._check_version(size)
            self._size_seen = size
        if size < held:
            self._truncated = TruncatedError(
                f"{self.url}: object shrank from at least {held:,} to {size:,} bytes "
                f"(replaced?) while {self._count:,} records of it were open (reopen it)",
                path=self.url,
                offset=size,
                old_nbytes=held,
                new_nbytes=size,
            )
            raise self._truncated
        if self._fixed is None:
            self._count = (size - self.offset) // self.schema.itemsize
        return self._count

    def close(self) -> None:
        """Close the source if these records opened it."""
        if self._owned:
            self.source.close()

    def __enter__(self) -> RemoteRecords:  # noqa: PYI034 - not meant to be subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- dask partitions -------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteSpec:
    """One partition: a byte range of one object, and how to read it. Picklable, no data.

    Attributes
    ----------
    url : str
        The object.
    start, stop : int
        Byte range of whole records (``stop`` exclusive).
    schema_json : str
        The schema, as :meth:`Schema.to_json` gives it.
    storage_options : dict
        For the filesystem (credentials, endpoint).
    row : int
        Index of the partition's first record across all objects.
    file_index : int
        Position of ``url`` in the list of objects.
    """

    url: str
    start: int
    stop: int
    schema_json: str
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    row: int = 0
    file_index: int = 0

    @property
    def schema(self) -> Schema:
        """The schema, from :attr:`schema_json`."""
        return Schema.from_json(self.schema_json)

    @property
    def count(self) -> int:
        """Number of records in the partition."""
        return (self.stop - self.start) // self.schema.itemsize

    def records(self) -> np.ndarray[Any, Any]:
        """Read the partition's byte range (one ranged request, wherever this runs).

        Returns a read-only structured array viewing the bytes the server
        sent (no second copy); :func:`read_partition` gives a writable one.
        """
        source = RemoteSource(self.url, storage_options=self.storage_options, cache_blocks=0)
        try:
            data = source.pread(self.start, self.stop - self.start)
        finally:
            source.close()
        return np.frombuffer(data, dtype=self.schema.dtype)


def partition_specs(
    urlpath: str | Sequence[str],
    schema: Any,
    *,
    storage_options: Mapping[str, Any] | None = None,
    offset: int | Sequence[int] = 0,
    partition_nbytes: int = DEFAULT_PARTITION_NBYTES,
    trailing: Trailing = "error",
) -> list[RemoteSpec]:
    """Cut the objects a URL, glob or list names into partitions of whole records.

    Lists the objects with fsspec (one listing plus one ``info`` per object;
    no data is read), counts each object's records as :func:`recview.open`
    does, and cuts them into byte ranges of about ``partition_nbytes``.

    Parameters
    ----------
    urlpath : str or list of str
        A URL, a glob (``s3://bucket/day-*.bin``) or a list of URLs.
    schema : Schema, Record subclass, construct.Struct or dtype spec
        The record layout.
    storage_options : dict, optional
        For the filesystem; carried in every spec.
    offset : int or sequence of int
        Header bytes before each object's first record: one value for every
        object, or one per object (after glob expansion).
    partition_nbytes : int
        Bytes of records per partition (rounded down to whole records, at
        least one record).
    trailing : {"error", "ignore", "warn"}
        As for :func:`recview.open`.

    Returns
    -------
    list of RemoteSpec
        In object order (sorted by URL for a glob), then byte order.

    Raises
    ------
    FileNotFoundError
        No object matches.

    Examples
    --------
    >>> import os, pickle, tempfile, numpy as np, recview as rv
    >>> from recview.remote import partition_specs, read_partition
    >>> schema = rv.Schema.from_dtype([("n", "<u4")])
    >>> d = tempfile.mkdtemp()
    >>> for k in range(2):
    ...     np.arange(k * 10, k * 10 + 10, dtype="<u4").tofile(os.path.join(d, f"p{k}.bin"))
    >>> specs = partition_specs(f"file://{d}/p*.bin", schema, partition_nbytes=16)
    >>> len(specs), specs[1].row, specs[1].count
    (6, 4, 4)
    >>> np.concatenate([read_partition(pickle.loads(pickle.dumps(s))) for s in specs])["n"].sum()
    np.uint64(190)
    """
    fsspec = _fsspec()
    options = dict(storage_options or {})
    schema = as_schema(schema)
    label = urlpath if isinstance(urlpath, str) else ", ".join(urlpath)
    fs, _, paths = fsspec.core.get_fs_token_paths(urlpath, storage_options=options)
    if not paths:
        raise FileNotFoundError(errno.ENOENT, "No objects match", label)
    offsets = [offset] * len(paths) if isinstance(offset, (int, np.integer)) else list(offset)
    if len(offsets) != len(paths):
        raise ValueError(f"got {len(offsets)} offsets for {len(paths)} objects")
    step = max(1, partition_nbytes // schema.itemsize) * schema.itemsize
    specs: list[RemoteSpec] = []
    row = 0
    text = schema.to_json()
    for k, (path, off) in enumerate(zip(paths, offsets, strict=True)):
        header = int(off)
        url = fs.unstrip_protocol(path)
        try:
            size = int(fs.info(path)["size"])
        except FileNotFoundError as err:
            raise FileNotFoundError(errno.ENOENT, "No such object", url) from err
        n = count_records(
            url, size, schema.itemsize, offset=header, count=None, trailing=trailing, noun="object"
        )
        end = header + n * schema.itemsize
        for a in range(header, end, step):
            b = min(end, a + step)
            specs.append(RemoteSpec(url, a, b, text, options, row, k))
            row += (b - a) // schema.itemsize
    return specs


def read_partition(spec: RemoteSpec) -> np.ndarray[Any, Any]:
    """The records of one :class:`RemoteSpec`: a writable structured array (a copy).

    Opens its own connection (fsspec reuses one per process and options), so
    it runs wherever the spec was sent.

    Raises
    ------
    TruncatedError
        The object is shorter than when the spec was made.
    """
    return spec.records().copy()
