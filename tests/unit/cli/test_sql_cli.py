"""``recview sql``: DuckDB queries over record files from the command line, run
in a child process on the shipped samples and checked against numpy."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview.cli import main

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "samples"
TIMEOUT = 120
TRADES = ("samples/trades.bin", "-s", "samples/trades.json")


def recview(*argv: object, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recview", *map(str, argv)],
        cwd=REPO,
        input=None if stdin is None else stdin.decode("latin-1"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def trades() -> np.ndarray:
    schema = rv.Schema.from_json((SAMPLES / "trades.json").read_text())
    return np.fromfile(SAMPLES / "trades.bin", dtype=schema.dtype)


def particles() -> np.ndarray:
    schema = rv.Schema.from_json((SAMPLES / "particles.json").read_text())
    return np.fromfile(SAMPLES / "particles.bin", dtype=schema.dtype)


def test_group_by_as_csv_equals_numpy() -> None:
    res = recview(
        "sql", *TRADES,
        "select side, count(*) as n, sum(qty) as q, max(price) as p from t "
        "group by side order by side",
        "--format", "csv",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    a = trades()
    sides = sorted(set(a["side"].tolist()))
    assert [int(r["side"]) for r in rows] == sides
    for r in rows:
        sel = a[a["side"] == int(r["side"])]
        assert int(r["n"]) == len(sel)
        assert int(r["q"]) == int(sel["qty"].sum())
        assert float(r["p"]) == float(sel["price"].max())


def test_filter_as_jsonl_equals_numpy() -> None:
    res = recview(
        "sql", *TRADES,
        "select ts, price, rtrim(decode(venue), chr(0)) as venue from t "
        "where price > 140 and side = 1 order by ts",
        "--format", "jsonl",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    a = trades()
    sel = a[(a["price"] > 140) & (a["side"] == 1)]
    sel = sel[np.argsort(sel["ts"], kind="stable")]
    assert len(got) == len(sel) > 0
    assert [g["ts"] for g in got] == sel["ts"].tolist()
    assert [g["price"] for g in got] == sel["price"].tolist()
    assert [g["venue"] for g in got] == [v.decode() for v in sel["venue"].tolist()]


def test_join_with_a_second_table_equals_numpy() -> None:
    res = recview(
        "sql", *TRADES,
        'select count(*) as n, sum(u."pos.x") as sx from t join u on t.qty = u.id',
        "--table", "u=samples/particles.bin:samples/particles.json",
        "--format", "json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    (row,) = json.loads(res.stdout)
    a, b = trades(), particles()
    pos_x = dict(zip(b["id"].tolist(), b["pos"]["x"].astype(float).tolist(), strict=True))
    matched = [pos_x[q] for q in a["qty"].tolist() if q in pos_x]
    assert row["n"] == len(matched) > 0
    assert row["sx"] == pytest.approx(sum(matched), rel=1e-6)


def test_table_output_has_the_header_and_one_line_per_row() -> None:
    res = recview("sql", *TRADES, "select side, count(*) as n from t group by side order by 1")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["side", "n"]
    assert set(lines[1]) == {"-", " "}
    a = trades()
    assert [line.split() for line in lines[2:]] == [
        [str(s), str(int((a["side"] == s).sum()))] for s in sorted(set(a["side"].tolist()))
    ]


def test_empty_result_prints_the_header_only() -> None:
    res = recview("sql", *TRADES, "select ts from t where false", "--format", "csv")
    assert (res.returncode, res.stdout) == (0, "ts\n")
    res = recview("sql", *TRADES, "select ts from t where false", "--format", "json")
    assert (res.returncode, res.stdout) == (0, "[]\n")


def test_same_file_twice_with_the_commands_schema(tmp_path: Path) -> None:
    res = recview(
        "sql", *TRADES, "select count(*) as n from t join u using (ts)",
        "--table", "u=samples/trades.bin", "--format", "csv",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"n\n{len(trades())}\n"


def test_header_offset_applies_to_t() -> None:
    res = recview(
        "sql", "samples/sensor.bin", "-s", "samples/sensor.json", "--offset", "64",
        "select count(*) as n from t", "--format", "csv",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    itemsize = rv.Schema.from_json((SAMPLES / "sensor.json").read_text()).itemsize
    assert res.stdout == f"n\n{(12064 - 64) // itemsize}\n"


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (("select nope from t",), 1, r'column "nope" not found.*tables: t\(ts, price'),
        (("selec 1",), 1, "syntax error"),
        (("select 1", "--table", "1x=a.bin:s.json"), 2, "not an SQL identifier"),
        (("select 1", "--table", "novalue"), 2, "expected NAME=FILE:SCHEMA"),
        (("select 1", "--table", "t=samples/trades.bin"), 2, "table 't' is given twice"),
        (("select 1", "--table", "u=missing.bin"), 1, "missing.bin"),
    ],
)
def test_errors_are_one_line(argv: tuple[str, ...], status: int, message: str) -> None:
    res = recview("sql", *TRADES, *argv)
    assert res.returncode == status, res.stderr
    assert res.stdout == ""
    assert len(res.stderr.splitlines()) == 1, res.stderr
    assert res.stderr.startswith("recview sql: error: ")
    assert re.search(message, res.stderr, re.IGNORECASE), res.stderr


def test_standard_input_is_refused_with_a_reason() -> None:
    data = (SAMPLES / "trades.bin").read_bytes()
    res = recview("sql", "-", "-s", "samples/trades.json", "select 1", stdin=data)
    assert res.returncode == 2
    assert "sql needs a file it can map" in res.stderr


def test_missing_duckdb_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    monkeypatch.chdir(REPO)
    code = main(["sql", *TRADES, "select 1"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert "duckdb is not installed" in err
    assert "pip install 'recview[sql]'" in err
