"""``recview plot``: PNGs, usage errors, and the bounded Histogram and Envelope summaries.

Run in-process with ``main([...])``; fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from recview.cli._plot import Envelope, Histogram
from tests.unit.cli._helpers import (
    Dump,
    run,
)

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
