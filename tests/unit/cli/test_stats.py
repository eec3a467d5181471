"""``recview stats``: figures against numpy, NaN, arrays, stdin; the progress bar and run meter.

Run in-process with ``main([...])``; fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import io
import json
import mmap
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview._vocab import round_up
from recview.cli import _progress
from tests.unit.cli._helpers import (
    TRADE_DTYPE,
    Dump,
    run,
    set_stdin,
)


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
    if Path("/proc/self/maps").exists():  # the whole file, mapped in whole pages
        assert run_figures["mapped_nbytes"] == round_up(300 * 32, mmap.PAGESIZE)
    else:  # no way to tell: not a made-up 0
        assert run_figures["mapped_nbytes"] is None


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
    set_stdin(monkeypatch, sensor.path.read_bytes())
    code, out, _ = run(
        capsys, "stats", "-", "-s", sensor.schema, "--offset", 16, "--format", "json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["fields"]["ts"]["max"] == int(sensor.array["ts"].max())
    assert doc["run"]["mapped_nbytes"] == 0


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


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/self/maps")
def test_mapped_nbytes_sees_a_view_mapping(trades: Dump) -> None:
    size = trades.path.stat().st_size
    assert _progress.mapped_nbytes(trades.path) == 0
    with rv.open(trades.path, TRADE_DTYPE) as view:
        assert view["qty"].sum() > 0
        mapped = _progress.mapped_nbytes(trades.path)
    # The whole record region is mapped, in whole pages.
    assert mapped == round_up(size, mmap.PAGESIZE)
    assert _progress.mapped_nbytes(trades.path) == 0
