"""``benchmarks/bench_frames.py`` prints every ratio issue 13 asks for, in one run.

The figures in ``docs/frames.md`` come from this script: index speed against
dpkt's Reader and against a Python loop over ``np.frombuffer``, a reopen with
the index against a full rescan, and header column extraction. A tiny run
(a few MiB, one timed run) checks that each of them is still measured and
printed as a ratio; the sizes say nothing about the speed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dpkt")

ROOT = Path(__file__).resolve().parents[2]


def test_bench_frames_prints_every_ratio_of_the_issue(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_frames.py"),
            "--nbytes",
            "2M",
            "--small-nbytes",
            "1M",
            "--runs",
            "1",
            "--dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    summary = out[out.index("ratios (faster is the second") :]
    for packets in ("MTU packets (60..1514 B)", "small packets (64 B)"):
        for comparison in (
            "index pass vs dpkt pcap.Reader",
            "index pass vs np.frombuffer loop",
            "reopen with index vs full rescan",
            "headers gather vs struct.unpack_from loop",
        ):
            row = rf"{re.escape(packets)}\s*\|\s*{re.escape(comparison)}\s*\|\s*[\d.]+x / [\d.]+x"
            assert re.search(row, summary), (packets, comparison, summary)
    assert re.search(r"load average [\d.]+ [\d.]+ [\d.]+", out)
    assert os.listdir(tmp_path) == []  # the files it wrote are gone
