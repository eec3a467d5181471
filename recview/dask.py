"""Dask collections over many record files or objects, for data beyond one machine.

:func:`read` gives a :class:`dask.dataframe.DataFrame` and :func:`read_array`
a :class:`dask.array.Array` of records over one file, a list of files or a
glob -- local paths, or URLs of any fsspec filesystem (``s3://bucket/day-*.bin``,
``gs://``, ``https://``...). Each file is cut into partitions at record
boundaries (after its own header), and each partition is described by a small
picklable spec from which the task reads its own records where it runs:

- a local path gives a :class:`Partition` (path, schema, header offset, first
  record, record count); the task maps the file, so the workers must see the
  same paths (one machine, or a shared filesystem);
- a URL gives a :class:`~recview.remote.RemoteSpec` (URL, byte range, the
  schema's JSON form, the storage options); the task sends its own ranged
  request, so no worker needs a shared disk.

Nothing but those specs travels to the workers: no records are pickled.

Needs the ``recview[dask]`` extra (dask[dataframe], distributed, pandas), and
``recview[remote]`` for URLs.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from recview import _tables, interop
from recview._extras import require
from recview._vocab import NDArray, Trailing, check_int, native
from recview.errors import RecviewError
from recview.remote import RemoteSpec, is_url, partition_specs
from recview.schema import Schema, as_schema
from recview.view import View, open as open_view

if TYPE_CHECKING:
    from recview._remote_view import RemoteView
    from recview._tables import Arrays, Enums, Strings

__all__ = ["Partition", "partitions", "read", "read_array"]

#: Default bytes of records per partition (rounded down to whole records).
DEFAULT_BLOCKSIZE = 64 << 20

PathArg = str | os.PathLike[str]
#: What a task reads: a byte range of a local file or of an object at a URL.
Spec = Union["Partition", RemoteSpec]


@dataclass(frozen=True)
class Partition:
    """Where one partition's records are: all a task needs to read them.

    Attributes
    ----------
    path : str
        The file.
    schema : Schema
        The record layout (picklable).
    offset : int
        Header bytes before the file's first record.
    start : int
        Index of the partition's first record within the file.
    count : int
        Number of records in the partition.
    row : int
        Index of the partition's first record across all files (the
        DataFrame index value of its first row).
    file_index : int
        Position of *path* in the list of files.
    ident : tuple of int, optional
        ``(st_dev, st_ino)`` of the file when it was planned: a task refuses
        a path that names another file by then (rotated, replaced), whose
        records would be taken for the planned ones.
    """

    path: str
    schema: Schema
    offset: int
    start: int
    count: int
    row: int
    file_index: int
    ident: tuple[int, int] | None = None

    def load(self) -> NDArray:
        """The partition's records, as a writable array (a copy).

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> from recview.dask import Partition
        >>> schema = rv.Schema.from_dtype([("n", "<u4")])
        >>> path = os.path.join(tempfile.mkdtemp(), "n.bin")
        >>> np.arange(10, dtype="<u4").tofile(path)
        >>> Partition(path, schema, 0, start=3, count=4, row=3, file_index=0).load()["n"]
        array([3, 4, 5, 6], dtype=uint32)
        """
        with self.open() as view:
            return np.array(view[self.start : self.stop])

    def open(self) -> View | RemoteView:
        """Open the partition's file as a view whose records end at :attr:`stop`
        (slice it with ``view[p.start : p.stop]``)."""
        view = open_view(self.path, self.schema, offset=self.offset, count=self.stop)
        # After the open: a rotation in between is seen either way (as an error).
        if self.ident is not None and _ident(self.path) != self.ident:
            view.close()
            raise RecviewError(
                f"{self.path}: the path names another file than the one the partitions "
                "were planned on (the file was replaced or rotated since); plan them again",
                path=self.path,
            )
        return view

    @property
    def stop(self) -> int:
        """Index (within the file) one past the partition's last record."""
        return self.start + self.count


def _ident(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _expand(paths: PathArg | Sequence[PathArg]) -> list[str]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise ValueError("no paths given")
    out: list[str] = []
    for item in items:
        path = os.fspath(item)
        if glob.has_magic(path):
            matched = sorted(glob.glob(path))
            if not matched:
                raise FileNotFoundError(f"no files match {path!r}")
            out.extend(matched)
        else:
            out.append(path)
    return out


def _urls(paths: PathArg | Sequence[PathArg]) -> str | list[str] | None:
    """``paths`` as fsspec takes them when they are URLs; None for local paths."""
    if isinstance(paths, str):
        return paths if is_url(paths) else None
    if isinstance(paths, os.PathLike):
        return None
    items = [os.fspath(p) for p in paths]
    kinds = {is_url(p) for p in items}
    if kinds == {True}:
        return items
    if kinds == {True, False}:
        raise ValueError("give URLs or local paths, not both")
    return None


def _files(parts: Sequence[Spec], paths: PathArg | Sequence[PathArg]) -> list[str]:
    """The file (or URL) of each ``file_index``, in order."""
    if _urls(paths) is None:
        return _expand(paths)
    names: dict[int, str] = {}
    for part in parts:
        names.setdefault(part.file_index, part.url if isinstance(part, RemoteSpec) else part.path)
    return [names[k] for k in sorted(names)]


def _load(part: Spec) -> NDArray:
    """A partition's records: from the mapping (a view) or from one ranged request."""
    if isinstance(part, RemoteSpec):
        return part.records()
    with part.open() as view:
        return np.asarray(view[part.start : part.stop])


def _blocksize(blocksize: int | str) -> int:
    value: object = blocksize
    if isinstance(value, str):
        utils = require("dask.utils", extra="dask", purpose="recview.dask")
        value = int(utils.parse_bytes(value))
    try:
        return check_int(value, "blocksize", minimum=1)
    except (TypeError, ValueError):
        raise ValueError(
            f"blocksize must be a positive number of bytes, got {blocksize!r}"
        ) from None


def partitions(
    paths: PathArg | Sequence[PathArg],
    schema: Any,
    *,
    offset: int | Sequence[int] = 0,
    blocksize: int | str = DEFAULT_BLOCKSIZE,
    trailing: Trailing = "error",
    storage_options: Mapping[str, Any] | None = None,
) -> list[Spec]:
    """Plan the partitions of some record files, at record boundaries.

    Each file is opened once (O(1): only its size is read) to count its
    records, then cut into runs of ``blocksize // schema.itemsize`` records
    (at least one). Files without records get no partition.

    Parameters
    ----------
    paths : path, sequence of paths, or glob pattern(s)
        Files, in order; a pattern (``"dumps/*.bin"``) expands to its sorted
        matches.
    schema : Schema or anything :func:`recview.as_schema` accepts
        The record layout, the same for every file.
    offset : int or sequence of int
        Header bytes before the first record: one value for every file, or
        one per file (after glob expansion).
    blocksize : int or str
        Bytes of records per partition (``"64MiB"`` accepted), rounded down
        to whole records.
    trailing : {"error", "ignore", "warn"}
        What a partial record at the end of a file gets, as in
        :func:`recview.open`.
    storage_options : dict, optional
        For URLs: the fsspec filesystem's options (credentials, endpoint),
        carried in every spec.

    Returns
    -------
    list of Partition or RemoteSpec
        :class:`Partition` for local paths; for URLs (one URL, a glob such as
        ``s3://bucket/day-*.bin``, or a list of URLs), the
        :class:`~recview.remote.RemoteSpec` of
        :func:`recview.remote.partition_specs`: objects listed with fsspec,
        only their sizes asked for.

    Raises
    ------
    FileNotFoundError
        A path does not exist, or a pattern matches nothing.
    LayoutError
        A file does not fit the schema and offset.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> from recview.dask import partitions
    >>> tmp = tempfile.mkdtemp()
    >>> for i, n in enumerate([5, 3]):
    ...     with open(os.path.join(tmp, f"part{i}.bin"), "wb") as f:
    ...         _ = f.write(b"HDR")
    ...         np.arange(n, dtype="<u8").tofile(f)
    >>> parts = partitions(os.path.join(tmp, "*.bin"), [("n", "<u8")], offset=3,
    ...                    blocksize=20)
    >>> [(os.path.basename(p.path), p.start, p.count, p.row) for p in parts]
    [('part0.bin', 0, 2, 0), ('part0.bin', 2, 2, 2), ('part0.bin', 4, 1, 4), ('part1.bin', 0, 2, 5), ('part1.bin', 2, 1, 7)]
    """
    schema = as_schema(schema)
    urls = _urls(paths)
    if urls is not None:
        return list(
            partition_specs(
                urls,
                schema,
                storage_options=storage_options,
                offset=offset,
                partition_nbytes=_blocksize(blocksize),
                trailing=trailing,
            )
        )
    if storage_options:
        raise TypeError("storage_options are for URLs (s3://, https://...), not local paths")
    files = _expand(paths)
    offsets = [offset] * len(files) if isinstance(offset, (int, np.integer)) else list(offset)
    if len(offsets) != len(files):
        raise ValueError(f"got {len(offsets)} offsets for {len(files)} files")
    step = max(1, _blocksize(blocksize) // schema.itemsize)
    parts: list[Spec] = []
    row = 0
    for i, (path, off) in enumerate(zip(files, offsets, strict=True)):
        # Absolute: a task runs in a worker's own directory.
        path = os.path.abspath(path)
        ident = _ident(path)  # before the open: a rotation in between fails the tasks
        with open_view(path, schema, offset=int(off), trailing=trailing) as view:
            n = len(view)
        for start in range(0, n, step):
            count = min(step, n - start)
            parts.append(Partition(path, schema, int(off), start, count, row, i, ident))
            row += count
    return parts


def _binary_columns(schema: Schema, options: Mapping[str, Any]) -> dict[str, int]:
    """Output columns that to_pandas makes of ``bytes`` objects, and their widths."""
    expand = options.get("arrays", "columns") == "columns"
    leaves = _tables.leaves_of(np.zeros(0, dtype=schema.dtype), schema, expand=expand)
    raw_kinds = "SV" if options.get("strings", "str") == "bytes" else "V"
    return {
        leaf.name: leaf.dtype.itemsize
        for leaf in leaves
        if not leaf.shape and leaf.dtype.kind in raw_kinds
    }


def _frame(
    part: Spec,
    columns: Sequence[str] | None = None,
    *,
    options: Mapping[str, Any],
    path_column: str | None,
    files: Sequence[str],
) -> Any:
    """One partition as a pandas DataFrame (runs in the worker)."""
    pd = require("pandas", extra="dask", purpose="recview.dask.read")
    wanted = None if columns is None else [c for c in columns if c != path_column]
    if part.count:
        # One copy, straight from the mapping (or the bytes the server sent)
        # into owned columns.
        records = _load(part)
        df = interop.to_pandas(records, schema=part.schema, columns=wanted, copy=True, **options)
        del records
    else:
        records = np.zeros(0, dtype=part.schema.dtype)
        df = interop.to_pandas(records, schema=part.schema, columns=wanted, **options)
    df.index = pd.RangeIndex(part.row, part.row + part.count)
    binary = {name: n for name, n in _binary_columns(part.schema, options).items() if name in df}
    if binary:
        # dask turns object columns into strings (its "dataframe.convert-string"
        # option), which would decode raw bytes: hand it Arrow binary instead.
        pa = require("pyarrow", extra="dask", purpose="recview.dask.read")
        for name, width in binary.items():
            values = pa.array(df[name].to_numpy(), type=pa.binary(width))
            df[name] = pd.arrays.ArrowExtensionArray(values)
    if path_column is not None and (columns is None or path_column in columns):
        codes = np.full(part.count, part.file_index, dtype=np.int32)
        df[path_column] = pd.Categorical.from_codes(codes, categories=list(files))
        if columns is not None:
            df = df[list(columns)]
    return df


def read(
    paths: PathArg | Sequence[PathArg],
    schema: Any,
    *,
    offset: int | Sequence[int] = 0,
    blocksize: int | str = DEFAULT_BLOCKSIZE,
    trailing: Trailing = "error",
    columns: Sequence[str] | None = None,
    path_column: str | None = None,
    strings: Strings = "str",
    enums: Enums = "int",
    arrays: Arrays = "columns",
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Read record files (or objects at URLs) as a :class:`dask.dataframe.DataFrame`.

    Parameters
    ----------
    paths, schema, offset, blocksize, trailing, storage_options
        As in :func:`partitions`: which files or URLs (a glob such as
        ``s3://bucket/day-*.bin`` is listed with fsspec), their layout and
        header sizes, the bytes of records per partition, and the
        filesystem's options for URLs.
    columns : sequence of str, optional
        Columns to read (output names as :func:`recview.interop.to_pandas`
        makes them, e.g. ``"hdr.ts"``, ``"pos[0]"``); dask also pushes a later
        column selection into the reads by itself.
    path_column : str, optional
        Name of an extra categorical column holding each record's file path.
    strings, enums, arrays
        As in :func:`recview.interop.to_pandas`.

    Returns
    -------
    dask.dataframe.DataFrame
        One partition per :class:`Partition`, indexed by the record's number
        across all the files in order (known divisions: ``df.loc`` by record
        number reads only the partitions it needs).

    Raises
    ------
    ImportError
        Without the ``recview[dask]`` extra.
    FileNotFoundError, LayoutError
        As :func:`partitions`, when planning (on the client).

    Notes
    -----
    Each task opens its file, copies its records out of the mapping, converts
    them with :func:`recview.interop.to_pandas` and closes the file again, so
    a partition owns its memory and holds no file open. For URLs each task
    sends one ranged request for its byte range from the worker it runs on:
    the graph holds only the specs (URL, byte range, schema JSON, options),
    never records, and the workers need no shared disk.

    dask stores text as ``string[pyarrow]`` by default (its
    ``dataframe.convert-string`` option), so ``char[n]`` columns come out with
    that dtype. Columns that :func:`~recview.interop.to_pandas` would make of
    ``bytes`` objects (``V`` fields, and ``char[n]`` with ``strings="bytes"``)
    are Arrow ``fixed_size_binary`` here, which that conversion leaves alone.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv, recview.dask
    >>> schema = rv.Schema.from_dtype([("ts", ">u8"), ("price", "<f8")])
    >>> tmp = tempfile.mkdtemp()
    >>> for day in range(3):
    ...     recs = np.zeros(1000, dtype=schema.dtype)
    ...     recs["ts"] = np.arange(1000) + 1000 * day
    ...     recs["price"] = 0.5
    ...     with open(os.path.join(tmp, f"day{day}.bin"), "wb") as f:
    ...         _ = f.write(b"\\0" * 64)  # each file has a 64-byte header
    ...         recs.tofile(f)
    >>> df = rv.dask.read(os.path.join(tmp, "day*.bin"), schema, offset=64,
    ...                   blocksize="8KiB")
    >>> df.npartitions, df.divisions[:3]
    (6, (0, 512, 1000))
    >>> totals = df[["ts", "price"]].sum().compute(scheduler="sync")
    >>> int(totals["ts"]), float(totals["price"])
    (4498500, 1500.0)
    """
    dd = require("dask.dataframe", extra="dask", purpose="recview.dask.read")
    schema = as_schema(schema)
    parts = partitions(
        paths,
        schema,
        offset=offset,
        blocksize=blocksize,
        trailing=trailing,
        storage_options=storage_options,
    )
    files = _files(parts, paths)
    options = {"strings": strings, "enums": enums, "arrays": arrays}
    empty = Partition(files[0] if files else "", schema, 0, 0, 0, 0, 0)
    meta = _frame(empty, columns, options=options, path_column=path_column, files=files)
    if not parts:
        return dd.from_pandas(meta, npartitions=1)
    divisions = (*(p.row for p in parts), parts[-1].row + parts[-1].count - 1)
    # Every task carries its kwargs: the file list only when it is needed.
    kwargs: dict[str, Any] = {
        "options": options,
        "path_column": path_column,
        "files": files if path_column is not None else (),
    }
    if columns is not None:
        kwargs["columns"] = list(columns)
    return dd.from_map(
        _frame,
        parts,
        meta=meta,
        divisions=divisions,
        label="recview-read",
        enforce_metadata=False,
        **kwargs,
    )


def _block(part: Spec) -> NDArray:
    records = _load(part)
    # a copy in native byte order: owned by the chunk, not by a mapping
    return records.astype(native(records.dtype), copy=True)


def read_array(
    paths: PathArg | Sequence[PathArg],
    schema: Any,
    *,
    offset: int | Sequence[int] = 0,
    blocksize: int | str = DEFAULT_BLOCKSIZE,
    trailing: Trailing = "error",
    storage_options: Mapping[str, Any] | None = None,
) -> Any:
    """Read record files (or objects at URLs) as a 1-D :class:`dask.array.Array` of records.

    Parameters
    ----------
    paths, schema, offset, blocksize, trailing, storage_options
        As in :func:`partitions`.

    Returns
    -------
    dask.array.Array
        Records of ``schema.dtype`` in native byte order (big-endian fields are
        converted in the tasks, as dask would otherwise normalise the
        declared dtype but not the data), one chunk per :class:`Partition`;
        ``x["field"]`` selects a field lazily.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv, recview.dask
    >>> schema = rv.Schema.from_dtype([("n", "<i4"), ("x", ">f4")])
    >>> path = os.path.join(tempfile.mkdtemp(), "r.bin")
    >>> recs = np.zeros(10, dtype=schema.dtype)
    >>> recs["n"] = np.arange(10)
    >>> recs.tofile(path)
    >>> x = rv.dask.read_array(path, schema, blocksize=32)
    >>> x.chunks
    ((4, 4, 2),)
    >>> int(x["n"].sum().compute(scheduler="sync"))
    45
    """
    da = require("dask.array", extra="dask", purpose="recview.dask.read_array")
    dask = require("dask", extra="dask", purpose="recview.dask.read_array")
    schema = as_schema(schema)
    parts = partitions(
        paths,
        schema,
        offset=offset,
        blocksize=blocksize,
        trailing=trailing,
        storage_options=storage_options,
    )
    dtype = native(schema.dtype)
    if not parts:
        return da.from_array(np.zeros(0, dtype=dtype), chunks=1)
    blocks = [
        da.from_delayed(
            dask.delayed(_block, pure=True)(part),
            shape=(part.count,),
            dtype=dtype,
            meta=np.zeros(0, dtype=dtype),
        )
        for part in parts
    ]
    return da.concatenate(blocks) if len(blocks) > 1 else blocks[0]
