"""``recview sql``: a DuckDB query over record files (:func:`recview.sql.sql`), printed.

The command's file is table ``t``; each ``--table NAME=FILE:SCHEMA`` adds
one more. The result (a ``pyarrow.Table``) is written as a table, CSV, JSON
lines or a JSON array, one Arrow batch at a time.
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime
import decimal
import json
import math
import re
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from recview._extras import require
from recview.cli._common import EXIT_OK, UsageError, cut
from recview.cli._render import (
    Style,
    ellipsize,
    fit_line,
    fit_widths,
    show_bytes,
    terminal_width,
    use_color,
)
from recview.cli._sources import Source, open_source
from recview.sql import sql

#: Rows per Arrow batch turned into text at once.
_ROWS_PER_BATCH = 65536
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_table(text: str) -> tuple[str, str, str | None]:
    """``NAME=FILE:SCHEMA`` as ``(name, file, schema)``; the schema may be left out
    (``NAME=FILE``) when the command's ``-s`` fits that file too.

    The file ends at the first ``:`` that is not part of a URL's ``://``, so
    a schema may itself hold colons (``file.h:struct``, ``module:Name``).

    Examples
    --------
    >>> parse_table("u=data/b.bin:samples/particle.h:particle")
    ('u', 'data/b.bin', 'samples/particle.h:particle')
    >>> parse_table("r=s3://bucket/x.bin:x.json")
    ('r', 's3://bucket/x.bin', 'x.json')
    >>> parse_table("v=b.bin")
    ('v', 'b.bin', None)
    """
    name, eq, rest = text.partition("=")
    if not eq or not rest:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE:SCHEMA, got {text!r}")
    if not _NAME.match(name):
        raise argparse.ArgumentTypeError(
            f"table name {name!r} is not an SQL identifier (letters, digits, _)"
        )
    scheme = rest.find("://")
    start = scheme + 3 if scheme > 0 else 0
    colon = rest.find(":", start)
    if colon < 0:
        return name, rest, None
    path, spec = rest[:colon], rest[colon + 1 :]
    if not path or not spec:
        raise argparse.ArgumentTypeError(f"expected NAME=FILE:SCHEMA, got {text!r}")
    return name, path, spec


def _open_table(args: argparse.Namespace, name: str, path: str, spec: str | None) -> Source:
    """A mapped source for ``--table``: the command's reading options, with
    no header and every whole record (``--offset``/``--count`` are ``t``'s)."""
    sub = copy.copy(args)
    sub.file = path
    sub.offset = 0
    sub.count = None
    if spec is not None:
        sub.schema = spec
        sub._schema = None
    elif not args.schema:
        raise UsageError(f"--table {name}={path}: give its schema as {name}={path}:SCHEMA")
    return _mapped(open_source(sub), f"--table {name}")


def _mapped(src: Source, what: str) -> Source:
    if not src.seekable:
        src.close()
        raise UsageError(
            f"{what}: {src.name}: sql needs a file it can map, not standard input, "
            "a pipe or a compressed file (decompress it first)"
        )
    return src


def cmd_sql(args: argparse.Namespace) -> int:
    sources: dict[str, Source] = {}
    try:
        sources["t"] = _mapped(open_source(args), "FILE")
        for name, path, spec in args.table:
            if name in sources:
                raise UsageError(f"--table {name}: table {name!r} is given twice")
            sources[name] = _open_table(args, name, path, spec)
        result = sql(args.query, **{name: src.view for name, src in sources.items()})
        for src in sources.values():
            src.verify()  # a file cut under the scan reads as zeros: say so
    finally:
        for src in sources.values():
            src.close()
    out = sys.stdout
    style = Style(use_color(args.color, out))
    write_result(result, out, args.format, style=style, width=terminal_width(out))
    out.flush()
    return EXIT_OK


# --- the result as text --------------------------------------------------------


def _cell(value: Any) -> str:
    """Text of one value in a table or CSV cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        return show_bytes(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_cell(v)}" for k, v in value.items()) + "}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return show_bytes(value)
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    return str(value)


def _rows(table: Any) -> Iterator[tuple[list[str], list[list[Any]]]]:
    """(names, columns of Python values) per batch of the result."""
    names = [str(n) for n in table.column_names]
    for batch in table.to_batches(max_chunksize=_ROWS_PER_BATCH):
        yield names, [col.to_pylist() for col in batch.columns]


def write_result(
    table: Any, out: TextIO, fmt: str, *, style: Style | None = None, width: int | None = None
) -> None:
    """Write a ``pyarrow.Table`` as ``table``, ``csv``, ``jsonl`` or ``json``;
    a table is cut to ``width`` characters a line (with ``…``) when given.

    Examples
    --------
    >>> import io, pyarrow as pa
    >>> t = pa.table({"side": [0, 1], "px": [9.5, None], "sym": [b"AB\\0", b"XY\\0"]})
    >>> out = io.StringIO(); write_result(t, out, "table"); print(out.getvalue(), end="")
    side   px  sym
    ----  ---  ---
       0  9.5  AB
       1       XY
    >>> out = io.StringIO(); write_result(t, out, "jsonl"); print(out.getvalue(), end="")
    {"side": 0, "px": 9.5, "sym": "AB"}
    {"side": 1, "px": null, "sym": "XY"}
    """
    st = style or Style(False)
    names = [str(n) for n in table.column_names]
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        for _names, cols in _rows(table):
            writer.writerows(zip(*([_cell(v) for v in col] for col in cols), strict=True))
        return
    if fmt in ("jsonl", "json"):
        first = True
        if fmt == "json":
            out.write("[")
        for _names, cols in _rows(table):
            for row in zip(*cols, strict=True):
                text = json.dumps(
                    {n: _jsonable(v) for n, v in zip(names, row, strict=True)}, allow_nan=False
                )
                if fmt == "jsonl":
                    out.write(text + "\n")
                else:
                    out.write(("\n  " if first else ",\n  ") + text)
                first = False
        if fmt == "json":
            out.write("]\n" if first else "\n]\n")
        return
    _write_table(table, names, out, st, width)


def _write_table(table: Any, names: list[str], out: TextIO, st: Style, width: int | None) -> None:
    pa = require("pyarrow", extra="arrow", purpose="recview sql")  # the result's package

    right = [
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        for t in table.schema.types
    ]
    widths: list[int] | None = None
    for _names, cols in _rows(table):
        cells = [[cut(_cell(v)) for v in col] for col in cols]
        if widths is None:  # from the first batch, as head's tables
            widths = fit_widths(
                [max([len(n), *map(len, col)]) for n, col in zip(names, cells, strict=True)],
                width,
            )
            _header(names, widths, right, out, st, width)
        for row in zip(*cells, strict=True):
            line = "  ".join(
                ellipsize(s, w).rjust(w) if r else ellipsize(s, w).ljust(w)
                for s, w, r in zip(row, widths, right, strict=True)
            )
            out.write(fit_line(line.rstrip(), width) + "\n")
    if widths is None:
        _header(names, [len(n) for n in names], right, out, st, width)


def _header(
    names: list[str],
    widths: list[int],
    right: list[bool],
    out: TextIO,
    st: Style,
    width: int | None = None,
) -> None:
    head = "  ".join(
        ellipsize(n, w).rjust(w) if r else ellipsize(n, w).ljust(w)
        for n, w, r in zip(names, widths, right, strict=True)
    )
    out.write(f"{st.bold}{fit_line(head.rstrip(), width)}{st.reset}\n")
    out.write(fit_line("  ".join("-" * w for w in widths), width) + "\n")
