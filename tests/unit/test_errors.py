"""Error messages: whole texts for a few, attributes for all (as msgspec/zarr do)."""

from __future__ import annotations

import numpy as np
import pytest

import recview as rv


def test_schema_error_full_message_and_attributes():
    with pytest.raises(rv.SchemaError) as info:
        rv.Schema.from_dtype(
            {"names": ["a", "b"], "formats": ["<u8", "<u4"], "offsets": [0, 4], "itemsize": 16}
        )
    assert str(info.value) == "field 'b' at offset 4 overlaps field 'a' (which ends at offset 8)"
    assert (info.value.field, info.value.offset, info.value.path) == ("b", 4, None)


def test_layout_error_full_message(tmp_path):
    path = tmp_path / "trades.bin"
    path.write_bytes(b"\0" * (16 + 24 * 3 + 5))
    with pytest.raises(rv.LayoutError) as info:
        rv.open(path, [("ts", "<u8"), ("px", "<f8"), ("q", "<u8")], offset=16)
    assert str(info.value) == (
        f"{path}: file of 93 bytes: the 77 bytes after the 16-byte header are 3 records of "
        '24 bytes plus 5 stray bytes at offset 88 (pass trailing="ignore" or "warn")'
    )
    assert info.value.path == str(path)
    assert info.value.offset == 88
    assert isinstance(info.value, ValueError)


def test_closed_error_names_the_file(tmp_path):
    path = tmp_path / "x.bin"
    np.zeros(2, "<u4").tofile(path)
    view = rv.open(path, "<u4")
    view.close()
    with pytest.raises(rv.ClosedError) as info:
        view.array
    assert str(info.value) == f"{path}: the view is closed"


def test_truncated_error_keeps_sizes():
    err = rv.TruncatedError("x", path="f.bin", old_nbytes=10, new_nbytes=4)
    assert (err.path, err.old_nbytes, err.new_nbytes) == ("f.bin", 10, 4)
    assert isinstance(err, OSError)
