"""A .npy file needs no --schema: info, head, stats and convert read its header."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recview.cli import main

STRUCT = np.dtype([("id", "<u4"), ("pos", ">f8", (2,)), ("tag", "S3")], align=True)


@pytest.fixture(params=["structured", "plain-2d", "version-3"])
def npy(request, tmp_path):
    path = tmp_path / "a.npy"
    if request.param == "structured":
        arr = np.zeros(7, STRUCT)
        arr["id"] = np.arange(7) * 3
        arr["pos"] = np.arange(14).reshape(7, 2) / 4
        arr["tag"] = [b"ab", b"c", b"", b"xyz", b"q", b"r", b"s"]
        np.save(path, arr)
    elif request.param == "plain-2d":
        arr = np.arange(24, dtype=">i2").reshape(6, 4)
        np.save(path, arr)
    else:
        arr = np.arange(5, dtype="<f4") + 0.5
        with open(path, "wb") as f:
            np.lib.format.write_array(f, arr, version=(3, 0))
    return path, arr


def _cmd(capsys, *argv):
    status = main([*argv])
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def test_info_reads_the_npy_header(npy, capsys):
    path, arr = npy
    info = json.loads(_cmd(capsys, "info", str(path), "--format", "json"))
    header = path.stat().st_size - arr.nbytes
    assert (info["records"], info["header_nbytes"], info["trailing_nbytes"]) == (
        len(arr),
        header,
        0,
    )
    assert info["schema_source"] == f".npy header ({header:,} bytes)"
    assert info["itemsize"] == arr.itemsize * (arr[0].size if arr.dtype.names is None else 1)


def test_head_and_stats_equal_np_load(npy, capsys):
    path, arr = npy
    rows = [
        json.loads(line)
        for line in _cmd(capsys, "head", str(path), "--format", "jsonl", "-n", "100").splitlines()
    ]
    assert len(rows) == len(arr)
    stats = json.loads(_cmd(capsys, "stats", str(path), "--format", "json", "-q"))
    if arr.dtype.names is None:
        assert stats["fields"]["f0"]["max"] == arr.max().item()
        assert stats["fields"]["f0"]["count"] == arr.size
    else:
        assert [r["id"] for r in rows] == arr["id"].tolist()
        assert stats["fields"]["id"]["max"] == 18
        assert stats["fields"]["pos"]["mean"] == pytest.approx(arr["pos"].mean())


def test_convert_round_trips_through_npy(npy, capsys, tmp_path):
    path, arr = npy
    out = tmp_path / "out.npy"
    _cmd(capsys, "convert", str(path), "-o", str(out), "-q")
    back = np.load(out)
    if arr.dtype.names is None:
        np.testing.assert_array_equal(back["f0"].reshape(arr.shape), arr)
    else:
        assert back.tobytes() == arr.tobytes()


def test_npy_offset_or_count_without_schema_is_a_usage_error(npy, capsys):
    path, _ = npy
    assert main(["head", str(path), "--count", "2"]) == 2
    assert "--offset and --count need --schema" in capsys.readouterr().err


def test_other_files_still_need_a_schema(tmp_path, capsys):
    path = tmp_path / "a.bin"
    path.write_bytes(bytes(16))
    assert main(["head", str(path)]) == 2
    assert "needs --schema/-s" in capsys.readouterr().err


def test_a_fortran_ordered_npy_is_a_data_error(tmp_path, capsys):
    path = tmp_path / "f.npy"
    np.save(path, np.asfortranarray(np.arange(6, dtype="<u2").reshape(2, 3)))
    assert main(["info", str(path)]) == 1
    assert str(path) in capsys.readouterr().err
