"""Bitfield extraction speed: recview vs a plain copy, construct and dissect.cstruct.

One command prints one table of medians and ratios::

    python benchmarks/bench_bits.py                 # 4 M records of 20 bytes (80 MB)
    python benchmarks/bench_bits.py --records 20000000 --runs 9

The records are a protocol header with bitfields, laid out by
``Schema.from_c`` from ``SOURCE`` below: an IPv6-style first word of three
bitfields in a ``uint32_t``, TCP's ports and sequence numbers, its ``doff``
and flag bits in two one-byte runs, and the window.

The file (random bytes) is written under ``--dir`` (default ``$TMPDIR`` or
``/tmp``), read once into the page cache and deleted at the end. Measured:

1. each bitfield column, ``schema.get(view.array, path)``, vs a plain copy of
   its storage field (the same bytes, an integer of the same width), in the
   same run: the ratio the issue bounds at 3x;
2. every bitfield of the record vs one copy of every storage field;
3. records per second decoding every field of the record: recview (all
   leaves, one vectorized pass each) vs ``construct`` (``to_construct().parse``)
   and ``dissect.cstruct`` (one record at a time in Python) on a sample of the
   same file, extrapolated per record. dissect.cstruct is used when it imports
   (``pip install dissect.cstruct``; ``--pydeps DIR`` adds a ``pip install
   --target`` directory to ``sys.path``).

Every number is the median of ``--runs`` interleaved runs; the machine is
shared and noisy, so ratios of medians from one run are what to compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _util

import recview as rv

SOURCE = """
struct hdr {
    uint32_t version:4, tclass:8, flow:20;
    uint16_t source, dest;
    uint32_t seq, ack_seq;
    uint16_t res1:4, doff:4, fin:1, syn:1, rst:1, psh:1, ack:1, urg:1, res2:2;
    uint16_t window;
};
"""
# the same struct in dissect.cstruct's dialect: one declarator per line
DISSECT_SOURCE = """
struct hdr {
    uint32 version:4; uint32 tclass:8; uint32 flow:20;
    uint16 source; uint16 dest;
    uint32 seq; uint32 ack_seq;
    uint16 res1:4; uint16 doff:4; uint16 fin:1; uint16 syn:1; uint16 rst:1; uint16 psh:1;
    uint16 ack:1; uint16 urg:1; uint16 res2:2;
    uint16 window;
};
"""


def write_file(path: str, records: int, itemsize: int) -> None:
    rng = np.random.default_rng(2026)
    with open(path, "wb") as f:
        left = records * itemsize
        while left:
            n = min(left, 64 * _util.MIB)
            f.write(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
            left -= n
        f.flush()
        os.fsync(f.fileno())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=4_000_000, help="records in the file")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case (median)")
    parser.add_argument("--sample", type=int, default=20_000, help="records for construct/dissect")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the file goes")
    parser.add_argument("--pydeps", help="a pip --target directory to import dissect.cstruct from")
    args = parser.parse_args(argv)
    if args.pydeps:
        sys.path.insert(0, args.pydeps)

    schema = rv.Schema.from_c(SOURCE, "hdr")
    leaves = schema.fields()
    bits = [f for f in leaves if f.is_bitfield]
    storages = sorted({f.storage for f in bits if f.storage is not None})
    fd, path = tempfile.mkstemp(suffix=".bin", dir=args.dir)
    os.close(fd)
    print(_util.machine())
    print(f"{args.records:,} records of {schema.itemsize} bytes, {len(bits)} bitfields in "
          f"{len(storages)} storage fields, {args.runs} runs")  # fmt: skip
    try:
        write_file(path, args.records, schema.itemsize)
        _util.warm(path)
        with rv.open(path, schema) as view:
            arr = view.array
            rows = per_field(schema, arr, bits, args.runs)
            rows += whole_record(schema, arr, bits, storages, args.runs)
            rows += per_record(schema, arr, args.sample, args.runs)
        _util.print_table(["case", "median", "vs", "ratio"], rows)
    finally:
        os.unlink(path)
    return 0


def per_field(schema: rv.Schema, arr: Any, bits: list[Any], runs: int) -> list[list[str]]:
    cases: dict[str, Any] = {}
    for f in bits:
        cases[f"get {f.path}"] = lambda f=f: schema.get(arr, f.path)
        cases[f"copy {f.storage}"] = lambda f=f: np.array(arr[f.storage])
    t = _util.median_times(cases, runs=runs)
    rows = []
    worst = 0.0
    for f in bits:
        base = t[f"copy {f.storage}"].median
        ratio = t[f"get {f.path}"].median / base
        worst = max(worst, ratio)
        rows.append(
            [
                f"{f.path} ({f.bit_width} bits of {f.dtype.str.lstrip('<|>')})",
                _util.fmt_time(t[f"get {f.path}"].median),
                f"copy {f.storage} {_util.fmt_time(base)}",
                _util.fmt_ratio(ratio),
            ]
        )
    rows.append(
        ["worst bitfield vs its storage copy (target <= 3x)", "", "", _util.fmt_ratio(worst)]
    )
    return rows


def whole_record(
    schema: rv.Schema, arr: Any, bits: list[Any], storages: list[str], runs: int
) -> list[list[str]]:
    t = _util.median_times(
        {
            "all bitfields": lambda: [schema.get(arr, f.path) for f in bits],
            "copy all storages": lambda: [np.array(arr[s]) for s in storages],
            "all leaves": lambda: [np.array(schema.get(arr, f.path)) for f in schema.fields()],
        },
        runs=runs,
    )
    n = len(arr)
    return [
        [
            f"all {len(bits)} bitfields",
            _util.fmt_time(t["all bitfields"].median),
            f"copy {len(storages)} storages {_util.fmt_time(t['copy all storages'].median)}",
            _util.fmt_ratio(t["all bitfields"].median / t["copy all storages"].median),
        ],
        [
            "recview: every leaf, records/s",
            _util.fmt_time(t["all leaves"].median),
            "",
            f"{n / t['all leaves'].median:,.0f}/s",
        ],
    ]


def per_record(schema: rv.Schema, arr: Any, sample: int, runs: int) -> list[list[str]]:
    raw = arr[:sample].tobytes()
    size = schema.itemsize
    chunks = [raw[i * size : (i + 1) * size] for i in range(sample)]
    con = schema.to_construct()
    cases: dict[str, Any] = {"construct": lambda: [con.parse(b) for b in chunks]}
    try:
        from dissect.cstruct import cstruct
    except ImportError:
        dissect = None
    else:
        dissect = cstruct()
        dissect.load(DISSECT_SOURCE)
        hdr = dissect.hdr
        check_dissect(hdr, schema, arr, chunks[:200])
        cases["dissect.cstruct"] = lambda: [hdr(b) for b in chunks]
    t = _util.median_times(cases, runs=max(3, runs // 2))
    rows = []
    for name, timing in t.items():
        rows.append(
            [
                f"{name}: every field, records/s",
                _util.fmt_time(timing.median / sample) + "/rec",
                f"{sample:,} records",
                f"{sample / timing.median:,.0f}/s",
            ]
        )
    if dissect is None:
        rows.append(["dissect.cstruct: not installed (pip install dissect.cstruct)", "", "", ""])
    return rows


def check_dissect(hdr: Any, schema: rv.Schema, arr: Any, chunks: list[bytes]) -> None:
    """dissect.cstruct must read the values recview reads, or the race means nothing."""
    for f in schema.fields():
        got = schema.get(arr[: len(chunks)], f.path).tolist()
        want = [getattr(hdr(b), f.path) for b in chunks]
        if got != want:
            raise SystemExit(f"dissect.cstruct and recview disagree on {f.path}")


if __name__ == "__main__":
    raise SystemExit(main())
