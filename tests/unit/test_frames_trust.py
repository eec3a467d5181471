"""Frames never trust what they cannot check: a tampered index file, a pcap
length no capture can hold, and a pickled copy that would share the fd."""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import os
import pickle
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import recview as rv
from recview import _frame_file
from recview.errors import LayoutError, LayoutWarning


def _pcap(path: Path, n: int = 10, *, snaplen: int = 65535) -> list[bytes]:
    payloads = [bytes([k % 256]) * (16 + k) for k in range(n)]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
        f.writelines(
            struct.pack("<IIII", 1700000000, k, len(d), len(d)) + d for k, d in enumerate(payloads)
        )
    return payloads


def _tamper_offsets(ix: Path, k: int, delta: int) -> None:
    raw = bytearray(ix.read_bytes())
    nmeta = struct.unpack_from("<8sQ", raw)[1]
    offs = np.frombuffer(bytes(raw[16 + nmeta :]), "<i8").copy()
    offs[k] += delta
    raw[16 + nmeta :] = offs.tobytes()
    ix.write_bytes(bytes(raw))


def test_an_index_file_with_a_wrong_offset_in_the_middle_is_rebuilt(tmp_path: Path) -> None:
    p, ix = tmp_path / "a.pcap", tmp_path / "a.idx"
    payloads = _pcap(p)
    rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
    _tamper_offsets(ix, 5, 4)
    with pytest.warns(LayoutWarning, match="does not match"):
        fr = rv.open_frames(p, **rv.formats.pcap(p), index=ix)
    with fr:
        assert fr.lengths.tolist() == [len(d) for d in payloads]
        assert bytes(fr[5][1]) == payloads[5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt: trusted again, silently
        with rv.open_frames(p, **rv.formats.pcap(p), index=ix) as fr:
            assert bytes(fr[5][1]) == payloads[5]


@pytest.mark.parametrize("trailing", ["error", "ignore", "warn"])
def test_a_pcap_length_beyond_any_capture_is_an_impossible_length(
    tmp_path: Path, trailing: str
) -> None:
    p = tmp_path / "bad.pcap"
    _pcap(p, 100)
    raw = bytearray(p.read_bytes())
    at = 24 + sum(16 + 16 + k for k in range(10))  # frame 10's header
    struct.pack_into("<I", raw, at + 8, 0x7FFFFFF0)
    p.write_bytes(bytes(raw))
    with pytest.raises(LayoutError, match=f"frame 10 at byte offset {at:,}.*impossible length"):
        rv.open_frames(p, **rv.formats.pcap(p), trailing=trailing)  # type: ignore[arg-type]


def test_a_pcap_length_over_the_bound_in_the_middle_is_not_indexed(tmp_path: Path) -> None:
    # the length still fits in the file: without a bound, every later frame is misread
    p = tmp_path / "mid.pcap"
    _pcap(p, 5000)
    raw = bytearray(p.read_bytes())
    at = 24 + sum(16 + 16 + k for k in range(3))
    struct.pack_into("<I", raw, at + 8, 300_000)
    p.write_bytes(bytes(raw))
    with pytest.raises(LayoutError, match="frame 3 at byte offset .*impossible length"):
        rv.open_frames(p, **rv.formats.pcap(p))


def test_max_length_bounds_any_frame_format(tmp_path: Path) -> None:
    p = tmp_path / "tlv.bin"
    with open(p, "wb") as f:
        f.writelines(struct.pack("<H", n) + b"x" * n for n in (3, 2, 9, 1))
    with rv.open_frames(p, "<u2", length="f0", max_length=9) as fr:
        assert fr.lengths.tolist() == [3, 2, 9, 1]
    with pytest.raises(LayoutError, match="frame 2 at byte offset 9: impossible length.* 8"):
        rv.open_frames(p, "<u2", length="f0", max_length=8)


def _fortran(path: Path, n: int) -> None:
    recs = np.zeros(n, [("m", "<i4"), ("x", "<f8"), ("t", "<i4")])
    recs["m"] = recs["t"] = 8
    recs["x"] = np.arange(n) + 0.5
    recs.tofile(path)


@pytest.mark.parametrize("n", [0, 3])
def test_a_pickled_frames_reopens_its_path_and_never_shares_the_fd(tmp_path: Path, n: int) -> None:
    p = tmp_path / "e.unf"
    _fortran(p, n)
    fr = rv.open_frames(p, **rv.formats.fortran())
    copy = pickle.loads(pickle.dumps(fr))
    assert len(copy) == len(fr) == n
    assert copy.path == fr.path
    del copy
    gc.collect()
    _fortran(p, 5)  # rewritten in place, longer
    assert fr.refresh() == 5  # the original's fd still works
    assert np.frombuffer(fr[4][1], "<f8").tolist() == [4.5]
    fr.close()


def _count(frames: rv.Frames) -> int:
    return len(frames)


def test_frames_go_to_a_spawned_process(tmp_path: Path) -> None:
    p = tmp_path / "a.pcap"
    _pcap(p, 7)
    with rv.open_frames(p, **rv.formats.pcap(p), trailing="warn") as fr:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            assert pool.apply(_count, (fr,)) == 7


def test_a_closed_frames_does_not_pickle(tmp_path: Path) -> None:
    p = tmp_path / "a.pcap"
    _pcap(p, 2)
    fr = rv.open_frames(p, **rv.formats.pcap(p))
    fr.close()
    with pytest.raises(rv.ClosedError, match="closed"):
        pickle.dumps(fr)


def _meta(ix: Path) -> tuple[int, dict[str, object]]:
    raw = ix.read_bytes()
    nmeta = struct.unpack_from("<8sQ", raw)[1]
    return nmeta, json.loads(raw[16 : 16 + nmeta])


def _samples(count: int) -> set[int]:
    """The frames whose length a reopen checks against the next offset."""
    return set(np.unique(np.linspace(0, count - 1, min(count, 64)).astype(np.int64)).tolist())


def _forbid_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was walked again")

    monkeypatch.setattr(_frame_file, "_index", boom)


def test_a_version_2_index_is_rebuilt_with_a_warning(tmp_path: Path, monkeypatch) -> None:
    # A version-2 file as the previous release wrote it: a blake2b-16 of the
    # offsets, no CRC. It is not trusted: rebuilt, then reused silently.
    p, ix = tmp_path / "a.pcap", tmp_path / "a.idx"
    payloads = _pcap(p, 20)
    rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
    nmeta, meta = _meta(ix)
    assert meta["version"] == 4 and "offsets_crc32" in meta
    data = ix.read_bytes()[16 + nmeta :]
    del meta["offsets_crc32"]
    meta |= {"version": 2, "offsets_hash": hashlib.blake2b(data, digest_size=16).hexdigest()}
    text = json.dumps(meta, sort_keys=True).encode()
    text += b" " * (-(len(text) + 16) % 8)
    ix.write_bytes(struct.pack("<8sQ", b"RVFIDX01", len(text)) + text + data)
    with pytest.warns(LayoutWarning, match="unknown index version 2; rebuilding it"):
        fr = rv.open_frames(p, **rv.formats.pcap(p), index=ix)
    with fr:
        assert [bytes(fr[k][1]) for k in range(len(fr))] == payloads
    assert _meta(ix)[1]["version"] == 4
    _forbid_scan(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with rv.open_frames(p, **rv.formats.pcap(p), index=ix) as fr:
            assert bytes(fr[7][1]) == payloads[7]


def test_an_offset_changed_where_no_check_of_the_walk_looks_fails_the_checksum(
    tmp_path: Path,
) -> None:
    # 2,000 frames: the sample checks 64 of them, and an offset moved by one
    # byte between two unsampled frames still looks like a walk. Only the
    # CRC of the offsets sees it.
    p, ix = tmp_path / "a.pcap", tmp_path / "a.idx"
    payloads = _pcap(p, 2000)
    rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
    sampled = _samples(2000)
    k = next(k for k in range(1000, 2000) if not {k - 1, k} & sampled)
    _tamper_offsets(ix, k, 1)
    with pytest.warns(LayoutWarning, match=r"its offsets are not the ones it was written with"):
        fr = rv.open_frames(p, **rv.formats.pcap(p), index=ix)
    with fr:
        assert bytes(fr[k][1]) == payloads[k]


def test_an_index_cut_short_is_rebuilt(tmp_path: Path) -> None:
    p, ix = tmp_path / "a.pcap", tmp_path / "a.idx"
    payloads = _pcap(p, 30)
    rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
    ix.write_bytes(ix.read_bytes()[:-8])
    with pytest.warns(LayoutWarning, match="it holds 232 bytes of offsets, expected 240"):
        fr = rv.open_frames(p, **rv.formats.pcap(p), index=ix)
    with fr:
        assert len(fr) == 30 and bytes(fr[29][1]) == payloads[29]


def test_a_rewrite_that_moves_a_sampled_frame_is_caught_by_the_sample(tmp_path: Path) -> None:
    # Same size, same mtime (restored), same first and last frames, offsets
    # unchanged in the index: only the frames' own lengths tell.
    p, ix = tmp_path / "a.pcap", tmp_path / "a.idx"
    payloads = _pcap(p, 300)
    rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
    st = os.stat(p)
    k = min(_samples(300) - {0, 298, 299})
    payloads[k], payloads[k + 1] = payloads[k] + b"xx", payloads[k + 1][2:]
    with open(p, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.writelines(
            struct.pack("<IIII", 1700000000, j, len(d), len(d)) + d for j, d in enumerate(payloads)
        )
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(p).st_size == st.st_size
    with pytest.warns(LayoutWarning, match=f"frame {k}'s length does not lead to frame {k + 1}"):
        fr = rv.open_frames(p, **rv.formats.pcap(p), index=ix)
    with fr:
        assert [bytes(fr[j][1]) for j in (k, k + 1)] == payloads[k : k + 2]


def test_offsets_whose_steps_overflow_int64_are_not_a_walk(tmp_path: Path) -> None:
    # Written with a matching CRC (an edit, not damage): 40, 2**63 - 1, -2**62,
    # then the real last offset climb in int64 steps that wrap around; the
    # index is refused before any of them is used.
    p, ix = tmp_path / "a.pcap", tmp_path / "a.idx"
    _pcap(p, 4)
    rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
    nmeta, meta = _meta(ix)
    raw = ix.read_bytes()
    offs = np.frombuffer(raw[16 + nmeta :], "<i8").copy()
    offs[1:3] = [2**63 - 1, -(2**62)]
    assert (np.diff(offs) > 0).all()  # wrapped: every step looks positive
    meta["offsets_crc32"] = zlib.crc32(offs.tobytes())
    text = json.dumps(meta, sort_keys=True).encode().ljust(nmeta)
    ix.write_bytes(raw[:16] + text + offs.tobytes())
    with pytest.warns(LayoutWarning, match="its offsets are not those of a frame walk"):
        rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()


def _pcap_sizes(path: Path, sizes: list[int]) -> Path:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.writelines(
            struct.pack("<IIII", i, 0, size, size) + bytes([i % 256]) * size
            for i, size in enumerate(sizes)
        )
    return path


def test_an_index_of_a_replaced_larger_capture_is_not_used(tmp_path: Path) -> None:
    # The reviewer's repro: first and last indexed frames match, the sample
    # misses the middle; the index names the inode it was built for.
    p, idx = tmp_path / "a.pcap", tmp_path / "a.idx"
    sizes = [60] * 200_000
    _pcap_sizes(p, sizes)
    kw = rv.formats.pcap(p)
    with rv.open_frames(p, **kw, index=idx):
        pass
    other = list(sizes)
    other[100_001], other[100_002] = 50, 70
    _pcap_sizes(tmp_path / "b.pcap", other + [60] * 10)
    os.replace(tmp_path / "b.pcap", p)
    with pytest.warns(LayoutWarning, match="another file"):
        with rv.open_frames(p, **kw, index=idx) as fr:
            got = fr.lengths.copy()
    assert got[100_001:100_003].tolist() == [50, 70]


@pytest.mark.parametrize(
    "meta",
    [b"[1, 2]", b"null", b'"x"', b"[" * 100000 + b"]" * 100000, b"inf", b"nan", b"str", b"\xff"],
)
def test_a_tampered_index_is_rebuilt_not_a_crash(tmp_path: Path, meta: bytes) -> None:
    from recview import _frame_index

    prefix = _frame_index._PREFIX
    p = tmp_path / "c.pcap"
    _pcap_sizes(p, [60] * 50)
    kw = rv.formats.pcap(p)
    idx = tmp_path / "c.idx"
    with rv.open_frames(p, **kw, index=idx) as fr:
        ref = fr.offsets.copy()
    if meta in (b"inf", b"nan", b"str"):  # the real metadata with count=Infinity/NaN/"50"
        raw = idx.read_bytes()
        _, n = prefix.unpack(raw[: prefix.size])
        real = json.loads(raw[prefix.size : prefix.size + n])
        bad = {b"inf": float("inf"), b"nan": float("nan"), b"str": "50"}[meta]
        meta = json.dumps(dict(real, count=bad)).encode()
    meta += b" " * (-(len(meta) + prefix.size) % 8)
    idx.write_bytes(prefix.pack(rv.frames.INDEX_MAGIC, len(meta)) + meta)
    with pytest.warns(LayoutWarning, match="does not match"):
        with rv.open_frames(p, **kw, index=idx) as fr:
            assert (fr.offsets == ref).all()


def test_a_version_3_index_without_the_data_inode_is_rebuilt_with_a_warning(
    tmp_path: Path,
) -> None:
    p, ix = tmp_path / "a.pcap", tmp_path / "a.idx"
    _pcap(p, 20)
    rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
    nmeta, meta = _meta(ix)
    data = ix.read_bytes()[16 + nmeta :]
    del meta["data_dev"], meta["data_ino"]
    meta["version"] = 3
    text = json.dumps(meta, sort_keys=True).encode()
    text += b" " * (-(len(text) + 16) % 8)
    ix.write_bytes(struct.pack("<8sQ", b"RVFIDX01", len(text)) + text + data)
    with pytest.warns(LayoutWarning, match="unknown index version 3; rebuilding it"):
        rv.open_frames(p, **rv.formats.pcap(p), index=ix).close()
    assert _meta(ix)[1]["version"] == 4
