"""``recview guess``: infer a record layout from the bytes of a dump that comes with no schema.

Given the first megabytes of a file of
fixed-size records, it finds

1. the record size, from byte periodicity: for every candidate lag ``p`` the
   fraction of bytes equal to the byte ``p`` positions later, minus what equal
   bytes would give by chance (``sum(freq**2)``). Records of size ``p`` repeat
   their constant bytes, exponent bytes, high bytes of counters and text
   columns at lag ``p`` (and at its multiples, which are then folded back to
   the smallest divisor scoring nearly as well);
2. the header size, from the byte columns that are constant over the body of
   the file: the header is the leading run of bytes breaking that pattern,
   rounded up so that the rest of the file is whole records;
3. a type for each column of bytes in the record: ``counter`` (a monotonic
   integer), ``float`` (f8 or f4 with plausible magnitudes), ``text``
   (printable ASCII padded with NULs), ``constant``, ``int`` (small integers:
   a varying low byte, constant high bytes) or raw ``bytes``, each in little-
   or big-endian byte order, whichever the file's floats and counters favour.

The result is a starting point for a schema, not a proof: a human confirms it
with ``recview inspect``. The analysis knows nothing about files beyond reading
bytes; :func:`cmd_guess`, at the end, is the command that reads a sample and
prints the schema (standard output) and the analysis (standard error).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recview.cli._common import EXIT_OK
from recview.errors import LayoutError
from recview.schema import Schema

__all__ = ["Guess", "GuessedField", "guess_bytes", "guess_file"]

#: Bytes read from the start of a file by :func:`guess_file`.
SAMPLE_NBYTES = 4 << 20
#: Largest record size tried by default.
MAX_ITEMSIZE = 4096
#: Rows used to type the columns.
_TYPING_ROWS = 8192

_U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class GuessedField:
    """One proposed field.

    Attributes
    ----------
    name : str
        ``<kind>_<offset>``, e.g. ``counter_0``.
    offset : int
        Byte offset in the record.
    dtype : numpy.dtype
        Proposed scalar type (with byte order).
    kind : str
        ``counter``, ``float``, ``text``, ``constant``, ``int`` or ``bytes``.
    """

    name: str
    offset: int
    dtype: np.dtype[np.generic]
    kind: str

    @property
    def itemsize(self) -> int:
        """Bytes the field spans."""
        return int(self.dtype.itemsize)


@dataclass(frozen=True)
class Guess:
    """A proposed layout for a dump.

    Attributes
    ----------
    itemsize : int
        Record size in bytes.
    header_nbytes : int
        Bytes before the first record.
    records : int or None
        Whole records after the header (``None`` when the total size is unknown).
    trailing_nbytes : int
        Bytes after the last whole record.
    score : float
        Periodicity of the data at ``itemsize``: the share of byte columns
        that repeat from record to record beyond chance, from 0 (random
        bytes) to 1 (every record identical).
    fields : tuple of GuessedField
        Proposed fields in offset order; bytes not covered are zero padding.
    candidates : tuple of (int, float)
        The best few record sizes and their scores, best first.
    """

    itemsize: int
    header_nbytes: int
    records: int | None
    trailing_nbytes: int
    score: float
    fields: tuple[GuessedField, ...]
    candidates: tuple[tuple[int, float], ...]

    @property
    def dtype(self) -> np.dtype[np.void]:
        """The proposed record as a numpy structured dtype (padding kept by offsets)."""
        return np.dtype(
            {
                "names": [f.name for f in self.fields],
                "formats": [f.dtype for f in self.fields],
                "offsets": [f.offset for f in self.fields],
                "itemsize": self.itemsize,
            }
        )


# --------------------------------------------------------------------------
# record size


def _period_scores(data: _U8, max_itemsize: int) -> tuple[npt.NDArray[np.float64], float]:
    """Equality fraction at each lag 1..P (index 0 unused) and the chance baseline.

    A coarse pass over a 64 KiB window scores every lag; the best few lags
    and all their divisors are then scored again over the full window (up to
    256 KiB), so that the choice among multiples rests on the most data.
    Lags that are not refined get 0.
    """
    n = len(data)
    max_lag = min(max_itemsize, n // 8)
    window = min(n - max_lag, max(1 << 18, 32 * max_lag))
    # Skip the first bytes when there is room: a header there only adds noise.
    start = min(n - max_lag - window, n // 16)

    def score(lag: int, nbytes: int) -> float:
        a = data[start : start + nbytes]
        b = data[start + lag : start + lag + nbytes]
        return np.count_nonzero(a == b) / nbytes

    coarse_nbytes = min(window, 1 << 16)
    coarse = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):
        coarse[lag] = score(lag, coarse_nbytes)
    best = np.argsort(-coarse[1:], kind="stable")[:16] + 1
    refine = {d for p in best.tolist() for d in range(1, p + 1) if p % d == 0}
    scores = np.zeros(max_lag + 1)
    for lag in sorted(refine):
        scores[lag] = score(lag, window)
    freq = np.bincount(data[start : start + window], minlength=256) / window
    return scores, float(np.dot(freq, freq))


def _choose_itemsize(
    scores: npt.NDArray[np.float64], chance: float
) -> tuple[int, float, list[tuple[int, float]]]:
    excess = scores - chance
    excess[0] = -np.inf
    best = int(np.argmax(excess))
    # A record of size p repeats at 2p, 3p...: fold back to the smallest divisor
    # that explains nearly as much (multiples score a little lower or equal,
    # as counters drift more over two records than over one).
    for d in range(1, best):
        if best % d == 0 and excess[d] >= 0.9 * excess[best]:
            best = d
            break
    norm = max(1.0 - chance, 1e-12)
    order = np.argsort(-excess[1:], kind="stable")[:5] + 1
    cands = [(int(p), float(max(excess[p], 0.0) / norm)) for p in order]
    return best, float(max(excess[best], 0.0) / norm), cands


# --------------------------------------------------------------------------
# header size


def _header_nbytes(data: _U8, itemsize: int, total_nbytes: int | None) -> int:
    """Where the records start, as a whole number of records after the phase.

    Records are assumed to run to the end of the file, which fixes the phase
    of the record boundaries (``total_nbytes % itemsize``). Starting from that
    phase, the header is the leading rows that break the byte columns the
    next rows keep constant (a row fits when at most one in eight of those
    constant columns differs). Comparing each row only with the rows right
    after it keeps a slow drift (a price crossing a power of two changes an
    exponent byte) from reading as a header.
    """
    p = itemsize
    phase = 0 if total_nbytes is None else total_nbytes % p
    nrows = (len(data) - phase) // p
    if nrows < 2:
        return phase
    rows = data[phase : phase + nrows * p].reshape(nrows, p)
    window = min(32, max(2, nrows // 4))

    def constant_after(k: int) -> npt.NDArray[np.bool_]:
        after = rows[k + 1 : k + 1 + window]
        out: npt.NDArray[np.bool_] = np.all(after == after[0], axis=0)
        return out

    # How many columns a clean block of records keeps constant; a block that
    # still holds header rows keeps far fewer.
    typical = int(np.count_nonzero(constant_after(nrows // 2)))
    if typical == 0:
        return phase
    for k in range(min(nrows - window - 1, max(1, (1 << 20) // p))):
        constant = constant_after(k)
        kept = int(np.count_nonzero(constant))
        misfits = int(np.count_nonzero(constant & (rows[k] != rows[k + 1])))
        if 4 * kept >= 3 * typical and misfits <= kept // 8:
            return phase + k * p
    return phase


# --------------------------------------------------------------------------
# field types


def _column_ints(rows: _U8, j: int, w: int, order: str) -> npt.NDArray[np.uint64]:
    block = np.ascontiguousarray(rows[:, j : j + w])
    return block.view(np.dtype(f"{order}u{w}")).ravel().astype(np.uint64)


def _column_floats(rows: _U8, j: int, w: int, order: str) -> npt.NDArray[np.float64]:
    block = np.ascontiguousarray(rows[:, j : j + w])
    with np.errstate(all="ignore"):
        return block.view(np.dtype(f"{order}f{w}")).ravel().astype(np.float64)


def _monotonic(values: npt.NDArray[np.uint64], w: int) -> bool:
    """Non-decreasing, not constant, with steps small next to the type's range."""
    steps = np.diff(values.astype(np.float64))
    if len(steps) == 0 or steps.min() < 0 or steps.max() <= 0:
        return False
    # the top byte barely moves between records
    return bool(steps.max() < 2.0 ** (8 * w - 8))


class _Columns:
    """Per-column facts about a sample of records (rows x itemsize bytes)."""

    def __init__(self, rows: _U8) -> None:
        self.rows = rows
        self.width = rows.shape[1]
        self.const = np.all(rows == rows[0], axis=0)
        self.zero = self.const & (rows[0] == 0)
        printable = (rows >= 0x20) & (rows < 0x7F)
        self.texty = np.all(printable | (rows == 0), axis=0) & np.any(printable, axis=0)
        alpha = ((rows | 0x20) >= ord("a")) & ((rows | 0x20) <= ord("z"))
        self.alpha = np.all(alpha, axis=0)

    def varying(self, j: int) -> bool:
        return not bool(self.const[j])

    def plausible_float(self, j: int, w: int, order: str) -> bool:
        if j + w > self.width or all(self.const[j : j + w]):
            return False
        # Inside a float the varying bytes are the top ones (exponent and
        # high mantissa), constant low mantissa bytes below them: a constant
        # byte between two varying ones means two smaller fields.
        var = [self.varying(k) for k in range(j, j + w)]
        if order == ">":
            var.reverse()
        first = var.index(True)
        last = w - 1 - var[::-1].index(True)
        if not all(var[first : last + 1]) or last < w - 2:
            return False
        values = _column_floats(self.rows, j, w, order)
        if not np.all(np.isfinite(values)):
            return False
        mags = np.abs(values[values != 0])
        if len(mags) < max(1, len(values) // 2):
            return False
        lo, hi = float(mags.min()), float(mags.max())
        if not (lo >= 1e-30 and hi <= 1e30 and hi / lo <= 1e10):
            return False
        # Two adjacent f4 also read as a plausible f8 (the first one's
        # exponent lands in the f8's exponent); the low half of a real f8 is
        # low mantissa bits, never a plausible f4 itself.
        return w != 8 or not (
            self.plausible_float(j, 4, order) and self.plausible_float(j + 4, 4, order)
        )

    def counter(self, j: int, w: int, order: str) -> bool:
        if j + w > self.width:
            return False
        lsb, msb = (j, j + w - 1) if order == "<" else (j + w - 1, j)
        if self.varying(msb) and not self.varying(lsb):
            return False  # a counter moves its low bytes at least as often as its high ones
        if not _monotonic(_column_ints(self.rows, j, w, order), w):
            return False
        if w > 2:
            # A counter in the high half with unrelated bytes in the low half
            # also reads as a monotonic wide integer: the high half then steps
            # on every record while the low half does not count.
            h = w // 2
            hi_at, lo_at = (j + h, j) if order == "<" else (j, j + h)
            hi = _column_ints(self.rows, hi_at, h, order)
            lo = _column_ints(self.rows, lo_at, h, order)
            if np.all(np.diff(hi.astype(np.float64)) > 0) and not _monotonic(lo, h):
                return False
        return True

    def text_run(self, j: int) -> int:
        """Length of a NUL-padded printable run starting at ``j`` (0 if none)."""
        if not self.texty[j]:
            return 0
        k = j
        while k < self.width and (self.texty[k] or self.zero[k]):
            k += 1
        while k > j and self.zero[k - 1]:
            k -= 1
        varying_text = [m for m in range(j, k) if self.texty[m] and self.varying(m)]
        if len(varying_text) >= 2 or (len(varying_text) == 1 and self.alpha[varying_text[0]]):
            # keep the NUL padding after the text (part of a char[N])
            end = k
            while end < self.width and self.zero[end]:
                end += 1
            return end - j
        return 0

    def extension(self, k: int) -> tuple[bool, bool]:
        """Whether column ``k`` holds only 0x00/0xFF (the high byte of a small
        integer), and whether 0xFF occurs (a sign extension)."""
        col = self.rows[:, k]
        ext = bool(np.all((col == 0) | (col == 0xFF)))
        return ext, ext and bool(np.any(col == 0xFF))

    def int_field(self, j: int, order: str) -> tuple[int, bool]:
        """Width and signedness of a small integer at ``j``; width 0 if none.

        A small integer's least significant byte varies while its most
        significant byte is zero or sign extension (0x00/0xFF): the smallest
        aligned width where that holds wins. Otherwise the run of varying
        bytes is rounded up to a power of two.
        """
        lo_of = (lambda w: j) if order == "<" else (lambda w: j + w - 1)
        hi_of = (lambda w: j + w - 1) if order == "<" else (lambda w: j)
        for w in (2, 4, 8):
            if j % w or j + w > self.width or not self.varying(lo_of(w)):
                continue
            ext, signed = self.extension(hi_of(w))
            if not ext:
                continue
            # big-endian: zero/sign bytes first, then only varying bytes
            if (
                order == ">"
                and not all(self.varying(k) for k in range(j + 1, j + w))
                and not all(self.extension(k)[0] for k in range(j, j + w - 1))
            ):
                continue
            # widen an unsigned little-endian integer over zero bytes above it
            while (
                order == "<"
                and not signed
                and w < 8
                and j % (2 * w) == 0
                and j + 2 * w <= self.width
                and all(self.zero[j + w : j + 2 * w])
            ):
                w *= 2
            return w, signed
        if not self.varying(j):
            return 0, False
        run = 1
        while j + run < self.width and run < 8 and self.varying(j + run):
            run += 1
        w = 1
        while w < run:
            w *= 2
        if j + w > self.width:
            return 1, False
        return w, w > 1 and self._signed(j, w, order)

    def _signed(self, j: int, w: int, order: str) -> bool:
        """Whether values cluster around zero when read signed (negatives
        read unsigned are huge; random bytes are not smaller either way)."""
        block = np.ascontiguousarray(self.rows[:, j : j + w])
        unsigned = block.view(np.dtype(f"{order}u{w}")).astype(np.float64)
        signed = block.view(np.dtype(f"{order}i{w}")).astype(np.float64)
        return bool(np.abs(signed).max() * 4 < unsigned.max())


def _byteorder(cols: _Columns) -> str:
    """``'>'`` when aligned floats and counters read better big-endian, else ``'<'``."""
    votes = {"<": 0, ">": 0}
    for w in (8, 4, 2):
        for j in range(0, cols.width - w + 1, w):
            for order in votes:
                if (w > 2 and cols.plausible_float(j, w, order)) or cols.counter(j, w, order):
                    votes[order] += w
    return ">" if votes[">"] > votes["<"] else "<"


def _fields(rows: _U8) -> list[GuessedField]:
    cols = _Columns(rows)
    order = _byteorder(cols)
    orders = (order, ">" if order == "<" else "<")
    out: list[GuessedField] = []

    def add(kind: str, j: int, dtype: str) -> int:
        dt = np.dtype(dtype)
        out.append(GuessedField(f"{kind}_{j}", j, dt, kind))
        return j + dt.itemsize

    j = 0
    width = cols.width
    while j < width:
        run = cols.text_run(j)
        f8 = next((o for o in orders if cols.plausible_float(j, 8, o)), None)
        f4 = next((o for o in orders if cols.plausible_float(j, 4, o)), None)
        # The exponent bytes of floats are often printable: text must cover
        # at least the float that would start at the same byte.
        if run and run >= (8 if f8 else 4 if f4 else 0):
            j = add("text", j, f"S{run}")
            continue
        if f8:
            j = add("float", j, f"{f8}f8")
            continue
        found = next(((w, o) for w in (8, 4, 2) for o in orders if cols.counter(j, w, o)), None)
        if found is not None:
            w, o = found
            j = add("counter", j, f"{o}u{w}")
            continue
        if f4:
            j = add("float", j, f"{f4}f4")
            continue
        w, signed = cols.int_field(j, order)
        if w:
            kind = "i" if signed else "u"
            j = add("int", j, f"{order}{kind}{w}" if w > 1 else f"{kind}1")
            continue
        # A run of constant bytes: zero padding (no field) or a constant
        # field. It stops at a 4-byte boundary where the bytes change from
        # zero to not (the top byte of a big-endian float starts there).
        k = j + 1
        while (
            k < width
            and cols.const[k]
            and not (k % 4 == 0 and cols.zero[k] != cols.zero[j])
            and not cols.int_field(k, order)[0]
        ):
            k += 1
        if not all(cols.zero[j:k]):
            n = k - j
            add("constant", j, f"{order}u{n}" if n in (2, 4, 8) and j % n == 0 else f"S{n}")
        j = k
    return out


# --------------------------------------------------------------------------
# entry points


def guess_bytes(
    data: bytes | bytearray | memoryview | _U8,
    *,
    total_nbytes: int | None = None,
    max_itemsize: int = MAX_ITEMSIZE,
) -> Guess:
    """Guess record size, header size and field types from the start of a dump.

    Parameters
    ----------
    data : bytes-like
        The first bytes of the file (a few MiB are plenty; at least eight
        records are needed).
    total_nbytes : int or None
        The whole file's size in bytes, which places the record boundaries
        (records are assumed to run to the end of the file). ``None`` means
        ``data`` is the whole file.
    max_itemsize : int
        Largest record size tried, in bytes.

    Returns
    -------
    Guess
        The proposed layout.

    Raises
    ------
    LayoutError
        Fewer than 16 bytes, or no periodic structure at all (random bytes).

    Examples
    --------
    >>> import numpy as np
    >>> dt = np.dtype([("seq", "<u4"), ("value", "<f8"), ("tag", "S4")])
    >>> rng = np.random.default_rng(0)
    >>> recs = np.zeros(500, dtype=dt)
    >>> recs["seq"] = np.arange(500)
    >>> recs["value"] = rng.normal(100, 5, 500)
    >>> recs["tag"] = rng.choice([b"AB", b"CDE", b"FGHI"], 500)
    >>> g = guess_bytes(b"HDR1" + bytes(12) + recs.tobytes())
    >>> g.itemsize, g.header_nbytes, [(f.offset, f.kind) for f in g.fields]
    (16, 16, [(0, 'counter'), (4, 'float'), (12, 'text')])
    """
    arr = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    total = len(arr) if total_nbytes is None else total_nbytes
    if len(arr) < 16:
        raise LayoutError(f"only {len(arr)} bytes: too few to guess a record layout")
    scores, chance = _period_scores(arr, max_itemsize)
    itemsize, score, cands = _choose_itemsize(scores, chance)
    if score < 0.02:
        raise LayoutError(
            f"no periodic structure in the first {len(arr):,} bytes (best record size"
            f" {itemsize} scores {score:.3f}): random or compressed data?"
        )
    header = _header_nbytes(arr, itemsize, total)
    records = (total - header) // itemsize
    nrows = min((len(arr) - header) // itemsize, _TYPING_ROWS)
    if nrows >= 2:
        rows = arr[header : header + nrows * itemsize].reshape(nrows, itemsize)
        fields = _fields(rows)
    else:  # pragma: no cover - needs a file of < 2 records, excluded by 8 records above
        fields = [GuessedField("bytes_0", 0, np.dtype(f"S{itemsize}"), "bytes")]
    return Guess(
        itemsize=itemsize,
        header_nbytes=header,
        records=records,
        trailing_nbytes=(total - header) - records * itemsize,
        score=score,
        fields=tuple(fields),
        candidates=tuple(cands),
    )


def guess_file(
    path: str | os.PathLike[str],
    *,
    sample_nbytes: int = SAMPLE_NBYTES,
    max_itemsize: int = MAX_ITEMSIZE,
) -> Guess:
    """:func:`guess_bytes` on the first ``sample_nbytes`` of a file.

    Parameters
    ----------
    path : str or path-like
        The dump.
    sample_nbytes : int
        How many bytes to read from its start.
    max_itemsize : int
        Largest record size tried, in bytes.

    Returns
    -------
    Guess
        The proposed layout.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "dump.bin")
    >>> recs = np.zeros(300, dtype=[("n", "<u8"), ("x", "<f8")])
    >>> recs["n"] = np.arange(300)
    >>> recs["x"] = np.linspace(1.0, 2.0, 300)
    >>> recs.tofile(path)
    >>> g = guess_file(path)
    >>> g.itemsize, g.header_nbytes, g.records, [f.kind for f in g.fields]
    (16, 0, 300, ['counter', 'float'])
    """
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        data = fh.read(sample_nbytes)
    # A FIFO or pipe (``<(zcat x.gz)``) has no size: what was read is all
    # that is known, as for standard input.
    total = st.st_size if stat.S_ISREG(st.st_mode) else None
    try:
        return guess_bytes(data, total_nbytes=total, max_itemsize=max_itemsize)
    except LayoutError as err:
        raise LayoutError(f"{os.fspath(path)}: {err}", path=path) from err


def describe(guess: Guess, *, path: str = "") -> Sequence[str]:
    """Human-readable lines explaining a :class:`Guess` (for standard error)."""
    lines = [
        f"{path + ': ' if path else ''}record size {guess.itemsize} bytes"
        f" (score {guess.score:.2f}), header {guess.header_nbytes} bytes"
        + (f", {guess.records:,} records" if guess.records is not None else "")
        + (f", {guess.trailing_nbytes} trailing bytes" if guess.trailing_nbytes else ""),
        "other sizes: "
        + ", ".join(
            f"{p}{f' = {p // guess.itemsize}x{guess.itemsize}' if p % guess.itemsize == 0 else ''}"
            f" ({s:.2f})"
            for p, s in guess.candidates
            if p != guess.itemsize
        ),
    ]
    lines.extend(
        f"  {f.offset:>5}  {f.itemsize:>4}  {f.dtype.str:<6} {f.kind:<9} {f.name}"
        for f in guess.fields
    )
    return lines


def cmd_guess(args: argparse.Namespace) -> int:
    """``recview guess``: infer record size, header size and a starting schema."""
    if args.file == "-":
        data = sys.stdin.buffer.read(args.sample_nbytes)
        g = guess_bytes(data, max_itemsize=args.max_itemsize)
        name = "<stdin>"
    else:
        g = guess_file(args.file, sample_nbytes=args.sample_nbytes, max_itemsize=args.max_itemsize)
        name = args.file
    schema = Schema.from_dtype(g.dtype)
    if args.format == "json":
        text = json.dumps(
            {
                "itemsize": g.itemsize,
                "header_nbytes": g.header_nbytes,
                "records": g.records,
                "trailing_nbytes": g.trailing_nbytes,
                "score": round(g.score, 4),
                "candidates": [[p, round(s, 4)] for p, s in g.candidates],
                "fields": [
                    {"name": f.name, "offset": f.offset, "type": f.dtype.str, "kind": f.kind}
                    for f in g.fields
                ],
                "schema": json.loads(schema.to_json()),
            },
            indent=2,
        )
    else:
        text = schema.to_json(indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    if not args.quiet:
        err = sys.stderr
        for line in describe(g, path=name):
            err.write(line + "\n")
        target = args.output or "schema.json"
        err.write(
            f"next: recview inspect {args.file} -s {target} --offset {g.header_nbytes} --record 0\n"
        )
    return EXIT_OK
