"""The ``recview`` command line, run in-process with ``main([...])``.

Every subcommand and every ``--schema`` source; outputs are checked against
numpy reading the same file, and converted files are read back and compared.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview import _progress
from recview.cli import (
    Envelope,
    Histogram,
    _npy_header,
    load_schema,
    main,
    parse_rows,
    show_bytes,
)

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


def _trades(n: int, seed: int = 0) -> np.ndarray:
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


def _schema_json(dtype: np.dtype, enums: dict[str, dict[int, str]] | None = None) -> str:
    doc = json.loads(rv.Schema.from_dtype(dtype).to_json())
    if enums:
        doc["enums"] = {k: {str(v): name for v, name in m.items()} for k, m in enums.items()}
    return json.dumps(doc)


@pytest.fixture
def trades(tmp_path: Path) -> Dump:
    a = _trades(300)
    a["venue"][7] = b"\x01\xfe"  # not text: shown as hex
    path = tmp_path / "trades.bin"
    a.tofile(path)
    schema = tmp_path / "trades.json"
    schema.write_text(_schema_json(TRADE_DTYPE, {"side": SIDES}))
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
    schema.write_text(_schema_json(dt))
    return Dump(path, schema, a)


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


# ---------------------------------------------------------------------------
# schema sources
# ---------------------------------------------------------------------------


def _info(capsys: pytest.CaptureFixture[str], *argv: object) -> dict:
    code, out, err = run(capsys, "info", *argv, "--format", "json")
    assert code == 0, err
    doc: dict = json.loads(out)
    return doc


@pytest.mark.parametrize(
    "spec",
    [
        "u8,f8,u4,u1,V3,S8",
        "[('ts', '<u8'), ('price', '<f8'), ('qty', '<u4'), ('side', 'u1'), ('_', 'V3'),"
        " ('venue', 'S8')]",
        "{'names': ['ts', 'price', 'qty', 'side', 'venue'], 'formats': ['<u8', '<f8', '<u4',"
        " 'u1', 'S8'], 'offsets': [0, 8, 16, 20, 24], 'itemsize': 32}",
    ],
)
def test_schema_from_numpy_dtype_strings(
    capsys: pytest.CaptureFixture[str], trades: Dump, spec: str
) -> None:
    doc = _info(capsys, trades.path, "-s", spec)
    assert doc["itemsize"] == 32
    assert doc["records"] == len(trades.array)
    assert [f["offset"] for f in doc["fields"]][:4] == [0, 8, 16, 20]
    assert doc["schema_source"] == "numpy dtype"


def test_schema_from_json_file_keeps_enums(
    capsys: pytest.CaptureFixture[str], trades: Dump
) -> None:
    doc = _info(capsys, trades.path, "-s", trades.schema)
    assert rv.Schema.from_json(json.dumps(doc["schema"])).enums["side"] == SIDES
    assert doc["schema_source"].endswith("(JSON file)")


def test_schema_from_inline_json(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    doc = _info(capsys, trades.path, "-s", trades.schema.read_text())
    assert doc["itemsize"] == 32 and doc["schema_source"] == "inline JSON"


def test_schema_from_c_header(capsys: pytest.CaptureFixture[str], nested: Dump) -> None:
    doc = _info(capsys, nested.path, "-s", f"{nested.schema}:rec")
    expected = rv.Schema.from_dtype(NESTED_DTYPE)
    assert rv.Schema.from_json(json.dumps(doc["schema"])) == expected
    assert doc["records"] == len(nested.array)
    assert [f["path"] for f in doc["fields"]] == [f.path for f in expected.fields()]
    assert doc["schema_source"] == f"{nested.schema}:rec (C header)"


def test_schema_from_c_header_with_one_struct(
    capsys: pytest.CaptureFixture[str], nested: Dump, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "info", nested.path, "-s", nested.schema)
    assert code == 1
    assert f"pick one with --schema {nested.schema}:NAME" in err and err.count("\n") == 1
    assert "name=" not in err
    single = tmp_path / "single.h"
    single.write_text("#include <stdint.h>\nstruct r { uint64_t a; double b; int16_t c[8]; };\n")
    doc = _info(capsys, nested.path, "-s", single)
    assert doc["itemsize"] == 32 and doc["records"] == len(nested.array)


@pytest.mark.parametrize("attr", ["Trade", "DTYPE", "STRUCT", "SCHEMA"])
def test_schema_from_python_object(
    capsys: pytest.CaptureFixture[str],
    trades: Dump,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    attr: str,
) -> None:
    module = f"cli_schemas_{attr.lower()}"
    (tmp_path / f"{module}.py").write_text(PY_MODULE.format(dtype=TRADE_SPEC))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, module, raising=False)
    doc = _info(capsys, trades.path, "-s", f"{module}:{attr}")
    assert doc["itemsize"] == 32
    assert [f["path"] for f in doc["fields"]] == ["ts", "price", "qty", "side", "venue"]
    assert doc["schema_source"] == f"{module}:{attr} (Python object)"


def test_schema_from_python_file_path(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    path = tmp_path / "defs.py"
    path.write_text(PY_MODULE.format(dtype=TRADE_SPEC))
    doc = _info(capsys, trades.path, "-s", f"{path}:Trade")
    assert doc["itemsize"] == 32


def test_schema_python_object_that_is_not_a_schema(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    path = tmp_path / "defs.py"
    path.write_text(PY_MODULE.format(dtype=TRADE_SPEC))
    code, _, err = run(capsys, "info", trades.path, "-s", f"{path}:NOT_A_SCHEMA")
    assert code == 1
    assert err.startswith("recview info: error: --schema") and err.count("\n") == 1
    code, _, err = run(capsys, "info", trades.path, "-s", f"{path}:Missing")
    assert code == 1 and "has no 'Missing'" in err
    code, _, err = run(capsys, "info", trades.path, "-s", "no_such_module_xyz:Trade")
    assert code == 1 and "cannot import module 'no_such_module_xyz'" in err


def test_schema_literals_are_never_evaluated(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    spec = f"[__import__('pathlib').Path({str(marker)!r}).touch()]"
    code, _, err = run(capsys, "info", trades.path, "-s", spec)
    assert code == 1
    assert "not a valid dtype literal" in err
    assert not marker.exists()


def test_schema_c_header_packed_and_big_endian(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    header = tmp_path / "s.h"
    header.write_text("#include <stdint.h>\nstruct s { uint8_t a; uint32_t b; };\n")
    data = tmp_path / "s.bin"
    data.write_bytes(b"\x07\x00\x00\x01\x02" * 3)
    code, out, err = run(
        capsys, "head", data, "-s", f"{header}:s", "--packed", "--byteorder", "big",
        "--format", "jsonl",
    )  # fmt: skip
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [{"a": 7, "b": 258}] * 3


# ---------------------------------------------------------------------------
# info
# ---------------------------------------------------------------------------


def test_info_table(capsys: pytest.CaptureFixture[str], sensor: Dump) -> None:
    code, out, _ = run(capsys, "info", sensor.path, "-s", sensor.schema, "--offset", 16)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["file", str(sensor.path)]
    assert "file size    1,936 bytes" in out  # 16 + 120 * 16
    assert "header       16 bytes" in out
    assert "record size  16 bytes" in out
    assert "records      120" in out
    assert "trailing     0 bytes" in out
    assert any(line.split()[:4] == ["8", "4", ">f4", "temp"] for line in lines)


def test_info_reports_stray_trailing_bytes(
    capsys: pytest.CaptureFixture[str], trades: Dump
) -> None:
    with open(trades.path, "ab") as fh:
        fh.write(b"xyz")
    doc = _info(capsys, trades.path, "-s", trades.schema)
    assert (doc["records"], doc["trailing_nbytes"]) == (300, 3)
    code, out, _ = run(capsys, "info", trades.path, "-s", trades.schema)
    assert code == 0
    assert "3 bytes (not whole records: left out)" in out


def test_info_shows_padding_enums_and_unions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    header = tmp_path / "u.h"
    header.write_text(
        "#include <stdint.h>\nenum kind { A = 1, B = 2 };\n"
        "struct u { uint8_t tag; union { uint32_t i; float f; } v; enum kind k; };\n"
    )
    path = tmp_path / "u.bin"
    path.write_bytes(bytes(8) + b"\x02\x00\x00\x00" + bytes(8) + b"\x07\x00\x00\x00")
    code, out, err = run(capsys, "info", path, "-s", f"{header}:u")
    assert code == 0, err
    assert "(padding)" in out
    assert "[union v]" in out
    assert "<u4 enum(A=1, B=2)" in out
    code, out, err = run(capsys, "head", path, "-s", f"{header}:u", "--format", "jsonl")
    assert [json.loads(line)["k"] for line in out.splitlines()] == ["B", 7]  # 7: not a member


def test_info_from_stdin_counts_records(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, trades: Dump
) -> None:
    _stdin(monkeypatch, trades.path.read_bytes() + b"ab")
    doc = _info(capsys, "-", "-s", trades.schema)
    assert doc["file"] == "<stdin>"
    assert (doc["records"], doc["file_nbytes"], doc["trailing_nbytes"]) == (300, 9602, 2)


# ---------------------------------------------------------------------------
# head / tail / slice
# ---------------------------------------------------------------------------


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _check_rows(rows: list[dict], a: np.ndarray) -> None:
    assert len(rows) == len(a)
    for row, rec in zip(rows, a, strict=True):
        assert int(row["ts"]) == int(rec["ts"])
        assert float(row["price"]) == float(rec["price"])
        assert int(row["qty"]) == int(rec["qty"])
        assert row["side"] == SIDES[int(rec["side"])]
        assert row["venue"] == show_bytes(bytes(rec["venue"]))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_head_formats_match_numpy(
    capsys: pytest.CaptureFixture[str], trades: Dump, fmt: str
) -> None:
    code, out, err = run(
        capsys, "head", trades.path, "-s", trades.schema, "-n", 12, "--format", fmt
    )
    assert code == 0 and err == ""
    if fmt == "csv":
        rows = _csv_rows(out)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
    else:
        rows = json.loads(out)
    _check_rows(rows, trades.array[:12])
    assert rows[7]["venue"] == "0x01fe000000000000"[: 2 + 2 * len(bytes(trades.array[7]["venue"]))]


def test_tail_and_slice_match_numpy(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    a = trades.array
    cases = {
        ("tail", "-n", "5"): a[-5:],
        ("slice", "--rows", "10:20"): a[10:20],
        ("slice", "--rows", "3:40:7"): a[3:40:7],
        ("slice", "--rows=-4:"): a[-4:],
        ("slice", "--rows", "42"): a[42:43],
        ("slice", "--rows", "5000:"): a[5000:],
    }
    for (cmd, *opts), expected in cases.items():
        code, out, err = run(
            capsys, cmd, trades.path, "-s", trades.schema, *opts, "--format", "csv"
        )
        assert code == 0, err
        _check_rows(_csv_rows(out), expected)


def test_table_format_has_index_names_and_alignment(
    capsys: pytest.CaptureFixture[str], trades: Dump
) -> None:
    code, out, _ = run(capsys, "slice", trades.path, "-s", trades.schema, "--rows", "5:8")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["#", "ts", "price", "qty", "side", "venue"]
    assert set(lines[1]) <= {"-", " "}
    for line, i in zip(lines[2:], range(5, 8), strict=True):
        cells = line.split()
        assert cells[0] == str(i)
        assert cells[1] == str(trades.array["ts"][i])
        assert cells[4] == SIDES[int(trades.array["side"][i])]
    assert "\x1b[" not in out  # not a terminal: no colour


def test_color_always_and_never(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    args = ("head", trades.path, "-s", trades.schema, "-n", 2)
    assert "\x1b[1m" in run(capsys, *args, "--color", "always")[1]
    assert "\x1b[" not in run(capsys, *args, "--color", "never")[1]


def test_nested_fields_dotted_names_and_arrays(
    capsys: pytest.CaptureFixture[str], nested: Dump
) -> None:
    spec = f"{nested.schema}:rec"
    code, out, _ = run(capsys, "head", nested.path, "-s", spec, "-n", 4, "--format", "csv")
    assert code == 0
    rows = _csv_rows(out)
    assert list(rows[0]) == [
        "id", "pos.x", "pos.y", "flags[0]", "flags[1]", "flags[2]", "name", "mass",
    ]  # fmt: skip
    for row, rec in zip(rows, nested.array[:4], strict=True):
        assert np.float32(row["pos.x"]) == rec["pos"]["x"]  # shortest float32 text
        assert [int(row[f"flags[{k}]"]) for k in range(3)] == rec["flags"].tolist()
        assert row["name"] == rec["name"].decode()
    code, out, _ = run(capsys, "tail", nested.path, "-s", spec, "-n", 2, "--format", "jsonl")
    docs = [json.loads(line) for line in out.splitlines()]
    assert docs[-1]["flags"] == nested.array[-1]["flags"].tolist()
    assert docs[-1]["pos.y"] == float(str(nested.array[-1]["pos"]["y"]))


def test_fields_selection(capsys: pytest.CaptureFixture[str], nested: Dump) -> None:
    spec = f"{nested.schema}:rec"
    code, out, _ = run(
        capsys, "head", nested.path, "-s", spec, "-n", 1, "--format", "jsonl", "--fields", "pos,id"
    )
    assert code == 0
    assert list(json.loads(out)) == ["pos.x", "pos.y", "id"]
    code, _, err = run(capsys, "head", nested.path, "-s", spec, "--fields", "nope")
    assert code == 2 and "no field 'nope'" in err


def test_head_from_stdin_and_compressed_files(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    trades: Dump,
    tmp_path: Path,
) -> None:
    raw = trades.path.read_bytes()
    _stdin(monkeypatch, raw)
    code, out, err = run(capsys, "head", "-", "-s", trades.schema, "-n", 3, "--format", "csv")
    assert code == 0, err
    _check_rows(_csv_rows(out), trades.array[:3])
    for suffix, opener in ((".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)):
        path = tmp_path / f"trades.bin{suffix}"
        with opener(path, "wb") as fh:
            fh.write(raw)
        code, out, err = run(capsys, "tail", path, "-s", trades.schema, "-n", 4, "--format", "csv")
        assert code == 0, err
        _check_rows(_csv_rows(out), trades.array[-4:])
        code, out, _ = run(
            capsys, "slice", path, "-s", trades.schema, "--rows", "250:290:3", "--format", "csv"
        )
        _check_rows(_csv_rows(out), trades.array[250:290:3])


def test_stream_offset_and_count(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sensor: Dump
) -> None:
    _stdin(monkeypatch, sensor.path.read_bytes())
    code, out, err = run(
        capsys, "info", "-", "-s", sensor.schema, "--offset", 16, "--count", 100, "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["records"] == 100
    _stdin(monkeypatch, sensor.path.read_bytes())
    code, _, err = run(capsys, "stats", "-", "-s", sensor.schema, "--offset", 16, "--count", 500)
    assert code == 1 and "--count asked for 500" in err
    _stdin(monkeypatch, sensor.path.read_bytes())
    code, _, err = run(capsys, "slice", "-", "-s", sensor.schema, "--rows=-3:")
    assert code == 2 and "negative rows need a file" in err


def test_pread_mode_gives_the_same_records(
    capsys: pytest.CaptureFixture[str], trades: Dump
) -> None:
    args = ("slice", trades.path, "-s", trades.schema, "--rows", "1:300:50", "--format", "csv")
    assert run(capsys, *args, "--mode", "pread")[1] == run(capsys, *args)[1]


def test_parse_rows_rejects_bad_slices(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    for bad in ("a:b", "1:2:3:4", "::0", ""):
        code, _, err = run(capsys, "slice", trades.path, "-s", trades.schema, "--rows", bad)
        assert code == 2, bad
        assert "--rows" in err
    assert parse_rows("0x10:") == slice(16, None)


# ---------------------------------------------------------------------------
# inspect
# ---------------------------------------------------------------------------


def test_inspect_marks_each_fields_bytes(capsys: pytest.CaptureFixture[str], sensor: Dump) -> None:
    code, out, err = run(
        capsys, "inspect", sensor.path, "-s", sensor.schema, "--offset", 16, "--record", 5
    )
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"{sensor.path}: record 5 of 120")
    raw = sensor.path.read_bytes()
    records = out.split("\n\n")[1:]
    assert [r.split()[1:3] if r.startswith(">") else r.split()[0:2] for r in records] == [
        ["record", "4"], ["record", "5"], ["record", "6"],
    ]  # fmt: skip
    target = records[1]
    assert target.startswith("> record 5  at byte offset 96 (0x60)")
    rec = sensor.array[5]
    start = 16 + 5 * 16
    for name, off, size in (("ts", 0, 8), ("temp", 8, 4), ("id", 12, 2)):
        hexbytes = " ".join(f"{b:02x}" for b in raw[start + off : start + off + size])
        line = next(ln for ln in target.splitlines() if f"  {name} " in ln)
        assert line.split()[0] == f"+{off}"
        assert hexbytes in line
        value = rec[name]
        assert line.split()[-1] == (str(value) if name != "temp" else str(np.float32(value)))


def test_inspect_flags_nonzero_padding_and_wraps_long_fields(
    capsys: pytest.CaptureFixture[str], trades: Dump
) -> None:
    raw = bytearray(trades.path.read_bytes())
    raw[32 * 2 + 22] = 0xAB  # a padding byte of record 2
    trades.path.write_bytes(bytes(raw))
    code, out, _ = run(capsys, "inspect", trades.path, "-s", trades.schema, "--record=-298")
    assert code == 0
    target = out.split("\n\n")[2]
    pad = next(ln for ln in target.splitlines() if "(padding)" in ln)
    assert "00 ab 00" in pad and "not zero" in pad
    assert "SELL" in target or "BUY" in target


def test_inspect_shows_a_schema_that_is_off_by_a_few_bytes(
    capsys: pytest.CaptureFixture[str], sensor: Dump
) -> None:
    # header of 16 bytes, but --offset 12: the records still show, with a note
    code, out, err = run(
        capsys, "inspect", sensor.path, "-s", sensor.schema, "--offset", 12, "--record", 3
    )
    assert code == 0, err
    assert "4 stray bytes at the end" in out.splitlines()[0]
    target = out.split("\n\n")[2]
    ts_line = next(ln for ln in target.splitlines() if "  ts " in ln)
    assert ts_line.split()[-1] != str(sensor.array["ts"][3])  # shifted: wrong values
    code, _, err = run(
        capsys, "inspect", sensor.path, "-s", sensor.schema, "--offset", 12, "--trailing", "error"
    )
    assert code == 1 and "stray bytes" in err


def test_inspect_stream_and_out_of_range(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, trades: Dump
) -> None:
    _stdin(monkeypatch, trades.path.read_bytes())
    code, out, _ = run(capsys, "inspect", "-", "-s", trades.schema, "--record", 299, "--context", 2)
    assert code == 0
    heads = [ln.split()[-6] for ln in out.splitlines() if " record " in ln and "offset" in ln]
    assert heads == ["297", "298", "299"] and "> record 299" in out
    code, _, err = run(capsys, "inspect", trades.path, "-s", trades.schema, "--record", 300)
    assert code == 2 and "out of range" in err


# ---------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------


def test_convert_csv_and_jsonl_read_back(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    out_csv, out_jsonl = tmp_path / "t.csv", tmp_path / "t.jsonl"
    small = ("--batch-nbytes", 1000)  # many batches
    code, _, err = run(capsys, "convert", trades.path, "-s", trades.schema, "-o", out_csv, *small)
    assert code == 0, err
    assert "wrote 300 records" in err
    _check_rows(_csv_rows(out_csv.read_text()), trades.array)
    code, _, _ = run(capsys, "convert", trades.path, "-s", trades.schema, "-o", out_jsonl, "-q")
    assert code == 0
    _check_rows([json.loads(x) for x in out_jsonl.read_text().splitlines()], trades.array)


def test_convert_to_stdout(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, out, _ = run(
        capsys, "convert", trades.path, "-s", trades.schema, "-o", "-", "--to", "csv"
    )
    assert code == 0
    _check_rows(_csv_rows(out), trades.array)


def test_convert_npy_whole_records(
    capsys: pytest.CaptureFixture[str], sensor: Dump, tmp_path: Path
) -> None:
    out = tmp_path / "s.npy"
    args = ("convert", sensor.path, "-s", sensor.schema, "--offset", 16, "-o", out, "-q")
    assert run(capsys, *args, "--batch-nbytes", 100)[0] == 0
    back = np.load(out)
    assert back.dtype == sensor.array.dtype
    np.testing.assert_array_equal(back, sensor.array)


def test_convert_npy_from_stream_rewrites_the_header(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    nested: Dump,
    tmp_path: Path,
) -> None:
    _stdin(monkeypatch, nested.path.read_bytes())
    out = tmp_path / "n.npy"
    code, _, err = run(capsys, "convert", "-", "-s", f"{nested.schema}:rec", "-o", out)
    assert code == 0, err
    back = np.load(out)
    assert back.shape == (len(nested.array),)
    np.testing.assert_array_equal(back["flags"], nested.array["flags"])
    np.testing.assert_array_equal(back["pos"]["x"], nested.array["pos"]["x"])


def test_convert_npy_with_fields_or_unions_writes_leaves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    header = tmp_path / "u.h"
    header.write_text(
        "#include <stdint.h>\nstruct u { uint16_t n; union { uint32_t i; float f; } v; };"
    )
    vals = np.zeros(5, [("n", "<u2"), ("pad", "V2"), ("f", "<f4")])
    vals["n"] = np.arange(5)
    vals["f"] = np.linspace(0.5, 2.5, 5)
    data = tmp_path / "u.bin"
    vals.tofile(data)
    out = tmp_path / "u.npy"
    code, _, err = run(capsys, "convert", data, "-s", f"{header}:u", "-o", out, "-q")
    assert code == 0, err
    back = np.load(out)
    assert back.dtype.names == ("n", "v.i", "v.f")
    np.testing.assert_array_equal(back["v.f"], vals["f"])
    np.testing.assert_array_equal(back["v.i"], vals["f"].view("<u4"))


def test_convert_parquet_read_back(
    capsys: pytest.CaptureFixture[str], nested: Dump, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq  # the arrow extra (in the test extra)

    out = tmp_path / "n.parquet"
    code, _, err = run(
        capsys, "convert", nested.path, "-s", f"{nested.schema}:rec", "-o", out,
        "--batch-nbytes", 320,
    )  # fmt: skip
    assert code == 0, err
    table = pq.read_table(out)
    assert table.num_rows == len(nested.array)
    assert pq.ParquetFile(out).metadata.num_row_groups == 5  # one per batch of 10 records
    cols = table.to_pydict()
    assert cols["id"] == nested.array["id"].tolist()
    np.testing.assert_array_equal(np.array(cols["pos.x"], np.float32), nested.array["pos"]["x"])
    assert cols["flags"] == nested.array["flags"].tolist()
    # char[N]: the exact N bytes by default, text with --strings text
    assert cols["name"] == [bytes(n) for n in nested.array["name"].view("V6").tolist()]
    code, _, err = run(
        capsys, "convert", nested.path, "-s", f"{nested.schema}:rec", "-o", out,
        "--strings", "text",
    )  # fmt: skip
    assert code == 0, err
    assert pq.read_table(out).column("name").to_pylist() == [
        n.decode() for n in nested.array["name"]
    ]


def test_convert_parquet_without_pyarrow_gives_an_install_hint(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    trades: Dump,
    tmp_path: Path,
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "t.parquet"
    code, _, err = run(capsys, "convert", trades.path, "-s", trades.schema, "-o", out)
    assert code == 1
    assert "pip install 'recview[arrow]'" in err
    assert not out.exists()  # a failed conversion leaves no partial file


def test_convert_unknown_suffix_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    code, _, err = run(
        capsys, "convert", trades.path, "-s", trades.schema, "-o", tmp_path / "x.xls"
    )
    assert code == 2 and "--to" in err


def test_convert_progress_only_when_asked_or_on_a_terminal(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    out = tmp_path / "t.csv"
    args = ("convert", trades.path, "-s", trades.schema, "-o", out, "--batch-nbytes", 3200)
    _, _, err = run(capsys, *args)
    assert "\r" not in err and "it/s" not in err and "B/s" not in err
    _, _, err = run(capsys, *args, "--progress")
    assert "convert" in err and "B/s" in err


# ---------------------------------------------------------------------------
# stats
# ---------------------------------------------------------------------------


def test_stats_json_matches_numpy(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, out, err = run(
        capsys, "stats", trades.path, "-s", trades.schema, "--format", "json", "--batch-nbytes", 640
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["records"] == 300
    for name in ("ts", "price", "qty", "side"):
        col = trades.array[name]
        got = doc["fields"][name]
        assert got["count"] == len(col)
        assert got["min"] == col.min().item() and got["max"] == col.max().item()
        assert got["mean"] == pytest.approx(float(col.astype(np.float64).mean()), rel=1e-12)
    assert doc["skipped"] == ["venue"]
    run_figures = doc["run"]
    assert run_figures["records"] == 300 and run_figures["nbytes"] == 300 * 32
    assert run_figures["wall_seconds"] > 0
    assert run_figures["peak_rss_nbytes"] > 0
    assert run_figures["minor_faults"] >= 0 and run_figures["major_faults"] >= 0
    assert run_figures["mapped_nbytes"] >= 0


def test_stats_nan_arrays_and_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = np.zeros(6, [("x", "<f8"), ("v", ">i2", (2,)), ("b", "?")])
    a["x"] = [1.0, np.nan, 3.0, np.nan, 5.0, 7.0]
    a["v"] = [[1, -2], [3, 4], [5, 6], [7, 8], [9, 10], [11, -12]]
    a["b"] = [True, False, True, True, False, True]
    path = tmp_path / "a.bin"
    a.tofile(path)
    spec = str(a.dtype.descr)
    code, out, _ = run(capsys, "stats", path, "-s", spec, "--format", "json")
    assert code == 0
    f = json.loads(out)["fields"]
    assert (f["x"]["count"], f["x"]["nan"], f["x"]["min"], f["x"]["max"]) == (4, 2, 1.0, 7.0)
    assert f["x"]["mean"] == 4.0
    assert (f["v"]["count"], f["v"]["min"], f["v"]["max"]) == (12, -12, 11)
    assert f["b"]["mean"] == pytest.approx(4 / 6)
    code, out, _ = run(capsys, "stats", path, "-s", spec)
    assert code == 0
    assert "4 (+2 NaN)" in out
    for figure in ("wall time", "throughput", "peak RSS", "page faults", "bytes mapped"):
        assert figure in out


def test_stats_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sensor: Dump
) -> None:
    _stdin(monkeypatch, sensor.path.read_bytes())
    code, out, _ = run(
        capsys, "stats", "-", "-s", sensor.schema, "--offset", 16, "--format", "json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["fields"]["ts"]["max"] == int(sensor.array["ts"].max())
    assert doc["run"]["mapped_nbytes"] == 0


# ---------------------------------------------------------------------------
# guess
# ---------------------------------------------------------------------------


def test_guess_prints_a_schema_that_opens_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    recs = np.zeros(2000, [("seq", ">u4"), ("v", ">f8"), ("tag", "S4")])
    recs["seq"] = np.arange(2000)
    recs["v"] = np.random.default_rng(0).normal(10, 1, 2000)
    recs["tag"] = np.random.default_rng(1).choice([b"ab", b"cde", b"fghi"], 2000)
    path = tmp_path / "dump.bin"
    path.write_bytes(b"MAGIC123" + recs.tobytes())
    code, out, err = run(capsys, "guess", path)
    assert code == 0
    schema = rv.Schema.from_json(out)
    assert schema.itemsize == 16
    assert "record size 16 bytes" in err and "header 8 bytes" in err
    assert "--offset 8" in err
    with rv.open(path, schema, offset=8) as view:
        assert view[schema.names[0]].tolist() == recs["seq"].tolist()
    code, out, _ = run(capsys, "guess", path, "--format", "json", "-q")
    doc = json.loads(out)
    assert (doc["itemsize"], doc["header_nbytes"], doc["records"]) == (16, 8, 2000)
    assert [f["kind"] for f in doc["fields"]] == ["counter", "float", "text"]
    target = tmp_path / "guessed.json"
    code, out, err = run(capsys, "guess", path, "-o", target)
    assert code == 0 and out == "" and rv.Schema.from_json(target.read_text()) == schema


def test_guess_from_stdin_and_on_noise(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    trades: Dump,
    tmp_path: Path,
) -> None:
    _stdin(monkeypatch, trades.path.read_bytes())
    code, out, _ = run(capsys, "guess", "-", "-q")
    assert code == 0 and rv.Schema.from_json(out).itemsize == 32
    noise = tmp_path / "noise.bin"
    noise.write_bytes(np.random.default_rng(2).integers(0, 256, 1 << 15, dtype=np.uint8).tobytes())
    code, out, err = run(capsys, "guess", noise)
    assert code == 1 and out == ""
    assert "no periodic structure" in err and err.count("\n") == 1


# ---------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["hist", "series"])
def test_plot_writes_a_png(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path, kind: str
) -> None:
    import matplotlib  # noqa: F401  # the plot extra (in the test extra)

    out = tmp_path / f"{kind}.png"
    code, _, err = run(
        capsys, "plot", trades.path, "-s", trades.schema, "--field", "price", "--kind", kind,
        "-o", out, "--max-points", 64, "--batch-nbytes", 1024,
    )  # fmt: skip
    assert code == 0, err
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert f"wrote {out} ({kind}, 300 values)" in err


def test_plot_usage_errors(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    out = tmp_path / "p.png"
    base = ("plot", trades.path, "-s", trades.schema, "-o", out)
    code, _, err = run(capsys, *base, "--field", "nope")
    assert code == 2 and "no field 'nope'" in err
    code, _, err = run(capsys, *base, "--field", "venue")
    assert code == 2 and "not numeric" in err
    assert not out.exists()


def test_plot_without_matplotlib_gives_an_install_hint(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    trades: Dump,
    tmp_path: Path,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(
        capsys, "plot", trades.path, "-s", trades.schema, "--field", "qty", "-o", tmp_path / "p.png"
    )
    assert code == 1 and "pip install 'recview[plot]'" in err


def test_histogram_counts_match_numpy() -> None:
    rng = np.random.default_rng(3)
    values = [rng.normal(0, 1, 500), rng.normal(50, 1, 500), rng.normal(-80, 5, 500)]
    h = Histogram(16)
    for v in values:
        h.add(v)
    allv = np.concatenate(values)
    expected, _ = np.histogram(allv, bins=h.edges())
    np.testing.assert_array_equal(h.counts, expected)
    assert h.counts.sum() == len(allv)
    h.add(np.array([np.nan, np.inf]))
    assert h.counts.sum() == len(allv)


def test_histogram_of_a_constant() -> None:
    h = Histogram(10)
    h.add(np.full(7, 3.0))
    assert h.counts.sum() == 7 and h.edges()[0] <= 3.0 < h.edges()[-1]


def test_envelope_matches_numpy_per_bucket() -> None:
    rng = np.random.default_rng(4)
    v = rng.normal(0, 1, 1000)
    v[17] = np.nan
    env = Envelope(10)
    for a in range(0, 1000, 37):  # uneven batches
        env.add(v[a : a + 37])
    w = env.records_per_bucket
    assert w == 128 and len(env.mins()) == 8
    for k, start in enumerate(env.starts()):
        chunk = v[start : start + w]
        assert env.mins()[k] == np.nanmin(chunk)
        assert env.maxs()[k] == np.nanmax(chunk)
        assert env.means()[k] == pytest.approx(np.nanmean(chunk))


# ---------------------------------------------------------------------------
# errors and exit codes
# ---------------------------------------------------------------------------


def test_missing_file_is_a_data_error(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, out, err = run(capsys, "head", trades.path.parent / "nope.bin", "-s", trades.schema)
    assert code == 1 and out == ""
    assert (
        err
        == f"recview head: error: {trades.path.parent / 'nope.bin'}: No such file or directory\n"
    )


def test_missing_schema_file_is_a_data_error(
    capsys: pytest.CaptureFixture[str], trades: Dump
) -> None:
    code, _, err = run(capsys, "head", trades.path, "-s", "missing.json")
    assert code == 1
    assert err == "recview head: error: missing.json: No such file or directory\n"


def test_wrong_schema_is_a_data_error(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "recview.schema", "version": 1, "itemsize": 4, "fields": []}')
    code, _, err = run(capsys, "head", trades.path, "-s", bad)
    assert code == 1 and "'fields' must be a non-empty list" in err
    code, _, err = run(capsys, "head", trades.path, "-s", "not_a_dtype_at_all")
    assert code == 1 and "is not a schema file, a C header, a module:object or a numpy dtype" in err
    # a schema that does not divide the file: the record count does not fit
    code, _, err = run(capsys, "head", trades.path, "-s", "u8,f8,u4,u1,S7")
    assert code == 1 and "stray bytes" in err and "--trailing ignore" in err
    assert "trailing=" not in err  # the library's keyword, said as the option


def test_schema_larger_than_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(bytes(10))
    code, out, err = run(capsys, "head", path, "-s", "u8,f8")
    assert code == 1 and out == ""
    assert "10 stray bytes" in err and err.count("\n") == 1
    code, _, err = run(capsys, "head", path, "-s", "u8,f8", "--count", 1)
    assert code == 1 and "too short for 1 records" in err


def test_trailing_ignore_and_warn(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    with open(trades.path, "ab") as fh:
        fh.write(b"12345")
    args = ("tail", trades.path, "-s", trades.schema, "-n", 1, "--format", "jsonl")
    assert run(capsys, *args)[0] == 1
    code, out, err = run(capsys, *args, "--trailing", "ignore")
    assert code == 0 and err == "" and json.loads(out)["qty"] == int(trades.array["qty"][-1])
    code, out, err = run(capsys, *args, "--trailing", "warn")
    assert code == 0 and json.loads(out)["qty"] == int(trades.array["qty"][-1])
    assert err.startswith("recview tail: warning: ") and "5 stray bytes" in err


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, _, err = run(capsys, "--debug", "head", trades.path, "-s", "missing.json")
    assert code == 1 and "Traceback" in err
    code, _, err = run(capsys, "head", trades.path, "-s", "missing.json", "--debug")
    assert code == 1 and "Traceback" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["head"],
        ["slice", "x.bin", "-s", "u8"],
        ["head", "x.bin", "-s", "u8", "--offset", "-3"],
        ["head", "x.bin", "-s", "u8", "--format", "xml"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert "error:" in err


def test_no_schema_is_a_usage_error(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, _, err = run(capsys, "head", trades.path)
    assert code == 2 and "needs --schema" in err and "recview guess" in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in (
        "info",
        "head",
        "tail",
        "slice",
        "inspect",
        "convert",
        "stats",
        "guess",
        "plot",
    ):
        assert command in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("recview ")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def test_npy_header_is_rewritable_in_place() -> None:
    dt = np.dtype([("a", "<u8"), ("b", ">f4")])
    first = _npy_header(dt, 0)
    again = _npy_header(dt, 123_456_789_012, len(first))
    assert len(first) % 64 == 0 and len(again) == len(first)
    buf = io.BytesIO(again + np.zeros(0, dt).tobytes())
    from numpy.lib import format as npy_format

    assert npy_format.read_magic(buf) == (1, 0)
    shape, fortran, dtype = npy_format.read_array_header_1_0(buf)
    assert (shape, fortran, dtype) == ((123_456_789_012,), False, dt)


def test_meter_and_progress_fallback() -> None:
    meter = _progress.Meter(None, sample_seconds=0.0)
    meter.add(records=5, nbytes=100)
    figures = meter.stop()
    assert (figures.records, figures.nbytes, figures.mapped_nbytes) == (5, 100, 0)
    assert figures.throughput > 0
    assert set(figures.as_dict()) >= {"peak_rss_nbytes", "minor_faults", "major_faults"}
    out = io.StringIO()
    bar = _progress.make_progress(None, desc="scan", enabled=True, stream=out, prefer_tqdm=False)
    bar.update(2048)
    bar.close()
    assert "scan 2.0 KiB" in out.getvalue()
    out = io.StringIO()
    bar = _progress.make_progress(4096, desc="tq", enabled=True, stream=out)
    bar.update(4096)
    bar.close()
    assert "tq" in out.getvalue()


def test_mapped_nbytes_sees_a_view_mapping(trades: Dump) -> None:
    with rv.open(trades.path, TRADE_DTYPE) as view:
        assert view["qty"].sum() > 0
        mapped = _progress.mapped_nbytes(trades.path)
    assert mapped is None or mapped >= trades.path.stat().st_size


def test_load_schema_rejects_what_is_not_a_schema(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        load_schema(str(tmp_path))
    (tmp_path / "defs.py").write_text("X = 1\n")
    with pytest.raises(rv.SchemaError, match="name the object too"):
        load_schema(str(tmp_path / "defs.py"))
    with pytest.raises(FileNotFoundError):
        load_schema("dir/missing.h:rec")
    with pytest.raises(rv.SchemaError, match="is empty"):
        load_schema("  ")
    with pytest.raises(rv.SchemaError, match="not valid JSON"):
        load_schema("{not json")


def test_an_empty_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "empty.bin"
    path.write_bytes(b"")
    assert run(capsys, "head", path, "-s", "u8,f8")[1].splitlines()[0].split() == ["#", "f0", "f1"]
    assert run(capsys, "head", path, "-s", "u8,f8", "--format", "csv")[1] == "f0,f1\n"
    assert json.loads(run(capsys, "tail", path, "-s", "u8,f8", "--format", "json")[1]) == []
    code, out, _ = run(capsys, "stats", path, "-s", "u8,f8", "--format", "json")
    assert code == 0
    assert json.loads(out)["fields"]["f1"] == {
        "type": "<f8", "count": 0, "nan": 0, "min": None, "max": None, "mean": None,
    }  # fmt: skip
    assert run(capsys, "convert", path, "-s", "u8,f8", "-o", tmp_path / "e.npy")[0] == 0
    assert np.load(tmp_path / "e.npy").shape == (0,)
    assert run(capsys, "inspect", path, "-s", "u8,f8")[0] == 2


REPO = Path(__file__).resolve().parents[2]


def _doc_session() -> list[tuple[str, str]]:
    """(command, output) pairs of the console session in docs/cli.md."""
    text = (REPO / "docs" / "cli.md").read_text()
    block = text.split("```console\n", 1)[1].split("```", 1)[0]
    pairs: list[tuple[str, str]] = []
    for chunk in block.split("$ recview ")[1:]:
        command, _, output = chunk.partition("\n")
        pairs.append((command, output.rstrip("\n") + "\n"))
    return pairs


def test_docs_session_is_what_the_cli_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deterministic part of the docs/cli.md session (README copies it)."""
    import shlex

    monkeypatch.chdir(REPO)
    monkeypatch.delitem(sys.modules, "samples.schemas", raising=False)
    checked = 0
    for command, expected in _doc_session():
        argv = shlex.split(command)
        if argv[0] not in ("info", "head", "tail", "slice", "inspect"):
            continue
        code, out, err = run(capsys, *argv)
        assert (code, err) == (0, ""), command
        assert out == expected, command
        checked += 1
    assert checked >= 5


def test_arrays_of_records_are_shown_member_by_member(tmp_path, capsys):
    from recview.cli import main as cli_main

    dt = np.dtype([("t", "<u2"), ("x", [("a", "<u2"), ("b", ">f4")], (2,))])
    recs = np.zeros(3, dt)
    recs["t"] = [5, 6, 7]
    recs["x"]["a"] = [[1, 2], [3, 4], [5, 6]]
    recs["x"]["b"] = [[0.5, 1.5], [2.5, 3.5], [4.5, 5.5]]
    path = tmp_path / "aos.bin"
    recs.tofile(path)
    schema = tmp_path / "aos.json"
    schema.write_text(rv.Schema.from_dtype(dt).to_json())
    assert cli_main(["head", str(path), "-s", str(schema), "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["t", "x.a[0]", "x.a[1]", "x.b[0]", "x.b[1]"]
    assert rows[2] == ["6", "3", "4", "2.5", "3.5"]
    assert cli_main(["head", str(path), "-s", str(schema), "--format", "jsonl"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first == {"t": 5, "x.a": [1, 2], "x.b": [0.5, 1.5]}
    assert cli_main(["inspect", str(path), "-s", str(schema), "--record", "1"]) == 0
    assert "[(3, 2.5), (4, 3.5)]" in capsys.readouterr().out
    out = tmp_path / "aos.csv"
    assert cli_main(["convert", str(path), "-s", str(schema), "-o", str(out), "-q"]) == 0
    assert out.read_text().splitlines()[3] == "7,5,6,4.5,5.5"
