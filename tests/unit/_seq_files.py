"""Files of numbered records for the view tests: record ``i`` holds ``seq == i``.

A test that appends, rewrites or cuts such a file can tell each record it gets
back by its number, and a record of another file by its ``tag``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DT = np.dtype([("seq", "<u8"), ("tag", "<u8")])


def records(a: int, b: int, tag: int = 7) -> np.ndarray:
    """Records ``a`` to ``b - 1``: ``seq`` their number, ``tag`` the same for all."""
    r = np.zeros(b - a, DT)
    r["seq"] = np.arange(a, b)
    r["tag"] = tag
    return r


def write(path: Path | str, recs: np.ndarray, mode: str = "wb") -> None:
    """Write (``"wb"``) or append (``"ab"``) the records' bytes."""
    with open(path, mode) as f:
        f.write(recs.tobytes())
