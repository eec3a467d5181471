"""rv.open_frames / Frames: the index pass (C and Python twin), views, errors, index file."""

from __future__ import annotations

import os
import struct
import threading
import time
import warnings

import numpy as np
import pytest

import recview as rv
from recview import _frame_file, _frame_walk, frames as frames_mod

HEADER = [("kind", "<u2"), ("n", "<u4")]


def write_frames(path, payloads, *, kinds=None, prefix=b""):
    with open(path, "wb") as f:
        f.write(prefix)
        f.writelines(
            struct.pack("<HI", kinds[k] if kinds else k, len(p)) + p for k, p in enumerate(payloads)
        )


@pytest.fixture(params=["native", "python"])
def impl(request, monkeypatch):
    """Run the test with the C pass and again with the Python twin."""
    if request.param == "native":
        if _frame_walk.NATIVE is None:
            pytest.skip("recview._frames is not built")
    else:
        monkeypatch.setattr(_frame_walk, "NATIVE", None)
    return request.param


PAYLOADS = [b"", b"a", b"hello", bytes(range(256)) * 3, b"xy"]


def test_frames_headers_offsets_lengths_match_what_was_written(tmp_path, impl):
    path = tmp_path / "f.bin"
    write_frames(path, PAYLOADS, prefix=b"HDR!")
    with rv.open_frames(path, HEADER, length="n", offset=4) as fr:
        assert len(fr) == len(PAYLOADS)
        assert fr.lengths.tolist() == [len(p) for p in PAYLOADS]
        expect, at = [], 4
        for p in PAYLOADS:
            expect.append(at + 6)
            at += 6 + len(p)
        assert fr.offsets.tolist() == expect
        assert fr.offsets.dtype == np.int64 and fr.lengths.dtype == np.int64
        assert fr.headers["kind"].tolist() == list(range(len(PAYLOADS)))
        assert not fr.headers.flags.writeable
        assert fr.nbytes == os.path.getsize(path)
        for i, p in enumerate(PAYLOADS):
            header, payload = fr[i]
            assert int(header["n"]) == len(p)
            assert payload.dtype == np.uint8 and bytes(payload) == p
            assert not payload.flags.writeable
        assert bytes(fr[-2][1]) == PAYLOADS[-2]


def test_payload_is_a_view_of_the_mapping_not_a_copy(tmp_path):
    path = tmp_path / "f.bin"
    write_frames(path, [b"abcd", b"efgh"])
    with rv.open_frames(path, HEADER, length="n") as fr:
        all_payloads = fr.payloads("S4")
        assert np.shares_memory(fr[1][1], all_payloads)
        assert all_payloads.tolist() == [b"abcd", b"efgh"]


def test_index_out_of_range_and_bad_types(tmp_path):
    path = tmp_path / "f.bin"
    write_frames(path, [b"a", b"b"])
    with rv.open_frames(path, HEADER, length="n") as fr:
        with pytest.raises(IndexError, match="frame 2 is out of range for 2 frames"):
            fr[2]
        with pytest.raises(IndexError):
            fr[-3]
        with pytest.raises(TypeError):
            fr[0.5]


def test_adjust_counts_the_header_and_trailer_is_checked(tmp_path, impl):
    path = tmp_path / "tlv.bin"
    with open(path, "wb") as f:
        f.writelines(
            struct.pack(">H", 2 + len(v)) + v + struct.pack(">H", 2 + len(v))
            for v in (b"abc", b"", b"defgh")
        )
    fr = rv.open_frames(path, ">u2", length="f0", adjust=-2, trailer=2)
    assert [bytes(fr[i][1]) for i in range(3)] == [b"abc", b"", b"defgh"]
    fr.close()


def test_empty_file_and_file_of_only_a_file_header(tmp_path, impl):
    path = tmp_path / "e.bin"
    path.write_bytes(b"")
    with rv.open_frames(path, HEADER, length="n") as fr:
        assert len(fr) == 0 and fr.headers.shape == (0,) and fr.lengths.tolist() == []
    path.write_bytes(b"1234")
    with rv.open_frames(path, HEADER, length="n", offset=4) as fr:
        assert len(fr) == 0
    with pytest.raises(rv.LayoutError, match="shorter than the 8-byte file header"):
        rv.open_frames(path, HEADER, length="n", offset=8)


def test_many_frames_grow_the_index_buffer(tmp_path, impl):
    path = tmp_path / "many.bin"
    sizes = np.random.default_rng(1).integers(0, 9, 5000)
    write_frames(path, [bytes([k % 256]) * int(s) for k, s in enumerate(sizes)], kinds=[0] * 5000)
    with rv.open_frames(path, HEADER, length="n") as fr:
        assert fr.lengths.tolist() == sizes.tolist()
        assert bytes(fr[4321][1]) == bytes([4321 % 256]) * int(sizes[4321])


def test_windows_of_the_pass_give_the_same_index(tmp_path, impl, monkeypatch):
    path = tmp_path / "w.bin"
    payloads = [bytes(k % 50) for k in range(400)]
    write_frames(path, payloads)
    with rv.open_frames(path, HEADER, length="n") as fr:
        whole = fr.offsets.copy()
    monkeypatch.setattr(_frame_file, "_WINDOW_NBYTES", 100)
    with rv.open_frames(path, HEADER, length="n") as fr:
        assert fr.offsets.tolist() == whole.tolist()


# -- bad input ---------------------------------------------------------------


def test_cut_last_frame_follows_the_trailing_rule(tmp_path, impl):
    path = tmp_path / "cut.bin"
    write_frames(path, [b"abc", b"defgh"])
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 2)
    with pytest.raises(rv.LayoutError) as info:
        rv.open_frames(path, HEADER, length="n")
    assert str(info.value) == (
        f"{path}: frame 1 at byte offset 9: partial last frame: header field 'n' is 5: the "
        "frame needs 11 bytes but only 9 are left (it runs past the end of the file, 18 "
        'bytes, by 2) (pass trailing="ignore" or "warn")'
    )
    assert info.value.offset == 9
    with rv.open_frames(path, HEADER, length="n", trailing="ignore") as fr:
        assert len(fr) == 1 and fr.nbytes == 9
    with pytest.warns(rv.LayoutWarning, match="frame 1 at byte offset 9"):
        rv.open_frames(path, HEADER, length="n", trailing="warn").close()


def test_cut_inside_a_header_is_a_partial_frame(tmp_path, impl):
    path = tmp_path / "cuth.bin"
    write_frames(path, [b"abc"])
    with open(path, "ab") as f:
        f.write(b"\x01\x00\x05")
    with pytest.raises(
        rv.LayoutError,
        match="frame 1 at byte offset 9: partial last frame: 3 bytes of a 6-byte header",
    ):
        rv.open_frames(path, HEADER, length="n")


def test_negative_length_is_impossible_whatever_trailing_says(tmp_path, impl):
    path = tmp_path / "neg.bin"
    with open(path, "wb") as f:
        f.write(struct.pack("<i", 3) + b"abc" + struct.pack("<i", -7) + b"zzzzzzzz")
    for trailing in ("error", "ignore"):
        with pytest.raises(rv.LayoutError) as info:
            rv.open_frames(path, "<i4", length="f0", trailing=trailing)
        msg = str(info.value)
        assert "frame 1 at byte offset 7" in msg and "impossible length" in msg and "-7" in msg
        assert info.value.field == "f0" and info.value.offset == 7


def test_adjust_making_a_length_negative(tmp_path, impl):
    path = tmp_path / "adj.bin"
    path.write_bytes(struct.pack("<H", 1) + b"x")
    with pytest.raises(
        rv.LayoutError, match="frame 0 at byte offset 0: impossible length.*adjust is -2"
    ):
        rv.open_frames(path, "<u2", length="f0", adjust=-2)


def test_u64_length_beyond_int64_is_impossible(tmp_path, impl):
    path = tmp_path / "big.bin"
    path.write_bytes(struct.pack("<Q", 1 << 63) + b"x" * 8)
    with pytest.raises(rv.LayoutError, match="does not fit in int64"):
        rv.open_frames(path, "<u8", length="f0")


def test_fortran_trailer_unlike_its_marker(tmp_path, impl):
    path = tmp_path / "bad.unf"
    with open(path, "wb") as f:
        f.write(struct.pack("<i", 4) + b"abcd" + struct.pack("<i", 4))
        f.write(struct.pack("<i", 2) + b"ef" + struct.pack("<i", 3))
    with pytest.raises(rv.LayoutError) as info:
        rv.open_frames(path, **rv.formats.fortran())
    assert str(info.value) == (
        f"{path}: frame 1 at byte offset 12: trailer at byte offset 18 is 3, expected the "
        "header's marker 2 (field 'marker', payload of 2 bytes)"
    )


@pytest.mark.parametrize("trailing", ["ignore", "warn"])
def test_a_bad_trailer_is_an_error_whatever_trailing_says(tmp_path, impl, trailing):
    # a wrong end marker is corrupt data, not a frame still being written
    path = tmp_path / "bad.unf"
    with open(path, "wb") as f:
        f.write(struct.pack("<i", 4) + b"abcd" + struct.pack("<i", 4))
        f.write(struct.pack("<i", 2) + b"ef" + struct.pack("<i", 3))
        f.write(struct.pack("<i", 1) + b"g" + struct.pack("<i", 1))
    with pytest.raises(
        rv.LayoutError, match="frame 1 at byte offset 12: trailer at byte offset 18"
    ):
        rv.open_frames(path, **rv.formats.fortran(), trailing=trailing)


def test_bad_frames_appended_to_a_growing_file_are_layout_errors(tmp_path, impl):
    # refresh() holds back a partial frame, but an impossible length or a bad
    # trailer in what a writer appended is named like one found by the open
    path = tmp_path / "grow.unf"
    good = struct.pack("<i", 2) + b"ab" + struct.pack("<i", 2)
    path.write_bytes(good)
    with rv.open_frames(path, **rv.formats.fortran()) as fr:
        with open(path, "ab") as f:
            f.write(good + struct.pack("<i", 3) + b"cde" + struct.pack("<i", 4))
        for _ in range(2):  # and again: the bad frame is never indexed
            with pytest.raises(
                rv.LayoutError, match="frame 2 at byte offset 20: trailer at byte offset 27 is 4"
            ):
                fr.refresh()
            assert len(fr) == 2 and bytes(fr[1][1]) == b"ab"
    path.write_bytes(good)
    with rv.open_frames(path, **rv.formats.fortran()) as fr:
        with open(path, "ab") as f:
            f.write(struct.pack("<i", -5) + bytes(12))
        with pytest.raises(rv.LayoutError, match="frame 1 at byte offset 10: impossible length"):
            list(fr.follow(start=0, timeout=0.05))
        assert len(fr) == 1


def test_length_field_must_be_an_integer_field(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"")
    with pytest.raises(rv.SchemaError, match="'m' is not a field"):
        rv.open_frames(path, HEADER, length="m")
    with pytest.raises(rv.SchemaError, match="integer"):
        rv.open_frames(path, [("f", "<f4")], length="f")
    with pytest.raises(ValueError, match="trailing"):
        rv.open_frames(path, HEADER, length="n", trailing="nope")


# -- payloads(), batches(), arrow -----------------------------------------------


def test_payloads_of_unequal_sizes_is_a_layout_error(tmp_path):
    path = tmp_path / "u.bin"
    write_frames(path, [b"abcd", b"efgh", b"ij"])
    with rv.open_frames(path, HEADER, length="n") as fr:
        with pytest.raises(rv.LayoutError, match="frame 2 at byte offset 20 has 2"):
            fr.payloads("u1")


def test_payloads_as_records_and_as_rows(tmp_path):
    path = tmp_path / "eq.unf"
    rec = np.dtype([("m", ">i4"), ("x", ">f8", 3), ("t", ">i4")])
    data = np.zeros(4, rec)
    data["m"] = data["t"] = 24
    data["x"] = np.arange(12).reshape(4, 3)
    data.tofile(path)
    with rv.open_frames(path, **rv.formats.fortran(">i4")) as fr:
        rows = fr.payloads(">f8")
        assert rows.shape == (4, 3) and rows.tolist() == data["x"].tolist()
        recs = fr.payloads([("a", ">f8"), ("b", ">f8", 2)])
        assert recs["a"].tolist() == [0, 3, 6, 9]
        with pytest.raises(rv.LayoutError, match="not a whole number"):
            fr.payloads(">f4, >f4, >f4, >f4, >f4")


def test_batches_cover_every_frame_once(tmp_path, impl):
    path = tmp_path / "b.bin"
    payloads = [bytes(k % 7) for k in range(100)]
    write_frames(path, payloads)
    with rv.open_frames(path, HEADER, length="n") as fr:
        for kw in ({"records": 7}, {"nbytes": 50}, {"nbytes": 1}, {}):
            got = list(fr.batches(**kw))
            assert np.concatenate([b[2] for b in got]).tolist() == [len(p) for p in payloads]
            assert np.concatenate([b[1] for b in got]).tolist() == fr.offsets.tolist()
            assert np.concatenate([b[0] for b in got]).tolist() == fr.headers.tolist()
        with pytest.raises(ValueError):
            list(fr.batches(0))


def test_payload_bytes_and_to_arrow(tmp_path, impl):
    pa = pytest.importorskip("pyarrow")
    path = tmp_path / "a.bin"
    write_frames(path, PAYLOADS)
    with rv.open_frames(path, HEADER, length="n") as fr:
        data, starts = fr.payload_bytes(1, 4)
        assert data.tobytes() == b"".join(PAYLOADS[1:4])
        assert starts.tolist() == [0, 1, 6, 6 + 768]
        table = fr.to_arrow()
        assert table.column_names == ["kind", "n", "payload"]
        assert table.column("payload").to_pylist() == PAYLOADS
        assert table.column("kind").to_pylist() == list(range(5))
        assert table.schema.field("payload").type == pa.large_binary()
        small = list(fr.to_arrow_batches(records=2))
        assert [b.num_rows for b in small] == [2, 2, 1]


# -- the index file -----------------------------------------------------------------


def _forbid_scan(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the file was scanned again")

    monkeypatch.setattr(_frame_file, "_index", boom)


def test_index_file_is_reused_without_a_scan(tmp_path, monkeypatch):
    path, idx = tmp_path / "d.bin", tmp_path / "d.idx"
    write_frames(path, PAYLOADS, prefix=b"ABCD")
    with rv.open_frames(path, HEADER, length="n", offset=4, index=idx) as fr:
        offsets = fr.offsets.tolist()
    assert idx.read_bytes()[:8] == frames_mod.INDEX_MAGIC
    _forbid_scan(monkeypatch)
    with rv.open_frames(path, HEADER, length="n", offset=4, index=idx) as fr:
        assert fr.offsets.tolist() == offsets
        assert bytes(fr[3][1]) == PAYLOADS[3]


def test_index_file_is_extended_from_its_end_when_the_file_grew(tmp_path, monkeypatch):
    path, idx = tmp_path / "g.bin", tmp_path / "g.idx"
    write_frames(path, PAYLOADS)
    rv.open_frames(path, HEADER, length="n", index=idx).close()
    old_end = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(struct.pack("<HI", 9, 3) + b"new")
    starts = []
    real = _frame_file._index

    def spy(buf, pos, *args, **kwargs):
        starts.append(pos)
        return real(buf, pos, *args, **kwargs)

    monkeypatch.setattr(_frame_file, "_index", spy)
    with rv.open_frames(path, HEADER, length="n", index=idx) as fr:
        assert len(fr) == 6 and bytes(fr[5][1]) == b"new"
    assert starts == [old_end]
    _forbid_scan(monkeypatch)
    with rv.open_frames(path, HEADER, length="n", index=idx) as fr:
        assert len(fr) == 6


def test_stale_index_is_rebuilt_with_a_warning(tmp_path):
    path, idx = tmp_path / "s.bin", tmp_path / "s.idx"
    write_frames(path, [b"aaaa", b"bb"])
    rv.open_frames(path, HEADER, length="n", index=idx).close()
    # same size, other frame boundaries: a rewrite
    write_frames(path, [b"a", b"bbbbb"])
    os.utime(path, ns=(1, 1))
    with pytest.warns(rv.LayoutWarning, match=r"s\.idx: frame index does not match .*rebuilding"):
        fr = rv.open_frames(path, HEADER, length="n", index=idx)
    assert fr.lengths.tolist() == [1, 5]
    fr.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rv.open_frames(path, HEADER, length="n", index=idx).close()  # rebuilt index is good


@pytest.mark.parametrize(
    "change",
    ["shrink", "params", "garbage", "first_bytes"],
)
def test_index_that_does_not_match_is_never_trusted(tmp_path, change):
    path, idx = tmp_path / "t.bin", tmp_path / "t.idx"
    write_frames(path, [b"abc", b"defg", b"hi"])
    rv.open_frames(path, HEADER, length="n", index=idx).close()
    kwargs = {}
    if change == "shrink":
        write_frames(path, [b"abc", b"defg"])
    elif change == "params":
        kwargs = {"trailing": "ignore", "adjust": 0, "offset": 0}
        path.write_bytes(path.read_bytes())  # unchanged data, but a new header schema below
    elif change == "garbage":
        # an index's magic, then garbage (a file without the magic is refused:
        # tests/adversarial/test_frames_index_path.py)
        idx.write_bytes(rv.frames.INDEX_MAGIC + b"not an index at all")
    else:  # grows, and its first frame changed: the first frame's hash differs
        data = bytearray(path.read_bytes())
        data[6] ^= 0xFF
        path.write_bytes(bytes(data) + struct.pack("<HI", 0, 0))
    header = [("kind", "<i2"), ("n", "<u4")] if change == "params" else HEADER
    with pytest.warns(rv.LayoutWarning, match="rebuilding"):
        fr = rv.open_frames(path, header, length="n", index=idx, **kwargs)
    assert bytes(fr[1][1]) == b"defg"
    fr.close()


# -- growing files ------------------------------------------------------------------


def test_refresh_holds_back_a_split_frame(tmp_path, impl):
    path = tmp_path / "live.bin"
    path.write_bytes(b"")
    fr = rv.open_frames(path, HEADER, length="n")
    frame = struct.pack("<HI", 1, 5) + b"hello"
    with open(path, "ab") as f:
        for cut in (3, 8, len(frame)):
            f.write(frame[:cut] if cut == 3 else frame[3:cut] if cut == 8 else frame[8:])
            f.flush()
            assert fr.refresh() == (1 if cut == len(frame) else 0)
    assert bytes(fr[0][1]) == b"hello"
    fr.close()


def test_follow_delivers_every_frame_exactly_once_while_a_writer_splits_them(tmp_path, impl):
    path = tmp_path / "follow.bin"
    path.write_bytes(b"")
    rng = np.random.default_rng(7)
    payloads = [bytes([k % 251]) * int(rng.integers(0, 40)) for k in range(300)]
    blob = b"".join(struct.pack("<HI", k, len(p)) + p for k, p in enumerate(payloads))
    cuts = [*sorted(set(rng.integers(1, len(blob), 60).tolist())), len(blob)]

    def writer():
        with open(path, "ab") as f:
            at = 0
            for c in cuts:
                f.write(blob[at:c])
                f.flush()
                at = c
                time.sleep(0.002)

    with rv.open_frames(path, HEADER, length="n") as fr:
        t = threading.Thread(target=writer)
        t.start()
        got_kinds, got_payloads = [], []
        for heads, offs, lens in fr.follow(start=0, poll=0.005, timeout=2.0):
            got_kinds += heads["kind"].tolist()
            got_payloads += [bytes(fr._raw[o : o + n]) for o, n in zip(offs, lens, strict=True)]
            if len(got_kinds) == len(payloads):
                break
        t.join()
    assert got_kinds == list(range(len(payloads)))
    assert got_payloads == payloads


def test_follow_start_past_the_end_is_a_truncation(tmp_path):
    path = tmp_path / "f.bin"
    write_frames(path, [b"a"])
    with rv.open_frames(path, HEADER, length="n") as fr:
        with pytest.raises(rv.TruncatedError, match="cannot resume at frame 5"):
            fr.follow(start=5)
        assert list(fr.follow(timeout=0.01)) == []


def test_shrink_under_frames_is_a_truncated_error(tmp_path):
    path = tmp_path / "sh.bin"
    write_frames(path, [b"abcdef", b"gh"])
    fr = rv.open_frames(path, HEADER, length="n")
    os.truncate(path, 4)
    with pytest.raises(rv.TruncatedError, match="shrank from 20 to 4 bytes"):
        fr.refresh()
    with pytest.raises(rv.TruncatedError):
        fr.headers
    fr.close()


def test_closed_frames_raise_closed_error(tmp_path):
    path = tmp_path / "c.bin"
    write_frames(path, [b"ab"])
    fr = rv.open_frames(path, HEADER, length="n")
    _, payload = fr[0]
    fr.close()
    fr.close()
    assert bytes(payload) == b"ab"  # arrays handed out stay valid
    with pytest.raises(rv.ClosedError):
        fr[0]
    with pytest.raises(rv.ClosedError):
        len(fr.offsets)


# -- presets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "magic", "frac"),
    [
        ("<", 0xA1B2C3D4, "ts_usec"),
        (">", 0xA1B2C3D4, "ts_usec"),
        ("<", 0xA1B23C4D, "ts_nsec"),
        (">", 0xA1B23C4D, "ts_nsec"),
    ],
)
def test_pcap_preset_reads_byte_order_and_timestamp_unit(tmp_path, order, magic, frac):
    path = tmp_path / "c.pcap"
    with open(path, "wb") as f:
        f.write(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 262144, 1))
        f.writelines(
            struct.pack(order + "IIII", 100 + k, 999_999 - k, k + 1, 60) + bytes(k + 1)
            for k in range(3)
        )
    kwargs = rv.formats.pcap(path)
    assert kwargs["header"].names == ("ts_sec", frac, "incl_len", "orig_len")
    with rv.open_frames(path, **kwargs) as fr:
        assert fr.headers["ts_sec"].tolist() == [100, 101, 102]
        assert fr.headers[frac].tolist() == [999_999, 999_998, 999_997]
        assert fr.lengths.tolist() == [1, 2, 3]
    info = rv.formats.pcap_info(path)
    assert info.byteorder == order and info.nanoseconds == (magic == 0xA1B23C4D)
    assert info.snaplen == 262144 and info.linktype == 1


def test_pcapng_and_unknown_magic_are_rejected_clearly(tmp_path):
    path = tmp_path / "c.pcapng"
    path.write_bytes(struct.pack("<II", 0x0A0D0D0A, 28) + bytes(20))
    with pytest.raises(rv.LayoutError, match="pcapng file, not pcap.*editcap -F pcap"):
        rv.formats.pcap(path)
    path.write_bytes(b"GIF89a" + bytes(30))
    with pytest.raises(rv.LayoutError, match="magic number 47494638"):
        rv.formats.pcap(path)
    path.write_bytes(b"\xd4")
    with pytest.raises(rv.LayoutError, match="too short"):
        rv.formats.pcap(path)


@pytest.mark.parametrize("marker", ["<i4", ">i4", "<i8", ">i8"])
def test_fortran_preset_every_marker(tmp_path, marker):
    path = tmp_path / "r.unf"
    records = [b"", b"abc", bytes(100)]
    with open(path, "wb") as f:
        for r in records:
            m = np.array([len(r)], marker).tobytes()
            f.write(m + r + m)
    with rv.open_frames(path, **rv.formats.fortran(marker)) as fr:
        assert [bytes(fr[i][1]) for i in range(len(fr))] == records
    with pytest.raises(ValueError, match="marker must be"):
        rv.formats.fortran("<u4")
