"""``recview convert`` output compared with numpy's own reading of the same bytes.

Random records of a schema with every integer size in both byte orders (the
extremes included), float32/float64 with NaN, infinities and -0.0, bools,
``char[N]`` text (commas, quotes, trailing NULs) and an array field are
written to CSV, JSON lines, Parquet and ``.npy``; each output is read back
with an independent reader (``csv``, ``json``, pyarrow, ``np.load``) and
compared value by value with ``np.fromfile`` of the input. Nothing may be
lost or changed on the way: integers exactly, floats to the bit (float32 as
its shortest float32 text), bytes exactly in Parquet.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recview.cli import main

INTS = ["<i1", "<u1", "<i2", ">i2", "<u2", "<i4", ">u4", "<i8", ">i8", "<u8", ">u8"]
DTYPE = np.dtype(
    [(f"n{k}", t) for k, t in enumerate(INTS)]
    + [("f4", "<f4"), ("g4", ">f4"), ("f8", "<f8"), ("g8", ">f8"), ("ok", "?")]
    + [("tag", "S6"), ("xy", "<f8", (2,))]
)
SPEC = str(DTYPE.descr)
SPECIAL = {
    4: [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, 3.4028235e38, 1.0 / 3.0],
    8: [np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, 1e308, 1.0 / 3.0],
}
TAGS = [b"ab,c", b'"q"', b"x", b"", b"abcdef", b"a b\x00\x00", b"'\";,"]


def records(n: int, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    out = np.zeros(n, DTYPE)
    for k, t in enumerate(INTS):
        info = np.iinfo(np.dtype(t))
        vals = rng.integers(
            info.min, info.max, size=n, dtype=np.dtype(t).newbyteorder("="), endpoint=True
        )
        vals[:2] = [info.min, info.max]
        out[f"n{k}"] = vals
    for name in ("f4", "g4", "f8", "g8"):
        vals = rng.normal(scale=1e6, size=n)
        special = SPECIAL[DTYPE[name].itemsize]
        vals[: len(special)] = special
        out[name] = vals
    out["ok"] = rng.integers(0, 2, size=n).astype(bool)
    out["tag"] = [TAGS[i % len(TAGS)] for i in range(n)]
    out["xy"] = rng.normal(size=(n, 2))
    out["xy"][0] = [np.nan, -0.0]
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray[Any, Any]]:
    path = tmp_path_factory.mktemp("outputs") / "recs.bin"
    records(300, 11).tofile(path)
    return path, np.fromfile(path, DTYPE)


def convert(src: Path, out: Path, *extra: str) -> None:
    assert main(["convert", str(src), "-s", SPEC, "-o", str(out), "-q", *extra]) == 0


def same_float(text_value: Any, expected: Any, kind: str) -> bool:
    """Whether a value read back from text is the float numpy read, to the bit."""
    if text_value is None or text_value == "":
        return math.isnan(expected) or math.isinf(expected)  # JSON: null for non-finite
    got = float(text_value)
    if kind == "f4":
        got = np.float32(got)
        expected = np.float32(expected)
    if math.isnan(expected):
        return math.isnan(got)
    return bool(got == expected) and math.copysign(1, got) == math.copysign(1, expected)


def float_kind(name: str) -> str:
    return "f4" if DTYPE[name].itemsize == 4 else "f8"


def test_csv_matches_numpy(source: tuple[Path, Any], tmp_path: Path) -> None:
    src, arr = source
    out = tmp_path / "o.csv"
    convert(src, out)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(arr)
    for i, row in enumerate(rows):
        for k in range(len(INTS)):
            assert int(row[f"n{k}"]) == int(arr[f"n{k}"][i]), (i, k)
        for name in ("f4", "g4", "f8", "g8"):
            assert same_float(row[name], float(arr[name][i]), float_kind(name)), (
                i,
                name,
                row[name],
            )
        for j in range(2):
            assert same_float(row[f"xy[{j}]"], float(arr["xy"][i][j]), "f8")
        assert row["ok"] == str(bool(arr["ok"][i]))
        assert row["tag"] == arr["tag"][i].decode("latin1")  # all printable here


def test_jsonl_matches_numpy(source: tuple[Path, Any], tmp_path: Path) -> None:
    src, arr = source
    out = tmp_path / "o.jsonl"
    convert(src, out)
    lines = out.read_text().splitlines()
    assert len(lines) == len(arr)
    for i, line in enumerate(lines):
        row = json.loads(line)
        for k in range(len(INTS)):
            value = row[f"n{k}"]
            assert type(value) is int and value == int(arr[f"n{k}"][i]), (i, k)
        for name in ("f4", "g4", "f8", "g8"):
            assert same_float(row[name], float(arr[name][i]), float_kind(name)), (i, name)
        xy = row.get("xy")
        assert xy is not None
        for j in range(2):
            assert same_float(xy[j], float(arr["xy"][i][j]), "f8")
        assert row["ok"] is bool(arr["ok"][i])


def test_parquet_matches_numpy_bytes_included(source: tuple[Path, Any], tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    src, arr = source
    out = tmp_path / "o.parquet"
    convert(src, out)
    table = pq.read_table(out)
    assert table.num_rows == len(arr)
    for k in range(len(INTS)):
        np.testing.assert_array_equal(table.column(f"n{k}").to_numpy(), arr[f"n{k}"])
    for name in ("f4", "g4", "f8", "g8"):
        got = table.column(name).to_numpy()
        want = arr[name].astype(arr[name].dtype.newbyteorder("="))
        assert got.tobytes() == want.tobytes(), name  # to the bit: NaN payloads and -0.0
    np.testing.assert_array_equal(table.column("ok").to_numpy(), arr["ok"])
    tags = table.column("tag").to_pylist()
    # Lossless: numpy's S6 drops trailing NULs, the file's bytes do not
    raw = arr.view(np.uint8).reshape(len(arr), DTYPE.itemsize)
    start = DTYPE.fields["tag"][1]
    for i, tag in enumerate(tags):
        assert tag.rstrip(b"\0") == bytes(raw[i, start : start + 6]).rstrip(b"\0")


def test_npy_is_the_same_bytes(source: tuple[Path, Any], tmp_path: Path) -> None:
    src, arr = source
    out = tmp_path / "o.npy"
    convert(src, out)
    back = np.load(out)
    assert back.dtype == DTYPE
    assert back.tobytes() == arr.tobytes()


def test_a_stream_to_npy_is_the_same_bytes(
    source: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    src, arr = source
    out = tmp_path / "s.npy"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(src.read_bytes())))
    assert main(["convert", "-", "-s", SPEC, "-o", str(out), "-q"]) == 0
    assert np.load(out).tobytes() == arr.tobytes()
