"""Property tests: frames packed with struct read back identically by the C pass and its Python twin."""

from __future__ import annotations

import os
import struct
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import recview as rv
from recview import _frame_walk

LENGTH_TYPES = ["<u1", "<u2", ">u2", "<u4", ">u4", "<i4", ">i8", "<u8"]
STRUCT = {"u1": "B", "u2": "H", "u4": "I", "i4": "i", "i8": "q", "u8": "Q"}


@st.composite
def framed_files(draw):
    ltype = draw(st.sampled_from(LENGTH_TYPES))
    before = draw(st.integers(0, 3))  # header bytes before the length field
    after = draw(st.integers(0, 3))
    trailer = draw(st.sampled_from([0, int(ltype[-1])]))
    adjust = draw(st.integers(-2, 0))
    limit = np.iinfo(ltype).max if ltype[1] == "u" else 200
    payloads = draw(st.lists(st.binary(max_size=min(40, limit + adjust)), max_size=30))
    prefix = draw(st.binary(max_size=5))
    cut = draw(st.integers(0, 6))  # bytes cut off the end
    fmt = ltype[0] + STRUCT[ltype[1:]]
    blob = bytearray(prefix)
    ends = []
    for k, p in enumerate(payloads):
        marker = struct.pack(fmt, len(p) - adjust)
        blob += bytes([k % 256]) * before + marker + b"\xee" * after + p
        blob += marker if trailer else b""
        ends.append(len(blob))
    cut = min(cut, len(blob) - len(prefix))
    whole = [p for p, e in zip(payloads, ends, strict=True) if e <= len(blob) - cut]
    header = [("pre", f"V{before}")] if before else []
    header += [("len", ltype)] + ([("post", f"V{after}")] if after else [])
    return (
        bytes(blob[: len(blob) - cut] if cut else blob),
        dict(header=header, length="len", offset=len(prefix), adjust=adjust, trailer=trailer),
        whole,
    )


def _read(path, kwargs):
    with rv.open_frames(path, **kwargs, trailing="ignore") as fr:
        return fr.offsets.tolist(), [bytes(fr[i][1]) for i in range(len(fr))]


@pytest.mark.skipif(_frame_walk.NATIVE is None, reason="recview._frames is not built")
@settings(max_examples=150, deadline=None)
@given(framed_files())
def test_c_pass_python_pass_and_struct_agree(case):
    blob, kwargs, whole = case
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.bin")
        with open(path, "wb") as f:
            f.write(blob)
        native = _read(path, kwargs)
        saved, _frame_walk.NATIVE = _frame_walk.NATIVE, None
        try:
            python = _read(path, kwargs)
        finally:
            _frame_walk.NATIVE = saved
    assert native == python
    # every frame that was written whole is read back, byte for byte
    assert native[1] == whole
