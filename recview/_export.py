"""The export methods views share: ``to_pandas``, ``to_arrow``, ``to_arrow_reader``, ``to_polars``.

This module owns :class:`Exports`, the base class that gives
:class:`~recview.view.View` and :class:`~recview._remote_view.RemoteView`
those four methods (written once for both), and what they run: a view, an
array of records or a mapping of columns resolved to records and a schema,
converted by :mod:`recview._tables`, then checked against truncation; and the
stream of converted batches (:class:`BatchSource`) that ``to_arrow_reader``
and :func:`recview.sql.sql` read. The public functions and their
documentation are in :mod:`recview.interop` and :mod:`recview.sql`, which
call down here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from recview import _tables
from recview._extras import require
from recview._vocab import NDArray, as_names
from recview.schema import Schema

__all__ = [
    "BatchSource",
    "Exports",
    "Source",
    "arrow_reader",
    "check_view",
    "is_view",
    "polars_frame",
    "resolve",
    "to_arrow",
    "to_pandas",
    "verify",
]


class Exports:
    """``to_pandas``, ``to_arrow``, ``to_arrow_reader`` and ``to_polars`` of a view.

    A subclass has ``schema``, ``array``, ``batches(records)``, ``len()``
    and ``view[a:b]``, and may override :meth:`_verify`.
    """

    __slots__ = ()

    def _verify(self) -> object:
        """After a copy out of the view: raise if the file shrank under it
        (a View's mapping reads zeros past a mid-page cut); copies made by
        reads that check their length need nothing."""
        return None

    def to_pandas(self, **kwargs: Any) -> Any:
        """These records as a ``pandas.DataFrame``; see :func:`recview.interop.to_pandas`."""
        return to_pandas(self, **kwargs)

    def to_arrow(self, **kwargs: Any) -> Any:
        """These records as a ``pyarrow.Table``; see :func:`recview.interop.to_arrow`."""
        return to_arrow(self, **kwargs)

    def to_arrow_reader(self, records: int | None = None, **kwargs: Any) -> Any:
        """These records streamed as a ``pyarrow.RecordBatchReader``, batch by batch
        (memory bounded by about one batch); see :func:`recview.sql.to_arrow_reader`.

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
        >>> np.arange(10, dtype="<u4").tofile(path)
        >>> with rv.open(path, [("x", "<u4")]) as view:
        ...     print([batch.num_rows for batch in view.to_arrow_reader(4)])
        [4, 4, 2]
        """
        return arrow_reader(self, records, **kwargs)

    def to_polars(self, **kwargs: Any) -> Any:
        """These records as a ``polars.DataFrame``, zero-copy where Arrow is;
        see :func:`recview.sql.to_polars`.

        Examples
        --------
        >>> import os, tempfile, numpy as np, recview as rv
        >>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
        >>> np.arange(4, dtype=">i8").tofile(path)
        >>> with rv.open(path, [("x", ">i8")]) as view:
        ...     print(view.to_polars()["x"].to_list())
        [0, 1, 2, 3]
        """
        return polars_frame(self, **kwargs)


#: What the conversions take: a view, an array of records, or columns.
Source: TypeAlias = Exports | NDArray | Mapping[str, NDArray]


def is_view(source: object) -> bool:
    """Whether *source* is a view (local or remote) rather than records."""
    return isinstance(source, Exports)


def check_view(view: object, what: str) -> Any:
    """*view*, or a TypeError naming *what* when it is no view."""
    if not is_view(view):
        raise TypeError(f"{what}: expected a recview View (rv.open), got {type(view).__name__}")
    return view


def verify(source: Source) -> None:
    """After copying out of a View: a TruncatedError if the file shrank under
    it (pages past a mid-page cut read as zeros without any fault)."""
    if isinstance(source, Exports):
        source._verify()


def resolve(source: Source, schema: Schema | None) -> tuple[_tables.Records, Schema | None]:
    """Return the array (or mapping of columns) behind *source* and its schema."""
    if is_view(source):
        view: Any = source
        return view.array, schema if schema is not None else view.schema
    return _tables.records(source), schema


def to_arrow(
    source: Source,
    *,
    schema: Schema | None = None,
    nested: _tables.Nested = "flatten",
    strings: _tables.Strings = "bytes",
    enums: _tables.Enums = "int",
    columns: Sequence[str] | None = None,
) -> Any:
    """:func:`recview.interop.to_arrow`, documented there."""
    pa = require("pyarrow", extra="arrow", purpose="recview.interop.to_arrow")
    data, schema = resolve(source, schema)
    table = _tables.arrow_table(
        pa, data, schema, nested=nested, strings=strings, enums=enums, columns=columns
    )
    verify(source)
    return table


def to_pandas(
    source: Source,
    *,
    schema: Schema | None = None,
    strings: _tables.Strings = "str",
    enums: _tables.Enums = "int",
    arrays: _tables.Arrays = "columns",
    copy: bool = False,
    columns: Sequence[str] | None = None,
) -> Any:
    """:func:`recview.interop.to_pandas`, documented there."""
    pd = require("pandas", extra="pandas", purpose="recview.interop.to_pandas")
    data, schema = resolve(source, schema)
    frame = _tables.pandas_frame(
        pd, data, schema, strings=strings, enums=enums, arrays=arrays, copy=copy, columns=columns
    )
    verify(source)
    return frame


# --- streams of Arrow batches ---------------------------------------------------------


class BatchSource:
    """One view as Arrow: its full Arrow schema and a generator of batches
    converting only the requested columns.

    Conversion errors are kept in :attr:`errors`, because DuckDB reports an
    exception raised inside a scan as its own error type, with the Python
    exception reduced to text.
    """

    def __init__(
        self,
        view: Any,
        *,
        records: int | None,
        options: dict[str, Any],
        halffloat_as_float: bool = False,
    ) -> None:
        self.pa = require("pyarrow", extra="arrow", purpose="recview.sql")
        self.view = view
        self.records = records
        self.options = options
        self.errors: list[BaseException] = []
        # Zero records of the view: the Arrow types and metadata every batch
        # gets (as to_parquet does), and ClosedError now for a closed view.
        schema = to_arrow(view[0:0], schema=view.schema, **options).schema
        if halffloat_as_float:
            # DuckDB has no 16-bit float ("Unsupported Internal Arrow Type e").
            pa = self.pa
            schema = pa.schema(
                [f.with_type(pa.float32()) if f.type == pa.float16() else f for f in schema],
                metadata=schema.metadata,
            )
        self.schema = schema

    def projected(self, columns: Sequence[str] | None) -> Any:
        """The Arrow schema of *columns* (all when ``None``), in that order."""
        columns = as_names(columns)
        if columns is None:
            return self.schema
        if not columns:
            raise ValueError("columns must name at least one column")
        unknown = [c for c in columns if self.schema.get_field_index(c) < 0]
        if unknown:
            raise KeyError(f"no such column(s) {unknown}; columns are {self.schema.names}")
        fields = [self.schema.field(c) for c in dict.fromkeys(columns)]
        return self.pa.schema(fields, metadata=self.schema.metadata)

    def batches(self, schema: Any) -> Iterator[Any]:
        """Converted record batches of *schema*'s columns, one per window."""
        columns = schema.names
        pa = self.pa
        try:
            for batch in self.view.batches(self.records):
                table = to_arrow(batch, schema=self.view.schema, columns=columns, **self.options)
                arrays = [_owned(pa, col, batch) for col in table.columns]
                out = pa.RecordBatch.from_arrays(arrays, names=columns)
                if not out.schema.equals(schema, check_metadata=False):
                    out = out.cast(schema)  # float16 for DuckDB, large_string, ...
                yield out.replace_schema_metadata(schema.metadata)
        except Exception as err:  # not GeneratorExit: a LIMIT stops the scan early
            self.errors.append(err)
            raise


def _owned(pa: Any, column: Any, batch: np.ndarray[Any, Any]) -> Any:
    """*column* (a ChunkedArray of one chunk), copied if it views *batch*.

    The conversion wraps a contiguous field (a one-field record, an array
    filling the record) without copying. In a stream that would be wrong: the
    window under *batch* is released (``MADV_DONTNEED``) as soon as the next
    one is read, and a consumer still reading this batch would fault the pages
    back in, outside any window, so resident memory would grow with the file.
    """
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    lo = batch.__array_interface__["data"][0]
    hi = lo + batch.nbytes
    if any(b is not None and lo <= b.address < hi for b in array.buffers()):
        return pa.concat_arrays([array])  # a copy, with the same type
    return array


def arrow_reader(
    view: Any,
    records: int | None = None,
    *,
    columns: Sequence[str] | None = None,
    nested: _tables.Nested = "flatten",
    strings: _tables.Strings = "bytes",
    enums: _tables.Enums = "int",
) -> Any:
    """:func:`recview.sql.to_arrow_reader`, documented there."""
    pa = require("pyarrow", extra="arrow", purpose="recview.sql.to_arrow_reader")
    view = check_view(view, "to_arrow_reader")
    options = {"nested": nested, "strings": strings, "enums": enums}
    source = BatchSource(view, records=records, options=options)
    schema = source.projected(columns)
    if records is not None:
        # Check now rather than at the first read (view.batches does the same).
        view.batches(records)
    return pa.RecordBatchReader.from_batches(schema, source.batches(schema))


def polars_frame(
    view: Any,
    *,
    nested: _tables.Nested = "flatten",
    strings: _tables.Strings = "bytes",
    enums: _tables.Enums = "int",
    columns: Sequence[str] | None = None,
) -> Any:
    """:func:`recview.sql.to_polars`, documented there."""
    pl = require("polars", extra="polars", purpose="recview.sql.to_polars")
    require("pyarrow", extra="polars", purpose="recview.sql.to_polars")
    view = check_view(view, "to_polars")
    table = to_arrow(view, nested=nested, strings=strings, enums=enums, columns=columns)
    # rechunk=False: to_arrow gives one chunk per column already, and
    # rechunking is where polars would copy.
    return pl.from_arrow(table, rechunk=False)
