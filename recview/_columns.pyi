"""Type stub of the C extension ``recview._columns`` (source: ``_columns.c``)."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from typing_extensions import Buffer

def empty(shape: tuple[int, ...], dtype: np.dtype[Any], /) -> np.ndarray[Any, Any]: ...
def split(
    src: Buffer,
    itemsize: int,
    first: int,
    tasks: Sequence[tuple[Buffer, int, int, int, int, int]],
    stream: bool = False,
    /,
) -> None: ...
