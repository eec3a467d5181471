"""Fixtures of the in-process CLI tests: trades, nested (C header) and sensor dumps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.unit.cli._helpers import (
    C_HEADER,
    NESTED_DTYPE,
    SIDES,
    TRADE_DTYPE,
    Dump,
    schema_json,
    trades_array,
)


@pytest.fixture
def trades(tmp_path: Path) -> Dump:
    a = trades_array(300)
    a["venue"][7] = b"\x01\xfe"  # not text: shown as hex
    path = tmp_path / "trades.bin"
    a.tofile(path)
    schema = tmp_path / "trades.json"
    schema.write_text(schema_json(TRADE_DTYPE, {"side": SIDES}))
    return Dump(path, schema, a)


@pytest.fixture
def nested(tmp_path: Path) -> Dump:
    rng = np.random.default_rng(1)
    n = 50
    a = np.zeros(n, NESTED_DTYPE)
    a["id"] = np.arange(n)
    a["pos"]["x"] = rng.normal(0, 10, n)
    a["pos"]["y"] = rng.normal(0, 1, n)
    a["flags"] = rng.integers(-100, 100, (n, 3))
    a["name"] = rng.choice([b"pion", b"kaon0", b"muon"], n)
    a["mass"] = rng.uniform(0.1, 2000, n)
    path = tmp_path / "nested.bin"
    a.tofile(path)
    header = tmp_path / "rec.h"
    header.write_text(C_HEADER)
    return Dump(path, header, a)


@pytest.fixture
def sensor(tmp_path: Path) -> Dump:
    """Big-endian records after a 16-byte header."""
    dt = np.dtype([("ts", ">u8"), ("temp", ">f4"), ("id", ">u2"), ("ok", "u1"), ("pad", "u1")])
    n = 120
    a = np.zeros(n, dt)
    a["ts"] = 1_700_000_000_000 + np.arange(n) * 250
    a["temp"] = 20 + np.sin(np.arange(n) / 10)
    a["id"] = np.arange(n) % 4
    a["ok"] = 1
    path = tmp_path / "sensor.bin"
    path.write_bytes(b"SENSLOG1" + bytes(8) + a.tobytes())
    schema = tmp_path / "sensor.json"
    schema.write_text(schema_json(dt))
    return Dump(path, schema, a)
