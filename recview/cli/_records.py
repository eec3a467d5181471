"""``recview head``, ``tail``, ``slice`` and ``inspect``: records printed, or dumped as annotated hex."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

import numpy as np

from recview.cli._common import EXIT_OK, NDArray, UsageError
from recview.cli._hexdump import (
    ascii_text as _ascii,
    hex_text as _hex,
    record_rows as _inspect_rows,
)
from recview.cli._render import (
    RowWriter,
    Style,
    chunks,
    select_columns,
    terminal_width,
    use_color,
)
from recview.cli._sources import Source, open_source
from recview.schema import Schema

#: Bytes of hex shown per line in ``inspect``.
HEX_PER_LINE = 8


def parse_rows(text: str) -> slice:
    """Parse ``--rows``: ``a:b``, ``a:``, ``:b``, ``a:b:c`` or a single index ``n``.

    Examples
    --------
    >>> parse_rows("10:20"), parse_rows("-5:"), parse_rows("3"), parse_rows("::2")
    (slice(10, 20, None), slice(-5, None, None), slice(3, 4, None), slice(None, None, 2))
    >>> parse_rows("-1")
    slice(-1, None, None)
    """
    parts = text.strip().split(":")
    if len(parts) > 3:
        raise argparse.ArgumentTypeError(f"not a slice: {text!r} (use a:b or a:b:c)")
    try:
        nums = [int(p, 0) if p.strip() else None for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a slice: {text!r} (use a:b or a:b:c)") from None
    if len(nums) == 1:
        i = nums[0]
        if i is None:
            raise argparse.ArgumentTypeError("empty --rows")
        return slice(i, i + 1 if i != -1 else None)
    if len(nums) == 3 and nums[2] == 0:
        raise argparse.ArgumentTypeError("slice step cannot be zero")
    return slice(*nums)


def _print_records(
    args: argparse.Namespace, src: Source, arr: NDArray, first: int, step: int = 1
) -> None:
    out = sys.stdout
    columns = select_columns(src.schema, args.fields, hex=args.hex)
    writer = RowWriter(
        out,
        columns,
        args.format,
        index=True,
        style=Style(use_color(args.color, out)),
        width=terminal_width(out),
        vertical=args.vertical,
    )
    mapped = src.view is not None and src.view.mode == "mmap"
    for chunk, a in chunks(arr):
        if mapped:
            # Copy, then check, then print: rows of the mapping past a cut made
            # while earlier chunks were printed read as zeros.
            chunk = np.array(chunk)
            src.verify()
        writer.write(chunk, first + a * step, step)
    writer.close()


def cmd_head(args: argparse.Namespace) -> int:
    """``recview head``: the first ``-n`` records."""
    src = open_source(args)
    try:
        arr, first, step = src.take(slice(0, args.n))
        _print_records(args, src, arr, first, step)
        src.verify()
    finally:
        src.close()
    return EXIT_OK


def cmd_tail(args: argparse.Namespace) -> int:
    """``recview tail``: the last ``-n`` records."""
    src = open_source(args)
    try:
        arr, first = src.tail(args.n)
        _print_records(args, src, arr, first)
        src.verify()
    finally:
        src.close()
    return EXIT_OK


def cmd_slice(args: argparse.Namespace) -> int:
    """``recview slice --rows a:b``: records ``a..b`` (Python slice semantics)."""
    src = open_source(args)
    try:
        arr, first, step = src.take(args.rows)
        _print_records(args, src, arr, first, step)
        src.verify()
    finally:
        src.close()
    return EXIT_OK


def _inspect_record(
    out: TextIO,
    schema: Schema,
    rec: NDArray,
    raw: bytes,
    index: int,
    file_offset: int,
    *,
    target: bool,
    st: Style,
) -> None:
    mark = f"{st.yellow}>{st.reset}" if target else " "
    out.write(
        f"{mark} {st.bold}record {index:,}{st.reset}  at byte offset {file_offset:,}"
        f" (0x{file_offset:x})\n"
    )
    rows = _inspect_rows(schema, rec)
    labels = [r.label for r in rows] + [b[0] for r in rows for b in r.bits]
    types = [r.type for r in rows] + [b[1] for r in rows for b in r.bits]
    name_w = max([9, *map(len, labels)])
    type_w = max([4, *map(len, types)])
    hex_w = 3 * HEX_PER_LINE - 1
    blank = " " * len(f"    +{0:<5} {'':<{hex_w}}  |{'':<{HEX_PER_LINE}}|")

    def emit(start: int, chunk: bytes, label: str, typ: str, value: str, style: str) -> None:
        for k in range(0, max(len(chunk), 1), HEX_PER_LINE):
            piece = chunk[k : k + HEX_PER_LINE]
            head = f"    +{start + k:<5} {_hex(piece):<{hex_w}}  |{_ascii(piece):<{HEX_PER_LINE}}|"
            if k == 0:
                text = f"{head}  {style}{label:<{name_w}}{st.reset}  {typ:<{type_w}}  {value}"
            else:
                text = head
            out.write(text.rstrip() + "\n")

    def gap(start: int, stop: int) -> None:
        chunk = raw[start:stop]
        note = "" if not any(chunk) else "not zero: a field missing from the schema?"
        emit(start, chunk, "(padding)", "", note, st.dim)

    end = 0
    for row in rows:
        if row.offset > end:
            gap(end, row.offset)
        emit(
            row.offset,
            raw[row.offset : row.offset + row.nbytes],
            row.label,
            row.type,
            row.value,
            st.cyan,
        )
        for label, bit_range, shown in row.bits:
            line = f"{blank}  {st.cyan}{label:<{name_w}}{st.reset}  {bit_range:<{type_w}}  {shown}"
            out.write(line.rstrip() + "\n")
        end = max(end, row.offset + row.nbytes)
    if end < schema.itemsize:
        gap(end, schema.itemsize)


def cmd_inspect(args: argparse.Namespace) -> int:
    """``recview inspect --record N``: annotated hex dump of a record and neighbours."""
    # A schema that is off leaves stray bytes at the end: show the records anyway.
    src = open_source(args, trailing=args.trailing or "ignore")
    schema = src.schema
    try:
        if src.seekable:
            total = src.records or 0
            n = args.record + total if args.record < 0 else args.record
            if not 0 <= n < total:
                raise UsageError(
                    f"--record {args.record} is out of range: {src.name} has {total:,} records"
                )
            lo, hi = max(0, n - args.context), min(total, n + args.context + 1)
            arr, _, _ = src.take(slice(lo, hi))
            # A byte copy (padding included), checked below: the dump reads it after close().
            arr = np.frombuffer(np.ascontiguousarray(arr).tobytes(), dtype=arr.dtype)
            src.verify()
        else:
            if args.record < 0:
                raise UsageError(f"{src.name}: a negative --record needs a file, not a stream")
            n = args.record
            lo = max(0, n - args.context)
            arr, _, _ = src.take(slice(lo, n + args.context + 1))
            total = -1
            if len(arr) <= n - lo:
                raise UsageError(
                    f"--record {n} is out of range: {src.name} has fewer records "
                    f"({lo + len(arr):,})"
                )
    finally:
        src.close()
    out = sys.stdout
    st = Style(use_color(args.color, out))
    raw = np.ascontiguousarray(arr).tobytes()
    isz = schema.itemsize
    count = f"of {total:,} " if total >= 0 else ""
    stray = ""
    if src.file_nbytes is not None and args.count is None:
        left = src.file_nbytes - src.offset - total * isz
        stray = f", {left:,} stray bytes at the end" if left else ""
    out.write(
        f"{src.name}: record {n:,} {count}(record size {isz:,} bytes,"
        f" header {src.offset:,} bytes{stray})\n"
    )
    for k in range(len(arr)):
        i = lo + k
        out.write("\n")
        _inspect_record(
            out,
            schema,
            arr[k : k + 1],
            raw[k * isz : (k + 1) * isz],
            i,
            src.offset + i * isz,
            target=i == n,
            st=st,
        )
    return EXIT_OK
