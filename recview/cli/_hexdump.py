"""Hex dump pieces shared by ``inspect`` and ``dump``: bytes as hex and ASCII,
and the fields of one record as annotated rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recview.cli._common import NDArray
from recview.cli._render import Column, text_of, type_text
from recview.schema import Schema


def hex_text(raw: bytes) -> str:
    """Bytes as two hex digits each, space-separated.

    Examples
    --------
    >>> hex_text(b"\\x00\\x1fA")
    '00 1f 41'
    """
    return " ".join(f"{b:02x}" for b in raw)


def ascii_text(raw: bytes) -> str:
    """Printable ASCII as itself, any other byte as ``.`` (as ``xxd``).

    Examples
    --------
    >>> ascii_text(b"AB\\x00~\\x7f")
    'AB.~.'
    """
    return "".join(chr(b) if 32 <= b < 127 else "." for b in raw)


def _flatten(value: Any) -> list[Any]:
    """The scalars of nested lists, in C order."""
    if not isinstance(value, list):
        return [value]
    return [v for item in value for v in _flatten(item)]


@dataclass
class Row:
    """One run of bytes in ``inspect`` and ``dump``: a field element, or a bitfield
    storage unit with its bitfields (``bits``: label, bit range, value)."""

    offset: int
    nbytes: int
    label: str
    type: str
    value: str
    bits: list[tuple[str, str, str]] = field(default_factory=list)


def _unit_text(value: Any) -> str:
    """A storage unit's value: its bits as hex (the integer in its own byte
    order, or a C run's bytes)."""
    if isinstance(value, np.integer):
        nbytes = value.dtype.itemsize
        return f"0x{int(value) & ((1 << 8 * nbytes) - 1):0{2 * nbytes}x}"
    return "0x" + bytes(value).hex()


def _unit_value(value: Any, order: str) -> int:
    """A storage unit's value as the integer its bits are numbered in."""
    if isinstance(value, np.integer):
        return int(value) & ((1 << 8 * value.dtype.itemsize) - 1)
    return int.from_bytes(bytes(value), "big" if order == ">" else "little")


def _unused_bits(
    value: int, nbits: int, used: list[tuple[int, int]]
) -> list[tuple[int, tuple[str, str, str]]]:
    """(lsb, bits row) of each run of a storage unit's bits no bitfield holds,
    flagged when any of them is set (as padding bytes are)."""
    taken = [False] * nbits
    for lsb, width in used:
        taken[lsb : lsb + width] = [True] * width
    rows: list[tuple[int, tuple[str, str, str]]] = []
    lo = 0
    while lo < nbits:
        if taken[lo]:
            lo += 1
            continue
        hi = lo
        while hi + 1 < nbits and not taken[hi + 1]:
            hi += 1
        bit_range = f"bit {lo}" if lo == hi else f"bits {lo}-{hi}"
        set_bits = (value >> lo) & ((1 << (hi - lo + 1)) - 1)
        note = "not zero: a bitfield missing from the schema?" if set_bits else ""
        rows.append((lo, ("(unused)", bit_range, note)))
        lo = hi + 1
    return rows


def record_rows(schema: Schema, rec: NDArray) -> list[Row]:
    """The rows of one record, in byte order: each element of each leaf of
    ``schema.fields()`` under its own bytes (a leaf inside an array of records
    is not contiguous: ``legs.px[1]`` has its own row), and each bitfield
    under its storage unit, with its bit range, in bit order, with the unit's
    unused bits."""
    rows: list[Row] = []
    units: dict[tuple[str, int], tuple[Row, int, list[tuple[int, int]]]] = {}
    bits: dict[tuple[str, int], list[tuple[int, tuple[str, str, str]]]] = {}
    for f in schema.fields():
        values = _flatten(Column(f, schema.enums.get(f.path)).values(rec)[0])
        places = zip(
            f.element_names(), f.element_offsets(), values, np.ndindex(*f.shape), strict=True
        )
        for name, off, v, idx in places:
            if f.storage is None or f.bit_offset is None or f.bit_width is None:
                rows.append(Row(off, f.dtype.itemsize, name, f.dtype.str, text_of(v)))
                continue
            key = (f.storage, off)
            if key not in units:
                label = f.storage + "".join(f"[{i}]" for i in idx)
                if schema.bitfields[f.storage].anonymous:
                    label = "(bits)"  # C's storage has no name
                storage = schema.get(rec, f.storage)[(0, *idx)]
                unit = Row(off, f.dtype.itemsize, label, f.dtype.str, _unit_text(storage))
                units[key] = (unit, _unit_value(storage, f.bit_order or "<"), [])
                bits[key] = []
                rows.append(unit)
            units[key][2].append((f.bit_offset, f.bit_width))
            bits[key].append((f.bit_offset, (name, type_text(f), text_of(v))))
    for key, (unit, value, used) in units.items():
        found = bits[key] + _unused_bits(value, 8 * unit.nbytes, used)
        unit.bits = [row for _, row in sorted(found, key=lambda item: item[0])]
    rows.sort(key=lambda r: (r.offset, r.label))
    return rows
