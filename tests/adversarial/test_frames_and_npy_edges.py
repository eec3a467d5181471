"""Framed files with hostile lengths, and ``.npy`` files with odd (hand-written) headers.

Frames: zero-length payloads, a length that runs past the end (last frame or
not), a corrupt pcap ``incl_len`` in the middle, negative and mismatched
Fortran markers; each either reads exactly or is a ``LayoutError`` naming the
frame and its byte offset. ``.npy``: headers numpy itself writes or accepts
(explicit offsets and padding, big-endian, empty rows, 0-d structured,
Fortran order of one dimension) give exactly what ``np.load`` gives.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import recview as rv
from recview._npy import npy_layout

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def pcap(path: Path, lengths: list[int], extra: bytes = b"") -> Path:
    with open(path, "wb") as f:
        f.write(PCAP_HEADER)
        f.writelines(
            struct.pack("<IIII", 1, k, n, n) + bytes([k % 256]) * n for k, n in enumerate(lengths)
        )
        f.write(extra)
    return path


def open_pcap(path: Path, **kwargs: Any) -> rv.Frames:
    return rv.open_frames(path, **rv.formats.pcap(path), **kwargs)


def test_zero_length_payloads_are_frames(tmp_path: Path) -> None:
    with open_pcap(pcap(tmp_path / "z.pcap", [0, 3, 0])) as fr:
        assert len(fr) == 3
        assert fr.lengths.tolist() == [0, 3, 0]
        assert fr[0][1].shape == (0,)
        assert bytes(fr[1][1]) == b"\x01\x01\x01"
        assert [len(b[0]) for b in fr.batches(2)] == [2, 1]


@pytest.mark.parametrize("trailing", ["error", "ignore", "warn"])
def test_a_corrupt_length_in_the_middle_is_an_impossible_length(
    tmp_path: Path, trailing: str
) -> None:
    path = tmp_path / "c.pcap"
    with open(path, "wb") as f:
        f.write(PCAP_HEADER)
        for k in range(20):
            incl = 0x7FFFFFF0 if k == 10 else 20
            f.write(struct.pack("<IIII", 1, k, incl, 20) + bytes([k]) * 20)
    at = 24 + 10 * 36
    with pytest.raises(rv.LayoutError, match=rf"frame 10 at byte offset {at:,}"):
        open_pcap(path, trailing=trailing)


def test_a_cut_last_frame_follows_trailing(tmp_path: Path) -> None:
    path = pcap(tmp_path / "p.pcap", [3], extra=struct.pack("<IIII", 1, 1, 10, 10) + b"abc")
    with pytest.raises(rv.LayoutError, match=r"frame 1 at byte offset 43"):
        open_pcap(path)
    with open_pcap(path, trailing="ignore") as fr:
        assert len(fr) == 1
    with pytest.warns(rv.LayoutWarning, match="frame 1"), open_pcap(path, trailing="warn") as fr:
        assert len(fr) == 1


def fortran_file(path: Path, records: list[tuple[int, bytes, int]]) -> Path:
    with open(path, "wb") as f:
        f.writelines(
            struct.pack("<i", head) + payload + struct.pack("<i", tail)
            for head, payload, tail in records
        )
    return path


def test_a_fortran_trailer_that_differs_names_the_frame(tmp_path: Path) -> None:
    path = fortran_file(tmp_path / "f.unf", [(4, b"abcd", 4), (4, b"efgh", 5)])
    with pytest.raises(
        rv.LayoutError, match=r"frame 1 at byte offset 12: trailer at byte offset 20 is 5"
    ):
        rv.open_frames(path, **rv.formats.fortran())


def test_a_negative_fortran_marker_is_an_impossible_length(tmp_path: Path) -> None:
    path = fortran_file(tmp_path / "f.unf", [(-4, b"abcd", -4)])
    with pytest.raises(rv.LayoutError, match=r"frame 0 at byte offset 0: impossible length"):
        rv.open_frames(path, **rv.formats.fortran())


def test_fortran_empty_records_and_equal_payloads(tmp_path: Path) -> None:
    path = fortran_file(tmp_path / "f.unf", [(8, np.arange(2, dtype="<f4").tobytes(), 8)] * 3)
    with rv.open_frames(path, **rv.formats.fortran()) as fr:
        assert fr.payloads("<f4").tolist() == [[0.0, 1.0]] * 3
    path = fortran_file(tmp_path / "e.unf", [(0, b"", 0), (2, b"ab", 2)])
    with rv.open_frames(path, **rv.formats.fortran()) as fr:
        assert fr.lengths.tolist() == [0, 2]


def test_a_pickled_frames_copy_is_independent(tmp_path: Path) -> None:
    path = pcap(tmp_path / "k.pcap", [4, 5])
    fr = open_pcap(path)
    copy = pickle.loads(pickle.dumps(fr))
    assert copy.lengths.tolist() == fr.lengths.tolist()
    copy.close()
    del copy
    assert bytes(fr[1][1]) == b"\x01" * 5  # the original's descriptor is its own
    fr.close()


def write_npy(path: Path, header: str, data: bytes) -> Path:
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data)
    return path


HEADERS = {
    "padded": "{'descr': [('a','<u2'),('','|V2'),('b','<f4')], 'fortran_order': False, 'shape': (6,), }",
    "bigendian": "{'descr': [('a','>i4'),('b','>f8')], 'fortran_order': False, 'shape': (4,), }",
    "empty_rows": "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5), }",
    "scalar_struct": "{'descr': [('a','<u2'),('b','<f4')], 'fortran_order': False, 'shape': (), }",
    "fortran_1d": "{'descr': '<f8', 'fortran_order': True, 'shape': (6,), }",
    "rows": "{'descr': '<u2', 'fortran_order': False, 'shape': (4, 3), }",
    "datetime": "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (6,), }",
}


@pytest.mark.parametrize("name", list(HEADERS))
def test_odd_npy_headers_read_as_np_load(tmp_path: Path, name: str) -> None:
    data = np.arange(6, dtype="<f8").tobytes()
    path = write_npy(tmp_path / f"{name}.npy", HEADERS[name], data)
    ref = np.load(path, mmap_mode="r")
    layout = npy_layout(path)
    with rv.open(path) as view:
        got = layout.unwrap(view.array)
        assert got.shape == ref.shape
        assert got.dtype == ref.dtype
        assert got.tobytes() == np.asarray(ref).tobytes()


def test_a_npy_header_that_promises_more_data_is_a_layout_error(tmp_path: Path) -> None:
    head = "{'descr': '<f8', 'fortran_order': False, 'shape': (7,), }"
    path = write_npy(tmp_path / "short.npy", head, np.arange(6, dtype="<f8").tobytes())
    with pytest.raises(rv.LayoutError, match="short.npy"):
        rv.open(path)


def test_a_fortran_ordered_npy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.npy"
    np.save(path, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    with pytest.raises(rv.SchemaError, match="f.npy"):
        rv.open(path)
