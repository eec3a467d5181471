"""Real headers with bitfields: ``struct iphdr`` and ``struct tcphdr`` from the
system's ``<netinet/ip.h>`` and ``<netinet/tcp.h>``, read over a pcap that dpkt
writes, each field checked against dpkt's own decoding of the same packets.

The headers are preprocessed by the system's ``cc -E -P`` (glibc picks the
bitfield order by ``__BYTE_ORDER``). On x86-64 the multi-byte fields are
little-endian numbers of network-order bytes (what a C program sees before
``ntohs``); the bitfields (``ihl``/``version``, ``doff``/``fin``/``syn``...)
are right as they are, which is why glibc declares them in that order. When
``s390x-linux-gnu-gcc`` is installed, the s390x headers (the other branch of
the ``#if``) are read with ``byteorder=">"``: there every field is the
network value.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import recview as rv

dpkt = pytest.importorskip("dpkt", reason="dpkt decodes the packets recview is checked against")

CC = shutil.which("cc") or shutil.which("gcc")
CROSS = shutil.which("s390x-linux-gnu-gcc")
HEADERS = "#include <netinet/ip.h>\n#include <netinet/tcp.h>\n"
# the capture's frames: Ethernet, then the two headers from the system, packed
# after the 14-byte Ethernet header as on the wire
PACKET = """
struct frame {
    uint8_t dst[6];
    uint8_t src[6];
    uint16_t ethertype;
    struct iphdr ip;
    struct tcphdr tcp;
} __attribute__((packed));
"""
NPACKETS = 300


def preprocess(compiler: str | None, tmp: Path) -> str:
    if compiler is None:
        pytest.skip("no C compiler to preprocess the system headers with")
    src = tmp / "hdr.c"
    src.write_text(HEADERS)
    proc = subprocess.run(
        [compiler, "-E", "-P", str(src)], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        pytest.skip(f"{compiler} cannot preprocess <netinet/ip.h>: {proc.stderr.strip()[:200]}")
    return proc.stdout


def write_capture(path: Path, seed: int) -> list[bytes]:
    """Packets of random headers (and random TCP options and payloads), written
    by dpkt's pcap writer; returns the frames."""
    rng = np.random.default_rng(seed)
    frames = []
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        for k in range(NPACKETS):
            nopt = int(rng.integers(0, 11))
            tcp = dpkt.tcp.TCP(
                sport=int(rng.integers(0, 65536)),
                dport=int(rng.integers(0, 65536)),
                seq=int(rng.integers(0, 2**32)),
                ack=int(rng.integers(0, 2**32)),
                flags=int(rng.integers(0, 256)),
                win=int(rng.integers(0, 65536)),
                urp=int(rng.integers(0, 65536)),
                opts=b"\x01" * (4 * nopt),  # NOPs: doff from 5 to 15
                data=rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8).tobytes(),
            )
            tcp.off = 5 + nopt
            ip = dpkt.ip.IP(
                tos=int(rng.integers(0, 256)),
                id=int(rng.integers(0, 65536)),
                ttl=int(rng.integers(0, 256)),
                p=dpkt.ip.IP_PROTO_TCP,
                src=rng.integers(0, 256, 4, dtype=np.uint8).tobytes(),
                dst=rng.integers(0, 256, 4, dtype=np.uint8).tobytes(),
                data=tcp,
            )
            frag = int(rng.integers(0, 65536))
            ip._flags_offset = frag  # the raw field: rf, df, mf and the offset
            eth = dpkt.ethernet.Ethernet(
                src=b"\x02" * 6, dst=b"\x04" * 6, type=dpkt.ethernet.ETH_TYPE_IP, data=ip
            )
            raw = bytes(eth)
            writer.writepkt(raw, ts=1700000000 + k)
            frames.append(raw)
    return frames


def read_frames(path: Path, schema: rv.Schema) -> np.ndarray[Any, Any]:
    """The first ``schema.itemsize`` bytes of every frame, as records (frames
    differ in length, so they are gathered, not viewed)."""
    with rv.open_frames(path, **rv.formats.pcap(path)) as frames:
        assert len(frames) == NPACKETS
        assert (frames.lengths >= schema.itemsize).all()
        data = np.fromfile(path, dtype=np.uint8)
        idx = frames.offsets[:, None] + np.arange(schema.itemsize)
        return data[idx].reshape(-1).view(schema.dtype)


def check_fields(schema: rv.Schema, arr: np.ndarray[Any, Any], path: Path, swap: bool) -> None:
    """Every field of iphdr and tcphdr against dpkt's decoding of the capture."""

    def net(path_: str) -> np.ndarray[Any, Any]:
        values = np.asarray(schema.get(arr, path_))
        return values.byteswap() if swap else values

    # tcphdr's fields sit in an anonymous union of two anonymous structs (BSD
    # and Linux names): recview names them _anon0._anon0.* and _anon0._anon1.*
    linux = "tcp._anon0._anon1"
    bsd = "tcp._anon0._anon0"
    with path.open("rb") as f:
        packets = [dpkt.ethernet.Ethernet(buf) for _ts, buf in dpkt.pcap.Reader(f)]
    ip = [p.data for p in packets]
    # dpkt leaves a fragment's payload as bytes (MF or an offset set): decode it as TCP
    tcp = [i.data if isinstance(i.data, dpkt.tcp.TCP) else dpkt.tcp.TCP(i.data) for i in ip]
    assert schema.get(arr, "ip.version").tolist() == [i.v for i in ip]
    assert schema.get(arr, "ip.ihl").tolist() == [i.hl for i in ip]
    assert schema.get(arr, "ip.tos").tolist() == [i.tos for i in ip]
    assert net("ip.tot_len").tolist() == [i.len for i in ip]
    assert net("ip.id").tolist() == [i.id for i in ip]
    frag = [i.rf << 15 | i.df << 14 | i.mf << 13 | i.offset for i in ip]
    assert net("ip.frag_off").tolist() == frag
    assert schema.get(arr, "ip.ttl").tolist() == [i.ttl for i in ip]
    assert schema.get(arr, "ip.protocol").tolist() == [i.p for i in ip]
    assert net("ip.check").tolist() == [i.sum for i in ip]
    saddr = np.asarray(schema.get(arr, "ip.saddr"))
    assert [socket.inet_ntoa(int(a).to_bytes(4, "little" if swap else "big")) for a in saddr] == [
        socket.inet_ntoa(i.src) for i in ip
    ]
    assert net(f"{linux}.source").tolist() == [t.sport for t in tcp]
    assert net(f"{linux}.dest").tolist() == [t.dport for t in tcp]
    assert net(f"{linux}.seq").tolist() == [t.seq for t in tcp]
    assert net(f"{linux}.ack_seq").tolist() == [t.ack for t in tcp]
    assert schema.get(arr, f"{linux}.doff").tolist() == [t.off for t in tcp]
    assert schema.get(arr, f"{bsd}.th_off").tolist() == [t.off for t in tcp]
    flags = np.array([t.flags for t in tcp])
    for bit, name in enumerate(["fin", "syn", "rst", "psh", "ack", "urg"]):
        got = schema.get(arr, f"{linux}.{name}")
        assert got.dtype == np.uint8
        assert got.tolist() == ((flags >> bit) & 1).tolist(), name
    assert schema.get(arr, f"{linux}.res2").tolist() == (flags >> 6).tolist()
    assert schema.get(arr, f"{bsd}.th_flags").tolist() == flags.tolist()
    assert net(f"{linux}.window").tolist() == [t.win for t in tcp]
    assert net(f"{linux}.check").tolist() == [t.sum for t in tcp]
    assert net(f"{linux}.urg_ptr").tolist() == [t.urp for t in tcp]


def test_iphdr_and_tcphdr_from_the_system_headers_match_dpkt(tmp_path: Path) -> None:
    text = preprocess(CC, tmp_path)
    ip = rv.Schema.from_c(text, "iphdr")
    tcp = rv.Schema.from_c(text, "tcphdr")
    assert (ip.itemsize, tcp.itemsize) == (20, 20)
    bits = {f.path: (f.offset, f.bit_offset, f.bit_width) for f in ip.fields() if f.is_bitfield}
    assert bits == {"ihl": (0, 0, 4), "version": (0, 4, 4)}
    schema = rv.Schema.from_c(text + PACKET, "frame")
    assert schema.itemsize == 14 + 20 + 20
    path = tmp_path / "tcp.pcap"
    write_capture(path, seed=12)
    check_fields(schema, read_frames(path, schema), path, swap=True)


@pytest.mark.skipif(
    CROSS is None, reason="no s390x-linux-gnu-gcc: the big-endian <netinet/ip.h> needs it"
)
def test_big_endian_system_headers_read_network_order_directly(tmp_path: Path) -> None:
    text = preprocess(CROSS, tmp_path)
    schema = rv.Schema.from_c(text + PACKET, "frame", byteorder=">")
    ip = {f.path: f.bit_offset for f in schema.fields() if f.path in ("ip.ihl", "ip.version")}
    assert ip == {"ip.ihl": 0, "ip.version": 4}  # declared version first, MSB-first
    path = tmp_path / "tcp.pcap"
    write_capture(path, seed=13)
    check_fields(schema, read_frames(path, schema), path, swap=False)
