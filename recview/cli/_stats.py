"""``recview stats``: per-field count/min/max/mean in one bounded scan, then the run's figures."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import numpy as np

from recview._vocab import native
from recview.cli._common import EXIT_OK, NDArray
from recview.cli._render import Column, Style, select_columns, text_of, type_text, use_color
from recview.cli._sources import open_source, scan


def short_float(value: Any, dtype: np.dtype[Any]) -> Any:
    """A float32 or float16 statistic as the shortest decimal that reads back
    as the same value of that type (``19.881163``, not the float64 digits
    ``19.881162643432617``); other values as they are.

    Examples
    --------
    >>> short_float(19.881162643432617, np.dtype(">f4")), short_float(0.1, np.dtype("f2"))
    (19.881163, 0.1)
    >>> short_float(1e30, np.dtype("f4")), short_float(2.5, np.dtype("f8")), short_float(7, np.dtype("u1"))
    (1e+30, 2.5, 7)
    """
    if not isinstance(value, float) or dtype.kind != "f" or dtype.itemsize >= 8:
        return value
    if not math.isfinite(value):
        return value
    x = native(dtype).type(value)
    if x == 0 or 1e-4 <= abs(float(x)) < 1e16:
        return float(np.format_float_positional(x, unique=True, trim="0"))
    return float(np.format_float_scientific(x, unique=True, trim="0"))


class _FieldStats:
    """Running count/min/max/sum of one numeric leaf over batches."""

    def __init__(self, column: Column) -> None:
        self.column = column
        self.count = 0
        self.nan = 0
        self.min: Any = None
        self.max: Any = None
        self.total = 0.0
        self._sums: list[float] = []

    def add(self, arr: NDArray) -> None:
        a = self.column.array(arr).reshape(-1)
        if not len(a):
            return
        if a.dtype.kind == "f":
            nan = np.isnan(a)
            k = int(np.count_nonzero(nan))
            if k:
                self.nan += k
                a = a[~nan]
                if not len(a):
                    return
        elif a.dtype.kind == "b":
            a = a.astype(np.uint8)
        lo, hi = a.min().item(), a.max().item()
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        self.count += len(a)
        self._sums.append(float(np.add.reduce(a, dtype=np.float64)))

    @property
    def mean(self) -> float | None:
        """Mean of the non-NaN values (``None`` when there are none)."""
        return math.fsum(self._sums) / self.count if self.count else None

    def _short(self, value: Any) -> Any:
        return short_float(value, self.column.info.value_dtype)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        mean = self.mean

        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "type": type_text(self.column.info),
            "count": self.count,
            "nan": self.nan,
            "min": clean(self._short(self.min)),
            "max": clean(self._short(self.max)),
            "mean": clean(self._short(mean)),
        }


def _mean_text(mean: float) -> str:
    """A mean in at most 15 significant digits (a float32 field's: its shortest float32)."""
    text = f"{mean:.15g}"
    return text if len(text) <= len(repr(mean)) else repr(mean)


def cmd_stats(args: argparse.Namespace) -> int:
    """``recview stats``: per-field count/min/max/mean in one scan, then run figures."""
    src = open_source(args)
    try:
        columns = select_columns(src.schema, args.fields)
        stats = [_FieldStats(c) for c in columns if c.kind in "iufb"]
        other = [c for c in columns if c.kind not in "iufb"]

        def consume(batch: NDArray) -> None:
            for s in stats:
                s.add(batch)

        figures = scan(args, src, "stats", consume)
        records = src.records or 0
    finally:
        src.close()
    out = sys.stdout
    if args.format == "json":
        doc = {
            "file": src.name,
            "records": records,
            "fields": {s.column.name: s.as_dict() for s in stats},
            "skipped": [c.name for c in other],
            "run": figures.as_dict(),
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    st = Style(use_color(args.color, out))
    out.write(f"{src.name}: {records:,} records of {src.schema.itemsize:,} bytes\n\n")
    rows = [["field", "type", "count", "min", "max", "mean"]]
    for s in stats:
        mean = s.mean
        count = f"{s.count:,}" + (f" (+{s.nan:,} NaN)" if s.nan else "")
        rows.append(
            [
                s.column.name,
                type_text(s.column.info),
                count,
                text_of(s._short(s.min)),
                text_of(s._short(s.max)),
                "" if mean is None else _mean_text(s._short(mean)),
            ]
        )
    rows.extend([c.name, type_text(c.info), "(not numeric)", "", "", ""] for c in other)
    widths = [max(len(r[k]) for r in rows) for k in range(6)]
    for i, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [r[k].rjust(widths[k]) for k in range(2, 6)]
        line = "  ".join(cells).rstrip()
        out.write(f"{st.bold}{line}{st.reset}\n" if i == 0 else line + "\n")
    out.write("\n")
    for line in figures.lines():
        out.write(line + "\n")
    return EXIT_OK
