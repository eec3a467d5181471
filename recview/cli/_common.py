"""Exit statuses, :class:`UsageError` and the constants every ``recview`` command shares."""

from __future__ import annotations

import re
from fractions import Fraction

from recview._vocab import NDArray as NDArray  # noqa: PLC0414 (re-exported: the CLI imports it from here)

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
#: Interrupted (Ctrl-C), as shells report a process killed by SIGINT.
EXIT_INTERRUPTED = 130


#: Bytes of records per batch for the scanning commands (convert, stats, plot).
BATCH_NBYTES = 4 << 20
#: Widest table cell before it is cut with "...".
MAX_CELL = 40


class UsageError(Exception):
    """A command-line argument that cannot work (exit status 2)."""


def cut(text: str) -> str:
    """``text``, cut to :data:`MAX_CELL` characters with ``...`` when longer."""
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


#: Size suffixes: binary multiples (K, KiB, M, MiB, ...) and decimal ones (kB, KB, MB, ...).
_SUFFIXES: dict[str, int] = {
    "": 1,
    "b": 1,
    **{p: 1024**k for k, p in enumerate("kmgtpe", start=1)},
    **{p + "ib": 1024**k for k, p in enumerate("kmgtpe", start=1)},
    **{p + "b": 1000**k for k, p in enumerate("kmgtpe", start=1)},
}
_NBYTES = re.compile(
    r"\s*([-+]?(?:0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9]+)?))\s*([a-zA-Z]*)\s*\Z"
)


def parse_nbytes(text: str) -> int:
    """A byte count with an optional suffix: ``4096``, ``0x1000``, ``64K``,
    ``1MiB``, ``64M``, ``1.5GiB``, ``10MB``.

    ``K``/``M``/``G``/``T`` (and ``KiB``/``MiB``/``GiB``/``TiB``) are powers of
    1024, as in ``dd`` and ``ls -h``; ``kB``/``KB``/``MB``/``GB``/``TB`` are
    powers of 1000. Case does not matter. A fraction must come to whole bytes.

    Raises
    ------
    ValueError
        For text that is not such a size, or a fraction of a byte.

    Examples
    --------
    >>> [parse_nbytes(t) for t in ("4096", "0x10", "64K", "1MiB", "64M", "1.5k", "10MB", "-2k")]
    [4096, 16, 65536, 1048576, 67108864, 1536, 10000000, -2048]
    >>> parse_nbytes("12 parsecs")
    Traceback (most recent call last):
    ...
    ValueError: not a size: '12 parsecs' (a byte count such as 4096, 0x1000, 64K, 1MiB, 10MB)
    """
    match = _NBYTES.match(text)
    unit = _SUFFIXES.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"not a size: {text!r} (a byte count such as 4096, 0x1000, 64K, 1MiB, 10MB)"
        )
    number = match.group(1)
    if "." in number:
        value = Fraction(number.replace("_", "")) * unit
        if value.denominator != 1:
            raise ValueError(f"not a whole number of bytes: {text!r}")
        return int(value)
    hexadecimal = number.lstrip("+-")[:2].lower() == "0x"
    return int(number, 16 if hexadecimal else 10) * unit
