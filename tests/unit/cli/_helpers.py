"""Shared data of the in-process CLI tests: record layouts, sample files, ``run``."""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview.cli import main
from recview.cli._render import show_bytes

TRADE_DTYPE = np.dtype(
    {
        "names": ["ts", "price", "qty", "side", "venue"],
        "formats": ["<u8", "<f8", "<u4", "u1", "S8"],
        "offsets": [0, 8, 16, 20, 24],
        "itemsize": 32,
    }
)
TRADE_SPEC = {
    "names": list(TRADE_DTYPE.names or ()),
    "formats": [TRADE_DTYPE.fields[n][0].str for n in TRADE_DTYPE.names or ()],
    "offsets": [TRADE_DTYPE.fields[n][1] for n in TRADE_DTYPE.names or ()],
    "itemsize": TRADE_DTYPE.itemsize,
}
SIDES = {0: "BUY", 1: "SELL"}

C_HEADER = """\
#include <stdint.h>
#define N 3
struct vec { float x, y; };
/* one record */
struct rec { uint32_t id; struct vec pos; int16_t flags[N]; char name[6]; double mass; };
"""
NESTED_DTYPE = np.dtype(
    [
        ("id", "<u4"),
        ("pos", [("x", "<f4"), ("y", "<f4")]),
        ("flags", "<i2", (3,)),
        ("name", "S6"),
        ("mass", "<f8"),
    ],
    align=True,
)

PY_MODULE = """\
import construct as c
import numpy as np
import recview as rv

class Trade(rv.Record):
    ts: rv.u64
    price: rv.f64
    qty: rv.u32
    side: rv.u8
    _pad: rv.pad(3)
    venue: rv.bytes_(8)

DTYPE = np.dtype({dtype!r})
STRUCT = c.Struct(
    "ts" / c.Int64ul, "price" / c.Float64l, "qty" / c.Int32ul, "side" / c.Int8ul,
    c.Padding(3), "venue" / c.Bytes(8),
)
SCHEMA = Trade.schema
NOT_A_SCHEMA = object()
"""


@dataclass
class Dump:
    path: Path
    schema: Path  # the JSON schema file
    array: np.ndarray


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def trades_array(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.zeros(n, TRADE_DTYPE)
    a["ts"] = np.uint64(1_700_000_000_000_000_000) + np.arange(n, dtype=np.uint64) * np.uint64(
        1_000_003
    )
    a["price"] = np.round(100 + np.cumsum(rng.normal(0, 0.05, n)), 2)
    a["qty"] = rng.integers(1, 1000, n)
    a["side"] = rng.integers(0, 2, n)
    a["venue"] = rng.choice([b"XNAS", b"XNYS", b"BATS"], n)
    return a


def schema_json(dtype: np.dtype, enums: dict[str, dict[int, str]] | None = None) -> str:
    doc = json.loads(rv.Schema.from_dtype(dtype).to_json())
    if enums:
        doc["enums"] = {k: {str(v): name for v, name in m.items()} for k, m in enums.items()}
    return json.dumps(doc)


def set_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def info_json(capsys: pytest.CaptureFixture[str], *argv: object) -> dict:
    code, out, err = run(capsys, "info", *argv, "--format", "json")
    assert code == 0, err
    doc: dict = json.loads(out)
    return doc


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def check_rows(rows: list[dict], a: np.ndarray) -> None:
    assert len(rows) == len(a)
    for row, rec in zip(rows, a, strict=True):
        assert int(row["ts"]) == int(rec["ts"])
        assert float(row["price"]) == float(rec["price"])
        assert int(row["qty"]) == int(rec["qty"])
        assert row["side"] == SIDES[int(rec["side"])]
        assert row["venue"] == show_bytes(bytes(rec["venue"]))
