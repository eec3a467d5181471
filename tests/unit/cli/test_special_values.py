"""Values with no ordinary form: NaT, NaN and inf in complex numbers. Each
output says "missing" (null, NaT) and never a valid-looking value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview.cli import main

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns", "D", "m"])
@pytest.mark.parametrize("kind", ["M8", "m8"])
def test_nat_is_null_in_arrow_and_parquet(tmp_path: Path, kind: str, unit: str) -> None:
    dt = f"<{kind}[{unit}]"
    values = np.array(["NaT", 0, 5], dt)
    path = tmp_path / "t.bin"
    values.tofile(path)
    with rv.open(path, dt) as view:
        table = view.to_arrow()
    col = table.column(0)
    assert col.null_count == 1
    assert col.to_pylist()[0] is None
    out = tmp_path / "t.parquet"
    assert main(["convert", str(path), "-s", dt, "-o", str(out), "-q"]) == 0
    back = pq.read_table(out).column(0)
    assert back.to_pylist()[0] is None
    assert back.null_count == 1
    assert [v is None for v in back.to_pylist()] == [True, False, False]


def test_nat_in_pandas_stays_nat(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    path = tmp_path / "t.bin"
    np.array(["NaT", 0], "<M8[ns]").tofile(path)
    with rv.open(path, "<M8[ns]") as view:
        df = view.to_pandas()
    assert df.iloc[:, 0].isna().tolist() == [True, False]


def test_complex_nan_and_inf_are_null_in_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cx.bin"
    np.array([1 + 2j, complex("nan+1j"), complex(1, float("inf"))], "<c16").tofile(path)
    assert main(["head", str(path), "-s", "<c16", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"f0": [1.0, 2.0]}, {"f0": [None, 1.0]}, {"f0": [1.0, None]}]
    out = tmp_path / "cx.jsonl"
    assert main(["convert", str(path), "-s", "<c16", "-o", str(out), "-q"]) == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == rows
