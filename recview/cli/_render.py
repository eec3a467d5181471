"""Rendering: field values as Python objects and text cells, styles, row writers.

A :class:`Column` is one leaf of :meth:`recview.Schema.fields` to print (a
bitfield too); :class:`RowWriter` writes batches of records as a table, CSV
(one column per element, ``path[i]``), JSON lines or a JSON array (one key
per leaf, array values as lists).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from recview.cli._common import NDArray, UsageError, cut
from recview.schema import FieldInfo, Schema


def show_bytes(raw: bytes) -> str:
    """How the CLI shows a bytes field: printable ASCII as text, else hex.

    Trailing NUL bytes are stripped first (``char[N]`` padding).

    Examples
    --------
    >>> show_bytes(b"XNAS\\x00\\x00\\x00\\x00"), show_bytes(b"\\x01\\xff"), show_bytes(b"")
    ('XNAS', '0x01ff', '')
    """
    text = raw.rstrip(b"\0")
    if all(32 <= c < 127 for c in text):
        return text.decode("ascii")
    return "0x" + raw.hex()


def _scalars(flat: NDArray, enum: Mapping[int, str] | None, *, json_mode: bool) -> list[Any]:
    """Python values of a 1-d array of one scalar type."""
    kind = flat.dtype.kind
    if flat.dtype.names is not None:  # records (an array of structs, in inspect)
        return [str(v) for v in flat.tolist()]
    if kind in "SV":
        memo: dict[bytes, str] = {}  # text fields usually repeat a few values
        out: list[str] = []
        for b in flat.tolist():
            text = memo.get(b)
            if text is None:
                text = memo[b] = show_bytes(b)
            out.append(text)
        return out
    if kind in "iu":
        values = flat.tolist()
        if enum:
            return [enum.get(v, v) for v in values]
        return values  # type: ignore[no-any-return]
    if kind == "f":
        if flat.dtype.itemsize < 8:
            # shortest text that reads back as the same float32/float16
            values = [float(s) for s in flat.astype(str).tolist()]
        else:
            values = flat.astype(np.float64).tolist()
        if json_mode:
            return [v if math.isfinite(v) else None for v in values]
        return list(values)
    if kind == "c":
        pairs = [(float(z.real), float(z.imag)) for z in flat.tolist()]
        if json_mode:  # JSON has no NaN or inf: null, as for a float field
            return [[v if math.isfinite(v) else None for v in p] for p in pairs]
        return [str(complex(*p)) for p in pairs]
    if kind in "Mm":
        return flat.astype(str).tolist()  # type: ignore[no-any-return]
    return flat.tolist()  # type: ignore[no-any-return]


def _nest(flat: list[Any], shape: tuple[int, ...]) -> list[Any]:
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0]
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def type_text(info: FieldInfo) -> str:
    """How the CLI names a leaf's type: its dtype, or a bitfield's bit range.

    Examples
    --------
    >>> import recview as rv
    >>> class R(rv.Record):
    ...     n: rv.u16be
    ...     f: rv.bits(rv.u8, a=1, b=3, _=4)
    >>> [type_text(f) for f in R.schema.fields()]
    ['>u2', 'bit 0', 'bits 1-3']
    """
    if info.bit_offset is None or info.bit_width is None:
        return info.dtype.str
    lo, hi = info.bit_offset, info.bit_offset + info.bit_width - 1
    text = f"bit {lo}" if lo == hi else f"bits {lo}-{hi}"
    return text + (" signed" if info.signed else "")


@dataclass(frozen=True)
class Column:
    """One leaf field to print."""

    info: FieldInfo
    enum: Mapping[int, str] | None
    #: Integers as hexadecimal text (``--hex``): their bits, two's complement.
    hex: bool = False

    @property
    def name(self) -> str:
        """The dotted path."""
        return self.info.path

    @property
    def kind(self) -> str:
        """numpy's kind letter of the values (a bitfield's: ``i`` or ``u``)."""
        return self.info.value_dtype.kind

    @property
    def numeric(self) -> bool:
        """Whether the field is a number (or bool), with no enum names."""
        return self.kind in "iufb" and not self.enum

    def array(self, arr: NDArray) -> NDArray:
        """The values in records ``arr``, shape ``(len(arr), *shape)``."""
        return self.info.get(arr)

    def values(self, arr: NDArray, *, json_mode: bool = False) -> list[Any]:
        """One Python value per record (nested lists for array fields)."""
        a = self.array(arr)
        n = len(a)
        flat = np.ascontiguousarray(a).reshape(-1)
        conv = self._hexed(_scalars(flat, self.enum, json_mode=json_mode))
        shape = self.info.shape
        if not shape:
            return conv
        size = int(np.prod(shape))
        return [_nest(conv[i * size : (i + 1) * size], shape) for i in range(n)]

    def flat_names(self) -> list[str]:
        """Column names with array fields expanded: ``pos[0]``, ``grid[1][2]``."""
        return self.info.element_names()

    def flat_values(self, arr: NDArray) -> list[list[Any]]:
        """Per-element columns for :meth:`flat_names` (expanded array fields)."""
        if not self.info.shape:
            return [self.values(arr)]
        a = self.array(arr)
        flat = np.ascontiguousarray(a).reshape(len(a), -1)
        return [
            self._hexed(_scalars(np.ascontiguousarray(flat[:, k]), self.enum, json_mode=False))
            for k in range(flat.shape[1])
        ]

    @property
    def shows_hex(self) -> bool:
        """Whether the values are shown as hexadecimal text."""
        return self.hex and self.kind in "iu" and not self.enum

    def _hexed(self, values: list[Any]) -> list[Any]:
        if not self.shows_hex:
            return values
        nbytes = self.info.value_dtype.itemsize
        mask = (1 << 8 * nbytes) - 1
        return [f"0x{v & mask:0{2 * nbytes}x}" for v in values]


def select_columns(schema: Schema, fields: str | None, *, hex: bool = False) -> list[Column]:
    """The leaves ``--fields`` names (each name a leaf, or a field holding
    leaves), or all of ``schema.fields()``; ``hex``: integers in hexadecimal."""
    leaves = schema.fields()
    if fields:
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        chosen: list[FieldInfo] = []
        for w in wanted:
            match = [f for f in leaves if f.path == w or f.path.startswith(w + ".")]
            if not match:
                names = ", ".join(f.path for f in leaves)
                raise UsageError(f"--fields: no field {w!r} (fields: {names})")
            chosen.extend(m for m in match if m not in chosen)
        leaves = chosen
    return [Column(f, schema.enums.get(f.path), hex) for f in leaves]


def text_of(value: Any) -> str:
    """Text of one value in a table or CSV cell.

    Examples
    --------
    >>> [text_of(v) for v in (1, 2.5, float("nan"), None, "ab", [1, 2], True)]
    ['1', '2.5', 'nan', '', 'ab', '[1, 2]', 'True']
    """
    if value is None:
        return ""
    if isinstance(value, list):
        return "[" + ", ".join(text_of(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


class Style:
    """ANSI styles, all empty when colour is off."""

    def __init__(self, color: bool) -> None:
        self.bold = "\x1b[1m" if color else ""
        self.dim = "\x1b[2m" if color else ""
        self.cyan = "\x1b[36m" if color else ""
        self.yellow = "\x1b[33m" if color else ""
        self.reset = "\x1b[0m" if color else ""


def use_color(choice: str, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _json_texts(values: list[Any], column: Column) -> list[str]:
    """JSON text of each value of a column (fast paths by field type)."""
    kind = column.kind
    if not column.info.shape and not column.enum and not column.shows_hex:
        if kind in "iu":
            return list(map(str, values))
        if kind == "f":
            return ["null" if v is None else repr(v) for v in values]
        if kind == "b":
            return ["true" if v else "false" for v in values]
    memo: dict[Any, str] = {}  # text fields and enum names repeat
    out: list[str] = []
    for v in values:
        if isinstance(v, list):
            out.append(json.dumps(v, allow_nan=False))
            continue
        key = (type(v), v)
        text = memo.get(key)
        if text is None:
            text = memo[key] = json.dumps(v)
        out.append(text)
    return out


class RowWriter:
    """Write batches of records to a text stream in one of the row formats."""

    def __init__(
        self,
        out: TextIO,
        columns: list[Column],
        fmt: str,
        *,
        index: bool = True,
        style: Style | None = None,
        width: int | None = None,
        vertical: bool = False,
    ) -> None:
        self.out = out
        #: Characters a table line may take (a terminal's width), or None.
        self.width = width
        #: One ``name  value`` line per field, records one under another.
        self.vertical = vertical and fmt == "table"
        self.columns = columns
        self.fmt = fmt
        self.index = index and fmt == "table"
        self.style = style or Style(False)
        self.rows = 0
        self._started = False
        self._widths: list[int] | None = None
        self._right: list[bool] = []
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None

    def write(self, arr: NDArray, first: int = 0, step: int = 1) -> None:
        """Write records ``arr`` whose first has index ``first`` (``step`` apart)."""
        if self.fmt == "csv":
            self._write_csv(arr)
        elif self.fmt in ("jsonl", "json"):
            self._write_json(arr)
        elif self.vertical:
            self._write_vertical(arr, first, step)
        else:
            self._write_table(arr, first, step)
        self.rows += len(arr)

    def _csv_header(self) -> None:
        assert self._csv is not None
        if not self._started:
            self._started = True
            self._csv.writerow([n for c in self.columns for n in c.flat_names()])

    def _write_csv(self, arr: NDArray) -> None:
        assert self._csv is not None
        self._csv_header()
        # csv writes ints, floats (repr) and None ("") itself; only the rest needs text_of
        cols = [
            vals if c.kind in "iuf" else [text_of(v) for v in vals]
            for c in self.columns
            for vals in c.flat_values(arr)
        ]
        self._csv.writerows(zip(*cols, strict=True))

    def _write_json(self, arr: NDArray) -> None:
        # One %-template per record, filled with per-column JSON texts: many
        # times faster than json.dumps of a dict per record.
        template = (
            "{"
            + ", ".join(json.dumps(c.name).replace("%", "%%") + ": %s" for c in self.columns)
            + "}"
        )
        cols = [_json_texts(c.values(arr, json_mode=True), c) for c in self.columns]
        texts = [template % row for row in zip(*cols, strict=True)]
        if not texts:
            return
        if self.fmt == "jsonl":
            self.out.write("\n".join(texts) + "\n")
        else:
            self.out.write(("[\n  " if self.rows == 0 else ",\n  ") + ",\n  ".join(texts))

    def _write_vertical(self, arr: NDArray, first: int, step: int) -> None:
        names = [n for c in self.columns for n in c.flat_names()]
        cols = [[text_of(v) for v in vals] for c in self.columns for vals in c.flat_values(arr)]
        name_w = max(map(len, names), default=0)
        room = None if self.width is None else max(self.width - name_w - 2, 8)
        st = self.style
        for i in range(len(arr)):
            self.out.write(f"{st.bold}-[ record {first + i * step} ]{st.reset}\n")
            for name, col in zip(names, cols, strict=True):
                value = col[i] if room is None else ellipsize(col[i], room)
                self.out.write(f"{st.cyan}{name:<{name_w}}{st.reset}  {value}".rstrip() + "\n")

    def _write_table(self, arr: NDArray, first: int, step: int) -> None:
        cols = [[text_of(v) for v in vals] for c in self.columns for vals in c.flat_values(arr)]
        cells = [[cut(s) for s in col] for col in cols]
        if self.index:
            cells.insert(0, [str(first + i * step) for i in range(len(arr))])
        widths, right = self._table_header(cells)
        for row in zip(*cells, strict=True):
            line = "  ".join(
                ellipsize(s, w).rjust(w) if r else ellipsize(s, w).ljust(w)
                for s, w, r in zip(row, widths, right, strict=True)
            )
            self.out.write(fit_line(line.rstrip(), self.width) + "\n")

    def _table_header(self, cells: list[list[str]]) -> tuple[list[int], list[bool]]:
        """Column widths (from the first cells) and alignment; writes the header once."""
        if self._widths is None:
            names = (["#"] if self.index else []) + [
                n for c in self.columns for n in c.flat_names()
            ]
            self._widths = fit_widths(
                [
                    max([len(n), *(len(s) for s in col)])
                    for n, col in zip(names, cells, strict=True)
                ],
                self.width,
            )
            self._right = ([True] if self.index else []) + [
                c.kind in "iufc" and not c.enum for c in self.columns for _ in c.flat_names()
            ]
            st = self.style
            head = "  ".join(
                ellipsize(n, w).rjust(w) if r else ellipsize(n, w).ljust(w)
                for n, w, r in zip(names, self._widths, self._right, strict=True)
            )
            head = fit_line(head.rstrip(), self.width)
            self.out.write(f"{st.bold}{head}{st.reset}\n")
            self.out.write(fit_line("  ".join("-" * w for w in self._widths), self.width) + "\n")
        return self._widths, self._right

    def close(self) -> None:
        """Finish the output: the header of an empty table or CSV, the end of JSON."""
        if self.fmt == "csv":
            self._csv_header()
        if self.fmt == "table" and not self.vertical:
            width = sum(len(c.flat_names()) for c in self.columns)
            self._table_header([[] for _ in range(width + self.index)])
        if self.fmt == "json":
            self.out.write("[]\n" if self.rows == 0 else "\n]\n")
        self.out.flush()


#: Narrowest a column is made to fit a table in the terminal.
MIN_FIT = 6


def ellipsize(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``…`` when cut.

    Examples
    --------
    >>> ellipsize("1700000000000000850", 8), ellipsize("XNAS", 8)
    ('1700000…', 'XNAS')
    """
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def fit_widths(widths: list[int], total: int | None, *, gap: int = 2) -> list[int]:
    """Column widths narrowed, widest first, until the line (columns and
    ``gap`` spaces between) fits ``total`` characters or no column can give
    more (each keeps :data:`MIN_FIT`). ``None``: as they are.

    Examples
    --------
    >>> fit_widths([19, 7, 3, 4, 5], 36)
    [9, 7, 3, 4, 5]
    >>> fit_widths([19, 6], None)
    [19, 6]
    """
    out = list(widths)
    if total is None or not out:
        return out
    excess = sum(out) + gap * (len(out) - 1) - total
    while excess > 0:
        k = max(range(len(out)), key=out.__getitem__)
        if out[k] <= MIN_FIT:
            break
        out[k] -= 1
        excess -= 1
    return out


def fit_line(line: str, width: int | None) -> str:
    """A table line cut to ``width`` characters with ``…`` (when the columns
    cannot narrow enough: more columns follow; ``--vertical`` shows them all)."""
    return line if width is None else ellipsize(line, width)


def terminal_width(out: TextIO) -> int | None:
    """The width of the terminal ``out`` writes to (``COLUMNS`` first, as
    :func:`shutil.get_terminal_size`), or ``None`` when it is not one: a file
    or a pipe gets whole values."""
    isatty = getattr(out, "isatty", None)
    if not (isatty and isatty()):
        return None
    return shutil.get_terminal_size().columns


def chunks(arr: NDArray, n: int = 65536) -> Iterator[tuple[NDArray, int]]:
    for a in range(0, len(arr), n):
        yield arr[a : a + n], a
