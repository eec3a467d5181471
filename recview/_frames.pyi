"""Type stub of the C extension ``recview._frames`` (source: ``_frames.c``)."""

from typing_extensions import Buffer

def index(
    buf: Buffer,
    pos: int,
    limit: int,
    end: int,
    out: Buffer,
    start: int,
    header: int,
    len_offset: int,
    len_size: int,
    len_signed: int,
    len_big: int,
    adjust: int,
    trailer: int,
    check_trailer: int,
    /,
) -> tuple[int, int, int, int]: ...
def gather(buf: Buffer, offsets: Buffer, lengths: Buffer, out: Buffer, /) -> int: ...
