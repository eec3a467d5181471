"""Compressed objects at URLs are read as strictly as compressed files.

The CLI reads ``s3://.../x.bin.zst``, ``https://.../x.bin.bz2`` and
``file:///.../x.bin.xz`` as streams. fsspec's ``compression="infer"`` codecs
(the standard library's readers, zstandard's ``stream_reader``) end a cut
``.zst``, a corrupt later ``.bz2``/``.xz`` member or trailing garbage quietly,
so ``stats`` printed a shorter count with exit status 0. Here each is exit
status 1 with one line naming the URL and the format, over ``file://`` and
over a local HTTP Range server; sound multi-member objects read completely.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zstandard

from recview.cli import main
from tests.remote_servers import RangeServer

pytest.importorskip("fsspec")
pytest.importorskip("aiohttp")
pytestmark = pytest.mark.usefixtures("local_env")

N = 50_000
FIRST = np.arange(N, dtype="<u8").tobytes()
SECOND = np.arange(N, 2 * N, dtype="<u8").tobytes()


def zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": zstd,
}
FORMAT = {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "zst": "zstd"}


def flipped(data: bytes) -> bytes:
    out = bytearray(data)
    out[len(out) // 2] ^= 0xFF
    return bytes(out)


BAD: dict[str, Callable[[Callable[[bytes], bytes]], bytes]] = {
    "cut": lambda c: (c(FIRST) + c(SECOND))[: len(c(FIRST)) + len(c(SECOND)) // 2],
    "corrupt_second": lambda c: c(FIRST) + flipped(c(SECOND)),
    "garbage_after": lambda c: c(FIRST) + b"garbage!",
}


def stats(capsys: pytest.CaptureFixture[str], url: str) -> tuple[int, str, str]:
    code = main(["stats", url, "-s", "<u8", "-q"])
    out, err = capsys.readouterr()
    return code, out, err


def url_of(tmp_path: Path, http_server: RangeServer, where: str, name: str, data: bytes) -> str:
    if where == "file":
        path = tmp_path / name
        path.write_bytes(data)
        return f"file://{path}"
    http_server.objects[name] = data
    return http_server.url(name)


@pytest.mark.parametrize("where", ["file", "http"])
@pytest.mark.parametrize("ext", list(COMPRESS))
@pytest.mark.parametrize("bad", list(BAD))
def test_bad_compressed_objects_are_errors(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    http_server: RangeServer,
    where: str,
    ext: str,
    bad: str,
) -> None:
    url = url_of(tmp_path, http_server, where, f"{bad}.bin.{ext}", BAD[bad](COMPRESS[ext]))
    code, out, err = stats(capsys, url)
    assert code == 1, out
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert url in lines[0] and FORMAT[ext] in lines[0]


@pytest.mark.parametrize("where", ["file", "http"])
@pytest.mark.parametrize("ext", list(COMPRESS))
def test_multi_member_objects_read_completely(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    http_server: RangeServer,
    where: str,
    ext: str,
) -> None:
    c = COMPRESS[ext]
    url = url_of(tmp_path, http_server, where, f"good.bin.{ext}", c(FIRST) + c(SECOND))
    code, out, err = stats(capsys, url)
    assert code == 0, err
    assert f"{2 * N:,} records" in out
