"""``recview convert``: records to CSV, JSON lines, .npy or Parquet, in batches."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from recview.cli._common import EXIT_OK
from recview.cli._render import select_columns
from recview.cli._sources import FramesSource, open_source, progress_for, write_frames_parquet
from recview.cli._writers import Output, abort_pending, format_of, open_writer, refuse_own_input


def cmd_convert(args: argparse.Namespace) -> int:
    """``recview convert -o OUT``: records to CSV, JSON lines, .npy or Parquet."""
    fmt = format_of(args.output, args.to)
    src = open_source(args)
    writer: Any = None
    output: Output | None = None
    try:
        columns = select_columns(src.schema, args.fields)
        refuse_own_input(args)
        to_stdout = args.output == "-"
        binary = fmt in ("npy", "parquet")
        if to_stdout:
            fh: Any = sys.stdout.buffer if binary else sys.stdout
        else:
            output = Output(args.output, binary=binary)
            fh = output.fh
        if isinstance(src, FramesSource) and fmt == "parquet":
            # Frames: the header columns plus the payloads as a binary column.
            write_frames_parquet(src, fh, [c.name for c in columns], nbytes=args.batch_nbytes)
            if output is not None:
                output.commit()
                output = None
            records = src.records
            return _done(args, records, fmt, to_stdout)
        writer = open_writer(
            fmt,
            fh,
            columns,
            src.schema,
            records=src.records,
            strings=args.strings,
            source=src.name,
            offset=src.offset,
        )
        bar = progress_for(args, src.total_nbytes, "convert")
        try:
            for batch in src.batches(nbytes=args.batch_nbytes):
                writer.write(batch)
                bar.update(len(batch) * src.schema.itemsize)
        finally:
            bar.close()
        writer.close()
        writer = None
        if output is not None:
            output.commit()
            output = None
        records = src.records
    finally:
        src.close()
        if writer is not None and hasattr(writer, "abort"):
            writer.abort()
        if output is not None:
            output.abort()
        abort_pending()  # one a signal cut off before `output` was set
    return _done(args, records, fmt, to_stdout)


def _done(args: argparse.Namespace, records: int | None, fmt: str, to_stdout: bool) -> int:
    if not args.quiet and not to_stdout:
        print(f"recview: wrote {records or 0:,} records to {args.output} ({fmt})", file=sys.stderr)
    return EXIT_OK
