#!/usr/bin/env python3
"""Generate the sample dumps, at any size.

The small files in this folder were made with the defaults::

    python samples/generate.py all

Big files go under $TMPDIR, never into the repository::

    python samples/generate.py trades --nbytes 8G -o "$TMPDIR/trades-8g.bin"

Data is written in chunks (memory stays bounded) from a seeded generator, so
the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from samples.schemas import (
    SENSOR_HEADER_NBYTES,
    Particle,
    Sensor,
    Trade,
)

CHUNK_RECORDS = 1 << 18
VENUES = np.array([b"XNAS", b"XNYS", b"BATS", b"ARCX", b"IEXG"], dtype="S8")
NAMES = np.array([b"electron", b"proton", b"neutron", b"muon", b"pion+", b"kaon0"], dtype="S12")


def trades(rng: np.random.Generator, start: int, n: int) -> np.ndarray:
    a = np.zeros(n, Trade.schema.dtype)
    idx = np.arange(start, start + n, dtype=np.uint64)
    a["ts"] = (
        1_700_000_000_000_000_000 + idx * 1_000_000 + rng.integers(0, 1000, n, dtype=np.uint64)
    )
    a["price"] = np.round(100 + np.cumsum(rng.normal(0, 0.05, n)) % 50, 2)
    a["qty"] = rng.integers(1, 1000, n)
    a["side"] = rng.integers(0, 2, n)
    a["venue"] = VENUES[rng.integers(0, len(VENUES), n)]
    return a


def sensor(rng: np.random.Generator, start: int, n: int) -> np.ndarray:
    a = np.zeros(n, Sensor.schema.dtype)
    idx = np.arange(start, start + n, dtype=np.uint64)
    a["ts"] = 1_700_000_000_000 + idx * 250
    a["sensor_id"] = idx % 16
    a["status"] = (rng.random(n) < 0.01).astype(np.uint8)
    a["temperature"] = 20 + 5 * np.sin(idx / 500.0) + rng.normal(0, 0.1, n)
    a["pressure"] = 1013 + rng.normal(0, 2, n)
    a["humidity"] = np.clip(45 + rng.normal(0, 5, n), 0, 100)
    return a


def sensor_header(count: int) -> bytes:
    head = b"SENSLOG1" + np.array([1, 24, 4], ">u2").tobytes() + np.array([count], ">u8").tobytes()
    head += b"site=lab-3;rate=4Hz".ljust(SENSOR_HEADER_NBYTES - len(head), b"\0")
    assert len(head) == SENSOR_HEADER_NBYTES
    return head


def particles(rng: np.random.Generator, start: int, n: int) -> np.ndarray:
    a = np.zeros(n, Particle.schema.dtype)
    a["id"] = np.arange(start, start + n)
    a["name"] = NAMES[rng.integers(0, len(NAMES), n)]
    for part in ("pos", "vel"):
        for axis in "xyz":
            a[part][axis] = rng.normal(0, 10 if part == "pos" else 1, n)
    a["flags"] = rng.integers(-100, 100, (n, 4))
    a["mass"] = rng.uniform(0.1, 2000.0, n)
    return a


KINDS: dict[str, tuple[Callable[[np.random.Generator, int, int], np.ndarray], int, int]] = {
    # name: (record maker, itemsize, default record count of the shipped sample)
    "trades": (trades, Trade.schema.itemsize, 1000),
    "sensor": (sensor, Sensor.schema.itemsize, 500),
    "particles": (particles, Particle.schema.itemsize, 200),
}


def parse_nbytes(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def generate(kind: str, out: Path, records: int, seed: int = 0) -> int:
    """Write ``records`` records of ``kind`` to ``out``; return the file size."""
    make, _itemsize, _ = KINDS[kind]
    rng = np.random.default_rng(seed)
    with open(out, "wb") as f:
        if kind == "sensor":
            f.write(sensor_header(records))
        for start in range(0, records, CHUNK_RECORDS):
            make(rng, start, min(CHUNK_RECORDS, records - start)).tofile(f)
    return os.path.getsize(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("kind", choices=[*KINDS, "all"], help="which sample to generate")
    p.add_argument("-o", "--output", type=Path, help="output file (default: samples/<kind>.bin)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("-n", "--records", type=int, help="number of records")
    size.add_argument("--nbytes", type=parse_nbytes, help="approximate file size, e.g. 8G")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    kinds = list(KINDS) if args.kind == "all" else [args.kind]
    if args.output and len(kinds) > 1:
        p.error("-o needs a single kind")
    for kind in kinds:
        _, itemsize, default = KINDS[kind]
        records = args.records or (args.nbytes // itemsize if args.nbytes else default)
        out = args.output or HERE / f"{kind}.bin"
        nbytes = generate(kind, out, records, args.seed)
        print(f"{out}: {records:,} {kind} records, {nbytes:,} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
