"""``View.batches()`` keeps a scan's memory bounded, checked in child processes.

A 2 GiB file of real records is scanned twice, each time by a fresh Python
process that reports its peak resident set size (``VmHWM`` in
``/proc/self/status``):

- through ``view.batches()``, which releases each window after use, the peak
  stays under 256 MiB;
- through the whole mapping at once (``view.array["price"].sum()``), it
  exceeds 256 MiB: the mapped page-cache pages count in RSS. This shows the
  bound is the work of ``batches()``, not of a file that never got read.

The file holds real data (a sparse file would read as zero-filled page-cache
pages and count in RSS the same way, but faulting in holes is slower than
writing the data here, and real data lets the children's sums be checked).
The file is deleted when the test ends: pytest keeps old ``tmp_path``
directories around, and 2 GiB of them would add up.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.integration._child import json_of_child

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="VmHWM needs Linux /proc"
)

MIB = 1 << 20
FILE_NBYTES = 2 * 1024 * MIB  # bigger than any window or cache, so a leak would show
LIMIT = 256 * MIB
DTYPE = np.dtype(
    [
        ("ts", "<u8"),
        ("price", "<f8"),
        ("qty", "<u4"),
        ("side", "u1"),
        ("_pad", "V3"),
        ("seq", "<u8"),
    ]
)
BLOCK_RECORDS = (64 * MIB) // DTYPE.itemsize

CHILD = r"""
import json, sys
import numpy as np
import recview as rv

path, how = sys.argv[1], sys.argv[2]
dtype = np.dtype([tuple(field) for field in json.loads(sys.argv[3])])
records, total = 0, 0.0
with rv.open(path, dtype) as view:
    if how == "batches":
        for batch in view.batches():
            total += float(batch["price"].sum())
            records += len(batch)
    else:
        total = float(view.array["price"].sum())
        records = len(view)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
peak = int(status["VmHWM"].split()[0]) * 1024
print(json.dumps({"records": records, "total": total, "peak_rss": peak}))
"""


def _block() -> np.ndarray:
    recs = np.zeros(BLOCK_RECORDS, DTYPE)
    recs["ts"] = np.arange(BLOCK_RECORDS, dtype=np.uint64)
    recs["price"] = (np.arange(BLOCK_RECORDS) % 1000) * 0.25  # exact in float64
    recs["qty"] = 1
    recs["seq"] = np.arange(BLOCK_RECORDS, dtype=np.uint64)
    return recs


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, float]]:
    """A file of >= 2 GiB of records: (path, record count, sum of the prices)."""
    path = tmp_path_factory.mktemp("rss") / "ticks.bin"
    block = _block()
    data = block.tobytes()
    nblocks = -(-FILE_NBYTES // len(data))
    try:
        with open(path, "wb") as f:
            f.writelines(data for _ in range(nblocks))
        assert path.stat().st_size >= FILE_NBYTES
        yield path, nblocks * len(block), nblocks * float(block["price"].sum())
    finally:
        path.unlink(missing_ok=True)


def _scan_in_child(path: Path, how: str) -> dict[str, float]:
    return json_of_child(CHILD, str(path), how, json.dumps(DTYPE.descr))


@pytest.mark.slow
def test_batches_scan_keeps_peak_rss_under_256_mib(big_file: tuple[Path, int, float]) -> None:
    path, count, total = big_file
    got = _scan_in_child(path, "batches")
    assert got["records"] == count
    assert got["total"] == total
    assert got["peak_rss"] < LIMIT, f"peak RSS {got['peak_rss'] / MIB:.0f} MiB"


def test_full_array_scan_of_the_same_file_exceeds_256_mib(
    big_file: tuple[Path, int, float],
) -> None:
    path, count, total = big_file
    got = _scan_in_child(path, "full")
    assert got["records"] == count
    assert got["total"] == total
    assert got["peak_rss"] > LIMIT, f"peak RSS {got['peak_rss'] / MIB:.0f} MiB"
