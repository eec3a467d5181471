"""Exit statuses, :class:`UsageError` and the constants every ``recview`` command shares."""

from __future__ import annotations

from typing import Any

import numpy as np

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
#: Interrupted (Ctrl-C), as shells report a process killed by SIGINT.
EXIT_INTERRUPTED = 130

NDArray = np.ndarray[Any, np.dtype[Any]]

#: Bytes of records per batch for the scanning commands (convert, stats, plot).
BATCH_NBYTES = 4 << 20
#: Widest table cell before it is cut with "...".
MAX_CELL = 40


class UsageError(Exception):
    """A command-line argument that cannot work (exit status 2)."""


def cut(text: str) -> str:
    """``text``, cut to :data:`MAX_CELL` characters with ``...`` when longer."""
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."
