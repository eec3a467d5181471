"""The index pass keeps memory bounded by the index, not by the file.

A child process indexes a 4 GiB generated file of 64 KiB frames (a sparse file:
only the 4-byte headers are written, one per 16 pages, so the pass touches
65,536 pages = 256 MiB of mapping, and maps 4 GiB), and reports its peak RSS
(``resource.getrusage``) before and after. The pass drops each 16 MiB window
once it is read, so the growth must stay near one window plus the 512 KiB
index, far below the pages it touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRAME = 64 << 10
FRAMES = 65_536  # 4 GiB

CHILD = r"""
import json, resource, sys
import recview as rv

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

path = sys.argv[1]
before = peak()
with rv.open_frames(path, [("n", "<u4")], length="n") as fr:
    count = len(fr)
    last = int(fr.offsets[-1])
    lengths_ok = bool((fr.lengths == int(sys.argv[2])).all())
after = peak()
print(json.dumps({"before": before, "after": after, "count": count, "last": last,
                  "lengths_ok": lengths_ok}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB, sparse files: Linux")
def test_index_pass_rss_is_bounded_by_the_index_not_the_file(tmp_path):
    path = tmp_path / "big.frames"
    header = (FRAME - 4).to_bytes(4, "little")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for k in range(FRAMES):
            os.pwrite(fd, header, k * FRAME)
        os.ftruncate(fd, FRAMES * FRAME)
    finally:
        os.close(fd)
    assert path.stat().st_size == 4 << 30
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(FRAME - 4)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["count"] == FRAMES and got["lengths_ok"]
    assert got["last"] == (FRAMES - 1) * FRAME + 4
    growth = got["after"] - got["before"]
    touched = FRAMES * 4096  # one page per frame header: 256 MiB
    assert growth < 64 << 20, f"peak RSS grew by {growth / 2**20:.1f} MiB"
    assert growth < touched / 4
