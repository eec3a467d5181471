"""Presets for :func:`recview.open_frames`: the header schema and framing of known formats.

This module owns the knowledge of framed file formats. Each preset returns
the keyword arguments of :func:`recview.open_frames`, so that
``rv.open_frames(path, **rv.formats.pcap(path))`` reads a capture:

- :func:`pcap`: libpcap capture files (``tcpdump -w``), either byte order,
  microsecond or nanosecond timestamps, read from the file's magic number.
  :func:`pcap_info` gives the rest of the file header (snaplen, link type).
- :func:`fortran`: Fortran unformatted sequential files (``gfortran``'s
  ``form="unformatted", access="sequential"``): each record is enclosed by a
  4- or 8-byte length marker, in either byte order.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any

from recview.errors import LayoutError
from recview.schema import Schema

__all__ = ["PcapInfo", "fortran", "pcap", "pcap_info"]

_PCAP_US = 0xA1B2C3D4
_PCAP_NS = 0xA1B23C4D
_PCAPNG = 0x0A0D0D0A
_PCAP_KUZNETZOV = 0xA1B2CD34
_PCAP_FILE_HEADER = 24
_PCAP_MAX_SNAPLEN = 262_144  # libpcap MAXIMUM_SNAPLEN


@dataclass(frozen=True)
class PcapInfo:
    """The 24-byte file header of a pcap capture.

    Attributes
    ----------
    byteorder : {"<", ">"}
        Byte order of every header field in the file.
    nanoseconds : bool
        Timestamps' second field counts nanoseconds (magic ``a1b23c4d``),
        else microseconds (``a1b2c3d4``).
    version : tuple of int
        ``(major, minor)``, normally ``(2, 4)``.
    snaplen : int
        Largest number of bytes captured per packet.
    linktype : int
        Link-layer header type (1: Ethernet, 113: Linux cooked, ...).
    """

    byteorder: str
    nanoseconds: bool
    version: tuple[int, int]
    snaplen: int
    linktype: int


def pcap_info(path: str | os.PathLike[str]) -> PcapInfo:
    """Read and check the file header of a pcap capture.

    Raises
    ------
    LayoutError
        Not a pcap file: a pcapng file (convert it with
        ``editcap -F pcap in.pcapng out.pcap``), a modified (Kuznetzov)
        pcap, an unknown magic number or a file shorter than 24 bytes.

    Examples
    --------
    >>> import os, struct, tempfile, recview as rv
    >>> path = os.path.join(tempfile.mkdtemp(), "empty.pcap")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
    >>> rv.formats.pcap_info(path)
    PcapInfo(byteorder='>', nanoseconds=True, version=(2, 4), snaplen=65535, linktype=1)
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        head = f.read(_PCAP_FILE_HEADER)
    if len(head) < 4:
        raise LayoutError(
            f"{name}: {len(head)} bytes is too short for a pcap file header "
            f"({_PCAP_FILE_HEADER} bytes, starting with magic a1b2c3d4 or a1b23c4d)",
            path=name,
            offset=0,
        )
    (magic,) = struct.unpack("<I", head[:4])
    for order in ("<", ">"):
        (value,) = struct.unpack(order + "I", head[:4])
        if value in (_PCAP_US, _PCAP_NS):
            break
    else:
        if magic == _PCAPNG:
            what = (
                "a pcapng file, not pcap (recview reads classic pcap: convert it with "
                "'editcap -F pcap in.pcapng out.pcap', or capture with 'tcpdump -w')"
            )
        elif _PCAP_KUZNETZOV in (magic, struct.unpack(">I", head[:4])[0]):
            what = "a modified (Kuznetzov) pcap file, whose packet headers are 24 bytes"
        else:
            what = f"not a pcap file: magic number {head[:4].hex()}, expected a1b2c3d4 or a1b23c4d"
        raise LayoutError(f"{name}: byte offset 0: {what}", path=name, offset=0)
    if len(head) < _PCAP_FILE_HEADER:
        raise LayoutError(
            f"{name}: pcap file header is cut: {len(head)} of {_PCAP_FILE_HEADER} bytes",
            path=name,
            offset=len(head),
        )
    _, major, minor, _, _, snaplen, linktype = struct.unpack(order + "IHHiIII", head)
    return PcapInfo(order, value == _PCAP_NS, (major, minor), snaplen, linktype)


def pcap(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The :func:`recview.open_frames` arguments of a pcap capture.

    ``max_length`` bounds ``incl_len`` by the larger of the file's snaplen
    and libpcap's maximum (262,144 bytes), so a corrupt length is an error,
    never the silent end of the capture.

    The packet header fields are ``ts_sec``, ``ts_usec`` (or ``ts_nsec``
    for a nanosecond capture), ``incl_len`` (bytes captured: the payload)
    and ``orig_len`` (bytes on the wire), in the file's byte order.

    Examples
    --------
    >>> import os, struct, tempfile, recview as rv
    >>> path = os.path.join(tempfile.mkdtemp(), "two.pcap")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    ...     for k, data in enumerate((b"\\x01\\x02", b"\\x03")):
    ...         _ = f.write(struct.pack("<IIII", 1700000000, k, len(data), 60) + data)
    >>> with rv.open_frames(path, **rv.formats.pcap(path)) as frames:
    ...     print(frames.headers["ts_usec"].tolist(), bytes(frames[0][1]))
    [0, 1] b'\\x01\\x02'
    """
    info = pcap_info(path)
    o = info.byteorder
    frac = "ts_nsec" if info.nanoseconds else "ts_usec"
    header = Schema.from_dtype(
        [("ts_sec", o + "u4"), (frac, o + "u4"), ("incl_len", o + "u4"), ("orig_len", o + "u4")]
    )
    # No capture holds more than max(snaplen, libpcap's 262,144-byte maximum)
    # bytes of a packet: a longer incl_len is a corrupt header.
    bound = max(info.snaplen, _PCAP_MAX_SNAPLEN)
    return {
        "header": header,
        "length": "incl_len",
        "offset": _PCAP_FILE_HEADER,
        "max_length": bound,
    }


def fortran(marker: str = "<i4") -> dict[str, Any]:
    """The :func:`recview.open_frames` arguments of a Fortran unformatted sequential file.

    Parameters
    ----------
    marker : {"<i4", ">i4", "<i8", ">i8"}
        The record markers' type: gfortran writes ``"<i4"`` on x86;
        ``-fconvert=big-endian`` gives ``">i4"``, ``-frecord-marker=8``
        gives ``"<i8"``.

    Returns
    -------
    dict
        ``header`` (one field, ``marker``), ``length="marker"`` and
        ``trailer`` = the marker size: every record's end marker must equal
        its leading one, or :func:`recview.open_frames` raises ``LayoutError``.

    Notes
    -----
    gfortran splits records over 2 GiB (with 4-byte markers) into subrecords
    marked by negative lengths; those are refused as impossible lengths.

    Examples
    --------
    >>> import os, tempfile, numpy as np, recview as rv
    >>> path = os.path.join(tempfile.mkdtemp(), "out.unf")
    >>> rec = np.dtype([("m", ">i8"), ("x", ">f4", 3), ("t", ">i8")])
    >>> np.array([(12, (1, 2, 3), 12)], rec).tofile(path)
    >>> with rv.open_frames(path, **rv.formats.fortran(">i8")) as frames:
    ...     print(frames[0][1].view(">f4").tolist())
    [1.0, 2.0, 3.0]
    """
    if marker not in ("<i4", ">i4", "<i8", ">i8"):
        raise ValueError(f"marker must be '<i4', '>i4', '<i8' or '>i8', got {marker!r}")
    header = Schema.from_dtype([("marker", marker)])
    return {"header": header, "length": "marker", "trailer": header.itemsize}
