"""Frames over real files: captures written by tcpdump and dpkt, records written by gfortran.

Each file is read back by recview and by an outside reader (dpkt's Reader and
``tcpdump -r -xx``; scipy's FortranFile and the Fortran program's own
listing), and every header field and payload must agree.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

import recview as rv

dpkt = pytest.importorskip("dpkt")

# datagram payload sizes: empty, tiny, odd, around the 4 KiB page, large
SIZES = [0, 1, 2, 3, 17, 100, 511, 1400, 4095, 4096, 4097, 9000, 30000, 65000]


def _payload(k: int, n: int) -> bytes:
    return bytes((k * 31 + i) % 256 for i in range(n))


class Capture:
    """tcpdump writing a capture of UDP to one port on lo, stopped by its pid."""

    def __init__(self, path, port, *, nano=False):
        cmd = [shutil.which("tcpdump") or "tcpdump", "-i", "lo", "-U", "--immediate-mode"]
        cmd += ["-Z", "root", "-w", str(path), "-s", "0"]
        if nano:
            cmd += ["--time-stamp-precision=nano"]
        cmd += [f"udp and dst port {port}"]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if "listening on" not in line:
            err = line + self._stop()
            pytest.skip(f"tcpdump cannot capture on lo here (needs root or CAP_NET_RAW): {err}")

    def _stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err

    def stop(self, expect: int) -> None:
        err = self._stop()
        got = re.search(r"(\d+) packets? captured", err)
        assert got is not None and int(got.group(1)) == expect, err


def _send(port: int, sizes, *, pause: float = 0.0) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for k, n in enumerate(sizes):
            s.sendto(_payload(k, n), ("127.0.0.1", port))
            if pause:
                time.sleep(pause)


def _udp_packet(k: int, n: int):
    """An Ethernet/IPv4/UDP packet built by dpkt (tcpdump prints valid packets whole)."""
    udp = dpkt.udp.UDP(sport=1000 + k, dport=9, data=_payload(k, n))
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(src=b"\x7f\x00\x00\x01", dst=b"\x7f\x00\x00\x01", p=17, data=udp)
    ip.len = len(ip)
    return dpkt.ethernet.Ethernet(src=b"\x00" * 6, dst=b"\x00" * 6, type=0x0800, data=ip)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_frames(path, n: int, deadline: float = 10.0) -> None:
    # tcpdump -U flushes each packet, but its write may trail our send
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with rv.open_frames(path, **rv.formats.pcap(path), trailing="ignore") as fr:
            if len(fr) >= n:
                return
        time.sleep(0.02)


def _tcpdump_read(path, *, nano: bool) -> list[tuple[str, bytes]]:
    """``tcpdump -r -xx -tt``: (timestamp text, packet bytes) for each packet."""
    cmd = ["tcpdump", "-r", str(path), "-xx", "-tt", "-nn"]
    if nano:
        cmd.append("--time-stamp-precision=nano")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    packets: list[tuple[str, bytearray]] = []
    for line in out.splitlines():
        hexline = re.match(r"\s+0x[0-9a-f]+:\s+((?:[0-9a-f]{2,4}\s?)+)", line)
        if hexline:
            packets[-1][1].extend(bytes.fromhex(hexline.group(1).replace(" ", "")))
        elif line and not line[0].isspace():
            packets.append((line.split()[0], bytearray()))
    return [(ts, bytes(b)) for ts, b in packets]


def _check_against_dpkt_and_tcpdump(path, *, nano: bool) -> rv.Frames:
    kwargs = rv.formats.pcap(path)
    frac = "ts_nsec" if nano else "ts_usec"
    fr = rv.open_frames(path, **kwargs)
    heads = fr.headers
    with open(path, "rb") as f:
        reader = dpkt.pcap.Reader(f)
        theirs = list(reader)
        assert reader.snaplen == rv.formats.pcap_info(path).snaplen
    assert len(theirs) == len(fr)
    scale = 10**9 if nano else 10**6
    for i, (ts, buf) in enumerate(theirs):
        header, payload = fr[i]
        assert bytes(payload) == buf
        assert int(heads["incl_len"][i]) == len(buf) == fr.lengths[i]
        assert round(ts * scale) == int(heads["ts_sec"][i]) * scale + int(heads[frac][i])
        assert header.tobytes() == heads[i].tobytes()
    # orig_len through dpkt's own header parser, field by field
    with open(path, "rb") as f:
        data = f.read()
    order = rv.formats.pcap_info(path).byteorder
    hdr_cls = dpkt.pcap.PktHdr if order == ">" else dpkt.pcap.LEPktHdr
    for i, off in enumerate(fr.offsets.tolist()):
        h = hdr_cls(data[off - 16 : off])
        assert (h.tv_sec, h.tv_usec, h.caplen, h.len) == tuple(int(x) for x in heads[i])
    listed = _tcpdump_read(path, nano=nano)
    assert [b for _, b in listed] == [bytes(fr[i][1]) for i in range(len(fr))]
    digits = 9 if nano else 6
    assert [ts for ts, _ in listed] == [
        f"{int(h['ts_sec'])}.{int(h[frac]):0{digits}d}" for h in heads
    ]
    return fr


needs_tcpdump = pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump not installed")


@needs_tcpdump
@pytest.mark.parametrize("nano", [False, True], ids=["usec", "nsec"])
def test_tcpdump_capture_equals_dpkt_and_tcpdump_r(tmp_path, nano):
    path, port = tmp_path / "lo.pcap", _free_port()
    cap = Capture(path, port, nano=nano)
    _send(port, SIZES)
    _wait_for_frames(path, len(SIZES))
    cap.stop(len(SIZES))
    assert rv.formats.pcap_info(path).nanoseconds == nano
    with _check_against_dpkt_and_tcpdump(path, nano=nano) as fr:
        # the UDP payload sits after 14 (Ethernet) + 20 (IPv4) + 8 (UDP) bytes
        assert [len(fr[i][1]) - 42 for i in range(len(fr))] == SIZES
        assert [bytes(fr[i][1][42:]) for i in range(len(fr))] == [
            _payload(k, n) for k, n in enumerate(SIZES)
        ]


@needs_tcpdump
def test_follow_a_live_tcpdump_capture_delivers_each_packet_once(tmp_path):
    path, port = tmp_path / "live.pcap", _free_port()
    cap = Capture(path, port)
    sizes = [k * 97 % 3000 for k in range(60)]
    try:
        with rv.open_frames(path, **rv.formats.pcap(path), trailing="ignore") as fr:
            it = fr.follow(start=0, poll=0.01, timeout=10.0)
            sender = threading.Thread(target=_send, args=(port, sizes), kwargs={"pause": 0.002})
            sender.start()
            got: list[bytes] = []
            for _heads, offs, lens in it:
                got += [bytes(fr._raw[o + 42 : o + n]) for o, n in zip(offs, lens, strict=True)]
                if len(got) >= len(sizes):
                    break
            sender.join()
    finally:
        cap.stop(len(sizes))
    assert got == [_payload(k, n) for k, n in enumerate(sizes)]


@pytest.mark.parametrize("nano", [False, True], ids=["usec", "nsec"])
def test_dpkt_writer_capture_equals_dpkt_reader(tmp_path, nano):
    path = tmp_path / "dpkt.pcap"
    rng = np.random.default_rng(3)
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, nano=nano, snaplen=70000)
        for k, n in enumerate([*rng.integers(0, 3000, 500).tolist(), 0, 65000]):
            w.writepkt(bytes(_udp_packet(k, n)), ts=1_700_000_000 + k * 0.001)
    with _check_against_dpkt_and_tcpdump(path, nano=nano) as fr:
        assert len(fr) == 502


# -- gfortran ---------------------------------------------------------------------

FORTRAN = """\
program writer
  implicit none
  integer :: k, n, i
  real(8), allocatable :: x(:)
  open(10, file='out.unf', form='unformatted', access='sequential', status='replace')
  do k = 1, 40
    n = mod(k * 37, 61)
    allocate(x(n))
    do i = 1, n
      x(i) = k * 1000 + i + 0.25d0
    end do
    write(10) k, x
    print '(I0,1X,I0,*(1X,F0.2))', k, n, x
    deallocate(x)
  end do
  write(10)
  print '(A)', 'empty'
  close(10)
end program writer
"""


def _fortran(tmp_path, flags):
    gfortran = shutil.which("gfortran")
    if gfortran is None:
        pytest.skip("gfortran not installed")
    (tmp_path / "w.f90").write_text(FORTRAN)
    subprocess.run(
        [gfortran, *flags, "-o", "w", "w.f90"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    out = subprocess.run(
        ["./w"], cwd=tmp_path, check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return tmp_path / "out.unf", out.splitlines()


@pytest.mark.parametrize(
    ("flags", "marker"),
    [
        ([], "<i4"),
        (["-fconvert=big-endian"], ">i4"),
        (["-frecord-marker=8"], "<i8"),
        (["-fconvert=big-endian", "-frecord-marker=8"], ">i8"),
    ],
)
def test_gfortran_records_equal_scipy_and_the_listing(tmp_path, flags, marker):
    from scipy.io import FortranFile

    path, listing = _fortran(tmp_path, flags)
    with rv.open_frames(path, **rv.formats.fortran(marker)) as fr:
        assert len(fr) == 41
        with FortranFile(path, "r", header_dtype=np.dtype(marker.replace("i", "u"))) as ff:
            for i in range(len(fr)):
                assert bytes(fr[i][1]) == ff.read_record(np.uint8).tobytes()
        order = marker[0]
        for i, line in enumerate(listing[:-1]):
            k, n, *xs = line.split()
            payload = fr[i][1]
            assert payload[:4].view(order + "i4")[0] == int(k)
            assert fr.lengths[i] == 4 + 8 * int(n)
            assert payload[4:].view(order + "f8").tolist() == [float(x) for x in xs]
            assert int(fr.headers["marker"][i]) == 4 + 8 * int(n)
        assert listing[-1] == "empty" and fr.lengths[-1] == 0
        with pytest.raises(rv.LayoutError, match="frame 1 at byte offset"):
            fr.payloads("u1")  # records of different lengths have no strided view


def test_gfortran_equal_records_as_one_strided_view(tmp_path):
    gfortran = shutil.which("gfortran")
    if gfortran is None:
        pytest.skip("gfortran not installed")
    src = """\
program eq
  implicit none
  integer :: k
  open(10, file='out.unf', form='unformatted', access='sequential', status='replace')
  do k = 1, 25
    write(10) k, dble(k) / 4d0, dble(-k)
  end do
  close(10)
end program eq
"""
    (tmp_path / "eq.f90").write_text(src)
    subprocess.run([gfortran, "-o", "eq", "eq.f90"], cwd=tmp_path, check=True, timeout=120)
    subprocess.run(["./eq"], cwd=tmp_path, check=True, timeout=60)
    with rv.open_frames(tmp_path / "out.unf", **rv.formats.fortran()) as fr:
        recs = fr.payloads([("k", "<i4"), ("a", "<f8"), ("b", "<f8")])
        assert recs["k"].tolist() == list(range(1, 26))
        assert recs["a"].tolist() == [k / 4 for k in range(1, 26)]
        assert np.shares_memory(recs, fr[3][1])
