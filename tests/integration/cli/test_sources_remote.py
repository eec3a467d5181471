"""The real ``recview`` command on URLs: an HTTP Range server and moto S3 on 127.0.0.1.

Each case runs ``python -m recview`` in a child process with a timeout, and
compares what it prints or writes with numpy over a local copy of the bytes.
"""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pytest

from tests.integration.cli._run import run as _run
from tests.remote_servers import LOCAL_ENV, sample_records

pytest.importorskip("aiohttp")


DTYPE = np.dtype([("ts", "<u8"), ("px", "<f8"), ("qty", "<u4")])
SPEC = "[('ts','<u8'),('px','<f8'),('qty','<u4')]"


def _records(n: int, seed: int) -> np.ndarray:
    return sample_records(DTYPE, n, seed, ts_step=10)


def run(*args: str):
    return _run(*args, env=LOCAL_ENV)


def ok(*args: str) -> str:
    res = run(*args)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_head_info_and_stats_of_an_http_url_equal_the_local_file(http_server, tmp_path):
    recs = _records(5000, seed=1)
    http_server.objects["t.bin"] = b"HEADER!!" + recs.tobytes() + b"xy"
    url = http_server.url("t.bin")
    local = tmp_path / "t.bin"
    local.write_bytes(http_server.objects["t.bin"])
    common = ["-s", SPEC, "--offset", "8", "--trailing", "ignore"]
    assert ok("head", url, *common, "-n", "7", "--format", "csv") == ok(
        "head", str(local), *common, "-n", "7", "--format", "csv"
    )
    assert ok("tail", url, *common, "-n", "3", "--format", "jsonl") == ok(
        "tail", str(local), *common, "-n", "3", "--format", "jsonl"
    )
    info = json.loads(ok("info", url, *common, "--format", "json"))
    assert (info["file"], info["records"], info["file_nbytes"]) == (url, 5000, 8 + recs.nbytes + 2)
    assert info["trailing_nbytes"] == 2
    stats = json.loads(ok("stats", url, *common, "--format", "json", "-q"))
    assert stats["records"] == 5000
    px = stats["fields"]["px"]
    assert (px["min"], px["max"]) == (recs["px"].min(), recs["px"].max())
    assert px["mean"] == pytest.approx(recs["px"].mean(), rel=1e-12)
    assert stats["fields"]["qty"]["max"] == int(recs["qty"].max())


def test_convert_an_http_url_to_npy_and_parquet(http_server, tmp_path):
    recs = _records(3000, seed=2)
    http_server.objects["c.bin"] = recs.tobytes()
    out = tmp_path / "c.npy"
    ok("convert", http_server.url("c.bin"), "-s", SPEC, "-o", str(out), "-q")
    np.testing.assert_array_equal(np.load(out), recs)
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "c.parquet"
    ok("convert", http_server.url("c.bin"), "-s", SPEC, "-o", str(out), "-q")
    table = pq.read_table(out)
    np.testing.assert_array_equal(table["px"].to_numpy(), recs["px"])


def test_npy_at_a_url_needs_no_schema(http_server):
    arr = np.arange(40, dtype=">i4").reshape(10, 4)
    buf = io.BytesIO()
    np.save(buf, arr)
    http_server.objects["m.npy"] = buf.getvalue()
    url = http_server.url("m.npy")
    info = json.loads(ok("info", url, "--format", "json"))
    assert (info["records"], info["header_nbytes"], info["itemsize"]) == (10, 128, 16)
    assert info["schema_source"] == ".npy header (128 bytes)"
    lines = ok("head", url, "-n", "2", "--format", "csv").splitlines()
    assert lines == ["f0[0],f0[1],f0[2],f0[3]", "0,1,2,3", "4,5,6,7"]
    stats = json.loads(ok("stats", url, "--format", "json", "-q"))
    assert stats["fields"]["f0"]["max"] == 39


def test_a_gzip_object_at_a_url_is_read_as_a_stream(http_server):
    recs = _records(2000, seed=3)
    http_server.objects["z.bin.gz"] = gzip.compress(recs.tobytes())
    stats = json.loads(
        ok("stats", http_server.url("z.bin.gz"), "-s", SPEC, "--format", "json", "-q")
    )
    assert stats["records"] == 2000
    assert stats["fields"]["ts"]["max"] == int(recs["ts"].max())


def test_url_errors_are_one_line(http_server, tmp_path):
    missing = http_server.url("nope.bin")
    res = run("head", missing, "-s", SPEC)
    assert res.returncode == 1
    assert res.stderr == f"recview head: error: {missing}: No such object\n"
    http_server.objects["odd.bin"] = bytes(DTYPE.itemsize * 3 + 5)
    res = run("stats", http_server.url("odd.bin"), "-s", SPEC)
    assert res.returncode == 1
    assert "5 stray bytes at offset 60 (use --trailing ignore or warn)" in res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    local = tmp_path / "l.bin"
    local.write_bytes(bytes(20))
    res = run("head", str(local), "-s", SPEC, "--storage-option", "anon=true")
    assert res.returncode == 2
    assert "--storage-option is for a URL FILE" in res.stderr
    res = run("head", http_server.url("odd.bin"), "-s", SPEC, "--storage-option", "novalue")
    assert res.returncode == 2
    assert "expected KEY=VALUE" in res.stderr


def test_stats_of_an_s3_object_with_storage_options(s3_server):
    recs = _records(20_000, seed=4)
    url = s3_server.put("s3://cli/day/t.bin", recs.tobytes())
    opts = [
        "--storage-option",
        "key=testing",
        "--storage-option",
        "secret=testing",
        "--storage-option",
        f"client_kwargs.endpoint_url={s3_server.endpoint}",
        "--storage-option",
        "client_kwargs.region_name=us-east-1",
    ]
    stats = json.loads(ok("stats", url, "-s", SPEC, *opts, "--format", "json", "-q"))
    assert stats["records"] == 20_000
    for name in ("ts", "px", "qty"):
        got = stats["fields"][name]
        assert (got["min"], got["max"]) == (recs[name].min().item(), recs[name].max().item())
        assert got["mean"] == pytest.approx(recs[name].mean(), rel=1e-12)
    head = ok("head", url, "-s", SPEC, *opts, "-n", "2", "--format", "jsonl").splitlines()
    assert [json.loads(line)["ts"] for line in head] == [0, 10]


def test_guess_and_dump_of_an_http_url_equal_the_local_file(http_server, tmp_path):
    recs = _records(3000, seed=4)
    data = b"HDR:" * 16 + recs.tobytes()
    http_server.objects["g.bin"] = data
    url = http_server.url("g.bin")
    local = tmp_path / "g.bin"
    local.write_bytes(data)
    got = json.loads(ok("guess", url, "--format", "json", "-q"))
    want = json.loads(ok("guess", str(local), "--format", "json", "-q"))
    assert got == want
    assert got["itemsize"] == DTYPE.itemsize
    # dump: the same annotated bytes at any offset, past the end clipped, the header says the URL
    for offset, length in (("0", "64"), ("1000", "300"), ("-40", "100")):
        args = ["--offset", offset, "--length", length, "-s", SPEC, "--records-at", "64"]
        remote = ok("dump", url, *args, "--color", "never")
        there = ok("dump", str(local), *args, "--color", "never")
        assert remote.splitlines()[0].startswith(url + ":")
        assert remote.splitlines()[1:] == there.splitlines()[1:]
        assert remote.splitlines()[0] == url + there.splitlines()[0][len(str(local)) :]


def test_storage_option_on_a_local_file_is_a_usage_error_for_guess_and_dump(tmp_path):
    local = tmp_path / "x.bin"
    local.write_bytes(bytes(64))
    for cmd in ("guess", "dump"):
        res = run(cmd, str(local), "--storage-option", "anon=true")
        assert res.returncode == 2, res.stderr
        assert "--storage-option is for a URL" in res.stderr
