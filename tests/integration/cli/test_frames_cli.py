"""``recview info|head|stats|convert --frames ...`` on real files, in a child process.

Captures are written by tcpdump on lo (UDP datagrams of varying sizes that the
test sends) and by dpkt's Writer; Fortran files by a gfortran program. What
the command prints or writes must equal dpkt's Reader, and the program's
own listing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.integration.cli._run import ok, run
from tests.integration.test_frames_real import (
    SIZES,
    Capture,
    _fortran,
    _free_port,
    _send,
    _udp_packet,
    _wait_for_frames,
)

dpkt = pytest.importorskip("dpkt")


def _dpkt(path: Path) -> list[tuple[float, bytes]]:
    with open(path, "rb") as f:
        return list(dpkt.pcap.Reader(f))


def _check_pcap_commands(path: Path, tmp_path: Path) -> None:
    theirs = _dpkt(path)
    n = len(theirs)
    info = json.loads(ok("info", str(path), "--frames", "pcap", "--format", "json"))
    assert (info["records"], info["header_nbytes"], info["frame_header_nbytes"]) == (n, 24, 16)
    assert info["trailing_nbytes"] == 0 and info["file_nbytes"] == path.stat().st_size
    rows = [
        json.loads(line)
        for line in ok("head", str(path), "--frames", "pcap", "-n", str(n), "--format", "jsonl")
        .strip()
        .splitlines()
    ]
    assert [r["incl_len"] for r in rows] == [len(buf) for _, buf in theirs]
    assert [r["payload_nbytes"] for r in rows] == [len(buf) for _, buf in theirs]
    data = path.read_bytes()
    for r, (_, buf) in zip(rows, theirs, strict=True):
        at = r["payload_offset"]
        assert data[at : at + r["payload_nbytes"]] == buf
    frac = "ts_usec" if "ts_usec" in rows[0] else "ts_nsec"
    scale = 10**6 if frac == "ts_usec" else 10**9
    assert [r["ts_sec"] * scale + r[frac] for r in rows] == [round(ts * scale) for ts, _ in theirs]
    tail = [
        json.loads(line)
        for line in ok("tail", str(path), "--frames", "pcap", "-n", "2", "--format", "jsonl")
        .strip()
        .splitlines()
    ]
    assert tail == rows[-2:]
    stats = json.loads(ok("stats", str(path), "--frames", "pcap", "--format", "json", "-q"))
    lens = np.array([len(buf) for _, buf in theirs])
    got = stats["fields"]["incl_len"]
    assert (stats["records"], got["min"], got["max"]) == (n, lens.min(), lens.max())
    assert got["mean"] == pytest.approx(lens.mean())
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "p.parquet"
    ok("convert", str(path), "--frames", "pcap", "-o", str(out), "-q")
    table = pq.read_table(out)
    assert table.column_names == ["ts_sec", frac, "incl_len", "orig_len", "payload"]
    assert table["payload"].to_pylist() == [buf for _, buf in theirs]
    out = tmp_path / "q.parquet"
    ok("convert", str(path), "--frames", "pcap", "-o", str(out), "--fields", "orig_len", "-q")
    table = pq.read_table(out)
    assert table.column_names == ["orig_len", "payload"]
    csv = ok("convert", str(path), "--frames", "pcap", "-o", "-", "--to", "csv", "-q")
    assert csv.splitlines()[0] == f"ts_sec,{frac},incl_len,orig_len,payload_offset,payload_nbytes"
    assert len(csv.splitlines()) == n + 1


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")
def test_commands_on_a_tcpdump_capture_equal_dpkt(tmp_path):
    path = tmp_path / "lo.pcap"
    port = _free_port()
    cap = Capture(path, port)
    try:
        _send(port, SIZES)
        _wait_for_frames(path, len(SIZES))
    finally:
        cap.stop(len(SIZES))
    _check_pcap_commands(path, tmp_path)


@pytest.mark.parametrize("nano", [False, True], ids=["usec", "nsec"])
def test_commands_on_a_dpkt_capture_equal_dpkt(tmp_path, nano):
    path = tmp_path / "w.pcap"
    with open(path, "wb") as f:
        writer = dpkt.pcap.Writer(f, nano=nano)
        for k, n in enumerate(SIZES):
            writer.writepkt(_udp_packet(k, n), ts=1_700_000_000 + k / 7)
    _check_pcap_commands(path, tmp_path)


def test_fortran_commands_equal_the_programs_listing(tmp_path):
    path, listing = _fortran(tmp_path, ["-fconvert=big-endian"])
    rows = [
        json.loads(line)
        for line in ok(
            "head",
            str(path),
            "--frames",
            "fortran",
            "--marker",
            ">i4",
            "-n",
            "100",
            "--format",
            "jsonl",
        )
        .strip()
        .splitlines()
    ]
    assert len(rows) == len(listing) == 41
    sizes = [4 + 8 * int(line.split()[1]) for line in listing[:-1]] + [0]
    assert [r["marker"] for r in rows] == sizes == [r["payload_nbytes"] for r in rows]
    info = json.loads(
        ok("info", str(path), "--frames", "fortran", "--marker", ">i4", "--format", "json")
    )
    assert info["records"] == 41 and info["frame_header_nbytes"] == 4
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "f.parquet"
    ok("convert", str(path), "--frames", "fortran", "--marker", ">i4", "-o", str(out), "-q")
    payloads = pq.read_table(out)["payload"].to_pylist()
    for line, payload in zip(listing[:-1], payloads, strict=False):
        k, _n, *xs = line.split()
        assert int.from_bytes(payload[:4], "big") == int(k)
        assert np.frombuffer(payload[4:], ">f8").tolist() == [float(x) for x in xs]
    assert payloads[-1] == b""
    res = run("head", str(path), "--frames", "fortran")  # little-endian markers: wrong
    assert res.returncode == 1
    assert "out.unf: frame 0 at byte offset 0: " in res.stderr
    assert res.stderr.count("\n") == 1


def test_frames_length_with_a_header_schema_and_index(tmp_path):
    path = tmp_path / "tlv.bin"
    msgs = [b"abc", b"", b"hello world", b"x" * 300]
    path.write_bytes(
        b"FILEHDR!"
        + b"".join(bytes([7 + k]) + (3 + len(m)).to_bytes(2, "big") + m for k, m in enumerate(msgs))
    )
    index = tmp_path / "tlv.idx"
    args = [
        str(path),
        "--frames-length",
        "n",
        "--frames-header",
        "[('t','u1'),('n','>u2')]",
        "--adjust",
        "-3",
        "--offset",
        "8",
        "--index",
        str(index),
    ]
    rows = [json.loads(r) for r in ok("head", *args, "--format", "jsonl").strip().splitlines()]
    assert [r["t"] for r in rows] == [7, 8, 9, 10]
    assert [r["payload_nbytes"] for r in rows] == [len(m) for m in msgs]
    assert index.exists()
    again = [json.loads(r) for r in ok("head", *args, "--format", "jsonl").strip().splitlines()]
    assert again == rows
    with open(path, "ab") as f:
        f.write(b"\x0b\x00\x09ab")  # a partial last frame: 2 of 6 payload bytes
    res = run("stats", *args)
    assert res.returncode == 1
    assert "frame 4 at byte offset 334: partial last frame" in res.stderr
    assert "use --trailing ignore or warn" in res.stderr
    stats = json.loads(ok("stats", *args, "--trailing", "ignore", "--format", "json", "-q"))
    assert stats["records"] == 4


def test_frames_usage_errors_are_one_line(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(bytes(10))
    for argv, says in [
        (["--frames", "pcap", "--frames-length", "n"], "give --frames or --frames-length"),
        (["--frames-length", "n"], "--frames-length needs the header's layout"),
        (["--frames", "fortran", "--count", "3"], "--count is for fixed-size records"),
    ]:
        res = run("head", str(path), *argv)
        assert res.returncode == 2, res.stderr
        assert says in res.stderr and res.stderr.count("\n") == 1
