"""``--schema SPEC`` sources: JSON files, C headers, Python objects, dtype literals.

Run in-process with ``main([...])``; fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import recview as rv
from recview.cli._spec import load_schema
from tests.unit.cli._helpers import (
    NESTED_DTYPE,
    PY_MODULE,
    SIDES,
    TRADE_SPEC,
    Dump,
    info_json,
    run,
)


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
    doc = info_json(capsys, trades.path, "-s", spec)
    assert doc["itemsize"] == 32
    assert doc["records"] == len(trades.array)
    assert [f["offset"] for f in doc["fields"]][:4] == [0, 8, 16, 20]
    assert doc["schema_source"] == "numpy dtype"


def test_schema_from_json_file_keeps_enums(
    capsys: pytest.CaptureFixture[str], trades: Dump
) -> None:
    doc = info_json(capsys, trades.path, "-s", trades.schema)
    assert rv.Schema.from_json(json.dumps(doc["schema"])).enums["side"] == SIDES
    assert doc["schema_source"].endswith("(JSON file)")


def test_schema_from_inline_json(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    doc = info_json(capsys, trades.path, "-s", trades.schema.read_text())
    assert doc["itemsize"] == 32 and doc["schema_source"] == "inline JSON"


def test_schema_from_c_header(capsys: pytest.CaptureFixture[str], nested: Dump) -> None:
    doc = info_json(capsys, nested.path, "-s", f"{nested.schema}:rec")
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
    doc = info_json(capsys, nested.path, "-s", single)
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
    doc = info_json(capsys, trades.path, "-s", f"{module}:{attr}")
    assert doc["itemsize"] == 32
    assert [f["path"] for f in doc["fields"]] == ["ts", "price", "qty", "side", "venue"]
    assert doc["schema_source"] == f"{module}:{attr} (Python object)"


def test_schema_from_python_file_path(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    path = tmp_path / "defs.py"
    path.write_text(PY_MODULE.format(dtype=TRADE_SPEC))
    doc = info_json(capsys, trades.path, "-s", f"{path}:Trade")
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
