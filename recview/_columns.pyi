"""Type stub of the C extension ``recview._columns`` (source: ``_columns.c``)."""

from collections.abc import Sequence

from typing_extensions import Buffer

def split(
    src: Buffer,
    itemsize: int,
    first: int,
    tasks: Sequence[tuple[Buffer, int, int, int, int, int]],
    /,
) -> None: ...
