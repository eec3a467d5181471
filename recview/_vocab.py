"""The words recview's modules share: option types, array aliases and small checks.

One place for what several modules say the same way, so that one fix reaches
all of them: the ``trailing=`` and ``mode=`` literals, the ndarray alias, the
integer check of counts and offsets, rounding up to an alignment, native byte
order and dotted field paths. A leaf: it imports nothing from recview.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np

__all__ = [
    "MODES",
    "NATIVE_ORDER",
    "TRAILING",
    "Mode",
    "NDArray",
    "SchemaLike",
    "Trailing",
    "as_names",
    "check_int",
    "join_path",
    "native",
    "round_up",
]

#: What a partial record at the end of a region gets (see ``rv.open``).
Trailing = Literal["error", "ignore", "warn"]
TRAILING: Final = ("error", "ignore", "warn")

#: How a view reads a local file.
Mode = Literal["mmap", "pread"]
MODES: Final = ("mmap", "pread")

#: Any numpy array (the alias numpy.typing.NDArray needs a scalar type).
NDArray = np.ndarray[Any, np.dtype[Any]]

#: What every ``schema=`` parameter takes: a Schema, a Record subclass, a
#: numpy dtype or dtype spec, a construct.Struct (see :func:`recview.as_schema`).
SchemaLike = Any


def check_int(value: object, name: str, *, minimum: int | None = 0) -> int:
    """``value`` as an ``int`` (through ``__index__``: numpy integers too).

    A ``bool`` or a ``float`` is refused (a bug in the caller, not a count),
    and so is a value below ``minimum``.

    Raises
    ------
    TypeError
        ``value`` is no integer.
    ValueError
        ``value`` is below ``minimum``.

    Examples
    --------
    >>> import numpy as np
    >>> check_int(np.int64(3), "count"), check_int(0, "offset")
    (3, 0)
    >>> check_int(-1, "offset")
    Traceback (most recent call last):
    ...
    ValueError: offset must be an integer >= 0, got -1
    >>> check_int(True, "count")
    Traceback (most recent call last):
    ...
    TypeError: count must be an integer, not bool
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}")
    return number


def round_up(n: int, align: int) -> int:
    """``n`` rounded up to a multiple of ``align``.

    >>> round_up(13, 8), round_up(16, 8), round_up(0, 4)
    (16, 16, 0)
    """
    return -(-n // align) * align


#: The machine's byte order as a dtype string spells it: ``"<"`` or ``">"``.
NATIVE_ORDER: Final = "<" if np.little_endian else ">"


def native(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """``dtype`` in the machine's byte order (structured dtypes field by field).

    >>> native(np.dtype(">u4")) == np.dtype("=u4"), native(np.dtype("S4")).str
    (True, '|S4')
    """
    return dtype.newbyteorder("=")


def as_names(names: str | Sequence[str] | None) -> Sequence[str] | None:
    """Field or column names as a sequence: a bare string is one name, not
    its letters (``columns="ab"`` asks for the field ``ab``).

    >>> as_names("ab"), as_names(["a", "b"]), as_names(None)
    (['ab'], ['a', 'b'], None)
    """
    return [names] if isinstance(names, str) else names


def join_path(path: str, name: str) -> str:
    """A dotted field path: ``name`` inside ``path`` (``""``: the record itself).

    >>> join_path("", "hdr"), join_path("hdr", "ts")
    ('hdr', 'hdr.ts')
    """
    return f"{path}.{name}" if path else name
