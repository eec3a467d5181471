"""``recview info``: sizes, counts and the layout table, as text and JSON.

Run in-process with ``main([...])``; fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli._helpers import (
    Dump,
    info_json,
    run,
    set_stdin,
)


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
    doc = info_json(capsys, trades.path, "-s", trades.schema)
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
    set_stdin(monkeypatch, trades.path.read_bytes() + b"ab")
    doc = info_json(capsys, "-", "-s", trades.schema)
    assert doc["file"] == "<stdin>"
    assert (doc["records"], doc["file_nbytes"], doc["trailing_nbytes"]) == (300, 9602, 2)
