"""This module owns reading records from remote objects: ranged reads over fsspec.

:class:`RemoteSource` (in :mod:`recview._remote_source`, re-exported here)
reads byte ranges of one object at any fsspec URL with ranged requests, a
small LRU cache of aligned blocks for small random reads, coalescing of
nearby small reads and read-ahead in a background thread.

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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recview._region import Trailing, count_records
from recview._remote_source import (
    # re-exported ("as" form): the source's defaults and the .npy header reader
    DEFAULT_BLOCK_NBYTES as DEFAULT_BLOCK_NBYTES,  # noqa: PLC0414
    DEFAULT_CACHE_BLOCKS as DEFAULT_CACHE_BLOCKS,  # noqa: PLC0414
    DEFAULT_MAX_GAP_NBYTES as DEFAULT_MAX_GAP_NBYTES,  # noqa: PLC0414
    RemoteSource,
    _fsspec,
    # a RemoteSource pickled by an earlier recview reconnects through this name
    _reopen as _reopen,  # noqa: PLC0414
    is_url,
    local_path_of,
    remote_npy_layout as remote_npy_layout,  # noqa: PLC0414
)
from recview._vocab import check_int
from recview.errors import TruncatedError
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

#: Default batch size of :meth:`RemoteRecords.batches`, in bytes: one request
#: per batch, large enough that per-request latency is a small part of it.
DEFAULT_BATCH_NBYTES = 8 << 20
#: Default bytes of records per partition of :func:`partition_specs`.
DEFAULT_PARTITION_NBYTES = 64 << 20


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
        offset = check_int(offset, "offset")
        if count is not None:
            count = check_int(count, "count")
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
