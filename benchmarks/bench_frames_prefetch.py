"""The frames walk with and without its prefetch, and against dpkt: CPU time, interleaved.

``recview/_frames.c`` asks for the cache lines ``PREFETCH_AHEAD`` bytes ahead
of its walk. This script compiles the same source twice (the default, and
``-DPREFETCH_AHEAD=0``, which prefetches nothing ahead), loads both in one
process and times ``index()`` over one warm pcap, alternating the two builds
run by run, on a fresh mapping (page faults included, as in
``rv.open_frames``) and on a mapping already faulted in (the walk alone).
CPU time (``time.process_time``) medians: the machine is shared, so wall
time mostly measures the other jobs. dpkt's ``pcap.Reader`` over the same
file is the outside anchor::

    python benchmarks/bench_frames_prefetch.py               # 150 MiB of MTU-sized packets
    python benchmarks/bench_frames_prefetch.py --nbytes 64M --runs 5
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import mmap
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from typing import Any

import numpy as np

import recview as rv
from recview import _frame_walk

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import MIB, machine, warm
from bench_frames import write_pcap

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recview", "_frames.c")


def build(folder: str, name: str, defines: list[str]) -> Any:
    """Compile _frames.c into ``folder/name/_frames.so`` and load it as ``name._frames``."""
    out = os.path.join(folder, name)
    os.makedirs(out, exist_ok=True)
    so = os.path.join(out, "_frames.so")
    include = sysconfig.get_paths()["include"]
    cmd = [
        "cc",
        "-std=gnu11",
        "-O3",
        "-shared",
        "-fPIC",
        f"-I{include}",
        *defines,
        SOURCE,
        "-o",
        so,
    ]
    subprocess.run(cmd, check=True)
    loader = importlib.machinery.ExtensionFileLoader(f"{name}._frames", so)
    spec = importlib.util.spec_from_loader(f"{name}._frames", loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nbytes", type=float, default=150, help="MiB of MTU-sized packets")
    ap.add_argument("--runs", type=int, default=9, help="interleaved runs per build (median)")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where the files go")
    args = ap.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "mtu.pcap")
        n = write_pcap(path, int(args.nbytes * MIB), 60, 1514)
        warm(path)
        builds = {
            "prefetch": build(tmp, "with_prefetch", []),
            "none": build(tmp, "no_prefetch", ["-DPREFETCH_AHEAD=0"]),
        }
        kw = rv.formats.pcap(path)
        lay = _frame_walk.layout(rv.as_schema(kw["header"]), "incl_len", 0, 0)
        size = os.path.getsize(path)
        out = np.empty(size // 16 + 16, np.int64)
        times: dict[str, dict[str, list[float]]] = {
            k: {"fresh mapping": [], "mapped": []} for k in builds
        }
        with open(path, "rb") as f:
            for r in range(args.runs):
                order = list(builds.items())
                for name, mod in order if r % 2 else order[::-1]:
                    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    for kind in ("fresh mapping", "mapped"):
                        t = time.process_time()
                        _, count, _, _ = mod.index(
                            memoryview(m), 24, size, size, out, 0, *lay.native_args()
                        )
                        times[name][kind].append(time.process_time() - t)
                        assert count == n
                    m.close()
        import dpkt

        dts = []
        for _ in range(3):
            t = time.process_time()
            with open(path, "rb") as f:
                k = sum(1 for _ in dpkt.pcap.Reader(f))
            dts.append(time.process_time() - t)
            assert k == n
    dpkt_t = statistics.median(dts)
    print(f"\n{args.nbytes:g} MiB pcap, {n:,} MTU-sized frames (60..1514 B); CPU ns per frame")
    print(f"{'walk':<16} {'no prefetch':>12} {'prefetch':>10} {'speed-up':>9} {'vs dpkt':>8}")
    for kind in ("fresh mapping", "mapped"):
        a = statistics.median(times["none"][kind])
        b = statistics.median(times["prefetch"][kind])
        print(
            f"{kind:<16} {a * 1e9 / n:>12.0f} {b * 1e9 / n:>10.0f} {a / b:>8.2f}x "
            f"{dpkt_t / b:>7.1f}x"
        )
    print(f"dpkt Reader      {dpkt_t * 1e9 / n:.0f} ns per frame")


if __name__ == "__main__":
    main()
