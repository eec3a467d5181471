"""Decompressing readers for .gz, .bz2, .xz and .zst inputs, and what their bad data raises.

:func:`open_compressed` opens a path by its suffix (:data:`COMPRESSED_SUFFIXES`,
which the CLI also uses to read such paths as streams), :func:`decompressing`
wraps any file object; both check every member of a multi-member file and
report corrupt or truncated data as a :class:`~recview.errors.LayoutError`
naming the file, the format and the decompressed offset
(:func:`_raise_for_read`, which :func:`recview.streams.stream` uses for every
read).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib
from typing import IO, Any, Final, NoReturn, cast

from recview._extras import require
from recview.errors import LayoutError, RecviewError

__all__ = ["COMPRESSED_SUFFIXES", "compression_of", "decompressing", "open_compressed"]


def _compression_of(fileobj: object) -> str | None:
    """The compression format *fileobj* decompresses, if it is a known decompressing reader."""
    if isinstance(fileobj, _Decompressed):
        return fileobj.format
    if isinstance(fileobj, gzip.GzipFile):
        return "gzip"
    if isinstance(fileobj, bz2.BZ2File):
        return "bzip2"
    if isinstance(fileobj, lzma.LZMAFile):
        return "lzma"
    if type(fileobj).__module__.partition(".")[0] == "zstandard":
        return "zstd"
    return None


def _data_error(
    name: str, fmt: str | None, exc: BaseException, nbytes: int, note: str
) -> LayoutError:
    """The ``LayoutError`` for data a read could not deliver: corrupt, truncated or failing.

    *nbytes* is how far the read got (decompressed bytes for a compressed
    source), *note* what the stream made of them (whole records).
    """
    detail = " ".join((str(exc) or type(exc).__name__).split())
    if fmt is None:
        what, unit = f"read failed: {type(exc).__name__}: {detail}", "bytes"
    else:
        kind = "truncated" if isinstance(exc, EOFError) else "corrupt"
        what, unit = f"{kind} {fmt} data: {detail}", "decompressed bytes"
    return LayoutError(f"{name}: {what} (after {nbytes:,} {unit}{note})", path=name, offset=nbytes)


def _raise_for_read(exc: Exception, name: str, fmt: str | None, nbytes: int, note: str) -> NoReturn:
    """Raise what *exc*, raised by a read of *name*, means: *exc* itself, or a recview error.

    - recview errors pass through;
    - an ``OSError`` with an ``errno`` is a real I/O failure (a reset socket,
      a disk error): it keeps its type, so that callers can still catch
      ``ConnectionResetError``, and gets *name* as its ``filename``;
    - what decompressors raise on bad data (``EOFError`` for a truncated
      file, ``zlib.error``, ``lzma.LZMAError``, ``zstandard.ZstdError``, an
      ``OSError`` without ``errno`` such as ``gzip.BadGzipFile`` or bz2's
      "Invalid data stream") and the ``ValueError`` of a broken or closed
      file object become a ``LayoutError`` naming the source and how far the
      read got;
    - anything else (a ``TypeError``: a bug, not bad data) passes through.
    """
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
        exc.filename = name
    elif not isinstance(exc, RecviewError) and (
        isinstance(exc, (EOFError, OSError, ValueError, zlib.error, lzma.LZMAError))
        or type(exc).__module__.partition(".")[0] == "zstandard"
    ):
        raise _data_error(name, fmt, exc, nbytes, note) from exc
    raise exc


#: The suffixes :func:`open_compressed` decompresses (lower case; the CLI
#: reads paths ending in one of them as streams).
COMPRESSED_SUFFIXES: Final = (".gz", ".bz2", ".xz", ".lzma", ".zst", ".zstd")

_FORMATS: Final = {
    ".gz": "gzip",
    ".bz2": "bzip2",
    ".xz": "xz",
    ".lzma": "lzma",
    ".zst": "zstd",
    ".zstd": "zstd",
}


class _Decompressed(io.RawIOBase):
    """A decompressing reader that names its file and reports bad data as ``LayoutError``.

    What :func:`open_compressed` returns: ``name`` is the path (``BZ2File``
    and ``LZMAFile`` have none before Python 3.13), and whatever the
    decompressor raises on corrupt or truncated data (``EOFError``,
    ``zlib.error``, ``gzip.BadGzipFile``...) becomes a ``LayoutError`` that
    names the file, the format and how many decompressed bytes were read,
    for every reader of the file, not only :func:`stream`.
    """

    def __init__(
        self, inner: IO[bytes], name: str, fmt: str, frames: _ZstdFrames | None = None
    ) -> None:
        super().__init__()
        self._inner: Any = inner  # GzipFile, BZ2File, LZMAFile or a zstandard reader
        self.name = name
        self.format = fmt
        self._frames = frames
        self._nbytes = 0  # decompressed bytes handed out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not memoryview(buffer).nbytes:
            return 0  # not the end: zstandard even fails on an empty read mid-frame
        try:
            count: int = self._inner.readinto(buffer)
        except Exception as exc:  # noqa: BLE001  # re-raised as is unless it is bad data
            _raise_for_read(exc, self.name, self.format, self._nbytes, "")
        if not count and self._frames is not None and not self._frames.complete:
            # zstandard's reader ends quietly inside a frame; the frame
            # walker saw the compressed bytes and knows the file was cut.
            cut = EOFError("the file ends inside a frame")
            raise _data_error(self.name, self.format, cut, self._nbytes, "")
        self._nbytes += count
        return count

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                super().close()


#: Compressed bytes :class:`_Members` reads from the file at a time.
_MEMBER_CHUNK: Final = 128 << 10


class _Members(io.RawIOBase):
    """gzip, bzip2 or xz members (streams) one after another, strictly.

    What :func:`open_compressed` reads ``.gz``, ``.bz2`` and ``.xz`` files
    with, instead of ``gzip``/``bz2``/``lzma.open``:

    - the standard library's bz2 and lzma readers swallow any error raised by
      the first read of a later member ("trailing data isn't a valid
      compressed stream; ignore it"): a corrupt second member, or bytes after
      the last one, read as a silently shorter file. Here they are errors;
    - their ``readinto`` fills the whole buffer in one call, so an error
      raised in that call loses the bytes decompressed before it. Each
      ``readinto`` here returns what one piece of input gave, so a reader gets
      every byte before the damage, and the error says where it is;
    - zero bytes between or after members (xz stream padding, tape blocks)
      are skipped, as gzip and xz do; anything else there is a new member,
      and must be a valid one.

    The decompressors check every member's CRC (gzip, bzip2) or check field
    (xz) at its end. Errors are the decompressors' own (``zlib.error``,
    ``OSError``, ``lzma.LZMAError``, ``EOFError`` for a cut member):
    :class:`_Decompressed` says them as a ``LayoutError``.
    """

    def __init__(self, raw: IO[bytes], fmt: str) -> None:
        super().__init__()
        self._raw = raw
        self._fmt = fmt
        self._dec: Any = None  # the current member's decompressor (None: between members)
        self._input = b""  # compressed bytes read and not yet given to a decompressor

    def readable(self) -> bool:
        return True

    def _new(self) -> Any:
        if self._fmt == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and CRC checked
        if self._fmt == "bzip2":
            return bz2.BZ2Decompressor()
        return lzma.LZMADecompressor()  # FORMAT_AUTO: .xz and .lzma

    def _more(self) -> bytes:
        data, self._input = self._input or self._raw.read(_MEMBER_CHUNK), b""
        return data

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        want = len(out)
        if not want:
            return 0
        while True:
            if self._dec is None:
                # Between members: skip zero padding; the end, or a new member.
                data = self._more().lstrip(b"\0")
                while not data:
                    more = self._raw.read(_MEMBER_CHUNK)
                    if not more:
                        return 0  # the end, after a whole member (or an empty file)
                    data = more.lstrip(b"\0")
                if self._fmt == "gzip" and len(data) >= 2 and data[:2] != b"\x1f\x8b":
                    # gzip's own message (zlib would say "incorrect header check")
                    raise gzip.BadGzipFile(f"Not a gzipped file ({data[:2]!r})")
                self._input, self._dec = data, self._new()
            dec = self._dec
            if self._fmt == "gzip":
                # (An empty input still flushes what zlib holds back for a full buffer.)
                data = self._more()
                got = dec.decompress(data, want)
                self._input = dec.unconsumed_tail
                cut = not data and not got and not dec.eof
            else:
                data = self._more() if dec.needs_input else b""
                cut = dec.needs_input and not data
                got = b"" if cut else dec.decompress(data, want)
            if cut:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            if dec.eof:
                # Everything after the member's end (zlib leaves a stale copy of
                # it in unconsumed_tail: not that one).
                self._input = dec.unused_data
                self._dec = None
            if got:
                out[: len(got)] = got
                return len(got)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


_ZSTD_MAGIC: Final = 0xFD2FB528
_ZSTD_SKIPPABLE: Final = 0x184D2A50  # the 16 magics 0x184D2A50-5F
_DICT_ID_BYTES: Final = (0, 1, 2, 4)


class _ZstdFrames:
    """A compressed ``.zst`` file that walks zstd frames as they are read (RFC 8878).

    ``zstandard``'s stream reader stops without an error when the input ends
    inside a frame, so a truncated file reads as a shorter valid one. This
    sits between the file and the reader, follows frame headers, block
    headers and checksums through the bytes read (a few operations per
    block, up to 128 KiB of output each), and tells at the end whether the
    input stopped between frames (:attr:`complete`). Data it does not
    recognise stops the walk (no verdict): the decompressor judges that.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._state = "magic"  # what the next header is
        self._need = 4  # its size
        self._head = b""  # its bytes so far
        self._skip = 0  # bytes of block content or skippable frame still to pass
        self._checksum = False  # whether the current frame ends with one
        self._lost = False

    @property
    def complete(self) -> bool:
        """Whether the bytes read so far end between two frames (or nothing was read)."""
        return self._lost or (self._state == "magic" and not self._head and not self._skip)

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data and not self._lost:
            self._feed(data)
        return data

    def close(self) -> None:
        self._raw.close()

    def _feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end and not self._lost:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            take = min(self._need - len(self._head), end - pos)
            self._head += data[pos : pos + take]
            pos += take
            if len(self._head) == self._need:
                head, self._head = self._head, b""
                self._parse(head)

    def _expect(self, state: str, need: int) -> None:
        self._state, self._need = state, need

    def _parse(self, head: bytes) -> None:
        """Act on one complete header of the current state."""
        value = int.from_bytes(head, "little")
        if self._state == "magic":
            if value == _ZSTD_MAGIC:
                self._expect("descriptor", 1)
            elif value & ~0xF == _ZSTD_SKIPPABLE:
                self._expect("skippable", 4)
            else:
                self._lost = True  # not zstd (or a legacy format): the decoder decides
        elif self._state == "skippable":
            self._skip = value
            self._expect("magic", 4)
        elif self._state == "descriptor":
            if value & 0x08:  # reserved bit
                self._lost = True
                return
            single = bool(value & 0x20)
            self._checksum = bool(value & 0x04)
            content_size = (1 if single else 0, 2, 4, 8)[value >> 6]
            rest = (0 if single else 1) + _DICT_ID_BYTES[value & 3] + content_size
            self._expect("header", rest) if rest else self._expect("block", 3)
        elif self._state == "header":
            self._expect("block", 3)
        elif self._state == "block":
            kind, size = (value >> 1) & 3, value >> 3
            if kind == 3:  # reserved block type
                self._lost = True
                return
            self._skip = 1 if kind == 1 else size  # an RLE block holds one byte
            if value & 1:  # the frame's last block
                self._expect("checksum", 4) if self._checksum else self._expect("magic", 4)
        else:  # checksum
            self._expect("magic", 4)


def open_compressed(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open *path* for reading bytes, decompressing by its suffix.

    ``.gz`` (gzip), ``.bz2``, ``.xz``/``.lzma`` are read with the standard
    library; ``.zst``/``.zstd`` need the optional ``zstandard`` package
    (``pip install 'recview[zstd]'``); any other path is opened as is. The
    suffixes are :data:`COMPRESSED_SUFFIXES`.

    A compressed file that is corrupt (a CRC or checksum mismatch, bytes that
    are not in the format) or truncated (it ends inside a gzip member, an xz
    stream or a zstd frame) is an error when the read reaches the damage,
    never a silently shorter result: records before it have been read.

    Parameters
    ----------
    path : str or os.PathLike
        The file to open.

    Returns
    -------
    binary file object
        To pass to :func:`stream`; close it (or use ``with``) when done. Its
        ``name`` is *path*.

    Raises
    ------
    FileNotFoundError
        If *path* does not exist.
    ImportError
        For a ``.zst`` file without ``zstandard`` installed (with an install
        hint).
    LayoutError
        From its reads, for corrupt or truncated compressed data; the message
        names the file, the format and the decompressed bytes read before.

    Examples
    --------
    >>> import gzip, os, tempfile, numpy as np
    >>> import recview as rv
    >>> from recview.compressed import open_compressed
    >>> path = os.path.join(tempfile.mkdtemp(), "ticks.bin.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(np.arange(5, dtype="<u4").tobytes())
    >>> with open_compressed(path) as f:
    ...     print(np.concatenate(list(rv.stream(f, [("n", "<u4")])))["n"].tolist())
    [0, 1, 2, 3, 4]

    A truncated file is an error naming it:

    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(20)
    >>> with open_compressed(path) as f:
    ...     list(rv.stream(f, [("n", "<u4")]))
    Traceback (most recent call last):
    ...
    recview.errors.LayoutError: ...ticks.bin.gz: truncated gzip data: Compressed file ended before the end-of-stream marker was reached (after 0 decompressed bytes)
    """
    name = os.fspath(path)
    if compression_of(name) is None:
        return open(path, "rb")  # the caller closes it
    raw = open(path, "rb")  # noqa: SIM115  # closed by the reader that wraps it
    try:
        return decompressing(raw, name)
    except BaseException:
        raw.close()
        raise


def compression_of(name: str) -> str | None:
    """The format :func:`open_compressed` decompresses *name* with, from its suffix.

    Examples
    --------
    >>> from recview.compressed import compression_of
    >>> compression_of("x.bin.GZ"), compression_of("s3://b/k.zst"), compression_of("x.bin")
    ('gzip', 'zstd', None)
    """
    return _FORMATS.get(os.path.splitext(name)[1].lower())


def decompressing(raw: IO[bytes], name: str) -> IO[bytes]:
    """Decompress the binary file object *raw* by the suffix of *name*, strictly.

    What :func:`open_compressed` does with a local file, for any file object
    of compressed bytes (an fsspec file of an object at a URL): every member
    or frame is read, and a corrupt, truncated or trailing-garbage input is a
    ``LayoutError`` naming *name* (fsspec's own ``compression="infer"`` codecs
    are the standard library's and zstandard's readers, which end such inputs
    quietly). Closing the result closes *raw*.

    Raises
    ------
    ValueError
        *name* has no compressed suffix (:data:`COMPRESSED_SUFFIXES`).
    ImportError
        For ``.zst`` without ``zstandard`` (with an install hint).

    Examples
    --------
    >>> import bz2, io, numpy as np, recview as rv
    >>> from recview.compressed import decompressing
    >>> good = bz2.compress(np.arange(3, dtype="<u4").tobytes())
    >>> with decompressing(io.BytesIO(good + b"junk"), "x.bz2") as f:
    ...     list(rv.stream(f, "<u4"))
    Traceback (most recent call last):
    ...
    recview.errors.LayoutError: x.bz2: corrupt bzip2 data: Invalid data stream (after 12 decompressed bytes)
    """
    fmt = compression_of(name)
    if fmt is None:
        raise ValueError(f"{name}: no compressed suffix ({', '.join(COMPRESSED_SUFFIXES)})")
    if fmt == "zstd":
        zstandard = require("zstandard", extra="zstd", purpose=f"reading {name}")
        frames = _ZstdFrames(raw)
        # read_across_frames: files concatenated from several frames
        # (pzstd, zstd --rsyncable appends) must read to the end.
        reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(
            cast("IO[bytes]", frames), read_across_frames=True, closefd=True
        )
        return cast("IO[bytes]", _Decompressed(reader, name, fmt, frames))
    # Not gzip/bz2/lzma.open: see _Members.
    inner = _Members(raw, fmt)
    return cast("IO[bytes]", _Decompressed(cast("IO[bytes]", inner), name, fmt))
