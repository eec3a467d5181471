"""``recview dump``: an annotated hex dump of any byte range of any file.

Headers, files smaller than a record, the bytes between regions: ``dump``
shows bytes ``--offset``..``--offset + --length`` of the file as ``xxd``
does (16 a line, hex and ASCII). With ``-s SCHEMA`` the records that start at
``--records-at`` are annotated field by field, as ``inspect`` does, and the
bytes before and after them are labelled. The range is read with ``pread``
(a file) or by skipping forward (standard input, a pipe): the cost does not
depend on where in the file the range is.
"""

from __future__ import annotations

import argparse
import errno
import os
import stat
import sys
from typing import IO, Any, TextIO

import numpy as np

from recview.cli._common import EXIT_OK, UsageError
from recview.cli._hexdump import Row, ascii_text, hex_text, record_rows
from recview.cli._render import Style, use_color
from recview.cli._sources import schema_of, storage_options_of
from recview.errors import RecviewError, TruncatedError
from recview.remote import RemoteSource, is_url
from recview.schema import Schema

#: Bytes a line outside records (as ``xxd``), and inside a record (as ``inspect``).
PLAIN_PER_LINE = 16
FIELD_PER_LINE = 8
#: Bytes read at once from a region that is not records.
_READ_NBYTES = 1 << 16
#: Default --length.
DEFAULT_LENGTH = 256


class _Bytes:
    """Reads at increasing offsets of a file (``pread``) or a stream (skipping)."""

    def __init__(self, name: str, storage_options: dict[str, Any] | None = None) -> None:
        self.name = "<stdin>" if name == "-" else name
        self._stream: IO[bytes] | None = None
        self._remote: RemoteSource | None = None
        self._fd = -1
        self._pos = 0
        self.nbytes: int | None = None
        if name == "-":
            self._stream = sys.stdin.buffer
            return
        if is_url(name):  # ranged reads: any offset costs one request
            self._remote = RemoteSource(name, storage_options=storage_options)
            self.nbytes = self._remote.size()
            return
        self._fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            st = _not_a_directory(self._fd, name)
            if stat.S_ISREG(st.st_mode):
                self.nbytes = st.st_size
            elif stat.S_ISBLK(st.st_mode):
                self.nbytes = os.lseek(self._fd, 0, os.SEEK_END)
            else:  # a FIFO, a character device, a socket: read once, in order
                self._stream = os.fdopen(self._fd, "rb", buffering=0)
                self._fd = -1
        except BaseException:
            self.close()
            raise

    def read(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer at the end of the file)."""
        if self._remote is not None:
            assert self.nbytes is not None
            data: bytes = self._remote.pread(offset, max(0, min(n, self.nbytes - offset)))
            return data
        if self._stream is None:
            data = os.pread(self._fd, n, offset)
            want = max(0, min(n, (self.nbytes or 0) - offset))
            if len(data) < want:
                # The range shown was clipped to the size at the start: a
                # short read inside it is a cut, not the end of the file.
                now = os.fstat(self._fd).st_size
                raise TruncatedError(
                    f"{self.name}: the file shrank from {self.nbytes:,} to {now:,} bytes while "
                    f"it was dumped (bytes from {offset + len(data):,} on are gone)",
                    path=self.name,
                    offset=offset + len(data),
                    old_nbytes=self.nbytes,
                    new_nbytes=now,
                )
            return data
        if offset < self._pos:  # pragma: no cover - dump reads forward only
            raise RecviewError(f"{self.name}: cannot read backwards in a stream")
        while self._pos < offset:  # skip
            chunk = self._stream.read(min(_READ_NBYTES, offset - self._pos))
            if not chunk:
                return b""
            self._pos += len(chunk)
        parts = []
        want = n
        while want:
            chunk = self._stream.read(want)
            if not chunk:
                break
            parts.append(chunk)
            want -= len(chunk)
        data = b"".join(parts)
        self._pos += len(data)
        return data

    def close(self) -> None:
        if self._remote is not None:
            remote, self._remote = self._remote, None
            remote.close()
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
        if self._stream is not None and self._stream is not sys.stdin.buffer:
            self._stream.close()
        self._stream = None


def _not_a_directory(fd: int, name: str) -> os.stat_result:
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
    return st


class _Printer:
    def __init__(self, out: TextIO, width: int, st: Style) -> None:
        self.out = out
        self.width = width
        self.st = st

    def plain(self, offset: int, data: bytes, label: str) -> None:
        """Lines of 16 bytes; ``label`` on the first."""
        st = self.st
        hex_w = 3 * PLAIN_PER_LINE - 1
        for k in range(0, len(data), PLAIN_PER_LINE):
            piece = data[k : k + PLAIN_PER_LINE]
            line = f"{offset + k:0{self.width}x}  {hex_text(piece):<{hex_w}}  |{ascii_text(piece)}|"
            if k == 0 and label:
                pad = " " * (PLAIN_PER_LINE - len(piece))
                line += f"{pad}  {st.dim}{label}{st.reset}"
            self.out.write(line + "\n")

    def field(
        self,
        offset: int,
        rel: int,
        data: bytes,
        cols: tuple[str, str, str],
        widths: tuple[int, int],
    ) -> None:
        """One field of a record: 8 bytes a line, then its name, type and value."""
        st = self.st
        label, typ, value = cols
        hex_w = 3 * FIELD_PER_LINE - 1
        style = st.dim if label == "(padding)" else st.cyan
        for k in range(0, max(len(data), 1), FIELD_PER_LINE):
            piece = data[k : k + FIELD_PER_LINE]
            head = (
                f"{offset + k:0{self.width}x}  +{rel + k:<5} {hex_text(piece):<{hex_w}}"
                f"  |{ascii_text(piece):<{FIELD_PER_LINE}}|"
            )
            if k == 0:
                head += f"  {style}{label:<{widths[0]}}{st.reset}  {typ:<{widths[1]}}  {value}"
            self.out.write(head.rstrip() + "\n")

    def bits(self, label: str, bit_range: str, value: str, widths: tuple[int, int]) -> None:
        """A bitfield, under the line of its storage unit."""
        st = self.st
        blank = " " * (self.width + 2 + 7 + 3 * FIELD_PER_LINE - 1 + 3 + FIELD_PER_LINE)
        line = (
            f"{blank}  {st.cyan}{label:<{widths[0]}}{st.reset}  {bit_range:<{widths[1]}}  {value}"
        )
        self.out.write(line.rstrip() + "\n")


def _record(
    pr: _Printer, schema: Schema, raw: bytes, index: int, at: int, lo: int, hi: int
) -> None:
    """Record ``index`` (its bytes ``raw``, at file offset ``at``), the part of
    it inside bytes ``lo..hi`` of the file, field by field."""
    st = pr.st
    cut = (
        ""
        if lo <= at and at + len(raw) <= hi
        else f", bytes {max(lo, at) - at}..{min(hi, at + len(raw)) - at - 1} of it shown"
    )
    pr.out.write(
        f"{st.yellow}>{st.reset} {st.bold}record {index:,}{st.reset}  at byte offset {at:,}"
        f" (0x{at:x}){cut}\n"
    )
    rec = np.frombuffer(raw, dtype=schema.dtype)
    rows: list[Row] = []
    end = 0
    for row in record_rows(schema, rec):
        if row.offset > end:
            rows.append(Row(end, row.offset - end, "(padding)", "", ""))
        rows.append(row)
        end = max(end, row.offset + row.nbytes)
    if end < schema.itemsize:
        rows.append(Row(end, schema.itemsize - end, "(padding)", "", ""))
    labels = [r.label for r in rows] + [b[0] for r in rows for b in r.bits]
    types = [r.type for r in rows] + [b[1] for r in rows for b in r.bits]
    widths = (max([9, *map(len, labels)]), max([4, *map(len, types)]))
    for row in rows:
        a, b = max(at + row.offset, lo), min(at + row.offset + row.nbytes, hi)
        if a >= b:
            continue
        shown = row.value
        if row.label == "(padding)":
            gap = raw[row.offset : row.offset + row.nbytes]
            shown = "not zero: a field missing from the schema?" if any(gap) else ""
        elif b - a < row.nbytes:
            shown = f"(part of the field: {row.value})"
        pr.field(a, a - at, raw[a - at : b - at], (row.label, row.type, shown), widths)
        for label, bit_range, value in row.bits:
            pr.bits(
                label, bit_range, value if b - a == row.nbytes else "(part of the field)", widths
            )


def _range(src: _Bytes, offset: int, length: int) -> tuple[int, int]:
    """``[start, end)`` of the dump in the file (``end`` clipped to its size)."""
    size = src.nbytes
    if offset < 0:
        if size is None:
            raise UsageError(f"{src.name}: a negative --offset needs a file, not a stream")
        offset = max(0, size + offset)
    if size is not None and offset > size:
        raise UsageError(f"--offset {offset:,} is past the end of {src.name} ({size:,} bytes)")
    end = offset + length
    return offset, end if size is None else min(end, size)


def cmd_dump(args: argparse.Namespace) -> int:
    """``recview dump``: annotated hex dump of bytes ``--offset``..+``--length``."""
    schema = schema_of(args)[0] if args.schema else None
    if schema is None and (args.records_at is not None or args.count is not None):
        raise UsageError("--records-at and --count describe records: give --schema/-s too")
    records_at = args.records_at or 0
    out = sys.stdout
    pr_style = Style(use_color(args.color, out))
    src = _Bytes(args.file, storage_options_of(args))
    try:
        start, end = _range(src, args.offset, args.length)
        width = max(8, len(f"{max(end - 1, 0):x}"))
        pr = _Printer(out, width, pr_style)
        size = "" if src.nbytes is None else f" of {src.nbytes:,}"
        layout = ""
        if schema is not None:
            layout = f"; records of {schema.itemsize:,} bytes from byte {records_at:,}"
            if args.count is not None:
                layout += f", {args.count:,} of them"
        shown = (
            f"bytes {start:,}..{end - 1:,} (0x{start:x}..0x{max(end - 1, 0):x})"
            if end > start
            else "no bytes"
        )
        out.write(f"{src.name}: {shown}{size}{layout}\n")
        _dump(src, pr, schema, start, end, records_at, args.count)
    finally:
        src.close()
    out.flush()
    return EXIT_OK


def _dump(
    src: _Bytes,
    pr: _Printer,
    schema: Schema | None,
    start: int,
    end: int,
    records_at: int,
    count: int | None,
) -> None:
    pos = start
    if schema is None:
        _plain(src, pr, pos, end, "")
        return
    isz = schema.itemsize
    if pos < records_at:
        label = f"before the records (a header: {records_at:,} bytes)"
        pos = _plain(src, pr, pos, min(end, records_at), label)
        if pos < min(end, records_at):
            return  # the file ended
    while pos < end:
        index = (pos - records_at) // isz
        at = records_at + index * isz
        if count is not None and index >= count:
            break
        # From the record's own start, also when the range starts inside it:
        # its values need all its bytes.
        raw = src.read(at, isz)
        if len(raw) < isz:  # a partial record: the file ends inside it
            pr.out.write("\n")
            got = at + len(raw)
            pr.plain(
                max(pos, at),
                raw[max(pos, at) - at : min(end, got) - at],
                f"after the records: {got - at:,} bytes, less than a record of {isz:,}",
            )
            return
        pr.out.write("\n")
        _record(pr, schema, raw, index, at, pos, end)
        pos = at + isz
    if pos < end:
        n = count if count is not None else (pos - records_at) // isz
        pr.out.write("\n")
        _plain(src, pr, pos, end, f"after the {n:,} records")


def _plain(src: _Bytes, pr: _Printer, pos: int, end: int, label: str) -> int:
    """Bytes ``pos..end`` as plain lines; returns where the file ended (or ``end``)."""
    while pos < end:
        data = src.read(pos, min(_READ_NBYTES, end - pos))
        if not data:
            break
        pr.plain(pos, data, label)
        label = ""
        pos += len(data)
    return pos
