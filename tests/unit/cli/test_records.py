"""``recview head``, ``tail``, ``slice`` and ``inspect``, checked against numpy reading the same file.

Run in-process with ``main([...])``; fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview.cli._records import parse_rows
from tests.unit.cli._helpers import (
    SIDES,
    Dump,
    check_rows,
    csv_rows,
    run,
    set_stdin,
)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_head_formats_match_numpy(
    capsys: pytest.CaptureFixture[str], trades: Dump, fmt: str
) -> None:
    code, out, err = run(
        capsys, "head", trades.path, "-s", trades.schema, "-n", 12, "--format", fmt
    )
    assert code == 0 and err == ""
    if fmt == "csv":
        rows = csv_rows(out)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
    else:
        rows = json.loads(out)
    check_rows(rows, trades.array[:12])
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
        check_rows(csv_rows(out), expected)


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
    rows = csv_rows(out)
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


def test_table_has_one_column_per_array_element_like_csv(
    capsys: pytest.CaptureFixture[str], nested: Dump
) -> None:
    # tables hold scalar cells: an array field is one column per element,
    # named as CSV names it (it used to be one column of "[1, 2, 3]" cells)
    spec = f"{nested.schema}:rec"
    code, out, _ = run(capsys, "head", nested.path, "-s", spec, "-n", 3)
    assert code == 0
    lines = out.splitlines()
    header = ["id", "pos.x", "pos.y", "flags[0]", "flags[1]", "flags[2]", "name", "mass"]
    assert lines[0].split() == ["#", *header]
    for line, rec in zip(lines[2:], nested.array[:3], strict=True):
        cells = line.split()
        assert [int(c) for c in cells[4:7]] == rec["flags"].tolist()
        assert cells[7] == rec["name"].decode()
    code, out, _ = run(capsys, "head", nested.path, "-s", spec, "-n", 0)
    assert out.splitlines()[0].split() == ["#", *header]  # an empty table too


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
    set_stdin(monkeypatch, raw)
    code, out, err = run(capsys, "head", "-", "-s", trades.schema, "-n", 3, "--format", "csv")
    assert code == 0, err
    check_rows(csv_rows(out), trades.array[:3])
    for suffix, opener in ((".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)):
        path = tmp_path / f"trades.bin{suffix}"
        with opener(path, "wb") as fh:
            fh.write(raw)
        code, out, err = run(capsys, "tail", path, "-s", trades.schema, "-n", 4, "--format", "csv")
        assert code == 0, err
        check_rows(csv_rows(out), trades.array[-4:])
        code, out, _ = run(
            capsys, "slice", path, "-s", trades.schema, "--rows", "250:290:3", "--format", "csv"
        )
        check_rows(csv_rows(out), trades.array[250:290:3])


def test_stream_offset_and_count(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sensor: Dump
) -> None:
    set_stdin(monkeypatch, sensor.path.read_bytes())
    code, out, err = run(
        capsys, "info", "-", "-s", sensor.schema, "--offset", 16, "--count", 100, "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["records"] == 100
    set_stdin(monkeypatch, sensor.path.read_bytes())
    code, _, err = run(capsys, "stats", "-", "-s", sensor.schema, "--offset", 16, "--count", 500)
    assert code == 1 and "--count asked for 500" in err
    set_stdin(monkeypatch, sensor.path.read_bytes())
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
    side = next(ln for ln in target.splitlines() if "  side  " in ln)
    assert side.split()[-2:] == ["|u1", SIDES[int(trades.array["side"][2])]]  # the enum's label


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
    set_stdin(monkeypatch, trades.path.read_bytes())
    code, out, _ = run(capsys, "inspect", "-", "-s", trades.schema, "--record", 299, "--context", 2)
    assert code == 0
    heads = [ln.split()[-6] for ln in out.splitlines() if " record " in ln and "offset" in ln]
    assert heads == ["297", "298", "299"] and "> record 299" in out
    code, _, err = run(capsys, "inspect", trades.path, "-s", trades.schema, "--record", 300)
    assert code == 2 and "out of range" in err


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
    out = capsys.readouterr().out
    # each element of an array of records is its own row, under its own bytes
    rec1 = out.split("> record 1")[1].split("record 2")[0]
    assert "+2     03 00 " in rec1 and "x.a[0]" in rec1
    assert "+4     40 20 00 00 " in rec1 and "x.b[0]" in rec1
    assert "+8     04 00 " in rec1 and "x.a[1]" in rec1
    assert "+10    40 60 00 00 " in rec1 and "x.b[1]" in rec1
    assert rec1.index("x.b[0]") < rec1.index("x.a[1]")
    out = tmp_path / "aos.csv"
    assert cli_main(["convert", str(path), "-s", str(schema), "-o", str(out), "-q"]) == 0
    assert out.read_text().splitlines()[3] == "7,5,6,4.5,5.5"
