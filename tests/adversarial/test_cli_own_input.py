"""Every CLI command that writes a file refuses to write it over its own input.

``convert`` always did; ``guess -o`` and ``plot -o`` opened the output for
writing without looking, so ``recview guess d.bin -o d.bin`` replaced the dump
by its schema and ``recview plot x.png ... -o x.png`` by the plot.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from recview.cli import main


def dump(path: Path) -> bytes:
    a = np.zeros(1000, [("ts", "<u8"), ("v", "<f8"), ("k", "<u4"), ("p", "V4")])
    a["ts"] = np.arange(1000) * 1000 + 1_600_000_000_000
    a["v"] = np.random.default_rng(0).random(1000)
    a["k"] = np.arange(1000) % 7
    a.tofile(path)
    return path.read_bytes()


@pytest.mark.parametrize("how", ["same", "hardlink", "symlink"])
def test_guess_does_not_write_its_schema_over_the_dump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    src = tmp_path / "g.bin"
    before = dump(src)
    out = src
    if how == "hardlink":
        out = tmp_path / "link.json"
        os.link(src, out)
    elif how == "symlink":
        out = tmp_path / "sym.json"
        out.symlink_to(src)
    assert main(["guess", str(src), "-o", str(out), "-q"]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_guess_still_writes_another_file(tmp_path: Path) -> None:
    src = tmp_path / "g.bin"
    dump(src)
    out = tmp_path / "schema.json"
    assert main(["guess", str(src), "-o", str(out), "-q"]) == 0
    assert '"itemsize": 24' in out.read_text()


def test_plot_does_not_draw_over_its_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    src = tmp_path / "p.png"  # a dump that happens to be named like an image
    np.arange(1000, dtype="<u8").tofile(src)
    before = src.read_bytes()
    assert main(["plot", str(src), "-s", "<u8", "--field", "f0", "-o", str(src), "-q"]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_guess_of_standard_input_does_not_write_over_the_file_it_reads(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "g.bin"
    before = dump(src)
    repo = Path(__file__).resolve().parents[2]
    with open(src, "rb") as stdin:
        res = subprocess.run(
            [sys.executable, "-m", "recview", "guess", "-", "-o", str(src), "-q"],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(repo)},
            check=False,
        )
    assert res.returncode == 2, res.stderr
    assert "is the input file" in res.stderr
    assert src.read_bytes() == before
