"""Display options: ``--hex`` integers, ``stats``' shortest float32 text, and
wide tables cut to the terminal's width (checked in a pseudo-terminal) or
laid out with ``--vertical``."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from tests.unit.cli._helpers import run

REPO = Path(__file__).resolve().parents[3]
DTYPE = np.dtype([("a", "<i2"), ("b", ">u8"), ("c", "<f4"), ("name", "S5"), ("bits", "<u4")])


@pytest.fixture
def dump(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    recs = np.zeros(6, DTYPE)
    recs["a"] = [-1, 0, 1, -32768, 32767, 255]
    recs["b"] = [0, 1, 2**64 - 1, 2**40, 7, 0xDEADBEEF]
    recs["c"] = np.array([0.1, 1 / 3, -2.5e-7, 3.4e38, 19.881163, 1e6], dtype="<f4")
    recs["name"] = [b"alpha", b"b", b"", b"delta", b"e", b"f"]
    recs["bits"] = np.arange(6) * 0x01010101
    path = tmp_path / "r.bin"
    recs.tofile(path)
    schema = tmp_path / "r.json"
    schema.write_text(rv.Schema.from_dtype(DTYPE).to_json())
    return path, schema, recs


def _hex(v: int, nbytes: int) -> str:
    return f"0x{v & ((1 << 8 * nbytes) - 1):0{2 * nbytes}x}"


def test_hex_shows_integer_fields_in_hexadecimal(
    capsys: pytest.CaptureFixture[str], dump: tuple[Path, Path, np.ndarray]
) -> None:
    path, schema, recs = dump
    code, out, err = run(capsys, "head", path, "-s", schema, "--hex", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["a"] for r in rows] == [_hex(int(v), 2) for v in recs["a"]]
    assert [r["b"] for r in rows] == [_hex(int(v), 8) for v in recs["b"]]
    assert [r["bits"] for r in rows] == [_hex(int(v), 4) for v in recs["bits"]]
    assert rows[0]["a"] == "0xffff"  # -1: its bits
    # floats and text are as without --hex
    code, plain, err = run(capsys, "head", path, "-s", schema, "--format", "csv")
    assert [r["c"] for r in rows] == [r["c"] for r in csv.DictReader(io.StringIO(plain))]
    assert [r["name"] for r in rows] == [r["name"] for r in csv.DictReader(io.StringIO(plain))]


def test_hex_in_json_lines_and_tables(
    capsys: pytest.CaptureFixture[str], dump: tuple[Path, Path, np.ndarray]
) -> None:
    path, schema, recs = dump
    code, out, err = run(capsys, "tail", path, "-s", schema, "--hex", "--format", "jsonl", "-n", 2)
    assert code == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    assert [d["b"] for d in docs] == [_hex(int(v), 8) for v in recs["b"][-2:]]
    assert [d["c"] for d in docs] == [float(v) for v in recs["c"][-2:].astype(str)]
    code, out, err = run(capsys, "slice", path, "-s", schema, "--hex", "--rows", "2:3")
    assert code == 0, err
    assert "0xffffffffffffffff" in out and "0x0001" in out


def test_stats_prints_float32_values_in_their_shortest_float32_form(
    capsys: pytest.CaptureFixture[str], dump: tuple[Path, Path, np.ndarray]
) -> None:
    path, schema, recs = dump
    code, out, err = run(capsys, "stats", path, "-s", schema, "--format", "json", "-q")
    assert code == 0, err
    c = json.loads(out)["fields"]["c"]
    lo, hi = recs["c"].min(), recs["c"].max()
    assert (c["min"], c["max"]) == (float(str(lo)), float(str(hi)))
    assert np.float32(c["min"]) == lo and np.float32(c["max"]) == hi
    code, out, err = run(capsys, "stats", path, "-s", schema, "-q")
    assert code == 0, err
    (line,) = [ln for ln in out.splitlines() if ln.startswith("c ")]
    assert line.split()[3:5] == [repr(float(str(lo))), repr(float(str(hi)))]
    # the sample: 19.881163, not 19.881162643432617
    code, out, err = run(capsys, "stats", REPO / "samples/sensor.bin", "-s",
                         REPO / "samples/sensor.json", "--offset", 64, "-q")  # fmt: skip
    assert "19.881163 " in out and "19.881162643432617" not in out


def test_vertical_lays_out_each_record_one_field_a_line(
    capsys: pytest.CaptureFixture[str], dump: tuple[Path, Path, np.ndarray]
) -> None:
    path, schema, recs = dump
    code, out, err = run(capsys, "head", path, "-s", schema, "--vertical", "-n", 2)
    assert code == 0, err
    blocks = out.split("-[ record ")[1:]
    assert len(blocks) == 2
    for i, block in enumerate(blocks):
        lines = block.splitlines()
        assert lines[0] == f"{i} ]"
        fields = dict(line.split(None, 1) for line in lines[1:])
        assert list(fields) == ["a", "b", "c", "name", "bits"]
        assert fields["a"] == str(recs["a"][i])
        assert fields["b"] == str(recs["b"][i])
        assert fields["name"] == recs["name"][i].decode()


def _on_a_terminal(argv: list[str], columns: int) -> str:
    """stdout of ``recview argv`` written to a pseudo-terminal ``columns`` wide."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "recview", *argv],
        stdout=slave, stderr=subprocess.PIPE, cwd=REPO, env=env,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                raise AssertionError("no output from the child in 60 s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["head", "samples/particles.bin", "-s", "samples/particles.json", "-n", "4"],
        ["sql", "samples/particles.bin", "-s", "samples/particles.json", "select * from t limit 4"],
    ],
)
def test_wide_tables_fit_the_terminal(argv: list[str]) -> None:
    wide = subprocess.run(
        [sys.executable, "-m", "recview", *argv],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert max(map(len, wide.splitlines())) > 60  # piped: whole values, however wide
    assert "…" not in wide
    out = _on_a_terminal(argv, 60)
    lines = out.splitlines()
    assert len(lines) == len(wide.splitlines())
    assert max(map(len, lines)) <= 60, out
    assert "…" in out
    # every cell is the whole value or its beginning, cut with …
    for cut_line, whole_line in zip(lines[2:], wide.splitlines()[2:], strict=True):
        for cell in cut_line.split():
            assert cell.rstrip("…") in whole_line, (cell, whole_line)
