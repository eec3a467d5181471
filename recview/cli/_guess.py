"""``recview guess``: infer a record layout from the bytes of a dump that comes with no schema.

Given the first megabytes of a file of
fixed-size records, it finds

1. the record size: lags whose bytes repeat (the fraction of bytes equal to
   the byte ``p`` positions later, beyond chance) give candidates; each
   candidate and its divisors are scored by how much of the bytes' entropy
   the position in a ``p``-byte record explains on records it did not learn
   from, and a multiple is folded back to its divisor when it explains
   nearly as much or adds the same in every copy of the divisor (a slow
   pattern inside a field, not a larger record). Below :data:`MIN_SCORE`
   nothing is convincing, and that is an error, not a schema;
2. the header size: the leading rows that break the byte columns the body
   keeps constant (in two columns or more, and also those the next records
   keep constant, so that a drifting field is no header), rounded so that
   the rest of the file is whole records;
3. a type for each column of bytes: ``counter`` (a monotonic
   integer), ``float`` (f8 or f4 with plausible magnitudes), ``text``
   (printable ASCII padded with NULs, one field per NUL-padded string),
   ``constant``, ``int`` (small integers: the widest width whose upper half
   is sign extension) or raw ``bytes``, each in little-
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
from recview.cli._sources import storage_options_of
from recview.errors import LayoutError
from recview.remote import RemoteSource, is_url
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


def _structure(data: _U8, start: int, lags: Sequence[int]) -> dict[int, float]:
    """See :func:`_column_gains`: the share of the entropy explained per lag."""
    return {p: share for p, (share, _) in _column_gains(data, start, lags).items()}


def _column_gains(
    data: _U8, start: int, lags: Sequence[int]
) -> dict[int, tuple[float, npt.NDArray[np.float64]]]:
    """For each lag ``p``: how much of the bytes' entropy the byte's position in
    a ``p``-byte record explains, on bytes it has not seen (0: none, 1: all).

    The sample from ``start`` is cut into rows of ``p`` bytes; each column's
    byte distribution is learnt from the even rows and scored on the odd ones
    (cross-entropy, add-1/2 smoothing), against one distribution for all
    columns. At the true record size each column has its own distribution
    (exponent bytes, zero high bytes, text); at a multiple the columns repeat
    and each has fewer rows to learn from, so it explains less; at other
    sizes the columns mix.
    """
    out: dict[int, tuple[float, npt.NDArray[np.float64]]] = {}
    avail = len(data) - start
    for p in lags:
        nrows = min(_TYPING_ROWS, avail // p) // 2 * 2
        if nrows < 8:
            out[p] = (0.0, np.zeros(p))
            continue
        block = data[start : start + nrows * p].reshape(nrows // 2, 2, p).astype(np.int64)
        cols = 256 * np.arange(p)
        train = np.bincount((block[:, 0] + cols).ravel(), minlength=256 * p).reshape(p, 256)
        test = np.bincount((block[:, 1] + cols).ravel(), minlength=256 * p).reshape(p, 256)
        half = nrows // 2
        q_col = np.log2((train + 0.5) / (half + 128.0))
        h_col = -(test * q_col).sum(axis=1) / half
        pooled = train.sum(axis=0)
        q_glob = np.log2((pooled + 0.5) / (pooled.sum() + 128.0))
        h_glob = float(-(test.sum(axis=0) * q_glob).sum() / (half * p))
        gains = h_glob - h_col
        share = max(float(np.mean(gains)) / h_glob, 0.0) if h_glob > 0 else 0.0
        out[p] = (share, gains)
    return out


#: Scores below this are no convincing record structure (an ELF binary, text,
#: compressed data score below 0.05; arrays of one random float above 0.1).
MIN_SCORE = 0.06


def _choose_itemsize(
    data: _U8, scores: npt.NDArray[np.float64], chance: float
) -> tuple[int, float, list[tuple[int, float]]]:
    """The record size: among the lags whose bytes repeat best (and all their
    divisors), the one whose byte columns explain the most, folded back to
    its smallest divisor that explains nearly as much. Its score is what it
    explains beyond its neighbours ``p - 1`` and ``p + 1``, which share no
    period with it."""
    excess = scores - chance
    excess[0] = -np.inf
    top = [int(p) for p in np.argsort(-excess[1:], kind="stable")[:16] + 1]
    cands = sorted({d for p in top for d in range(1, p + 1) if p % d == 0})
    # skip the first bytes when there is room: a header there only adds noise
    start = min(len(data) // 16, max(0, len(data) - 64 * max(cands)))
    gains = _column_gains(data, start, cands)
    explained = {p: share for p, (share, _) in gains.items()}
    best = max(cands, key=lambda p: (explained[p], -p))
    for d in cands:
        if d >= best or best % d or explained[d] < 0.25 * explained[best]:
            continue
        # What a multiple explains beyond its divisor: the same in every copy
        # of the divisor's columns means a slow pattern inside the fields (a
        # ramp of 0.001 steps repeats its low bytes every 125 values), not
        # records of the larger size, whose copies differ (other fields).
        extra = (gains[best][1] - np.tile(gains[d][1], best // d)).reshape(best // d, d)
        spread = float(np.mean(np.abs(extra - extra.mean(axis=0))))
        uniform = spread < 0.3 * (float(np.mean(np.abs(extra))) + 1e-9)
        if explained[d] >= 0.97 * explained[best] or uniform:
            best = d
            break
    near = [q for q in (best - 1, best + 1) if q >= 1]
    floor = max(_structure(data, start, near).values(), default=0.0)
    order = sorted(cands, key=lambda p: (-explained[p], p))[:5]
    listed = [(p, max(explained[p] - floor, 0.0)) for p in order]
    return best, max(explained[best] - floor, 0.0), listed


# --------------------------------------------------------------------------
# header size


def _header_nbytes(data: _U8, itemsize: int, total_nbytes: int | None) -> int:
    """Where the records start, as a whole number of records after the phase.

    Records are assumed to run to the end of the file, which fixes the phase
    of the record boundaries (``total_nbytes % itemsize``). The byte columns
    that the second half of the sample keeps constant are the records'
    signature (exponent bytes, zero high bytes, padding); the header is the
    leading rows that break it in two columns or more. One broken column is
    drift, not a header (a clock or a price starting below a power of two
    changes its exponent byte early on).
    """
    p = itemsize
    phase = 0 if total_nbytes is None else total_nbytes % p
    nrows = (len(data) - phase) // p
    if nrows < 16:
        return phase
    rows = data[phase : phase + nrows * p].reshape(nrows, p)
    body = rows[nrows // 2 :]
    constant = np.all(body == body[0], axis=0)
    if np.count_nonzero(constant) < 2:
        return phase
    signature = body[0][constant]
    limit = min(nrows // 8, max(1, (1 << 20) // p))
    broken = np.count_nonzero(rows[:limit][:, constant] != signature, axis=1)
    k = 0
    while k < limit and broken[k] >= 2:
        k += 1
    if k == 0 or k >= limit:
        return phase
    # Header rows also break the columns that the records right after them
    # keep constant; rows of a drifting field do not (it varies there too).
    after = rows[k : k + 32]
    local = np.all(after == after[0], axis=0)
    if np.any(np.count_nonzero(local & (rows[:k] != after[0]), axis=1) < 2):
        return phase
    # a header's zero padding: all-zero rows that still break the signature
    while k < limit and broken[k] >= 1 and not np.any(rows[k]):
        k += 1
    return phase + k * p


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
        # A NUL followed by a non-NUL byte in one record: a new char field
        # starts there (inside one NUL-padded string only NULs follow a NUL).
        self.starts_text = np.zeros(self.width, dtype=bool)
        self.starts_text[1:] = np.any((rows[:, :-1] == 0) & (rows[:, 1:] != 0), axis=0)

    def varying(self, j: int) -> bool:
        return not bool(self.const[j])

    def plausible_float(self, j: int, w: int, order: str) -> bool:
        if j + w > self.width or all(self.const[j : j + w]):
            return False
        # Inside a float the varying bytes are the top ones (exponent and
        # high mantissa), constant low mantissa bytes below them: a constant
        # byte between two varying ones means two smaller fields.
        # The exponent bytes may be constant too (epoch seconds, prices in one
        # octave): the magnitudes below decide, as a small integer or a
        # counter read as a float is a denormal or a huge number.
        var = [self.varying(k) for k in range(j, j + w)]
        if order == ">":
            var.reverse()
        first = var.index(True)
        last = w - 1 - var[::-1].index(True)
        if not all(var[first : last + 1]):
            return False
        if w == 8 and self._small_int_below(j, order):
            return False
        values = _column_floats(self.rows, j, w, order)
        if not np.all(np.isfinite(values)):
            return False
        mags = np.abs(values[values != 0])
        if len(mags) < max(1, len(values) // 2):
            return False
        lo, hi = float(mags.min()), float(mags.max())
        # (1e15 keeps int32 epoch seconds, 0x65......, from reading as 4e22)
        if not (lo >= 1e-15 and hi <= 1e15 and hi / lo <= 1e10):
            return False
        # Two adjacent f4 also read as a plausible f8 (the first one's
        # exponent lands in the f8's exponent); the low half of a real f8 is
        # low mantissa bits, never a plausible f4 itself.
        return w != 8 or not (
            self.plausible_float(j, 4, order) and self.plausible_float(j + 4, 4, order)
        )

    def _small_int_below(self, j: int, order: str) -> bool:
        """Whether the low half of the 8 bytes at ``j`` is a small integer of its
        own (a varying low byte under a zero or sign-extension byte): then they
        are an int32 and a float32 (or two int16...), not one float64, whose low
        half is low mantissa bits."""
        lo_byte, top_byte = (j, j + 3) if order == "<" else (j + 7, j + 4)
        if self.varying(lo_byte) and self.extension(top_byte)[0]:
            return True
        if len(self.rows) < 1024:
            return False
        # int16 pairs: a low byte spread over all values under a high byte
        # confined to a range (a float64's low mantissa bytes are all spread)
        for low, high in ((0, 1), (2, 3)) if order == "<" else ((7, 6), (5, 4)):
            lo_n = len(np.unique(self.rows[:, j + low]))
            hi_n = len(np.unique(self.rows[:, j + high]))
            if lo_n >= 224 and self.varying(j + high) and hi_n <= 160:
                return True
        return False

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
            cut = next((m for m in range(j + 1, end) if self.starts_text[m]), end)
            return cut - j
        return 0

    def extension(self, k: int) -> tuple[bool, bool]:
        """Whether column ``k`` holds only 0x00/0xFF (the high byte of a small
        integer), and whether 0xFF occurs (a sign extension)."""
        col = self.rows[:, k]
        ext = bool(np.all((col == 0) | (col == 0xFF)))
        return ext, ext and bool(np.any(col == 0xFF))

    def int_field(self, j: int, order: str) -> tuple[int, bool]:
        """Width and signedness of a small integer at ``j``; width 0 if none.

        The widest aligned width wins whose upper half is only the sign
        extension of the lower half (zero bytes for unsigned values, copies of
        the sign for signed ones) while the least significant byte varies: a
        small ``int64`` is one field, not ``int32 + int16 + int16``. Otherwise
        the run of varying bytes is rounded up to a power of two.
        """
        for w in (8, 4, 2):
            if j % w or j + w > self.width:
                continue
            lo = j if order == "<" else j + w - 1
            if not self.varying(lo):
                continue
            if (
                order == ">"
                and self.varying(j)
                and self.extension(j)[1]
                and j % (2 * w) == 0
                and j + 2 * w <= self.width
                and any(self.varying(k) for k in range(j + w, j + 2 * w))
            ):
                continue  # big-endian: the sign-extended high half of a wider integer
            block = np.ascontiguousarray(self.rows[:, j : j + w])
            signed = block.view(np.dtype(f"{order}i{w}")).ravel()
            half = 1 << (4 * w - 1)
            if np.all(signed >= 0):
                unsigned = block.view(np.dtype(f"{order}u{w}")).ravel()
                if int(unsigned.max()) < 2 * half:
                    return w, False
            elif int(signed.min()) >= -half and int(signed.max()) < half:
                return w, True
        if not self.varying(j):
            return 0, False
        run = 1
        while j + run < self.width and run < 8 and self.varying(j + run):
            run += 1
            # the top byte of a little-endian integer is often only sign
            # extension (0x00/0xFF): the next byte starts another field
            if order == "<" and self.extension(j + run - 1)[0]:
                break
        w = 1
        while w < run:
            w *= 2
        while j % w:  # fields are aligned to their size in numpy's dumps
            w //= 2
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
        # a float32 ramp is monotonic too, but a counter read as a float32 is
        # a denormal (top byte zero) or beyond 1e15: a plausible one is a
        # float, unless it is the low half of a 64-bit counter
        wide = next((o for o in orders if cols.counter(j, 8, o)), None)
        if f4 and wide is None:
            j = add("float", j, f"{f4}f4")
            continue
        found = next(((w, o) for w in (8, 4, 2) for o in orders if cols.counter(j, w, o)), None)
        if found is not None:
            w, o = found
            j = add("counter", j, f"{o}u{w}")
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
    itemsize, score, cands = _choose_itemsize(arr, scores, chance)
    if score < MIN_SCORE:
        raise LayoutError(
            f"no periodic structure convincing enough in the first {len(arr):,} bytes (the best"
            f" record size, {itemsize} bytes, scores {score:.3f}; files of fixed-size records"
            f" score {MIN_SCORE} or more): not a dump of fixed-size records, or compressed?"
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
    if args.output:
        from recview.cli._writers import refuse_own_input

        refuse_own_input(args, "writing the schema")
    if args.file == "-":
        data = sys.stdin.buffer.read(args.sample_nbytes)
        g = guess_bytes(data, max_itemsize=args.max_itemsize)
        name = "<stdin>"
    elif is_url(args.file):  # the first bytes by one ranged read
        source = RemoteSource(args.file, storage_options=storage_options_of(args))
        try:
            total = source.size()
            data = source.pread(0, min(args.sample_nbytes, total))
        finally:
            source.close()
        try:
            g = guess_bytes(data, total_nbytes=total, max_itemsize=args.max_itemsize)
        except LayoutError as exc:
            raise LayoutError(f"{args.file}: {exc}", path=args.file) from exc
        name = args.file
    else:
        storage_options_of(args)  # a usage error for a local FILE
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
