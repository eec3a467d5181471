"""SQL over record views (DuckDB), streaming Arrow readers and Polars frames.

This module owns three ways of handing a :class:`~recview.view.View` to a
columnar engine without loading the file:

- :func:`to_arrow_reader` streams the view as a
  :class:`pyarrow.RecordBatchReader`, one ``view.batches()`` window at a time,
  each converted by :func:`recview.interop.to_arrow` (one type mapping for the
  whole library: big-endian fields are byte-swapped, ``char[n]`` fields keep
  their bytes, nested fields get dotted names such as ``hdr.ts``);
- :func:`sql` runs a DuckDB query over views given by name, streamed through
  the same conversion, converting only the columns the query reads;
- :func:`to_polars` converts a view to a :class:`polars.DataFrame`, sharing the
  Arrow buffers.

duckdb, polars and pyarrow are optional (extras ``recview[sql]`` and
``recview[polars]``) and are imported inside the functions.

How the query reaches the file
------------------------------
DuckDB scans a registered ``pyarrow.dataset.Dataset`` by calling
``type(dataset).scanner(dataset, columns=[...], filter=expr)`` with the
columns the query needs and the filters it pushed down (a plain
``RecordBatchReader`` gets no such call: DuckDB reads every column from it and
drops the ones it does not need, so a reader would convert them all). Each view
is therefore registered as a small ``InMemoryDataset`` subclass whose
``scanner`` converts exactly those columns, plus the ones the pushed filter
refers to, batch by batch, and lets Arrow apply the filter.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from recview import _export
from recview._export import BatchSource
from recview._extras import require
from recview._remote_view import RemoteView
from recview._tables import Enums, Nested, Strings
from recview.errors import RecviewError
from recview.view import View

__all__ = ["SQLError", "sql", "to_arrow_reader", "to_polars"]

# Batches the Arrow scanner converts ahead of DuckDB. Its default (16) would
# keep up to 16 converted windows alive at once; two keep the converting
# thread busy while DuckDB works on the previous batch.
_READAHEAD = 2
# Column names shown per table in an SQLError message.
_MAX_NAMES_SHOWN = 24


class SQLError(RecviewError, ValueError):
    """DuckDB rejected the query given to :func:`sql`: a syntax error, an
    unknown table or column, a type error.

    The message is DuckDB's, followed by the tables the query could use and
    their columns. The DuckDB exception is chained (``err.__cause__``). Errors
    raised while reading a view (a :class:`~recview.errors.TruncatedError`, a
    :class:`~recview.interop.NotTextError`) are re-raised as themselves, not
    wrapped in this class.
    """


def to_arrow_reader(
    view: View | RemoteView,
    records: int | None = None,
    *,
    columns: Sequence[str] | None = None,
    nested: Nested = "flatten",
    strings: Strings = "bytes",
    enums: Enums = "int",
) -> Any:
    """Stream a view as a :class:`pyarrow.RecordBatchReader`, batch by batch.

    Parameters
    ----------
    view : View or RemoteView
        An open view (``rv.open``, a local file or a URL).
    records : int, optional
        Records per batch; default about 8 MiB of records (``view.batches()``).
    columns : sequence of str, optional
        Columns to convert (flattened names such as ``hdr.ts``, or top-level
        names with ``nested="struct"``), in this order; default all. The
        other fields are not read or converted.
    nested, strings, enums
        As in :func:`recview.interop.to_arrow`.

    Returns
    -------
    pyarrow.RecordBatchReader
        One record batch per window of the view, with the schema (and the
        ``b"recview.schema"`` metadata) :func:`~recview.interop.to_arrow` gives
        the whole view. It can be read once.

    Raises
    ------
    ImportError
        If pyarrow is not installed (``pip install 'recview[arrow]'``).
    recview.ClosedError
        If the view is closed (now, or while the reader is read).
    KeyError
        For an unknown name in *columns*.
    ValueError
        For an empty *columns*.

    Notes
    -----
    Memory stays bounded by about one batch, whatever the file size: each
    window of the mapping is released when the next is read, and every batch
    is converted into buffers of its own (big-endian fields byte-swapped,
    strided fields gathered). A field that :func:`~recview.interop.to_arrow`
    would wrap without copying (a contiguous column) is copied here, because
    the window it would point into is released as the stream moves on.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> from recview.sql import to_arrow_reader
    >>> schema = rv.Schema.from_dtype(
    ...     [("hdr", [("ts", ">u8"), ("kind", "u1")]), ("price", "<f8")])
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin")
    >>> np.array([((i, i % 2), i / 4) for i in range(10)], dtype=schema.dtype).tofile(path)
    >>> with rv.open(path, schema) as view:
    ...     reader = to_arrow_reader(view, 4, columns=["hdr.ts", "price"])
    ...     print(reader.schema.names)
    ...     print([batch.num_rows for batch in reader])
    ['hdr.ts', 'price']
    [4, 4, 2]
    """
    return _export.arrow_reader(
        view, records, columns=columns, nested=nested, strings=strings, enums=enums
    )


def to_polars(
    view: View | RemoteView,
    *,
    nested: Nested = "flatten",
    strings: Strings = "bytes",
    enums: Enums = "int",
    columns: Sequence[str] | None = None,
) -> Any:
    """Convert a view to a :class:`polars.DataFrame`, zero-copy where Arrow is.

    Parameters
    ----------
    view : View or RemoteView
        An open view.
    nested, strings, enums, columns
        As in :func:`recview.interop.to_arrow` (``strings="text"`` gives
        polars ``String`` columns instead of ``Binary``).

    Returns
    -------
    polars.DataFrame
        One column per field, named as in :func:`~recview.interop.to_arrow`
        (``hdr.ts`` for nested fields).

    Raises
    ------
    ImportError
        If polars or pyarrow is not installed (``pip install 'recview[polars]'``).
    KeyError
        For an unknown name in *columns*.

    Notes
    -----
    The frame is built from :func:`~recview.interop.to_arrow` of the whole
    view with ``polars.from_arrow``, which keeps the Arrow buffers of
    numeric, datetime and fixed-array columns. So:

    - a native-order numeric field that is contiguous in the file (a
      one-field record, an array filling the record) shares memory with the
      file's mapping: nothing is copied;
    - any other native-order numeric field of a multi-field record is copied
      once (Arrow and polars need contiguous values), and polars shares that
      copy;
    - big-endian fields are byte-swapped (a copy); ``char[n]`` fields become
      polars ``Binary`` or ``String`` (new buffers, as polars stores bytes
      its own way), and enums with ``enums="category"`` become
      ``Categorical`` (new buffers). ``bool`` is bit-packed (a copy).

    Unlike :func:`to_arrow_reader` the result holds every record at once.
    Columns that view the mapping keep it alive after ``view.close()``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> from recview.sql import to_polars
    >>> schema = rv.Schema.from_dtype([("ts", ">u8"), ("price", "<f8"), ("sym", "S4")])
    >>> path = os.path.join(tempfile.mkdtemp(), "trades.bin")
    >>> np.array([(1, 9.5, b"AB"), (2, 9.75, b"XYZ")], dtype=schema.dtype).tofile(path)
    >>> with rv.open(path, schema) as view:
    ...     df = to_polars(view, strings="text")
    >>> df.columns, df["price"].sum(), df["sym"].to_list()
    (['ts', 'price', 'sym'], 19.25, ['AB', 'XYZ'])

    A contiguous field (here the only one) is the file's mapping itself:

    >>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> np.arange(4.0).tofile(path)
    >>> with rv.open(path, [("x", "<f8")]) as view:
    ...     x = to_polars(view)["x"].to_numpy()
    ...     print(np.shares_memory(x, view.array))
    True
    """
    return _export.polars_frame(view, nested=nested, strings=strings, enums=enums, columns=columns)


@functools.cache
def _dataset_class() -> type:
    """The ``InMemoryDataset`` subclass DuckDB scans (made on first use:
    pyarrow is optional)."""
    ds = require("pyarrow.dataset", extra="sql", purpose="recview.sql")

    class ViewDataset(ds.InMemoryDataset):  # type: ignore[misc, name-defined]
        """A dataset whose only data is a view, converted when scanned.

        The base is an *empty* table of the view's Arrow schema, so that
        ``.schema`` is right; every scan goes through :meth:`scanner`.
        """

        source: BatchSource

        def scanner(
            self, columns: Sequence[str] | None = None, filter: Any = None, **kwargs: Any
        ) -> Any:
            source = self.source
            wanted = list(source.schema.names if columns is None else columns)
            needed = wanted + _filter_columns(ds, source.schema, filter, wanted)
            schema = source.projected(needed)
            kwargs.setdefault("batch_readahead", _READAHEAD)
            return ds.Scanner.from_batches(
                source.batches(schema),
                schema=schema,
                columns=wanted,
                filter=filter,
                **kwargs,
            )

    return ViewDataset


def _filter_columns(ds: Any, schema: Any, filter: Any, have: Sequence[str]) -> list[str]:
    """Columns of *schema* not in *have* that the Arrow expression *filter*
    refers to, found by binding it against schemas without each of them.

    pyarrow has no public way to list an expression's fields. A filter that
    does not bind for another reason makes every column look needed, which
    costs time but never gives a wrong answer.
    """
    if filter is None:
        return []
    pa = require("pyarrow", extra="sql", purpose="recview.sql")

    def binds(names: Sequence[str]) -> bool:
        sub = pa.schema([schema.field(n) for n in names])
        try:
            ds.Scanner.from_batches(iter(()), schema=sub, filter=filter)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return False
        return True

    if binds(have):
        return []
    rest = [n for n in schema.names if n not in have]
    return [n for n in rest if not binds([m for m in schema.names if m != n])]


def _fetch(relation: Any) -> Any:
    # duckdb 2 names it to_arrow_table; duckdb 1.x fetch_arrow_table.
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return fetch()


def _describe(sources: dict[str, BatchSource]) -> str:
    if not sources:
        return "no tables were given (pass views by name: rv.sql(query, t=view))"
    parts = []
    for name, source in sources.items():
        names = source.schema.names
        shown = ", ".join(names[:_MAX_NAMES_SHOWN])
        more = f", ... ({len(names)} columns)" if len(names) > _MAX_NAMES_SHOWN else ""
        parts.append(f"{name}({shown}{more})")
    return "tables: " + "; ".join(parts)


def sql(query: str, /, **views: View | RemoteView) -> Any:
    """Run a DuckDB SQL query over record views, streamed; return a table.

    Parameters
    ----------
    query : str
        DuckDB SQL. Tables are the keyword names of *views*; columns are the
        flattened field names (``schema.fields()`` paths), so a nested field
        is quoted: ``select "hdr.ts" from t``.
    **views : View or RemoteView
        The tables, by name: ``sql("select ...", t=view, u=other)``.

    Returns
    -------
    pyarrow.Table
        The query's result; a statement without one (``set ...``) gives
        what DuckDB returns for it, or an empty table.

    Raises
    ------
    ImportError
        If duckdb or pyarrow is not installed (``pip install 'recview[sql]'``).
    SQLError
        If DuckDB rejects the query (syntax, unknown table or column, types);
        the message lists the tables and their columns.
    TypeError
        If a table is not a recview View.
    recview.ClosedError, recview.TruncatedError, recview.interop.NotTextError
        Raised while reading a view; re-raised as themselves.

    Notes
    -----
    Each call uses a private in-memory DuckDB connection (closed on return)
    with Python replacement scans off, so only the views given are tables.
    Every view is read in ``view.batches()`` windows: peak memory is a few
    windows plus what the query itself keeps (a ``group by`` keeps its
    groups), not the file size. Only the columns the query reads (and those
    its pushed-down filters test) are converted; the other fields are never
    decoded. Fields map as in :func:`recview.interop.to_arrow` with its
    defaults: ``char[n]`` is a ``BLOB`` of exactly ``n`` bytes (text:
    ``rtrim(decode(sym), chr(0))``), big-endian fields are byte-swapped per
    batch, enums are their integers, and ``float16`` fields are widened to
    ``FLOAT`` (DuckDB has no 16-bit float).

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> from recview.sql import sql  # also rv.sql
    >>> schema = rv.Schema.from_dtype(
    ...     [("ts", "<u8"), ("price", ">f8"), ("side", "u1"), ("sym", "S4")])
    >>> path = os.path.join(tempfile.mkdtemp(), "trades.bin")
    >>> recs = np.array([(i, 10 + i / 4, i % 2, b"AB") for i in range(8)], dtype=schema.dtype)
    >>> recs.tofile(path)
    >>> with rv.open(path, schema) as view:
    ...     table = sql("select side, avg(price) as p from t group by side order by side",
    ...                 t=view)
    >>> table.to_pydict()
    {'side': [0, 1], 'p': [10.75, 11.0]}
    >>> with rv.open(path, schema) as view:
    ...     print(sql("select rtrim(decode(sym), chr(0)) as s, count(*) as n"
    ...               " from t group by s", t=view).to_pylist())
    [{'s': 'AB', 'n': 8}]
    """
    duckdb = require("duckdb", extra="sql", purpose="recview.sql")
    require("pyarrow", extra="sql", purpose="recview.sql")
    if not isinstance(query, str):
        raise TypeError(f"query must be a str of SQL, got {type(query).__name__}")
    dataset_class = _dataset_class()
    sources = {
        name: BatchSource(
            _export.check_view(view, f"table {name!r}"),
            records=None,
            options={"nested": "flatten", "strings": "bytes", "enums": "int"},
            halffloat_as_float=True,
        )
        for name, view in views.items()
    }
    con = duckdb.connect(":memory:")
    try:
        # Otherwise DuckDB also resolves unknown table names to Python
        # variables of the calling frames (pandas frames, Arrow tables).
        con.execute("SET python_enable_replacements = false")
        for name, source in sources.items():
            dataset = dataset_class(source.schema.empty_table())
            dataset.source = source
            con.register(name, dataset)
        try:
            relation = con.sql(query)
            if relation is None:
                return require("pyarrow", extra="sql").table({})
            return _fetch(relation)
        except duckdb.Error as err:
            for source in sources.values():
                if source.errors:
                    raise source.errors[0] from err
            raise SQLError(f"{err} ({_describe(sources)})") from err
    finally:
        con.close()
