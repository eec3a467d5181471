"""pandas, Arrow and Parquet conversions of record views and batches.

This module turns what recview hands out -- a :class:`~recview.view.View`, a
structured ndarray (``view.array``, ``view[a:b]``, a batch from
``view.batches()`` or ``rv.stream()``) or a dict of columns
(``view.columns()``) -- into a :class:`pandas.DataFrame`, a
:class:`pyarrow.Table` or a Parquet file. pandas and pyarrow are optional
(extras ``recview[pandas]`` and ``recview[arrow]``) and are imported inside the
functions, never by ``import recview``.

The public functions and their documentation are here; the conversion they
run is :mod:`recview._tables` (called by ``view.to_arrow()`` and the others
through :mod:`recview._export`, without this module), and this module adds
Parquet.

How fields map
--------------
================================  =========================================  ====================================
numpy field (any byte order)      Arrow                                      pandas
================================  =========================================  ====================================
``i1..i8``, ``u1..u8``            ``int8..uint64``                           same numpy dtype
``f2``, ``f4``, ``f8``            ``halffloat``, ``float``, ``double``       same numpy dtype
``?`` (bool)                      ``bool`` (bit-packed: always a copy)       ``bool``
``M8``/``m8`` in s, ms, us, ns    ``timestamp``/``duration`` of that unit    same numpy dtype
``M8``/``m8`` in other units      converted to seconds                       converted to seconds
``c8``, ``c16``                   ``fixed_size_list<float|double>[2]``       same numpy dtype
``S<n>`` (``char[n]``)            ``fixed_size_binary(n)`` (default), or     ``str`` dtype (default), or
                                  ``string`` (``"text"``, ``"str"``)         ``object`` bytes (``"bytes"``)
``U<n>`` (numpy UCS-4 text)       ``string``                                 ``str`` dtype
``V<n>`` (raw bytes)              ``fixed_size_binary(n)``                   ``object`` column of ``bytes``
enum integer (``schema.enums``)   the integer, or ``dictionary<int32,        the integer, or ``category``
                                  string>`` with ``enums="category"``        with ``enums="category"``
nested struct ``hdr``             columns ``hdr.ts``, ``hdr.len`` (default)  columns ``hdr.ts``, ``hdr.len``
                                  or a ``struct`` (``nested="struct"``)
fixed array ``pos[3]``            ``fixed_size_list<...>[3]`` (nested        columns ``pos[0]``, ``pos[1]``,
                                  lists for several dimensions)              ``pos[2]`` (default), or one column
                                                                             of fixed-size lists
                                                                             (``arrays="arrow"``) or of
                                                                             ndarrays (``arrays="object"``)
array of records ``pts[2]``       columns ``pts.x``, ``pts.y``, each         columns ``pts.x[0]``, ``pts.x[1]``,
                                  ``fixed_size_list<...>[2]`` (or one list   ``pts.y[0]``, ``pts.y[1]``
                                  of structs with ``nested="struct"``)
bitfield ``flags.syn``            its column, the smallest integer type      the same
                                  holding it (a ``struct`` member of the
                                  storage with ``nested="struct"``)
================================  =========================================  ====================================

The columns are the leaves of :meth:`recview.Schema.fields` in its order:
one column per leaf where a column holds arrays (Arrow, Parquet), one per
element named as :meth:`recview.FieldInfo.element_names` (``path[i]``,
``path[i][j]``, C order) where a cell holds one value (pandas).

Big-endian (or otherwise non-native) fields are always converted to native
byte order, which is a copy. The members of a C union are each converted
(they are different readings of the same bytes); padding bytes are skipped.

Strings: Arrow and Parquet keep a ``char[n]`` field's exact ``n`` bytes by
default (``strings="bytes"``, trailing NULs included): nothing is lost.
``strings="text"`` decodes it as numpy reads it -- trailing NUL bytes are
stripped (embedded NULs are kept) -- and then as UTF-8, raising
:class:`NotTextError` (naming the field and record) for bytes that are not
UTF-8; ``strings="str"`` replaces each invalid byte sequence by U+FFFD
instead (lossy). pandas defaults to ``"str"``, for display.

Enums: with ``enums="category"`` an integer that is not a member of the enum
becomes a missing value (pandas ``NaN``, Arrow null); keep the default
``enums="int"`` when such values must survive.

When nothing is copied
----------------------
A numpy field of a record array is *strided*: consecutive values are
``itemsize`` bytes apart, with the other fields in between.

- **Arrow** needs contiguous buffers, so a field is wrapped without a copy
  (``pa.py_buffer`` + ``pa.Array.from_buffers``) only when it is contiguous,
  native-order and aligned: a one-field record, any column of
  ``view.columns()``, or a fixed array filling a whole record. Any other
  field is copied once into a contiguous native-order buffer (the copy is
  then wrapped, not copied again). ``bool``, strings, enums as categories and
  complex numbers always produce new buffers.
- **pandas** can hold a strided column, so with the default ``copy=False``
  every native-order numeric, ``bool``, datetime and complex field is a view
  of the source (of the file's mapping, for a :class:`~recview.view.View`).
  ``copy=True`` gives owned, contiguous columns instead. Expanded fixed-array
  elements are views as well.

Arrow arrays and pandas columns that view a mapped file keep the mapping
alive; they stay valid after ``view.close()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from recview import _export, _tables
from recview._export import Source
from recview._extras import require
from recview._tables import (
    # the metadata key of to_arrow and to_parquet, for readers of their output
    SCHEMA_METADATA_KEY as SCHEMA_METADATA_KEY,  # noqa: PLC0414
    Arrays,
    Enums,
    Nested,
    NotTextError,
    Records,
    Strings,
)
from recview._vocab import NDArray, check_int
from recview.schema import Schema
from recview.view import open as open_view

__all__ = ["NotTextError", "to_arrow", "to_pandas", "to_parquet"]

# Default sizes for to_parquet, in bytes of records: a conversion batch small
# enough that the records it spans stay in cache while each field is copied
# out of them, and row groups of the size pyarrow's own writer aims for.
_BATCH_NBYTES = 1 << 20
_ROW_GROUP_NBYTES = 64 << 20
_ROW_GROUP_MAX_RECORDS = 1 << 20


def to_arrow(
    source: Source,
    *,
    schema: Schema | None = None,
    nested: Nested = "flatten",
    strings: Strings = "bytes",
    enums: Enums = "int",
    columns: Sequence[str] | None = None,
) -> Any:
    """Convert records to a :class:`pyarrow.Table`, zero-copy where possible.

    Parameters
    ----------
    source : View, structured ndarray or mapping of str to ndarray
        A view, an array of records (``view.array``, ``view[a:b]``, a batch
        from ``view.batches()``) or columns (``view.columns()``).
    schema : Schema, optional
        Supplies the enums, the bitfields (an array of its dtype has one
        column per bitfield, not its storage field) and the
        ``recview.schema`` metadata for an array or mapping; a view's own
        schema is used by default.
    nested : {"flatten", "struct"}
        ``"flatten"``: nested fields become columns with dotted names
        (``hdr.ts``). ``"struct"``: one Arrow ``struct`` column per top-level
        nested field (children are still zero-copy where possible).
    strings : {"bytes", "text", "str"}
        ``char[n]`` fields as the exact ``n`` raw bytes, trailing NULs
        included (``fixed_size_binary(n)``, zero-copy when contiguous; the
        default, which loses nothing); as UTF-8 ``string`` with trailing NULs
        stripped (``"text"``: bytes that are not UTF-8 raise
        :class:`NotTextError`); or as ``string`` with invalid bytes replaced
        by U+FFFD (``"str"``: lossy, for display).
    enums : {"int", "category"}
        Enum fields as their integers, or as ``dictionary<int32, string>``
        (non-members become null).
    columns : sequence of str, optional
        Output columns to convert (flattened names, or top-level names with
        ``nested="struct"``), in this order; default all.

    Returns
    -------
    pyarrow.Table
        With ``b"recview.schema"`` (the schema JSON) in its metadata when a
        schema is known.

    Raises
    ------
    ImportError
        If pyarrow is not installed (``pip install 'recview[arrow]'``).
    TypeError
        For a field Arrow cannot hold (``float128``) or a source of the
        wrong kind.
    KeyError
        For an unknown name in *columns*.

    Notes
    -----
    A column is a zero-copy wrapper around the source memory only when that
    field's values are contiguous, native-order and aligned -- a one-field
    record, a column of ``view.columns()`` or an array filling the record. A
    field of a multi-field record is strided and is copied once (see the
    module docstring for the full table).

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> schema = rv.Schema.from_dtype(
    ...     [("ts", ">u8"), ("pos", "<f4", (2,)), ("sym", "S4")])
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin")
    >>> np.array([(1, (0.5, 1.5), b"AB"), (2, (2.5, 3.5), b"XYZ")],
    ...          dtype=schema.dtype).tofile(path)
    >>> from recview.interop import to_arrow
    >>> with rv.open(path, schema) as view:
    ...     table = view.to_arrow()  # the same as recview.interop.to_arrow(view)
    >>> table.schema.types
    [DataType(uint64), FixedSizeListType(fixed_size_list<item: float>[2]), FixedSizeBinaryType(fixed_size_binary[4])]
    >>> table.column("sym").to_pylist(), table.column("ts").to_pylist()
    ([b'AB\\x00\\x00', b'XYZ\\x00'], [1, 2])
    >>> to_arrow(np.fromfile(path, schema.dtype), strings="text").column("sym").to_pylist()
    ['AB', 'XYZ']

    A contiguous column is wrapped, not copied:

    >>> cols = {"x": np.arange(4.0)}
    >>> to_arrow(cols).column("x").chunk(0).buffers()[1].address == cols["x"].ctypes.data
    True
    """
    return _export.to_arrow(
        source, schema=schema, nested=nested, strings=strings, enums=enums, columns=columns
    )


def to_pandas(
    source: Source,
    *,
    schema: Schema | None = None,
    strings: Strings = "str",
    enums: Enums = "int",
    arrays: Arrays = "columns",
    copy: bool = False,
    columns: Sequence[str] | None = None,
) -> Any:
    """Convert records to a :class:`pandas.DataFrame`, zero-copy where possible.

    Parameters
    ----------
    source : View, structured ndarray or mapping of str to ndarray
        A view, an array of records (``view.array``, ``view[a:b]``, a batch
        from ``view.batches()``) or columns (``view.columns()``).
    schema : Schema, optional
        Supplies the enums and the bitfields (as for :func:`to_arrow`) for an
        array or mapping; a view's own schema is used by default.
    strings : {"str", "text", "bytes"}
        ``char[n]`` fields as pandas strings (trailing NULs stripped, UTF-8
        with invalid bytes replaced by U+FFFD: the default, for display), as
        strings that must be UTF-8 (``"text"``: others raise
        :class:`NotTextError`), or as ``bytes`` objects of exactly ``n``
        bytes (lossless).
    enums : {"int", "category"}
        Enum fields as their integers, or as ``category`` (non-members become
        NaN).
    arrays : {"columns", "arrow", "object"}
        Fixed arrays as one column per element (``pos[0]``, ``pos[1]``, in C
        order, also through arrays of records: ``pts.x[1]``), as one column of
        ``pd.ArrowDtype(fixed_size_list)`` (needs pyarrow), or as one
        ``object`` column holding an ndarray per record.
    copy : bool
        ``False``: native-order numeric, ``bool``, datetime and complex
        columns are views of the source, even when strided (the typical
        field of a record). ``True``: every column is an owned, contiguous
        copy, which later pandas operations read faster.
    columns : sequence of str, optional
        Output column names to build, in this order; default all.

    Returns
    -------
    pandas.DataFrame
        Nested fields are flattened into dotted column names (``hdr.ts``);
        the index is a ``RangeIndex`` of record numbers.

    Raises
    ------
    ImportError
        If pandas (or pyarrow, for ``arrays="arrow"``) is not installed.
    KeyError
        For an unknown name in *columns*.

    Notes
    -----
    Big-endian fields, strings, enums as categories and non-native units
    of time are converted, i.e. copied; see the module docstring.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> schema = rv.Schema.from_dtype(
    ...     [("hdr", [("ts", "<u8"), ("kind", "u1")]), ("price", ">f8"), ("sym", "S4")])
    >>> path = os.path.join(tempfile.mkdtemp(), "trades.bin")
    >>> np.array([((1, 0), 9.5, b"AB"), ((2, 1), 9.75, b"XYZ")],
    ...          dtype=schema.dtype).tofile(path)
    >>> with rv.open(path, schema) as view:
    ...     df = view.to_pandas()  # the same as recview.interop.to_pandas(view)
    ...     shared = np.shares_memory(df["hdr.ts"].to_numpy(), view.array)
    >>> df
       hdr.ts  hdr.kind  price  sym
    0       1         0   9.50   AB
    1       2         1   9.75  XYZ
    >>> shared  # little-endian numeric fields view the file's mapping
    True
    """
    return _export.to_pandas(
        source,
        schema=schema,
        strings=strings,
        enums=enums,
        arrays=arrays,
        copy=copy,
        columns=columns,
    )


# --- Parquet ------------------------------------------------------------------


def _default_records(itemsize: int, nbytes: int, cap: int) -> int:
    return max(1, min(cap, nbytes // max(1, itemsize)))


def to_parquet(
    source: Source | str | os.PathLike[str],
    out: str | os.PathLike[str] | Any,
    *,
    schema: Schema | None = None,
    offset: int = 0,
    batch_records: int | None = None,
    row_group_records: int | None = None,
    compression: str | None = "snappy",
    nested: Nested = "flatten",
    strings: Strings = "bytes",
    enums: Enums = "int",
    columns: Sequence[str] | None = None,
    **writer_options: Any,
) -> int:
    """Write records to a Parquet file in batches, with bounded memory.

    Parameters
    ----------
    source : View, structured ndarray, mapping of columns, or path
        What to export. A path is opened with ``rv.open(source, schema,
        offset=offset)`` (``schema`` is then required) and closed afterwards.
    out : str, os.PathLike or writable binary file object
        Destination. A partially written *path* is removed if the export fails.
    schema : Schema, optional
        The record schema: required for a path, optional otherwise (for enums
        and the metadata).
    offset : int
        Header bytes before the first record, for a path *source*.
    batch_records : int, optional
        Records converted at a time (default: about 1 MiB of records).
    row_group_records : int, optional
        Records per Parquet row group (default: about 64 MiB of records, at
        most 1,048,576). Every row group but the last holds exactly this many
        records, so row-group boundaries fall on record boundaries at known
        record numbers.
    compression : str or None
        Parquet codec (``"snappy"``, ``"zstd"``, ``"gzip"``, ``None``...).
    nested, strings, enums, columns
        As in :func:`to_arrow`.
    **writer_options
        Passed to :class:`pyarrow.parquet.ParquetWriter`.

    Returns
    -------
    int
        Number of records written.

    Raises
    ------
    ImportError
        If pyarrow is not installed (``pip install 'recview[arrow]'``).
    ValueError
        If *source* is a path and *schema* is missing, or a size is not
        positive.

    Notes
    -----
    Peak memory is about two row groups of converted columns: pyarrow's
    writer encodes a whole row group before flushing it, and the next row
    group is converted in a helper thread meanwhile (both release the GIL,
    so conversion overlaps encoding). The pages of a mapped view are
    released batch by batch (``view.batches()``). The recview schema
    JSON is stored under ``b"recview.schema"`` in the file's key-value
    metadata, so the file records the layout it came from.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> import pyarrow.parquet as pq
    >>> schema = rv.Schema.from_dtype([("ts", "<u8"), ("price", ">f8")])
    >>> tmp = tempfile.mkdtemp()
    >>> path = os.path.join(tmp, "trades.bin")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"HDR!")  # a 4-byte file header
    ...     np.array([(i, i / 4) for i in range(10)], dtype=schema.dtype).tofile(f)
    >>> from recview.interop import to_parquet  # also rv.to_parquet
    >>> to_parquet(path, os.path.join(tmp, "t.parquet"), schema=schema, offset=4,
    ...            row_group_records=4)
    10
    >>> meta = pq.ParquetFile(os.path.join(tmp, "t.parquet")).metadata
    >>> [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    [4, 4, 2]
    """
    pa = require("pyarrow", extra="arrow", purpose="recview.to_parquet")
    pq = require("pyarrow.parquet", extra="arrow", purpose="recview.to_parquet")
    opened: Any = None
    if isinstance(source, (str, os.PathLike)):
        if schema is None:
            raise ValueError(f"{os.fspath(source)}: to_parquet needs schema= to read a path")
        # A URL gives a RemoteView, which answers the same calls as a View.
        source = opened = open_view(source, schema, offset=offset)
    try:
        return _write_parquet(
            pa,
            pq,
            source,
            out,
            schema=schema,
            batch_records=batch_records,
            row_group_records=row_group_records,
            compression=compression,
            nested=nested,
            strings=strings,
            enums=enums,
            columns=columns,
            writer_options=writer_options,
        )
    finally:
        if opened is not None:
            opened.close()


def _chunks(
    source: Source, schema: Schema | None, batch: int
) -> tuple[Iterator[Records], Records, int]:
    """Record chunks of at most *batch* records, an empty sample, and the total."""
    if _export.is_view(source):
        view: Any = source
        # batches() releases each window once the next is asked for, which
        # keeps the process's resident memory bounded on huge files.
        return view.batches(batch), view[0:0], len(view)
    data, _ = _export.resolve(source, schema)
    n = _tables.record_count(data)
    if isinstance(data, np.ndarray):
        return (data[a : a + batch] for a in range(0, n, batch)), data[0:0], n

    def sliced(a: int, b: int) -> Mapping[str, NDArray]:
        return {name: np.asarray(col)[a:b] for name, col in data.items()}

    return (sliced(a, a + batch) for a in range(0, n, batch)), sliced(0, 0), n


def _itemsize(source: object) -> int:
    # `object`: an invalid source is reported by _chunks, after this
    if isinstance(source, _export.Exports):
        return int(source.schema.itemsize)  # type: ignore[attr-defined]
    if isinstance(source, np.ndarray):
        return int(source.dtype.itemsize)
    if isinstance(source, Mapping):
        return sum(int(np.asarray(c).itemsize * np.prod(np.shape(c)[1:])) for c in source.values())
    return 1


def _write_parquet(
    pa: Any,
    pq: Any,
    source: Source,
    out: Any,
    *,
    schema: Schema | None,
    batch_records: int | None,
    row_group_records: int | None,
    compression: str | None,
    nested: Nested,
    strings: Strings,
    enums: Enums,
    columns: Sequence[str] | None,
    writer_options: Mapping[str, Any],
) -> int:
    for name, value in (("batch_records", batch_records), ("row_group_records", row_group_records)):
        if value is None:
            continue
        try:
            check_int(value, name, minimum=1)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if schema is None and isinstance(source, _export.Exports):
        schema = source.schema  # type: ignore[attr-defined]
    itemsize = _itemsize(source)
    rg = row_group_records or _default_records(itemsize, _ROW_GROUP_NBYTES, _ROW_GROUP_MAX_RECORDS)
    batch = min(rg, batch_records or _default_records(itemsize, _BATCH_NBYTES, rg))
    opts = _tables.options(schema, strings, enums)
    chunks, empty, total = _chunks(source, schema, batch)

    def convert(part: Records) -> Any:
        names, arrays = _tables.arrow_arrays(pa, part, opts, nested, columns)
        got = pa.RecordBatch.from_arrays(arrays, names=names)
        if got.schema.equals(arrow_schema):
            return got
        return got.cast(arrow_schema)  # e.g. large_string in a huge batch

    # The Arrow schema comes from zero records, so that every batch (and an
    # empty export) gets exactly the same types and metadata.
    names, arrays = _tables.arrow_arrays(pa, empty, opts, nested, columns)
    arrow_schema = pa.RecordBatch.from_arrays(arrays, names=names).schema.with_metadata(
        _tables.arrow_metadata(schema)
    )

    def row_groups() -> Iterator[Any]:
        group: list[Any] = []
        filled = 0
        for chunk in chunks:
            n = _tables.record_count(chunk)
            a = 0
            while a < n:
                # Cut the chunk where the row group ends: row groups hold
                # exactly `rg` records, whatever the batch size.
                b = min(n, a + rg - filled)
                group.append(convert(_slice(chunk, a, b)))
                filled += b - a
                a = b
                if filled == rg:
                    yield pa.Table.from_batches(group, schema=arrow_schema)
                    group, filled = [], 0
        if group:
            yield pa.Table.from_batches(group, schema=arrow_schema)

    is_path = isinstance(out, (str, os.PathLike))
    writer = pq.ParquetWriter(out, arrow_schema, compression=compression, **writer_options)
    try:
        for table in _prefetched(row_groups()):
            writer.write_table(table, table.num_rows)
    except BaseException:
        writer.close()
        if is_path:
            os.unlink(out)
        raise
    writer.close()
    return total


_DONE = object()


def _prefetched(items: Iterator[Any]) -> Iterator[Any]:
    """Yield from *items*, producing the next item in a thread meanwhile.

    to_parquet converts row group k+1 while pyarrow encodes and writes row
    group k: both release the GIL (numpy copies, Arrow kernels, the Parquet
    writer), so on two cores the conversion costs almost no wall time. At
    most two row groups are alive at once. (The view's SIGBUS guard is
    process-wide, so reading the mapping from that thread is as safe.)
    """
    with ThreadPoolExecutor(1, thread_name_prefix="recview-to-parquet") as pool:
        pending = pool.submit(next, items, _DONE)
        while (item := pending.result()) is not _DONE:
            pending = pool.submit(next, items, _DONE)
            yield item


def _slice(chunk: Records, a: int, b: int) -> Records:
    if isinstance(chunk, np.ndarray):
        return chunk if a == 0 and b == len(chunk) else chunk[a:b]
    return {name: np.asarray(col)[a:b] for name, col in chunk.items()}
