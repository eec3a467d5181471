"""The frame index file: a Frames index persisted beside its data, loaded only when it matches.

``rv.open_frames(..., index=PATH)`` keeps the payload offsets of a walk in
``PATH`` with what identifies the data they came from (the parameters of the
walk, the file's size and mtime, hashes of its first and last frames, a hash
of the offsets themselves). This module owns that file: :func:`save` writes
it atomically, :func:`load` reads it back and checks everything that does
not need the data's bytes, :func:`verify` what does (on the mapped data).
Either gives the reason the index cannot be trusted, and the caller then
walks the file again: an index is never trusted on its word. The layout is
in ``docs/frames.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from recview._frame_walk import Layout, declared_length, declared_lengths
from recview._vocab import NDArray
from recview.errors import RecviewError

__all__ = ["INDEX_MAGIC", "Loaded", "check_path", "data_hashes", "load", "save", "verify"]

#: First bytes of an index file written by ``index=PATH``.
INDEX_MAGIC = b"RVFIDX01"
_PREFIX = struct.Struct("<8sQ")  # magic, bytes of JSON metadata that follow
_HASH = "blake2b-16"  # of the first and last frames' bytes
# 2: "offsets_hash", a blake2b-16 of the offsets; 3: "offsets_crc32" instead,
# the same protection against a damaged index at a quarter of the cost (the
# hash is in the file it checks, so neither is a seal against an edit); 4:
# "data_dev"/"data_ino", so that another file renamed onto the data's path
# (a rotation, a re-download) is not read with this one's offsets.
_VERSION = 4
# Metadata that must be integers (json also gives floats, Infinity, NaN).
_INTS = ("count", "end", "data_nbytes", "data_mtime_ns", "data_dev", "data_ino")
_NOBLOCK = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
# Offsets read, checksummed and checked per step: 1 MiB stays in the cache
# between the read, the CRC and the shape check.
_CHUNK_NBYTES = 1 << 20
_LITTLE = sys.byteorder == "little"
_SAMPLES = 64  # frames whose length is checked to lead to the next offset


def _hash(data: memoryview) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _frame_start(offsets: NDArray, count: int, end: int, k: int, lay: Layout) -> int:
    """Byte offset of frame ``k``'s header (``k == count``: the end of the last frame)."""
    return int(offsets[k]) - lay.header if k < count else end


def data_hashes(
    buf: memoryview, offsets: NDArray, count: int, end: int, lay: Layout
) -> tuple[str, str]:
    """Hashes of bytes ``0..end of frame 0`` (the file header too) and of the last frame's bytes."""
    if count == 0:
        whole = _hash(buf[:end])
        return whole, whole
    first_end = _frame_start(offsets, count, end, 1, lay)
    return _hash(buf[:first_end]), _hash(
        buf[_frame_start(offsets, count, end, count - 1, lay) : end]
    )


def _le_bytes(offsets: NDArray) -> memoryview:
    """The offsets as the index file holds them (``<i8``): no copy on a little-endian machine."""
    arr = np.ascontiguousarray(offsets.astype("<i8", copy=False))
    return arr.data.cast("B")


def save(
    path: str,
    *,
    params: dict[str, Any],
    st: os.stat_result,
    offsets: NDArray,
    end: int,
    hashes: tuple[str, str],
) -> None:
    """Write ``offsets`` (every payload's offset) to ``path``, atomically (temp file + os.replace).

    ``params`` are the walk's parameters, ``st`` the data file's stat,
    ``end`` the byte after its last complete frame, ``hashes`` its
    :func:`data_hashes`.
    """
    first, last = hashes
    data = _le_bytes(offsets)
    meta = {
        "format": "recview frames index",
        "version": _VERSION,
        **params,
        "data_nbytes": st.st_size,
        "data_mtime_ns": st.st_mtime_ns,
        "data_dev": st.st_dev,
        "data_ino": st.st_ino,
        "count": len(offsets),
        "end": end,
        "hash": _HASH,
        "first_hash": first,
        "last_hash": last,
        "offsets_crc32": zlib.crc32(data),
    }
    text = json.dumps(meta, sort_keys=True).encode()
    text += b" " * (-(len(text) + _PREFIX.size) % 8)  # the array starts 8-aligned
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".rvfidx-", dir=folder)
    except OSError as exc:  # name the index, not the temp file's random name
        raise type(exc)(exc.errno, exc.strerror, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_PREFIX.pack(INDEX_MAGIC, len(text)))
            f.write(text)
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_path(path: str, data_path: str, data_st: os.stat_result) -> None:
    """Refuse an index path whose file the index must not replace.

    The index is written beside ``path`` and renamed over it: the data file
    itself (``data_st``, any name), a device, FIFO, socket or folder, or a
    file that is no recview frame index would be replaced (a FIFO also
    waited on when read). A missing path, an empty file and a file that
    starts with :data:`INDEX_MAGIC` (rebuilt when stale) pass.

    Raises
    ------
    RecviewError
        Naming ``path`` and why it is refused.
    """
    try:
        st = os.stat(path)  # not open(): a FIFO would block
    except OSError:
        return  # missing (created) or unreadable (load says why)
    if not stat.S_ISREG(st.st_mode):
        raise RecviewError(
            f"{path}: not a regular file (a device, FIFO, socket or folder): the frame "
            "index would replace it; give the path of an index file",
            path=path,
        )
    if (st.st_dev, st.st_ino) == (data_st.st_dev, data_st.st_ino):
        raise RecviewError(
            f"{path} is the data file {data_path}: writing the frame index would destroy "
            "it; give another path",
            path=path,
        )
    if st.st_size == 0:
        return
    try:
        fd = os.open(path, _NOBLOCK)
    except OSError:
        return
    with os.fdopen(fd, "rb") as f:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        head = f.read(len(INDEX_MAGIC)) if regular else b""
    if head != INDEX_MAGIC:
        raise RecviewError(
            f"{path}: not a recview frame index (it does not start with {INDEX_MAGIC!r}): "
            "the frame index would replace it; give another path",
            path=path,
        )


@dataclass
class Loaded:
    """An index read back: its offsets (with room to grow), count, end and metadata."""

    offsets: NDArray  # int64, at least ``count`` long; offsets[:count] are the index
    count: int
    end: int
    meta: dict[str, Any]


def load(
    path: str, *, params: dict[str, Any], st: os.stat_result, lay: Layout, offset: int
) -> Loaded | str:
    """Read the index at ``path`` for data with stat ``st``, walked with ``params``.

    Returns the :class:`Loaded` index, or the reason it does not match:
    ``"missing"`` when there is no such file. What needs the data's bytes
    is left to :func:`verify`.

    Raises
    ------
    OSError, ValueError, KeyError, TypeError
        The file cannot be read or parsed (also a reason not to use it).
    """
    try:
        f = os.fdopen(os.open(path, _NOBLOCK), "rb")  # never blocks on a FIFO
    except FileNotFoundError:
        return "missing"
    with f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return "it is not a regular file"
        head = f.read(_PREFIX.size)
        if not head:
            return "missing"  # an empty file: a place for the index
        if len(head) < _PREFIX.size:
            return "it is too short to be an index"
        magic, nmeta = _PREFIX.unpack(head)
        if magic != INDEX_MAGIC:
            return f"it does not start with {INDEX_MAGIC!r}"
        if nmeta > 1 << 24:
            return "its metadata length is implausible"
        try:
            meta = json.loads(f.read(nmeta))
        except RecursionError:
            return "its metadata is nested too deeply"
        if not isinstance(meta, dict):
            return "its metadata is not a JSON object"
        if meta.get("version") != _VERSION:
            return f"unknown index version {meta.get('version')!r}"
        for key in _INTS:
            if type(meta.get(key)) is not int:
                return f"its {key} is not an integer"
        if (meta["data_dev"], meta["data_ino"]) != (st.st_dev, st.st_ino):
            return "it was built for another file (device and inode differ: it was replaced)"
        for key, value in params.items():
            if meta.get(key) != value:
                return f"it was built with {key}={meta.get(key)!r}, not {value!r}"
        count, end = meta["count"], meta["end"]
        have = os.fstat(f.fileno()).st_size - _PREFIX.size - nmeta
        if count < 0 or have != 8 * count:
            return f"it holds {have:,} bytes of offsets, expected {8 * count:,}"
        if st.st_size < meta["data_nbytes"]:
            return f"the file shrank from {meta['data_nbytes']:,} to {st.st_size:,} bytes"
        if st.st_size == meta["data_nbytes"] and st.st_mtime_ns != meta["data_mtime_ns"]:
            return "the file was modified (same size, new mtime)"
        if end > st.st_size or (count == 0 and end != offset):
            return f"it ends at byte {end:,}, past the file's {st.st_size:,} bytes"
        # Read the offsets straight into the array the index grows in; each
        # chunk is checksummed and checked while it is in the cache.
        cap = np.empty(max(1024, count + count // 4), np.int64)
        crc, walk = _read_offsets(f, cap, count, offset + lay.header, lay.header + lay.trailer, end)
    if crc != meta.get("offsets_crc32"):
        return "its offsets are not the ones it was written with (checksum differs)"
    if not walk or (count and cap[count - 1] + lay.trailer > end):
        return "its offsets are not those of a frame walk"
    return Loaded(cap, count, end, meta)


def _read_offsets(
    f: Any, cap: NDArray, count: int, first: int, gap: int, end: int
) -> tuple[int, bool]:
    """Read ``count`` offsets from ``f`` into ``cap``; return (CRC-32, whether they
    are a walk's: ``cap[0] == first``, then steps of at least ``gap``, all below ``end``)."""
    raw = cap.data.cast("B")
    step = _CHUNK_NBYTES // 8
    crc, walk = 0, True
    for a in range(0, count, step):
        b = min(count, a + step)
        part = raw[8 * a : 8 * b]
        if f.readinto(part) != len(part):
            raise ValueError("the index file ended early")
        crc = zlib.crc32(part, crc)
        if not _LITTLE:
            cap[a:b].byteswap(inplace=True)
        chunk = cap[max(0, a - 1) : b]
        # values in 0..end first, so that the steps below cannot overflow
        walk = walk and int(chunk.min()) >= 0 and int(chunk.max()) <= end
        walk = walk and (len(chunk) < 2 or int(np.diff(chunk).min()) >= gap)
    if count and cap[0] != first:
        walk = False
    return crc, walk


def verify(buf: memoryview, raw: NDArray, index: Loaded, lay: Layout) -> str | None:
    """What :func:`load` could not check, on the data's bytes: ``None`` when it matches.

    ``buf`` and ``raw`` (its uint8 array) hold the data file from byte 0 to
    at least ``index.end``. The last frame must end where the index says,
    the first and last frames' hashes must match, and a sample of frames
    spread over the file must each lead, by their own length field, to the
    next offset.
    """
    offsets, count, end, meta = index.offsets, index.count, index.end, index.meta
    hs, ts = lay.header, lay.trailer
    if (
        count
        and offsets[count - 1]
        + declared_length(raw, _frame_start(offsets, count, end, count - 1, lay), lay)
        + ts
        != end
    ):
        return "its last frame does not end where the index says"
    if data_hashes(buf, offsets, count, end, lay) != (meta["first_hash"], meta["last_hash"]):
        return "the first or last frame's bytes changed"
    # a sample of the chain: each sampled frame's length leads to the next
    ks = np.unique(np.linspace(0, count - 1, min(count, _SAMPLES)).astype(np.int64))[:-1]
    if len(ks):
        lengths = declared_lengths(raw, offsets[ks] - hs, lay)
        bad = np.flatnonzero(offsets[ks] + lengths + ts + hs != offsets[ks + 1])
        if len(bad):
            k = int(ks[bad[0]])
            return f"frame {k:,}'s length does not lead to frame {k + 1:,}"
    return None
