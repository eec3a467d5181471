"""``recview convert``: converted files read back and compared with the records.

Run in-process with ``main([...])``; fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recview.cli._writers import npy_header
from tests.unit.cli._helpers import (
    Dump,
    check_rows,
    csv_rows,
    run,
    set_stdin,
)


def test_convert_csv_and_jsonl_read_back(
    capsys: pytest.CaptureFixture[str], trades: Dump, tmp_path: Path
) -> None:
    out_csv, out_jsonl = tmp_path / "t.csv", tmp_path / "t.jsonl"
    small = ("--batch-nbytes", 1000)  # many batches
    code, _, err = run(capsys, "convert", trades.path, "-s", trades.schema, "-o", out_csv, *small)
    assert code == 0, err
    assert "wrote 300 records" in err
    check_rows(csv_rows(out_csv.read_text()), trades.array)
    code, _, _ = run(capsys, "convert", trades.path, "-s", trades.schema, "-o", out_jsonl, "-q")
    assert code == 0
    check_rows([json.loads(x) for x in out_jsonl.read_text().splitlines()], trades.array)


def test_convert_to_stdout(capsys: pytest.CaptureFixture[str], trades: Dump) -> None:
    code, out, _ = run(
        capsys, "convert", trades.path, "-s", trades.schema, "-o", "-", "--to", "csv"
    )
    assert code == 0
    check_rows(csv_rows(out), trades.array)


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
    set_stdin(monkeypatch, nested.path.read_bytes())
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


def test_npy_header_is_rewritable_in_place() -> None:
    dt = np.dtype([("a", "<u8"), ("b", ">f4")])
    first = npy_header(dt, 0)
    again = npy_header(dt, 123_456_789_012, len(first))
    assert len(first) % 64 == 0 and len(again) == len(first)
    buf = io.BytesIO(again + np.zeros(0, dt).tobytes())
    from numpy.lib import format as npy_format

    assert npy_format.read_magic(buf) == (1, 0)
    shape, fortran, dtype = npy_format.read_array_header_1_0(buf)
    assert (shape, fortran, dtype) == ((123_456_789_012,), False, dt)


def _interrupt_after(real: Any) -> Any:
    """``real``, then a SIGINT to this process as soon as it returns."""

    def call(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return out

    return call


@pytest.mark.parametrize("where", ["mkstemp", "fdopen", "TextIOWrapper", "Output"])
def test_an_interrupt_while_the_output_is_created_leaves_no_temporary_file(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    trades: Dump,
    tmp_path: Path,
    where: str,
) -> None:
    # A signal can land right after mkstemp (before the name is recorded), in
    # the wrappers opened on the file, or as Output() returns (before the
    # caller keeps it): the temporary file must go in each case.
    from recview.cli import _convert, _writers

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    targets = {
        "mkstemp": (_writers.tempfile, "mkstemp"),
        "fdopen": (_writers.os, "fdopen"),
        "TextIOWrapper": (_writers.io, "TextIOWrapper"),
        "Output": (_convert, "Output"),
    }
    module, name = targets[where]
    monkeypatch.setattr(module, name, _interrupt_after(getattr(module, name)))
    code, _, _ = run(capsys, "convert", trades.path, "-s", trades.schema, "-o", out_dir / "o.csv")
    monkeypatch.undo()
    assert code == 130
    assert list(out_dir.iterdir()) == []
