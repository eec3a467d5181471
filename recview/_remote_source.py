"""Byte ranges of one remote object: RemoteSource (ranged reads, block cache, coalescing, read-ahead).

:class:`RemoteSource` reads byte ranges of one object at any fsspec URL
(``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``file://``...): ranged
requests (``fs.cat_file(path, start, end)``: no fsspec file object, so no
readahead cache of fsspec's doubling the buffers), a small LRU cache of
aligned blocks for small random reads (``view[i]``), coalescing of nearby
small reads into one request, and :meth:`RemoteSource.iter_ranges`, which
reads the next ranges in a background thread while the caller computes. With
it, the URL helpers (:func:`is_url`, :func:`local_path_of`) and the header of
a remote ``.npy`` object (:func:`remote_npy_layout`). Public through
:mod:`recview.remote`, whose docstring gives the memory model and the errors.
"""

from __future__ import annotations

import errno
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from recview._extras import require
from recview._npy import NpyLayout, npy_layout
from recview._vocab import check_int
from recview.errors import ClosedError, RecviewError, TruncatedError

#: Default size of the blocks small reads are cached in, in bytes.
DEFAULT_BLOCK_NBYTES = 256 << 10
#: Default number of cached blocks (so 4 MiB of cache by default).
DEFAULT_CACHE_BLOCKS = 16
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
        block_nbytes = check_int(block_nbytes, "block_nbytes", minimum=1)
        cache_blocks = check_int(cache_blocks, "cache_blocks")
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
        offset, nbytes = check_int(offset, "offset"), check_int(nbytes, "nbytes")
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
        ranges = [(check_int(a, "offset"), check_int(n, "nbytes")) for a, n in ranges]
        order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
        merged: list[list[int]] = []  # [start, stop, first index in order, last index]
        for k, i in enumerate(order):
            a, n = ranges[i]
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
        readahead = check_int(readahead, "readahead")
        # negative ranges are refused when the caller reaches them, as reads fail
        todo = [
            (check_int(a, "offset", minimum=None), check_int(n, "nbytes", minimum=None))
            for a, n in ranges
        ]
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
