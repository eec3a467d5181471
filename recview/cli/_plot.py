"""``recview plot``: a histogram or a series of one field, from bounded one-pass summaries.

:class:`Histogram` and :class:`Envelope` summarize any number of values in
bounded memory; the drawing uses matplotlib's Agg backend without pyplot.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from recview._extras import require
from recview.cli._common import EXIT_OK, NDArray, UsageError
from recview.cli._render import select_columns, type_text
from recview.cli._sources import open_source, scan
from recview.cli._writers import refuse_own_input


class Histogram:
    """A one-pass histogram whose range grows by doubling (bounded memory).

    Bins are merged in pairs whenever a value falls outside the range, so the
    counts stay exact for the final bins without knowing the range in advance.

    Examples
    --------
    >>> import numpy as np
    >>> h = Histogram(4)
    >>> h.add(np.array([0.0, 1.0])); h.add(np.array([10.0]))
    >>> int(h.counts.sum()), bool(h.edges()[0] <= 0.0 < 10.0 < h.edges()[-1])
    (3, True)
    """

    def __init__(self, bins: int) -> None:
        self.bins = bins + bins % 2
        self.counts = np.zeros(self.bins, dtype=np.int64)
        self.lo: float | None = None
        self.width = 0.0

    def add(self, values: NDArray) -> None:
        v = values[np.isfinite(values)].astype(np.float64)
        if not len(v):
            return
        vmin, vmax = float(v.min()), float(v.max())
        if self.lo is None:
            span = vmax - vmin or max(abs(vmin) * 1e-6, 1e-12)
            self.lo = vmin
            self.width = span / self.bins * (1 + 1e-9)
        half = self.bins // 2
        while vmin < self.lo:
            merged = self.counts.reshape(half, 2).sum(axis=1)
            self.counts = np.concatenate([np.zeros(half, np.int64), merged])
            self.lo -= self.bins * self.width
            self.width *= 2
        while vmax >= self.lo + self.bins * self.width:
            merged = self.counts.reshape(half, 2).sum(axis=1)
            self.counts = np.concatenate([merged, np.zeros(half, np.int64)])
            self.width *= 2
        idx = np.clip(((v - self.lo) / self.width).astype(np.int64), 0, self.bins - 1)
        self.counts += np.bincount(idx, minlength=self.bins)

    def edges(self) -> NDArray:
        """Bin edges (``bins + 1`` values)."""
        lo = 0.0 if self.lo is None else self.lo
        return lo + self.width * np.arange(self.bins + 1)


class Envelope:
    """A bounded series summary: per bucket of records, min, max and mean.

    Buckets double in size (merging pairs) whenever there would be more than
    ``max_buckets``, so a series of any length is drawn from bounded memory.

    Examples
    --------
    >>> import numpy as np
    >>> env = Envelope(4)
    >>> env.add(np.arange(10.0))
    >>> env.records_per_bucket, env.mins().tolist(), env.maxs().tolist()
    (4, [0.0, 4.0, 8.0], [3.0, 7.0, 9.0])
    """

    def __init__(self, max_buckets: int) -> None:
        self.max_buckets = max(2, max_buckets)
        self.records_per_bucket = 1
        self.seen = 0
        self._min = np.empty(0)
        self._max = np.empty(0)
        self._sum = np.empty(0)
        self._cnt = np.empty(0, dtype=np.int64)

    def add(self, values: NDArray) -> None:
        v = values.astype(np.float64).reshape(-1)
        if not len(v):
            return
        w = self.records_per_bucket
        ids = (self.seen + np.arange(len(v))) // w
        self.seen += len(v)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        finite = np.isfinite(v)
        lo = np.fmin.reduceat(np.where(finite, v, np.nan), starts)
        hi = np.fmax.reduceat(np.where(finite, v, np.nan), starts)
        sums = np.add.reduceat(np.where(finite, v, 0.0), starts)
        cnts = np.add.reduceat(finite.astype(np.int64), starts)
        first_id = int(ids[0])
        if len(self._cnt) and first_id == len(self._cnt) - 1:
            self._min[-1] = np.fmin(self._min[-1], lo[0])
            self._max[-1] = np.fmax(self._max[-1], hi[0])
            self._sum[-1] += sums[0]
            self._cnt[-1] += cnts[0]
            lo, hi, sums, cnts = lo[1:], hi[1:], sums[1:], cnts[1:]
        self._min = np.concatenate([self._min, lo])
        self._max = np.concatenate([self._max, hi])
        self._sum = np.concatenate([self._sum, sums])
        self._cnt = np.concatenate([self._cnt, cnts])
        while len(self._cnt) > self.max_buckets:
            self._merge()

    def _merge(self) -> None:
        n = len(self._cnt)
        if n % 2:
            pad = [np.array([np.nan]), np.array([np.nan]), np.array([0.0]), np.array([0])]
            self._min = np.concatenate([self._min, pad[0]])
            self._max = np.concatenate([self._max, pad[1]])
            self._sum = np.concatenate([self._sum, pad[2]])
            self._cnt = np.concatenate([self._cnt, pad[3].astype(np.int64)])
        self._min = np.fmin(self._min[0::2], self._min[1::2])
        self._max = np.fmax(self._max[0::2], self._max[1::2])
        self._sum = self._sum[0::2] + self._sum[1::2]
        self._cnt = self._cnt[0::2] + self._cnt[1::2]
        self.records_per_bucket *= 2

    def starts(self) -> NDArray:
        """Index of the first record of each bucket."""
        return np.arange(len(self._cnt)) * self.records_per_bucket

    def mins(self) -> NDArray:
        """Smallest finite value per bucket (NaN for a bucket with none)."""
        return self._min

    def maxs(self) -> NDArray:
        """Largest finite value per bucket."""
        return self._max

    def means(self) -> NDArray:
        """Mean of the finite values per bucket."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out: NDArray = self._sum / self._cnt
        return out


def cmd_plot(args: argparse.Namespace) -> int:
    """``recview plot --field F -o out.png``: histogram or series of one field."""
    agg = require("matplotlib.backends.backend_agg", extra="plot", purpose="recview plot")
    Figure = require("matplotlib.figure", extra="plot", purpose="recview plot").Figure
    FigureCanvasAgg = agg.FigureCanvasAgg

    # Before the scan: an image format matplotlib cannot write is a usage error.
    kinds = FigureCanvasAgg.get_supported_filetypes()
    suffix = os.path.splitext(args.output)[1].lower().lstrip(".")
    if suffix not in kinds:
        raise UsageError(
            f"-o {args.output}: cannot tell the image format from the suffix "
            f"(use one of {', '.join('.' + k for k in sorted(kinds))})"
        )
    refuse_own_input(args, "drawing the plot")
    src = open_source(args)
    try:
        match = [c for c in select_columns(src.schema, None) if c.name == args.field]
        if not match:
            names = ", ".join(c.name for c in select_columns(src.schema, None))
            raise UsageError(f"--field: no field {args.field!r} (fields: {names})")
        column = match[0]
        if column.kind not in "iufb":
            raise UsageError(f"--field {args.field}: {type_text(column.info)} is not numeric")
        if args.kind == "series" and column.info.shape:
            raise UsageError(
                f"--field {args.field}: a series needs a scalar field, not shape {column.info.shape}"
            )
        acc: Histogram | Envelope = (
            Histogram(args.bins) if args.kind == "hist" else Envelope(args.max_points)
        )

        def consume(batch: NDArray) -> None:
            acc.add(column.array(batch).reshape(-1).astype(np.float64))

        scan(args, src, "plot", consume)
        records = src.records or 0
    finally:
        src.close()
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if isinstance(acc, Histogram):
        edges = acc.edges()
        ax.stairs(acc.counts, edges, fill=True)
        ax.set_xlabel(args.field)
        ax.set_ylabel("records")
        drawn = int(acc.counts.sum())
    else:
        x = acc.starts()
        if acc.records_per_bucket == 1:
            ax.plot(x, acc.means(), linewidth=0.8)
        else:
            ax.fill_between(x, acc.mins(), acc.maxs(), alpha=0.35, linewidth=0, step="post")
            ax.plot(x, acc.means(), linewidth=0.8)
        ax.set_xlabel(
            "record"
            + (f" (buckets of {acc.records_per_bucket:,})" if acc.records_per_bucket > 1 else "")
        )
        ax.set_ylabel(args.field)
        drawn = acc.seen
    ax.set_title(f"{os.path.basename(src.name)}: {args.field} ({records:,} records)")
    fig.tight_layout()
    fig.savefig(args.output)
    if not args.quiet:
        print(f"recview: wrote {args.output} ({args.kind}, {drawn:,} values)", file=sys.stderr)
    return EXIT_OK
